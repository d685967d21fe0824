#!/usr/bin/env bash
# tests/e2e/monitor.sh - the audit trail end to end against `brock emulate`:
# brock -p spools redacted audit events (distinctive secrets in the prompt,
# in tool output the model echoes, and in an AWS error message), `brock logs
# status` and `brock logs flush` ship them to the emulator's CloudWatch Logs,
# where they are read back with the AWS SDK for JavaScript (GetLogEvents) and
# /_emulator/logs, and their EMF metrics appear in the emulator's metric
# store. `brock setup monitoring --dry-run` is checked against hand-written
# expectations; the real run is made twice (idempotent); invocation logging
# with a given role; `brock setup iam-policy` ARNs for a us. and a global.
# profile. No secret may appear in any event, the spool file or brock's
# --debug output. Only loopback.
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/e2e/lib.sh"
if [ ! -x "$BROCK" ]; then
  echo "1..0 # SKIP $BROCK is not built (a FOCUS build without src/cli)"
  exit 0
fi
command -v node >/dev/null || { echo "1..0 # SKIP node is not installed"; exit 0; }
JS=$top/tests/js

# Distinctive secrets: none may reach an event, the spool or a log line.
S_AKID=AKIAZZZZSECRETTEST01
S_KEY=zX9secretKEYmaterial/0123456789abcdefABCD
S_GH=ghp_SECRETgithubTOKEN0123456789abcdefghij
S_PASS=hunter2secretpass
S_PEM=MIIEsecretPRIVATEkeyBODY
SECRETS="$S_AKID $S_KEY $S_GH $S_PASS $S_PEM"

work=$E2E_TMP/work
mkdir -p "$work/.brock" "$E2E_TMP/data"
export BROCK_DATA_DIR=$E2E_TMP/data
printf 'The deploy key is %s\naws_secret_access_key = %s\n-----BEGIN RSA PRIVATE KEY-----\n%s\n-----END RSA PRIVATE KEY-----\n' \
  "$S_AKID" "$S_KEY" "$S_PEM" >"$work/secrets.txt"
# exit shipping off, so only `brock logs flush` ships in this script
printf '{"brock": {"monitoring": {"exit_deadline_ms": 0}}}\n' >"$work/.brock/settings.json"

cat >"$E2E_TMP/scenario.json" <<JSON
{"rules": [
  {"name": "read secrets", "match": {"contains": "read the secrets"},
   "responses": [
     {"tool_use": {"name": "Read", "input": {"file_path": "secrets.txt"}}},
     {"text": "The file holds $S_AKID and token $S_GH, password: $S_PASS"}
   ]}
]}
JSON
start_emulator --scenario "$E2E_TMP/scenario.json" || { not_ok "emulator starts"; done_testing; exit 0; }
export AWS_ENDPOINT_URL=$EMU_URL AWS_REGION=us-west-2
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export BROCK_LOG_GROUP=/brock/e2e BROCK_LOG_CONTENT=full
b() { (cd "$work" && "$BROCK" "$@"); }
jnode() { (cd "$JS" && node -e "$@"); }

# --- events spooled by the request path
b --debug -p "Use $S_AKID with aws_secret_access_key=$S_KEY and $S_GH" >"$E2E_TMP/p1.out" 2>"$E2E_TMP/p1.err"
check "brock -p with secrets in the prompt" test $? -eq 0
b --debug -p --allowedTools Read "please read the secrets file" >"$E2E_TMP/p2.out" 2>"$E2E_TMP/p2.err"
check "a tool loop that reads and echoes secrets" test $? -eq 0
curl -sf -X POST -H 'content-type: application/json' \
  --data "{\"type\": \"validation\", \"message\": \"The key $S_AKID is not valid; password: $S_PASS\"}" \
  "$EMU_URL/_emulator/faults" >/dev/null
b --debug -p "this call fails" >"$E2E_TMP/p3.out" 2>"$E2E_TMP/p3.err"; rc=$?
[ $rc -eq 5 ] && ok "a call refused by AWS (exit 5)" || not_ok "refused call (exit $rc)" "$(tail -n 3 "$E2E_TMP/p3.err")"
[ "$(b -p x >/dev/null 2>&1; echo $?)" = 0 ] && ok "the next call works" || not_ok "next call"

