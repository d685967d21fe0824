#!/usr/bin/env bash
# tests/e2e/gateway_backpressure.sh - a client that stops reading a big event
# stream through `brock serve` (Node's own HTTP/2 and HTTP/1.1 clients,
# tests/js/gateway_backpressure.mjs): the gateway holds the upstream transfer
# instead of buffering the stream, and the stream arrives whole afterwards.
# (The unit test does the same over HTTP/1.1 with libcurl; libcurl 7.88's
# HTTP/2 client now and then misses END_STREAM after its write callback
# stalled, so HTTP/2 is checked here with another client.)
top=${BROCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/e2e/lib.sh"
if [ ! -x "$BROCK" ]; then
  echo "1..0 # SKIP $BROCK is not built (a FOCUS build without src/cli)"
  exit 0
fi
if ! command -v node >/dev/null; then
  echo "1..0 # SKIP node is not installed"
  exit 0
fi
export HOME="$E2E_TMP/home" BROCK_DATA_DIR="$E2E_TMP/data"
mkdir -p "$HOME"
unset AWS_PROFILE AWS_BEARER_TOKEN_BEDROCK AWS_ENDPOINT_URL BROCK_LOG_GROUP
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export AWS_REGION=us-west-2 AWS_MAX_ATTEMPTS=1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

# sixteen text blocks of ~0.85 MB (a scenario string is at most 1 MB): ~18 MB
# of frames. The stream must be well past what the kernel's socket buffers
# take while the client does not read (the gateway's send buffer grows up to
# tcp_wmem's cap, 4 MiB by default), or the gateway, which writes as the
# frames come, never needs to hold.
awk 'BEGIN {
  printf "{\"rules\": [{\"match\": {\"contains\": \"big stream\"}, \"response\": {\"content\": ["
  for (b = 0; b < 16; b++) {
    printf "%s{\"type\": \"text\", \"text\": \"", b ? ", " : ""
    for (i = 0; i < 110000; i++) printf "w%d ", i
    printf "end\"}"
  }
  print "]}}]}"
}' >"$E2E_TMP/big.json"
# what the kernel lets a socket's send buffer grow to, for reading a failure
[ -r /proc/sys/net/ipv4/tcp_wmem ] && echo "# tcp_wmem (min default max): $(cat /proc/sys/net/ipv4/tcp_wmem)"
start_emulator --scenario "$E2E_TMP/big.json" || { not_ok "the emulator starts"; done_testing; exit 0; }
tok=gw-backpressure-Secret-0123456789
start_gateway --endpoint-url "$EMU_URL" --key "$tok=slow/reader" ||
  { not_ok "the gateway starts" "$(cat "$GW_ERR")"; done_testing; exit 0; }
(cd "$top/tests/js" && timeout 150 node gateway_backpressure.mjs "$GW_URL" "$tok") \
  >"$E2E_TMP/js.tap" 2>"$E2E_TMP/js.err"
while IFS= read -r line; do
  case $line in
    "ok "*) ok "${line#ok * - }" ;;
    "not ok "*) not_ok "${line#not ok * - }" "$(grep -A1 -F -- "$line" "$E2E_TMP/js.tap" | tail -n +2)" ;;
  esac
done <"$E2E_TMP/js.tap"
grep -q '^1\.\.' "$E2E_TMP/js.tap" || not_ok "the client script ran to the end" "$(tail -n 20 "$E2E_TMP/js.err")"
kill -TERM "$GW_PID" 2>/dev/null
wait "$GW_PID" 2>/dev/null
rc=$?
[ "$rc" -eq 0 ] && ok "the gateway stops with exit 0 after the streams" || not_ok "gateway exit $rc" "$(tail "$GW_ERR")"
done_testing
