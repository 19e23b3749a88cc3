#!/usr/bin/env bash
# Soak run (not part of the tests): a private PostgreSQL cluster with the
# cleanup worker, 1,000 emits/s mixed inline and attachment for MINUTES
# (default 30) to the Rust listener; prints a Markdown table, one row per
# minute, and fails if any message is lost. BENCHMARKS.md holds the last run.
# Usage: scripts/soak.sh [minutes]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2
scripts/install.sh --release >&2
cargo run --release -p pg_socketio_bench -- soak "${1:-30}"
