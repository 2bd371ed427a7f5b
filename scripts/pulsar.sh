#!/usr/bin/env bash
# Apache Pulsar in standalone mode (broker + one bookie + RocksDB metadata), run from
# the official Maven Central artifacts: no Docker, no tarball download.
#
#   scripts/pulsar.sh start|stop|status|resolve
#
# Settings (environment):
#   PULSAR_PORT (6650), PULSAR_HTTP_PORT (8080), PULSAR_BOOKIE_PORT (3181),
#   PULSAR_START_TIMEOUT (180 s), PULSAR_HEAP (512m),
#   PULSAR_CACHE (~/.cache/alpes-partners): where the resolved class path is kept.
# The version is pinned once, in scripts/pulsar/pom.xml.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PULSAR_PORT=${PULSAR_PORT:-6650}
PULSAR_HTTP_PORT=${PULSAR_HTTP_PORT:-8080}
PULSAR_BOOKIE_PORT=${PULSAR_BOOKIE_PORT:-3181}
PULSAR_START_TIMEOUT=${PULSAR_START_TIMEOUT:-180}
PULSAR_HEAP=${PULSAR_HEAP:-512m}
CONF_DIR="$REPO_ROOT/scripts/pulsar"
VERSION=$(sed -n 's:.*<pulsar.version>\(.*\)</pulsar.version>.*:\1:p' "$CONF_DIR/pom.xml")
[[ -n $VERSION ]] || die "cannot read pulsar.version from $CONF_DIR/pom.xml"
LIB_DIR="${PULSAR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/alpes-partners}/pulsar-$VERSION/lib"
DATA_DIR="$STATE_DIR/pulsar"
PID_FILE="$STATE_DIR/pulsar.pid"
LOG_FILE="$LOG_DIR/pulsar.log"
ADMIN="http://127.0.0.1:$PULSAR_HTTP_PORT"
SERVICE_URL="pulsar://127.0.0.1:$PULSAR_PORT"

# Resolves pulsar-broker and its dependencies from Maven Central into $LIB_DIR, once.
resolve() {
  if [[ -f $LIB_DIR/.complete ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: apt-get install maven)"
  command -v java >/dev/null || die "java not found: install a Java 17 runtime"
  log "resolving Apache Pulsar $VERSION from Maven Central into $LIB_DIR (first run only; log: $LOG_DIR/pulsar-resolve.log)"
  local started=$SECONDS
  rm -rf "$LIB_DIR" && mkdir -p "$LIB_DIR"
  timeout 1800 mvn -B -q -f "$CONF_DIR/pom.xml" -s "$CONF_DIR/settings.xml" \
    -Dmaven.artifact.threads=8 dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIB_DIR" >"$LOG_DIR/pulsar-resolve.log" 2>&1 ||
    { tail -n 20 "$LOG_DIR/pulsar-resolve.log" >&2; die "Maven could not resolve Apache Pulsar $VERSION"; }
  touch "$LIB_DIR/.complete"
  log "resolved $(find "$LIB_DIR" -name '*.jar' | wc -l) jars in $((SECONDS - started)) s"
}

admin_up() { http_ok "$ADMIN/admin/v2/clusters"; }
namespace_up() { curl -fs --max-time 5 "$ADMIN/admin/v2/namespaces/public" | grep -q 'public/default'; }

round_trip() {
  timeout 60 java -cp "$LIB_DIR/*" "$CONF_DIR/RoundTrip.java" "$SERVICE_URL" >>"$LOG_FILE" 2>&1
}

start() {
  if admin_up && namespace_up; then
    log "Pulsar already answers on $SERVICE_URL (admin $ADMIN)"
    return 0
  fi
  if port_open 127.0.0.1 "$PULSAR_PORT" || port_open 127.0.0.1 "$PULSAR_HTTP_PORT"; then
    if pid_alive "$PID_FILE"; then
      log "Pulsar is starting (pid $(cat "$PID_FILE")), waiting"
    else
      die "port $PULSAR_PORT or $PULSAR_HTTP_PORT is taken by another program; set PULSAR_PORT / PULSAR_HTTP_PORT"
    fi
  else
    resolve
    mkdir -p "$DATA_DIR"
    # The checked-in configuration plus this run's ports (later keys win).
    {
      cat "$CONF_DIR/standalone.conf"
      printf '\nbrokerServicePort=%s\nwebServicePort=%s\n' "$PULSAR_PORT" "$PULSAR_HTTP_PORT"
    } >"$DATA_DIR/standalone.conf"
    log "starting Apache Pulsar $VERSION standalone on $SERVICE_URL, admin $ADMIN (log: $LOG_FILE)"
    (
      cd "$DATA_DIR" || exit 1
      # The --add-opens flags are those of Pulsar's own launcher for Java 17.
      exec setsid java -Xms128m -Xmx"$PULSAR_HEAP" -XX:MaxDirectMemorySize=256m -XX:+UseG1GC \
        -XX:+ExitOnOutOfMemoryError -Djava.net.preferIPv4Stack=true \
        --add-opens java.base/java.io=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED \
        --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED \
        --add-opens java.base/jdk.internal.misc=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
        --add-exports java.base/jdk.internal.platform=ALL-UNNAMED \
        --add-opens java.management/sun.management=ALL-UNNAMED \
        --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED \
        -Dio.netty.tryReflectionSetAccessible=true \
        -Dlog4j.configurationFile="$CONF_DIR/log4j2.xml" -Dpulsar.log.dir="$LOG_DIR" \
        -cp "$LIB_DIR/*" org.apache.pulsar.PulsarStandaloneStarter \
        --config "$DATA_DIR/standalone.conf" \
        --no-functions-worker --no-stream-storage --advertised-address 127.0.0.1 \
        --metadata-dir "$DATA_DIR/metadata" --bookkeeper-dir "$DATA_DIR/bookkeeper" \
        --bookkeeper-port "$PULSAR_BOOKIE_PORT"
    ) >>"$LOG_FILE" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
  fi
  local started=$SECONDS
  wait_until "$PULSAR_START_TIMEOUT" "the Pulsar admin API at $ADMIN" admin_up || { tail -n 30 "$LOG_FILE" >&2; die "Pulsar did not start, see $LOG_FILE"; }
  wait_until 60 "the public/default namespace" namespace_up || die "Pulsar has no public/default namespace, see $LOG_FILE"
  wait_until 90 "a produce/consume round trip" round_trip || { tail -n 30 "$LOG_FILE" >&2; die "Pulsar round trip failed, see $LOG_FILE"; }
  log "ready in $((SECONDS - started)) s: PULSAR_URL=$SERVICE_URL (admin $ADMIN)"
}

stop() { stop_pid "Pulsar" "$PID_FILE" 60; }

status() {
  if admin_up; then log "Pulsar answers on $SERVICE_URL (admin $ADMIN)"; else log "Pulsar is down"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  resolve) resolve ;;
  *) echo "usage: $0 start|stop|status|resolve" >&2; exit 2 ;;
esac
