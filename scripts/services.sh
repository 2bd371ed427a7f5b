#!/usr/bin/env bash
# Starts or stops every service the project needs locally: PostgreSQL, Apache Pulsar and
# the Pub/Sub emulator. Idempotent: what already runs is left alone.
#
#   scripts/services.sh up|down|status
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here="$REPO_ROOT/scripts"
case "${1:-}" in
  up)
    "$here/setup-tools.sh"
    "$here/postgres.sh" start
    "$here/pubsub.sh" start
    "$here/pulsar.sh" start
    log "all services up; logs in $LOG_DIR"
    ;;
  down)
    "$here/jaeger.sh" down
    "$here/pulsar.sh" stop
    "$here/pubsub.sh" stop
    "$here/postgres.sh" stop
    ;;
  status)
    rc=0
    "$here/postgres.sh" status || rc=1
    "$here/pulsar.sh" status || rc=1
    "$here/pubsub.sh" status || rc=1
    exit $rc
    ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
