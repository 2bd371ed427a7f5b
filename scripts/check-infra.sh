#!/usr/bin/env bash
# Static checks of the deployment files (`make check-infra`); fails when one fails:
#   1. terraform fmt -check -recursive terraform
#   2. checkov (pinned, installed once into .local/venv-checkov from PyPI) over terraform/:
#      no failed check. Accepted findings are skipped in the code with
#      `#checkov:skip=CKV_...:<why>` next to the resource, and listed here.
#   3. shellcheck of pulsar-vm/startup.sh and the deployment scripts
#   4. cloudbuild.yaml is YAML and builds every binary the Terraform deploys
# Runs offline once checkov is installed (checkov --skip-download; no Terraform providers:
# `terraform validate` needs them, see README "Deploy to GCP").
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CHECKOV_VERSION=3.3.30
VENV="$STATE_DIR/venv-checkov"
CHECKOV="$VENV/bin/checkov"
cd "$REPO_ROOT"

failed=()
step() { printf '\n== %s\n' "$*"; }

step "terraform fmt -check -recursive terraform"
command -v terraform >/dev/null || die "terraform not found (https://developer.hashicorp.com/terraform/install)"
# No ~/.terraformrc needed: an empty CLI configuration keeps the output quiet.
export TF_CLI_CONFIG_FILE="$STATE_DIR/terraformrc"
: >"$TF_CLI_CONFIG_FILE"
if terraform fmt -check -recursive -diff terraform; then
  echo "formatted"
else
  failed+=("terraform fmt")
fi

step "checkov $CHECKOV_VERSION over terraform/"
if [[ ! -x $CHECKOV ]] || [[ $("$CHECKOV" --version 2>/dev/null) != "$CHECKOV_VERSION" ]]; then
  log "installing checkov==$CHECKOV_VERSION into $VENV (first run; needs PyPI)"
  command -v python3 >/dev/null || die "python3 not found"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION" >"$LOG_DIR/checkov-install.log" 2>&1 ||
    { tail -n 20 "$LOG_DIR/checkov-install.log" >&2; die "pip could not install checkov==$CHECKOV_VERSION"; }
fi
# --skip-download: no Prisma Cloud calls (offline); severities are then unknown, so every
# failed check fails the run, whatever its severity.
if BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false \
  "$CHECKOV" -d terraform --framework terraform --skip-download --compact --quiet; then
  echo "accepted findings (skipped in the code, with the reason next to each):"
  grep -rhoE '#checkov:skip=[A-Z0-9_]+:.{0,90}' terraform | sed 's/^#checkov:skip=/  /' | sort | uniq -c |
    sed 's/^ *\([0-9]*\) /  \1x /'
else
  failed+=("checkov")
fi

step "shellcheck"
if shellcheck -x -P SCRIPTDIR pulsar-vm/startup.sh scripts/deploy.sh scripts/terraform.sh scripts/check-infra.sh; then
  echo "clean"
else
  failed+=("shellcheck")
fi

step "cloudbuild.yaml"
# Every image the Terraform deploys (local.image) is built by a step of its own.
if python3 - <<'PY'; then
import re, sys
text = open("cloudbuild.yaml").read()
built = set(re.findall(r"--build-arg FUNCTION=([a-z-]+)", text))
main = open("terraform/main.tf").read()
functions = set(re.findall(r"^\s{4}([a-z-]+)\s+= \{ database", main, re.M))
deployed = functions | {"pulsar-bridge", "migrate"}
try:
    import yaml  # PyYAML, when installed
    steps = yaml.safe_load(text)["steps"]
    ids = [step["id"] for step in steps]
    assert len(ids) == len(set(ids)), "duplicate step ids"
    for step in steps:
        for wait in step.get("waitFor", []):
            assert wait in ids, f"step {step['id']} waits for unknown step {wait}"
except ImportError:
    pass
missing = deployed - built
if len(functions) != 5 or missing:
    sys.exit(f"cloudbuild.yaml builds {sorted(built)}; Terraform deploys {sorted(deployed)}")
print(f"builds the {len(built)} images Terraform deploys: {', '.join(sorted(built))}")
PY
  :
else
  failed+=("cloudbuild.yaml")
fi

echo
if ((${#failed[@]})); then
  die "failed: ${failed[*]}"
fi
echo "check-infra: all checks passed"
