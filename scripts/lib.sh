# shellcheck shell=bash
# Helpers shared by the dev-service scripts. Source it; do not run it.
#
# Everything a service writes (data, pid files, logs) lives under $ALPES_STATE_DIR
# (default: <repo>/.local), so `make services-down` and `rm -rf .local` clean up fully.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
STATE_DIR="${ALPES_STATE_DIR:-$REPO_ROOT/.local}"
LOG_DIR="$STATE_DIR/logs"
mkdir -p "$STATE_DIR" "$LOG_DIR"

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.5 s until it succeeds,
# or fails after SECONDS.
wait_until() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.5
  done
}

# pid_alive PIDFILE: true when PIDFILE names a running process.
pid_alive() {
  [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

# stop_pid NAME PIDFILE [SECONDS]: SIGTERM the process group, SIGKILL after SECONDS (default 30).
stop_pid() {
  local name=$1 pidfile=$2 timeout=${3:-30}
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    log "$name is not running"
    return 0
  fi
  local pid
  pid=$(cat "$pidfile")
  log "stopping $name (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + timeout))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "$name did not stop within ${timeout}s, killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.5
  done
  rm -f "$pidfile"
}

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# http_ok URL: true on any 2xx answer within 5 s.
http_ok() {
  curl -fs --max-time 5 -o /dev/null "$1"
}
