#!/usr/bin/env bash
# `systemd-analyze verify` on lbd's units, in a container without systemd running:
# the unit is copied with its /usr/sbin/lbd replaced by the binary just built (verify
# checks that the commands exist), and the man page of Documentation=man:lbd(8) is
# looked up in packaging/ (verify runs `man` for it).
set -euo pipefail
cd "$(dirname "$0")/.."
LBD=${LBD:-$PWD/target/debug/lbd}
if ! command -v systemd-analyze >/dev/null; then
    apt-get update -qq && apt-get install -y -qq systemd >/dev/null
fi
if ! command -v man >/dev/null; then
    apt-get update -qq && apt-get install -y -qq man-db >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/man/man8"
cp packaging/lbd.8 "$work/man/man8/lbd.8"
for u in lbd.service lbd.socket; do
    sed "s|/usr/sbin/lbd|$LBD|g" "packaging/systemd/$u" >"$work/$u"
done
cd "$work"
MANPATH="$work/man" systemd-analyze verify --man=yes ./lbd.service ./lbd.socket
echo "systemd-analyze verify: lbd.service and lbd.socket are clean"
