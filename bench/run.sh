#!/usr/bin/env bash
# Proxy benchmark: lbd against HAProxy and nginx, with the origins alone as the ceiling.
#
# Two nginx origins (one worker each, 64-byte body at /, 1 MiB at /big) on loopback;
# HAProxy, nginx-as-proxy and lbd in front of them with equivalent configs (roundrobin
# over the two origins, tcp connect checks every 2 s where the proxy has checks, default
# thread counts, upstream keep-alive, no logs), each driven by `wrk -t1` on 127.0.0.1.
#
# Scenarios (SCENARIOS, in this order):
#   keepalive  http keep-alive, wrk -c64
#   tcp        a `mode tcp` frontend, wrk keep-alive through it
#   close      a new connection per request (`Connection: close`)
#   big        1 MiB response body
#   idle       10,000 idle keep-alive connections (bench/idle_conns.py): proxy RSS
#   tls-close  a new TLS connection (full handshake) per request, wrk over https
#   tls-keepalive  https keep-alive, wrk -c64
#   h2         HTTP/2 over TLS (ALPN h2), h2load -c CONNS -m H2_STREAMS
# The TLS scenarios use one self-signed ECDSA P-256 certificate (bench/out/bench.pem)
# for all three proxies; servers stay clear-text HTTP/1.1 behind them. `direct` has no
# TLS and sits them out.
# Each scenario runs ROUNDS times, systems interleaved (order rotated per round), each
# proxy started fresh for each run (so its VmHWM is that run's peak). Before each round
# the script waits until the 1-minute load average is below QUIET_LOAD (polling every
# QUIET_POLL s, at most QUIET_MAX s, and never past the TIME_LIMIT of the whole run).
#
# Output: bench/out/results.jsonl (raw, one line per run), bench/out/raw/ (wrk output),
# bench/out/report.md (medians) and the chart SVG_OUT (default docs/bench.svg).
#
# Usage: bash bench/run.sh
# Env:   LBD=path          skip `cargo build --release` and measure this lbd binary
#        LBD_VARIANTS="name=path ..."  extra lbd binaries, usable as TARGETS names
#        TARGETS="direct haproxy nginx lbd"   SCENARIOS="keepalive tcp close big idle"
#        ROUNDS=3 DURATION=5 WARMUP=1 CONNS=64 IDLE_N=10000 H2_STREAMS=10
#        QUIET_LOAD=1.0 QUIET_MAX=600 QUIET_POLL=15 TIME_LIMIT=870 (seconds)
#        SVG_OUT=docs/bench.svg (empty: no chart)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out="$here/out"
raw="$out/raw"
mkdir -p "$out" "$raw"

DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
IDLE_N=${IDLE_N:-10000}
SCENARIOS=${SCENARIOS:-"keepalive tcp close big idle tls-close tls-keepalive h2"}
H2_STREAMS=${H2_STREAMS:-10}
TARGETS=${TARGETS:-"direct haproxy nginx lbd"}
QUIET_LOAD=${QUIET_LOAD:-1.0}
QUIET_MAX=${QUIET_MAX:-600}
QUIET_POLL=${QUIET_POLL:-15}
TIME_LIMIT=${TIME_LIMIT:-870}
SVG_OUT=${SVG_OUT-$root/docs/bench.svg}
ORIGIN1=18081
ORIGIN2=18082
T0=$(date +%s)

missing=""
for c in haproxy nginx wrk curl python3 h2load openssl; do
    command -v "$c" >/dev/null || missing="$missing $c"
done
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing="$missing libnginx-mod-stream"
if [ -n "$missing" ]; then
    echo "installing:$missing" >&2
    apt-get install -y haproxy nginx wrk curl libnginx-mod-stream nghttp2-client openssl >&2
fi

# Enough descriptors for 10,000 client connections plus their upstreams.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# --- the lbd binaries --------------------------------------------------------------
declare -A LBD_BIN
if [ -z "${LBD:-}" ]; then
    (cd "$root" && cargo build --release --quiet)
    LBD="$root/target/release/lbd"
