#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] - every benchmark, in the order of docs/benchmarks.md.
# Build first: make bench (or make all). Runs only on loopback.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
echo "## $(date -u +%Y-%m-%d) on $(uname -n): $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)"
echo
echo "### brock --version vs curl --version"; "$top/bench/version.sh" "$build"; echo
echo "### SigV4 signing"; "$top/bench/sigv4.sh" "$build"; echo
echo "### Event-stream decoding"; "$top/bench/eventstream.sh" "$build"; echo
echo "### brock -p against the emulator, beside the AWS SDK for JavaScript"; "$top/bench/print.sh" "$build"; echo
echo "### Store bookkeeping per request"; "$top/bench/store.sh" "$build"; echo
echo "### Cost layer per request"; "$build/bench/bench_cost"; echo
echo "### The gateway's spend read with many users"
spend_dir=$(mktemp -d "$build/bench-spend.XXXXXX"); "$build/bench/bench_spend" "$spend_dir/db" | grep -v '^RESULT'; rm -rf "$spend_dir"; echo
echo "### brock batch beside the AWS SDK for JavaScript"; "$top/bench/batch.sh" "$build"; echo
echo "### A ten-turn tool session (Claude Code too when CLAUDE_CODE=1 and npm can install it)"
CLAUDE_CODE=${CLAUDE_CODE:-0} "$top/bench/agent.sh" "$build"; echo
echo "### brock serve (the gateway) beside the emulator directly, under wrk"; "$top/bench/gateway.sh" "$build"; echo
echo "### brock serve with 4,096 keys: the first key against the last"; "$top/bench/gateway_keys.sh" "$build"; echo
echo "### brock serve: CPU per closed-loop call, beside a relay and the emulator directly"; "$top/bench/gateway_cpu.sh" "$build"; echo
