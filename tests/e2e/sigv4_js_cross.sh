#!/usr/bin/env bash
# tests/e2e/sigv4_js_cross.sh - brock's SigV4 signer and verifier against
# AWS's JavaScript signer (@smithy/signature-v4, as the AWS SDK for JavaScript
# v3 uses it, hashing with node:crypto).
#
# For a set of Bedrock-shaped requests (model ids with ':' sent raw and as
# %3A, inference-profile ARNs with ':' and '/', session tokens, query strings
# with repeated and reserved characters, a presigned API-key URL), it checks:
#   (a) brock's signature equals smithy's for the same request;
#   (b) brock's verifier (the emulator's) accepts the request smithy signed.
# The brock side is `test_sigv4 --cross` from $BROCK_BUILD. A build made with
# a FOCUS that leaves it out skips this script (TAP "1..0 # SKIP").
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
helper=${BROCK_BUILD:-$top/build}/tests/aws/test_sigv4
if [ ! -x "$helper" ]; then
  echo "1..0 # SKIP $helper is not built (a FOCUS build without sigv4)"
  exit 0
fi
. "$top/tests/e2e/lib.sh"
export BROCK_JS_DIR=$top/tests/js BROCK_SIGV4_HELPER=$helper

cat >"$E2E_TMP/cross.js" <<'JS'
'use strict';
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const load = (m) => require(require.resolve(m, { paths: [process.env.BROCK_JS_DIR] }));
const { SignatureV4 } = load('@smithy/signature-v4');
const { HttpRequest } = load('@smithy/protocol-http');

// The Hash the SDK uses in Node (@smithy/hash-node): node:crypto underneath.
class NodeHash {
  constructor(secret) {
    this.h = secret === undefined ? crypto.createHash('sha256') : crypto.createHmac('sha256', buf(secret));
  }
  update(d) { this.h.update(buf(d)); }
  digest() { return Promise.resolve(new Uint8Array(this.h.digest())); }
}
const buf = (d) => (typeof d === 'string' ? Buffer.from(d) : Buffer.from(d.buffer || d, d.byteOffset || 0, d.byteLength));

