#!/usr/bin/env bash
# tests/e2e/gateway_js.sh - `brock serve` checked with AWS's own client: the
# AWS SDK for JavaScript v3 (tests/js/gateway_sdk.mjs) talks to the gateway,
# whose upstream is `brock emulate` in another process (the gateway signs
# with the emulator's example keys from the environment, as it would with a
# real AWS identity). This script also checks the command itself: the first
# stdout line, bad keys, the ledger rows with each client's user and project
# (`brock usage`), the audit events in the spool, a graceful SIGTERM stop,
# `brock serve --emulator`, and that no key or secret reaches its output.
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/e2e/lib.sh"
if [ ! -x "$BROCK" ]; then
  echo "1..0 # SKIP $BROCK is not built (a FOCUS build without src/cli)"
  exit 0
fi
if ! command -v node >/dev/null || [ ! -d "$top/tests/js/node_modules/@aws-sdk/client-bedrock-runtime" ]; then
  echo "1..0 # SKIP node or tests/js/node_modules missing (npm ci in tests/js)"
  exit 0
fi

export HOME="$E2E_TMP/home" BROCK_DATA_DIR="$E2E_TMP/data" XDG_CONFIG_HOME="$E2E_TMP/home/.config"
mkdir -p "$HOME"
unset AWS_PROFILE AWS_BEARER_TOKEN_BEDROCK AWS_ENDPOINT_URL AWS_ENDPOINT_URL_BEDROCK_RUNTIME BROCK_LOG_GROUP
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export AWS_REGION=us-west-2 AWS_MAX_ATTEMPTS=1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

start_emulator || { not_ok "the emulator starts"; done_testing; exit 0; }

tok=gw-alice-Secret-0123456789abcdef
budget_tok=gw-dave-Secret-0123456789abcdefgh
rate_tok=gw-erin-Secret-0123456789abcdefgh
akid=BRGWGATEWAYE2E00001
secret=gatewayE2eSecret/0123456789ABCDEFabcdef
cat >"$E2E_TMP/keys.json" <<JSON
{"keys": [
  {"access_key_id": "$akid", "secret_access_key": "$secret", "user": "ci", "project": "pipeline"},
  {"token": "$budget_tok", "user": "dave", "project": "tiny", "daily_usd": 0.0001},
  {"token": "$rate_tok", "user": "erin", "max_rpm": 6}
]}
JSON

if start_gateway --endpoint-url "$EMU_URL" --key "$tok=alice/app" --keys-file "$E2E_TMP/keys.json" &&
  case $GW_URL in http://127.0.0.1:*) true ;; *) false ;; esac; then
  ok "first stdout line is 'listening on http://127.0.0.1:PORT'"
else
  not_ok "serve prints its URL first" "$(cat "$E2E_TMP/gw.out" "$E2E_TMP/gw.err")"
fi
for _ in $(seq 1 40); do grep -q 'audit events stay in the local spool' "$GW_ERR" && break; sleep 0.05; done
grep -q 'audit events stay in the local spool' "$GW_ERR" &&
  ok "with no log group, serve says the audit events stay in the local spool" ||
  not_ok "the spool line at start" "$(cat "$GW_ERR")"

if [ -n "$GW_URL" ]; then
  (cd "$top/tests/js" && node gateway_sdk.mjs "$GW_URL" "$EMU_URL" "$tok" "$budget_tok" "$akid" "$secret" "$rate_tok" \
    >"$E2E_TMP/js.out" 2>"$E2E_TMP/js.err") || :
  while IFS= read -r line; do
    case $line in
      "ok "*) ok "sdk: ${line#ok * - }";;
      "not ok "*) not_ok "sdk: ${line#not ok * - }" "$(grep -A3 -F -- "$line" "$E2E_TMP/js.out" | tail -n +2)";;
    esac
  done <"$E2E_TMP/js.out"
  grep -q '^1\.\.' "$E2E_TMP/js.out" || not_ok "the SDK script ran to the end" "$(tail -n 20 "$E2E_TMP/js.err")"
fi

