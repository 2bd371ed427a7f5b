#!/usr/bin/env bash
# Startup script of the Pulsar VM: runs Apache Pulsar standalone (broker, one bookie,
# RocksDB metadata) from the pinned official image, with its data on a persistent disk and
# the VM's internal IP as advertised address. Written for Container-Optimized OS (docker
# preinstalled, read-only root) and works on any Linux VM with docker. GCE runs it at
# every boot; it is idempotent: it formats the disk only when it has no filesystem, and
# replaces the container so a changed setting applies.
#
# Instance metadata it reads (all optional):
#   pulsar-image   image to run            (default apachepulsar/pulsar:4.0.7)
#   pulsar-mem     PULSAR_MEM JVM settings  (default -Xms2g -Xmx2g -XX:MaxDirectMemorySize=2g)
#   pulsar-config  extra broker settings, one key=value a line (standalone.conf keys)
#   pulsar-namespace           tenant/namespace of the topics  (default public/default)
#   pulsar-retention-minutes   namespace retention of acknowledged messages (default 10080, 7 days)
#   pulsar-retention-size-mb   ... and its size bound per topic          (default 10240)
# Dead letters: the bridge keeps a durable subscription named `dlq` on each
# <topic>-<subscription>-DLQ topic, so they are unacknowledged backlog, which the broker
# keeps whatever the retention (no message TTL, no backlog quota, subscriptions never
# expire: set below) until they are replayed or dropped (make dlq, make dlq-replay).
# The data disk is the one attached with device name "pulsar-data".
set -euo pipefail

readonly METADATA=http://metadata.google.internal/computeMetadata/v1
readonly DEVICE=/dev/disk/by-id/google-pulsar-data
readonly MOUNT=/mnt/disks/pulsar-data
# Created only on the data disk: when the disk is not mounted it does not exist, and the
# container (a bind mount that requires its source) cannot start on the boot disk.
readonly DATA_DIR=$MOUNT/pulsar
readonly DOCKER_CONFIG_DIR=/var/lib/pulsar-startup/docker
readonly CONTAINER=pulsar
readonly PULSAR_UID=10000 # the official image runs as 10000:0

log() { echo "pulsar-startup: $*"; }
die() {
  log "error: $*"
  exit 1
}

metadata() {
  curl -fsS --max-time 5 -H 'Metadata-Flavor: Google' "$METADATA/$1"
}

attribute() {
  metadata "instance/attributes/$1" 2>/dev/null || true
}

# Retries "$@" with a doubling delay (2 s to 60 s) for at most $1 seconds.
retry_for() {
  local bound=$1 delay=2 started=$SECONDS
  shift
  until "$@"; do
    if ((SECONDS - started >= bound)); then
      return 1
    fi
    sleep "$delay"
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
  done
}

