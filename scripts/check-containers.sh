#!/usr/bin/env bash
# Checks the container files without a Docker engine (`make check-containers`):
#
# - docker-compose.yml is valid (`docker-compose config -q`, Debian's docker-compose);
# - every image pinned by tag or digest (no :latest, no untagged image), in compose and
#   the Dockerfile;
# - the Dockerfile: cargo-chef pinned, protoc installed in the build stage, a distroless or
#   scratch final stage that runs as nonroot with an entrypoint, the build step going
#   through docker/build-binary.sh;
# - the build step itself: for every binary docker-compose.yml and cloudbuild.yaml build
#   (FUNCTION), docker/build-binary.sh names a package and a binary target that exist in
#   the workspace, with Cargo.lock up to date (`cargo metadata --locked`, as the image
#   builds with --locked);
# - .dockerignore keeps what the build needs (manifests, sources, migrations) and drops
#   target/, .local/ and .git/.
#
# CHECK_CONTAINERS_BUILD=1 also runs the build step for real (release builds of every
# binary named, as the image does; slow).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

failures=0
fail() {
  log "FAIL: $*"
  failures=$((failures + 1))
}
pass() { log "ok: $*"; }
# expect OK-MESSAGE FAIL-MESSAGE COMMAND...: passes or fails on COMMAND's status.
expect() {
  local ok=$1 bad=$2
  shift 2
  if "$@"; then pass "$ok"; else fail "$bad"; fi
}

# 1. docker-compose.yml.
command -v docker-compose >/dev/null || die "docker-compose is missing (make tools)"
if docker-compose -f docker-compose.yml config -q; then
  pass "docker-compose config -q"
else
  fail "docker-compose.yml does not validate"
fi

