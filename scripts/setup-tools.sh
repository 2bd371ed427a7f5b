#!/usr/bin/env bash
# Installs the tools a fresh Debian machine lacks: protoc (the pulsar crate's build needs
# it), the PostgreSQL client, shellcheck (`make lint`) and docker-compose (validates
# docker-compose.yml in `make check-containers`; needs no Docker engine). Idempotent;
# as root it uses apt-get, otherwise it says what to install.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

missing=()
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v curl >/dev/null || missing+=(curl)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v docker-compose >/dev/null || missing+=(docker-compose)

if ((${#missing[@]} == 0)); then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  die "missing: ${missing[*]} (sudo apt-get install ${missing[*]})"
fi
log "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
timeout 600 apt-get update -qq >"$LOG_DIR/apt.log" 2>&1 || die "apt-get update failed, see $LOG_DIR/apt.log"
timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1 ||
  die "apt-get install failed, see $LOG_DIR/apt.log"
