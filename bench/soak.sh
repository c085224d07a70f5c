#!/usr/bin/env bash
# Soak: lbd under moderate keep-alive load for a long time, reloaded every 10 s, with
# its memory and descriptors sampled. A leak shows as RSS or descriptors that keep
# growing; a reload that drops traffic shows as errors.
#
# - Origin: one nginx (one worker, 64-byte body, `keepalive_timeout 2s` so that idle
#   pooled connections close soon after the load stops, and some close just as lbd
#   reuses them) on loopback; python3's threading http.server when nginx is missing.
# - lbd (release build) in front, two `server` lines to that origin with tcp checks
#   every 2 s, `timeout http-keep-alive 1s`.
# - Load: `wrk -t1 -c16`, each connection pausing DELAY_MS between requests (a wrk
#   `delay()` hook), so at most 16 * 1000 / DELAY_MS requests/s: a moderate rate that
#   leaves the machine usable.
# - Every RELOAD_EVERY s: SIGUSR2 (config unchanged); the script checks each reload
#   logs `Reload complete`.
# - Every SAMPLE_EVERY s: VmRSS and open descriptors of lbd, into bench/out/soak.csv.
#
# Prints start/end/max RSS and descriptors, requests, errors (wrk socket errors +
# non-2xx answers) and reloads. Exit status 1 when there were errors or a failed reload.
#
# Usage: bench/soak.sh            (10 minutes)
#        SOAK_SECONDS=120 bench/soak.sh
# Env:   SOAK_SECONDS=600 DELAY_MS=10 CONNS=16 RELOAD_EVERY=10 SAMPLE_EVERY=5
#        LBD=path (skip `cargo build --release`)  PORT_BASE=18390 (lbd, origin = +1)
set -euo pipefail

. "$(dirname "$0")/lib.sh"

SOAK_SECONDS=${SOAK_SECONDS:-600}
DELAY_MS=${DELAY_MS:-10}
CONNS=${CONNS:-16}
RELOAD_EVERY=${RELOAD_EVERY:-10}
SAMPLE_EVERY=${SAMPLE_EVERY:-5}
PORT_BASE=${PORT_BASE:-18390}

bench_setup soak
start_origin "$ORIGIN_PORT" 2s

cat >"$out/lbd.cfg" <<EOF
global
    maxconn 1000
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    timeout http-request 5s
    timeout http-keep-alive 1s
frontend soak
    bind 127.0.0.1:$LB_PORT
    default_backend origin
backend origin
    balance roundrobin
    server o1 127.0.0.1:$ORIGIN_PORT check inter 2s
    server o2 127.0.0.1:$ORIGIN_PORT check inter 2s
EOF
"$LBD" -f "$out/lbd.cfg" 2>"$out/lbd.err" &
lbd_pid=$!
pids+=($lbd_pid)

# Wait for both to answer.
for _ in $(seq 100); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$LB_PORT/" 2>/dev/null; then break; fi
    sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$LB_PORT/" || { echo "lbd does not answer"; cat "$out/lbd.err"; exit 1; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }

cat >"$out/delay.lua" <<EOF
function delay() return $DELAY_MS end
EOF

echo "soak: ${SOAK_SECONDS}s, wrk -t1 -c$CONNS with ${DELAY_MS} ms between requests per connection, SIGUSR2 every ${RELOAD_EVERY}s, origin: $origin"
echo "t_s,rss_kib,fds" >"$out/soak.csv"
start_rss=$(rss_kb $lbd_pid)
start_fds=$(fds $lbd_pid)
echo "0,$start_rss,$start_fds" >>"$out/soak.csv"

wrk -t1 -c"$CONNS" -d"${SOAK_SECONDS}s" -s "$out/delay.lua" "http://127.0.0.1:$LB_PORT/" >"$out/wrk.txt" 2>&1 &
wrk_pid=$!
pids+=($wrk_pid)

t0=$(date +%s)
reloads=0
next_reload=$RELOAD_EVERY
next_sample=$SAMPLE_EVERY
max_rss=$start_rss
max_fds=$start_fds
while kill -0 $wrk_pid 2>/dev/null; do
    sleep 1
    now=$(($(date +%s) - t0))
    if [ "$now" -ge "$next_reload" ] && [ "$now" -lt "$SOAK_SECONDS" ]; then
        kill -USR2 $lbd_pid
        reloads=$((reloads + 1))
        next_reload=$((next_reload + RELOAD_EVERY))
    fi
    if [ "$now" -ge "$next_sample" ]; then
        r=$(rss_kb $lbd_pid)
        f=$(fds $lbd_pid)
        echo "$now,$r,$f" >>"$out/soak.csv"
        [ "$r" -gt "$max_rss" ] && max_rss=$r
        [ "$f" -gt "$max_fds" ] && max_fds=$f
        next_sample=$((next_sample + SAMPLE_EVERY))
    fi
done
wait $wrk_pid || true
# Let idle connections close (clients: lbd's `timeout http-keep-alive 1s`; pooled
# server connections: nginx's `keepalive_timeout 2s`), then sample.
sleep 5
end_rss=$(rss_kb $lbd_pid)
end_fds=$(fds $lbd_pid)
echo "$(($(date +%s) - t0)),$end_rss,$end_fds" >>"$out/soak.csv"

requests=$(awk '/requests in/ {print $1}' "$out/wrk.txt")
sock=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$out/wrk.txt")
errors=$(( ${sock:-0} + ${non2xx:-0} ))
completed=$(grep -c "Reload complete" "$out/lbd.err" || true)
failed=$(grep -c "Reload failed" "$out/lbd.err" || true)
rate=$(awk '/Requests\/sec/ {print $2}' "$out/wrk.txt")

echo
echo "requests:     ${requests:-0} (${rate:-?}/s)"
echo "errors:       $errors (socket errors ${sock:-0}, non-2xx ${non2xx:-0})"
echo "reloads:      $reloads sent, $completed completed, $failed failed"
echo "RSS (KiB):    start $start_rss, end $end_rss, max $max_rss"
echo "descriptors:  start $start_fds, end $end_fds, max $max_fds"
echo "samples:      $out/soak.csv; wrk output: $out/wrk.txt; lbd log: $out/lbd.err"
[ "$errors" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$completed" -eq "$reloads" ]
