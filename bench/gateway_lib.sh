# bench/gateway_lib.sh - what the gateway benchmarks share (sourced by
# bench/gateway.sh, gateway_cpu.sh and gateway_keys.sh; not run alone).
#
#   bench_setup NAME   a scratch dir $tmp (removed at exit, with every pid in
#                      pids killed), HOME and brock's data in it, the example
#                      AWS keys, us-west-2, no retries, no profile or log group
#   wait_url FILE PID  the URL from a server's "listening on URL" line
#   median             the median of the numbers on stdin
# and the keys and request the benchmarks send: emu_key (the emulator's API
# key), gw_key (a gateway key), model, body.

emu_key=ABSKbench-emulator-0123456789abcdef
gw_key=bench-gateway-key-0123456789abcdef
model=us.anthropic.claude-sonnet-4-5-20250929-v1%3A0
body='{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"benchmark this please"}]}'

pids=()
bench_cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || :; done; rm -rf "$tmp"; }
bench_setup() {
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/brock-bench-$1.XXXXXX")
  trap bench_cleanup EXIT
  export HOME=$tmp BROCK_DATA_DIR=$tmp/data XDG_CONFIG_HOME=$tmp/config
  export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
  export AWS_REGION=us-west-2 AWS_MAX_ATTEMPTS=1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
  unset AWS_PROFILE AWS_BEARER_TOKEN_BEDROCK BROCK_LOG_GROUP
}

wait_url() {
  local u
  for _ in $(seq 1 200); do
    u=$(sed -n '1s/^listening on //p' "$1" 2>/dev/null)
    [ -n "$u" ] && { echo "$u"; return 0; }
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  echo "server did not start: $(cat "$1".err 2>/dev/null)" >&2
  return 1
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
