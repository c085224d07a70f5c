#!/usr/bin/env bash
# Browser test of lbd's live stats page: headless Chromium opens the page, one origin
# is killed, and that server's status cell must turn DOWN without a page reload.
#
#   tests/browser/stats_page.sh        # prints PASS, exits non-zero on failure
#
# Sets up what it needs (idempotent): Debian's chromium (apt-get, as root) when
# /usr/bin/chromium is missing, playwright-core from package-lock.json when
# node_modules lacks it, and `cargo build`. Then it starts two origins
# (python3 -m http.server), lbd with `check inter 200` on both and the stats page
# behind Basic auth, and runs stats_page.mjs. Every wait is bounded; the test itself
# takes a few seconds. Screenshot: target/browser/stats_page.png.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
START=$(date +%s)

log() { printf '[stats_page] %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

# --- prerequisites -------------------------------------------------------------
if [ ! -x "$CHROMIUM" ]; then
  log "installing chromium (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  if ! timeout 600 apt-get install -y chromium >/dev/null; then
    timeout 300 apt-get update >/dev/null
    timeout 600 apt-get install -y chromium >/dev/null
  fi
  [ -x "$CHROMIUM" ] || fail "chromium is not at $CHROMIUM after apt-get install"
fi
command -v node >/dev/null || fail "node is required (Node.js >= 20)"
command -v python3 >/dev/null || fail "python3 is required (origins)"
command -v curl >/dev/null || fail "curl is required"
if [ ! -f "$HERE/node_modules/playwright-core/package.json" ]; then
  command -v npm >/dev/null || fail "npm is required to install playwright-core"
  log "installing playwright-core (npm ci)"
  (cd "$HERE" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
log "cargo build"
(cd "$ROOT" && cargo build --quiet)
LBD="${CARGO_TARGET_DIR:-$ROOT/target}/debug/lbd"
[ -x "$LBD" ] || fail "no binary at $LBD"

# --- processes -----------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/lbd-browser.XXXXXX")"
PIDS=()
cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${PIDS[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ] && [ -f "$WORK/lbd.log" ]; then
    log "lbd stderr:"
    sed 's/^/    /' "$WORK/lbd.log" >&2
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (bounded) until `curl` gets a 2xx from $1.
wait_http() {
  local url="$1" what="$2" i
  for i in $(seq 1 100); do
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  fail "$what did not answer at $url within 10 s"
}

start_origin() {
  local name="$1" port="$2"
  mkdir -p "$WORK/$name"
  echo "$name" >"$WORK/$name/index.html"
  python3 -m http.server --bind 127.0.0.1 --directory "$WORK/$name" "$port" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  wait_http "http://127.0.0.1:$port/" "origin $name"
}

P1=$(free_port); P2=$(free_port); FE=$(free_port); ST=$(free_port)
start_origin s1 "$P1"
start_origin s2 "$P2"
ORIGIN2_PID="${PIDS[-1]}"

cat >"$WORK/lbd.cfg" <<EOF
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 500ms

frontend fe
    bind 127.0.0.1:$FE
    default_backend web

backend web
    balance roundrobin
    option httpchk GET /
    server s1 127.0.0.1:$P1 check inter 200
    server s2 127.0.0.1:$P2 check inter 200

listen stats
    bind 127.0.0.1:$ST
    stats enable
    stats uri /stats
    stats refresh 5s
    stats auth admin:browser
EOF
"$LBD" -f "$WORK/lbd.cfg" 2>"$WORK/lbd.log" &
PIDS+=($!)
for i in $(seq 1 100); do
  grep -q ' started: ' "$WORK/lbd.log" && break
  [ "$i" -eq 100 ] && fail "lbd did not start within 10 s"
  sleep 0.1
done
wait_http "http://127.0.0.1:$FE/" "lbd frontend"
# Both servers UP according to lbd before the browser looks.
for i in $(seq 1 100); do
  json="$(curl -fsS --max-time 1 -u admin:browser "http://127.0.0.1:$ST/stats;json" || true)"
  [ "$(grep -o '"status":"UP"' <<<"$json" | wc -l)" -eq 2 ] && break
  [ "$i" -eq 100 ] && fail "servers not UP within 10 s: $json"
  sleep 0.1
done

# --- the browser -----------------------------------------------------------------
mkdir -p "$ROOT/target/browser"
SHOT="$ROOT/target/browser/stats_page.png"
rm -f "$SHOT"
mkdir "$WORK/profile"
CHROMIUM="$CHROMIUM" STATS_URL="http://127.0.0.1:$ST/stats" STATS_USER=admin STATS_PASS=browser \
  KEEP_SERVER=web/s1 KILL_SERVER=web/s2 KILL_PID="$ORIGIN2_PID" \
  SCREENSHOT="$SHOT" PROFILE_DIR="$WORK/profile" \
  timeout 100 node "$HERE/stats_page.mjs" || fail "browser check failed"
[ -s "$SHOT" ] || fail "no screenshot at $SHOT"
grep -q 'Server web/s2 is DOWN' "$WORK/lbd.log" || fail "lbd did not log web/s2 DOWN"

log "done in $(($(date +%s) - START)) s; screenshot $SHOT"
echo PASS