image=$(attribute pulsar-image)
image=${image:-apachepulsar/pulsar:4.0.7}
pulsar_mem=$(attribute pulsar-mem)
pulsar_mem=${pulsar_mem:-"-Xms2g -Xmx2g -XX:MaxDirectMemorySize=2g"}
extra_config=$(attribute pulsar-config)
namespace=$(attribute pulsar-namespace)
namespace=${namespace:-public/default}
retention_minutes=$(attribute pulsar-retention-minutes)
retention_minutes=${retention_minutes:-10080}
retention_size_mb=$(attribute pulsar-retention-size-mb)
retention_size_mb=${retention_size_mb:-10240}
[[ $namespace =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || die "pulsar-namespace: not tenant/namespace: $namespace"
[[ $retention_minutes =~ ^-?[0-9]+$ && $retention_size_mb =~ ^-?[0-9]+$ ]] ||
  die "pulsar-retention-minutes / pulsar-retention-size-mb: integers (-1: unbounded)"

address=""
read_address() { address=$(metadata instance/network-interfaces/0/ip); }
retry_for 120 read_address || die "cannot read the internal IP from the metadata server"
log "advertised address $address, image $image"

# --- Data disk -------------------------------------------------------------------------
retry_for 120 test -b "$DEVICE" || die "no data disk at $DEVICE (attach it with device name pulsar-data)"
if ! blkid "$DEVICE" >/dev/null 2>&1; then
  log "formatting $DEVICE (first boot)"
  mkfs.ext4 -q -m 0 -L pulsar-data -E lazy_itable_init=0,lazy_journal_init=0,discard "$DEVICE"
fi
mkdir -p "$MOUNT"
if ! mountpoint -q "$MOUNT"; then
  fsck.ext4 -p "$DEVICE" || log "fsck reported problems on $DEVICE (exit $?), mounting anyway"
  mount -o discard,defaults,noatime "$DEVICE" "$MOUNT"
fi
mountpoint -q "$MOUNT" || die "$DEVICE is not mounted at $MOUNT"
# The disk may have been enlarged since the last boot.
resize2fs "$DEVICE" >/dev/null 2>&1 || log "resize2fs failed; the filesystem keeps its size"
mkdir -p "$DATA_DIR"
if [[ $(stat -c %u "$DATA_DIR") != "$PULSAR_UID" ]]; then
  chown -R "$PULSAR_UID:0" "$DATA_DIR"
fi

# --- Image -----------------------------------------------------------------------------
mkdir -p "$DOCKER_CONFIG_DIR"
registry=${image%%/*}
if [[ $registry == *-docker.pkg.dev ]]; then
  # Artifact Registry (the Docker Hub cache): log in with the VM's service account.
  token=$(metadata instance/service-accounts/default/token | sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')
  [[ -n $token ]] || die "no access token from the metadata server"
  docker --config "$DOCKER_CONFIG_DIR" login -u oauth2accesstoken --password-stdin "https://$registry" <<<"$token" >/dev/null
fi
retry_for 1800 docker --config "$DOCKER_CONFIG_DIR" pull -q "$image" || die "cannot pull $image"

# --- Host firewall ---------------------------------------------------------------------
# Container-Optimized OS drops incoming traffic except SSH; the VPC firewall decides who
# may connect.
if command -v iptables >/dev/null; then
  for port in 6650 8080; do
    iptables -C INPUT -p tcp --dport "$port" -j ACCEPT 2>/dev/null ||
      iptables -A INPUT -p tcp --dport "$port" -j ACCEPT
  done
fi

# --- Broker ----------------------------------------------------------------------------
# Settings on top of the image's conf/standalone.conf (PULSAR_PREFIX_<key> is applied by
# bin/apply-config-from-env.py). Unlike the development broker, the journal is synced.
settings=(
  "advertisedAddress=$address"
  "journalSyncData=true"
  "allowAutoTopicCreation=true"
  "allowAutoTopicCreationType=non-partitioned"
  "isAllowAutoUpdateSchemaEnabled=true"
  "brokerDeleteInactiveTopicsEnabled=false"
  "functionsWorkerEnabled=false"
  "webSocketServiceEnabled=false"
  "transactionCoordinatorEnabled=false"
  "subscriptionRedeliveryTrackerEnabled=true"
  # Messages stay 7 days (10 GB per topic) after acknowledgement (the namespace policy
  # below sets the same on the deployment's namespace).
  "defaultRetentionTimeInMinutes=$retention_minutes"
  "defaultRetentionSizeInMB=$retention_size_mb"
  # Unacknowledged messages (the dead letters on their `dlq` subscriptions, events waiting
  # for a function that is down) are never expired, evicted or dropped with an idle
  # subscription: these are Pulsar's defaults, pinned here.
  "ttlDurationDefaultInSeconds=0"
  "backlogQuotaDefaultLimitBytes=-1"
  "backlogQuotaDefaultLimitSecond=-1"
  "subscriptionExpirationTimeMinutes=0"
)
while IFS= read -r line; do
  [[ -z $line || $line == \#* ]] && continue
  [[ $line == *=* ]] || die "pulsar-config: not key=value: $line"
  settings+=("$line")
done <<<"$extra_config"

env_args=(-e "PULSAR_MEM=$pulsar_mem")
for setting in "${settings[@]}"; do
  env_args+=(-e "PULSAR_PREFIX_$setting")
done

docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
docker run -d --name "$CONTAINER" \
  --restart=always \
  --stop-timeout 60 \
  --ulimit nofile=65536:65536 \
  --log-opt max-size=50m --log-opt max-file=5 \
  -p 6650:6650 -p 8080:8080 \
  --mount "type=bind,source=$DATA_DIR,target=/pulsar/data" \
  "${env_args[@]}" \
  "$image" \
  sh -c 'bin/apply-config-from-env.py conf/standalone.conf && exec bin/pulsar standalone --no-functions-worker --no-stream-storage'
log "container $CONTAINER started"

# --- Ready -----------------------------------------------------------------------------
namespace_ready() {
  curl -fsS --max-time 5 http://127.0.0.1:8080/admin/v2/namespaces/public 2>/dev/null | grep -q 'public/default'
}
if ! retry_for 300 namespace_ready; then
  log "Pulsar did not answer within 300 s; see: docker logs $CONTAINER"
  exit 1
fi

# --- Namespace and its retention policy ------------------------------------------------
admin() {
  local method=$1 path=$2 body=${3:-}
  local status
  status=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 -X "$method" \
    -H 'Content-Type: application/json' ${body:+--data "$body"} "http://127.0.0.1:8080/admin/v2/$path") || return 1
  # 409: the tenant or namespace exists already.
  [[ $status == 2?? || $status == 409 ]]
}
tenant=${namespace%%/*}
if [[ $namespace != public/default ]]; then
  retry_for 60 admin PUT "tenants/$tenant" '{"allowedClusters":["standalone"]}' || die "cannot create the tenant $tenant"
  retry_for 60 admin PUT "namespaces/$namespace" || die "cannot create the namespace $namespace"
fi
retry_for 60 admin POST "namespaces/$namespace/retention" \
  "{\"retentionTimeInMinutes\":$retention_minutes,\"retentionSizeInMB\":$retention_size_mb}" ||
  die "cannot set the retention policy of $namespace"
log "namespace $namespace: retention $retention_minutes min / $retention_size_mb MB after acknowledgement; unacknowledged messages (dead letters on their dlq subscriptions) are kept until acknowledged"
log "Pulsar is ready: pulsar://$address:6650 (admin http://$address:8080)"
