#!/usr/bin/env bash
# tests/e2e/gateway_audit.sh - what `brock serve` tells CloudWatch: with a log
# group set, every call through the gateway becomes an audit event in
# CloudWatch Logs (the emulator's, reached through AWS_ENDPOINT_URL) carrying
# the client's user and project, and EMF metrics with per-user and
# per-project series (the gateway's default dimensions) that CloudWatch
# (the emulator's EMF extraction) turns into datapoints. No key in any event.
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/e2e/lib.sh"
if [ ! -x "$BROCK" ]; then
  echo "1..0 # SKIP $BROCK is not built (a FOCUS build without src/cli)"
  exit 0
fi
command -v node >/dev/null || { echo "1..0 # SKIP no node to read JSON"; exit 0; }
export HOME="$E2E_TMP/home" BROCK_DATA_DIR="$E2E_TMP/data"
mkdir -p "$HOME"
unset AWS_PROFILE AWS_BEARER_TOKEN_BEDROCK BROCK_LOG_GROUP
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export AWS_REGION=us-west-2 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
start_emulator || { not_ok "the emulator starts"; done_testing; exit 0; }
ka=audit-alice-key-0123456789abcdef
kb=audit-bob-key-0123456789abcdef
AWS_ENDPOINT_URL=$EMU_URL BROCK_LOG_GROUP=/brock/gateway start_gateway --endpoint-url "$EMU_URL" \
  --key "$ka=alice/webapp" --key "$kb=bob/infra" ||
  { not_ok "the gateway starts" "$(cat "$GW_ERR")"; done_testing; exit 0; }
