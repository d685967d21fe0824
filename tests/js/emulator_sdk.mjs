// emulator_sdk.mjs - the AWS SDK for JavaScript v3 against `brock emulate`.
//
//   node emulator_sdk.mjs URL KEYS_API_KEY
//
// URL is the emulator (started by tests/e2e/emulator_js.sh with its scenario
// and keys files). Every Bedrock Runtime operation brock uses goes through
// AWS's own client (default Node HTTP/2 handler, plus one call over HTTP/1.1
// with NodeHttpHandler), AWS's signer, AWS's event-stream decoder and AWS's
// error parser: what the SDK accepts and how it names errors is the check.
// Prints TAP.
import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  CountTokensCommand,
  InvokeModelCommand,
  InvokeModelWithResponseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const [url, apiKey] = process.argv.slice(2);
const region = 'us-east-1';
const MODEL = 'us.anthropic.claude-sonnet-4-5-20250929-v1:0';
const good = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const wrong = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-the-secret-at-all-0000000000000000000' };

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

const client = (opts = {}) =>
  new BedrockRuntimeClient({ region, endpoint: url, credentials: good, maxAttempts: 1, ...opts });
const control = async (method, path, body) => {
  const r = await fetch(url + path, { method, body: body && JSON.stringify(body) });
  return r.json();
};
const lastRequest = async () => {
  const { requests } = await control('GET', '/_emulator/requests');
  return requests[requests.length - 1];
};
const userText = (text) => [{ role: 'user', content: [{ text }] }];
const messagesBody = (text) =>
  JSON.stringify({
    anthropic_version: 'bedrock-2023-05-31',
    max_tokens: 256,
    messages: [{ role: 'user', content: [{ type: 'text', text }] }],
  });
const dec = new TextDecoder();

await test('Converse over HTTP/2 (default handler)', async () => {
  const out = await client().send(new ConverseCommand({ modelId: MODEL, messages: userText('Say hello to the SDK') }));
  const text = out.output.message.content.map((b) => b.text || '').join('');
  ok(text.includes('Say hello to the SDK'), 'Converse: the echo quotes the prompt', text);
  ok(out.stopReason === 'end_turn', 'Converse: stopReason end_turn', out.stopReason);
  ok(out.usage.inputTokens > 0 && out.usage.outputTokens > 0 && out.usage.totalTokens === out.usage.inputTokens + out.usage.outputTokens,
    'Converse: usage numbers', JSON.stringify(out.usage));
  ok(typeof out.$metadata.requestId === 'string' && out.$metadata.requestId.length > 10, 'Converse: request id from x-amzn-RequestId');
  const req = await lastRequest();
  ok(req.protocol === 'HTTP/2' && req.auth.type === 'sigv4' && req.auth.signingName === 'bedrock',
    'Converse: the SDK spoke HTTP/2 and SigV4 for bedrock', JSON.stringify(req.auth) + ' ' + req.protocol);
  ok(req.path === '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse' && req.modelId === MODEL,
    'Converse: the model id arrived percent-encoded and was decoded once', req.path);
});

await test('ConverseStream', async () => {
  const out = await client().send(new ConverseStreamCommand({ modelId: MODEL, messages: userText('stream me a reply please') }));
  const kinds = [];
  let text = '';
  let usage;
  for await (const ev of out.stream) {
    const k = Object.keys(ev)[0];
    if (kinds[kinds.length - 1] !== k) kinds.push(k);
    if (ev.contentBlockDelta) text += ev.contentBlockDelta.delta.text || '';
    if (ev.metadata) usage = ev.metadata.usage;
  }
  ok(kinds.join(',') === 'messageStart,contentBlockDelta,contentBlockStop,messageStop,metadata',
    'ConverseStream: event order', kinds.join(','));
  ok(text === 'Hello from brock emulate. You said: "stream me a reply please"', 'ConverseStream: text reassembled', text);
  ok(usage && usage.outputTokens > 0, 'ConverseStream: metadata usage', JSON.stringify(usage));
});

