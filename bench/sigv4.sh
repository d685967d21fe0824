#!/usr/bin/env bash
# bench/sigv4.sh [BUILD_DIR] - brock's SigV4 signer against the crypto floor,
# AWS's JavaScript signer and botocore, on the same InvokeModel request.
#
# Builds nothing: runs BUILD_DIR/bench/bench_sigv4 (default build/, so
# build/bench/bench_sigv4; `make bench` makes it), bench/sigv4_peer.js (node,
# with tests/js/node_modules) and bench/sigv4_peer.py (python3-botocore).
# All three sign identical inputs and must print the same signature; the
# script fails if they do not. Prints a markdown table.
#
# Environment: SIGV4_BENCH_TOKEN (session-token bytes, default 100; real STS tokens run 400-1200),
# SIGV4_BENCH_RUNS (default 31), SIGV4_BENCH_ITERS (brock, default 20000),
# SIGV4_BENCH_JS_ITERS (default 2000), SIGV4_BENCH_PY_ITERS (default 1000).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
bin=$build/bench/bench_sigv4
if [ ! -x "$bin" ]; then
  echo "sigv4.sh: $bin not found: build it (make bench) or pass the build dir" >&2
  exit 2
fi
tok=${SIGV4_BENCH_TOKEN:-100}
runs=${SIGV4_BENCH_RUNS:-31}

c_out=$("$bin" "$tok" "$runs" "${SIGV4_BENCH_ITERS:-20000}")
js_out=$(node "$top/bench/sigv4_peer.js" "$tok" "$runs" "${SIGV4_BENCH_JS_ITERS:-2000}")
py_out=$("${PYTHON:-$( [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import botocore" 2>/dev/null && echo /usr/bin/python3 || echo python3)}" "$top/bench/sigv4_peer.py" "$tok" "$runs" "${SIGV4_BENCH_PY_ITERS:-1000}")

# field NAME TEXT: the value of NAME= on the RESULT line
field() { sed -n "s/^RESULT.* $1=\([^ ]*\).*/\1/p; s/^RESULT $1=\([^ ]*\).*/\1/p" <<<"$2" | head -n1; }

sign_ns=$(field sign_ns "$c_out")
floor_ns=$(field floor_ns "$c_out")
floor_raw_ns=$(field floor_raw_ns "$c_out")
js_ns=$(field ns "$js_out")
py_ns=$(field ns "$py_out")
sig_c=$(field signature "$c_out")
sig_js=$(field signature "$js_out")
sig_py=$(field signature "$py_out")

if [ "$sig_c" != "$sig_js" ] || [ "$sig_c" != "$sig_py" ]; then
  echo "sigv4.sh: signatures differ: brock $sig_c, smithy $sig_js, botocore $sig_py" >&2
  exit 1
fi

awk -v f="$floor_ns" -v fr="$floor_raw_ns" -v b="$sign_ns" -v j="$js_ns" -v p="$py_ns" -v tok="$tok" -v runs="$runs" '
function row(name, ns) { printf "| %s | %.2f | %.2f |\n", name, ns / 1000, ns / f }
BEGIN {
  printf "SigV4, Bedrock InvokeModel request (1 KiB body, %d-byte session token), median of %d runs, thread CPU time\n\n", tok, runs
  print "| command | median µs | ratio to floor |"
  print "|---|---:|---:|"
  row("crypto floor, OpenSSL 3 EVP objects fetched once (SHA-256 body + SHA-256 canonical request + pre-keyed HMAC)", f)
  row("the same crypto with libcrypto SHA256_CTX (what brock calls)", fr)
  row("brock `sigv4_sign_headers`", b)
  row("`@smithy/signature-v4` + node:crypto", j)
  row("botocore `SigV4Auth.add_auth`", p)
  printf "\nbrock: %.2fx the floor (target <= 1.5), %.1fx faster than smithy (target >= 14), %.1fx faster than botocore (target >= 30)\n", b / f, j / b, p / b
  printf "signatures agree: yes\n"
}'
