#!/usr/bin/env bash
# Benchmarks against the local PostgreSQL: installs the release build of
# pg_socketio, runs the codec benchmarks (criterion), then the SQL and
# listener benchmarks, and prints one Markdown table (BENCHMARKS.md holds
# the last committed one, with the machine it ran on). ≈ 15 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}

# Only the table goes to stdout.
scripts/setup.sh >&2
scripts/install.sh --release >&2
psql "$DATABASE_URL" -qc "DROP EXTENSION IF EXISTS pg_socketio CASCADE; CREATE EXTENSION pg_socketio"
cargo bench -p pg_socketio_protocol --bench codec -- --warm-up-time 2 --measurement-time 5 >&2
cargo run --release -p pg_socketio_bench
