#!/usr/bin/env bash
# A PostgreSQL server for the tests, of a major that Debian 12 does not
# package (16, 17 or 18; scripts/setup.sh fetches them, scripts/majors.env
# says where): a private data directory and port, run as the postgres user,
# with a database "test" like the machine's own server.
# Usage: scripts/private-cluster.sh 16|17|18 start|stop
# Prints the server's URL on start: port 54<major> (5416, 5417, 5418), data in
# /tmp/pg_socketio_pg<major>, removed on stop.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/majors.env
MAJOR=${1:-}
case "$MAJOR" in
  16 | 17 | 18) ;;
  *) echo "usage: $0 16|17|18 start|stop" >&2; exit 2 ;;
esac
HOME_DIR=$(pg_home "$MAJOR")
PORT=54$MAJOR
DATA=/tmp/pg_socketio_pg$MAJOR
URL="postgres://postgres@127.0.0.1:$PORT/test"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${2:-}" in
  start)
    if ! as_postgres "$HOME_DIR/bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
      rm -rf "$DATA"
      install -d -m 700 "$DATA"
      [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
      as_postgres "$HOME_DIR/bin/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >/dev/null
      as_postgres "$HOME_DIR/bin/pg_ctl" -D "$DATA" -l "$DATA/log" -w \
        -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DATA" start >/dev/null
      "$HOME_DIR/bin/createdb" -h 127.0.0.1 -p "$PORT" -U postgres test
    fi
    echo "$URL"
    ;;
  stop)
    as_postgres "$HOME_DIR/bin/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$DATA"
    ;;
  *)
    echo "usage: $0 16|17|18 start|stop" >&2
    exit 2
    ;;
esac
