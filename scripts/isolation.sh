#!/usr/bin/env bash
# Isolation specs for the transactional promise (tests/isolation/specs):
# PostgreSQL's own pg_isolation_regress interleaves sessions step by step
# and compares what each saw, notifications included, with
# tests/isolation/expected. Runs against DATABASE_URL's server with the
# pg_isolation_regress of PG_MAJOR (15: postgresql-server-dev-15; 16, 17
# and 18: the builds scripts/setup.sh fetches), in a scratch database it creates.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/majors.env
PG_MAJOR=${PG_MAJOR:-15}
home=$(pg_home "$PG_MAJOR")
# pgxs.mk is in <pgxs>/src/makefiles (lib/pgxs, or lib/postgresql/pgxs).
pgxs=$(dirname "$("$home/bin/pg_config" --pgxs)")/../..
url=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
hostport=${url#*@}; hostport=${hostport%%/*}
out=target/isolation-$PG_MAJOR
rm -rf "$out"
mkdir -p "$out"
# extension_update.spec creates a released version: its frozen install
# script goes next to the current one, as tests/tests/upgrade.rs puts it.
extdir=$("$home/bin/pg_config" --sharedir)/extension
for released in sql/released/pg_socketio--*.sql; do
  [ -e "$extdir/$(basename "$released")" ] || cp "$released" "$extdir/"
done
specs=$(cd tests/isolation/specs && ls *.spec | sed 's/\.spec$//')
# The build's own libpq first: 17's isolationtester looks for it in the
# folder it was built for (/usr/local/pg-build/lib), not where it is.
LD_LIBRARY_PATH="$home/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  "$pgxs/src/test/isolation/pg_isolation_regress" \
    --inputdir=tests/isolation --outputdir="$out" --bindir="$home/bin" \
    --host="${hostport%:*}" --port="${hostport#*:}" --user=postgres \
    --dbname=pg_socketio_isolation $specs || {
  cat "$out/regression.diffs" >&2 2>/dev/null
  exit 1
}
