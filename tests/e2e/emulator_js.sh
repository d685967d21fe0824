#!/usr/bin/env bash
# tests/e2e/emulator_js.sh - `brock emulate` checked with AWS's own client:
# the AWS SDK for JavaScript v3 (tests/js/emulator_sdk.mjs) runs every Bedrock
# Runtime operation, error and fault against `$BROCK_BIN emulate --port 0`,
# plus STS GetCallerIdentity. This script also checks the command itself:
# the first stdout line, a bad scenario file, and a graceful SIGTERM stop.
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/e2e/lib.sh"
if [ ! -x "$BROCK" ]; then
  echo "1..0 # SKIP $BROCK is not built (a FOCUS build without src/cli)"
  exit 0
fi

cat >"$E2E_TMP/scenario.json" <<'JSON'
{
  "description": "emulator_js.sh: a tool loop for the HTTP/1.1 test, a streamed tool call",
  "rules": [
    {"name": "fix", "match": {"regex": "fix the bug|int main"}, "operations": ["converse"],
     "responses": [
       {"tool_use": {"name": "Read", "input": {"path": "src/main.c"}}},
       {"text": "Fixed.", "usage": {"input_tokens": 1234, "output_tokens": 5}}
     ]},
    {"name": "stream tool", "match": {"contains": "stream a tool"},
     "response": {"text": "Editing.", "tool_use": {"name": "Edit",
                  "input": {"path": "a.c", "old": "x = 1;", "new": "x = 2; /* \u00e9t\u00e9 */"}}}}
  ]
}
JSON
api_key=ABSKbrock-emulator-e2e-0123456789abcdef
printf '{"keys": [{"ApiKey": "%s", "Arn": "arn:aws:iam::123456789012:user/apikey"}]}\n' "$api_key" >"$E2E_TMP/keys.json"

# Start the emulator; its first stdout line is the URL.
"$BROCK" emulate --port 0 --scenario "$E2E_TMP/scenario.json" --keys "$E2E_TMP/keys.json" \
  >"$E2E_TMP/emu.out" 2>"$E2E_TMP/emu.err" &
emu_pid=$!
at_exit "kill $emu_pid 2>/dev/null"
url=
for _ in $(seq 1 100); do
  line=$(head -n 1 "$E2E_TMP/emu.out" 2>/dev/null)
  case $line in "listening on http://127.0.0.1:"*) url=${line#listening on }; break;; esac
  sleep 0.05
done
if [ -n "$url" ]; then ok "first stdout line is 'listening on http://127.0.0.1:PORT'"
else not_ok "emulate prints its URL first" "$(cat "$E2E_TMP/emu.out" "$E2E_TMP/emu.err")"; fi

if [ -n "$url" ]; then
  if (cd "$top/tests/js" && node emulator_sdk.mjs "$url" "$api_key" >"$E2E_TMP/js.out" 2>"$E2E_TMP/js.err"); then :; fi
  # re-number the node script's TAP lines into ours
  while IFS= read -r line; do
    case $line in
      "ok "*) ok "sdk: ${line#ok * - }";;
      "not ok "*) not_ok "sdk: ${line#not ok * - }" "$(grep -A3 -F -- "$line" "$E2E_TMP/js.out" | tail -n +2)";;
    esac
  done <"$E2E_TMP/js.out"
  grep -q '^1\.\.' "$E2E_TMP/js.out" || not_ok "the SDK script ran to the end" "$(tail -n 20 "$E2E_TMP/js.err")"
fi

# Graceful stop on SIGTERM: exit 0, nothing secret in what it printed.
kill -TERM "$emu_pid" 2>/dev/null
rc=0
wait "$emu_pid" || rc=$?
[ "$rc" -eq 0 ] && ok "SIGTERM stops the emulator with exit 0" || not_ok "SIGTERM stop (exit $rc)" "$(tail "$E2E_TMP/emu.err")"
if grep -q -e "$api_key" -e 'wJalrXUtnFEMI' "$E2E_TMP/emu.out" "$E2E_TMP/emu.err"; then
  not_ok "no secret in the emulator's output"
else
  ok "no secret in the emulator's output"
fi

# IPv6 loopback, and --deny-model (the same SDK script's denied-model check
# is not needed: a raw request shows the answer's shape).
"$BROCK" emulate --host ::1 --port 0 --deny-model "us.anthropic.claude-opus-4-6-v1,anthropic.claude-haiku-4-5-20251001-v1:0" \
  >"$E2E_TMP/emu6.out" 2>"$E2E_TMP/emu6.err" &
emu6_pid=$!
at_exit "kill $emu6_pid 2>/dev/null"
url6=
for _ in $(seq 1 100); do
  line=$(head -n 1 "$E2E_TMP/emu6.out" 2>/dev/null)
  case $line in "listening on http://[::1]:"*) url6=${line#listening on }; break;; esac
  sleep 0.05
done
if [ -n "$url6" ] && curl -sg "$url6/_emulator/health" | grep -q '"ok"'; then ok "--host ::1 serves on [::1]"
else not_ok "--host ::1" "$(cat "$E2E_TMP/emu6.out" "$E2E_TMP/emu6.err")"; fi
if [ -n "$url6" ] && (cd "$top/tests/js" && node -e '
  const { BedrockRuntimeClient, ConverseCommand } = require("@aws-sdk/client-bedrock-runtime");
  const c = new BedrockRuntimeClient({ region: "us-east-1", endpoint: process.argv[1], maxAttempts: 1,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" } });
  const ask = (m) => c.send(new ConverseCommand({ modelId: m, messages: [{ role: "user", content: [{ text: "x" }] }] }));
  (async () => {
    for (const m of ["us.anthropic.claude-opus-4-6-v1", "global.anthropic.claude-haiku-4-5-20251001-v1:0"]) {
      try { await ask(m); throw new Error(m + " was not denied"); }
      catch (e) { if (e.name !== "AccessDeniedException" || e.$metadata.httpStatusCode !== 403) throw e; }
    }
    await ask("us.anthropic.claude-sonnet-4-5-20250929-v1:0");
  })().catch((e) => { console.error(e.name + ": " + e.message); process.exit(1); });
' "$url6" 2>"$E2E_TMP/deny.err"); then ok "--deny-model: AccessDeniedException for the listed ids (and their profiles)"
else not_ok "--deny-model" "$(cat "$E2E_TMP/deny.err")"; fi
kill "$emu6_pid" 2>/dev/null

# A bad scenario is refused with file:line:col.
printf '{\n  "rules": [\n    {"match": {"contians": "x"}, "response": {"text": "y"}}\n  ]\n}\n' >"$E2E_TMP/bad.json"
expect_rc 3 "a malformed scenario exits 3" "$BROCK" emulate --port 0 --scenario "$E2E_TMP/bad.json"
grep -q "bad.json:3:16: rules\[0\]\.match: unknown field \"contians\"" "$E2E_TMP/err" &&
  ok "the error names file:line:col and the field" || not_ok "scenario error location" "$(cat "$E2E_TMP/err")"
expect_rc 2 "a bad --port exits 2" "$BROCK" emulate --port 70000
done_testing