let invokeText = '';
await test('InvokeModel', async () => {
  const out = await client().send(new InvokeModelCommand({ modelId: MODEL, contentType: 'application/json',
    accept: 'application/json', body: messagesBody('invoke the model') }));
  const body = JSON.parse(dec.decode(out.body));
  invokeText = body.content.map((b) => b.text || '').join('');
  ok(body.type === 'message' && body.role === 'assistant' && invokeText.includes('invoke the model'),
    'InvokeModel: Anthropic Messages answer', JSON.stringify(body));
  ok(body.usage.input_tokens > 0 && body.stop_reason === 'end_turn', 'InvokeModel: usage and stop_reason');
  ok(out.contentType === 'application/json', 'InvokeModel: content type', out.contentType);
});

await test('InvokeModelWithResponseStream', async () => {
  const out = await client().send(new InvokeModelWithResponseStreamCommand({ modelId: MODEL,
    contentType: 'application/json', body: messagesBody('invoke the model') }));
  const types = [];
  let text = '';
  let metrics;
  for await (const ev of out.body) {
    const e = JSON.parse(dec.decode(ev.chunk.bytes));
    if (types[types.length - 1] !== e.type) types.push(e.type);
    if (e.type === 'content_block_delta') text += e.delta.text || '';
    if (e.type === 'message_stop') metrics = e['amazon-bedrock-invocationMetrics'];
  }
  ok(types.join(',') === 'message_start,content_block_start,content_block_delta,content_block_stop,message_delta,message_stop',
    'InvokeModelWithResponseStream: event order', types.join(','));
  ok(text === invokeText, 'InvokeModelWithResponseStream: same text as InvokeModel', text);
  ok(metrics && metrics.inputTokenCount > 0 && metrics.outputTokenCount > 0, 'InvokeModelWithResponseStream: invocation metrics',
    JSON.stringify(metrics));
});

await test('CountTokens', async () => {
  const out = await client().send(new CountTokensCommand({ modelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0',
    input: { converse: { messages: userText('count these tokens') } } }));
  ok(Number.isInteger(out.inputTokens) && out.inputTokens > 0, 'CountTokens: inputTokens', JSON.stringify(out));
});

await test('concurrent streams on one HTTP/2 connection', async () => {
  const c = client();
  const words = (i) => Array.from({ length: 5 + i }, (_, k) => `w${i}_${k}`).join(' ');
  const texts = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
    const out = await c.send(new ConverseStreamCommand({ modelId: MODEL, messages: userText(words(i)) }));
    let t = '';
    for await (const ev of out.stream) if (ev.contentBlockDelta) t += ev.contentBlockDelta.delta.text;
    return t;
  }));
  ok(texts.every((t, i) => t === `Hello from brock emulate. You said: "${words(i)}"`),
    '8 ConverseStream calls at once: each gets its own answer', JSON.stringify(texts));
  const { requests } = await control('GET', '/_emulator/requests');
  const last8 = requests.slice(-8);
  ok(last8.every((r) => r.protocol === 'HTTP/2' && r.status === 200), '8 concurrent calls: all HTTP/2, all 200');
});

await test('wrong secret', async () => {
  try {
    await client({ credentials: wrong }).send(new ConverseCommand({ modelId: MODEL, messages: userText('x') }));
    ok(false, 'wrong secret is refused');
  } catch (e) {
    ok(e.name === 'InvalidSignatureException' && e.$metadata.httpStatusCode === 403,
      'wrong secret: InvalidSignatureException, 403', `${e.name} ${e.$metadata && e.$metadata.httpStatusCode} ${e.message}`);
    ok(!String(e.message).includes('not-the-secret'), 'wrong secret: the message does not echo the secret');
  }
});