fi
# A private copy: a rebuild by someone else during the run must not change what runs.
cp "$LBD" "$out/lbd.bin"
LBD_BIN[lbd]="$out/lbd.bin"
for v in ${LBD_VARIANTS:-}; do
    LBD_BIN[${v%%=*}]="${v#*=}"
done

# --- configurations ----------------------------------------------------------------
body64=$(printf 'x%.0s' $(seq 63))   # 63 bytes + the newline nginx's `return` keeps = 64
mkdir -p "$out/www"
[ -s "$out/www/big" ] || head -c 1048576 /dev/zero | tr '\0' 'b' >"$out/www/big"

# One certificate for every proxy's TLS listener.
if [ ! -s "$out/bench.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
        -subj /CN=bench.test -addext subjectAltName=DNS:bench.test,IP:127.0.0.1 \
        -keyout "$out/bench.key" -out "$out/bench.crt" 2>/dev/null
    cat "$out/bench.crt" "$out/bench.key" >"$out/bench.pem"
fi

origin_conf() { # port
    cat <<EOF
worker_processes 1;
worker_rlimit_nofile $(ulimit -n);
daemon off;
pid $out/origin-$1.pid;
error_log $out/origin-$1.err warn;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    sendfile on;
    client_body_temp_path $out/tmp-$1;
    proxy_temp_path $out/tmp-$1;
    fastcgi_temp_path $out/tmp-$1;
    uwsgi_temp_path $out/tmp-$1;
    scgi_temp_path $out/tmp-$1;
    server {
        listen 127.0.0.1:$1 backlog=4096;
        location = /big { root $out/www; default_type application/octet-stream; }
        location / { default_type text/plain; return 200 "$body64\n"; }
    }
}
EOF
}

# One text for HAProxy and lbd (lbd reads HAProxy's configuration language); HAProxy
# gets two more global lines when the descriptor hard limit is below what it wants for
# maxconn (it refuses to start otherwise), lbd needs none.
haproxy_conf() { # http_port tcp_port tls_port [haproxy]
    local extra="" hard
    hard=$(ulimit -Hn)
    if [ "${4:-}" = haproxy ] && [ "$hard" != unlimited ] && [ "$hard" -lt 21100 ]; then
        extra=$(printf '    ulimit-n %s\n    no strict-limits' "$hard")
    fi
    cat <<EOF
# Generated by bench/run.sh.
global
    maxconn 10500
$extra
    # no nbthread: the default, one thread per CPU

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s

frontend fe_http
    bind 127.0.0.1:$1
    default_backend be_http

backend be_http
    balance roundrobin
    server o1 127.0.0.1:$ORIGIN1 check inter 2s
    server o2 127.0.0.1:$ORIGIN2 check inter 2s

frontend fe_tcp
    mode tcp
    bind 127.0.0.1:$2
    default_backend be_tcp

frontend fe_tls
    bind 127.0.0.1:$3 ssl crt $out/bench.pem alpn h2,http/1.1
    default_backend be_http

backend be_tcp
    mode tcp
    balance roundrobin
    server o1 127.0.0.1:$ORIGIN1 check inter 2s
    server o2 127.0.0.1:$ORIGIN2 check inter 2s
EOF
}

nginx_proxy_conf() { # http_port tcp_port tls_port
    cat <<EOF
# Generated by bench/run.sh. nginx open source has no active health checks: the
# upstreams use its passive ones (max_fails=1 fail_timeout=10s, the defaults).
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes auto;
worker_rlimit_nofile $(ulimit -n);
daemon off;
pid $out/nginx-proxy.pid;
error_log $out/nginx-proxy.err warn;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path $out/tmp-proxy;
    proxy_temp_path $out/tmp-proxy;
    fastcgi_temp_path $out/tmp-proxy;
    uwsgi_temp_path $out/tmp-proxy;
    scgi_temp_path $out/tmp-proxy;
    upstream origins {
        server 127.0.0.1:$ORIGIN1;
        server 127.0.0.1:$ORIGIN2;
        keepalive 256;
        keepalive_requests 1000000;
        keepalive_timeout 60s;
    }
    server {
        listen 127.0.0.1:$1 backlog=4096;
        listen 127.0.0.1:$3 ssl http2 backlog=4096;
        ssl_certificate $out/bench.crt;
        ssl_certificate_key $out/bench.key;
        http2_max_requests 1000000;
        location / {
            proxy_pass http://origins;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_max_temp_file_size 0;
        }
    }
}
stream {
    upstream origins_tcp {
        server 127.0.0.1:$ORIGIN1;
        server 127.0.0.1:$ORIGIN2;
    }
    server {
        listen 127.0.0.1:$2 backlog=4096;
        proxy_pass origins_tcp;
        proxy_timeout 60s;
    }
}
EOF
}