gw=$GW_URL
gw_pid=$GW_PID
call() { # key text
  curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" -H 'content-type: application/json' \
    -d "{\"anthropic_version\":\"bedrock-2023-05-31\",\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}]}" \
    "$gw/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke"
}
codes="$(call "$ka" "from alice") $(call "$ka" "alice again") $(call "$kb" "from bob")"
[ "$codes" = "200 200 200" ] && ok "three calls through the gateway" || not_ok "calls" "$codes"
grep -q 'audit events stay in the local spool' "$GW_ERR" &&
  not_ok "with a log group, serve does not say events stay local" "$(cat "$GW_ERR")" ||
  ok "with a log group, no 'stay in the local spool' line"
kill -TERM "$gw_pid"
wait "$gw_pid"
rc=$?
[ "$rc" = 0 ] && ok "SIGTERM: the gateway ships what is spooled and exits 0" || not_ok "gateway exit" "rc=$rc $(cat "$E2E_TMP/gw.err")"

curl -sf "$EMU_URL/_emulator/logs?group=/brock/gateway" >"$E2E_TMP/logs.json"
curl -sf "$EMU_URL/_emulator/metrics" >"$E2E_TMP/metrics.json"
node -e '
  const fs = require("fs");
  const logs = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const metrics = JSON.parse(fs.readFileSync(process.argv[2], "utf8")).metrics;
  const out = [];
  const say = (c, what, detail) => out.push(`${c ? "ok" : "not ok"}\t${what}\t${c ? "" : (detail || "")}`);
  const g = (logs.logGroups || []).find((x) => x.logGroupName === "/brock/gateway");
  const evs = g ? g.logStreams.flatMap((s) => s.events.map((e) => JSON.parse(e.message))) : [];
  const calls = evs.filter((e) => e.event === "model_call");
  say(calls.length === 3, `three model_call audit events in /brock/gateway (${calls.length})`, JSON.stringify(logs).slice(0, 400));
  const alice = calls.filter((e) => e.who && e.who.user === "alice" && e.project === "webapp");
  const bob = calls.filter((e) => e.who && e.who.user === "bob" && e.project === "infra");
  say(alice.length === 2 && bob.length === 1, "each event names the client: alice/webapp twice, bob/infra once");
  say(calls.every((e) => e.purpose === "gateway" && e.status === "ok" && e.request_id), "purpose gateway, status ok, the upstream request id");
  say(calls.every((e) => e.User && e.Project && e._aws && e._aws.CloudWatchMetrics), "every event is EMF with User and Project");
  const dims = calls.length ? calls[0]._aws.CloudWatchMetrics[0].Dimensions.map((d) => d.join("+")) : [];
  say(dims.includes("User") && dims.includes("Project") && dims.includes("Model"), `EMF dimension sets include User and Project (${dims.join(", ")})`);
  const cost = (dim, val) => metrics.filter((m) => m.metricName === "CostUSD" && m.dimensions[dim] === val && Object.keys(m.dimensions).length === 1)
    .flatMap((m) => m.datapoints).reduce((a, p) => a + p.count, 0);
  say(cost("User", "alice") === 2 && cost("User", "bob") === 1, `CloudWatch has CostUSD per user (alice ${cost("User", "alice")}, bob ${cost("User", "bob")})`);
  say(cost("Project", "webapp") === 2 && cost("Project", "infra") === 1, "and per project (webapp 2, infra 1)");
  console.log(out.join("\n"));
' "$E2E_TMP/logs.json" "$E2E_TMP/metrics.json" >"$E2E_TMP/checks" 2>"$E2E_TMP/checks.err"
while IFS="$(printf '\t')" read -r verdict what detail; do
  if [ "$verdict" = ok ]; then ok "$what"; else not_ok "$what" "$detail"; fi
done <"$E2E_TMP/checks"
[ -s "$E2E_TMP/checks" ] || not_ok "the emulator's logs and metrics could be read" "$(cat "$E2E_TMP/checks.err")"
grep -q -e "$ka" -e "$kb" -e wJalrXUtnFEMI "$E2E_TMP/logs.json" "$E2E_TMP/gw.out" "$E2E_TMP/gw.err" &&
  not_ok "no gateway key or AWS secret in the audit log or output" ||
  ok "no gateway key or AWS secret in the audit log or output"

# --- with no log group the spool is never drained: what CloudWatch Logs
# would refuse anyway (older than 14 days) is dropped from it, by brock -p
# at exit and by the gateway's books at start (then every minute); a
# 13-day-old event stays
old_rows() { # insert one 15-day-old and one 13-day-old event
  python3 - "$BROCK_DATA_DIR/brock.db" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
now = int(time.time() * 1000)
for days, tag in ((15, "too-old-event"), (13, "young-enough-event")):
    db.execute("INSERT INTO spool(ts_ms, message) VALUES(?, ?)", (now - days * 86400000, '{"tag": "%s"}' % tag))
db.commit()
PY
}
spool_tags() {
  python3 - "$BROCK_DATA_DIR/brock.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(" ".join(sorted(r[0] for r in db.execute("SELECT json_extract(message, '$.tag') FROM spool WHERE message LIKE '{\"tag\"%'"))))
PY
}
old_rows
AWS_ENDPOINT_URL=$EMU_URL "$BROCK" -p "prune at exit" >"$E2E_TMP/p.out" 2>"$E2E_TMP/p.err"; rc=$?
tags=$(spool_tags)
[ $rc -eq 0 ] && [ "$tags" = "young-enough-event" ] && ok "brock -p without a log group drops spooled events older than 14 days" ||
  not_ok "prune at exit (exit $rc, left: $tags)" "$(cat "$E2E_TMP/p.err")"
old_rows
start_gateway --endpoint-url "$EMU_URL" --key "$ka=alice/webapp" ||
  { not_ok "the gateway starts without a log group" "$(cat "$GW_ERR")"; done_testing; exit 0; }
tags=$(spool_tags)
[ "$tags" = "young-enough-event young-enough-event" ] && ok "the gateway without a log group drops them at start" ||
  not_ok "prune at gateway start (left: $tags)" "$(cat "$GW_ERR")"
grep -q 'audit events stay in the local spool' "$GW_ERR" && ok "without a log group, serve says events stay local" ||
  not_ok "the local spool line" "$(cat "$GW_ERR")"
kill -TERM "$GW_PID"
wait "$GW_PID"
done_testing
