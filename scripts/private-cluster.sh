#!/usr/bin/env bash
# A private PostgreSQL server for the tests: its own data directory and
# port, run as the postgres user, with a database "test" like the machine's
# own server.
# Usage: [PG_HOME=dir] [PORT=n] scripts/private-cluster.sh MAJOR start|stop
# The server is MAJOR's build of scripts/majors.env (16, 17 and 18 are the
# ones Debian 12 lacks; scripts/setup.sh fetches them) unless PG_HOME names
# another install, as scripts/older-minors.sh does. Port 54<major> (5416,
# 5417, 5418) unless PORT says; data in /tmp/pg_socketio_<port>, removed on
# stop. Prints the server's URL on start.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/majors.env
MAJOR=${1:-}
if [[ ! "$MAJOR" =~ ^1[3-8]$ ]] || [[ ! "${2:-}" =~ ^(start|stop)$ ]]; then
  echo "usage: [PG_HOME=dir] [PORT=n] $0 13..18 start|stop" >&2
  exit 2
fi
HOME_DIR=${PG_HOME:-$(pg_home "$MAJOR")}
PORT=${PORT:-54$MAJOR}
DATA=/tmp/pg_socketio_$PORT
URL="postgres://postgres@127.0.0.1:$PORT/test"

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$2" in
  start)
    if ! as_postgres "$HOME_DIR/bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
      rm -rf "$DATA"
      install -d -m 700 "$DATA"
      [ "$(id -u)" = 0 ] && chown postgres:postgres "$DATA"
      as_postgres "$HOME_DIR/bin/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >/dev/null
      as_postgres "$HOME_DIR/bin/pg_ctl" -D "$DATA" -l "$DATA/log" -w \
        -o "-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DATA" start >/dev/null
      # The machine's client: some builds ship the server programs only.
      /usr/lib/postgresql/15/bin/createdb -h 127.0.0.1 -p "$PORT" -U postgres test
    fi
    echo "$URL"
    ;;
  stop)
    as_postgres "$HOME_DIR/bin/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$DATA"
    ;;
esac