for p in $ORIGIN1 $ORIGIN2; do
    mkdir -p "$out/tmp-$p"
    origin_conf $p >"$out/origin-$p.conf"
done
mkdir -p "$out/tmp-proxy"

# Ports: one pair per system, so a slow exit never blocks the next one.
declare -A HTTP_PORT TCP_PORT TLS_PORT
i=0
for t in direct haproxy nginx lbd ${!LBD_BIN[@]}; do
    [ -n "${HTTP_PORT[$t]:-}" ] && continue
    HTTP_PORT[$t]=$((18100 + 10 * i))
    TCP_PORT[$t]=$((18101 + 10 * i))
    TLS_PORT[$t]=$((18102 + 10 * i))
    i=$((i + 1))
done
HTTP_PORT[direct]=$ORIGIN1
haproxy_conf "${HTTP_PORT[haproxy]}" "${TCP_PORT[haproxy]}" "${TLS_PORT[haproxy]}" haproxy >"$out/haproxy.cfg"
nginx_proxy_conf "${HTTP_PORT[nginx]}" "${TCP_PORT[nginx]}" "${TLS_PORT[nginx]}" >"$out/nginx-proxy.conf"
for t in "${!LBD_BIN[@]}"; do
    haproxy_conf "${HTTP_PORT[$t]}" "${TCP_PORT[$t]}" "${TLS_PORT[$t]}" >"$out/$t.cfg"
done
haproxy -c -q -f "$out/haproxy.cfg"
for t in "${!LBD_BIN[@]}"; do
    "${LBD_BIN[$t]}" -c -q -f "$out/$t.cfg"
done

# --- processes -----------------------------------------------------------------------
STARTED=()
cleanup() {
    for p in "${STARTED[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# The process and its children (nginx master and workers).
family() {
    local p=$1
    echo "$p"
    pgrep -P "$p" 2>/dev/null || true
}

# Clock ticks from /proc/PID/stat summed over the given pids: FIELDS is an awk
# expression over the fields after the command name ($12 utime, $13 stime).
stat_ticks() { # fields pids...
    local f=$1 t=0 p v
    shift
    for p in "$@"; do
        v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk "{print $f}") || v=0
        t=$((t + ${v:-0}))
    done
    echo $t
}

# utime+stime, and utime alone (user space).
cpu_ticks() { stat_ticks '$12 + $13' "$@"; }
user_ticks() { stat_ticks '$12' "$@"; }

# Busy ticks of the whole machine (all CPUs).
busy_ticks() {
    awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}

mem_kb() { # field pids...
    local f=$1 t=0 p v
    shift
    for p in "$@"; do
        v=$(awk -v f="$f:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null) || v=0
        t=$((t + ${v:-0}))
    done
    echo $t
}

# CPU seconds of this shell's reaped children (to charge wrk its own CPU), in
# CHILD_CPU. No command substitution: `times` in a subshell sees only its children.
child_cpu() {
    times >"$out/.times"
    CHILD_CPU=$(tail -1 "$out/.times" | awk '{
        s = 0
        for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }
        print s }')
}

wait_http() { # port
    local i
    for i in $(seq 100); do
        if curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/" 2>/dev/null | grep -q 200; then
            return 0
        fi
        sleep 0.1
    done
    echo "nothing answers 200 on port $1" >&2
    return 1
}

PROXY_PID=""
start_proxy() { # target
    local t=$1
    case $t in
        direct) PROXY_PID=$ORIGIN1_PID; return 0 ;;
        haproxy) haproxy -f "$out/haproxy.cfg" -db -q >"$out/haproxy.log" 2>&1 & ;;
        nginx) nginx -c "$out/nginx-proxy.conf" -e "$out/nginx-proxy.err" >/dev/null 2>&1 & ;;
        *) "${LBD_BIN[$t]}" -f "$out/$t.cfg" -q >"$out/$t.log" 2>&1 & ;;
    esac
    PROXY_PID=$!
    STARTED+=("$PROXY_PID")
    wait_http "${HTTP_PORT[$t]}"
}

