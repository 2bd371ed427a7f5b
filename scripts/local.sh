#!/usr/bin/env bash
# The production topology as native processes on this machine, without Docker (`make local`):
# the dev services, the migrations, the five functions, the Pulsar push bridge and the local
# gateway on port 8000 routing /influencers, /campanas, /contratos, /reportes as the HTTPS
# load balancer does on GCP. Runs in the foreground; Ctrl-C (or SIGTERM) stops everything
# it started. The dev services (PostgreSQL, Pulsar, Pub/Sub emulator) are left running:
# `make services-down` stops them.
#
#   scripts/local.sh
#
# Settings (environment):
#   BIN_DIR                     binaries to run; unset: `cargo build --bins`, then target/debug
#   DATABASE_URL                alpes context (postgres://alpes:alpes@127.0.0.1:5432/alpes)
#   REPORTES_DATABASE_URL       reportes context (.../reportes)
#   PULSAR_URL, PULSAR_ADMIN_URL  the broker (pulsar://127.0.0.1:6650, http://127.0.0.1:8080)
#   PULSAR_NAMESPACE            the topics' namespace, for every process (public/default)
#   REGISTER_INFLUENCER_PORT 3001, CREATE_CAMPAIGN_PORT 3002, SEND_CONTRACT_PORT 3003,
#   GENERATE_REPORT_PORT 3004, COMPENSATE_REPORT_PORT 3005, BRIDGE_PORT 3006, GATEWAY_PORT 8000
#   REGISTER_INFLUENCER_INSTANCES  register-influencer processes behind the gateway (1); the
#                               extra ones listen on REGISTER_INFLUENCER_PORT + 10, + 20, ...
#   PUSH_TOKEN                  the static token of the bridge's pushes (local-push-token)
#   READY_TIMEOUT               seconds to wait for every /ready (90)
#   LOCAL_KEEP_SUBSCRIPTIONS    1: keep the bridge's subscriptions and their backlog. By
#                               default they start at the end of each topic and are deleted
#                               on stop, because the dev broker's topics are shared with the
#                               test suites, whose events are not this topology's.
#   RUST_LOG                    the processes' log filter (info)
#   TRACING                     1: also run Jaeger (scripts/jaeger.sh, built with Go on first
#                               use) and export every process's spans to it; its query API
#                               on JAEGER_UI_PORT (16686), OTLP on JAEGER_OTLP_PORT (4318);
#                               `make trace` prints the last saga's waterfall.
#                               `scripts/jaeger.sh down` (or make services-down) stops it.
#   BRIDGE_*                    every BRIDGE_* variable of the environment goes to the bridge
#                               (e.g. BRIDGE_MAX_ATTEMPTS=2 make local); the retry policy has
#                               the production defaults: BRIDGE_MIN_BACKOFF_MS 1000,
#                               BRIDGE_MAX_BACKOFF_MS 60000, BRIDGE_MAX_ATTEMPTS 100,
#                               BRIDGE_RETRY_BUDGET 24h (docs/BRIDGE.md)
# Logs: .local/logs/local/<name>.log
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=${PG_PORT:-5432}
DATABASE_URL=${DATABASE_URL:-postgres://alpes:alpes@127.0.0.1:$PG_PORT/alpes}
REPORTES_DATABASE_URL=${REPORTES_DATABASE_URL:-postgres://alpes:alpes@127.0.0.1:$PG_PORT/reportes}
PULSAR_URL=${PULSAR_URL:-pulsar://127.0.0.1:${PULSAR_PORT:-6650}}
PULSAR_ADMIN_URL=${PULSAR_ADMIN_URL:-http://127.0.0.1:${PULSAR_HTTP_PORT:-8080}}
REGISTER_INFLUENCER_PORT=${REGISTER_INFLUENCER_PORT:-3001}
CREATE_CAMPAIGN_PORT=${CREATE_CAMPAIGN_PORT:-3002}
SEND_CONTRACT_PORT=${SEND_CONTRACT_PORT:-3003}
GENERATE_REPORT_PORT=${GENERATE_REPORT_PORT:-3004}
COMPENSATE_REPORT_PORT=${COMPENSATE_REPORT_PORT:-3005}
BRIDGE_PORT=${BRIDGE_PORT:-3006}
GATEWAY_PORT=${GATEWAY_PORT:-8000}
REGISTER_INFLUENCER_INSTANCES=${REGISTER_INFLUENCER_INSTANCES:-1}
PUSH_TOKEN=${PUSH_TOKEN:-local-push-token}
READY_TIMEOUT=${READY_TIMEOUT:-90}
LOCAL_KEEP_SUBSCRIPTIONS=${LOCAL_KEEP_SUBSCRIPTIONS:-0}
export RUST_LOG=${RUST_LOG:-info}
RUN_LOG_DIR="$LOG_DIR/local"
mkdir -p "$RUN_LOG_DIR"

[[ $REGISTER_INFLUENCER_INSTANCES =~ ^[1-9][0-9]?$ ]] ||
  die "REGISTER_INFLUENCER_INSTANCES must be a number from 1 to 99, got '$REGISTER_INFLUENCER_INSTANCES'"

# The bridge's default table (docs/BRIDGE.md): topic and subscription (= function).
BRIDGE_SUBSCRIPTIONS=(
  eventos-crear-influencer:register-influencer
  eventos-influencers:create-campaign
  eventos-campanas:generate-report
  eventos-campanas:send-contract
  eventos-contratos:generate-report
  eventos-contratos-error:compensate-report
)

names=() # what runs, in start order: name, pid and ready URL at the same index
pids=()
ready_urls=()
stopping=0

# start NAME READY_URL VAR=VALUE... -- COMMAND...: runs COMMAND with the variables, logging to
# $RUN_LOG_DIR/NAME.log; refuses a port in use.
start() {
  local name=$1 ready_url=$2
  shift 2
  local vars=()
  while [[ $1 != -- ]]; do
    vars+=("$1")
    shift
  done
  shift
  local port=${ready_url##*:}
  port=${port%%/*}
  if port_open 127.0.0.1 "$port"; then
    die "port $port is already in use (another make local?); $name cannot start"
  fi
  env -u BRIDGE_ROUTES -u BRIDGE_ROUTES_FILE -u GATEWAY_ROUTES "${vars[@]}" "$@" \
    </dev/null >"$RUN_LOG_DIR/$name.log" 2>&1 &
  names+=("$name")
  pids+=($!)
  ready_urls+=("$ready_url")
}

# pulsar_admin METHOD PATH: the HTTP status of an admin API call on the topics' namespace.
pulsar_admin() {
  curl -s --max-time 10 -o /dev/null -w '%{http_code}' -X "$1" \
    "$PULSAR_ADMIN_URL/admin/v2/persistent/${PULSAR_NAMESPACE:-public/default}/$2" || true
}

# Creates the bridge's subscriptions at the end of their topics (or, when they exist,
# skips their backlog), so the run handles only its own events.
fresh_subscriptions() {
  local entry topic subscription status
  for entry in "${BRIDGE_SUBSCRIPTIONS[@]}"; do
    topic=${entry%%:*} subscription=${entry#*:}
    status=$(pulsar_admin PUT "$topic/subscription/$subscription")
    case $status in
      204 | 200) ;;
      409) status=$(pulsar_admin POST "$topic/subscription/$subscription/skip_all")
        [[ $status == 204 || $status == 200 ]] ||
          die "cannot skip the backlog of $topic/$subscription: HTTP $status" ;;
      *) die "cannot create the subscription $topic/$subscription: HTTP $status (is Pulsar up?)" ;;
    esac
  done
}

delete_subscriptions() {
  local entry topic subscription
  for entry in "${BRIDGE_SUBSCRIPTIONS[@]}"; do
    topic=${entry%%:*} subscription=${entry#*:}
    pulsar_admin DELETE "$topic/subscription/$subscription?force=true" >/dev/null
    pulsar_admin DELETE "$topic-$subscription-RETRY/subscription/$subscription?force=true" >/dev/null
  done
}

# Stops what this script started: SIGTERM, then SIGKILL after 20 s (the bridge drains for
# up to 6 s). Idempotent.
stop_all() {
  ((stopping)) && return 0
  stopping=1
  trap - INT TERM
  if ((${#pids[@]})); then
    log "stopping ${names[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    local deadline=$((SECONDS + 20)) pid
    for pid in "${pids[@]}"; do
      while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
          log "pid $pid did not stop within 20 s, killing it"
          kill -KILL "$pid" 2>/dev/null || true
          break
        fi
        sleep 0.2
      done
    done
    wait 2>/dev/null || true
  fi
  if [[ $LOCAL_KEEP_SUBSCRIPTIONS != 1 && ${subscriptions_made:-0} == 1 ]]; then
    delete_subscriptions
  fi
  log "stopped; the dev services are still running (make services-down stops them)"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

# fail_if_dead: dies naming the first started process that has exited, with its log tail.
fail_if_dead() {
  local i
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      tail -n 20 "$RUN_LOG_DIR/${names[$i]}.log" >&2 || true
      die "${names[$i]} exited (log: $RUN_LOG_DIR/${names[$i]}.log)"
    fi
  done
}

wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) i
  for i in "${!pids[@]}"; do
    until http_ok "${ready_urls[$i]}"; do
      fail_if_dead
      ((SECONDS < deadline)) ||
        die "${names[$i]} not ready after ${READY_TIMEOUT}s (${ready_urls[$i]}; log: $RUN_LOG_DIR/${names[$i]}.log)"
      sleep 0.5
    done
  done
}

# 1. Binaries.
if [[ -z ${BIN_DIR:-} ]]; then
  log "building the binaries (cargo build --bins)"
  (cd "$REPO_ROOT" && cargo build --bins) || die "the build failed"
  BIN_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}/debug"
fi
for binary in register-influencer create-campaign send-contract generate-report compensate-report \
  pulsar-bridge local-gateway migrate; do
  [[ -x $BIN_DIR/$binary ]] || die "$BIN_DIR/$binary is missing (cargo build --bins, or set BIN_DIR)"
done

# 2. Services and migrations.
"$REPO_ROOT/scripts/services.sh" up
for url in "$DATABASE_URL" "$REPORTES_DATABASE_URL"; do
  log "migrating ${url##*/}"
  DATABASE_URL=$url timeout 120 "$BIN_DIR/migrate" >>"$RUN_LOG_DIR/migrate.log" 2>&1 ||
    die "migrating ${url##*/} failed, see $RUN_LOG_DIR/migrate.log"
done
if [[ ${TRACING:-0} == 1 ]]; then
  "$REPO_ROOT/scripts/jaeger.sh" up
  export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:${JAEGER_OTLP_PORT:-4318}"
  export OTEL_BSP_SCHEDULE_DELAY=${OTEL_BSP_SCHEDULE_DELAY:-500}
fi
if [[ $LOCAL_KEEP_SUBSCRIPTIONS != 1 ]]; then
  subscriptions_made=1
  fresh_subscriptions
fi

# 3. The functions, the bridge, the gateway.
common=(EVENT_BUS=pulsar "PULSAR_URL=$PULSAR_URL" PUSH_AUTH=static "PUSH_TOKEN=$PUSH_TOKEN")
register_urls=()
for ((instance = 0; instance < REGISTER_INFLUENCER_INSTANCES; instance++)); do
  port=$((REGISTER_INFLUENCER_PORT + 10 * instance))
  name=register-influencer
  ((instance == 0)) || name="register-influencer-$((instance + 1))"
  start "$name" "http://127.0.0.1:$port/ready" "${common[@]}" "PORT=$port" \
    "DATABASE_URL=$DATABASE_URL" -- "$BIN_DIR/register-influencer"
  register_urls+=("http://127.0.0.1:$port")
done
for name in create-campaign send-contract generate-report compensate-report; do
  case $name in
    create-campaign) port=$CREATE_CAMPAIGN_PORT database=$DATABASE_URL ;;
    send-contract) port=$SEND_CONTRACT_PORT database=$DATABASE_URL ;;
    generate-report) port=$GENERATE_REPORT_PORT database=$REPORTES_DATABASE_URL ;;
    compensate-report) port=$COMPENSATE_REPORT_PORT database=$REPORTES_DATABASE_URL ;;
  esac
  start "$name" "http://127.0.0.1:$port/ready" "${common[@]}" "PORT=$port" \
    "DATABASE_URL=$database" -- "$BIN_DIR/$name"
done
# The bridge's retry policy (the production defaults unless set) and every other BRIDGE_*
# variable of the environment (BRIDGE_ROUTES and BRIDGE_ROUTES_FILE excepted: this script
# runs the default table).
bridge_vars=(
  "BRIDGE_MIN_BACKOFF_MS=${BRIDGE_MIN_BACKOFF_MS:-1000}"
  "BRIDGE_MAX_BACKOFF_MS=${BRIDGE_MAX_BACKOFF_MS:-60000}"
  "BRIDGE_MAX_ATTEMPTS=${BRIDGE_MAX_ATTEMPTS:-100}"
  "BRIDGE_RETRY_BUDGET=${BRIDGE_RETRY_BUDGET:-24h}"
)
while IFS= read -r variable; do
  case $variable in
    BRIDGE_PORT | BRIDGE_SUBSCRIPTIONS | BRIDGE_ROUTES | BRIDGE_ROUTES_FILE) ;;
    BRIDGE_MIN_BACKOFF_MS | BRIDGE_MAX_BACKOFF_MS | BRIDGE_MAX_ATTEMPTS | BRIDGE_RETRY_BUDGET) ;;
    BRIDGE_*) bridge_vars+=("$variable=${!variable}") ;;
  esac