b logs status --json >"$E2E_TMP/status.json" 2>&1
if jnode 'const s = JSON.parse(require("fs").readFileSync(process.argv[1]));
  if (!s.shipping || s.log_group !== "/brock/e2e" || s.log_group_source !== "BROCK_LOG_GROUP") throw "dest";
  if (s.spool.events < 5) throw "spool " + s.spool.events;
  if (!/^\d{4}-\d\d-\d\dT/.test(s.spool.oldest)) throw "oldest";
  if (s.endpoint !== process.argv[2]) throw "endpoint " + s.endpoint;
  if (s.log_content !== "full" || s.metrics !== "emf" || s.namespace !== "Brock") throw "settings";' \
  "$E2E_TMP/status.json" "$EMU_URL" 2>"$E2E_TMP/err"; then ok "logs status: destination, spool size, oldest event"
else not_ok "logs status" "$(cat "$E2E_TMP/status.json" "$E2E_TMP/err")"; fi
b logs status >"$E2E_TMP/status.txt" 2>&1
grep -q "^spool  *[0-9]* events, .* oldest 20" "$E2E_TMP/status.txt" && grep -q "^log group    /brock/e2e (from BROCK_LOG_GROUP) in us-west-2" "$E2E_TMP/status.txt" \
  && ok "logs status for people" || not_ok "logs status text" "$(cat "$E2E_TMP/status.txt")"
spooled=$(jnode 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).spool.events)' "$E2E_TMP/status.json")

# --- no secret in the spool rows (the sessions in the same file keep the
# conversation as it was, by design; the spool is what leaves the machine)
python3 - "$BROCK_DATA_DIR/brock.db" $SECRETS >"$E2E_TMP/out" 2>&1 <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
rows = [r[0] for r in db.execute("SELECT message FROM spool")]
bad = [s for s in sys.argv[2:] for m in rows if s in m]
print(len(rows), "rows;", "leaks:", bad)
sys.exit(1 if bad or len(rows) < 5 else 0)
PY
[ $? -eq 0 ] && ok "no secret in any spool row" || not_ok "spool rows" "$(cat "$E2E_TMP/out")"

# --- flush
b --debug logs flush >"$E2E_TMP/flush.out" 2>"$E2E_TMP/flush.err"; rc=$?
[ $rc -eq 0 ] && grep -q "^shipped $spooled events in 1 call to /brock/e2e$" "$E2E_TMP/flush.out" \
  && ok "logs flush ships everything" || not_ok "logs flush (exit $rc)" "$(cat "$E2E_TMP/flush.out" "$E2E_TMP/flush.err")"
b logs status --json >"$E2E_TMP/status2.json" 2>&1
jnode 'const s = JSON.parse(require("fs").readFileSync(process.argv[1]));
  if (s.spool.events !== 0 || s.last_error !== null || s.shipped_total < 5) process.exit(1)' "$E2E_TMP/status2.json" \
  && ok "the spool is empty afterwards, the totals recorded" || not_ok "after flush" "$(cat "$E2E_TMP/status2.json")"
# (the last line of the failed call is AWS's own message shown to the user,
# not a log line: it quotes what the service said)
leak=
for s in $SECRETS; do
  grep -v '^brock: ValidationException (HTTP 400' "$E2E_TMP"/p*.err "$E2E_TMP/flush.err" | grep -q -- "$s" && leak="$leak $s"
done
[ -z "$leak" ] && ok "no secret in brock's --debug output" || not_ok "secrets in --debug output:$leak"

