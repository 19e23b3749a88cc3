#!/usr/bin/env bash
# The main job on a fresh machine: set up, build, install pg_socketio into the
# local PostgreSQL, CREATE EXTENSION, and show an emit from SQL reaching a
# real Socket.IO client. Optional argument: the SQL statement to run.
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
scripts/setup.sh
scripts/install.sh --release
PGOPTIONS=--client-min-messages=warning psql "$DATABASE_URL" -qc "CREATE EXTENSION IF NOT EXISTS pg_socketio" -c "ALTER EXTENSION pg_socketio UPDATE"
node tests/interop/programs/demo.mjs "$@"
