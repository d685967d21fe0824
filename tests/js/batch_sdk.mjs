// batch_sdk.mjs - AWS's own clients against the S3 and the batch job API of `brock emulate`.
//
//   node batch_sdk.mjs URL
//
// @aws-sdk/client-s3 (path-style, AWS's SigV4 for S3, its default CRC32
// checksums, its XML parsers, its typed errors) runs every S3 call brock
// batch needs, and @aws-sdk/client-bedrock runs Create / Get / List / Stop
// ModelInvocationJob, with a job taken through to its output in S3. What the
// SDKs accept and how they name errors is the check. Prints TAP.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  BedrockClient,
  CreateModelInvocationJobCommand,
  GetModelInvocationJobCommand,
  ListModelInvocationJobsCommand,
  StopModelInvocationJobCommand,
} from '@aws-sdk/client-bedrock';

const [url] = process.argv.slice(2);
const region = 'us-east-1';
const good = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const wrong = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-the-secret-at-all-0000000000000000000' };
const MODEL = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';
const ROLE = 'arn:aws:iam::123456789012:role/BedrockBatchRole';

let n = 0;
const ok = (cond, name, detail) => {
  n++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
  if (!cond && detail !== undefined) console.log(`# ${String(detail).split('\n').join('\n# ')}`);
};
const test = async (name, fn) => {
  try {
    await fn();
  } catch (e) {
    ok(false, name, `threw ${e.name}: ${e.message}\n${e.stack}`);
  }
};
const s3 = (credentials = good) =>
  new S3Client({ region, endpoint: url, forcePathStyle: true, credentials, maxAttempts: 1 });
