#!/usr/bin/env bash
# Durable delivery proof (not part of the tests): a private cluster with
# wal_level = logical and pg_socketio.delivery = 'wal', 1,000 emits/s for
# MINUTES (default 5) while the durable listener is killed KILLS times (50)
# and the server restarted RESTARTS times (20); prints a table per minute and
# fails if a message is missing or out of order. BENCHMARKS.md holds the last run.
# Usage: scripts/durable-soak.sh [minutes] [kills] [restarts]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >&2
scripts/install.sh --release >&2
cargo run --release -p pg_socketio_bench -- durable "${1:-5}" "${2:-50}" "${3:-20}"
