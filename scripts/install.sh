#!/usr/bin/env bash
# Builds pg_socketio and installs it into the local PostgreSQL.
# Usage: scripts/install.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/${PG_MAJOR:-15}/bin/pg_config}
cargo pgrx install -p pg_socketio --pg-config "$PG_CONFIG" "$@"