done < <(compgen -e)
log "bridge retry policy: ${bridge_vars[*]}"
start pulsar-bridge "http://127.0.0.1:$BRIDGE_PORT/ready" "PORT=$BRIDGE_PORT" \
  "PULSAR_URL=$PULSAR_URL" "PULSAR_ADMIN_URL=$PULSAR_ADMIN_URL" "${bridge_vars[@]}" \
  PUSH_AUTH=static "PUSH_TOKEN=$PUSH_TOKEN" \
  "REGISTER_INFLUENCER_URL=${register_urls[0]}" \
  "CREATE_CAMPAIGN_URL=http://127.0.0.1:$CREATE_CAMPAIGN_PORT" \
  "SEND_CONTRACT_URL=http://127.0.0.1:$SEND_CONTRACT_PORT" \
  "GENERATE_REPORT_URL=http://127.0.0.1:$GENERATE_REPORT_PORT" \
  "COMPENSATE_REPORT_URL=http://127.0.0.1:$COMPENSATE_REPORT_PORT" \
  -- "$BIN_DIR/pulsar-bridge"
register_list=$(IFS=,; echo "${register_urls[*]}")
routes="/influencers=$register_list"
routes+=";/campanas=http://127.0.0.1:$CREATE_CAMPAIGN_PORT"
routes+=";/contratos=http://127.0.0.1:$SEND_CONTRACT_PORT"
routes+=";/reportes=http://127.0.0.1:$GENERATE_REPORT_PORT"
routes+=";/reportes/*/compensar=http://127.0.0.1:$COMPENSATE_REPORT_PORT"
start local-gateway "http://127.0.0.1:$GATEWAY_PORT/health" "GATEWAY_PORT=$GATEWAY_PORT" \
  "GATEWAY_ROUTES=$routes" -- "$BIN_DIR/local-gateway"

