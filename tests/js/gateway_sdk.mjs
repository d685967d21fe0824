// gateway_sdk.mjs - the AWS SDK for JavaScript v3 through `brock serve` to
// `brock emulate` as its upstream.
//
//   node gateway_sdk.mjs GATEWAY_URL EMULATOR_URL TOKEN BUDGET_TOKEN AKID SECRET
//
// TOKEN is a gateway key (sent as a Bedrock API key, Authorization: Bearer),
// BUDGET_TOKEN a key whose user has a tiny daily budget, AKID/SECRET a SigV4
// key the gateway issued. Everything the SDK does is AWS's own code: its
// HTTP/2 (default) and HTTP/1.1 handlers, signer, event-stream decoder and
// error parser. The emulator's control endpoints inject upstream faults.
// Prints TAP.
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  CountTokensCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { BedrockClient, ListInferenceProfilesCommand, GetInferenceProfileCommand } from '@aws-sdk/client-bedrock';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const [gw, emu, token, budgetToken, akid, secret, rateToken] = process.argv.slice(2);
const region = 'us-west-2';
const MODEL = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';

let n = 0;
let failed = 0;
const ok = (cond, name, detail) => {
  n++;
  if (cond) console.log(`ok ${n} - ${name}`);
  else {
    failed++;
    console.log(`not ok ${n} - ${name}`);
    if (detail !== undefined) console.log(`# ${String(detail).split('\n').join('\n# ')}`);
  }
};
const test = async (name, fn) => {
  try {
    await fn();
  } catch (e) {
    ok(false, name, `threw ${e.name}: ${e.message}\n${e.stack}`);
  }
};

const bearer = (tok = token, opts = {}) =>
  new BedrockRuntimeClient({
    region, endpoint: gw, token: { token: tok }, authSchemePreference: ['httpBearerAuth'], maxAttempts: 1, ...opts,
  });
const sigv4 = (sec = secret, opts = {}) =>
  new BedrockRuntimeClient({ region, endpoint: gw, credentials: { accessKeyId: akid, secretAccessKey: sec }, maxAttempts: 1, ...opts });
const fault = async (f) => {
  const r = await fetch(emu + '/_emulator/faults', { method: 'POST', body: JSON.stringify(f) });
  if (!r.ok) throw new Error('fault not added');
};
const userText = (text) => [{ role: 'user', content: [{ text }] }];
const messagesBody = (text, extra = {}) =>
  JSON.stringify({
    anthropic_version: 'bedrock-2023-05-31', max_tokens: 256,
    messages: [{ role: 'user', content: [{ type: 'text', text }] }], ...extra,
  });
const streamText = async (resp) => {
  let text = '';
  for await (const ev of resp.body) {
    if (ev.chunk) {
      const e = JSON.parse(new TextDecoder().decode(ev.chunk.bytes));
      if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') text += e.delta.text;
    }
  }
  return text;
};

await test('InvokeModel with a gateway key as Bearer (HTTP/2)', async () => {
  const r = await bearer().send(new InvokeModelCommand({ modelId: MODEL, contentType: 'application/json', body: messagesBody('hello gateway') }));
  const body = JSON.parse(new TextDecoder().decode(r.body));
  ok(body.content[0].text.includes('hello gateway') && body.usage.output_tokens > 0 && r.$metadata.httpStatusCode === 200,
    'InvokeModel with a gateway key as Bearer (HTTP/2)', JSON.stringify(body));
});

await test('InvokeModel signed with an issued SigV4 key', async () => {
  const r = await sigv4().send(new InvokeModelCommand({ modelId: MODEL, body: messagesBody('signed by sdk') }));
  const body = JSON.parse(new TextDecoder().decode(r.body));
  ok(body.content[0].text.includes('signed by sdk'), 'InvokeModel signed with an issued SigV4 key');
});

await test('InvokeModelWithResponseStream: chunks decoded by the SDK', async () => {
  const r = await bearer().send(new InvokeModelWithResponseStreamCommand({ modelId: MODEL, body: messagesBody('stream through the gateway') }));
  const text = await streamText(r);
  ok(text.includes('stream through the gateway'), 'InvokeModelWithResponseStream: chunks decoded by the SDK', text);
});

