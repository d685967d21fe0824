#!/usr/bin/env bash
# tests/e2e/batch_js.sh - the emulator's S3 and batch job API checked with AWS's
# own clients: tests/js/batch_sdk.mjs runs @aws-sdk/client-s3 and
# @aws-sdk/client-bedrock against `brock emulate --port 0`.
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/e2e/lib.sh"
if [ ! -x "$BROCK" ]; then
  echo "1..0 # SKIP $BROCK is not built (a FOCUS build without src/cli)"
  exit 0
fi
start_emulator || { not_ok "emulator started"; done_testing; exit 0; }
if (cd "$top/tests/js" && node batch_sdk.mjs "$EMU_URL" >"$E2E_TMP/js.out" 2>"$E2E_TMP/js.err"); then :; fi
while IFS= read -r line; do
  case $line in
    "ok "*) ok "sdk: ${line#ok * - }";;
    "not ok "*) not_ok "sdk: ${line#not ok * - }" "$(grep -A3 -F -- "$line" "$E2E_TMP/js.out" | tail -n +2)";;
  esac
done <"$E2E_TMP/js.out"
grep -q '^1\.\.' "$E2E_TMP/js.out" || not_ok "the SDK script ran to the end" "$(tail -n 20 "$E2E_TMP/js.err")"
done_testing
