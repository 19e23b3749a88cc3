#!/usr/bin/env bash
# Runs every test, in layers: lint, codec unit tests, then for PostgreSQL 15
# (the machine's server), 16, 17 and 18 (private servers of the builds
# scripts/setup.sh fetches, scripts/majors.env): in-database #[pg_test]s, integration tests, isolation
# specs, and interop tests against the real Node.js packages; then the
# release builds on older minor releases (scripts/older-minors.sh), and the
# packages. Sets up a fresh machine first.
#
# What it installs where: the release build of pg_socketio into each major's
# own directories (PostgreSQL 15: /usr/lib/postgresql/15/lib and
# /usr/share/postgresql/15/extension; 16, 17 and 18: their folders under /opt). The #[pg_test]
# harness installs a debug build first; the release build replaces it, so
# the machine's server is left with what users run.
# PG_MAJORS="15" runs one major only.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/majors.env
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
export CARGO_PGRX_TEST_RUNAS=${CARGO_PGRX_TEST_RUNAS:-postgres}
[ "$(id -u)" = 0 ] || unset CARGO_PGRX_TEST_RUNAS
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

scripts/setup.sh

say "lint: cargo fmt, cargo clippy -D warnings, rustdoc of the two library crates"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --features pg_socketio/pg_test,pg_socketio_client/socketioxide -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p pg_socketio_protocol -p pg_socketio_client

say "1/4 codec and client unit tests"
cargo test -p pg_socketio_protocol -p pg_socketio_client --features pg_socketio_client/socketioxide
# Again with serde_json's arbitrary_precision, which any crate of an
# application can turn on for all: it hands numbers over differently.
cargo test -p pg_socketio_protocol -p pg_socketio_client \
  --features pg_socketio_client/socketioxide,serde_json/arbitrary_precision

# The Rust programs the interop tests judge: the emitter driver and the
# socketioxide bridge.
cargo build -p pg_socketio_tests --bins
cargo build -p pg_socketio_client --features socketioxide --examples

trap 'for m in 16 17 18; do scripts/private-cluster.sh $m stop; done' EXIT
# Where major_upgrade.rs upgrades from with pg_upgrade (to 18, the newer
# major here that has pg_upgrade): 16, installed by the loop before 18's
# turn. Not 15: the 15 build here writes an attribute option (pg_attver)
# that newer servers refuse, so pg_upgrade from it fails for any table.
export PG_UPGRADE_FROM=${PG_UPGRADE_FROM:-$(pg_home 16)/bin}
# The newest major's client tools, for a server installation without them
# (17's here has no pg_basebackup): pg_basebackup copies older servers too.
export PG_CLIENT_TOOLS=${PG_CLIENT_TOOLS:-$(pg_home 18)/bin}
for major in ${PG_MAJORS:-15 16 17 18}; do
  if [ "$major" = 15 ]; then
    url=$DATABASE_URL
  else
    url=$(scripts/private-cluster.sh "$major" start)
  fi
  bindir=$(pg_home "$major")/bin

  say "2/4 PostgreSQL $major: in-database tests (#[pg_test])"
  CARGO_PGRX_TEST_PGDATA=/tmp/pgrx-test-pgdata-$major \
    cargo pgrx test "pg$major" -p pg_socketio --no-default-features --features "pg$major"

  say "3/4 PostgreSQL $major: integration tests and isolation specs against $url"
  PG_MAJOR=$major scripts/install.sh --release
  DATABASE_URL=$url PATH=$bindir:$PATH cargo test -p pg_socketio_tests
  DATABASE_URL=$url PG_MAJOR=$major scripts/isolation.sh

  say "4/4 PostgreSQL $major: interop tests against the real Node.js packages"
  (cd tests/interop && DATABASE_URL=$url PATH=$bindir:$PATH npm test)
done

say "the release builds on older minor releases: 15.10, 16.6, 17.2, 18.0"
scripts/older-minors.sh

say "packages: built for 15, 16, 17 and 18; the 15 one installed with dpkg, used and removed"
scripts/test-package.sh