// RFC 3986 encoding, as the SDKs put labels and query values on the wire.
const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const wireQuery = (q) =>
  Object.entries(q || {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${enc(k)}=${enc(x)}`))
    .join('&');

const T = 1767225600; // 2026-01-01T00:00:00Z
const KEY = { akid: 'AKIDCROSSCHECK01', secret: 'cr0ss/Check+Secret=Key0123456789abcdefGH' };
const TOKEN = 'IQoJb3JpZ2luX2VjEPr//////////wEaCXVzLXdlc3QtMiJHMEUCIQD+example/token+with==padding';
const profileArn = 'arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abc123';
const json = '{"messages":[{"role":"user","content":[{"text":"Hello: a/b"}]}]}';
const H = (host, extra) => Object.assign({ host, 'content-type': 'application/json', accept: 'application/json' }, extra);

const cases = [
  { name: 'InvokeModel, model id with %3A, session token', method: 'POST', region: 'us-west-2',
    host: 'bedrock-runtime.us-west-2.amazonaws.com',
    path: '/model/' + enc('us.anthropic.claude-sonnet-4-5-20250929-v1:0') + '/invoke', token: TOKEN, body: json },
  { name: 'Converse, model id with raw ":" (Anthropic SDK style)', method: 'POST', region: 'us-west-2',
    host: 'bedrock-runtime.us-west-2.amazonaws.com',
    path: '/model/us.anthropic.claude-haiku-4-5-20251001-v1:0/converse', body: json },
  { name: 'ConverseStream, inference-profile ARN fully encoded', method: 'POST', region: 'us-east-1',
    host: 'bedrock-runtime.us-east-1.amazonaws.com', path: '/model/' + enc(profileArn) + '/converse-stream',
    token: TOKEN, body: json, headers: { accept: 'application/vnd.amazon.eventstream' } },
  { name: 'InvokeModel, ARN with raw ":" and %2F', method: 'POST', region: 'us-east-1',
    host: 'bedrock-runtime.us-east-1.amazonaws.com',
    path: '/model/' + profileArn.replace('/', '%2F') + '/invoke', body: json },
  { name: 'control plane GET with a query string', method: 'GET', region: 'eu-central-1',
    host: 'bedrock.eu-central-1.amazonaws.com', path: '/foundation-models',
    query: { byProvider: 'anthropic', byOutputModality: 'TEXT' }, body: '', token: TOKEN },
  { name: 'repeated keys and reserved characters in the query', method: 'GET', region: 'us-west-2',
    host: 'bedrock.us-west-2.amazonaws.com', path: '/inference-profiles',
    query: { typeEquals: ['SYSTEM_DEFINED', 'APPLICATION'], 'next token': 'a/b+c=d e~f:g', maxResults: '10' },
    body: '' },
  { name: 'CountTokens with odd header spacing and a user-agent', method: 'POST', region: 'us-west-2',
    host: 'bedrock-runtime.us-west-2.amazonaws.com',
    path: '/model/' + enc('anthropic.claude-sonnet-4-5-20250929-v1:0') + '/count-tokens', body: json,
    headers: { 'X-Custom-Header': '  two   spaces\tand tab  ', 'user-agent': 'brock/0.1 cross-check' } },
  { name: 'STS GetCallerIdentity form POST', method: 'POST', region: 'us-east-1', service: 'sts',
    host: 'sts.us-east-1.amazonaws.com', path: '/', body: 'Action=GetCallerIdentity&Version=2011-06-15',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } },
  { name: 'presigned API-key URL (CallWithBearerToken), session token', method: 'POST', region: 'us-west-2',
    host: 'bedrock.amazonaws.com', path: '/', query: { Action: 'CallWithBearerToken' }, body: '', token: TOKEN,
    presign: 43200, onlyHost: true },
  { name: 'presigned GET with a query', method: 'GET', region: 'us-east-2', host: 'bedrock.us-east-2.amazonaws.com',
    path: '/custom-models', query: { sortBy: 'CreationTime', 'x y': '1/2' }, body: '', presign: 900, onlyHost: true },
];

async function main() {
  const input = [];
  for (const c of cases) {
    const headers = c.onlyHost ? { host: c.host } : H(c.host, c.headers);
    const signer = new SignatureV4({
      credentials: { accessKeyId: KEY.akid, secretAccessKey: KEY.secret, sessionToken: c.token },
      region: c.region, service: c.service || 'bedrock', sha256: NodeHash, applyChecksum: false,
      uriEscapePath: true,
    });
    const req = new HttpRequest({ method: c.method, protocol: 'https:', hostname: c.host, path: c.path,
                                  query: c.query || {}, headers: Object.assign({}, headers), body: c.body });
    const signingDate = new Date(T * 1000);
    const signed = c.presign ? await signer.presign(req, { expiresIn: c.presign, signingDate })
                             : await signer.sign(req, { signingDate });
    const sig = c.presign ? signed.query['X-Amz-Signature']
                          : signed.headers.authorization.replace(/.*Signature=/, '');
    input.push({
      name: c.name, method: c.method, path: c.path, query: wireQuery(c.query), headers: Object.entries(headers),
      body: c.body, akid: KEY.akid, secret: KEY.secret, token: c.token, region: c.region,
      service: c.service || 'bedrock', time: T, expires: c.presign || 0,
      peer: { path: c.path, query: wireQuery(signed.query), headers: Object.entries(signed.headers) },
      want: { signature: sig, authorization: c.presign ? undefined : signed.headers.authorization },
    });
  }
  const out = execFileSync(process.env.BROCK_SIGV4_HELPER, ['--cross'], { input: JSON.stringify(input) });
  const results = out.toString().trim().split('\n').map((l) => JSON.parse(l));
  let n = 0;
  const tap = (ok, name, detail) => {
    console.log(`${ok ? 'ok' : 'not ok'} ${++n} - ${name}`);
    if (!ok && detail) console.error(detail.split('\n').map((l) => '# ' + l).join('\n'));
  };
  input.forEach((c, i) => {
    const r = results[i] || {};
    const same = r.signature === c.want.signature &&
                 (c.want.authorization === undefined || r.authorization === c.want.authorization);
    tap(same, `same signature as smithy: ${c.name}`,
        `brock: ${r.error || r.authorization || r.signature}\nsmithy: ${c.want.authorization || c.want.signature}`);
    tap(r.verdict === 'VALID', `brock verifies smithy's request: ${c.name}`, `${r.verdict}: ${r.verify_error}`);
  });
  console.log(`1..${n}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
JS

node "$E2E_TMP/cross.js"
