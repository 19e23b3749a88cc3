#!/usr/bin/env bash
# Runs every test, in layers: lint, codec unit tests, in-database #[pg_test]s,
# integration tests against the local PostgreSQL, interop tests against the
# real Node.js packages. Sets up a fresh machine first.
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
export CARGO_PGRX_TEST_RUNAS=${CARGO_PGRX_TEST_RUNAS:-postgres}
export CARGO_PGRX_TEST_PGDATA=${CARGO_PGRX_TEST_PGDATA:-/tmp/pgrx-test-pgdata}
[ "$(id -u)" = 0 ] || unset CARGO_PGRX_TEST_RUNAS
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

scripts/setup.sh

say "lint: cargo fmt, cargo clippy -D warnings"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --features pg_socketio/pg_test,pg_socketio_client/socketioxide -- -D warnings

say "1/4 codec and client unit tests"
cargo test -p pg_socketio_protocol -p pg_socketio_client --features pg_socketio_client/socketioxide

say "2/4 in-database tests (#[pg_test])"
cargo pgrx test pg15 -p pg_socketio

say "3/4 integration tests against $DATABASE_URL"
scripts/install.sh --release
cargo test -p pg_socketio_tests

say "4/4 interop tests against the real Node.js packages"
# The Rust programs they judge: the emitter driver and the socketioxide bridge.
cargo build -p pg_socketio_tests --bins
cargo build -p pg_socketio_client --features socketioxide --examples
(cd tests/interop && npm test)