# --- read back with the AWS SDK (GetLogEvents) and the control endpoint
curl -sf "$EMU_URL/_emulator/logs?group=/brock/e2e" >"$E2E_TMP/logs.json"
if jnode '
  const { CloudWatchLogsClient, DescribeLogStreamsCommand, GetLogEventsCommand } = require("@aws-sdk/client-cloudwatch-logs");
  const c = new CloudWatchLogsClient({ endpoint: process.argv[1], region: "us-west-2",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" } });
  (async () => {
    const st = await c.send(new DescribeLogStreamsCommand({ logGroupName: "/brock/e2e" }));
    if (st.logStreams.length !== 1) throw "streams " + st.logStreams.length;
    const name = st.logStreams[0].logStreamName;
    if (!/^[^/]+\/[^/]+\/\d{4}-\d\d-\d\d$/.test(name)) throw "stream name " + name;
    const ev = await c.send(new GetLogEventsCommand({ logGroupName: "/brock/e2e", logStreamName: name, startFromHead: true }));
    const n = Number(process.argv[2]);
    if (ev.events.length !== n) throw "events " + ev.events.length + " want " + n;
    const all = ev.events.map(e => JSON.parse(e.message));
    for (const e of all) if (e.schema !== "brock.audit.v1" || !e._aws || e.log_content !== "full") throw "event shape";
    if (!all.some(e => e.status === "ValidationException" && e.Errors === 1 && /REDACTED:aws-access-key-id/.test(e.error_message)))
      throw "error event";
    if (!all.some(e => /\[REDACTED:github-token\]/.test(e.answer || ""))) throw "echoed secret not redacted";
    if (!all.some(e => /\[REDACTED:aws-secret-access-key\]/.test(e.prompt || ""))) throw "prompt secret not redacted";
    for (let i = 1; i < ev.events.length; i++) if (ev.events[i].timestamp < ev.events[i - 1].timestamp) throw "order";
  })().catch(e => { console.error(String(e)); process.exit(1); });' "$EMU_URL" "$spooled" 2>"$E2E_TMP/err"
then ok "GetLogEvents (AWS SDK) reads every event back, redacted"; else not_ok "GetLogEvents" "$(cat "$E2E_TMP/err")"; fi
leak=
for s in $SECRETS; do grep -q -- "$s" "$E2E_TMP/logs.json" && leak="$leak $s"; done
[ -z "$leak" ] && ok "no secret in the log store" || not_ok "secrets in the log store:$leak"
jnode 'const d = JSON.parse(require("fs").readFileSync(process.argv[1]));
  if (d.emf.events < 5 || d.emf.parsingErrors || d.emf.validationErrors) throw JSON.stringify(d.emf);' \
  "$E2E_TMP/logs.json" 2>"$E2E_TMP/err" && ok "every event is valid EMF for the emulator" || not_ok "EMF" "$(cat "$E2E_TMP/err")"

# --- the EMF metrics in the metric store
curl -sf "$EMU_URL/_emulator/metrics" >"$E2E_TMP/metrics.json"
if jnode 'const d = JSON.parse(require("fs").readFileSync(process.argv[1]));
  const find = (name, dims) => d.metrics.filter(m => m.namespace === "Brock" && m.metricName === name &&
    JSON.stringify(Object.keys(m.dimensions)) === JSON.stringify(dims));
  const sum = ms => ms.reduce((a, m) => a + m.datapoints.reduce((x, p) => x + p.count, 0), 0);
  for (const n of ["InputTokens", "OutputTokens", "CacheReadTokens", "CacheWriteTokens", "CostUSD", "LatencyMs",
                   "Throttles", "Errors", "CacheHits"])
    if (sum(find(n, [])) < 5) throw n + " totals";
  if (!find("InputTokens", ["Model"]).length) throw "per model";
  const errs = find("Errors", []).reduce((a, m) => a + m.datapoints.reduce((x, p) => x + p.sum, 0), 0);
  if (errs !== 1) throw "Errors sum " + errs;' "$E2E_TMP/metrics.json" 2>"$E2E_TMP/err"
then ok "EMF metrics (nine, totals and per model) are in the metric store"; else not_ok "metrics" "$(cat "$E2E_TMP/err")"; fi

# --- flush with nothing configured
(cd "$work" && BROCK_LOG_GROUP= "$BROCK" logs flush) >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
[ $rc -eq 3 ] && grep -q "no log group to ship to" "$E2E_TMP/err" && ok "logs flush without a log group: exit 3" \
  || not_ok "flush without group (exit $rc)" "$(cat "$E2E_TMP/err")"
expect_rc 2 "logs with an unknown word" b logs frob
expect_rc 2 "--log-group with a bad name" b logs status --log-group 'bad name'

# --- with the default exit deadline, brock -p ships its own event before it
# exits: nothing is left in the spool and the group has one more event
work2=$E2E_TMP/work2
mkdir -p "$work2"
before=$(curl -sf "$EMU_URL/_emulator/logs?group=/brock/e2e" | jnode 'let s = "";
  process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.parse(s).logGroups[0].logStreams
    .reduce((a, x) => a + x.eventCount, 0)))')
(cd "$work2" && "$BROCK" -p "ship this at exit") >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
(cd "$work2" && "$BROCK" logs status --json) >"$E2E_TMP/status3.json" 2>&1
after=$(curl -sf "$EMU_URL/_emulator/logs?group=/brock/e2e" | jnode 'let s = "";
  process.stdin.on("data", d => s += d).on("end", () => console.log(JSON.parse(s).logGroups[0].logStreams
    .reduce((a, x) => a + x.eventCount, 0)))')
[ $rc -eq 0 ] && [ -n "$before" ] && [ "$after" = $((before + 1)) ] \
  && jnode 'if (JSON.parse(require("fs").readFileSync(process.argv[1])).spool.events !== 0) process.exit(1)' "$E2E_TMP/status3.json" \
  && ok "brock -p ships its audit event at exit (default deadline)" \
  || not_ok "shipping at exit (exit $rc, events $before -> $after)" "$(cat "$E2E_TMP/err" "$E2E_TMP/status3.json")"

# --- setup monitoring --dry-run against hand-written expectations
unset BROCK_LOG_GROUP BROCK_LOG_CONTENT
before=$(curl -sf "$EMU_URL/_emulator/requests" | jnode 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).requests.length))')
b setup monitoring --dry-run --account 123456789012 --region us-east-1 --log-group /brock/golden --retention-days 14 \
  --daily-budget-usd 12.5 --alarm-sns-topic arn:aws:sns:us-east-1:123456789012:alerts --invocation-logging \
  --model sonnet >"$E2E_TMP/dry.out" 2>"$E2E_TMP/dry.err"
