#!/usr/bin/env bash
# Slowloris: does a crowd of slow clients delay normal requests?
#
# - Origin: one nginx (one worker, 64-byte body); python3's http.server without nginx.
# - lbd (release build) in front with `timeout http-request 300s`, so that the slow
#   clients stay connected for the whole run (in production `timeout http-request`
#   would cut each one off after its own few seconds).
# - Normal traffic: `wrk -t1 -c8 --latency` for DURATION s, each connection pausing
#   DELAY_MS between requests (moderate load); the p99 latency is read from wrk.
# - Run 1: normal traffic alone. Run 2: the same while SLOW connections (python3
#   asyncio) each send `GET / HTTP/1.1`, `Host` and then one byte of an endless header
#   value every second, never finishing the head.
#
# Prints p50/p99 of both runs, and how many slow connections were still open at the
# end (all of them: lbd must neither drop them early nor let them starve the rest).
#
# Usage: bench/slowloris.sh
# Env:   SLOW=1000 DURATION=20 DELAY_MS=5 CONNS=8 LBD=path PORT_BASE=18490
set -euo pipefail

. "$(dirname "$0")/lib.sh"

SLOW=${SLOW:-1000}
DURATION=${DURATION:-20}
DELAY_MS=${DELAY_MS:-5}
CONNS=${CONNS:-8}
PORT_BASE=${PORT_BASE:-18490}

bench_setup slowloris
start_origin "$ORIGIN_PORT"

cat >"$out/lbd.cfg" <<EOF
global
    maxconn 5000
defaults
    mode http
    timeout connect 1s
    timeout client 300s
    timeout server 10s
    timeout http-request 300s
    timeout http-keep-alive 300s
frontend web
    bind 127.0.0.1:$LB_PORT
    default_backend origin
backend origin
    server o1 127.0.0.1:$ORIGIN_PORT
EOF
"$LBD" -f "$out/lbd.cfg" 2>"$out/lbd.err" &
lbd_pid=$!
pids+=($lbd_pid)
for _ in $(seq 100); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$LB_PORT/" 2>/dev/null; then break; fi
    sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$LB_PORT/" || { echo "lbd does not answer"; cat "$out/lbd.err"; exit 1; }

cat >"$out/delay.lua" <<EOF
function delay() return $DELAY_MS end
EOF

measure() { # name -> prints "p50 p99 requests errors"
    wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency -s "$out/delay.lua" "http://127.0.0.1:$LB_PORT/" >"$out/wrk-$1.txt" 2>&1
    local p50 p99 req sock non2xx
    p50=$(awk '$1 == "50%" {print $2}' "$out/wrk-$1.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$out/wrk-$1.txt")
    req=$(awk '/requests in/ {print $1}' "$out/wrk-$1.txt")
    sock=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$out/wrk-$1.txt")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$out/wrk-$1.txt")
    echo "$p50 $p99 $req $(( ${sock:-0} + ${non2xx:-0} ))"
}

read -r b50 b99 breq berr < <(measure baseline)

# The slow clients: they print "ready N" once connected and "open N" when stopped.
python3 - "$LB_PORT" "$SLOW" >"$out/slow.txt" 2>&1 <<'EOF' &
import asyncio, signal, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
async def main():
    conns, closed = [], set()
    async def watch(i, r):
        while await r.read(4096):
            pass
        closed.add(i)
    for i in range(n):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"GET / HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
        conns.append(w)
        asyncio.ensure_future(watch(i, r))
    print("ready", len(conns), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    while not stop.is_set():
        for i, w in enumerate(conns):
            if i not in closed:
                w.write(b"a")
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass
    print("open", n - len(closed), flush=True)
asyncio.run(main())
EOF
slow_pid=$!
pids+=($slow_pid)
for _ in $(seq 300); do
    grep -q '^ready' "$out/slow.txt" 2>/dev/null && break
    sleep 0.1
done
grep -q '^ready' "$out/slow.txt" || { echo "the slow clients did not connect"; cat "$out/slow.txt"; exit 1; }
sleep 2
lbd_fds=$(ls /proc/$lbd_pid/fd | wc -l)

read -r s50 s99 sreq serr < <(measure slowloris)

kill -TERM $slow_pid
wait $slow_pid 2>/dev/null || true
still_open=$(awk '/^open/ {print $2}' "$out/slow.txt")

echo "normal traffic: wrk -t1 -c$CONNS, ${DELAY_MS} ms pause per connection, ${DURATION}s per run"
echo "without slow clients:        p50 $b50, p99 $b99 ($breq requests, $berr errors)"
echo "with $SLOW slow clients:     p50 $s50, p99 $s99 ($sreq requests, $serr errors)"
echo "lbd descriptors with the slow clients connected: $lbd_fds; slow connections still open at the end: ${still_open:-?}/$SLOW"
echo "outputs: $out/"
