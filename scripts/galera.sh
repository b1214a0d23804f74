#!/usr/bin/env bash
# A 3-node MariaDB Galera cluster on loopback, for the scale-out tests and benchmarks.
#
#   scripts/galera.sh start    # idempotent: a healthy cluster is left running
#   scripts/galera.sh stop     # stops the nodes and removes their data
#   scripts/galera.sh status   # cluster size and state of each node; exit 1 unless healthy
#   scripts/galera.sh urls     # one SQLAlchemy URL per node, comma-separated
#
# No Docker: three mariadbd processes (Debian's mariadb-server and galera-4) with their own
# data directories, sockets and ports, so a MariaDB already serving 3306 is never touched.
# Node N listens on 127.0.0.1:$((RC_GALERA_PORT + N)) for clients and on the next Galera
# ports for replication (4570+N), incremental state transfer (4580+N) and full state
# transfer by rsync (4590+N). Root has no password on these throwaway nodes.
#
# Environment: RC_GALERA_DIR (default /tmp/reservation-core-galera), RC_GALERA_PORT
# (default 3310), RC_GALERA_GALERA_PORT (default 4570), RC_GALERA_DATABASE (default test).
set -euo pipefail

DIR=${RC_GALERA_DIR:-/tmp/reservation-core-galera}
PORT=${RC_GALERA_PORT:-3310}
GPORT=${RC_GALERA_GALERA_PORT:-4570}
DATABASE=${RC_GALERA_DATABASE:-test}
NODES=(1 2 3)
PROVIDER=${RC_GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}

port_of() { echo $((PORT + $1)); }
sql() { # sql NODE STATEMENT
  mariadb --no-defaults -h 127.0.0.1 -P "$(port_of "$1")" -uroot -N -B -e "$2" 2>/dev/null
}
status_of() { sql "$1" "SHOW STATUS LIKE '$2'" | cut -f2; }
healthy() {
  local n
  for n in "${NODES[@]}"; do
    [ "$(status_of "$n" wsrep_cluster_size)" = "${#NODES[@]}" ] || return 1
    [ "$(status_of "$n" wsrep_local_state_comment)" = Synced ] || return 1
  done
}

write_config() { # write_config NODE
  local n=$1 here="$DIR/node$1" members="" m
  for m in "${NODES[@]}"; do members+="${members:+,}127.0.0.1:$((GPORT + m))"; done
  mkdir -p "$here/data"
  cat >"$here/my.cnf" <<EOF
[mysqld]
datadir=$here/data
socket=$here/mysqld.sock
pid-file=$here/mysqld.pid
log-error=$here/error.log
port=$(port_of "$n")
bind-address=127.0.0.1
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
max_connections=300
innodb_buffer_pool_size=64M
# Durability comes from the other nodes: a committed write set is on all three.
innodb_flush_log_at_trx_commit=2
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
wsrep_on=ON
wsrep_provider=$PROVIDER
wsrep_cluster_name=reservation_core
wsrep_cluster_address=gcomm://$members
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$((GPORT + n))
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$((GPORT + n));ist.recv_addr=127.0.0.1:$((GPORT + 10 + n));gcache.size=64M"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$((GPORT + 20 + n))
# One applier thread: with more, MariaDB 10.11 can stall applying a DML right after
# a DDL of the same table (an "MDL BF-BF conflict" in the error log).
wsrep_slave_threads=1
EOF
}

start_node() { # start_node NODE [--wsrep-new-cluster]
  local n=$1 here="$DIR/node$1"
  shift
  local user=()
  if [ "$(id -u)" = 0 ]; then
    chown -R mysql:mysql "$DIR"
    user=(--user=mysql)
  fi
  setsid mariadbd --defaults-file="$here/my.cnf" "${user[@]}" "$@" </dev/null >/dev/null 2>&1 &
  local waited
  for waited in $(seq 1 120); do
    if [ "$(status_of "$n" wsrep_local_state_comment)" = Synced ]; then
      echo "node$n synced on 127.0.0.1:$(port_of "$n") (${waited}s)"
      return 0
    fi
    sleep 1
  done
  echo "node$n did not sync; the end of $here/error.log:" >&2
  tail -n 30 "$here/error.log" >&2 || true
  return 1
}

stop() {
  local n pid
  for n in "${NODES[@]}"; do
    pid=$(cat "$DIR/node$n/mysqld.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
      echo "node$n stopped"
    fi
  done
  rm -rf "$DIR"
}

start() {
  if healthy; then
    echo "Galera cluster already running: $(urls)"
    return 0
  fi
  stop  # a partial or dead cluster from an earlier run: start afresh
  command -v mariadbd >/dev/null && [ -e "$PROVIDER" ] || {
    echo "needs mariadb-server and galera-4 (apt-get install mariadb-server galera-4)" >&2
    exit 1
  }
  local n
  for n in "${NODES[@]}"; do write_config "$n"; done
  mariadb-install-db --defaults-file="$DIR/node1/my.cnf" --auth-root-authentication-method=normal \
    $([ "$(id -u)" = 0 ] && echo --user=mysql) >"$DIR/install.log" 2>&1 || {
    cat "$DIR/install.log" >&2
    exit 1
  }
  start_node 1 --wsrep-new-cluster
  sql 1 "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
         GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
         CREATE DATABASE IF NOT EXISTS \`$DATABASE\` CHARACTER SET utf8mb4" || {
    echo "could not create the database on node1" >&2
    exit 1
  }
  # Joiners one at a time: each copies node1's data directory by rsync.
  for n in "${NODES[@]:1}"; do start_node "$n"; done
  healthy || { echo "the cluster is not healthy" >&2; status >&2; exit 1; }
  echo "Galera cluster up: $(urls)"
}

status() {
  local n ok=0
  for n in "${NODES[@]}"; do
    echo "node$n 127.0.0.1:$(port_of "$n") size=$(status_of "$n" wsrep_cluster_size)" \
      "state=$(status_of "$n" wsrep_local_state_comment)"
  done
  healthy || ok=1
  return $ok
}

urls() {
  local n out=""
  for n in "${NODES[@]}"; do
    out+="${out:+,}mysql+pymysql://root@127.0.0.1:$(port_of "$n")/$DATABASE"
  done
  echo "$out"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  urls) urls ;;
  *) echo "usage: $0 start|stop|status|urls" >&2; exit 2 ;;
esac