stop_proxy() { # target
    [ "$1" = direct ] && return 0
    kill -TERM "$PROXY_PID" 2>/dev/null || true
    wait "$PROXY_PID" 2>/dev/null || true
}

for p in $ORIGIN1 $ORIGIN2; do
    nginx -c "$out/origin-$p.conf" -e "$out/origin-$p.err" >/dev/null 2>&1 &
    STARTED+=("$!")
    eval "ORIGIN_PID_$p=$!"
done
ORIGIN1_PID=$ORIGIN_PID_18081
ORIGIN2_PID=$ORIGIN_PID_18082
wait_http $ORIGIN1
wait_http $ORIGIN2
ORIGIN_PIDS="$(family "$ORIGIN1_PID") $(family "$ORIGIN2_PID")"

# --- measuring -----------------------------------------------------------------------
results="$out/results.jsonl"
: >"$results"
HZ=$(getconf CLK_TCK)
ROUND_START_LOAD=""
ROUND_QUIET=""

url_of() { # scenario target
    case $1 in
        tcp) echo "http://127.0.0.1:${TCP_PORT[$2]}/" ;;
        big) echo "http://127.0.0.1:${HTTP_PORT[$2]}/big" ;;
        tls-* | h2) echo "https://127.0.0.1:${TLS_PORT[$2]}/" ;;
        *) echo "http://127.0.0.1:${HTTP_PORT[$2]}/" ;;
    esac
}

run_one() { # round scenario target
    local r=$1 s=$2 t=$3
    [ "$s" = tcp ] && [ "$t" = direct ] && return 0
    [ "$s" = idle ] && [ "$t" = direct ] && return 0
    case $s in tls-* | h2) [ "$t" = direct ] && return 0 ;; esac
    start_proxy "$t"
    local pids
    pids=$(family "$PROXY_PID")
    local load1
    load1=$(cut -d' ' -f1 /proc/loadavg)
    if [ "$s" = idle ]; then
        local res
        res=$(python3 "$here/idle_conns.py" --port "${HTTP_PORT[$t]}" --n "$IDLE_N" \
            --pids "$(echo $pids | tr ' ' ',')")
        printf '{"round":%d,"scenario":"%s","target":"%s","load1":%s,"round_load1":%s,"round_quiet":%s,"idle":%s}\n' \
            "$r" "$s" "$t" "$load1" "$ROUND_START_LOAD" "$ROUND_QUIET" "$res" >>"$results"
        stop_proxy "$t"
        echo "  round $r $s $t: $res"
        return 0
    fi
    local url args=()
    url=$(url_of "$s" "$t")
    case $s in close | tls-close) args=(-H 'Connection: close') ;; esac
    if [ "$s" = h2 ]; then
        h2load -c"$CONNS" -m"$H2_STREAMS" -D"$WARMUP" "$url" >/dev/null 2>&1 || true
    else
        wrk -t1 -c"$CONNS" -d"${WARMUP}s" "${args[@]}" "$url" >/dev/null 2>&1 || true
    fi
    local c0 u0 b0 o0 w0 c1 u1 b1 o1 w1 hwm file
    file="$raw/r$r-$s-$t.txt"
    c0=$(cpu_ticks $pids)
    u0=$(user_ticks $pids)
    o0=$(cpu_ticks $ORIGIN_PIDS)
    b0=$(busy_ticks)
    child_cpu
    w0=$CHILD_CPU
    if [ "$s" = h2 ]; then
        # h2load prints no percentiles: the RESULT line carries its mean as mean_us.
        h2load -c"$CONNS" -m"$H2_STREAMS" -D"$DURATION" "$url" >"$file" 2>&1 || true
        python3 "$here/h2load_result.py" <"$file" >>"$file"
    else
        wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency -s "$here/wrk_report.lua" \
            "${args[@]}" "$url" >"$file" 2>&1 || true
    fi
    child_cpu
    w1=$CHILD_CPU
    b1=$(busy_ticks)
    o1=$(cpu_ticks $ORIGIN_PIDS)
    c1=$(cpu_ticks $pids)
    u1=$(user_ticks $pids)
    hwm=$(mem_kb VmHWM $pids)
    local wrkjson
    wrkjson=$(sed -n 's/^RESULT //p' "$file")
    [ -n "$wrkjson" ] || wrkjson='{"requests":0,"duration_us":1}'
    printf '{"round":%d,"scenario":"%s","target":"%s","load1":%s,"round_load1":%s,"round_quiet":%s,"hz":%d,"proxy_ticks":%d,"proxy_user_ticks":%d,"origin_ticks":%d,"busy_ticks":%d,"wrk_cpu_s":%s,"hwm_kb":%d,"wrk":%s}\n' \
        "$r" "$s" "$t" "$load1" "$ROUND_START_LOAD" "$ROUND_QUIET" "$HZ" $((c1 - c0)) $((u1 - u0)) $((o1 - o0)) \
        $((b1 - b0)) "$(awk -v a="$w0" -v b="$w1" 'BEGIN{printf "%.2f", b - a}')" "$hwm" "$wrkjson" >>"$results"
    stop_proxy "$t"
    python3 - "$results" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