check "setup monitoring --dry-run" test $? -eq 0
after=$(curl -sf "$EMU_URL/_emulator/requests" | jnode 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).requests.length))')
[ "$before" = "$after" ] && ok "--dry-run sends no request" || not_ok "dry run sent $((after - before)) requests"
cat >"$E2E_TMP/golden.js" <<'EOF'
// Hand-written from aws-wire-reference sections 9 and 10: what `brock setup
// monitoring` must send for the options of monitor.sh. JSON bodies exactly as
// sent; form bodies as their ordered (name, value) pairs.
const A = "123456789012";
const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"bedrock.amazonaws.com"},` +
  `"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"${A}"},"ArnLike":{"aws:SourceArn":` +
  `"arn:aws:bedrock:*:${A}:*"}}}]}`;
const rolePolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"WriteInvocationLogs","Effect":"Allow","Action":` +
  `["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"arn:aws:logs:us-east-1:${A}:log-group:/brock/golden:log-stream:*"}]}`;
const sns = `arn:aws:sns:us-east-1:${A}:alerts`;
module.exports = [
  { title: "create the log group /brock/golden", line: "POST logs CreateLogGroup /",
    json: '{"logGroupName":"/brock/golden","tags":{"managed-by":"brock"}}' },
  { title: "keep its events 14 days", line: "POST logs PutRetentionPolicy /",
    json: '{"logGroupName":"/brock/golden","retentionInDays":14}' },
  { title: "create the role BrockBedrockInvocationLogging that Bedrock uses to write to the log group",
    line: "POST iam CreateRole /",
    form: [["Action", "CreateRole"], ["Version", "2010-05-08"], ["RoleName", "BrockBedrockInvocationLogging"],
           ["Path", "/"], ["Description", "Bedrock model invocation logging to CloudWatch Logs (brock setup monitoring)"],
           ["AssumeRolePolicyDocument", trust]] },
  { title: "let the role write to /brock/golden in us-east-1", line: "POST iam PutRolePolicy /",
    form: [["Action", "PutRolePolicy"], ["Version", "2010-05-08"], ["RoleName", "BrockBedrockInvocationLogging"],
           ["PolicyName", "BrockInvocationLogging-us-east-1"], ["PolicyDocument", rolePolicy]] },
  { title: "turn on Bedrock model invocation logging to /brock/golden",
    line: "PUT bedrock PutModelInvocationLoggingConfiguration /logging/modelinvocations",
    json: `{"loggingConfig":{"cloudWatchConfig":{"logGroupName":"/brock/golden","roleArn":` +
          `"arn:aws:iam::${A}:role/BrockBedrockInvocationLogging"},"textDataDeliveryEnabled":true,` +
          `"imageDataDeliveryEnabled":false,"embeddingDataDeliveryEnabled":false}}` },
  { title: "alarm brock-daily-cost: spend over 24 h above $12.5", line: "POST cloudwatch PutMetricAlarm /",
    form: [["Action", "PutMetricAlarm"], ["Version", "2010-08-01"], ["AlarmName", "brock-daily-cost"],
           ["AlarmDescription", "brock: spend over the last 24 h (metric CostUSD in Brock) is above $12.5"],
           ["ActionsEnabled", "true"], ["AlarmActions.member.1", sns], ["Namespace", "Brock"],
           ["MetricName", "CostUSD"], ["Statistic", "Sum"], ["Period", "86400"], ["EvaluationPeriods", "1"],
           ["DatapointsToAlarm", "1"], ["Threshold", "12.5"], ["ComparisonOperator", "GreaterThanThreshold"],
           ["TreatMissingData", "notBreaching"]] },
  { title: "alarm brock-throttles: 10 or more throttled calls in 5 minutes", line: "POST cloudwatch PutMetricAlarm /",
    form: [["Action", "PutMetricAlarm"], ["Version", "2010-08-01"], ["AlarmName", "brock-throttles"],
           ["AlarmDescription", "brock: Bedrock throttled 10 or more calls in 5 minutes (metric Throttles)"],
           ["ActionsEnabled", "true"], ["AlarmActions.member.1", sns], ["Namespace", "Brock"],
           ["MetricName", "Throttles"], ["Statistic", "Sum"], ["Period", "300"], ["EvaluationPeriods", "1"],
           ["DatapointsToAlarm", "1"], ["Threshold", "10"], ["ComparisonOperator", "GreaterThanOrEqualToThreshold"],
           ["TreatMissingData", "notBreaching"]] },
  { title: "dashboard brock-us-east-1: tokens, cost, latency, throttles, cache hit rate per model",
    line: "POST cloudwatch PutDashboard /",
    form: [["Action", "PutDashboard"], ["Version", "2010-08-01"], ["DashboardName", "brock-us-east-1"],
           ["DashboardBody", null]],
    dashboard: { widgets: ["text", "metric", "metric", "metric", "metric", "metric", "log"],
                 titles: ["Tokens by model", "Cost (USD per hour) by model", "Latency (ms) by model",
                          "Throttles and errors by model", "Cache hit rate by model", "Recent model calls"],
                 model: '"Model","anthropic.claude-sonnet-4-6"', region: "us-east-1",
                 query: "SOURCE '/brock/golden' |" } },
];
EOF
if (cd "$JS" && node -e '
  const fs = require("fs");
  const want = require(process.argv[2]);
  const text = fs.readFileSync(process.argv[1], "utf8");
  if (!text.endsWith("\n\n")) throw "no blank line at the end";
  const blocks = text.slice(0, -2).split("\n\n").map(b => b.split("\n"));
  if (blocks.length !== want.length) throw `blocks ${blocks.length}, want ${want.length}`;
  const decode = s => decodeURIComponent(s);
  want.forEach((w, i) => {
    const [t, line, body, ...rest] = blocks[i];
    if (rest.length) throw `block ${i + 1}: extra lines`;
    if (t !== `# ${i + 1}. ${w.title}`) throw `block ${i + 1} title: ${t}`;
    if (line !== w.line) throw `block ${i + 1} line: ${line}`;
    if (w.json !== undefined && body !== w.json) throw `block ${i + 1} body:\n${body}\nwant\n${w.json}`;
    if (w.form) {
      const got = body.split("&").map(kv => kv.split("=").map(decode));
      if (got.length !== w.form.length) throw `block ${i + 1}: ${got.length} fields, want ${w.form.length}`;
      got.forEach(([k, v], j) => {
        if (k !== w.form[j][0]) throw `block ${i + 1} field ${j}: ${k}`;
        if (w.form[j][1] !== null && v !== w.form[j][1]) throw `block ${i + 1} ${k}:\n${v}\nwant\n${w.form[j][1]}`;
      });
      if (/[^A-Za-z0-9%&=._~-]/.test(body)) throw `block ${i + 1}: a character is not percent-encoded`;
      if (w.dashboard) {
        const d = JSON.parse(got[3][1]), D = w.dashboard;
        if (JSON.stringify(d.widgets.map(x => x.type)) !== JSON.stringify(D.widgets)) throw "widget types";
        const titles = d.widgets.filter(x => x.properties.title).map(x => x.properties.title);
        if (JSON.stringify(titles) !== JSON.stringify(D.titles)) throw "titles " + titles;
        for (const x of d.widgets) if (x.x + x.width > 24) throw "wider than the grid";
        for (const x of d.widgets.filter(x => x.type !== "text")) if (x.properties.region !== D.region) throw "region";
        const cache = JSON.stringify(d.widgets[5].properties.metrics);
        if (!cache.includes(D.model) || !cache.includes("100*r0/(r0+i0+w0)")) throw "cache hit rate";
        if (!d.widgets[6].properties.query.startsWith(D.query)) throw "log query";
      }
    }
  });' "$E2E_TMP/dry.out" "$E2E_TMP/golden.js") 2>"$E2E_TMP/err"
then ok "dry run matches the hand-written requests"; else not_ok "dry run" "$(cat "$E2E_TMP/err")"; fi
[ ! -s "$E2E_TMP/dry.err" ] && ok "no notes for a complete configuration" || not_ok "dry run notes" "$(cat "$E2E_TMP/dry.err")"
b setup monitoring --dry-run --region us-east-1 --log-group /brock/golden >"$E2E_TMP/dry2.out" 2>"$E2E_TMP/dry2.err"
head -n 3 "$E2E_TMP/dry2.out" | tr '\n' '|' | grep -q "^# 0. find the account id .*|POST sts GetCallerIdentity /|Action=GetCallerIdentity&Version=2011-06-15|$" \
  && grep -q "No daily budget" "$E2E_TMP/dry2.err" && ok "without --account the STS call is shown; notes on stderr" \
  || not_ok "dry run without --account" "$(head -n 5 "$E2E_TMP/dry2.out"; cat "$E2E_TMP/dry2.err")"
expect_rc 2 "--retention-days 31 is refused" b setup monitoring --dry-run --log-group /x --retention-days 31
expect_rc 2 "--cost-metric with a bad value" b setup monitoring --dry-run --log-group /x --cost-metric dollars
expect_rc 3 "setup monitoring without a log group" b setup monitoring --dry-run
expect_rc 2 "setup with an unknown word" b setup frob

# --- setup monitoring for real, twice
state() {
  curl -sf "$EMU_URL/_emulator/metrics" | jnode 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
    const d = JSON.parse(s);
    const alarms = d.alarms.filter(a => a.AlarmName.startsWith("brock-")).map(a =>
      [a.AlarmName, a.Namespace, a.MetricName, a.Period, a.Threshold, a.ComparisonOperator, a.ActionsEnabled].join(","));
    console.log(JSON.stringify({alarms: alarms.sort(), dashboards: d.dashboards.map(x => x.dashboardName).sort()}))})'
  curl -sf "$EMU_URL/_emulator/logs?group=/brock/setup" | jnode 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
    const d = JSON.parse(s); console.log(JSON.stringify(d.logGroups.map(g => [g.logGroupName, g.retentionInDays])))})'
}
b setup monitoring --log-group /brock/setup --retention-days 90 --daily-budget-usd 20 --model sonnet,haiku \
  >"$E2E_TMP/run1.out" 2>&1; rc1=$?