await test('body changed after signing (HTTP/2 signature check)', async () => {
  const c = client();
  c.middlewareStack.add((next) => async (args) => {
    args.request.body = args.request.body.replace('tamper me', 'tampered!');
    return next(args);
  }, { step: 'finalizeRequest', priority: 'low' });
  try {
    await c.send(new ConverseCommand({ modelId: MODEL, messages: userText('tamper me') }));
    ok(false, 'a changed body is refused');
  } catch (e) {
    ok(e.name === 'InvalidSignatureException' && e.$metadata.httpStatusCode === 403,
      'a body changed after signing: InvalidSignatureException', `${e.name}: ${e.message}`);
  }
});

await test('ConverseStream tool use', async () => {
  const tools = { tools: [{ toolSpec: { name: 'Edit', inputSchema: { json: { type: 'object' } } } }] };
  const out = await client().send(new ConverseStreamCommand({ modelId: MODEL, messages: userText('stream a tool call'),
    toolConfig: tools }));
  let start;
  let input = '';
  let pieces = 0;
  let stop;
  for await (const ev of out.stream) {
    if (ev.contentBlockStart) start = ev.contentBlockStart.start.toolUse;
    if (ev.contentBlockDelta && ev.contentBlockDelta.delta.toolUse) {
      input += ev.contentBlockDelta.delta.toolUse.input;
      pieces++;
    }
    if (ev.messageStop) stop = ev.messageStop.stopReason;
  }
  ok(start && start.name === 'Edit' && /^tooluse_/.test(start.toolUseId), 'ConverseStream tool use: contentBlockStart names the tool',
    JSON.stringify(start));
  const parsed = JSON.parse(input);
  ok(pieces > 1 && parsed.path === 'a.c' && parsed.old === 'x = 1;' && parsed.new === 'x = 2; /* \u00e9t\u00e9 */',
    'ConverseStream tool use: input JSON in several fragments reassembles', `${pieces} pieces: ${input}`);
  ok(stop === 'tool_use', 'ConverseStream tool use: stopReason tool_use', stop);
});

await test('bad CRC', async () => {
  await control('POST', '/_emulator/faults', { type: 'bad_crc', frame: 1 });
  const out = await client().send(new ConverseStreamCommand({ modelId: MODEL, messages: userText('crc please') }));
  let events = 0;
  try {
    for await (const ev of out.stream) {
      if (ev) events++;
    }
    ok(false, 'a corrupt frame is detected by the SDK');
  } catch (e) {
    ok(events === 1 && /checksum|crc/i.test(e.message), 'bad CRC on frame 1: the SDK decoder rejects it after 1 event',
      `${events} events, ${e.name}: ${e.message}`);
  }
});

await test('unknown model', async () => {
  try {
    await client().send(new ConverseCommand({ modelId: 'us.does-not-exist-model-v1:0', messages: userText('x') }));
    ok(false, 'unknown model is refused');
  } catch (e) {
    ok(e.name === 'ValidationException' && e.message === 'The provided model identifier is invalid.' &&
      e.$metadata.httpStatusCode === 400, 'unknown model: ValidationException', `${e.name}: ${e.message}`);
  }
});

await test('throttling after retries', async () => {
  await control('POST', '/_emulator/faults', { type: 'throttling', count: 3 });
  try {
    await client({ maxAttempts: 3 }).send(new ConverseCommand({ modelId: MODEL, messages: userText('x') }));
    ok(false, 'throttled call fails');
  } catch (e) {
    ok(e.name === 'ThrottlingException' && e.$metadata.httpStatusCode === 429 && e.$metadata.attempts === 3,
      'throttling: ThrottlingException after 3 attempts', `${e.name} status ${e.$metadata.httpStatusCode} attempts ${e.$metadata.attempts}`);
  }
  const out = await client().send(new ConverseCommand({ modelId: MODEL, messages: userText('after the storm') }));
  ok(out.stopReason === 'end_turn', 'throttling: the next call succeeds (the fault was used up)');
});

await test('transient 5xx is retried by the SDK', async () => {
  await control('POST', '/_emulator/faults', { type: 'unavailable', count: 1 });
  const out = await client({ maxAttempts: 3 }).send(new ConverseCommand({ modelId: MODEL, messages: userText('retry me') }));
  ok(out.$metadata.attempts === 2, 'ServiceUnavailableException once, then success on attempt 2', out.$metadata.attempts);
});