await test('Claude Code body (betas, thinking, metadata, role:system) is translated and accepted', async () => {
  const body = messagesBody('claude code style', {
    anthropic_beta: ['claude-code-20250219', 'interleaved-thinking-2025-05-14', 'prompt-caching-scope-2026-01-05'],
    thinking: { type: 'enabled', budget_tokens: 1024 }, max_tokens: 2048,
    metadata: { user_id: 'user_x_account__session_sdk' }, output_config: { effort: 'high' },
  });
  const b = JSON.parse(body);
  b.messages.unshift({ role: 'system', content: 'extra system rules' });
  const r = await bearer().send(new InvokeModelWithResponseStreamCommand({ modelId: MODEL, body: JSON.stringify(b) }));
  const text = await streamText(r);
  const { requests } = await (await fetch(emu + '/_emulator/requests')).json();
  const sent = JSON.stringify(requests[requests.length - 1].body);
  ok(text.includes('claude code style') && !sent.includes('claude-code-20250219') && sent.includes('interleaved-thinking')
     && !sent.includes('"role":"system"') && !sent.includes('output_config'),
    'Claude Code body (betas, thinking, metadata, role:system) is translated and accepted', sent.slice(0, 400));
});

await test('Converse and ConverseStream over HTTP/1.1 (NodeHttpHandler)', async () => {
  const c = bearer(token, { requestHandler: new NodeHttpHandler() });
  const r = await c.send(new ConverseCommand({ modelId: MODEL, messages: userText('converse h1') }));
  const s = await c.send(new ConverseStreamCommand({ modelId: MODEL, messages: userText('converse stream h1') }));
  let text = '';
  let stop = '';
  let usage = null;
  for await (const ev of s.stream) {
    if (ev.contentBlockDelta) text += ev.contentBlockDelta.delta.text ?? '';
    if (ev.messageStop) stop = ev.messageStop.stopReason;
    if (ev.metadata) usage = ev.metadata.usage;
  }
  ok(r.output.message.content[0].text.includes('converse h1') && text.includes('converse stream h1') && stop === 'end_turn' && usage?.outputTokens > 0,
    'Converse and ConverseStream over HTTP/1.1 (NodeHttpHandler)', JSON.stringify({ text, stop, usage }));
});

await test('CountTokens', async () => {
  const r = await bearer().send(new CountTokensCommand({ modelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0', input: { converse: { messages: userText('count these tokens') } } }));
  ok(r.inputTokens > 0, 'CountTokens', JSON.stringify(r));
});

await test('eight streams multiplexed on one HTTP/2 session', async () => {
  const c = bearer();
  const texts = await Promise.all([...Array(8).keys()].map(async (i) => {
    const r = await c.send(new InvokeModelWithResponseStreamCommand({ modelId: MODEL, body: messagesBody(`parallel ${i}`) }));
    return streamText(r);
  }));
  ok(texts.every((t, i) => t.includes(`parallel ${i}`)), 'eight streams multiplexed on one HTTP/2 session', texts.join(' | '));
});

await test('control plane: ListInferenceProfiles / GetInferenceProfile through the gateway', async () => {
  const b = new BedrockClient({ region, endpoint: gw, credentials: { accessKeyId: akid, secretAccessKey: secret }, maxAttempts: 1 });
  const l = await b.send(new ListInferenceProfilesCommand({ typeEquals: 'SYSTEM_DEFINED' }));
  const g = await b.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: MODEL }));
  ok(l.inferenceProfileSummaries.length > 0 && g.inferenceProfileId === MODEL,
    'control plane: ListInferenceProfiles / GetInferenceProfile through the gateway', JSON.stringify(g).slice(0, 200));
});

const expectError = async (name, want, fn) => {
  await test(name, async () => {
    try {
      await fn();
      ok(false, name, 'no error');
    } catch (e) {
      ok(e.name === want, name, `${e.name}: ${e.message}`);
    }
  });
};