# Graceful stop on SIGTERM: exit 0; every row written.
kill -TERM "$GW_PID" 2>/dev/null
rc=0
wait "$GW_PID" || rc=$?
[ "$rc" -eq 0 ] && ok "SIGTERM stops the gateway with exit 0" || not_ok "SIGTERM stop (exit $rc)" "$(tail "$E2E_TMP/gw.err")"

"$BROCK" usage user --since all --json >"$E2E_TMP/usage.json" 2>"$E2E_TMP/usage.err" ||
  "$BROCK" usage --since all --json >"$E2E_TMP/usage.json" 2>>"$E2E_TMP/usage.err"
if node -e '
  const u = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const s = JSON.stringify(u);
  if (!s.includes("alice") && !s.includes("dave")) process.exit(1);
' "$E2E_TMP/usage.json" 2>/dev/null || sqlite3 "$BROCK_DATA_DIR/brock.db" \
  "select count(*) from ledger where user='alice' and project='app'" 2>/dev/null | grep -qv '^0$'; then
  ok "the ledger has the calls with each client's user and project"
else
  not_ok "ledger rows by user" "$(cat "$E2E_TMP/usage.json" "$E2E_TMP/usage.err")"
fi
if command -v sqlite3 >/dev/null; then
  users=$(sqlite3 "$BROCK_DATA_DIR/brock.db" "select distinct user || '/' || project from ledger order by 1" | tr '\n' ' ')
  case $users in *"alice/app"*"ci/pipeline"*"dave/tiny"*) ok "ledger users: $users";;
    *) not_ok "ledger users and projects" "$users";; esac
  spooled=$(sqlite3 "$BROCK_DATA_DIR/brock.db" "select count(*) from spool where message like '%\"User\":\"alice\"%'" 2>/dev/null || echo 0)
  [ "${spooled:-0}" -gt 0 ] && ok "audit events in the spool carry the client's user ($spooled)" ||
    not_ok "audit events for alice in the spool" "$(sqlite3 "$BROCK_DATA_DIR/brock.db" '.tables')"
fi

if grep -q -e "$tok" -e "$budget_tok" -e "$rate_tok" -e "$secret" -e 'wJalrXUtnFEMI' "$E2E_TMP/gw.out" "$E2E_TMP/gw.err"; then
  not_ok "no key or secret in the gateway's output"
else
  ok "no key or secret in the gateway's output"
fi

# Bad keys are refused before anything listens.
expect_rc 2 "a short --key token exits 2" "$BROCK" serve --port 0 --key short=alice
grep -q "token must be" "$E2E_TMP/err" && ok "the error says what is wrong with the token" ||
  not_ok "short token message" "$(cat "$E2E_TMP/err")"
expect_rc 2 "no key at all exits 2" "$BROCK" serve --port 0
printf '{"keys": [{"token": "%s", "user": "x",}]}\n' "$tok" >"$E2E_TMP/bad.json"
"$BROCK" serve --port 0 --keys-file "$E2E_TMP/bad.json" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
if grep -q 'bad.json:1:' "$E2E_TMP/err" && ! grep -q "$tok" "$E2E_TMP/err"; then
  ok "a malformed keys file names file:line and never the token"
else
  not_ok "keys file error" "$(cat "$E2E_TMP/err")"
fi
expect_rc 2 "a non-loopback --host is refused" "$BROCK" serve --host 0.0.0.0 --port 0 --key "$tok=alice"

# --emulator: the in-process emulator as upstream.
if start_gateway --emulator --key "$tok=alice/app"; then
  out=$(curl -s -X POST "$GW_URL/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/converse" \
    -H "Authorization: Bearer $tok" -H 'content-type: application/json' \
    -d '{"messages":[{"role":"user","content":[{"text":"offline please"}]}]}')
  case $out in *"offline please"*) ok "serve --emulator answers from the in-process emulator";;
    *) not_ok "serve --emulator" "$out $(cat "$E2E_TMP/gw.err")";; esac
  kill -TERM "$GW_PID" 2>/dev/null
  wait "$GW_PID" 2>/dev/null
else
  not_ok "serve --emulator starts" "$(cat "$E2E_TMP/gw.err")"
fi
done_testing
