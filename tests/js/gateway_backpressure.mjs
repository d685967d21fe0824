// tests/js/gateway_backpressure.mjs GW_URL TOKEN - a client that stops
// reading a big event stream, through `brock serve`, over HTTP/2 (Node's
// http2, prior knowledge) and HTTP/1.1 (node:http). While the client does
// not read, the gateway must hold its upstream transfer (its health says
// "held":1) rather than pile the frames up; once the client reads again the
// stream must arrive whole: every event-stream frame complete, the last one
// Anthropic's message_stop, and the stream ended. TAP on stdout.
import http from 'node:http';
import http2 from 'node:http2';

const [gw, token] = process.argv.slice(2);
const path = '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream';
const body = JSON.stringify({
  anthropic_version: 'bedrock-2023-05-31', max_tokens: 100,
  messages: [{ role: 'user', content: 'a big stream please' }],
});
let n = 0, failed = 0;
const ok = (cond, what, detail) => {
  n++;
  if (cond) console.log(`ok ${n} - ${what}`);
  else { failed++; console.log(`not ok ${n} - ${what}`); if (detail) console.log(`# ${detail}`); }
};

const health = () => new Promise((resolve) => {
  http.get(gw + '/_gateway/health', (res) => {
    let s = '';
    res.on('data', (d) => { s += d; });
    res.on('end', () => resolve(s));
  }).on('error', () => resolve(''));
});

// Poll the gateway until it says a transfer is held (at most 10 s).
async function waitHeld() {
  for (let i = 0; i < 200; i++) {
    if ((await health()).includes('"held":1,')) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

// Walk the event-stream frames: all complete; the last payload's message type.
function lastEvent(buf) {
  let off = 0, frames = 0, last = null;
  while (off + 12 <= buf.length) {
    const total = buf.readUInt32BE(off), hlen = buf.readUInt32BE(off + 4);
    if (total < 16 || off + total > buf.length) break;
    last = buf.subarray(off + 12 + hlen, off + total - 4);
    off += total;
    frames++;
  }
  if (off !== buf.length || !last) return { frames, complete: false, type: '' };
  let type = '';
  try {
    const inner = JSON.parse(Buffer.from(JSON.parse(last.toString()).bytes, 'base64').toString());
    type = inner.type;
  } catch { /* left empty */ }
  return { frames, complete: true, type };
}

// Read the answer; pause at the first data until the gateway holds upstream.
function consume(stream, label) {
  return new Promise((resolve) => {
    const parts = [];
    let first = true, held = false;
    const timer = setTimeout(() => resolve({ label, held, ended: false, buf: Buffer.concat(parts) }), 60000);
    stream.on('data', (d) => {
      parts.push(d);
      if (first) {
        first = false;
        stream.pause();
        waitHeld().then((h) => { held = h; stream.resume(); });
      }
    });
    stream.on('end', () => { clearTimeout(timer); resolve({ label, held, ended: true, buf: Buffer.concat(parts) }); });
    stream.on('error', (e) => { clearTimeout(timer); resolve({ label, held, ended: false, err: String(e), buf: Buffer.concat(parts) }); });
  });
}

function check(r) {
  ok(r.held, `${r.label}: the gateway holds the upstream transfer while the client does not read`);
  ok(r.ended, `${r.label}: the stream ends once the client reads again`, r.err);
  const e = lastEvent(r.buf);
  ok(e.complete && e.frames > 2000 && r.buf.length > 16 * 1024 * 1024,
    `${r.label}: ${r.buf.length} bytes in ${e.frames} complete frames`);
  ok(e.type === 'message_stop', `${r.label}: the last event is message_stop`, `last event: ${e.type}`);
}

const headers = { 'content-type': 'application/json', authorization: 'Bearer ' + token };

// HTTP/2 (prior knowledge)
{
  const s = http2.connect(gw);
  s.on('error', () => {});
  const req = s.request({ ':method': 'POST', ':path': path, ...headers });
  req.end(body);
  check(await consume(req, 'HTTP/2'));
  s.close();
}
// HTTP/1.1
{
  const u = new URL(gw + path);
  const res = await new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers }, resolve);
    req.on('error', reject);
    req.end(body);
  });
  check(await consume(res, 'HTTP/1.1'));
}
ok(!(await health()).includes('"held":1'), 'nothing is held once both streams are over');
console.log(`1..${n}`);
process.exit(failed ? 1 : 0);