log "waiting for every /ready (at most ${READY_TIMEOUT}s)"
wait_ready

cat <<EOF

The topology is up (logs in $RUN_LOG_DIR):

  gateway              http://127.0.0.1:$GATEWAY_PORT   (/influencers /campanas /contratos /reportes)
  register-influencer  ${register_urls[*]}
  create-campaign      http://127.0.0.1:$CREATE_CAMPAIGN_PORT
  send-contract        http://127.0.0.1:$SEND_CONTRACT_PORT
  generate-report      http://127.0.0.1:$GENERATE_REPORT_PORT
  compensate-report    http://127.0.0.1:$COMPENSATE_REPORT_PORT
                       (each function: /health, /ready, /metrics, /openapi.json)
  pulsar-bridge        http://127.0.0.1:$BRIDGE_PORT   (/ready, /metrics)
                       dead letters: make dlq, make dlq-replay [ROUTE=<topic>/<subscription>]
  traces               $(if [[ ${TRACING:-0} == 1 ]]; then echo "make trace (the last saga's waterfall), Jaeger's API http://127.0.0.1:${JAEGER_UI_PORT:-16686}/api/traces"; else echo "off (make local TRACING=1 runs Jaeger)"; fi)
  logs                 $RUN_LOG_DIR/<name>.log

Try:
  curl -i -XPOST localhost:$GATEWAY_PORT/influencers -H 'content-type: application/json' \\
    -d '{"nombre":"Ana","email":"ana-$RANDOM@example.com","categorias":["moda"]}'
  curl 'localhost:$GATEWAY_PORT/campanas?influencer_id=<id>'

Ctrl-C stops these processes; the dev services keep running (make services-down stops them).
EOF

# 4. Foreground until a signal, or until a process dies.
while true; do
  fail_if_dead
  sleep 1 &
  wait $! || true
done
