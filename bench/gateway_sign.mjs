#!/usr/bin/env node
// bench/gateway_sign.mjs URL BODY - sign one InvokeModel POST with AWS's
// JavaScript signer (@smithy/signature-v4, what the AWS SDK for JavaScript v3
// uses) and print the headers it adds, one "name: value" a line, for
// bench/gateway.lua's GW_HEADERS_FILE. The request is then what the gateway
// sends upstream: SigV4 over content-type, accept, host and the payload hash,
// so wrk can make the emulator verify a signature on every call without a
// gateway in front of it. Keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
// region AWS_REGION (us-west-2), service bedrock. The signature is good for
// the emulator's clock-skew window (minutes): sign again for each run.
import crypto from 'node:crypto';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'tests', 'js', 'package.json'));
const { SignatureV4 } = require('@smithy/signature-v4');
const { HttpRequest } = require('@smithy/protocol-http');

// The SDK's Node hash (@smithy/hash-node) is a thin class over node:crypto;
// that package is not installed here, so these few lines stand in for it.
class NodeHash {
  constructor(secret) {
    this.h = secret === undefined ? crypto.createHash('sha256') : crypto.createHmac('sha256', Buffer.from(secret));
  }
  update(d) {
    this.h.update(typeof d === 'string' ? Buffer.from(d, 'utf8') : Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  }
  digest() {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

const [url, body] = process.argv.slice(2);
if (!url || body === undefined) {
  console.error('usage: gateway_sign.mjs URL BODY');
  process.exit(2);
}
const u = new URL(url);
const signer = new SignatureV4({
  service: 'bedrock',
  region: process.env.AWS_REGION || 'us-west-2',
  sha256: NodeHash,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY },
});
// The path as it goes on the wire (the model id's ':' already %3A): the
// signer encodes it once more for the canonical request, as SigV4 asks.
const req = new HttpRequest({
  method: 'POST', protocol: u.protocol, hostname: u.hostname, port: Number(u.port), path: u.pathname,
  headers: { host: u.host, 'content-type': 'application/json', accept: '*/*' }, body,
});
const signed = await signer.sign(req);
for (const [k, v] of Object.entries(signed.headers)) {
  if (/^(authorization|x-amz-date|x-amz-content-sha256)$/i.test(k)) console.log(`${k}: ${v}`);
}