state >"$E2E_TMP/state1"
b setup monitoring --log-group /brock/setup --retention-days 90 --daily-budget-usd 20 --model sonnet,haiku \
  >"$E2E_TMP/run2.out" 2>&1; rc2=$?
state >"$E2E_TMP/state2"
[ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && ok "setup monitoring runs twice" || not_ok "setup runs ($rc1, $rc2)" "$(cat "$E2E_TMP/run1.out" "$E2E_TMP/run2.out")"
grep -q "1. create the log group /brock/setup: done" "$E2E_TMP/run1.out" && grep -q "1. create the log group /brock/setup: already exists" "$E2E_TMP/run2.out" \
  && ok "the second run finds the group made by the first" || not_ok "already exists" "$(cat "$E2E_TMP/run2.out")"
cmp -s "$E2E_TMP/state1" "$E2E_TMP/state2" && grep -q '"brock-daily-cost,Brock,CostUSD,86400,20,GreaterThanThreshold,false"' "$E2E_TMP/state1" \
  && grep -q '"brock-throttles,Brock,Throttles,300,10,GreaterThanOrEqualToThreshold,false"' "$E2E_TMP/state1" \
  && grep -q '"brock-us-west-2"' "$E2E_TMP/state1" && grep -q '\["/brock/setup",90\]' "$E2E_TMP/state1" \
  && ok "the same alarms, dashboard and retention after both runs" || not_ok "state" "$(cat "$E2E_TMP/state1" "$E2E_TMP/state2")"
b setup monitoring --log-group /brock/setup --daily-budget-usd 20 --cost-metric bedrock --model sonnet,haiku >"$E2E_TMP/out" 2>&1 \
  && ok "a metric-math cost alarm over AWS/Bedrock tokens is accepted" || not_ok "bedrock cost alarm" "$(cat "$E2E_TMP/out")"

# --- invocation logging with a role made beforehand (IAM through the SDK's signer)
if jnode '
  const { SignatureV4 } = require("@smithy/signature-v4");
  const { Sha256 } = require("@aws-crypto/sha256-js");
  const { HttpRequest } = require("@smithy/protocol-http");
  const url = new URL(process.argv[1]);
  const signer = new SignatureV4({ service: "iam", region: "us-east-1", sha256: Sha256,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" } });
  const call = async params => {
    const body = new URLSearchParams({ Version: "2010-05-08", ...params }).toString();
    const req = new HttpRequest({ method: "POST", protocol: url.protocol, hostname: url.hostname, port: Number(url.port),
      path: "/", headers: { host: url.host, "content-type": "application/x-www-form-urlencoded; charset=utf-8" }, body });
    const s = await signer.sign(req);
    const r = await fetch(process.argv[1] + "/", { method: "POST", headers: s.headers, body });
    if (r.status !== 200) throw params.Action + " " + r.status + " " + await r.text();
  };
  (async () => {
    await call({ Action: "CreateRole", RoleName: "LogsForBedrock", AssumeRolePolicyDocument: JSON.stringify({
      Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "bedrock.amazonaws.com" }, Action: "sts:AssumeRole" }] }) });
    await call({ Action: "PutRolePolicy", RoleName: "LogsForBedrock", PolicyName: "logs", PolicyDocument: JSON.stringify({
      Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["logs:CreateLogStream", "logs:PutLogEvents"],
      Resource: "arn:aws:logs:us-west-2:123456789012:log-group:/brock/setup:log-stream:*" }] }) });
  })().catch(e => { console.error(String(e)); process.exit(1); });' "$EMU_URL" 2>"$E2E_TMP/err"
