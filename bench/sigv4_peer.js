#!/usr/bin/env node
// sigv4_peer.js - the bench_sigv4 request signed by AWS's JavaScript signer
// (@smithy/signature-v4, what the AWS SDK for JavaScript v3 uses), for
// bench/sigv4.sh.
//
// Hash: the SDK's default in Node is @smithy/hash-node, a thin class over
// node:crypto createHash/createHmac. That package is not installed here, so
// the same few lines are below (NodeHash). Not @aws-crypto/sha256-js, which is
// the pure-JS fallback for browsers.
//
// Inputs are built exactly as in bench/bench_sigv4.c, so the signature printed
// must equal brock's. Measurement: RUNS runs of ITERS signatures each; the
// median of the per-run mean is reported. Time is the process's CPU time
// (process.cpuUsage, user + system), as the C bench uses its CPU clock.
//
// Usage: node bench/sigv4_peer.js [TOKEN_BYTES [RUNS [ITERS]]]   (100 31 5000)
// Last line: "RESULT ns=<median ns per signature> signature=<hex>".
'use strict';

const path = require('path');
const crypto = require('crypto');
const modules = path.join(__dirname, '..', 'tests', 'js', 'node_modules');
const { SignatureV4 } = require(path.join(modules, '@smithy', 'signature-v4'));
const { HttpRequest } = require(path.join(modules, '@smithy', 'protocol-http'));

class NodeHash {
  constructor(secret) {
    this.h = secret === undefined ? crypto.createHash('sha256') : crypto.createHmac('sha256', toBuffer(secret));
  }
  update(data) {
    this.h.update(toBuffer(data));
  }
  digest() {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

function toBuffer(d) {
  if (typeof d === 'string') return Buffer.from(d, 'utf8');
  if (ArrayBuffer.isView(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return Buffer.from(d);
}

const BODY_LEN = 1024;
const BENCH_TIME = 1767225600; // 2026-01-01T00:00:00Z

function makeBody() {
  const head = '{"anthropic_version":"bedrock-2023-05-31","max_tokens":1024,"messages":[{"role":"user","content":"';
  const tail = '"}]}';
  let mid = '';
  for (let i = head.length; i < BODY_LEN - tail.length; i++) mid += String.fromCharCode(97 + (i % 26));
  return head + mid + tail;
}

function makeToken(n) {
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let t = '';
  for (let i = 0; i < n; i++) t += alpha[(i * 7 + 3) % 64];
  return t;
}

async function main() {
  const tokenLen = Number(process.argv[2] || 100);
  const runs = Number(process.argv[3] || 31);
  const iters = Number(process.argv[4] || 5000);
  const body = makeBody();
  const credentials = {
    accessKeyId: 'ASIAEXAMPLEBENCH0001',
    secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYBENCHKEY1',
  };
  if (tokenLen > 0) credentials.sessionToken = makeToken(tokenLen);
  const signer = new SignatureV4({
    credentials,
    region: 'us-west-2',
    service: 'bedrock',
    sha256: NodeHash,
    applyChecksum: false, // no x-amz-content-sha256, as for Bedrock
    uriEscapePath: true,
  });
  const signingDate = new Date(BENCH_TIME * 1000);
  const request = () =>
    new HttpRequest({
      method: 'POST',
      protocol: 'https:',
      hostname: 'bedrock-runtime.us-west-2.amazonaws.com',
      path: '/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        host: 'bedrock-runtime.us-west-2.amazonaws.com',
      },
      body,
    });

  const first = await signer.sign(request(), { signingDate });
  const auth = first.headers.authorization;
  const signature = auth.slice(auth.indexOf('Signature=') + 10);

  for (let i = 0; i < iters / 4; i++) await signer.sign(request(), { signingDate }); // warm up
  const per = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < iters; i++) await signer.sign(request(), { signingDate });
    const d = process.cpuUsage(t0);
    per.push(((d.user + d.system) * 1000) / iters);
  }
  per.sort((a, b) => a - b);
  const med = per[Math.floor(runs / 2)];
  console.log(`@smithy/signature-v4 + node:crypto: ${med.toFixed(1)} ns per signature (median of ${runs} runs x ${iters})`);
  console.log(`RESULT ns=${med.toFixed(1)} signature=${signature}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
