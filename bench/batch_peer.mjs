// batch_peer.mjs - the peer of `brock batch` for bench/batch.sh: the AWS SDK for
// JavaScript (v3, @aws-sdk/client-bedrock-runtime) running the same JSONL
// input with a promise pool of CONCURRENCY InvokeModel calls, writing the
// answers in input order as brock does (text, usage per record).
//
//   node bench/batch_peer.mjs IN.jsonl OUT.jsonl CONCURRENCY MODEL
//
// Endpoint and credentials come from the environment (AWS_ENDPOINT_URL,
// AWS_ACCESS_KEY_ID, ...) as for any SDK program.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/js/package.json', import.meta.url));
const { BedrockRuntimeClient, InvokeModelCommand } = require('@aws-sdk/client-bedrock-runtime');
const { NodeHttpHandler } = require('@smithy/node-http-handler');

const [input, output, conc, model] = process.argv.slice(2);
const lines = readFileSync(input, 'utf8').split('\n').filter((l) => l.trim());
const n = Number(conc);
// The same connection budget as brock: CONCURRENCY keep-alive sockets over HTTP/1.1.
const client = new BedrockRuntimeClient({
  region: process.env.AWS_REGION || 'us-west-2',
  maxAttempts: 3,
  requestHandler: new NodeHttpHandler({ httpAgent: { keepAlive: true, maxSockets: n } }),
});
const results = new Array(lines.length);
let next = 0;
const dec = new TextDecoder();
async function worker() {
  for (;;) {
    const i = next++;
    if (i >= lines.length) return;
    const rec = JSON.parse(lines[i]);
    const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 4096,
      messages: [{ role: 'user', content: rec.prompt }] });
    try {
      const out = await client.send(new InvokeModelCommand({ modelId: model, body, contentType: 'application/json',
        accept: 'application/json' }));
      const m = JSON.parse(dec.decode(out.body));
      results[i] = JSON.stringify({ line: i + 1, id: rec.id, status: 'ok',
        text: m.content.filter((b) => b.type === 'text').map((b) => b.text).join(''), usage: m.usage });
    } catch (e) {
      results[i] = JSON.stringify({ line: i + 1, id: rec.id, status: 'error', error: { code: e.name, message: e.message } });
    }
  }
}
await Promise.all(Array.from({ length: n }, worker));
writeFileSync(output, results.join('\n') + '\n');