await expectError('an unknown key: UnrecognizedClientException', 'UnrecognizedClientException', () =>
  bearer('not-a-gateway-key-0123456789').send(new InvokeModelCommand({ modelId: MODEL, body: messagesBody('x') })));
await expectError('a wrong SigV4 secret: InvalidSignatureException', 'InvalidSignatureException', () =>
  sigv4('wrongSecretWRONGWRONGWRONG0123456789').send(new InvokeModelCommand({ modelId: MODEL, body: messagesBody('x') })));
await expectError("Bedrock's own validation error passes through", 'ValidationException', () =>
  bearer().send(new InvokeModelCommand({ modelId: MODEL, body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 5 }) })));
await expectError('upstream throttling (no fallback configured) reaches the SDK as ThrottlingException', 'ThrottlingException', async () => {
  await fault({ type: 'throttling', count: 1 });
  await bearer().send(new ConverseCommand({ modelId: MODEL, messages: userText('throttle me') }));
});

await expectError('an upstream stream cut mid-way ends as InternalServerException, not silently', 'InternalServerException', async () => {
  await fault({ type: 'truncate', after: 2, abort: true });
  const r = await bearer().send(new InvokeModelWithResponseStreamCommand({ modelId: MODEL, body: messagesBody('cut in the middle of this answer') }));
  await streamText(r);
});
await expectError('an upstream mid-stream throttlingException passes through', 'ThrottlingException', async () => {
  await fault({ type: 'stream_exception', after: 1, exception: 'throttlingException' });
  const r = await bearer().send(new ConverseStreamCommand({ modelId: MODEL, messages: userText('throttled stream') }));
  for await (const ev of r.stream) void ev;
});

await test('a spent budget: ServiceQuotaExceededException, not retried', async () => {
  const c = bearer(budgetToken);
  await c.send(new InvokeModelCommand({ modelId: MODEL, body: messagesBody('spend the budget') }));
  let err = null;
  for (let i = 0; i < 50 && !err; i++) {
    try {
      await c.send(new InvokeModelCommand({ modelId: MODEL, body: messagesBody('more') }));
      await new Promise((r) => setTimeout(r, 20));
    } catch (e) {
      err = e;
    }
  }
  ok(err?.name === 'ServiceQuotaExceededException' && err.message.includes('budget') && err.$metadata.attempts === 1,
    'a spent budget: ServiceQuotaExceededException, not retried', err && `${err.name}: ${err.message}`);
});

await test("a key past its requests a minute: the SDK sees ThrottlingException (429) and retries it", async () => {
  // the key's "max_rpm" is 6: one request at once, the next in 10 s
  await bearer(rateToken).send(new InvokeModelCommand({ modelId: MODEL, body: messagesBody('one') }));
  let err = null;
  try {
    await bearer(rateToken, { maxAttempts: 2 }).send(new InvokeModelCommand({ modelId: MODEL, body: messagesBody('two') }));
  } catch (e) {
    err = e;
  }
  ok(err?.name === 'ThrottlingException' && err.$metadata.httpStatusCode === 429 && err.$metadata.attempts === 2 &&
    err.message.includes('6 requests a minute'),
    "a key past its requests a minute: the SDK sees ThrottlingException (429) and retries it",
    err ? `${err.name}: ${err.message} (${JSON.stringify(err.$metadata)})` : 'no error');
});

await test('a deterministic request is answered from the cache the second time', async () => {
  const body = messagesBody('cache this answer', { temperature: 0 });
  const a = await bearer().send(new InvokeModelCommand({ modelId: MODEL, body }));
  const before = (await (await fetch(emu + '/_emulator/requests')).json()).requests.length;
  const b = await bearer().send(new InvokeModelCommand({ modelId: MODEL, body }));
  const after = (await (await fetch(emu + '/_emulator/requests')).json()).requests.length;
  ok(Buffer.compare(Buffer.from(a.body), Buffer.from(b.body)) === 0 && before === after,
    'a deterministic request is answered from the cache the second time', `${before} -> ${after}`);
});

console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
