#!/usr/bin/env bash
# tests/e2e/eventstream_js_cross.sh - brock's event-stream codec against AWS's
# own JS codec (@smithy/eventstream-codec, with @smithy/core's
# getChunkedStream splitting the stream as the AWS SDK does), both ways:
#
#  (a) brock encodes sample messages covering every header type and edge
#      values (test_eventstream --es-write-samples); the JS codec decodes them
#      to exactly what brock meant to write and re-encodes them byte for byte;
#  (b) the JS codec encodes messages with every header type; brock decodes
#      them (test_eventstream --es-dump) to exactly what JS meant to write.
#
# The brock side is the unit-test binary in $BROCK_BUILD. A build made with a
# FOCUS that leaves it out skips this script (TAP "1..0 # SKIP").
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
helper=${BROCK_BUILD:-$top/build}/tests/aws/test_eventstream
if [ ! -x "$helper" ]; then
  echo "1..0 # SKIP $helper is not built (a FOCUS build without eventstream)"
  exit 0
fi
. "$top/tests/e2e/lib.sh"
export BROCK_JS_DIR=$top/tests/js

cat >"$E2E_TMP/cross.js" <<'JS'
'use strict';
const fs = require('fs');
const load = (m) => require(require.resolve(m, { paths: [process.env.BROCK_JS_DIR] }));
const { EventStreamCodec, Int64 } = load('@smithy/eventstream-codec');
const { getChunkedStream } = load('@smithy/core/event-streams');
const { toUtf8, fromUtf8 } = load('@smithy/util-utf8');
const codec = new EventStreamCodec(toUtf8, fromUtf8);
const hex = (u8) => Buffer.from(u8).toString('hex');

// The description format test_eventstream uses: headers in wire order,
// longs as decimal strings, binary and uuid as hex, payload as hex.
function describe(msg) {
  const headers = Object.entries(msg.headers).map(([name, { type, value }]) => {
    let v = value;
    if (type === 'long') v = BigInt.asIntN(64, BigInt('0x' + hex(value.bytes))).toString();
    else if (type === 'binary') v = hex(value);
    else if (type === 'timestamp') v = value.getTime();
    else if (type === 'uuid') v = value.replace(/-/g, '');
    return { name, type, value: v };
  });
  return { headers, payload: hex(msg.body) };
}

async function* once(buf) {
  for (let pos = 0; pos < buf.length; pos += 7) yield buf.subarray(pos, pos + 7); // odd pieces
}

async function messages(file) {
  const out = [];
  for await (const raw of getChunkedStream(once(new Uint8Array(fs.readFileSync(file))))) out.push(raw);
  return out;
}

function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]));
  return v;
}

