#!/usr/bin/env bash
# httpd_js_h2.sh - the server core against Node's built-in http2 client (the
# HTTP/2 stack the AWS SDK for JavaScript uses for Bedrock Runtime): many
# streams on one session, large bodies both ways, a 6 MB flood under
# backpressure, streamed DATA, a stream the server resets while others go on,
# a stream the client resets, an early 413, and GOAWAY on a graceful stop.
# The server is `test_httpd --serve` from $BROCK_BUILD
# (tests/server/test_httpd.c). Prints TAP.
set -u
build=${BROCK_BUILD:-build}
srv=$build/tests/server/test_httpd
if [ ! -x "$srv" ]; then
  echo "1..0 # SKIP $srv is not built in this build directory"
  exit 0
fi
if ! command -v node >/dev/null 2>&1; then
  echo "1..1"
  echo "not ok 1 - node is not installed"
  exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/httpd-js.XXXXXX")
"$srv" --serve >"$tmp/port" 2>"$tmp/stderr" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do
  grep -q '^port ' "$tmp/port" 2>/dev/null && break
  sleep 0.05
done
port=$(awk '/^port /{print $2}' "$tmp/port")
if [ -z "$port" ]; then
  echo "1..1"
  echo "not ok 1 - test server did not start: $(head -c 300 "$tmp/stderr")"
  exit 1
fi

PORT=$port node - <<'EOF'
'use strict';
const http2 = require('http2');
const { constants } = http2;
const base = `http://127.0.0.1:${process.env.PORT}`;
const tests = [];
const test = (name, fn) => tests.push({ name, fn });

// the byte patterns of tests/server/test_httpd.c
const pieceByte = (tag, i, j) => 97 + ((tag * 7 + i * 3 + j) % 26);
const bigByte = (i) => (i * 7 + (i >>> 8) * 13 + 5) & 0xff;

function request(session, headers, body) {
  return new Promise((resolve) => {
    const req = session.request(headers);
    const chunks = [], times = [];
    let resHeaders = null, error = null;
    req.on('response', (h) => { resHeaders = h; });
    req.on('data', (c) => { chunks.push(c); times.push(Date.now()); });
    req.on('error', (e) => { error = e; });
    req.on('close', () => resolve({ headers: resHeaders, body: Buffer.concat(chunks), times,
                                    error, rstCode: req.rstCode }));
    if (body) req.end(body); else req.end();
  });
}
const get = (s, path) => request(s, { ':path': path });
const stats = async (s) => JSON.parse((await get(s, '/stats')).body.toString());
function assert(cond, msg) { if (!cond) throw new Error(msg); }

test('round trip: POST /echo over h2c', async () => {
  const s = http2.connect(base);
  const r = await request(s, { ':path': '/echo?a=1', ':method': 'POST', 'content-type': 'application/json' },
                         '{"hello":"node"}');
  assert(r.headers[':status'] === 200, `status ${r.headers[':status']}`);
  assert(r.headers['x-proto'] === 'HTTP/2', `proto ${r.headers['x-proto']}`);
  assert(r.headers['x-query'] === 'a=1', `query ${r.headers['x-query']}`);
  assert(r.body.toString() === '{"hello":"node"}', 'body differs');
  s.close();
});

test('50 concurrent streams on one session interleave', async () => {
  const s = http2.connect(base);
  const before = await stats(s);
  const size = (i) => 500 + i * 31;
  const rs = await Promise.all([...Array(50).keys()].map((i) =>
    get(s, `/stream?pieces=3&delay=60&size=${size(i)}&tag=${i}`)));
  let maxFirst = 0, minLast = Infinity;
  rs.forEach((r, i) => {
    assert(!r.error && r.headers[':status'] === 200, `stream ${i}: ${r.error}`);
    assert(r.body.length === 3 * size(i), `stream ${i}: ${r.body.length} bytes`);
    for (let p = 0; p < 3; p++)
      for (let j = 0; j < size(i); j++)
        assert(r.body[p * size(i) + j] === pieceByte(i, p, j), `stream ${i} piece ${p} byte ${j}`);
    maxFirst = Math.max(maxFirst, r.times[0]);
    minLast = Math.min(minLast, r.times[r.times.length - 1]);
  });
  assert(maxFirst < minLast, 'streams did not overlap');
  const after = await stats(s);
  assert(after.connections === before.connections, 'more than one connection');
  s.close();
});

test('large bodies: 5 MB upload echoed, 8 MB download (flow control)', async () => {
  const s = http2.connect(base);
  const up = Buffer.alloc(5 * 1024 * 1024 + 3);
  for (let i = 0; i < up.length; i++) up[i] = (i * 31 + 7) & 0xff;
  const e = await request(s, { ':path': '/echo', ':method': 'POST' }, up);
  assert(e.headers[':status'] === 200 && e.body.equals(up), `echo ${e.body.length} bytes`);
  const n = 8000000;
  const d = await get(s, `/big?n=${n}`);
  assert(d.body.length === n, `download ${d.body.length} bytes`);
  for (let i = 0; i < n; i++) if (d.body[i] !== bigByte(i)) throw new Error(`byte ${i}`);
  s.close();
});

