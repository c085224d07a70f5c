#!/usr/bin/env bash
# Runs HAProxy 2.6's own regression tests (../shared/conformance/reg-tests) against lbd
# with VTest, as HAProxy's scripts/run-regtests.sh runs them against HAProxy.
#
# Usage: bash conformance/run.sh [--expected | --all | TEST.vtc ...]
#   --expected (default): the tests in conformance/expected-pass.txt; exit 1 if any fails
#   --all: every test that applies to a 2.6 build (175), for the README's figures
#   names: those tests (paths relative to reg-tests/, e.g. balance/balance-rr.vtc)
# Env: LBD=path (skip the release build), JOBS=2, SHARED=../shared, KEEP_LOGS=1
#
# Prints one line per test (passed / FAILED / skipped: why) and `N passed, M failed,
# K skipped`. Logs of failed tests go to target/conformance/logs/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED:-$root/../shared}
suite="$shared/conformance/reg-tests"
out="$root/target/conformance"
mkdir -p "$out/logs"

# --- VTest, built in a copy (the shared folder is read-only in CI) -------------------
vtest="$out/vtest/vtest"
if [ ! -x "$vtest" ]; then
    if ! dpkg -s libpcre2-dev zlib1g-dev >/dev/null 2>&1; then
        (apt-get update -qq && apt-get install -y -qq libpcre2-dev zlib1g-dev) >&2
    fi
    rm -rf "$out/vtest"
    cp -r "$shared/conformance/vtest" "$out/vtest"
    make -C "$out/vtest" FLAGS="-O2 -Wall" >"$out/vtest-build.log" 2>&1 || {
        tail -20 "$out/vtest-build.log" >&2
        exit 1
    }
fi

# The ssl reg-tests talk to the runtime socket through socat.
if ! command -v socat >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq socat) >&2
fi

# --- lbd ------------------------------------------------------------------------------
if [ -z "${LBD:-}" ]; then
    (cd "$root" && cargo build --release --quiet)
    LBD="$root/target/release/lbd"
fi
LBD=$(realpath "$LBD")
export HAPROXY_PROGRAM="$LBD"
features=$("$LBD" -vv | sed -n 's/^Feature list : //p')

# --- which tests ------------------------------------------------------------------------
mode=expected
tests=()
case "${1:-}" in
    "" | --expected) mode=expected ;;
    --all) mode=all ;;
    *) mode=named; tests=("$@") ;;
esac
# A test applies to a 2.6 build unless it is marked broken or needs another version.
applies() { # file
    local f=$1 v
    grep -q '^#REGTEST_TYPE=broken' "$f" && return 1
    v=$(sed -n 's/^#REQUIRE_VERSION=//p' "$f")
    if [ -n "$v" ] && [ "$(printf '%s\n2.6\n' "$v" | sort -V | tail -1)" != "2.6" ]; then return 1; fi
    v=$(sed -n 's/^#REQUIRE_VERSION_BELOW=//p' "$f")
    if [ -n "$v" ] && [ "$(printf '%s\n2.6\n' "$v" | sort -V | tail -1)" = "2.6" ]; then return 1; fi
    return 0
}
if [ "$mode" = expected ]; then
    mapfile -t tests < <(grep -v '^\s*#' "$root/conformance/expected-pass.txt" | sed '/^\s*$/d')
elif [ "$mode" = all ]; then
    mapfile -t tests < <(cd "$suite" && find . -name '*.vtc' | sed 's|^\./||' | sort)
fi

# Options lbd lacks (`#REQUIRE_OPTIONS=A,B|C`): the reason to skip, or nothing.
missing_option() { # file
    local req opt alt ok
    req=$(sed -n 's/^#REQUIRE_OPTIONS=//p' "$1")
    [ -z "$req" ] && return 0
    for opt in ${req//,/ }; do
        ok=0
        for alt in ${opt//|/ }; do
            case " $features " in *" +$alt "*) ok=1 ;; esac
        done
        [ $ok = 1 ] || { echo "$opt"; return 0; }
    done
}

run_one() { # relative path
    local t=$1 f="$suite/$1" log why rc
    log="$out/logs/${t//\//__}.log"
    if [ ! -f "$f" ]; then echo "FAILED  $t (no such test)"; return; fi
    if ! applies "$f"; then echo "skipped $t (not for a 2.6 build)"; return; fi
    why=$(missing_option "$f")
    if [ -n "$why" ]; then echo "skipped $t (needs $why)"; return; fi
    rc=0
    (cd "$suite" && timeout 120 "$vtest" -b $((2 << 20)) -k -t 10 -v "$t") >"$log" 2>&1 || rc=$?
    case $rc in
        0) echo "passed  $t"; [ -n "${KEEP_LOGS:-}" ] || rm -f "$log" ;;
        77) echo "skipped $t (the test's own feature check)" ;;
        *) echo "FAILED  $t (log: ${log#$root/})" ;;
    esac
}
export -f run_one applies missing_option
export suite out root vtest features
results=$(printf '%s\n' "${tests[@]}" | xargs -P "${JOBS:-2}" -I{} bash -c 'run_one "$@"' _ {} | sort -k2)
echo "$results"
passed=$(grep -c '^passed' <<<"$results" || true)
failed=$(grep -c '^FAILED' <<<"$results" || true)
skipped=$(grep -c '^skipped' <<<"$results" || true)
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$mode" = all ]; then
    echo "by folder (passed/applicable):"
    for d in $(printf '%s\n' "${tests[@]}" | cut -d/ -f1 | sort -u); do
        total=0
        for t in $(printf '%s\n' "${tests[@]}" | grep "^$d/"); do applies "$suite/$t" && total=$((total + 1)); done
        p=$(grep -c "^passed  $d/" <<<"$results" || true)
        [ "$total" -gt 0 ] && echo "  $d: $p/$total"
    done
fi
[ "$failed" -eq 0 ]
