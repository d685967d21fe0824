// gateway_anthropic.mjs - Anthropic's own Bedrock client (@anthropic-ai/bedrock-sdk)
// through `brock serve`, signing with a SigV4 key the gateway issued:
// messages.create, a streamed messages.create, messages.stream(), and refusals.
//
//   node gateway_anthropic.mjs GATEWAY_URL AKID SECRET
//
// Everything on the client side is Anthropic's code (its request building,
// its SigV4 signing through the AWS SDK's signer, its event-stream decoding
// and error mapping). Prints TAP.
import { AnthropicBedrock } from '@anthropic-ai/bedrock-sdk';

const [gw, akid, secret] = process.argv.slice(2);
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
const client = (k, s) => new AnthropicBedrock({ baseURL: gw, awsAccessKey: k, awsSecretKey: s, awsRegion: 'us-west-2', maxRetries: 0 });
const c = client(akid, secret);

try {
  const m = await c.messages.create({ model: MODEL, max_tokens: 50, system: 'be brief', messages: [{ role: 'user', content: 'hi from the anthropic sdk' }] });
  ok(m.type === 'message' && m.content[0].text.includes('Hello from brock emulate') && m.usage.output_tokens > 0,
    'messages.create through the gateway (SigV4 key the gateway issued)', JSON.stringify(m));
} catch (e) {
  ok(false, 'messages.create through the gateway', `${e.status} ${e.message}`);
}
try {
  const s = await c.messages.create({ model: MODEL, max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'stream please' }] });
  const types = [];
  let text = '';
  for await (const ev of s) {
    types.push(ev.type);
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
  }
  ok(types[0] === 'message_start' && types.at(-1) === 'message_stop' && text.includes('Hello from brock emulate'),
    `a streamed messages.create arrives event by event (${types.length} events)`, types.join(','));
} catch (e) {
  ok(false, 'streamed messages.create', `${e.status} ${e.message}`);
}
try {
  const st = c.messages.stream({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'helper stream' }] });
  const final = await st.finalMessage();
  ok(final.stop_reason === 'end_turn' && final.content[0].text.length > 0, 'messages.stream().finalMessage() assembles the answer');
} catch (e) {
  ok(false, 'messages.stream()', `${e.status} ${e.message}`);
}
try {
  await client('BRGWWRONGWRONGWRONG1', 'x'.repeat(40)).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
  ok(false, 'an unknown access key is refused');
} catch (e) {
  ok(e.status === 403, `an unknown access key is refused with 403 (${e.status})`, e.message);
}
try {
  await client(akid, 'y'.repeat(40)).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
  ok(false, 'a wrong secret is refused');
} catch (e) {
  ok(e.status === 403, `a wrong secret for a known key is refused with 403 (${e.status})`, e.message);
}
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
