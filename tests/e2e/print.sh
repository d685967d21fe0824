#!/usr/bin/env bash
# `brock -p` end to end against the emulator: output formats, stdin, APIs,
# models, retries and faults, errors and their exit codes, Ctrl-C, API keys,
# credential refresh. Only loopback.
. "$(dirname "$0")/lib.sh"
SECRET=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=$SECRET

# --- the in-process emulator (the README's first command)
expect_rc 0 "--emulator -p answers" "$BROCK" --emulator -p "Say hello to the tests"
grep -q 'You said: "Say hello to the tests"' "$E2E_TMP/out" && ok "the answer streams to stdout" || not_ok "answer text" "$(cat "$E2E_TMP/out")"

start_emulator || { not_ok "emulator starts"; done_testing; exit 0; }
export AWS_ENDPOINT_URL=$EMU_URL
fault() { curl -sf -X POST -H 'content-type: application/json' --data "$1" "$EMU_URL/_emulator/faults" >/dev/null; }
clear_faults() { curl -sf -X DELETE "$EMU_URL/_emulator/faults" >/dev/null; }

# --- output formats
echo "diff --git a/x b/x" | "$BROCK" -p "review this" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
[ $rc -eq 0 ] && grep -q "review this" "$E2E_TMP/out" && grep -q "diff --git" "$E2E_TMP/out" \
  && ok "piped stdin is appended to the prompt" || not_ok "stdin appended (exit $rc)" "$(cat "$E2E_TMP/out" "$E2E_TMP/err")"
echo "only stdin here" | "$BROCK" -p >"$E2E_TMP/out" 2>&1
grep -q "only stdin here" "$E2E_TMP/out" && ok "stdin alone is the prompt" || not_ok "stdin alone" "$(cat "$E2E_TMP/out")"

expect_rc 0 "--output-format json" "$BROCK" -p --output-format json "json please"
if node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const want = {type: "string", subtype: "string", is_error: "boolean", result: "string", session_id: "string",
                duration_ms: "number", duration_api_ms: "number", num_turns: "number", total_cost_usd: "number",
                usage: "object"};
  for (const [k, t] of Object.entries(want)) if (typeof r[k] !== t) throw new Error(k + " is " + typeof r[k]);
  if (r.type !== "result" || r.subtype !== "success" || r.is_error) throw new Error("not a success");
  if (!r.result.includes("json please")) throw new Error("result " + r.result);
  if (!/^[0-9a-f-]{36}$/.test(r.session_id)) throw new Error("session id");
  for (const k of ["input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"])
    if (typeof r.usage[k] !== "number") throw new Error("usage." + k);
  if (!(r.total_cost_usd > 0)) throw new Error("cost");
' "$E2E_TMP/out" 2>"$E2E_TMP/err"; then ok "json result has Claude Code's print-mode fields"; else not_ok "json fields" "$(cat "$E2E_TMP/err")"; fi

expect_rc 0 "--output-format stream-json" "$BROCK" -p --output-format stream-json "stream json please"
if node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  if (lines[0].type !== "system" || lines[0].subtype !== "init") throw new Error("first line");
  const a = lines.find(l => l.type === "assistant");
  if (!a || a.message.role !== "assistant" || a.message.content[0].type !== "text") throw new Error("assistant line");
  const r = lines[lines.length - 1];
  if (r.type !== "result" || r.is_error) throw new Error("last line");
  if (new Set(lines.map(l => l.session_id)).size !== 1) throw new Error("session ids differ");
' "$E2E_TMP/out" 2>"$E2E_TMP/err"; then ok "stream-json: init, assistant, result lines"; else not_ok "stream-json" "$(cat "$E2E_TMP/err" "$E2E_TMP/out")"; fi

# --- APIs, models, regions
expect_rc 0 "--api converse" "$BROCK" -p --api converse "converse please"
grep -q "converse please" "$E2E_TMP/out" && ok "converse answer" || not_ok "converse answer"
"$BROCK" -p -v --region eu-west-1 --model haiku "which model" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
grep -q "eu.anthropic.claude-haiku-4-5-20251001-v1:0" "$E2E_TMP/err" && ok "alias resolves to the region's inference profile" || not_ok "alias per region" "$(cat "$E2E_TMP/err")"
grep -q "/model/eu.anthropic.claude-haiku-4-5-20251001-v1:0/\|eu.anthropic.claude-haiku" "$E2E_TMP/err" && ok "--verbose names model, region and request id" || not_ok "verbose"
grep -q "request id [0-9a-f-]\{36\}" "$E2E_TMP/err" && ok "--verbose shows the request id" || not_ok "verbose request id" "$(cat "$E2E_TMP/err")"
expect_rc 2 "an unknown model alias is a usage error" "$BROCK" -p --model sonet hi
expect_rc 2 "a bad --output-format is a usage error" "$BROCK" -p --output-format xml hi
expect_rc 2 "a bad --temperature is a usage error" "$BROCK" -p --temperature 3 hi
n0=$(curl -sf "$EMU_URL/_emulator/requests" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["requests"]))')
expect_rc 2 "--temperature with a model from Opus 4.7 on: a usage error" "$BROCK" -p --tools "" --temperature 0 --model us.anthropic.claude-opus-4-7 hi
n1=$(curl -sf "$EMU_URL/_emulator/requests" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["requests"]))')
grep -q -- "--temperature: Claude Opus 4.7 takes no temperature .*leave --temperature out" "$E2E_TMP/err" && [ "$n0" = "$n1" ] &&
  ok "... said before any request (Bedrock would answer 400)" || not_ok "newer temperature message ($n0 -> $n1 requests)" "$(cat "$E2E_TMP/err")"
