#!/usr/bin/env bash
# Reloads under load: wrk drives keep-alive traffic through lbd while this script sends
# RELOADS SIGUSR2 in a row, alternating two configurations that add and remove servers
# and a backend. Reports wrk's errors and non-2xx answers, and the reload durations lbd
# logs (`Reload complete: ... (N ms)`).
#
# Usage: bench/reload_under_load.sh [RELOADS [PAUSE_S [DURATION_S [CONNS]]]]
#        (defaults 100 0.1 20 16)
# Env:   LBD=path/to/lbd   skip `cargo build --release` and use this binary
#        BIG=N             pad both configs with N generated backends x 10 servers
#                          (bench/gen_big_config.py, no checks) to time big reloads
#        NBTHREAD=N        `nbthread N` in lbd's global section
# Needs: wrk. The origins are a second lbd answering `http-request return` on 3 ports.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
reloads=${1:-100}
pause=${2:-0.1}
duration=${3:-20}
conns=${4:-16}
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }
if [ -z "${LBD:-}" ]; then
    (cd "$root" && cargo build --release --quiet)
    LBD="$root/target/release/lbd"
fi

work=$(mktemp -d /tmp/lbd-reload-bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fe=$(port); o1=$(port); o2=$(port); o3=$(port); o4=$(port)

cat >"$work/origin.cfg" <<EOF
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend origin
    bind 127.0.0.1:$o1
    bind 127.0.0.1:$o2
    bind 127.0.0.1:$o3
    bind 127.0.0.1:$o4
    http-request return status 200 content-type text/plain string ok
EOF
"$LBD" -q -f "$work/origin.cfg" 2>"$work/origin.err" &
pids+=($!)

head_cfg() {
    printf 'global\n    maxconn 10000\n'
    if [ -n "${NBTHREAD:-}" ]; then echo "    nbthread $NBTHREAD"; fi
    cat <<EOF
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:$fe
EOF
}
pad() {
    if [ -n "${BIG:-}" ]; then
        # The generated backends only, without its global/defaults/frontend.
        python3 "$here/gen_big_config.py" -b "$BIG" -s 10 |
            awk '/^backend /{on=1} on' | sed 's/ check$//'
    fi
}
padding=$(pad)
{
    head_cfg
    echo "    default_backend web"
    printf 'backend web\n    balance roundrobin\n    server s1 127.0.0.1:%s\n    server s2 127.0.0.1:%s\n' "$o1" "$o2"
    echo "$padding"
} >"$work/a.cfg"
{
    head_cfg
    echo "    use_backend api if { path_beg /api }"
    echo "    default_backend web"
    printf 'backend web\n    balance roundrobin\n    server s1 127.0.0.1:%s\n    server s3 127.0.0.1:%s\n' "$o1" "$o3"
    printf 'backend api\n    server a1 127.0.0.1:%s\n' "$o4"
    echo "$padding"
} >"$work/b.cfg"
echo "config: $(wc -l <"$work/a.cfg") lines"

cp "$work/a.cfg" "$work/lbd.cfg"
"$LBD" -f "$work/lbd.cfg" 2>"$work/lbd.err" &
lbd=$!
pids+=($lbd)
for _ in $(seq 1 3000); do
    grep -q " started: " "$work/lbd.err" && break
    kill -0 "$lbd" 2>/dev/null || { cat "$work/lbd.err"; exit 1; }
    sleep 0.01
done
curl -fsS "http://127.0.0.1:$fe/" >/dev/null 2>&1 || true

wrk -t1 -c"$conns" -d"${duration}s" "http://127.0.0.1:$fe/" >"$work/wrk.out" 2>&1 &
wrk_pid=$!
sleep 1
t0=$(date +%s%N)
for i in $(seq 1 "$reloads"); do
    if [ $((i % 2)) = 1 ]; then cp "$work/b.cfg" "$work/next.cfg"; else cp "$work/a.cfg" "$work/next.cfg"; fi
    mv "$work/next.cfg" "$work/lbd.cfg"
    kill -USR2 "$lbd"
    # Wait for this reload's outcome before the next signal (signals would coalesce).
    until [ "$(grep -c 'Reload complete\|Reload failed' "$work/lbd.err")" -ge "$i" ]; do
        kill -0 "$wrk_pid" 2>/dev/null || { echo "wrk ended before reload $i" >&2; break 2; }
        sleep 0.005
    done
    sleep "$pause"
done
t1=$(date +%s%N)
wait "$wrk_pid" || true

done_n=$(grep -c 'Reload complete' "$work/lbd.err" || true)
failed_n=$(grep -c 'Reload failed' "$work/lbd.err" || true)
echo "reloads: $done_n complete, $failed_n failed, in $(( (t1 - t0) / 1000000 )) ms"
{ grep 'Reload complete' "$work/lbd.err" || true; } | sed -n 's/.*(\([0-9]*\) ms)$/\1/p' | sort -n |
    awk '{a[NR]=$1; s+=$1} END { if (NR) printf "reload duration: min %d ms, median %d ms, max %d ms, mean %.1f ms\n", a[1], a[int((NR+1)/2)], a[NR], s/NR }'
echo "--- wrk"
cat "$work/wrk.out"
errors=$(grep -E 'Socket errors|Non-2xx' "$work/wrk.out" || true)
if [ -z "$errors" ] && [ "$done_n" = "$reloads" ]; then
    echo "RESULT: 0 failed requests during $reloads reloads"
else
    echo "RESULT: failures: ${errors:-none from wrk}; reloads complete $done_n/$reloads"
    exit 1
fi
