// bench/print_peer.mjs URL PROMPT - the AWS SDK for JavaScript's version of
// `brock -p PROMPT` against the emulator at URL: one InvokeModelWithResponseStream
// with the Anthropic Messages body, text deltas written to stdout as they arrive.
// Used by bench/print.sh; test-side only.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../tests/js/package.json"));
const { BedrockRuntimeClient, InvokeModelWithResponseStreamCommand } = require("@aws-sdk/client-bedrock-runtime");

const [url, prompt] = process.argv.slice(2);
const client = new BedrockRuntimeClient({
  region: "us-west-2",
  endpoint: url,
  credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
});
const body = JSON.stringify({
  anthropic_version: "bedrock-2023-05-31",
  max_tokens: 16384,
  messages: [{ role: "user", content: [{ type: "text", text: prompt }] }],
});
const out = await client.send(new InvokeModelWithResponseStreamCommand({
  modelId: "us.anthropic.claude-sonnet-4-6", contentType: "application/json", accept: "application/json", body,
}));
for await (const ev of out.body) {
  if (!ev.chunk) continue;
  const e = JSON.parse(Buffer.from(ev.chunk.bytes).toString("utf8"));
  if (e.type === "content_block_delta" && e.delta.type === "text_delta") process.stdout.write(e.delta.text);
}
process.stdout.write("\n");
client.destroy();