test('backpressure: a 6 MB flood arrives whole and ends; the server held at most its bound', async () => {
  const s = http2.connect(base);
  const n = 6000000;
  const d = await get(s, `/flood?limit=${n}`);
  assert(!d.error && d.headers[':status'] === 200, `flood: ${d.error}`);
  assert(d.body.length === n, `flood ${d.body.length} bytes`);
  for (let i = 0; i < n; i++) if (d.body[i] !== bigByte(i)) throw new Error(`byte ${i}`);
  const st = await stats(s);
  assert(st.flood_max_buffered > 0 && st.flood_max_buffered <= st.flood_bound,
         `held ${st.flood_max_buffered} bytes, bound ${st.flood_bound}`);
  s.close();
});

test('streamed DATA arrives piece by piece', async () => {
  const s = http2.connect(base);
  const r = await get(s, '/stream?pieces=4&delay=150&size=10&tag=2');
  assert(r.body.length === 40, `${r.body.length} bytes`);
  assert(r.times.length >= 4, `${r.times.length} data events`);
  for (let k = 1; k < r.times.length; k++)
    assert(r.times[k] - r.times[k - 1] >= 100, `gap ${r.times[k] - r.times[k - 1]} ms`);
  s.close();
});

test('server abort resets one stream; the other completes', async () => {
  const s = http2.connect(base);
  const [a, b] = await Promise.all([get(s, '/stream?pieces=5&delay=40&size=100&abort=2'),
                                    get(s, '/stream?pieces=5&delay=40&size=100&tag=1')]);
  assert(a.error && a.rstCode === constants.NGHTTP2_INTERNAL_ERROR,
         `aborted stream: error ${a.error && a.error.code}, rst ${a.rstCode}`);
  assert(a.body.length === 200, `aborted stream got ${a.body.length} bytes before the reset`);
  assert(!b.error && b.body.length === 500, `other stream: ${b.error} ${b.body.length}`);
  s.close();
});

test('client resets a stream: the handler hears it, the session goes on', async () => {
  const s = http2.connect(base);
  const before = await stats(s);
  await new Promise((resolve) => {
    const req = s.request({ ':path': '/hang' });
    req.on('data', () => req.close(constants.NGHTTP2_CANCEL));
    req.on('close', resolve);
    req.on('error', () => {});
    req.end();
  });
  let after;
  for (let i = 0; i < 50; i++) {
    after = await stats(s);
    if (after.closes > before.closes) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert(after.closes === before.closes + 1, `on_close count ${before.closes} -> ${after.closes}`);
  s.close();
});

test('early 413 for a too-large upload is delivered', async () => {
  // Node keeps the whole upload in session memory; its 10 MB default would
  // make it reset the stream itself (ENHANCE_YOUR_CALM) before reading.
  const s = http2.connect(base, { maxSessionMemory: 64 });
  const big = Buffer.alloc(17 * 1024 * 1024, 0x61); // limit 16 MiB, within the drain budget
  const r = await request(s, { ':path': '/echo', ':method': 'POST', 'content-length': String(big.length) }, big);
  assert(r.headers && r.headers[':status'] === 413, `status ${r.headers && r.headers[':status']} ${r.error}`);
  assert(/larger than/.test(r.body.toString()), `body '${r.body}'`);
  assert(!r.rstCode, `rst ${r.rstCode}`);
  s.close();
});

test('graceful stop: GOAWAY, the in-flight stream completes, the server exits', async () => {
  const s = http2.connect(base);
  let goaway = null;
  s.on('goaway', (code, last) => { goaway = { code, last }; });
  s.on('error', () => {});
  const inflight = new Promise((resolve) => {
    const req = s.request({ ':path': '/stream?pieces=5&delay=100&size=100&tag=4' });
    const chunks = [];
    req.on('data', (c) => {
      if (!chunks.length) get(s, '/stop?grace=5000');
      chunks.push(c);
    });
    req.on('error', () => {});
    req.on('close', () => resolve({ body: Buffer.concat(chunks), rst: req.rstCode }));
    req.end();
  });
  const r = await inflight;
  assert(r.body.length === 500 && r.rst === constants.NGHTTP2_NO_ERROR, `${r.body.length} bytes, rst ${r.rst}`);
  for (let i = 0; i < 100 && !goaway; i++) await new Promise((res) => setTimeout(res, 20));
  assert(goaway && goaway.code === constants.NGHTTP2_NO_ERROR, `goaway ${JSON.stringify(goaway)}`);
  await new Promise((resolve) => { if (s.closed) resolve(); else s.on('close', resolve); });
});

(async () => {
  console.log(`1..${tests.length}`);
  let n = 0, failed = 0;
  for (const t of tests) {
    n++;
    try {
      await Promise.race([t.fn(), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 20000))]);
      console.log(`ok ${n} - ${t.name}`);
    } catch (e) {
      failed++;
      console.log(`not ok ${n} - ${t.name}`);
      console.log(`# ${e.message}`);
    }
  }
  process.exit(failed ? 1 : 0);
})();
EOF
rc=$?
# the last test stopped the server: it must have exited cleanly by itself
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.05; done
if kill -0 $pid 2>/dev/null; then
  echo "# test server still running after GET /stop"
  rc=1
else
  wait $pid
  src=$?
  if [ $src -ne 0 ]; then
    echo "# test server exited with $src: $(tail -c 500 "$tmp/stderr")"
    rc=1
  fi
fi
exit $rc