then
  role=arn:aws:iam::123456789012:role/LogsForBedrock
  b setup monitoring --log-group /brock/setup --invocation-logging --logging-role-arn $role >"$E2E_TMP/out" 2>&1; rc=$?
  b setup monitoring --log-group /brock/setup --invocation-logging --logging-role-arn $role >>"$E2E_TMP/out" 2>&1; rc2=$?
  if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && jnode '
    const { BedrockClient, GetModelInvocationLoggingConfigurationCommand } = require("@aws-sdk/client-bedrock");
    const c = new BedrockClient({ endpoint: process.argv[1], region: "us-west-2",
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" } });
    c.send(new GetModelInvocationLoggingConfigurationCommand({})).then(r => {
      const cw = r.loggingConfig.cloudWatchConfig;
      if (cw.logGroupName !== "/brock/setup" || cw.roleArn !== process.argv[2] || !r.loggingConfig.textDataDeliveryEnabled) throw JSON.stringify(r);
    }).catch(e => { console.error(String(e)); process.exit(1); });' "$EMU_URL" "$role" 2>>"$E2E_TMP/out"
  then ok "invocation logging turned on with the given role (twice), read back with the SDK"
  else not_ok "invocation logging" "$(cat "$E2E_TMP/out")"; fi
else
  not_ok "creating a role in the emulator's IAM" "$(cat "$E2E_TMP/err")"
fi
before=$(curl -sf "$EMU_URL/_emulator/requests" | jnode 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).requests.length))')
b setup monitoring --log-group /brock/setup --invocation-logging --account 123456789012 >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
after=$(curl -sf "$EMU_URL/_emulator/requests" | jnode 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).requests.length))')
if [ $rc -eq 3 ] && grep -q "needs IAM" "$E2E_TMP/err" && [ "$before" = "$after" ]; then
  ok "making the role needs an IAM endpoint brock lacks: refused before any request (known gap)"
