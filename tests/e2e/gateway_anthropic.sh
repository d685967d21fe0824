#!/usr/bin/env bash
# tests/e2e/gateway_anthropic.sh - Anthropic's Bedrock client
# (@anthropic-ai/bedrock-sdk, tests/js/gateway_anthropic.mjs) through
# `brock serve` to `brock emulate`, signing with a SigV4 key from the
# gateway's keys file; then the books carry that key's user and project.
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/e2e/lib.sh"
if [ ! -x "$BROCK" ]; then
  echo "1..0 # SKIP $BROCK is not built (a FOCUS build without src/cli)"
  exit 0
fi
if ! command -v node >/dev/null || [ ! -d "$top/tests/js/node_modules/@anthropic-ai/bedrock-sdk" ]; then
  echo "1..0 # SKIP @anthropic-ai/bedrock-sdk is not installed (cd tests/js && npm ci)"
  exit 0
fi
export HOME="$E2E_TMP/home" BROCK_DATA_DIR="$E2E_TMP/data"
mkdir -p "$HOME"
unset AWS_PROFILE AWS_BEARER_TOKEN_BEDROCK AWS_ENDPOINT_URL BROCK_LOG_GROUP
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export AWS_REGION=us-west-2 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
start_emulator || { not_ok "the emulator starts"; done_testing; exit 0; }
akid=BRGWANTHROPICSDK0001
secret=anthropicSdkGatewaySecret0123456789abcdef
printf '{"keys": [{"access_key_id": "%s", "secret_access_key": "%s", "user": "ann", "project": "sdk"}]}\n' \
  "$akid" "$secret" >"$E2E_TMP/keys.json"
start_gateway --endpoint-url "$EMU_URL" --keys-file "$E2E_TMP/keys.json" ||
  { not_ok "the gateway starts" "$(cat "$GW_ERR")"; done_testing; exit 0; }
(cd "$top/tests/js" && timeout 120 node gateway_anthropic.mjs "$GW_URL" "$akid" "$secret") \
  >"$E2E_TMP/js.tap" 2>"$E2E_TMP/js.err"
while IFS= read -r line; do
  case $line in
    "ok "*) ok "Anthropic Bedrock SDK: ${line#ok * - }" ;;
    "not ok "*) not_ok "Anthropic Bedrock SDK: ${line#not ok * - }" "$(grep '^#' "$E2E_TMP/js.tap" | head -5)" ;;
  esac
done <"$E2E_TMP/js.tap"
grep -q '^ok ' "$E2E_TMP/js.tap" || not_ok "the Anthropic Bedrock SDK ran" "$(tail -5 "$E2E_TMP/js.err")"
kill -TERM "$GW_PID" 2>/dev/null
wait "$GW_PID" 2>/dev/null
if command -v sqlite3 >/dev/null; then
  rows=$(sqlite3 "$BROCK_DATA_DIR/brock.db" "select count(*) from ledger where user='ann' and project='sdk' and status='ok'")
  [ "${rows:-0}" -ge 3 ] && ok "the ledger books the SDK's calls as ann/sdk ($rows rows)" || not_ok "ledger rows for ann/sdk" "$rows"
fi
grep -q -e "$secret" "$GW_OUT" "$GW_ERR" && not_ok "no secret in the gateway's output" || ok "no secret in the gateway's output"
done_testing