w = r["wrk"]
rps = w["requests"] / (w["duration_us"] / 1e6)
errs = sum(v for k, v in w.items() if k.startswith("err_"))
print(f"  round {r['round']} {r['scenario']:9} {r['target']:8} {rps:9.0f} req/s  p50 {w.get('p50_us', 0) / 1000:.2f} ms  p99 {w.get('p99_us', 0) / 1000:.2f} ms  errors {errs}  load {r['load1']}")
EOF
}

# Waits for a quiet machine before a round; sets ROUND_START_LOAD and ROUND_QUIET.
wait_quiet() { # round
    local r=$1 now limit waited=0 load
    now=$(date +%s)
    # Leave time for the remaining rounds (estimated from the first one, else 150 s).
    local per_round=${ROUND_SECONDS:-150}
    limit=$((T0 + TIME_LIMIT - (ROUNDS - r + 1) * per_round - now))
    [ $limit -gt "$QUIET_MAX" ] && limit=$QUIET_MAX
    [ $limit -lt 0 ] && limit=0
    while :; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        if awk -v l="$load" -v q="$QUIET_LOAD" 'BEGIN{exit !(l < q)}'; then
            ROUND_QUIET=true
            break
        fi
        if [ $waited -ge $limit ]; then
            ROUND_QUIET=false
            echo "round $r: load $load still >= $QUIET_LOAD after ${waited}s; measuring anyway" >&2
            break
        fi
        echo "round $r: load $load, waiting for < $QUIET_LOAD (${waited}/${limit}s)" >&2
        sleep "$QUIET_POLL"
        waited=$((waited + QUIET_POLL))
    done
    ROUND_START_LOAD=$load
}

read -r -a targets <<<"$TARGETS"
n=${#targets[@]}
ROUND_SECONDS=""
for r in $(seq "$ROUNDS"); do
    wait_quiet "$r"
    t_round=$(date +%s)
    echo "round $r (load $ROUND_START_LOAD, quiet $ROUND_QUIET)"
    for s in $SCENARIOS; do
        for k in $(seq 0 $((n - 1))); do
            run_one "$r" "$s" "${targets[$(((k + r - 1) % n))]}"
        done
    done
    d=$(($(date +%s) - t_round))
    ROUND_SECONDS=$((ROUND_SECONDS > d ? ROUND_SECONDS : d))
done

echo "total $(($(date +%s) - T0)) s"
{
    echo "nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); kernel $(uname -r)"
    echo "$(haproxy -v | head -1 | cut -d' ' -f1-3); nginx $(nginx -v 2>&1 | cut -d/ -f2); lbd $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD -- src 2>/dev/null || echo ' (+ uncommitted changes)')"
} >"$out/machine.txt"
python3 "$here/report.py" "$results" --machine "$out/machine.txt" --md "$out/report.md" ${SVG_OUT:+--svg "$SVG_OUT"}
