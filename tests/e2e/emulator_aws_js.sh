#!/usr/bin/env bash
# tests/e2e/emulator_aws_js.sh - the CloudWatch Logs, CloudWatch and Bedrock
# control-plane emulation of `brock emulate`, checked with AWS's own clients:
# tests/js/emulator_aws_sdk.mjs drives @aws-sdk/client-cloudwatch-logs,
# -cloudwatch and -bedrock against `$BROCK_BIN emulate --port 0 -v`. Then the
# control endpoints are read with curl (what the SDK stored is there, a reset
# forgets it) and the emulator's own log is checked for secrets.
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/e2e/lib.sh"
if [ ! -x "$BROCK" ]; then
  echo "1..0 # SKIP $BROCK is not built (a FOCUS build without src/cli)"
  exit 0
fi

if ! start_emulator -v; then
  not_ok "brock emulate starts"
  done_testing
  exit 0
fi
ok "brock emulate --port 0 -v listens on $EMU_URL"

if (cd "$top/tests/js" && node emulator_aws_sdk.mjs "$EMU_URL" >"$E2E_TMP/js.out" 2>"$E2E_TMP/js.err"); then :; fi
while IFS= read -r line; do
  case $line in
    "ok "*) ok "sdk: ${line#ok * - }";;
    "not ok "*) not_ok "sdk: ${line#not ok * - }" "$(grep -A3 -F -- "$line" "$E2E_TMP/js.out" | tail -n +2)";;
  esac
done <"$E2E_TMP/js.out"
grep -q '^1\.\.' "$E2E_TMP/js.out" || not_ok "the SDK script ran to the end" "$(tail -n 20 "$E2E_TMP/js.err")"

# What the SDK stored, as the control endpoints show it.
logs=$(curl -s "$EMU_URL/_emulator/logs?group=%2Fbrock%2Fsdk")
if printf '%s' "$logs" | node -e '
  const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const g = d.logGroups[0];
  const s = g.logStreams.find((x) => x.logStreamName === "host/alice/day");
  if (d.logGroups.length !== 1 || g.logGroupName !== "/brock/sdk" || g.retentionInDays !== 30) process.exit(1);
  if (s.events.map((e) => e.message).join("|") !== "first|second ERROR") process.exit(2);
  if (d.emf.events < 2 || d.emf.datapoints < 2) process.exit(3);
'; then ok "GET /_emulator/logs shows the SDK's group, events and EMF counters"
else not_ok "GET /_emulator/logs" "$(printf '%s' "$logs" | head -c 600)"; fi
metrics=$(curl -s "$EMU_URL/_emulator/metrics")
if printf '%s' "$metrics" | node -e '
  const d = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const m = d.metrics.find((x) => x.namespace === "BrockSdk" && x.metricName === "InputTokens");
  if (!m || m.dimensions.Model !== "sonnet" || m.datapoints.length !== 2) process.exit(1);
  if (!d.alarms.some((a) => a.AlarmName === "brock-daily-cost")) process.exit(2);
'; then ok "GET /_emulator/metrics shows the EMF metric and the alarm"
else not_ok "GET /_emulator/metrics" "$(printf '%s' "$metrics" | head -c 600)"; fi

curl -s -d '' "$EMU_URL/_emulator/reset" >/dev/null
after=$(curl -s "$EMU_URL/_emulator/logs")
case $after in
  *'"logGroups":[]'*) ok "POST /_emulator/reset forgets the log groups";;
  *) not_ok "reset clears the logs" "$(printf '%s' "$after" | head -c 300)";;
esac

# One line per request in the emulator's log, never a secret.
kill -TERM "$EMU_PID" 2>/dev/null
wait "$EMU_PID" 2>/dev/null
errlog=$(ls "$E2E_TMP"/emu.out.*.err 2>/dev/null | head -n 1)
if [ -n "$errlog" ] && grep -q 'emulate: POST / -> 400 InvalidParameterException' "$errlog"; then
  ok "the emulator logs each request (method, path, status, code)"
else
  not_ok "request lines in the emulator log" "$(tail -n 5 "${errlog:-/dev/null}")"
fi
if [ -n "$errlog" ] && ! grep -q -e 'wJalrXUtnFEMI' -e 'Signature=' "$errlog"; then
  ok "no secret in the emulator's log"
else
  not_ok "no secret in the emulator's log"
fi
done_testing