expect_rc 0 "the same model without --temperature answers" "$BROCK" -p --tools "" --model us.anthropic.claude-opus-4-7 hi

# --- errors from Bedrock, with their exit codes
expect_rc 5 "base id of a profile-only model: exit 5" "$BROCK" -p --model anthropic.claude-sonnet-4-6 hi
grep -q "inference profile" "$E2E_TMP/err" && grep -q "us.anthropic.claude-sonnet-4-6" "$E2E_TMP/err" \
  && ok "on-demand error suggests the inference profile" || not_ok "on-demand suggestion" "$(cat "$E2E_TMP/err")"
expect_rc 5 "an invalid model id: exit 5" "$BROCK" -p --model us.anthropic.nope-v9:0 hi
grep -q "brock models" "$E2E_TMP/err" && ok "invalid model suggests brock models" || not_ok "invalid model message" "$(cat "$E2E_TMP/err")"

# --- retries and faults
fault '{"type":"throttling","count":2}'
"$BROCK" -p -v "after throttles" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
[ $rc -eq 0 ] && grep -q "after throttles" "$E2E_TMP/out" && ok "two throttles are retried, then the answer" || not_ok "throttle retry (exit $rc)" "$(cat "$E2E_TMP/err")"
grep -q "3 attempts" "$E2E_TMP/err" && ok "--verbose counts the attempts" || not_ok "attempt count" "$(cat "$E2E_TMP/err")"
fault '{"type":"throttling","count":3}'
expect_rc 6 "throttled on every attempt: exit 6" "$BROCK" -p "always throttled"
grep -q "ThrottlingException" "$E2E_TMP/err" && ok "throttling error names the AWS error type" || not_ok "throttle message" "$(cat "$E2E_TMP/err")"
clear_faults
fault '{"type":"internal","count":1}'
expect_rc 0 "a 500 is retried" "$BROCK" -p "after a 500"
fault '{"type":"stream_exception","exception":"throttlingException","after":0}'
expect_rc 0 "an exception frame before any output is retried" "$BROCK" -p "exception before output"
grep -q "exception before output" "$E2E_TMP/out" && ok "...and the answer arrives once" || not_ok "answer after retry" "$(cat "$E2E_TMP/out")"
fault '{"type":"stream_exception","exception":"modelStreamErrorException","after":4}'
"$BROCK" -p "cut after output started please" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
[ $rc -ne 0 ] && [ -s "$E2E_TMP/out" ] && ok "exception after output: partial answer kept, non-zero exit ($rc)" || not_ok "partial (exit $rc)" "$(cat "$E2E_TMP/out" "$E2E_TMP/err")"
grep -q "cut off" "$E2E_TMP/err" && grep -qi "modelStreamErrorException" "$E2E_TMP/err" && ok "the cut is reported with the exception type" || not_ok "cut message" "$(cat "$E2E_TMP/err")"
fault '{"type":"truncate","after":3}'
"$BROCK" -p "truncated stream" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
[ $rc -ne 0 ] && ok "a truncated stream is an error, never a silent cut (exit $rc)" || not_ok "truncate" "$(cat "$E2E_TMP/err")"
fault '{"type":"bad_crc","frame":1}'
"$BROCK" -p -v "bad crc early" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
[ $rc -eq 0 ] && grep -q "2 attempts" "$E2E_TMP/err" && ok "a bad CRC before any output is retried" || not_ok "early bad crc (exit $rc)" "$(cat "$E2E_TMP/err")"
fault '{"type":"bad_crc","frame":6}'
"$BROCK" -p "bad crc after the answer has started to arrive" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
[ $rc -ne 0 ] && grep -qi "crc" "$E2E_TMP/err" && ok "a bad CRC after output is reported (exit $rc)" || not_ok "bad crc" "$(cat "$E2E_TMP/out" "$E2E_TMP/err")"
clear_faults

# --- access denied to a model (emulator deny list)
start_emulator --deny-model us.anthropic.claude-opus-4-6-v1 || { not_ok "second emulator"; done_testing; exit 0; }
AWS_ENDPOINT_URL=$EMU_URL "$BROCK" -p --model opus "denied" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
[ $rc -eq 4 ] && ok "access denied to a model: exit 4" || not_ok "access denied exit $rc" "$(cat "$E2E_TMP/err")"
grep -q "us.anthropic.claude-opus-4-6-v1" "$E2E_TMP/err" && grep -q "us-west-2" "$E2E_TMP/err" && grep -qi "model access" "$E2E_TMP/err" \
  && ok "access denied names the model, the region and the fix" || not_ok "access denied message" "$(cat "$E2E_TMP/err")"

