// emulator_aws_sdk.mjs - the AWS SDK for JavaScript v3 against the CloudWatch
// Logs, CloudWatch and Bedrock control-plane emulation of `brock emulate`.
//
//   node emulator_aws_sdk.mjs URL
//
// AWS's own clients (@aws-sdk/client-cloudwatch-logs, -cloudwatch, -bedrock)
// build the requests, sign them (signing names logs, monitoring, bedrock),
// and parse the answers and errors: what the SDK accepts, and the typed
// errors it raises, are the check. Prints TAP.
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  DescribeLogGroupsCommand,
  DescribeLogStreamsCommand,
  FilterLogEventsCommand,
  GetLogEventsCommand,
  PutLogEventsCommand,
  PutRetentionPolicyCommand,
  paginateDescribeLogGroups,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DescribeAlarmsCommand,
  GetDashboardCommand,
  GetMetricDataCommand,
  GetMetricStatisticsCommand,
  ListDashboardsCommand,
  PutDashboardCommand,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  BedrockClient,
  CreateInferenceProfileCommand,
  DeleteInferenceProfileCommand,
  DeleteModelInvocationLoggingConfigurationCommand,
  GetFoundationModelCommand,
  GetInferenceProfileCommand,
  GetModelInvocationLoggingConfigurationCommand,
  ListFoundationModelsCommand,
  PutModelInvocationLoggingConfigurationCommand,
  paginateListInferenceProfiles,
} from '@aws-sdk/client-bedrock';

const [url] = process.argv.slice(2);
const region = 'us-east-1';
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const opts = { region, endpoint: url, credentials, maxAttempts: 1 };
const logs = new CloudWatchLogsClient(opts);
const cw = new CloudWatchClient(opts);
const bedrock = new BedrockClient(opts);