elif [ $rc -eq 0 ]; then
  ok "the invocation-logging role is made through IAM"
else
  not_ok "invocation logging without a role (exit $rc)" "$(cat "$E2E_TMP/err")"
fi

# --- IAM policies
b setup iam-policy --for all --model us.anthropic.claude-sonnet-4-5-20250929-v1:0,global.anthropic.claude-haiku-4-5-20251001-v1:0 \
  --log-group /brock/e2e >"$E2E_TMP/policy.json" 2>"$E2E_TMP/err"; rc=$?
if [ $rc -eq 0 ] && jnode '
  const p = JSON.parse(require("fs").readFileSync(process.argv[1]));
  const A = "123456789012";
  if (p.Version !== "2012-10-17") throw "version";
  const res = p.Statement.flatMap(s => [].concat(s.Resource));
  const need = [
    `arn:aws:bedrock:us-west-2:${A}:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0`,
    "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
    "arn:aws:bedrock:us-east-2::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
    "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
    `arn:aws:bedrock:us-west-2:${A}:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0`,
    "arn:aws:bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
    "arn:aws:bedrock:::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0",
    `arn:aws:logs:us-west-2:${A}:log-group:/brock/e2e:log-stream:*`,
    `arn:aws:bedrock:us-west-2:${A}:model-invocation-job/*`];
  for (const r of need) if (!res.includes(r)) throw "missing " + r;
  const acts = p.Statement.flatMap(s => [].concat(s.Action));
  for (const a of ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:CountTokens",
                   "bedrock:ListInferenceProfiles", "logs:PutLogEvents", "cloudwatch:PutMetricData", "iam:PassRole",
                   "bedrock:CreateModelInvocationJob", "s3:PutObject"]) if (!acts.includes(a)) throw "missing " + a;
  const sids = p.Statement.map(s => s.Sid);
  if (new Set(sids).size !== sids.length) throw "duplicate Sid";
  const pmd = p.Statement.find(s => s.Action === "cloudwatch:PutMetricData");
  if (pmd.Condition.StringEquals["cloudwatch:namespace"] !== "Brock") throw "namespace condition";' "$E2E_TMP/policy.json" 2>"$E2E_TMP/err2"
then ok "iam-policy: valid JSON with the ARNs of a us. and a global. profile, account from STS"
else not_ok "iam-policy (exit $rc)" "$(cat "$E2E_TMP/err" "$E2E_TMP/err2")"; fi
expect_rc 2 "iam-policy --for something-else" b setup iam-policy --for admin
done_testing
