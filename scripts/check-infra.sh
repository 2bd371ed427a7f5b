#!/usr/bin/env bash
# Checks of the deployment files (`make check-infra`, part of `make test`); fails when one
# fails:
#   1. terraform fmt -check -recursive terraform
#   2. terraform init -backend=false + terraform validate on the root module and every
#      module, then `terraform test` (terraform/tests/*.tftest.hcl: plans and mocked applies
#      of the pulsar VM, external Pulsar and Pub/Sub deployments with a mock Google
#      provider, nothing sent to Google). Providers come from the offline mirror
#      ../shared/terraform-providers (next to the repository clone; installed into
#      .local/terraform-providers); TF_CLI_CONFIG_FILE=<your CLI config> uses yours instead,
#      and TF_PROVIDERS=registry the public registry. Runs on a copy under
#      .local/check-infra, so no .terraform/ or lock file is left in terraform/.
#   3. the deployer's roles (terraform/deployer-roles.txt) cover every resource type the
#      configuration declares; no argument that would put a secret in the state
#   4. checkov (pinned, installed once into .local/venv-checkov from PyPI) over terraform/:
#      no failed check. Accepted findings are skipped in the code with
#      `#checkov:skip=CKV_...:<why>` next to the resource, and listed here.
#   5. shellcheck of pulsar-vm/startup.sh and the deployment scripts
#   6. cloudbuild.yaml is YAML and builds every binary the Terraform deploys
# Runs offline once checkov is installed (checkov --skip-download) when the mirror is there.
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
# Where the providers come from (before TF_CLI_CONFIG_FILE is replaced below): a CLI
# configuration of yours counts only when the file exists.
USER_TF_CLI_CONFIG=${TF_CLI_CONFIG_FILE:-}
[[ -n $USER_TF_CLI_CONFIG && ! -s $USER_TF_CLI_CONFIG ]] && USER_TF_CLI_CONFIG=""
MIRROR_DIR=${TF_PROVIDER_MIRROR:-$REPO_ROOT/../shared/terraform-providers}
# No ~/.terraformrc needed: an empty CLI configuration keeps the output quiet.
export TF_CLI_CONFIG_FILE="$STATE_DIR/terraformrc"
: >"$TF_CLI_CONFIG_FILE"
if terraform fmt -check -recursive -diff terraform; then
  echo "formatted"
else
  failed+=("terraform fmt")
fi

step "terraform validate (root and every module) and terraform test"
started=$SECONDS
if [[ -n $USER_TF_CLI_CONFIG ]]; then
  export TF_CLI_CONFIG_FILE=$USER_TF_CLI_CONFIG
  echo "providers: as your TF_CLI_CONFIG_FILE ($USER_TF_CLI_CONFIG) says"
elif [[ ${TF_PROVIDERS:-mirror} == registry ]]; then
  echo "providers: the public Terraform registry (TF_PROVIDERS=registry)"
elif [[ -x $MIRROR_DIR/install.sh ]]; then
  TF_CLI_CONFIG_FILE=$("$MIRROR_DIR/install.sh" "$STATE_DIR/terraform-providers" | tail -n 1) ||
    die "$MIRROR_DIR/install.sh failed"
  export TF_CLI_CONFIG_FILE
  echo "providers: the offline mirror $(cd "$MIRROR_DIR" && pwd)"
else
  die "no offline Terraform providers at $MIRROR_DIR (the team folder ../shared next to the repository clone).
  Put them there, point TF_PROVIDER_MIRROR=<dir with install.sh> at them, set TF_CLI_CONFIG_FILE to your
  Terraform CLI configuration, or use the public registry: TF_PROVIDERS=registry make check-infra"
