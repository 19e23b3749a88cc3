#!/usr/bin/env bash
# Builds pg_socketio and installs it into the local PostgreSQL.
# Usage: [PG_MAJOR=15|16|17|18] scripts/install.sh [--release]
#
# Files are replaced by rename, never rewritten in place: a running backend
# keeps the pg_socketio.so it has mapped until it reconnects, while new
# sessions load the new one. (Rewriting a mapped library in place, as
# `cargo pgrx install` does, corrupts it under running backends: a soak run
# failed with "unrecognized function API version" when a build was
# installed beside it.)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/majors.env
PG_MAJOR=${PG_MAJOR:-15}
PG_CONFIG=${PG_CONFIG:-$(pg_home "$PG_MAJOR")/bin/pg_config}
profile=--debug
if [[ "${1:-}" == --release ]]; then profile=; fi
out=target/pgrx-install
rm -rf "$out"
cargo pgrx package -p pg_socketio --pg-config "$PG_CONFIG" $profile --out-dir "$out" \
    --no-default-features --features "pg$PG_MAJOR"
# The package holds the files at their installed paths, below $out.
(cd "$out" && find . -type f) | while read -r file; do
    dest=/${file#./}
    mkdir -p "$(dirname "$dest")"
    cp "$out/$file" "$dest.new.$$"
    mv -f "$dest.new.$$" "$dest"
    echo "installed $dest" >&2
done
