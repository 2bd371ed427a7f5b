#!/usr/bin/env bash
# A project-local PostgreSQL 15 cluster for development and tests.
#
#   scripts/postgres.sh start|stop|status
#
# Settings (environment): PG_PORT (5432), PG_USER (alpes), PG_PASSWORD (alpes),
# PG_BIN (the PostgreSQL 15 server binaries), PG_START_TIMEOUT (60 s).
# Databases: `alpes` and `reportes` (SPEC section 2: one per bounded context).
# The cluster's superuser is PG_USER, so tests can create a fresh database per test.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=${PG_PORT:-5432}
PG_USER=${PG_USER:-alpes}
PG_PASSWORD=${PG_PASSWORD:-alpes}
PG_START_TIMEOUT=${PG_START_TIMEOUT:-60}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")}
DATABASES=(alpes reportes)
LOG_FILE="$LOG_DIR/postgres.log"

[[ -x $PG_BIN/pg_ctl ]] || die "PostgreSQL server binaries not found (set PG_BIN); on Debian: apt-get install postgresql-15"

# PostgreSQL refuses to run as root: as root, run it as the `postgres` system user, with
# the data in a directory that user can reach.
if [[ $(id -u) -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
  as_pg() { runuser -u postgres -- "$@"; }
  DATA_DIR="$STATE_DIR/postgres"
  mkdir -p "$DATA_DIR"
  if ! as_pg test -w "$DATA_DIR" 2>/dev/null; then
    chown postgres: "$DATA_DIR" "$LOG_DIR" 2>/dev/null || true
  fi
  if ! as_pg test -w "$DATA_DIR" 2>/dev/null; then
    # The checkout's parents are closed to other users: keep the cluster elsewhere.
    DATA_DIR="/var/tmp/alpes-postgres-$(printf '%s' "$STATE_DIR" | cksum | cut -d' ' -f1)"
    mkdir -p "$DATA_DIR" && chown postgres: "$DATA_DIR"
  fi
  touch "$LOG_FILE" && chown postgres: "$LOG_FILE"
  as_pg test -w "$LOG_FILE" || LOG_FILE="$DATA_DIR/postgres.log"
else
  as_pg() { "$@"; }
  DATA_DIR="$STATE_DIR/postgres"
fi

ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

psql_admin() {
  PGPASSWORD=$PG_PASSWORD psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres "$@"
}

create_databases() {
  local db
  for db in "${DATABASES[@]}"; do
    if [[ -z $(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'") ]]; then
      psql_admin -c "CREATE DATABASE \"$db\"" && log "created database $db"
    fi
  done
}

start() {
  if ready; then
    log "PostgreSQL already answers on 127.0.0.1:$PG_PORT"
    create_databases
    return 0
  fi
  if [[ ! -f $DATA_DIR/PG_VERSION ]]; then
    log "initialising a cluster in $DATA_DIR"
    local pwfile
    pwfile=$(mktemp)
    printf '%s\n' "$PG_PASSWORD" >"$pwfile"
    chmod 644 "$pwfile"
    as_pg "$PG_BIN/initdb" -D "$DATA_DIR" -U "$PG_USER" --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >>"$LOG_FILE" 2>&1 ||
      { rm -f "$pwfile"; die "initdb failed, see $LOG_FILE"; }
    rm -f "$pwfile"
  fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT (log: $LOG_FILE)"
  as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t "$PG_START_TIMEOUT" start \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=500 -c shared_buffers=256MB" \
    >/dev/null || die "PostgreSQL did not start, see $LOG_FILE"
  wait_until "$PG_START_TIMEOUT" "PostgreSQL on port $PG_PORT" ready || die "see $LOG_FILE"
  create_databases
  log "ready: postgres://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/alpes (and /reportes)"
}

stop() {
  if [[ -f $DATA_DIR/postmaster.pid ]]; then
    log "stopping PostgreSQL"
    as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -m fast -w -t 60 stop >/dev/null || true
  else
    log "PostgreSQL (cluster $DATA_DIR) is not running"
  fi
}

status() {
  if ready; then log "PostgreSQL answers on 127.0.0.1:$PG_PORT"; else log "PostgreSQL is down"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