const longOf = (h) => new Int64(Uint8Array.from(Buffer.from(h, 'hex')));
const samples = [
  {
    headers: {
      yes: { type: 'boolean', value: true },
      no: { type: 'boolean', value: false },
      byte: { type: 'byte', value: -7 },
      short: { type: 'short', value: -300 },
      integer: { type: 'integer', value: -70000 },
      long: { type: 'long', value: longOf('8000000000000001') },
      'long-big': { type: 'long', value: longOf('7ffffffffffffffe') },
      binary: { type: 'binary', value: Uint8Array.from([0, 1, 2, 255]) },
      string: { type: 'string', value: 'h\u00e9llo \u20ac \u{1F600}' },
      timestamp: { type: 'timestamp', value: new Date(1700000000123) },
      uuid: { type: 'uuid', value: 'b79bc914-de21-4e13-b8b2-bc47e85b7f0b' },
    },
    body: fromUtf8('{"message":"hi"}'),
  },
  {
    headers: {
      ':event-type': { type: 'string', value: 'chunk' },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    body: fromUtf8('{"bytes":"eyJ0eXBlIjoibWVzc2FnZV9zdG9wIn0=","p":"abcdefgh"}'),
  },
  {
    headers: {
      ':exception-type': { type: 'string', value: 'throttlingException' },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    },
    body: fromUtf8('{"message":"Too many tokens, please wait before trying again."}'),
  },
  { headers: { empty: { type: 'binary', value: new Uint8Array(0) }, s: { type: 'string', value: '' } }, body: Uint8Array.from([0, 0, 0]) },
  { headers: {}, body: new Uint8Array(0) },
];

async function main() {
  const [cmd, a, b] = process.argv.slice(2);
  if (cmd === 'decode') {
    const list = (await messages(a)).map((raw) => describe(codec.decode(raw)));
    fs.writeFileSync(b, JSON.stringify(list, null, 1));
  } else if (cmd === 'reencode') {
    const parts = (await messages(a)).map((raw) => codec.encode(codec.decode(raw)));
    fs.writeFileSync(b, Buffer.concat(parts.map((p) => Buffer.from(p))));
  } else if (cmd === 'samples') {
    fs.writeFileSync(a, Buffer.concat(samples.map((m) => Buffer.from(codec.encode(m)))));
    fs.writeFileSync(b, JSON.stringify(samples.map(describe), null, 1));
  } else if (cmd === 'same') {
    const x = JSON.stringify(canon(JSON.parse(fs.readFileSync(a, 'utf8'))));
    const y = JSON.stringify(canon(JSON.parse(fs.readFileSync(b, 'utf8'))));
    if (x !== y) {
      console.error(`differ:\n${a}: ${x}\n${b}: ${y}`);
      process.exit(1);
    }
  } else if (cmd === 'flip') { // flip the last payload byte of the first message
    const buf = fs.readFileSync(a);
    buf[buf.readUInt32BE(0) - 5] ^= 0x01;
    fs.writeFileSync(b, buf);
  } else {
    throw new Error(`unknown command ${cmd}`);
  }
}
main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
JS
js() { node "$E2E_TMP/cross.js" "$@"; }
t=$E2E_TMP

# (a) brock encodes, JS decodes
check "brock encodes the sample messages" "$helper" --es-write-samples "$t/brock.bin" "$t/brock.json"
check "JS codec decodes brock's stream (CRCs checked)" js decode "$t/brock.bin" "$t/brock.by-js.json"
check "JS decoding equals what brock meant to encode (all 10 header types)" \
  js same "$t/brock.json" "$t/brock.by-js.json"
check "JS re-encodes brock's messages" js reencode "$t/brock.bin" "$t/brock.js-again.bin"
check "JS re-encoding is byte-identical to brock's" cmp "$t/brock.bin" "$t/brock.js-again.bin"
js flip "$t/brock.bin" "$t/brock.flipped.bin"
expect_rc 1 "JS codec rejects brock's stream with one payload byte flipped" \
  js decode "$t/brock.flipped.bin" "$t/unused.json"

# (b) JS encodes, brock decodes
check "JS codec encodes its sample messages" js samples "$t/js.bin" "$t/js.json"
if "$helper" --es-dump "$t/js.bin" >"$t/js.by-brock.json" 2>"$t/err"; then
  ok "brock decodes the JS stream"
else
  not_ok "brock decodes the JS stream" "$(cat "$t/err")"
fi
check "brock decoding equals what JS meant to encode (all 10 header types)" \
  js same "$t/js.json" "$t/js.by-brock.json"
js flip "$t/js.bin" "$t/js.flipped.bin"
"$helper" --es-dump "$t/js.flipped.bin" >/dev/null 2>"$t/err"; rc=$?
if [ "$rc" -eq 1 ] && grep -q "message at offset 0: message CRC mismatch" "$t/err" &&
   grep -q "(message-crc)" "$t/err"; then
  ok "brock rejects the JS stream with one payload byte flipped (message CRC)"
else
  not_ok "brock rejects the JS stream with one payload byte flipped (message CRC)" "rc=$rc $(cat "$t/err")"
fi
done_testing