const bedrock = () => new BedrockClient({ region, endpoint: url, credentials: good, maxAttempts: 1 });
const control = async (method, path, body) => {
  const r = await fetch(url + path, { method, body: body && JSON.stringify(body) });
  return r.json();
};
const lastRequest = async () => {
  const { requests } = await control('GET', '/_emulator/requests');
  return requests[requests.length - 1];
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

await test('S3: bucket, PutObject, GetObject, HeadObject', async () => {
  const c = s3();
  await c.send(new CreateBucketCommand({ Bucket: 'sdk-bucket' }));
  const body = '{"recordId":"REC00000001","modelInput":{}}\n';
  const put = await c.send(new PutObjectCommand({ Bucket: 'sdk-bucket', Key: 'in/records 1.jsonl', Body: body,
    ContentType: 'application/jsonl' }));
  ok(/^"[0-9a-f]{32}"$/.test(put.ETag), 'PutObject: an S3-shaped ETag', put.ETag);
  const req = await lastRequest();
  ok(req.auth.type === 'sigv4' && req.auth.signingName === 's3', 'PutObject: signed with SigV4 for s3 and verified',
    JSON.stringify(req.auth));
  ok(req.path === '/sdk-bucket/in/records%201.jsonl' && req.key === 'in/records 1.jsonl',
    'PutObject: path-style, the key encoded once and decoded once', req.path);
  ok(req.headers['x-amz-content-sha256'] !== undefined, 'PutObject: x-amz-content-sha256 sent (and checked)');
  const get = await c.send(new GetObjectCommand({ Bucket: 'sdk-bucket', Key: 'in/records 1.jsonl', ChecksumMode: 'ENABLED' }));
  const text = await get.Body.transformToString();
  ok(text === body, 'GetObject: the same bytes (the SDK validated the CRC32 we gave back)', text);
  ok(get.ContentType === 'application/jsonl' && get.ETag === put.ETag, 'GetObject: content type and ETag', get.ContentType);
  const head = await c.send(new HeadObjectCommand({ Bucket: 'sdk-bucket', Key: 'in/records 1.jsonl' }));
  ok(head.ContentLength === body.length, 'HeadObject: the length', head.ContentLength);
  const part = await c.send(new GetObjectCommand({ Bucket: 'sdk-bucket', Key: 'in/records 1.jsonl', Range: 'bytes=1-10' }));
  ok((await part.Body.transformToString()) === body.slice(1, 11) && part.ContentRange === `bytes 1-10/${body.length}`,
    'GetObject with Range: 206 and the slice', part.ContentRange);
});

await test('S3: errors the SDK knows', async () => {
  const c = s3();
  try {
    await c.send(new GetObjectCommand({ Bucket: 'sdk-bucket', Key: 'nope' }));
    ok(false, 'NoSuchKey');
  } catch (e) {
    ok(e instanceof NoSuchKey && e.$metadata.httpStatusCode === 404 && e.$metadata.requestId,
      'GetObject of a missing key: the typed NoSuchKey, 404, a request id', `${e.name} ${e.$metadata.httpStatusCode}`);
  }
  try {
    await c.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' }));
    ok(false, 'NoSuchBucket');
  } catch (e) {
    ok(e.name === 'NoSuchBucket' && e.$metadata.httpStatusCode === 404, 'ListObjectsV2 of a missing bucket: NoSuchBucket', e.name);
  }
  try {
    await s3(wrong).send(new PutObjectCommand({ Bucket: 'sdk-bucket', Key: 'k', Body: 'x' }));
    ok(false, 'SignatureDoesNotMatch');
  } catch (e) {
    ok(e instanceof S3ServiceException && e.name === 'SignatureDoesNotMatch' && e.$metadata.httpStatusCode === 403,
      'a wrong secret: SignatureDoesNotMatch, 403', e.name);
  }
});

await test('S3: ListObjectsV2 pages and common prefixes', async () => {
  const c = s3();
  await Promise.all(Array.from({ length: 25 }, (_, i) =>
    c.send(new PutObjectCommand({ Bucket: 'sdk-bucket', Key: `out/job${i % 3}/part-${String(i).padStart(3, '0')}.jsonl.out`, Body: `${i}` }))));
  const keys = [];
  let token;
  let pages = 0;
  do {
    const r = await c.send(new ListObjectsV2Command({ Bucket: 'sdk-bucket', Prefix: 'out/', MaxKeys: 10, ContinuationToken: token }));
    pages++;
    for (const o of r.Contents || []) keys.push(o.Key);
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  ok(keys.length === 25 && pages === 3, 'three pages of 10, 10 and 5 keys', `${keys.length} keys in ${pages} pages`);
  ok(keys.every((k, i) => i === 0 || keys[i - 1] < k), 'keys in order');
  const d = await c.send(new ListObjectsV2Command({ Bucket: 'sdk-bucket', Prefix: 'out/', Delimiter: '/' }));
  const cps = (d.CommonPrefixes || []).map((p) => p.Prefix);
  ok(JSON.stringify(cps) === JSON.stringify(['out/job0/', 'out/job1/', 'out/job2/']) && !d.Contents,
    'a delimiter gives common prefixes', JSON.stringify(cps));
  await c.send(new DeleteObjectCommand({ Bucket: 'sdk-bucket', Key: 'out/job0/part-000.jsonl.out' }));
  const after = await c.send(new ListObjectsV2Command({ Bucket: 'sdk-bucket', Prefix: 'out/job0/' }));
  ok(after.KeyCount === 8, 'DeleteObject removes it', after.KeyCount);
});

await test('S3: multipart upload', async () => {
  const c = s3();
  const Key = 'big/records.jsonl';
  const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 'sdk-bucket', Key }));
  ok(typeof UploadId === 'string' && UploadId.length > 10, 'CreateMultipartUpload gives an upload id');
  const part1 = Buffer.alloc(5 * 1024 * 1024, 'a');
  const part2 = Buffer.from('the last part may be small\n');
  const p1 = await c.send(new UploadPartCommand({ Bucket: 'sdk-bucket', Key, UploadId, PartNumber: 1, Body: part1 }));
  const p2 = await c.send(new UploadPartCommand({ Bucket: 'sdk-bucket', Key, UploadId, PartNumber: 2, Body: part2 }));
  const done = await c.send(new CompleteMultipartUploadCommand({ Bucket: 'sdk-bucket', Key, UploadId,
    MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] } }));
  ok(/-2"$/.test(done.ETag), 'CompleteMultipartUpload: an ETag ending in -2', done.ETag);
  const got = Buffer.from(await (await c.send(new GetObjectCommand({ Bucket: 'sdk-bucket', Key }))).Body.transformToByteArray());
  ok(got.length === part1.length + part2.length && got.subarray(part1.length).equals(part2), 'the object is the parts joined', got.length);
  const up2 = await c.send(new CreateMultipartUploadCommand({ Bucket: 'sdk-bucket', Key: 'gone' }));
  await c.send(new AbortMultipartUploadCommand({ Bucket: 'sdk-bucket', Key: 'gone', UploadId: up2.UploadId }));
  try {
    await c.send(new UploadPartCommand({ Bucket: 'sdk-bucket', Key: 'gone', UploadId: up2.UploadId, PartNumber: 1, Body: 'x' }));
    ok(false, 'NoSuchUpload');
  } catch (e) {
    ok(e.name === 'NoSuchUpload', 'after AbortMultipartUpload: NoSuchUpload', e.name);
  }
  const up3 = await c.send(new CreateMultipartUploadCommand({ Bucket: 'sdk-bucket', Key: 'small' }));
  const q1 = await c.send(new UploadPartCommand({ Bucket: 'sdk-bucket', Key: 'small', UploadId: up3.UploadId, PartNumber: 1, Body: 'tiny' }));
  const q2 = await c.send(new UploadPartCommand({ Bucket: 'sdk-bucket', Key: 'small', UploadId: up3.UploadId, PartNumber: 2, Body: 'end' }));
  try {
    await c.send(new CompleteMultipartUploadCommand({ Bucket: 'sdk-bucket', Key: 'small', UploadId: up3.UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: q1.ETag }, { PartNumber: 2, ETag: q2.ETag }] } }));
    ok(false, 'EntityTooSmall');
  } catch (e) {
    ok(e.name === 'EntityTooSmall', 'a small part before the last: EntityTooSmall', e.name);
  }
});

