#!/usr/bin/env bash
# CPU cost of active health checks: 10,000 servers with `check inter 1s` (tcp connect
# checks, 10 backends of 1,000 servers), all pointing at one nginx origin that accepts
# and closes. Reports each proxy's CPU (utime+stime from /proc/PID/stat) over a
# measured window, as % of one core, and how many servers were UP at its end.
#
# Usage: bash bench/checks_cpu.sh          (after bench/run.sh once: origin config)
# Env:   LBD=path (default target/release/lbd)  SERVERS=10000  INTER=1s
#        WARM=5 (s before measuring: the first checks are spread over one interval)
#        SECS=20 (measured window)  TARGETS="lbd haproxy"
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$here/out"
lbd=${LBD:-$root/target/release/lbd}
servers=${SERVERS:-10000}
inter=${INTER:-1s}
warm=${WARM:-5}
secs=${SECS:-20}
targets=${TARGETS:-"lbd haproxy"}
[ -s "$out/origin-18081.conf" ] || { echo "run bench/run.sh once first (it writes the origin config)" >&2; exit 1; }
[ -x "$lbd" ] || (cd "$root" && cargo build --release -q)
ulimit -n "$(ulimit -Hn)"

cfg="$out/checks.cfg"
{
    echo "global"
    echo "    maxconn 1000"
    echo "defaults"
    echo "    mode tcp"
    echo "    timeout connect 1s"
    echo "    timeout client 5s"
    echo "    timeout server 5s"
    echo "    timeout check 1s"
    echo "frontend fe"
    echo "    bind 127.0.0.1:18990"
    echo "    default_backend b0"
    per=$((servers / 10))
    for b in $(seq 0 9); do
        echo "backend b$b"
        for s in $(seq 1 "$per"); do
            echo "    server s$s 127.0.0.1:18081 check inter $inter"
        done
    done
} >"$cfg"

pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
nginx -c "$out/origin-18081.conf" -e "$out/origin-18081.err" >/dev/null 2>&1 &
pids+=("$!")
sleep 0.5

cpu_ticks() { # "utime stime" of one process, in clock ticks
    awk '{print $14, $15}' "/proc/$1/stat"
}
hz=$(getconf CLK_TCK)

for t in $targets; do
    case $t in
        lbd) "$lbd" -q -f "$cfg" 2>"$out/checks.$t.log" & ;;
        haproxy) haproxy -q -f "$cfg" 2>"$out/checks.$t.log" & ;;
        *) echo "unknown target $t" >&2; exit 1 ;;
    esac
    p=$!
    pids+=("$p")
    sleep "$warm"
    read -r ua sa < <(cpu_ticks "$p")
    sleep "$secs"
    read -r ub sb < <(cpu_ticks "$p")
    up=$(ss -tn state established '( dport = :18081 )' 2>/dev/null | tail -n +2 | wc -l)
    pct() { awk -v d="$1" -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.2f", 100 * d / hz / s }'; }
    down=$(grep -c "is DOWN" "$out/checks.$t.log" || true)
    echo "$t: $servers servers, check inter $inter: $(pct $((ub - ua + sb - sa)))% of one core over ${secs} s (user $(pct $((ub - ua)))%, system $(pct $((sb - sa)))%); 'is DOWN' lines: $down; connections open to the origin at the end: $up"
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
done