let n = 0;
const ok = (cond, name, detail) => {
  n++;
  if (cond) console.log(`ok ${n} - ${name}`);
  else {
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
// The typed error a call must raise.
const rejects = async (name, p, errName, status, msgPart) => {
  try {
    await p;
    ok(false, name, 'no error');
  } catch (e) {
    const good = e.name === errName && e.$metadata && e.$metadata.httpStatusCode === status &&
      (!msgPart || String(e.message).includes(msgPart));
    ok(good, name, `${e.name} ${e.$metadata && e.$metadata.httpStatusCode}: ${e.message}`);
    return e;
  }
};
const lastRequest = async () => {
  const { requests } = await (await fetch(url + '/_emulator/requests')).json();
  return requests[requests.length - 1];
};
const now = Date.now();
// CloudWatch buckets by period from the start time: test data sits inside
// one known hour so no datapoint straddles a boundary.
const hour = Math.floor(now / 3600000) * 3600000 - 3600000;

await test('CloudWatch Logs', async () => {
  await logs.send(new CreateLogGroupCommand({ logGroupName: '/brock/sdk', tags: { team: 'a' } }));
  let req = await lastRequest();
  ok(req.headers['x-amz-target'] === 'Logs_20140328.CreateLogGroup' && req.auth.signingName === 'logs' &&
    req.headers['content-type'] === 'application/x-amz-json-1.1', 'Logs: awsJson1_1, signed for logs',
  JSON.stringify(req.headers));
  await rejects('Logs: an existing group is ResourceAlreadyExistsException',
    logs.send(new CreateLogGroupCommand({ logGroupName: '/brock/sdk' })), 'ResourceAlreadyExistsException', 400,
    'already exists');
  await logs.send(new CreateLogStreamCommand({ logGroupName: '/brock/sdk', logStreamName: 'host/alice/day' }));
  await rejects('Logs: a stream in a missing group is ResourceNotFoundException',
    logs.send(new CreateLogStreamCommand({ logGroupName: '/nope', logStreamName: 's' })),
    'ResourceNotFoundException', 400, 'The specified log group does not exist.');
  await logs.send(new PutRetentionPolicyCommand({ logGroupName: '/brock/sdk', retentionInDays: 30 }));
  await rejects('Logs: retention 2 days is InvalidParameterException',
    logs.send(new PutRetentionPolicyCommand({ logGroupName: '/brock/sdk', retentionInDays: 2 })),
    'InvalidParameterException', 400, 'Member must satisfy enum value set');
  const put = await logs.send(new PutLogEventsCommand({
    logGroupName: '/brock/sdk',
    logStreamName: 'host/alice/day',
    logEvents: [
      { timestamp: now - 15 * 86400000, message: 'too old' },
      { timestamp: now - 2000, message: 'first' },
      { timestamp: now - 1000, message: 'second ERROR' },
      { timestamp: now + 3 * 3600000, message: 'too new' },
    ],
  }));
  ok(put.rejectedLogEventsInfo && put.rejectedLogEventsInfo.tooOldLogEventEndIndex === 1 &&
    put.rejectedLogEventsInfo.tooNewLogEventStartIndex === 3, 'Logs: rejectedLogEventsInfo for old and new events',
  JSON.stringify(put.rejectedLogEventsInfo));
  const got = await logs.send(new GetLogEventsCommand({ logGroupName: '/brock/sdk', logStreamName: 'host/alice/day',
    startFromHead: true }));
  ok(got.events.map((e) => e.message).join('|') === 'first|second ERROR', 'Logs: GetLogEvents reads back what was stored',
    JSON.stringify(got.events));
  const filtered = await logs.send(new FilterLogEventsCommand({ logGroupName: '/brock/sdk', filterPattern: 'ERROR' }));
  ok(filtered.events.length === 1 && filtered.events[0].logStreamName === 'host/alice/day',
    'Logs: FilterLogEvents finds the term', JSON.stringify(filtered.events));
  // over 1,048,576 bytes counting 26 per event: the SDK's typed error
  const big = 'x'.repeat(500000);
  const e = await rejects('Logs: a batch over 1,048,576 bytes is InvalidParameterException',
    logs.send(new PutLogEventsCommand({ logGroupName: '/brock/sdk', logStreamName: 'host/alice/day',
      logEvents: [0, 1, 2].map((i) => ({ timestamp: now + i, message: big })) })),
    'InvalidParameterException', 400, 'Upload too large: 1500078 bytes exceeds limit of 1048576');
  ok(e && e.$metadata.requestId && e.$metadata.requestId.length > 10, 'Logs: the error carries the request id');
  await rejects('Logs: out-of-order events are refused',
    logs.send(new PutLogEventsCommand({ logGroupName: '/brock/sdk', logStreamName: 'host/alice/day',
      logEvents: [{ timestamp: now, message: 'b' }, { timestamp: now - 1, message: 'a' }] })),
    'InvalidParameterException', 400, 'must be in chronological order');
  await rejects('Logs: a missing stream is ResourceNotFoundException',
    logs.send(new PutLogEventsCommand({ logGroupName: '/brock/sdk', logStreamName: 'nope',
      logEvents: [{ timestamp: now, message: 'x' }] })), 'ResourceNotFoundException', 400,
    'The specified log stream does not exist.');
  for (let i = 0; i < 5; i++) await logs.send(new CreateLogGroupCommand({ logGroupName: `/brock/page/${i}` }));
  const names = [];
  for await (const page of paginateDescribeLogGroups({ client: logs, pageSize: 2 }, { logGroupNamePrefix: '/brock/page/' })) {
    for (const g of page.logGroups) names.push(g.logGroupName);
  }
  ok(names.join(',') === '/brock/page/0,/brock/page/1,/brock/page/2,/brock/page/3,/brock/page/4',
    'Logs: the SDK paginator walks DescribeLogGroups', names.join(','));
  const groups = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/brock/sdk' }));
  ok(groups.logGroups[0].retentionInDays === 30 && groups.logGroups[0].arn.endsWith(':log-group:/brock/sdk:*'),
    'Logs: DescribeLogGroups shows retention and ARN', JSON.stringify(groups.logGroups[0]));
  const streams = await logs.send(new DescribeLogStreamsCommand({ logGroupName: '/brock/sdk' }));
  ok(streams.logStreams.length === 1 && streams.logStreams[0].lastEventTimestamp === now - 1000,
    'Logs: DescribeLogStreams shows the last event time', JSON.stringify(streams.logStreams));
  req = await lastRequest();
  ok(req.operation === 'DescribeLogStreams' && req.status === 200, 'Logs: the request log names the operation');
});

await test('EMF becomes metrics', async () => {
  const emf = {
    _aws: { Timestamp: hour + 60000, CloudWatchMetrics: [{ Namespace: 'BrockSdk', Dimensions: [['Model']],
      Metrics: [{ Name: 'InputTokens', Unit: 'Count' }] }] },
    Model: 'sonnet', InputTokens: 1500,
  };
  await logs.send(new CreateLogStreamCommand({ logGroupName: '/brock/sdk', logStreamName: 'emf' }));
  await logs.send(new PutLogEventsCommand({ logGroupName: '/brock/sdk', logStreamName: 'emf',
    logEvents: [{ timestamp: hour + 60000, message: JSON.stringify(emf) }, { timestamp: hour + 61000, message: JSON.stringify(emf) }] }));
  const st = await cw.send(new GetMetricStatisticsCommand({ Namespace: 'BrockSdk', MetricName: 'InputTokens',
    Dimensions: [{ Name: 'Model', Value: 'sonnet' }], StartTime: new Date(hour), EndTime: new Date(hour + 3600000),
    Period: 3600, Statistics: ['Sum'] }));
  ok(st.Datapoints.length === 1 && st.Datapoints[0].Sum === 3000, 'EMF: the sum reads back through CloudWatch',
    JSON.stringify(st.Datapoints));
});

await test('CloudWatch metrics, alarms, dashboards', async () => {
  await cw.send(new PutMetricDataCommand({ Namespace: 'BrockSdk', MetricData: [
    { MetricName: 'CostUSD', Value: 0.25, Unit: 'None', Timestamp: new Date(hour + 60000), Dimensions: [{ Name: 'Model', Value: 'opus' }] },
    { MetricName: 'CostUSD', Values: [0.5, 1], Counts: [2, 1], Unit: 'None', Timestamp: new Date(hour + 120000), Dimensions: [{ Name: 'Model', Value: 'opus' }] },
  ] }));
  const req = await lastRequest();
  ok(req.headers['x-amz-target'] === 'GraniteServiceVersion20100801.PutMetricData' &&
    req.headers['content-type'] === 'application/x-amz-json-1.0' && req.auth.signingName === 'monitoring',
  'CloudWatch: the SDK speaks awsJson1_0 (not CBOR), signed for monitoring', JSON.stringify(req.headers));
  const st = await cw.send(new GetMetricStatisticsCommand({ Namespace: 'BrockSdk', MetricName: 'CostUSD',
    Dimensions: [{ Name: 'Model', Value: 'opus' }], StartTime: new Date(hour), EndTime: new Date(hour + 3600000),
    Period: 3600, Statistics: ['Sum', 'SampleCount', 'Maximum'] }));
  const dp = st.Datapoints[0] || {};
  ok(Math.abs(dp.Sum - 2.25) < 1e-9 && dp.SampleCount === 4 && dp.Maximum === 1 && dp.Timestamp instanceof Date,
    'CloudWatch: GetMetricStatistics sums what was put', JSON.stringify(st.Datapoints));
  const md = await cw.send(new GetMetricDataCommand({ StartTime: new Date(hour), EndTime: new Date(hour + 3600000),
    MetricDataQueries: [
      { Id: 'c', ReturnData: false, MetricStat: { Period: 3600, Stat: 'Sum', Metric: { Namespace: 'BrockSdk',
        MetricName: 'CostUSD', Dimensions: [{ Name: 'Model', Value: 'opus' }] } } },
      { Id: 'e1', Expression: 'c * 100', Label: 'cents' }] }));
  const r = md.MetricDataResults;
  ok(r.length === 1 && r[0].Id === 'e1' && Math.abs(r[0].Values[0] - 225) < 1e-9 && r[0].StatusCode === 'Complete',
    'CloudWatch: GetMetricData evaluates metric math', JSON.stringify(r));
  await rejects('CloudWatch: AWS/ namespaces are InvalidParameterValueException',
    cw.send(new PutMetricDataCommand({ Namespace: 'AWS/Bedrock', MetricData: [{ MetricName: 'm', Value: 1 }] })),
    'InvalidParameterValueException', 400, 'The value AWS/Bedrock for parameter Namespace is invalid.');
  const e = await rejects('CloudWatch: 1001 metrics is InvalidParameterValueException',
    cw.send(new PutMetricDataCommand({ Namespace: 'BrockSdk',
      MetricData: Array.from({ length: 1001 }, (_, i) => ({ MetricName: `m${i}`, Value: i })) })),
    'InvalidParameterValueException', 400, 'must not have a size greater than 1000');
  ok(e && e.Code === 'InvalidParameterValue' && e.Type === 'Sender', 'CloudWatch: the query-compatible code and type',
    e && JSON.stringify({ Code: e.Code, Type: e.Type }));

  await cw.send(new PutMetricAlarmCommand({ AlarmName: 'brock-daily-cost', ComparisonOperator: 'GreaterThanThreshold',
    Threshold: 20, EvaluationPeriods: 1, TreatMissingData: 'notBreaching', AlarmActions: ['arn:aws:sns:us-east-1:123456789012:ops'],
    Metrics: [
      { Id: 'cost', ReturnData: false, MetricStat: { Period: 86400, Stat: 'Sum', Metric: { Namespace: 'BrockSdk', MetricName: 'CostUSD' } } },
      { Id: 'e1', Expression: 'FILL(cost, 0)', Label: 'USD per day', ReturnData: true }] }));
  await cw.send(new PutMetricAlarmCommand({ AlarmName: 'brock-throttles', Namespace: 'BrockSdk', MetricName: 'Throttles',
    Statistic: 'Sum', Period: 300, EvaluationPeriods: 2, DatapointsToAlarm: 1, Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold' }));
  const alarms = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'brock-' }));
  const a = alarms.MetricAlarms;
  ok(a.length === 2 && a[0].AlarmName === 'brock-daily-cost' && a[0].Metrics.length === 2 &&
    a[0].StateValue === 'INSUFFICIENT_DATA' && a[1].Period === 300 && a[1].AlarmConfigurationUpdatedTimestamp instanceof Date,
  'CloudWatch: DescribeAlarms shows both alarms', JSON.stringify(a));
  await rejects('CloudWatch: two ReturnData metrics are refused',
    cw.send(new PutMetricAlarmCommand({ AlarmName: 'bad', ComparisonOperator: 'GreaterThanThreshold', Threshold: 1,
      EvaluationPeriods: 1, Metrics: [{ Id: 'a', Expression: '1', ReturnData: true }, { Id: 'b', Expression: '2', ReturnData: true }] })),
    'InvalidParameterValueException', 400, 'exactly one element of the Metrics list');
  await rejects('CloudWatch: Period 45 is refused',
    cw.send(new PutMetricAlarmCommand({ AlarmName: 'bad', Namespace: 'N', MetricName: 'm', Statistic: 'Sum', Period: 45,
      EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: 'GreaterThanThreshold' })),
    'InvalidParameterValueException', 400, 'Period');
  await cw.send(new DeleteAlarmsCommand({ AlarmNames: ['brock-throttles'] }));
  const left = await cw.send(new DescribeAlarmsCommand({}));
  ok(left.MetricAlarms.length === 1, 'CloudWatch: DeleteAlarms removes the alarm');

  const body = JSON.stringify({ widgets: [
    { type: 'metric', x: 0, y: 0, width: 12, height: 6, properties: { region, title: 'Tokens', stat: 'Sum', period: 300,
      metrics: [['BrockSdk', 'InputTokens', 'Model', 'sonnet'], ['.', 'OutputTokens', '.', '.']] } },
    { type: 'text', x: 12, y: 0, width: 12, height: 2, properties: { markdown: 'Managed by brock' } }] });
  const pd = await cw.send(new PutDashboardCommand({ DashboardName: 'brock-sdk', DashboardBody: body }));
  ok(Array.isArray(pd.DashboardValidationMessages) && pd.DashboardValidationMessages.length === 0,
    'CloudWatch: PutDashboard accepts a valid body', JSON.stringify(pd));
  const gd = await cw.send(new GetDashboardCommand({ DashboardName: 'brock-sdk' }));
  ok(gd.DashboardBody === body && gd.DashboardArn === 'arn:aws:cloudwatch::123456789012:dashboard/brock-sdk',
    'CloudWatch: GetDashboard returns the body', JSON.stringify(gd));
  const ld = await cw.send(new ListDashboardsCommand({ DashboardNamePrefix: 'brock' }));
  ok(ld.DashboardEntries.length === 1 && ld.DashboardEntries[0].Size === body.length &&
    ld.DashboardEntries[0].LastModified instanceof Date, 'CloudWatch: ListDashboards', JSON.stringify(ld.DashboardEntries));
  const de = await rejects('CloudWatch: an invalid dashboard is DashboardInvalidInputError',
    cw.send(new PutDashboardCommand({ DashboardName: 'brock-bad', DashboardBody: '{"widgets": [{"type": "text"}]}' })),
    'DashboardInvalidInputError', 400, 'The dashboard body is invalid');
  ok(de && de.DashboardValidationMessages && de.DashboardValidationMessages[0].DataPath === '/widgets/0',
    'CloudWatch: the error lists DashboardValidationMessages', de && JSON.stringify(de.DashboardValidationMessages));
  // DashboardNotFoundError's query code is ResourceNotFound, which the SDK
  // resolves to the ResourceNotFound shape first (the same with CloudWatch)
  await rejects('CloudWatch: a missing dashboard is a 404 ResourceNotFound',
    cw.send(new GetDashboardCommand({ DashboardName: 'nope' })), 'ResourceNotFound', 404, 'does not exist');
});

await test('Bedrock control plane', async () => {
  const profiles = [];
  for await (const page of paginateListInferenceProfiles({ client: bedrock, pageSize: 7 }, { typeEquals: 'SYSTEM_DEFINED' })) {
    profiles.push(...page.inferenceProfileSummaries);
  }
  const ids = profiles.map((p) => p.inferenceProfileId);
  ok(ids.includes('us.anthropic.claude-sonnet-4-5-20250929-v1:0') && ids.includes('global.anthropic.claude-sonnet-4-5-20250929-v1:0') &&
    !ids.some((i) => i.startsWith('eu.')) && new Set(ids).size === ids.length,
  'Bedrock: ListInferenceProfiles pages through the us. and global. profiles once each', ids.join(' '));
  const p0 = profiles[0];
  ok(p0.status === 'ACTIVE' && p0.type === 'SYSTEM_DEFINED' && p0.createdAt instanceof Date && p0.models.length >= 1,
    'Bedrock: profile summaries have the model\'s shape', JSON.stringify(p0));
  const one = await bedrock.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: p0.inferenceProfileArn }));
  ok(one.inferenceProfileId === p0.inferenceProfileId, 'Bedrock: GetInferenceProfile by ARN', JSON.stringify(one));
  await rejects('Bedrock: an unknown profile is ResourceNotFoundException',
    bedrock.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: 'us.anthropic.claude-none-v1' })),
    'ResourceNotFoundException', 404);
  const created = await bedrock.send(new CreateInferenceProfileCommand({ inferenceProfileName: 'brock-sdk',
    description: 'SDK test', modelSource: { copyFrom: p0.inferenceProfileArn }, tags: [{ key: 'team', value: 'a' }] }));
  ok(created.$metadata.httpStatusCode === 201 && created.status === 'ACTIVE' &&
    /:application-inference-profile\/[a-z0-9]{12}$/.test(created.inferenceProfileArn),
  'Bedrock: CreateInferenceProfile answers 201 with the ARN', JSON.stringify(created));
  const app = await bedrock.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: created.inferenceProfileArn }));
  ok(app.type === 'APPLICATION' && app.inferenceProfileName === 'brock-sdk' && app.models.length === p0.models.length,
    'Bedrock: the application profile copies the models', JSON.stringify(app));
  await rejects('Bedrock: a duplicate name is ConflictException',
    bedrock.send(new CreateInferenceProfileCommand({ inferenceProfileName: 'brock-sdk', modelSource: { copyFrom: p0.inferenceProfileArn } })),
    'ConflictException', 400);
  await bedrock.send(new DeleteInferenceProfileCommand({ inferenceProfileIdentifier: created.inferenceProfileArn }));
  await rejects('Bedrock: a deleted profile is gone',
    bedrock.send(new GetInferenceProfileCommand({ inferenceProfileIdentifier: created.inferenceProfileArn })),
    'ResourceNotFoundException', 404);

  const fm = await bedrock.send(new ListFoundationModelsCommand({ byProvider: 'Anthropic' }));
  ok(fm.modelSummaries.length > 5 && fm.modelSummaries.every((m) => m.providerName === 'Anthropic' && m.modelArn.includes('::foundation-model/')),
    'Bedrock: ListFoundationModels byProvider=Anthropic', fm.modelSummaries.length);
  const m = await bedrock.send(new GetFoundationModelCommand({ modelIdentifier: fm.modelSummaries[0].modelId }));
  ok(m.modelDetails.modelId === fm.modelSummaries[0].modelId && m.modelDetails.responseStreamingSupported === true,
    'Bedrock: GetFoundationModel', JSON.stringify(m.modelDetails));
  await rejects('Bedrock: a bad enum is ValidationException',
    bedrock.send(new ListFoundationModelsCommand({ byOutputModality: 'VIDEO' })), 'ValidationException', 400,
    'Member must satisfy enum value set');

  await logs.send(new CreateLogGroupCommand({ logGroupName: '/brock/invocations' }));
  const cfg = { cloudWatchConfig: { logGroupName: '/brock/invocations', roleArn: 'arn:aws:iam::111122223333:role/BedrockLogging' },
    textDataDeliveryEnabled: true };
  await bedrock.send(new PutModelInvocationLoggingConfigurationCommand({ loggingConfig: cfg }));
  const got = await bedrock.send(new GetModelInvocationLoggingConfigurationCommand({}));
  ok(got.loggingConfig && got.loggingConfig.cloudWatchConfig.logGroupName === '/brock/invocations' &&
    got.loggingConfig.textDataDeliveryEnabled === true, 'Bedrock: invocation logging put and get', JSON.stringify(got));
  await rejects('Bedrock: a bad role ARN is ValidationException',
    bedrock.send(new PutModelInvocationLoggingConfigurationCommand({ loggingConfig: {
      cloudWatchConfig: { logGroupName: '/brock/invocations', roleArn: 'not-an-arn' } } })), 'ValidationException', 400, 'roleArn');
  await bedrock.send(new DeleteModelInvocationLoggingConfigurationCommand({}));
  const gone = await bedrock.send(new GetModelInvocationLoggingConfigurationCommand({}));
  ok(gone.loggingConfig === undefined, 'Bedrock: invocation logging deleted', JSON.stringify(gone));
  const req = await lastRequest();
  ok(req.auth.signingName === 'bedrock' && req.operation === 'GetModelInvocationLoggingConfiguration',
    'Bedrock: signed for bedrock, operation named in the request log', JSON.stringify(req.auth));
});

await test('throttling fault on the logs operations', async () => {
  await fetch(url + '/_emulator/faults', { method: 'POST', body: JSON.stringify({ type: 'throttling', count: 1, operations: ['logs'] }) });
  await rejects('Logs: a throttling fault is ThrottlingException "Rate exceeded"',
    logs.send(new DescribeLogGroupsCommand({})), 'ThrottlingException', 400, 'Rate exceeded');
  const retrying = new CloudWatchLogsClient({ ...opts, maxAttempts: 3, retryStrategy: undefined });
  await fetch(url + '/_emulator/faults', { method: 'POST', body: JSON.stringify({ type: 'throttling', count: 1, operations: ['logs'] }) });
  const out = await retrying.send(new DescribeLogGroupsCommand({ limit: 1 }));
  ok(out.$metadata.attempts === 2, 'Logs: the SDK retries the throttled call and succeeds', JSON.stringify(out.$metadata));
});

console.log(`1..${n}`);