# pinned IMAGE: true when IMAGE names a tag other than latest, or a digest.
pinned() {
  [[ $1 == *@sha256:* ]] || { [[ ${1##*/} == *:* ]] && [[ ${1##*:} != latest ]]; }
}
# The images compose pulls, and the base images it passes as build arguments (its own
# builds are tagged :local).
compose_images=$(docker-compose -f docker-compose.yml config |
  sed -nE 's/^[[:space:]]+(image|[A-Z_]*IMAGE):[[:space:]]*"?([^"[:space:]]+)"?.*/\2/p' | sort -u)
for image in $compose_images; do
  [[ $image == *:local ]] && continue
  if pinned "$image"; then pass "compose image $image"; else fail "compose image $image is not pinned (no tag or :latest)"; fi
done

# 2. Dockerfile sanity.
dockerfile=Dockerfile
[[ -f $dockerfile ]] || die "no Dockerfile"
declare -A arg_default=()
while read -r name value; do
  arg_default[$name]=$value
done < <(sed -nE 's/^ARG[[:space:]]+([A-Za-z_][A-Za-z0-9_]*)=("?)([^"]*)\2[[:space:]]*$/\1 \3/p' "$dockerfile")

# image_of FROM-ARGUMENT: the image, with ${ARG} replaced by the ARG's default.
image_of() {
  local image=$1
  if [[ $image =~ ^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$ ]]; then
    image=${arg_default[${BASH_REMATCH[1]}]:-}
  fi
  printf '%s' "$image"
}

stages=()
final_image=
while read -r image alias; do
  resolved=$(image_of "$image")
  if [[ -z $resolved ]]; then
    fail "FROM $image: the ARG has no default"
  elif [[ " ${stages[*]} " == *" $resolved "* || $resolved == scratch ]]; then
    : # an earlier stage, or scratch
  elif pinned "$resolved"; then
    pass "FROM $resolved"
  else
    fail "FROM $resolved: not pinned (no tag or :latest)"
  fi
  [[ -n $alias ]] && stages+=("$alias")
  final_image=$resolved
done < <(sed -nE 's/^FROM[[:space:]]+(--platform=[^[:space:]]+[[:space:]]+)?([^[:space:]]+)([[:space:]]+[Aa][Ss][[:space:]]+([^[:space:]]+))?.*/\2 \4/p' "$dockerfile")

if [[ $final_image == gcr.io/distroless/* || $final_image == scratch ]]; then
  pass "final stage: $final_image"
else
  fail "final stage $final_image is neither distroless nor scratch"
fi
# What comes after the last FROM: the final stage.
final_stage=$(awk '/^FROM[[:space:]]/ { stage = "" } { stage = stage $0 "\n" } END { printf "%s", stage }' "$dockerfile")
last_user=$(sed -nE 's/^USER[[:space:]]+([^[:space:]]+).*/\1/p' <<<"$final_stage" | tail -n 1)
if [[ -z $last_user ]]; then
  fail "the final stage sets no USER (runs as root)"
elif [[ $last_user == root || $last_user =~ ^0(:|$) ]]; then
  fail "the final stage runs as $last_user"
else
  pass "final stage runs as $last_user"
fi
expect "exec-form ENTRYPOINT" "the final stage has no exec-form ENTRYPOINT" \
  grep -qE '^ENTRYPOINT[[:space:]]+\[' <<<"$final_stage"
expect "cargo-chef pinned to ${arg_default[CARGO_CHEF_VERSION]:-?}" "cargo-chef is not pinned" \
  grep -qE 'cargo install cargo-chef .*--version "?\$\{?CARGO_CHEF_VERSION' "$dockerfile"
expect "dependency layer: cargo chef cook --release" "no cargo chef cook --release layer" \
  grep -qE 'cargo chef cook .*--release' "$dockerfile"
expect "protoc installed for the build" "protobuf-compiler is not installed in the build stage" \
  grep -qE 'apt-get install .*protobuf-compiler' "$dockerfile"
expect "the build step is docker/build-binary.sh \$FUNCTION" \
  "the build step does not run docker/build-binary.sh \$FUNCTION" \
  grep -qE '^RUN .*docker/build-binary\.sh "?\$\{?FUNCTION' "$dockerfile"

# 3. The build step for every binary named by compose and Cloud Build.
metadata=$(cargo metadata --locked --format-version 1 --no-deps 2>"$LOG_DIR/cargo-metadata.log") ||
  die "cargo metadata --locked failed (Cargo.lock out of date?), see $LOG_DIR/cargo-metadata.log"
pass "cargo metadata --locked (Cargo.lock is up to date)"
# "package binary" for every binary target of the workspace.
workspace_bins=$(python3 -c '
import json, sys
for package in json.load(sys.stdin)["packages"]:
    for target in package["targets"]:
        if "bin" in target["kind"]:
            print(package["name"], target["name"])
' <<<"$metadata")

functions=$(
  {
    docker-compose -f docker-compose.yml config | sed -nE 's/^[[:space:]]+FUNCTION:[[:space:]]*"?([A-Za-z0-9_-]+)"?.*/\1/p'
    if [[ -f cloudbuild.yaml ]]; then
      grep -oE 'FUNCTION[=:][[:space:]]*"?[a-z0-9_-]+' cloudbuild.yaml | sed -E 's/.*[=:][[:space:]]*"?//'
    fi
  } | sort -u
)
[[ -n $functions ]] || fail "no FUNCTION build argument found in docker-compose.yml or cloudbuild.yaml"
for function in $functions; do
  command=$(DRY_RUN=1 sh docker/build-binary.sh "$function")
  package=$(sed -nE 's/.*--package ([^[:space:]]+).*/\1/p' <<<"$command")
  binary=$(sed -nE 's/.*--bin ([^[:space:]]+).*/\1/p' <<<"$command")
  if grep -qx "$package $binary" <<<"$workspace_bins"; then
    pass "$function: $command"
  else
    fail "$function: '$command' names no binary of the workspace"
  fi
done
if [[ ${CHECK_CONTAINERS_BUILD:-0} == 1 ]]; then
  out=$(mktemp -d)
  for function in $functions; do
    if sh docker/build-binary.sh "$function" "$out/$function" && [[ -x $out/$function ]]; then
      pass "built $function ($(du -h "$out/$function" | cut -f1))"
    else
      fail "building $function"
    fi
  done
  rm -rf "$out"
fi

# 4. The build context.
if [[ -f .dockerignore ]]; then
  mapfile -t ignored < <(sed -E 's/[[:space:]]+$//; /^(#|$)/d' .dockerignore)
  # ignored_by PATH: the pattern excluding PATH or a parent of it (last match wins, so a
  # later !pattern re-includes).
  ignored_by() {
    local path=$1 pattern verdict=
    for pattern in "${ignored[@]}"; do
      local negated=0 bare=$pattern
      if [[ $bare == '!'* ]]; then negated=1 bare=${bare#!}; fi
      bare=${bare%/}
      bare=${bare#/}
      local prefix=$path matched=0
      while [[ -n $prefix ]]; do
        # shellcheck disable=SC2053 # the pattern is a glob on purpose
        if [[ $prefix == $bare ]]; then matched=1; fi
        if [[ $prefix == */* ]]; then prefix=${prefix%/*}; else prefix=; fi
      done
      if ((matched && negated)); then
        verdict=
      elif ((matched)); then
        verdict=$pattern
      fi
    done
    printf '%s' "$verdict"
  }
  members=$(python3 -c '
import json, os, sys
meta = json.load(sys.stdin)
root = meta["workspace_root"]
for package in meta["packages"]:
    print(os.path.relpath(os.path.dirname(package["manifest_path"]), root))
' <<<"$metadata")
  needed=(Cargo.toml Cargo.lock migrations docker/build-binary.sh)
  for member in $members; do
    needed+=("$member/Cargo.toml" "$member/src")
  done
  before=$failures
  for path in "${needed[@]}"; do
    [[ $path == e2e/src ]] && continue # the e2e crate has tests only
    pattern=$(ignored_by "$path")
    [[ -z $pattern ]] || fail ".dockerignore drops $path (pattern $pattern), which the build needs"
  done
  for path in target .local .git; do
    [[ -n $(ignored_by "$path/x") ]] || fail ".dockerignore keeps $path/ in the build context"
  done
  ((failures > before)) || pass ".dockerignore keeps ${#needed[@]} needed paths and drops target/, .local/, .git/"
else
  fail "no .dockerignore: target/ and .local/ would be sent as the build context"
fi

if ((failures)); then
  die "$failures check(s) failed"
fi
log "every container check passed"
