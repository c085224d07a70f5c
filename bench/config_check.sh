#!/usr/bin/env bash
# Load-time benchmark: `lbd -c` (and `haproxy -c` when installed) on a generated
# configuration of 10,000 backends x 10 servers with 10,000 use_backend rules.
#
# Usage: bench/config_check.sh [BACKENDS [SERVERS [RUNS]]]   (defaults 10000 10 3)
# Env:   LBD=path/to/lbd   skip `cargo build --release` and time this binary
#        HAPROXY=path      haproxy binary (default: the one on PATH, if any)
# Prints one line per run (wall time, CPU time = user + sys, peak RSS) and the best
# of each column per program. On a busy machine wall time is noisy; CPU time less so.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
backends=${1:-10000}
servers=${2:-10}
runs=${3:-3}
out="$here/out"
cfg="$out/big.cfg"
mkdir -p "$out"

python3 "$here/gen_big_config.py" -b "$backends" -s "$servers" -o "$cfg"
echo "config: $cfg ($(wc -l <"$cfg") lines, $(du -k "$cfg" | cut -f1) KiB)"

if [ -z "${LBD:-}" ]; then
    (cd "$root" && cargo build --release --quiet)
    LBD="$root/target/release/lbd"
fi
HAPROXY=${HAPROXY:-$(command -v haproxy || true)}

# measure CMD...: prints "<wall s> <cpu s> <peak RSS KiB> <exit code>".
if [ -x /usr/bin/time ]; then
    measure() {
        local t0 t1 rc=0 rep
        rep=$(mktemp)
        t0=$(date +%s%N)
        /usr/bin/time -v -o "$rep" "$@" >/dev/null 2>"$out/last.stderr" || rc=$?
        t1=$(date +%s%N)
        local rss cpu
        rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$rep")
        cpu=$(awk -F': ' '/(User|System) time \(seconds\)/ {s += $2} END {print s}' "$rep")
        rm -f "$rep"
        # /usr/bin/time reports the command's own status as its exit code.
        awk -v a="$t0" -v b="$t1" -v u="$cpu" -v r="$rss" -v c="$rc" \
            'BEGIN { printf "%.3f %.2f %d %d\n", (b - a) / 1e9, u, r, c }'
    }
else
    measure() {
        python3 - "$out/last.stderr" "$@" <<'PY'
import os, subprocess, sys, time
err = open(sys.argv[1], "w")
t0 = time.perf_counter()
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=err)
_, status, ru = os.wait4(p.pid, 0)
t1 = time.perf_counter()
cpu = ru.ru_utime + ru.ru_stime
print("%.3f %.2f %d %d" % (t1 - t0, cpu, ru.ru_maxrss, os.waitstatus_to_exitcode(status)))
PY
    }
fi

bench() {
    local name=$1
    shift
    local best_t="" best_c="" best_m=""
    for i in $(seq 1 "$runs"); do
        read -r t c m rc < <(measure "$@")
        printf '%-8s run %d: wall %6.3f s  cpu %5.2f s  %7.1f MiB  exit %d\n' "$name" "$i" \
            "$t" "$c" "$(awk -v m="$m" 'BEGIN { print m / 1024 }')" "$rc"
        if [ "$rc" != 0 ]; then
            echo "$name failed:" >&2
            head -5 "$out/last.stderr" >&2
        fi
        if [ -z "$best_t" ] || awk -v a="$t" -v b="$best_t" 'BEGIN { exit !(a < b) }'; then
            best_t=$t
        fi
        if [ -z "$best_c" ] || awk -v a="$c" -v b="$best_c" 'BEGIN { exit !(a < b) }'; then
            best_c=$c
        fi
        if [ -z "$best_m" ] || [ "$m" -lt "$best_m" ]; then best_m=$m; fi
    done
    printf '%-8s best:  wall %6.3f s  cpu %5.2f s  %7.1f MiB\n' "$name" "$best_t" \
        "$best_c" "$(awk -v m="$best_m" 'BEGIN { print m / 1024 }')"
}

bench lbd "$LBD" -c -f "$cfg"
if [ -n "$HAPROXY" ]; then
    echo "($("$HAPROXY" -v | head -1))"
    bench haproxy "$HAPROXY" -c -q -f "$cfg"
else
    echo "haproxy not installed: skipped"
fi