fi
# A copy of terraform/ (and pulsar-vm/, which it reads): init writes .terraform/ and a lock
# file made from the mirror's local builds, neither of which belongs in the repository.
work="$STATE_DIR/check-infra"
rm -rf "$work" && mkdir -p "$work" "$STATE_DIR/terraform-plugin-cache"
tar -C "$REPO_ROOT" --exclude=.terraform --exclude=.terraform.lock.hcl -cf - terraform pulsar-vm | tar -C "$work" -xf -
export TF_PLUGIN_CACHE_DIR="$STATE_DIR/terraform-plugin-cache" TF_IN_AUTOMATION=1
tf_failed=0
for dir in "$work/terraform" "$work"/terraform/modules/*/; do
  dir=${dir%/}
  name=${dir#"$work/"}
  if ! (cd "$dir" && terraform init -backend=false -input=false -no-color >"$LOG_DIR/terraform-init.log" 2>&1); then
    cat "$LOG_DIR/terraform-init.log" >&2
    echo "$name: terraform init failed"
    tf_failed=1
    continue
  fi
  if (cd "$dir" && terraform validate -no-color >"$LOG_DIR/terraform-validate.log" 2>&1); then
    echo "$name: valid"
  else
    cat "$LOG_DIR/terraform-validate.log"
    echo "$name: terraform validate failed"
    tf_failed=1
  fi
done
if ((tf_failed)); then
  failed+=("terraform validate")
elif (cd "$work/terraform" && terraform test -no-color >"$LOG_DIR/terraform-test.log" 2>&1); then
  grep -E '^(tests/|  run )' "$LOG_DIR/terraform-test.log" | grep -vE '(in progress|tearing down)$' || true
  tail -n 1 "$LOG_DIR/terraform-test.log"
else
  cat "$LOG_DIR/terraform-test.log"
  failed+=("terraform test")
fi
# The example variables file, copied as it is, must plan.
if ((!tf_failed)); then
  if (cd "$work/terraform" && terraform test -no-color -filter=tests/example_tfvars.tftest.hcl \
    -var-file=env/example.tfvars >"$LOG_DIR/terraform-test-example.log" 2>&1); then
    echo "terraform/env/example.tfvars: plans"
  else
    cat "$LOG_DIR/terraform-test-example.log"
    failed+=("terraform test with env/example.tfvars")
  fi
fi
echo "($((SECONDS - started)) s)"

step "deployer roles and secrets in state"
if python3 - <<'PY'; then
import pathlib, re, sys
root = pathlib.Path("terraform")
sources = {path: path.read_text() for path in sorted(root.rglob("*.tf")) if ".terraform" not in path.parts}
used = {}
for path, text in sources.items():
    for kind, kind_type in re.findall(r'^(resource|data|ephemeral) "(google_[a-z0-9_]+)"', text, re.M):
        used.setdefault(kind_type, str(path))
table = {}
for line in pathlib.Path("terraform/deployer-roles.txt").read_text().splitlines():
    if line.strip() and not line.startswith("#"):
        kind_type, role = line.split()[:2]
        table[kind_type] = role
problems = []
for kind_type, path in sorted(used.items()):
    if kind_type not in table:
        problems.append(f"{kind_type} ({path}) has no role in terraform/deployer-roles.txt")
for kind_type in sorted(table):
    if not kind_type.startswith("(") and kind_type not in used:
        problems.append(f"terraform/deployer-roles.txt lists {kind_type}, which terraform/ no longer uses")
if "deployer-roles.txt" not in pathlib.Path("scripts/deploy.sh").read_text():
    problems.append("scripts/deploy.sh does not grant the roles of terraform/deployer-roles.txt")
# Secrets only through write-only arguments and ephemeral values: nothing stored.
for path, text in sources.items():
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(r'\s*(password|secret_data)\s*=', line) or re.match(r'\s*resource "random_password"', line):
            problems.append(f"{path}:{number}: a secret argument stored in the state (use password_wo / secret_data_wo and an ephemeral value): {line.strip()}")
if problems:
    sys.exit("\n".join(problems))
roles = sorted(set(table.values()))
print(f"{len(used)} Google resource and data source types, each with a role; the deployer gets {len(roles)} roles")
print("no secret argument outside write-only ones")
PY
  :
else
  failed+=("deployer roles / secrets")
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
