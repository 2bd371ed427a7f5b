#!/bin/sh
# Builds one binary of the workspace in release mode and copies it to OUT (the Dockerfile's
# build step; scripts/check-containers.sh runs it with DRY_RUN=1 to check the names).
#
#   docker/build-binary.sh FUNCTION [OUT]
#
# FUNCTION is a binary name: a function, pulsar-bridge, local-gateway, or migrate (which
# lives in the package alpes-shared). Every other binary is its package's namesake.
set -eu

function=${1:?usage: build-binary.sh FUNCTION [OUT]}
out=${2:-/out/function}
case $function in
  migrate) package=alpes-shared ;;
  *) package=$function ;;
esac

if [ "${DRY_RUN:-0}" = 1 ]; then
  echo "cargo build --release --locked --package $package --bin $function"
  exit 0
fi
cargo build --release --locked --package "$package" --bin "$function"
mkdir -p "$(dirname "$out")"
cp "${CARGO_TARGET_DIR:-target}/release/$function" "$out"
