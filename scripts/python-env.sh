#!/usr/bin/env bash
# The Python virtual environment of the e2e tests: the official
# Apache Pulsar client and fastavro (e2e/python/interop.py) and schemathesis (the OpenAPI
# conformance test), pinned in e2e/python/requirements.txt. The venv's bin/st is schemathesis.
#
#   scripts/python-env.sh      creates or updates the venv, then prints its python's path
#
# Settings: PYTHON_VENV (the venv's directory, default $ALPES_STATE_DIR/venv, i.e. .local/venv),
# PYTHON (the interpreter that creates it, default python3; 3.9 or newer).
#
# Idempotent: the venv keeps the hash of the requirements and of the interpreter it was made
# with; when both still match, nothing is installed and only the path is printed. A venv whose
# python no longer runs is made anew. Runs at once (two test processes) take turns on a lock.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REQUIREMENTS="$REPO_ROOT/e2e/python/requirements.txt"
VENV=${PYTHON_VENV:-$STATE_DIR/venv}
PYTHON=${PYTHON:-python3}
STAMP="$VENV/.requirements.sha256"
LOCK_TIMEOUT=${PYTHON_ENV_LOCK_TIMEOUT:-600}

[[ -f $REQUIREMENTS ]] || die "$REQUIREMENTS is missing"
command -v "$PYTHON" >/dev/null || die "$PYTHON not found: install Python 3.9 or newer (or set PYTHON)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))' ||
  die "$PYTHON is $("$PYTHON" --version 2>&1), the Pulsar client needs Python 3.9 or newer"

# What the venv must have been built from: the requirements and the interpreter's version.
wanted_stamp() {
  {
    cat "$REQUIREMENTS"
    "$PYTHON" -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
}

venv_python_runs() {
  [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1
}

up_to_date() {
  venv_python_runs && [[ -f $STAMP && "$(cat "$STAMP")" == "$1" ]]
}

main() {
  local wanted
  wanted=$(wanted_stamp)
  if up_to_date "$wanted"; then
    echo "$VENV/bin/python"
    return 0
  fi

  mkdir -p "$(dirname "$VENV")"
  exec 9>"$VENV.lock"
  flock -w "$LOCK_TIMEOUT" 9 || die "another scripts/python-env.sh held $VENV.lock for over ${LOCK_TIMEOUT}s"
  # The run that held the lock may have done the work.
  if up_to_date "$wanted"; then
    echo "$VENV/bin/python"
    return 0
  fi

  if venv_python_runs; then
    log "updating $VENV from $REQUIREMENTS"
  else
    log "creating $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv --clear "$VENV" >&2 || die "cannot create the venv $VENV (is python3-venv installed?)"
  fi
  rm -f "$STAMP"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" >&2 ||
    die "pip could not install $REQUIREMENTS into $VENV (is PyPI reachable?)"
  "$VENV/bin/python" -c 'import pulsar, fastavro, schemathesis; from pulsar.schema import AvroSchema' >&2 ||
    die "the venv $VENV cannot import the Pulsar client with Avro support, or schemathesis"
  echo "$wanted" >"$STAMP"
  log "ready: $VENV/bin/python"
  echo "$VENV/bin/python"
}

main "$@"
