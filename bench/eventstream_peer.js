// eventstream_peer.js - decode the bench_eventstream buffer with AWS's JS codec.
//
// Usage: node bench/eventstream_peer.js FILE [RUNS]
//
// The file (written by `bench_eventstream --write FILE`) is fed in 16 KiB
// pieces through @smithy/core's getChunkedStream (what the AWS SDK for
// JavaScript v3 uses to split a response body into messages) and each message
// is decoded with @smithy/eventstream-codec (both CRCs checked, headers
// parsed); the :event-type header is read, as brock's bench does. Prints the
// median MB/s (10^6 bytes) over RUNS runs as "js_mbps=N". Also measures the
// codec alone, on messages cut out of the whole buffer by their total_length
// without copying (the fastest the codec can go), as "js_split_mbps=N".
'use strict';
const fs = require('fs');
const path = require('path');

const jsdir = path.join(__dirname, '..', 'tests', 'js');
const load = (m) => require(require.resolve(m, { paths: [jsdir] }));
const { EventStreamCodec } = load('@smithy/eventstream-codec');
const { getChunkedStream } = load('@smithy/core/event-streams');
const { toUtf8, fromUtf8 } = load('@smithy/util-utf8');

const PIECE = 16 * 1024;

async function* pieces(buf) {
  for (let pos = 0; pos < buf.length; pos += PIECE) yield buf.subarray(pos, pos + PIECE);
}

async function once(buf, codec) {
  let count = 0;
  let chunks = 0;
  const t0 = process.hrtime.bigint();
  for await (const raw of getChunkedStream(pieces(buf))) {
    const msg = codec.decode(raw);
    if (msg.headers[':event-type'].value === 'chunk') chunks++;
    count++;
  }
  const t1 = process.hrtime.bigint();
  if (count !== chunks) throw new Error(`decoded ${count} messages, ${chunks} chunk events`);
  return { secs: Number(t1 - t0) / 1e9, count };
}

function onceSplit(buf, codec) {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let count = 0;
  let chunks = 0;
  const t0 = process.hrtime.bigint();
  for (let pos = 0; pos < buf.length; ) {
    const n = view.getUint32(pos, false);
    const msg = codec.decode(buf.subarray(pos, pos + n));
    if (msg.headers[':event-type'].value === 'chunk') chunks++;
    count++;
    pos += n;
  }
  const t1 = process.hrtime.bigint();
  if (count !== chunks) throw new Error(`decoded ${count} messages, ${chunks} chunk events`);
  return { secs: Number(t1 - t0) / 1e9, count };
}

function median(times) {
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  return times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
}

async function main() {
  const file = process.argv[2];
  const runs = Number(process.argv[3] || 5);
  if (!file) {
    console.error('usage: node eventstream_peer.js FILE [RUNS]');
    process.exit(2);
  }
  const buf = new Uint8Array(fs.readFileSync(file));
  const codec = new EventStreamCodec(toUtf8, fromUtf8);
  await once(buf, codec); // warm up the JIT
  const times = [];
  let count = 0;
  for (let r = 0; r < runs; r++) {
    const res = await once(buf, codec);
    times.push(res.secs);
    count = res.count;
  }
  onceSplit(buf, codec); // warm up
  const split = [];
  for (let r = 0; r < runs; r++) {
    const res = onceSplit(buf, codec);
    if (res.count !== count) throw new Error('split decoding found a different count');
    split.push(res.secs);
  }
  console.log(`js_messages=${count}`);
  console.log(`js_mbps=${Math.round(buf.length / median(times) / 1e6)}`);
  console.log(`js_split_mbps=${Math.round(buf.length / median(split) / 1e6)}`);
}

main().catch((e) => {
  console.error(`eventstream_peer.js: ${e.stack || e}`);
  process.exit(1);
});
