#!/usr/bin/env bash
# The packages of scripts/package.sh are built (15, 16, 17 and 18), and the Debian
# package installed on this machine's PostgreSQL 15: remove the source
# install, install the package with dpkg, CREATE EXTENSION, see an emit reach
# a Node.js client, remove the package and check nothing of it is left; then
# put the release build from source back, as the machine was.
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
installed() { ls /usr/lib/postgresql/15/lib/pg_socketio.so /usr/share/postgresql/15/extension/pg_socketio* 2>/dev/null || true; }
sql() { PGOPTIONS=--client-min-messages=warning psql "$DATABASE_URL" -qAtc "$1"; }

packages=$(scripts/package.sh)
deb=$(grep 'postgresql-15-.*\.deb$' <<<"$packages")

# Each package depends on a glibc that has every symbol version its library
# uses (read here with objdump, apart from dpkg-shlibdeps in package.sh).
for package in $(grep '\.deb$' <<<"$packages"); do
  files=$(mktemp -d)
  dpkg-deb -x "$package" "$files"
  needs=$(objdump -T "$files"/usr/lib/postgresql/*/lib/pg_socketio.so | grep -o 'GLIBC_[0-9.]*' |
    sed 's/GLIBC_//' | sort -uV | tail -1)
  rm -rf "$files"
  depends=$(dpkg-deb -f "$package" Depends)
  min=$(sed -n 's/.*libc6 (>= \([0-9.]*\)).*/\1/p' <<<"$depends")
  if [ -z "$min" ] || dpkg --compare-versions "$min" lt "$needs"; then
    echo "$package: Depends: $depends, but its library uses GLIBC_$needs" >&2
    exit 1
  fi
  echo "$(basename "$package"): Depends: $depends (the library uses up to GLIBC_$needs)"
done

trap 'scripts/install.sh --release >/dev/null 2>&1' EXIT

sql "DROP EXTENSION IF EXISTS pg_socketio CASCADE"
installed | xargs -r rm -f
[ -z "$(installed)" ]
as_root dpkg -i "$deb" >/dev/null
dpkg -L postgresql-15-pg-socketio | grep -qx /usr/lib/postgresql/15/lib/pg_socketio.so

sql "CREATE EXTENSION pg_socketio"
out=$(node tests/interop/programs/demo.mjs "SELECT sio_emit('room1', 'ping', '{\"n\":1}')")
echo "$out"
grep -qx 'client received: ping {"n":1}' <<<"$out"

sql "DROP EXTENSION pg_socketio"
as_root dpkg -r postgresql-15-pg-socketio >/dev/null
if [ -n "$(installed)" ]; then
  echo "left behind after dpkg -r:" >&2
  installed >&2
  exit 1
fi
echo "package: installed, emitted, removed cleanly ($deb)"