await test('Bedrock: model invocation jobs', async () => {
  await control('POST', '/_emulator/batch', { step_ms: 50, min_records: 100 });
  const c = s3();
  await c.send(new CreateBucketCommand({ Bucket: 'sdk-jobs' }));
  const lines = Array.from({ length: 120 }, (_, i) => JSON.stringify({
    recordId: `REC${String(i).padStart(8, '0')}`,
    modelInput: { anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: `record ${i}` }] },
  })).join('\n') + '\n';
  await c.send(new PutObjectCommand({ Bucket: 'sdk-jobs', Key: 'in/records.jsonl', Body: lines }));
  const b = bedrock();
  const input = {
    jobName: 'sdk-job-1', roleArn: ROLE, modelId: MODEL, clientRequestToken: 'sdk-token-1',
    inputDataConfig: { s3InputDataConfig: { s3Uri: 's3://sdk-jobs/in/records.jsonl' } },
    outputDataConfig: { s3OutputDataConfig: { s3Uri: 's3://sdk-jobs/out/' } },
  };
  const { jobArn } = await b.send(new CreateModelInvocationJobCommand(input));
  ok(/^arn:aws:bedrock:us-east-1:123456789012:model-invocation-job\/[a-z0-9]{12}$/.test(jobArn), 'CreateModelInvocationJob: a job ARN', jobArn);
  const again = await b.send(new CreateModelInvocationJobCommand(input));
  ok(again.jobArn === jobArn, 'the same clientRequestToken: the same job');
  let job;
  const seen = new Set();
  for (let i = 0; i < 200; i++) {
    job = await b.send(new GetModelInvocationJobCommand({ jobIdentifier: jobArn }));
    seen.add(job.status);
    if (['Completed', 'PartiallyCompleted', 'Failed', 'Stopped'].includes(job.status)) break;
    await sleep(20);
  }
  ok(job.status === 'Completed' && job.totalRecordCount === 120 && job.successRecordCount === 120,
    'GetModelInvocationJob: Completed with 120 records', `${job.status} ${job.totalRecordCount}`);
  ok(seen.has('InProgress') && job.submitTime instanceof Date && job.endTime instanceof Date,
    'the SDK parsed the states and the ISO-8601 times', [...seen].join(','));
  const id = jobArn.split('/').pop();
  const listed = await c.send(new ListObjectsV2Command({ Bucket: 'sdk-jobs', Prefix: `out/${id}/` }));
  const keys = (listed.Contents || []).map((o) => o.Key).sort();
  ok(JSON.stringify(keys) === JSON.stringify([`out/${id}/manifest.json.out`, `out/${id}/records.jsonl.out`]),
    'the output and the manifest are in S3', JSON.stringify(keys));
  const outText = await (await c.send(new GetObjectCommand({ Bucket: 'sdk-jobs', Key: `out/${id}/records.jsonl.out` }))).Body.transformToString();
  const out = outText.trim().split('\n').map((l) => JSON.parse(l));
  ok(out.length === 120 && out.every((r) => r.modelOutput && r.modelOutput.content[0].text.includes(`record `)),
    'every record answered, modelOutput in the InvokeModel shape', outText.slice(0, 200));
  const manifest = JSON.parse(await (await c.send(new GetObjectCommand({ Bucket: 'sdk-jobs', Key: `out/${id}/manifest.json.out` }))).Body.transformToString());
  ok(manifest.totalRecordCount === 120 && manifest.processedRecordCount === 120 && manifest.inputTokenCount > 0,
    'manifest.json.out counts', JSON.stringify(manifest));

  const list = await b.send(new ListModelInvocationJobsCommand({ nameContains: 'sdk-job', maxResults: 10 }));
  ok(list.invocationJobSummaries.some((s) => s.jobArn === jobArn && s.status === 'Completed'), 'ListModelInvocationJobs finds it');

  // a stopped job
  await control('POST', '/_emulator/batch', { step_ms: 300 });
  const stop = await b.send(new CreateModelInvocationJobCommand({ ...input, jobName: 'sdk-job-2', clientRequestToken: 'sdk-token-2' }));
  await b.send(new StopModelInvocationJobCommand({ jobIdentifier: stop.jobArn }));
  let st;
  for (let i = 0; i < 50; i++) {
    st = await b.send(new GetModelInvocationJobCommand({ jobIdentifier: stop.jobArn }));
    if (st.status === 'Stopped') break;
    await sleep(50);
  }
  ok(st.status === 'Stopped', 'StopModelInvocationJob: Stopping, then Stopped', st.status);
  try {
    await b.send(new StopModelInvocationJobCommand({ jobIdentifier: stop.jobArn }));
    ok(false, 'stopping a stopped job');
  } catch (e) {
    ok(e.name === 'ValidationException' && e.$metadata.httpStatusCode === 400, 'stopping it again: ValidationException', e.name);
  }
  // a failed job (too few records), and the SDK's typed errors
  await control('POST', '/_emulator/batch', { step_ms: 20 });
  await c.send(new PutObjectCommand({ Bucket: 'sdk-jobs', Key: 'few/records.jsonl', Body: lines.split('\n').slice(0, 5).join('\n') }));
  const few = await b.send(new CreateModelInvocationJobCommand({ ...input, jobName: 'sdk-job-3', clientRequestToken: 'sdk-token-3',
    inputDataConfig: { s3InputDataConfig: { s3Uri: 's3://sdk-jobs/few/' } } }));
  let f;
  for (let i = 0; i < 100; i++) {
    f = await b.send(new GetModelInvocationJobCommand({ jobIdentifier: few.jobArn }));
    if (f.status === 'Failed') break;
    await sleep(20);
  }
  ok(f.status === 'Failed' && /at least 100/.test(f.message), 'fewer than 100 records: the job fails with a message', `${f.status}: ${f.message}`);
  try {
    await b.send(new GetModelInvocationJobCommand({ jobIdentifier: 'abcdefghijkl' }));
    ok(false, 'ResourceNotFoundException');
  } catch (e) {
    ok(e.name === 'ResourceNotFoundException' && e.$metadata.httpStatusCode === 404, 'an unknown job: ResourceNotFoundException', e.name);
  }
  try {
    await b.send(new CreateModelInvocationJobCommand({ ...input, jobName: 'bad name!', clientRequestToken: 'sdk-token-4' }));
    ok(false, 'ValidationException');
  } catch (e) {
    ok(e.name === 'ValidationException' && /jobName/.test(e.message), 'a bad job name: ValidationException naming jobName', e.message);
  }
});

console.log(`1..${n}`);
