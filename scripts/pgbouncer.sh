#!/usr/bin/env bash
# PgBouncer in transaction-pooling mode in front of the local PostgreSQL, on loopback.
#
#   scripts/pgbouncer.sh start    # idempotent: a running PgBouncer is left alone
#   scripts/pgbouncer.sh stop     # stops it and removes its directory
#   scripts/pgbouncer.sh status   # exit 1 unless it answers
#   scripts/pgbouncer.sh url      # the SQLAlchemy URL of the test database through it
#
# start also creates the test database (RC_PGBOUNCER_DATABASE) on PostgreSQL if missing.
#
# No Docker: Debian's pgbouncer package, with a configuration, port and directory of its
# own; PostgreSQL itself (127.0.0.1:5432, user postgres, trust) is never reconfigured.
# Every database name is passed through to PostgreSQL, with at most RC_PGBOUNCER_POOL
# server connections per database and user: that, not the clients' pools, bounds what
# PostgreSQL's max_connections must allow.
#
# Environment: RC_PGBOUNCER_DIR (default /tmp/reservation-core-pgbouncer), RC_PGBOUNCER_PORT
# (default 6435), RC_PGBOUNCER_POOL (default 20), RC_PGBOUNCER_DATABASE (default test_scaleout),
# RC_POSTGRESQL_HOST / RC_POSTGRESQL_PORT (default 127.0.0.1 / 5432).
set -euo pipefail

DIR=${RC_PGBOUNCER_DIR:-/tmp/reservation-core-pgbouncer}
PORT=${RC_PGBOUNCER_PORT:-6435}
POOL=${RC_PGBOUNCER_POOL:-20}
DATABASE=${RC_PGBOUNCER_DATABASE:-test_scaleout}
PGHOST_=${RC_POSTGRESQL_HOST:-127.0.0.1}
PGPORT_=${RC_POSTGRESQL_PORT:-5432}

answers() { psql -h 127.0.0.1 -p "$PORT" -U postgres -d pgbouncer -tAc "SHOW VERSION" >/dev/null 2>&1; }

start() {
  psql -h "$PGHOST_" -p "$PGPORT_" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1 ||
    psql -h "$PGHOST_" -p "$PGPORT_" -U postgres -qc "CREATE DATABASE \"$DATABASE\""
  if answers; then
    echo "PgBouncer already running: $(url)"
    return 0
  fi
  stop
  command -v pgbouncer >/dev/null || {
    echo "needs pgbouncer (apt-get install pgbouncer)" >&2
    exit 1
  }
  mkdir -p "$DIR"
  echo '"postgres" ""' >"$DIR/users.txt"
  cat >"$DIR/pgbouncer.ini" <<EOF
[databases]
* = host=$PGHOST_ port=$PGPORT_

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
auth_type = trust
auth_file = $DIR/users.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = $POOL
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits,options
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
EOF
  local user=()
  if [ "$(id -u)" = 0 ]; then  # PgBouncer refuses to run as root
    chown -R postgres "$DIR"
    user=(-u postgres)
  fi
  pgbouncer -d "${user[@]}" "$DIR/pgbouncer.ini"
  for _ in $(seq 1 30); do
    if answers; then
      echo "PgBouncer up (transaction pooling, $POOL server connections per database): $(url)"
      return 0
    fi
    sleep 0.5
  done
  echo "PgBouncer did not come up; the end of $DIR/pgbouncer.log:" >&2
  tail -n 20 "$DIR/pgbouncer.log" >&2 || true
  exit 1
}

stop() {
  local pid
  pid=$(cat "$DIR/pgbouncer.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null || true  # SIGINT: shut down at once
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    echo "PgBouncer stopped"
  fi
  rm -rf "$DIR"
}

url() { echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/$DATABASE"; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) answers && echo "PgBouncer answers on 127.0.0.1:$PORT" ;;
  url) url ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
