#!/usr/bin/env bash
# Instruction profile of lbd under load: counts do not depend on machine noise.
#
# Starts the two origins with bench/run.sh's configs (run it once first), lbd under
# `valgrind --tool=callgrind` (instrumentation switched on after start-up and warm-up), drives it with
# wrk for SECONDS, then prints instructions per request and the top functions.
#
# Usage: bash bench/callgrind.sh [keepalive|tcp|close|big] [LBD binary]
# The default binary is the `profiling` profile's (release code with full debug info:
# `cargo build --profile profiling`), so the top functions have names and lines.
# Env:   SECONDS_RUN=10 CONNS=16
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out="$here/out"
scenario=${1:-keepalive}
lbd=${2:-$here/../target/profiling/lbd}
secs=${SECONDS_RUN:-10}
conns=${CONNS:-16}
[ -s "$out/lbd.cfg" ] || { echo "run bench/run.sh once first (it writes the configs)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
for p in 18081 18082; do
    nginx -c "$out/origin-$p.conf" -e "$out/origin-$p.err" >/dev/null 2>&1 &
    pids+=("$!")
done
http=$(awk '/^frontend fe_http/{f=1} f && /bind/{split($2, a, ":"); print a[2]; exit}' "$out/lbd.cfg")
tcp=$(awk '/^frontend fe_tcp/{f=1} f && /bind/{split($2, a, ":"); print a[2]; exit}' "$out/lbd.cfg")
cg="$out/callgrind.$scenario.out"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$cg" \
    "$lbd" -f "$out/lbd.cfg" -q 2>"$out/callgrind.$scenario.log" &
vg=$!
pids+=("$vg")
for _ in $(seq 200); do
    curl -s -o /dev/null "http://127.0.0.1:$http/" 2>/dev/null && break
    sleep 0.1
done
case $scenario in
    tcp) url="http://127.0.0.1:$tcp/"; args=() ;;
    close) url="http://127.0.0.1:$http/"; args=(-H 'Connection: close') ;;
    big) url="http://127.0.0.1:$http/big"; args=() ;;
    *) url="http://127.0.0.1:$http/"; args=() ;;
esac
wrk -t1 -c"$conns" -d2s "${args[@]}" "$url" >/dev/null   # warm-up (not instrumented: fast)
callgrind_control -i on "$vg" >/dev/null
wrk -t1 -c"$conns" -d"${secs}s" -s "$here/wrk_report.lua" "${args[@]}" "$url" >"$out/callgrind.$scenario.wrk"
callgrind_control -i off "$vg" >/dev/null
kill -TERM "$vg"
wait "$vg" 2>/dev/null || true
req=$(sed -n 's/^RESULT {"requests":\([0-9]*\).*/\1/p' "$out/callgrind.$scenario.wrk")
total=$(callgrind_annotate "$cg" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",", "", $1); print $1; exit}') || true
echo "$scenario: $req requests, $total instructions, $((total / (req > 0 ? req : 1))) per request"
callgrind_annotate --inclusive=no "$cg" 2>/dev/null | sed -n '/^Ir/,$p' | head -45
