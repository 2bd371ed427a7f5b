#!/usr/bin/env bash
# Jaeger (v2 all-in-one, github.com/jaegertracing/jaeger/cmd/jaeger) for local tracing.
#
#   scripts/jaeger.sh build    builds it once with Go from the module proxy (pinned by
#                              tools/jaeger/go.mod and go.sum), then prints the binary's path
#   scripts/jaeger.sh up       builds it if needed and starts it in the background
#   scripts/jaeger.sh down     stops it
#
# Settings: JAEGER_UI_PORT (16686: the UI and its /api), JAEGER_OTLP_PORT (4318: OTLP over
# HTTP, what OTEL_EXPORTER_OTLP_ENDPOINT points to), JAEGER_QUERY_GRPC_PORT (16685),
# JAEGER_HEALTH_PORT (13133); JAEGER_CACHE (~/.cache/alpes-partners): where the binary is
# kept, like the Pulsar jars. Needs Go 1.26 or newer.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULE_DIR="$REPO_ROOT/tools/jaeger"
VERSION=$(awk '$1 == "github.com/jaegertracing/jaeger" { print $2; exit }' "$MODULE_DIR/go.mod")
[[ -n $VERSION ]] || die "tools/jaeger/go.mod does not require github.com/jaegertracing/jaeger"
CACHE="${JAEGER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/alpes-partners}"
BINARY="$CACHE/jaeger-$VERSION/jaeger"
PIDFILE="$STATE_DIR/jaeger.pid"
export JAEGER_UI_PORT=${JAEGER_UI_PORT:-16686}
export JAEGER_OTLP_PORT=${JAEGER_OTLP_PORT:-4318}
export JAEGER_QUERY_GRPC_PORT=${JAEGER_QUERY_GRPC_PORT:-16685}
export JAEGER_HEALTH_PORT=${JAEGER_HEALTH_PORT:-13133}
BUILD_TIMEOUT=${JAEGER_BUILD_TIMEOUT:-1800}

build() {
  if [[ -x $BINARY ]]; then
    echo "$BINARY"
    return
  fi
  command -v go >/dev/null || die "go not found: install Go 1.26 or newer (it builds Jaeger)"
  mkdir -p "$(dirname "$BINARY")"
  exec 9>"$(dirname "$BINARY")/.build.lock"
  flock -w "$BUILD_TIMEOUT" 9 || die "another Jaeger build did not finish within ${BUILD_TIMEOUT}s"
  if [[ ! -x $BINARY ]]; then
    log "building Jaeger $VERSION with $(go version | cut -d' ' -f3) (first time only, a few minutes)"
    (cd "$MODULE_DIR" && timeout "$BUILD_TIMEOUT" go build \
      -o "$BINARY.partial" github.com/jaegertracing/jaeger/cmd/jaeger) ||
      die "building Jaeger failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY))"
    mv "$BINARY.partial" "$BINARY"
  fi
  echo "$BINARY"
}

up() {
  build >/dev/null
  if pid_alive "$PIDFILE"; then
    log "Jaeger is already running (pid $(cat "$PIDFILE"))"
  else
    setsid "$BINARY" --config "$REPO_ROOT/scripts/jaeger.yaml" >"$LOG_DIR/jaeger.log" 2>&1 &
    echo $! >"$PIDFILE"
    wait_until 60 "Jaeger's UI on :$JAEGER_UI_PORT" http_ok "http://127.0.0.1:$JAEGER_UI_PORT/api/services" ||
      die "Jaeger did not start: $LOG_DIR/jaeger.log"
  fi
  log "Jaeger UI: http://127.0.0.1:$JAEGER_UI_PORT  OTLP: http://127.0.0.1:$JAEGER_OTLP_PORT"
}

case "${1:-}" in
  build) build ;;
  up) up ;;
  down) stop_pid Jaeger "$PIDFILE" 10 ;;
  *) die "usage: $0 build|up|down" ;;
esac
