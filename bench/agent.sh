#!/usr/bin/env bash
# bench/agent.sh [BUILD_DIR] - a ten-call scripted tool session
# (bench/scenarios/ten_turns.json: Bash, Read, Bash, Edit, Bash, Write, Read,
# Edit, Bash, answer: the tools both programs have) against `brock emulate`: brock's CPU time (user + sys
# from wait4 via GNU time, its commands included) and peak RSS, median of
# RUNS runs, each
# on a fresh copy of the workspace. Then, if CLAUDE_CODE=1 (default) and npm
# can install it, Claude Code (`@anthropic-ai/claude-code`, into a temporary
# directory) on the same scenario, measured the same way; if it fails, how
# it failed is printed and brock's numbers stand alone.
#
# Loopback only for the runs: Claude Code gets HTTP(S)_PROXY pointing at a
# closed loopback port (NO_PROXY for the emulator) and its non-essential
# traffic turned off. Prints a markdown table.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
runs=${RUNS:-9}
brock=$build/brock
[ -x "$brock" ] || { echo "agent.sh: build first (make)" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/brock-agent-bench.XXXXXX")
emu=
trap '[ -n "$emu" ] && kill $emu 2>/dev/null; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT

# the workspace: two C files with TODOs and some padding to search through
ws=$tmp/ws
mkdir -p "$ws/src" "$ws/lib"
cat >"$ws/src/util.c" <<'C'
#include "util.h"

int scale(int x)
{
    /* TODO: handle zero */
    return 100 / x;
}
C
cat >"$ws/src/main.c" <<'C'
#include <stdio.h>
#include "util.h"

int main(int argc, char **argv)
{
    /* TODO: check argc */
    printf("%d\n", scale(argv[1][0] - '0'));
    return 0;
}
C
echo 'int scale(int x);' >"$ws/src/util.h"
for i in $(seq 1 60); do
  { echo "/* lib$i.c - padding for the searches */"; for j in $(seq 1 40); do echo "int f${i}_$j(int a) { return a + $j; }"; done; } >"$ws/lib/lib$i.c"
done
cp -a "$ws" "$tmp/ws.orig"
ws=$(cd "$ws" && pwd -P)
sed "s|@WS@|$ws|g" "$top/bench/scenarios/ten_turns.json" >"$tmp/scenario.json"

"$brock" emulate --port 0 --scenario "$tmp/scenario.json" >"$tmp/emu.out" 2>"$tmp/emu.log" &
emu=$!
url=
for _ in $(seq 100); do url=$(sed -n '1s/^listening on //p' "$tmp/emu.out"); [ -n "$url" ] && break; sleep 0.05; done
[ -n "$url" ] || { echo "agent.sh: the emulator did not start: $(cat "$tmp/emu.log")" >&2; exit 1; }

model=us.anthropic.claude-sonnet-4-5-20250929-v1:0
prompt="Fix the TODOs in the C sources of this project."

# measure NAME RUNS [VAR=VALUE...] -- CMD...: run in a fresh workspace copy each time; prints
# "NAME cpu_ms=.. maxrss_kb=.. wall_ms=.. calls=.. ok=.." (medians)
measure() {
  python3 - "$url" "$tmp" "$ws" "$@" <<'PY'
import json, os, resource, shutil, statistics, subprocess, sys, time, urllib.request
url, tmp, ws, name, runs, *rest = sys.argv[1:]
sep = rest.index("--")
env = dict(os.environ, **dict(kv.split("=", 1) for kv in rest[:sep]))
cmd = rest[sep + 1:]
def post(path):
    urllib.request.urlopen(urllib.request.Request(url + path, data=b"", method="POST")).read()
cpu, rss, wall, calls, oks, own = [], [], [], [], [], []
for i in range(int(runs)):
    shutil.rmtree(ws)
    shutil.copytree(tmp + "/ws.orig", ws, symlinks=True)
    post("/_emulator/reset")
    # GNU time runs the command and reports its rusage (wait4: user + sys of
    # the command and its children, peak RSS). A small C launcher keeps the
    # peak honest: a child forked or vforked from this Python process would
    # inherit Python's resident-set high-water mark.
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    rc = subprocess.call(["timeout", "-k", "5", "300", "/usr/bin/time", "-o", f"{tmp}/{name}.time", "-f", "%x %U %S %M"] + cmd, cwd=ws, env=env,
                         stdin=subprocess.DEVNULL, stdout=open(f"{tmp}/{name}.stdout", "w"),
                         stderr=open(f"{tmp}/{name}.stderr", "w"))
    wall.append((time.monotonic() - t0) * 1000)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    code, u, s, m = open(f"{tmp}/{name}.time").read().split()[-4:]
    # GNU time prints CPU to 10 ms; the children's rusage here is exact
    # (it adds GNU time's own fraction of a millisecond)
    cpu.append((r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000)
    rss.append(int(m))
    log = json.load(urllib.request.urlopen(url + "/_emulator/requests"))["requests"]
    calls.append(sum(1 for r in log if r.get("rule") == "ten turns"))
    e = open(f"{tmp}/{name}.stderr").read()
    if "brock: process: cpu " in e:  # brock -v: its own CPU, without the commands it ran
        own.append(float(e.split("brock: process: cpu ")[1].split()[0]))
    util = open(ws + "/src/util.c").read()
    main = open(ws + "/src/main.c").read()
    oks.append(int(code) == 0 and "if (x == 0)" in util and "argc < 2" in main and os.path.exists(ws + "/src/NOTES.md"))
med = lambda v: statistics.median(v)
print(f"{name} cpu_ms={med(cpu):.1f} maxrss_kb={med(rss):.0f} wall_ms={med(wall):.1f} calls={med(calls):.0f} "
      f"ok={sum(oks)}/{len(oks)} min_cpu_ms={min(cpu):.1f} max_cpu_ms={max(cpu):.1f}"
      + (f" own_cpu_ms={med(own):.1f}" if own else ""))
PY
}

export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-west-2
b=$(measure brock "$runs" HOME="$tmp/home-brock" BROCK_DATA_DIR="$tmp/brock-data" AWS_ENDPOINT_URL="$url" \
    AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY \
    -- "$brock" -p -v --model "$model" --allowedTools "Edit Write Bash" "$prompt")
get() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }

cc_line=
if [ "${CLAUDE_CODE:-1}" = 1 ]; then
  cc=${CLAUDE_CODE_DIR:-$tmp/claude-code} # CLAUDE_CODE_DIR: an earlier `npm install --prefix DIR`
  if [ ! -x "$cc/node_modules/.bin/claude" ] &&
     ! npm install --silent --no-audit --no-fund --prefix "$cc" "@anthropic-ai/claude-code@${CLAUDE_CODE_VERSION:-2.1.197}" >"$tmp/npm.log" 2>&1; then
    cc_line="Claude Code: npm install failed: $(tail -n 3 "$tmp/npm.log" | tr '\n' ' ')"
  else
    ccbin=$cc/node_modules/.bin/claude
    ccver=$("$ccbin" --version 2>/dev/null || echo unknown)
    mkdir -p "$tmp/home-cc"
    # cc_run RUNS [ENV...]: Claude Code on the scenario, Bedrock pointed at the emulator
    cc_run() {
      local n=$1; shift
      measure claude-code "$n" HOME="$tmp/home-cc" CLAUDE_CODE_USE_BEDROCK=1 ANTHROPIC_BEDROCK_BASE_URL="$url" \
        AWS_REGION=us-west-2 ANTHROPIC_MODEL="$model" ANTHROPIC_SMALL_FAST_MODEL=us.anthropic.claude-haiku-4-5-20251001-v1:0 \
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_TELEMETRY=1 DISABLE_AUTOUPDATER=1 DISABLE_ERROR_REPORTING=1 \
        HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost "$@" \
        -- "$ccbin" -p "$prompt" --model "$model" --allowedTools "Edit,Write,Bash" || true
    }
    # 1. as asked: no signing (CLAUDE_CODE_SKIP_BEDROCK_AUTH=1). The emulator, like
    #    Bedrock, refuses unsigned requests, so this is expected to fail.
    c=$(cc_run 1 CLAUDE_CODE_SKIP_BEDROCK_AUTH=1)
    cc_skip="with CLAUDE_CODE_SKIP_BEDROCK_AUTH=1: $(get calls "$c") model calls, $(sed -n 's/.*ok=\([0-9/]*\).*/\1/p' <<<"$c") correct; stdout: $(head -c 200 "$tmp/claude-code.stdout" | tr '\n' ' ')"
    # 2. signing with AWS's documentation example keys, which the emulator accepts
    c=$(cc_run "${CC_RUNS:-3}" AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY)
    if [ -z "$c" ] || [ "$(get calls "$c")" != 10 ]; then
      cc_line="Claude Code $ccver did not complete the session (model calls: $(get calls "$c"), result: $(sed -n 's/.*ok=\([0-9/]*\).*/\1/p' <<<"$c")); its stderr: $(head -c 600 "$tmp/claude-code.stderr" | tr '\n' ' '); stdout: $(head -c 300 "$tmp/claude-code.stdout" | tr '\n' ' ')"
    fi
  fi
fi

echo "| program | model calls | median CPU (user+sys, ms) | median peak RSS (MiB) | median wall (ms) | correct runs |"
echo "|---|---:|---:|---:|---:|---:|"
awk -v c="$(get cpu_ms "$b")" -v r="$(get maxrss_kb "$b")" -v w="$(get wall_ms "$b")" -v n="$(get calls "$b")" \
    -v ok="$(sed -n 's/.*ok=\([0-9/]*\).*/\1/p' <<<"$b")" \
  'BEGIN { printf "| brock -p | %d | %.1f | %.1f | %.1f | %s |\n", n, c, r / 1024, w, ok }'
if [ -n "${c:-}" ] && [ -z "$cc_line" ]; then
  awk -v c="$(get cpu_ms "$c")" -v r="$(get maxrss_kb "$c")" -v w="$(get wall_ms "$c")" -v n="$(get calls "$c")" \
      -v ok="$(sed -n 's/.*ok=\([0-9/]*\).*/\1/p' <<<"$c")" -v v="$ccver" \
    'BEGIN { printf "| Claude Code %s -p | %d | %.1f | %.1f | %.1f | %s |\n", v, n, c, r / 1024, w, ok }'
  awk -v bc="$(get cpu_ms "$b")" -v br="$(get maxrss_kb "$b")" -v cc="$(get cpu_ms "$c")" -v cr="$(get maxrss_kb "$c")" \
    'BEGIN { printf "\nbrock uses %.0fx less CPU (target >= 50x) and %.0fx less memory (target >= 15x)\n", cc / bc, cr / br }'
  awk -v bc="$(get cpu_ms "$b")" -v own="$(get own_cpu_ms "$b")" -v cc="$(get cpu_ms "$c")" \
    'BEGIN { k = bc - own; printf "without the commands both ran (%.1f ms, measured in brock): brock %.1f ms, Claude Code about %.1f ms: %.0fx\n", k, own, cc - k, (cc - k) / own }'
else
  echo
  echo "${cc_line:-Claude Code: not run (CLAUDE_CODE=0)}"
fi
echo "runs: brock $runs, Claude Code ${CC_RUNS:-3}; $b"
[ -n "${cc_skip:-}" ] && echo "Claude Code ${cc_skip}"
[ -n "${c:-}" ] && echo "$c"
true
