// gateway_tls.mjs - the AWS SDK for JavaScript v3 over TLS to `brock serve
// --tls-cert --tls-key`: its default HTTP/2 handler (ALPN h2) and its
// HTTP/1.1 handler, a gateway key as a Bedrock API key, InvokeModel and
// InvokeModelWithResponseStream. The test's CA reaches Node through
// NODE_EXTRA_CA_CERTS (set by the caller); no certificate check is turned off.
//
//   node gateway_tls.mjs GATEWAY_HTTPS_URL TOKEN
//
// Prints TAP.
import {
  BedrockRuntimeClient,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const [gw, token] = process.argv.slice(2);
const MODEL = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
let n = 0;
let failed = 0;
const ok = (cond, name, detail) => {
  n++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
  if (!cond) {
    failed++;
    if (detail !== undefined) console.log(`# ${String(detail).split('\n').join('\n# ')}`);
  }
};
const body = (text) =>
  JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 32, messages: [{ role: 'user', content: text }] });

for (const [label, opts] of [
  ['HTTP/2 (the SDK default)', {}],
  ['HTTP/1.1', { requestHandler: new NodeHttpHandler() }],
]) {
  const c = new BedrockRuntimeClient({
    region: 'us-west-2', endpoint: gw, token: { token }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1, ...opts,
  });
  try {
    const r = await c.send(new InvokeModelCommand({ modelId: MODEL, contentType: 'application/json', body: body(`tls ${label}`) }));
    const a = JSON.parse(new TextDecoder().decode(r.body));
    ok(a.type === 'message' && a.content[0].text.includes('Hello from brock emulate'), `${label}: InvokeModel over TLS`, JSON.stringify(a));
  } catch (e) {
    ok(false, `${label}: InvokeModel over TLS`, `${e.name}: ${e.message}`);
  }
  try {
    const r = await c.send(new InvokeModelWithResponseStreamCommand({ modelId: MODEL, contentType: 'application/json', body: body('stream over tls') }));
    const types = [];
    let text = '';
    for await (const ev of r.body) {
      if (!ev.chunk) continue;
      const j = JSON.parse(new TextDecoder().decode(ev.chunk.bytes));
      types.push(j.type);
      if (j.type === 'content_block_delta' && j.delta.text) text += j.delta.text;
    }
    ok(types[0] === 'message_start' && types.at(-1) === 'message_stop' && text.includes('Hello from brock emulate'),
      `${label}: InvokeModelWithResponseStream over TLS, frame by frame`, types.join(','));
  } catch (e) {
    ok(false, `${label}: InvokeModelWithResponseStream over TLS`, `${e.name}: ${e.message}`);
  }
  c.destroy();
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
