#!/usr/bin/env bash
# A Patroni-managed PostgreSQL primary and streaming replica on loopback, for the failover
# tests (tests/failover) and for trying a failover by hand.
#
#   scripts/patroni.sh start          # idempotent: a healthy cluster is left running
#   scripts/patroni.sh stop           # stops Patroni, PostgreSQL and etcd; removes their data
#   scripts/patroni.sh status         # the members as Patroni sees them; exit 1 unless healthy
#   scripts/patroni.sh url            # the multi-host SQLAlchemy URL that finds the primary
#   scripts/patroni.sh haproxy-url    # the SQLAlchemy URL of HAProxy, which routes to it
#   scripts/patroni.sh wait-healthy [SECONDS]  # wait (bounded) for a primary and a standby
#   scripts/patroni.sh primary        # the name of the current primary (leader)
#   scripts/patroni.sh kill-primary   # SIGKILL the primary's postmaster; prints what it killed
#   scripts/patroni.sh wait-primary [SECONDS [NOT]]  # wait (bounded) for a running leader
#                                     # (other than member NOT); prints its name
#
# No Docker: Debian's packages (patroni, etcd-server, postgresql 15 binaries). One etcd
# member (client 127.0.0.1:$RC_PATRONI_ETCD_PORT, peer the next port) holds the leader
# key; two PostgreSQL members pg1 and pg2 listen on $RC_PATRONI_PG_PORT + 1 and + 2, their
# Patroni REST APIs on $RC_PATRONI_API_PORT + 0 and + 1, and HAProxy on $RC_PATRONI_PG_PORT
# routes to the member whose REST API answers GET /primary with 200 (Patroni's health
# check), when haproxy is installed. PostgreSQL refuses to run as root:
# run as root, the script runs the members as the postgres user. Trust authentication on
# 127.0.0.1 only: throwaway members for tests.
#
# Failover settings (Patroni's DCS configuration): synchronous_mode (RC_PATRONI_SYNC=on,
# the default; "off" for asynchronous replication; a running cluster is switched in place),
# primary_start_timeout 0 (a crashed primary is failed over at once instead of restarted
# in place), loop_wait 1 s and ttl 20 s.
#
# Environment: RC_PATRONI_DIR (default /tmp/reservation-core-patroni), RC_PATRONI_ETCD_PORT
# (2479), RC_PATRONI_PG_PORT (5440), RC_PATRONI_API_PORT (8008), RC_PATRONI_DATABASE (test),
# RC_PATRONI_SYNC (on), RC_PATRONI_BIN (default: the newest /usr/lib/postgresql/*/bin).
set -euo pipefail

DIR=${RC_PATRONI_DIR:-/tmp/reservation-core-patroni}
# Not etcd's own 2379: a distribution's etcd service may be serving there.
ETCD_PORT=${RC_PATRONI_ETCD_PORT:-2479}
PG_PORT=${RC_PATRONI_PG_PORT:-5440}
API_PORT=${RC_PATRONI_API_PORT:-8008}
DATABASE=${RC_PATRONI_DATABASE:-test}
SYNC=${RC_PATRONI_SYNC:-on}
BIN=${RC_PATRONI_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
MEMBERS=(1 2)
SCOPE=reservation-core

pg_port() { echo $((PG_PORT + $1)); }
api_port() { echo $((API_PORT + $1 - 1)); }
sync_flag() { case "$SYNC" in on | true | 1) echo true ;; off | false | 0) echo false ;; *)
  echo "RC_PATRONI_SYNC must be on or off, not $SYNC" >&2; exit 2 ;; esac; }

