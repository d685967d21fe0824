#!/usr/bin/env bash
# bench/eventstream.sh [BUILD] - brock's event-stream decoder against a zlib
# CRC-only floor and AWS's own decoders (@smithy/eventstream-codec in Node,
# botocore's EventStreamBuffer in Python), all on the same frames, printed as
# a markdown table.
#
# BUILD is a build dir holding bench/bench_eventstream (default: build).
# Environment: MIB (buffer size, default 64), RUNS (C runs, default 11),
# JS_RUNS (default 5), PY_RUNS (default 3), PYTHON (default: the first of
# /usr/bin/python3 and python3 that has botocore).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
bench=$build/bench/bench_eventstream
if [ ! -x "$bench" ]; then
  echo "eventstream.sh: $bench is not built (make BUILD=$build FOCUS=eventstream all)" >&2
  exit 2
fi
if [ -z "${PYTHON:-}" ]; then
  for p in /usr/bin/python3 python3; do
    if "$p" -c 'import botocore' 2>/dev/null; then PYTHON=$p; break; fi
  done
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/brock-es-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

"$bench" --mib "${MIB:-64}" --runs "${RUNS:-11}" --write "$tmp/frames.bin" >"$tmp/c.txt"
node "$top/bench/eventstream_peer.js" "$tmp/frames.bin" "${JS_RUNS:-5}" >"$tmp/js.txt"
if [ -n "${PYTHON:-}" ]; then
  "$PYTHON" "$top/bench/eventstream_peer.py" "$tmp/frames.bin" "${PY_RUNS:-3}" >"$tmp/py.txt"
else
  echo "eventstream.sh: no python3 with botocore found; skipping the botocore row" >&2
  : >"$tmp/py.txt"
fi

get() { sed -n "s/^$1=//p" "$2"; }
frames=$(sed -n 's/.*frames=\([0-9]*\).*/\1/p' "$tmp/c.txt")
bytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' "$tmp/c.txt")
avg=$(sed -n 's/.*avg_frame=\([0-9.]*\).*/\1/p' "$tmp/c.txt")
brock=$(get brock_decode_mbps "$tmp/c.txt")
floor=$(get zlib_crc_baseline_mbps "$tmp/c.txt")
js=$(get js_mbps "$tmp/js.txt")
js_split=$(get js_split_mbps "$tmp/js.txt")
py=$(get py_mbps "$tmp/py.txt")
for n in "$(get js_messages "$tmp/js.txt")" "$(get py_messages "$tmp/py.txt")"; do
  if [ -n "$n" ] && [ "$n" != "$frames" ]; then
    echo "eventstream.sh: a peer decoded $n messages, expected $frames" >&2
    exit 1
  fi
done
x() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f×", a / b; else print "-" }'; }

echo "Event-stream decoding, $frames Bedrock \`chunk\` frames (avg $avg B, $bytes B), fed in 16 KiB pieces; median MB/s (10^6 B/s)."
echo
echo "| decoder | MB/s | brock's speed relative to it |"
echo "|---|---:|---:|"
echo "| brock \`es_decoder\` (both CRCs, headers, payload, :event-type) | $brock | 1.0× |"
echo "| floor: zlib \`crc32\` per frame only (same run) | $floor | $(x "$brock" "$floor") (brock at $(awk -v a="$brock" -v b="$floor" 'BEGIN{printf "%.0f", 100*a/b}') % of the floor) |"
jsver="@smithy/eventstream-codec $(cd "$top/tests/js" && node -p 'require("@smithy/eventstream-codec/package.json").version') (node $(node --version))"
echo "| $jsver, 16 KiB pieces through getChunkedStream (the SDK's path) | $js | $(x "$brock" "$js") |"
echo "| $jsver, decode() alone on messages sliced from the whole buffer | $js_split | $(x "$brock" "$js_split") |"
if [ -n "$py" ]; then
  echo "| botocore $(get py_botocore_version "$tmp/py.txt") \`EventStreamBuffer\` ($("$PYTHON" --version 2>&1)) | $py | $(x "$brock" "$py") |"
fi