for (const [exception, name] of [['throttlingException', 'ThrottlingException'],
  ['modelStreamErrorException', 'ModelStreamErrorException']]) {
  await test(`mid-stream ${exception}`, async () => {
    await control('POST', '/_emulator/faults', { type: 'stream_exception', exception, after: 2 });
    const out = await client().send(new ConverseStreamCommand({ modelId: MODEL, messages: userText('one two three four five') }));
    let events = 0;
    try {
      for await (const ev of out.stream) {
        if (ev) events++;
      }
      ok(false, `mid-stream ${exception} surfaces`);
    } catch (e) {
      ok(e.name === name && events === 2, `mid-stream ${exception}: typed ${name} after 2 events`, `${e.name} after ${events}`);
    }
  });
}

await test('scenario tool loop over HTTP/1.1 (NodeHttpHandler)', async () => {
  const h1 = client({ requestHandler: new NodeHttpHandler() });
  const tools = { tools: [{ toolSpec: { name: 'Read', inputSchema: { json: { type: 'object' } } } }] };
  const first = await h1.send(new ConverseCommand({ modelId: MODEL, messages: userText('please fix the bug'), toolConfig: tools }));
  const use = first.output.message.content.find((b) => b.toolUse);
  ok(first.stopReason === 'tool_use' && use && use.toolUse.name === 'Read' && use.toolUse.input.path === 'src/main.c',
    'HTTP/1.1: scenario step 1 is a Read tool_use', JSON.stringify(first.output));
  const history = [...userText('please fix the bug'), first.output.message,
    { role: 'user', content: [{ toolResult: { toolUseId: use.toolUse.toolUseId, content: [{ text: 'int main(void) {}' }] } }] }];
  const second = await h1.send(new ConverseCommand({ modelId: MODEL, messages: history, toolConfig: tools }));
  ok(second.output.message.content[0].text === 'Fixed.' && second.usage.inputTokens === 1234,
    'HTTP/1.1: scenario step 2 answers text with scripted usage', JSON.stringify(second));
  const req = await lastRequest();
  ok(req.protocol === 'HTTP/1.1', 'HTTP/1.1: the emulator saw HTTP/1.1', req.protocol);
});

await test('API key (bearer)', async () => {
  const c = new BedrockRuntimeClient({ region, endpoint: url, token: { token: apiKey }, authSchemePreference: ['httpBearerAuth'] });
  const out = await c.send(new ConverseCommand({ modelId: MODEL, messages: userText('bearer hello') }));
  ok(out.stopReason === 'end_turn', 'API key: Converse with a long-term key from the keys file');
  const req = await lastRequest();
  ok(req.auth.type === 'bearer' && req.auth.kind === 'long-term' && !JSON.stringify(req).includes(apiKey),
    'API key: recorded as bearer, key not in the request log', JSON.stringify(req.auth));
});

await test('STS GetCallerIdentity', async () => {
  const sts = new STSClient({ region, endpoint: url, credentials: good });
  const out = await sts.send(new GetCallerIdentityCommand({}));
  ok(out.Arn === 'arn:aws:iam::123456789012:user/emulator' && out.Account === '123456789012' && /^AIDA/.test(out.UserId),
    'STS: GetCallerIdentity answers the caller', JSON.stringify(out));
  try {
    await new STSClient({ region, endpoint: url, credentials: wrong, maxAttempts: 1 }).send(new GetCallerIdentityCommand({}));
    ok(false, 'STS: wrong secret is refused');
  } catch (e) {
    ok(e.name === 'SignatureDoesNotMatch' && e.$metadata.httpStatusCode === 403, 'STS: wrong secret gives SignatureDoesNotMatch',
      `${e.name} ${e.$metadata && e.$metadata.httpStatusCode}`);
  }
});

console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