# --- wrong key
AWS_SECRET_ACCESS_KEY=not-the-secret "$BROCK" -p "wrong key" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
[ $rc -eq 4 ] && grep -q "InvalidSignatureException" "$E2E_TMP/err" && ok "a wrong secret: exit 4, InvalidSignatureException" || not_ok "wrong secret (exit $rc)" "$(cat "$E2E_TMP/err")"
grep -q "not-the-secret" "$E2E_TMP/err" && not_ok "the wrong secret is not echoed" || ok "the wrong secret is not echoed"

# --- Bedrock API key instead of SigV4
key=$("$BROCK" api-key --expires 600 2>/dev/null)
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_BEARER_TOKEN_BEDROCK="$key" \
    "$BROCK" -p "bearer please" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
[ $rc -eq 0 ] && grep -q "bearer please" "$E2E_TMP/out" && ok "a Bedrock API key works without AWS keys" || not_ok "bearer (exit $rc)" "$(cat "$E2E_TMP/err")"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_BEARER_TOKEN_BEDROCK="bedrock-api-key-bm90IGEga2V5" \
    "$BROCK" -p "bad bearer" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
[ $rc -eq 4 ] && ok "a bad API key: exit 4" || not_ok "bad bearer (exit $rc)" "$(cat "$E2E_TMP/err")"

# --- expired credentials are refreshed: credential_process hands out a key the
# emulator has marked expired first, then a good one
cat >"$E2E_TMP/keys.json" <<JSON
{"keys": [{"AccessKeyId": "AKIDSTALE1", "SecretAccessKey": "stale-secret-1"},
          {"AccessKeyId": "AKIDFRESH2", "SecretAccessKey": "fresh-secret-2"}]}
JSON
start_emulator --keys "$E2E_TMP/keys.json" || { not_ok "keys emulator"; done_testing; exit 0; }
curl -sf -X POST --data '{"type":"expire_key","access_key_id":"AKIDSTALE1"}' "$EMU_URL/_emulator/faults" >/dev/null
cat >"$E2E_TMP/creds.sh" <<'SH'
#!/bin/sh
n=$(cat "$(dirname "$0")/count" 2>/dev/null || echo 0); echo $((n + 1)) >"$(dirname "$0")/count"
if [ "$n" = 0 ]; then id=AKIDSTALE1 s=stale-secret-1; else id=AKIDFRESH2 s=fresh-secret-2; fi
printf '{"Version":1,"AccessKeyId":"%s","SecretAccessKey":"%s","Expiration":"2099-01-01T00:00:00Z"}\n' $id $s
SH
chmod +x "$E2E_TMP/creds.sh"
printf '[profile proc]\ncredential_process = %s\n' "$E2E_TMP/creds.sh" >"$E2E_TMP/config"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_CONFIG_FILE="$E2E_TMP/config" AWS_ENDPOINT_URL=$EMU_URL \
    "$BROCK" -p -v --profile proc "refresh me" >"$E2E_TMP/out" 2>"$E2E_TMP/err"; rc=$?
[ $rc -eq 0 ] && grep -q "refresh me" "$E2E_TMP/out" && ok "expired credentials are refreshed once and the call succeeds" || not_ok "refresh (exit $rc)" "$(cat "$E2E_TMP/err")"
[ "$(cat "$E2E_TMP/count")" = 2 ] && ok "credential_process ran exactly twice" || not_ok "process runs: $(cat "$E2E_TMP/count")"

# --- Ctrl-C during a slow stream
cat >"$E2E_TMP/slow.json" <<'JSON'
{"rules": [{"match": {"any": true}, "response": {"text": "one two three four five six seven eight nine ten", "event_delay_ms": 400}}]}
JSON
start_emulator --scenario "$E2E_TMP/slow.json" || { not_ok "slow emulator"; done_testing; exit 0; }
AWS_ENDPOINT_URL=$EMU_URL "$BROCK" -p "slowly" >"$E2E_TMP/out" 2>"$E2E_TMP/err" &
pid=$!
sleep 1.2
kill -INT $pid
t0=$(date +%s%N); wait $pid; rc=$?; t1=$(date +%s%N)
[ $rc -eq 130 ] && ok "Ctrl-C stops the stream with exit 130" || not_ok "ctrl-c exit $rc" "$(cat "$E2E_TMP/err")"
[ $(( (t1 - t0) / 1000000 )) -lt 1000 ] && ok "...promptly" || not_ok "ctrl-c took $(( (t1 - t0) / 1000000 )) ms"
grep -q "one" "$E2E_TMP/out" && ! grep -q "ten" "$E2E_TMP/out" && ok "...keeping what had arrived" || not_ok "partial output on ctrl-c" "$(cat "$E2E_TMP/out")"
done_testing