as_postgres() { # run a command as the postgres user (PostgreSQL refuses root)
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cluster_json() { # Patroni's view of the cluster, from whichever member answers
  local n
  for n in "${MEMBERS[@]}"; do
    curl -fsS --max-time 2 "http://127.0.0.1:$(api_port "$n")/cluster" 2>/dev/null && return 0
  done
  return 1
}

# The members as "name role state lag" lines (role: leader, sync_standby or replica; lag in
# bytes behind the leader, "-" for the leader itself).
members() {
  cluster_json | python3 -c '
import json, sys
for m in json.load(sys.stdin).get("members", []):
    print(m["name"], m["role"], m.get("state", "?"), m.get("lag", "-"))'
}

primary() { members 2>/dev/null | awk '$2 == "leader" && $3 == "running" {print $1}'; }

healthy() {
  local lines want=replica
  lines=$(members 2>/dev/null) || return 1
  [ "$(sync_flag)" = true ] && want=sync_standby
  echo "$lines" | grep -Eq '^pg[12] leader running ' || return 1
  # A standby that has caught up: Patroni promotes no standby lagging more than
  # maximum_lag_on_failover (which matters with asynchronous replication).
  echo "$lines" | grep -Eq "^pg[12] $want (streaming|running) 0$" || return 1
  [ "$(echo "$lines" | wc -l)" = "${#MEMBERS[@]}" ] || return 1
  ! command -v haproxy >/dev/null || kill -0 "$(cat "$DIR/haproxy.pid" 2>/dev/null)" 2>/dev/null
}

start_haproxy() { # Patroni's health check decides where HAProxy sends connections
  command -v haproxy >/dev/null || return 0
  kill -TERM "$(cat "$DIR/haproxy.pid" 2>/dev/null)" 2>/dev/null || true
  cat >"$DIR/haproxy.cfg" <<EOF
global
    maxconn 200
defaults
    mode tcp
    timeout connect 2s
    timeout client 30m
    timeout server 30m
listen postgresql_primary
    bind 127.0.0.1:$PG_PORT
    option httpchk GET /primary
    http-check expect status 200
    default-server inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
    server pg1 127.0.0.1:$(pg_port 1) check port $(api_port 1)
    server pg2 127.0.0.1:$(pg_port 2) check port $(api_port 2)
EOF
  haproxy -D -f "$DIR/haproxy.cfg" -p "$DIR/haproxy.pid"
}

write_config() { # write_config MEMBER
  local n=$1 here="$DIR/pg$1"
  mkdir -p "$here"
  cat >"$here/patroni.yml" <<EOF
scope: $SCOPE
name: pg$n
restapi:
  listen: 127.0.0.1:$(api_port "$n")
  connect_address: 127.0.0.1:$(api_port "$n")
etcd3:
  hosts: 127.0.0.1:$ETCD_PORT
bootstrap:
  dcs:
    ttl: 20
    loop_wait: 1
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    primary_start_timeout: 0
    synchronous_mode: $(sync_flag)
    postgresql:
      use_pg_rewind: true
      parameters:
        max_connections: 100
        wal_level: replica
        hot_standby: "on"
        wal_log_hints: "on"
        max_wal_senders: 5
        max_replication_slots: 5
  initdb:
    - encoding: UTF8
    - locale: C
postgresql:
  listen: 127.0.0.1:$(pg_port "$n")
  connect_address: 127.0.0.1:$(pg_port "$n")
  data_dir: $here/data
  bin_dir: $BIN
  pgpass: $here/pgpass
  authentication:
    superuser: {username: postgres, password: postgres}
    replication: {username: replicator, password: replicator}
    rewind: {username: postgres, password: postgres}
  parameters:
    unix_socket_directories: $here
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
EOF
}

start_etcd() {
  mkdir -p "$DIR/etcd"
  nohup etcd --name rc --data-dir "$DIR/etcd/data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster "rc=http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster-state new >"$DIR/etcd/etcd.log" 2>&1 &
  echo $! >"$DIR/etcd/pid"
  local _
  for _ in $(seq 1 30); do
    curl -fsS --max-time 1 "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "etcd did not come up; see $DIR/etcd/etcd.log" >&2
  return 1
}

start_member() { # start_member MEMBER
  local n=$1 here="$DIR/pg$1"
  write_config "$n"
  chmod 0700 "$here"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$here"
  # setsid: the member outlives this script and the caller's process group.
  as_postgres setsid nohup patroni "$here/patroni.yml" >>"$here/patroni.log" 2>&1 </dev/null &
}

wait_for() { # wait_for SECONDS CHECK...: poll a check once a second, bounded
  local seconds=$1 _
  shift
  for _ in $(seq 1 "$seconds"); do "$@" && return 0; sleep 1; done
  return 1
}

patroni_pids() { # the Patroni processes of this cluster (by their configuration file)
  local n
  for n in "${MEMBERS[@]}"; do pgrep -f "^[^ ]*python[0-9.]* .*patroni $DIR/pg$n/patroni.yml" || true; done
}

stop() {
  local pid n
  for pid in $(patroni_pids); do kill -TERM "$pid" 2>/dev/null || true; done
  wait_for 30 bash -c "[ -z \"\$(pgrep -f 'patroni $DIR/pg[12]/patroni.yml')\" ]" || {
    for pid in $(patroni_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  }
  for n in "${MEMBERS[@]}"; do # a postmaster Patroni left behind
    pid=$(head -n1 "$DIR/pg$n/data/postmaster.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      as_postgres "$BIN/pg_ctl" -D "$DIR/pg$n/data" stop -m immediate >/dev/null 2>&1 \
        || kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  pid=$(cat "$DIR/haproxy.pid" 2>/dev/null || true)
  [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true
  pid=$(cat "$DIR/etcd/pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait_for 10 bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}

set_sync_mode() { # switch a running cluster to the wanted replication mode
  local current
  current=$(curl -fsS --max-time 2 "http://127.0.0.1:$(api_port 1)/config" 2>/dev/null ||
    curl -fsS --max-time 2 "http://127.0.0.1:$(api_port 2)/config")
  current=$(echo "$current" | python3 -c \
    'import json,sys; print(str(bool(json.load(sys.stdin).get("synchronous_mode"))).lower())')
  [ "$current" = "$(sync_flag)" ] && return 0
  local n
  for n in "${MEMBERS[@]}"; do
    curl -fsS --max-time 5 -XPATCH -d "{\"synchronous_mode\": $(sync_flag)}" \
      "http://127.0.0.1:$(api_port "$n")/config" >/dev/null && return 0
  done
  return 1
}

ensure_database() {
  local port leader
  leader=$(primary)
  port=$(pg_port "${leader#pg}")
  psql -h 127.0.0.1 -p "$port" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1 ||
    psql -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE \"$DATABASE\""
}

start() {
  if healthy; then
    set_sync_mode && wait_for 30 healthy && ensure_database && return 0
  fi
  stop # whatever is left of an earlier run
  mkdir -p "$DIR"
  chmod 0755 "$DIR"
  start_etcd
  start_member 1
  # The first member bootstraps the cluster; the second then clones it.
  wait_for 60 bash -c "[ -n \"\$('$0' primary)\" ]" || {
    echo "no primary came up; see $DIR/pg1/patroni.log" >&2; exit 1; }
  start_member 2
  start_haproxy
  wait_for 90 healthy || { echo "the replica did not join; see $DIR/pg*/patroni.log" >&2
    members >&2 || true; exit 1; }
  ensure_database
}

kill_primary() {
  local leader pid
  leader=$(primary)
  [ -n "$leader" ] || { echo "no running primary to kill" >&2; exit 1; }
  pid=$(head -n1 "$DIR/$leader/data/postmaster.pid")
  kill -KILL "$pid"
  printf '{"killed": "%s", "pid": %s}\n' "$leader" "$pid"
}

url() {
  local hosts="" n
  for n in "${MEMBERS[@]}"; do hosts+="${hosts:+&}host=127.0.0.1:$(pg_port "$n")"; done
  echo "postgresql+psycopg://postgres@/$DATABASE?$hosts&target_session_attrs=read-write&connect_timeout=2"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) members && healthy ;;
  url) url ;;
  haproxy-url) echo "postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/$DATABASE?connect_timeout=2" ;;
  wait-healthy) wait_for "${2:-60}" healthy && members ;;
  primary) primary ;;
  kill-primary) kill_primary ;;
  wait-primary) # wait-primary [SECONDS [NOT]]: a running leader, other than NOT if given
    wait_for "${2:-60}" bash -c "p=\$('$0' primary); [ -n \"\$p\" ] && [ \"\$p\" != '${3:-}' ]" &&
      primary ;;
  *) echo "usage: $0 start|stop|status|url|haproxy-url|primary|kill-primary|" \
    "wait-primary [secs [not]]|wait-healthy [secs]" >&2
    exit 2 ;;
esac
