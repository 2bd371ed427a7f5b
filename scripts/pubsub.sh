#!/usr/bin/env bash
# The Google Pub/Sub emulator (gcloud beta emulators pubsub), for EVENT_BUS=pubsub runs.
#
#   scripts/pubsub.sh start|stop|status
#
# Settings: PUBSUB_PORT (8085), PUBSUB_PROJECT (alpes-local), PUBSUB_START_TIMEOUT (90 s).
# Clients find it through PUBSUB_EMULATOR_HOST=127.0.0.1:$PUBSUB_PORT.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PUBSUB_PORT=${PUBSUB_PORT:-8085}
PUBSUB_PROJECT=${PUBSUB_PROJECT:-alpes-local}
PUBSUB_START_TIMEOUT=${PUBSUB_START_TIMEOUT:-90}
PID_FILE="$STATE_DIR/pubsub.pid"
LOG_FILE="$LOG_DIR/pubsub.log"
DATA_DIR="$STATE_DIR/pubsub"

ready() { http_ok "http://127.0.0.1:$PUBSUB_PORT/"; }

start() {
  if ready; then
    log "Pub/Sub emulator already answers on 127.0.0.1:$PUBSUB_PORT"
    return 0
  fi
  command -v gcloud >/dev/null || die "gcloud not found: install the Google Cloud CLI with its pubsub-emulator component"
  mkdir -p "$DATA_DIR"
  log "starting the Pub/Sub emulator on 127.0.0.1:$PUBSUB_PORT (log: $LOG_FILE)"
  setsid gcloud beta emulators pubsub start --quiet --project="$PUBSUB_PROJECT" \
    --host-port="127.0.0.1:$PUBSUB_PORT" --data-dir="$DATA_DIR" >>"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  wait_until "$PUBSUB_START_TIMEOUT" "the Pub/Sub emulator" ready || {
    tail -n 20 "$LOG_FILE" >&2
    die "the Pub/Sub emulator did not start, see $LOG_FILE"
  }
  log "ready: PUBSUB_EMULATOR_HOST=127.0.0.1:$PUBSUB_PORT"
}

stop() { stop_pid "the Pub/Sub emulator" "$PID_FILE"; }

status() {
  if ready; then log "Pub/Sub emulator answers on 127.0.0.1:$PUBSUB_PORT"; else log "Pub/Sub emulator is down"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
