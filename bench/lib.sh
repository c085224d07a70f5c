# Shared by bench/soak.sh and bench/slowloris.sh (sourced, not run).
#
# bench_setup NAME: sets `out` (bench/out/NAME), `LB_PORT` (PORT_BASE) and
#   `ORIGIN_PORT` (PORT_BASE + 1), builds lbd unless LBD is set, and installs an EXIT
#   trap that stops every pid in `pids`.
# start_origin PORT [KEEPALIVE_TIMEOUT]: a 64-byte origin on 127.0.0.1:PORT (nginx,
#   one worker; python3's threading http.server when nginx is missing); sets `origin`
#   to what runs.

bench_setup() {
    here=$(cd "$(dirname "$0")" && pwd)
    root=$(dirname "$here")
    out="$here/out/$1"
    mkdir -p "$out"
    LB_PORT=$PORT_BASE
    ORIGIN_PORT=$((PORT_BASE + 1))
    command -v wrk >/dev/null || { echo "$1.sh needs wrk" >&2; exit 2; }
    if [ -z "${LBD:-}" ]; then
        (cd "$root" && cargo build --release --quiet)
        LBD="$root/target/release/lbd"
    fi
    pids=()
    trap bench_cleanup EXIT
}

bench_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}

start_origin() {
    local port=$1 keepalive=${2:-75s}
    if command -v nginx >/dev/null; then
        mkdir -p "$out/tmp"
        cat >"$out/origin.conf" <<EOF
worker_processes 1;
daemon off;
pid $out/origin.pid;
error_log $out/origin.err warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout $keepalive;
    client_body_temp_path $out/tmp; proxy_temp_path $out/tmp; fastcgi_temp_path $out/tmp;
    uwsgi_temp_path $out/tmp; scgi_temp_path $out/tmp;
    server {
        listen 127.0.0.1:$port;
        location / { default_type text/plain; return 200 "0123456789012345678901234567890123456789012345678901234567890123"; }
    }
}
EOF
        nginx -c "$out/origin.conf" -e "$out/origin.err" >/dev/null 2>&1 &
        pids+=($!)
        origin="nginx"
    else
        python3 - "$port" >/dev/null 2>&1 <<'EOF' &
import sys, http.server
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        b = b"x" * 64
        self.send_response(200); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
        pids+=($!)
        origin="python3 http.server"
    fi
}
