#!/usr/bin/env bash
# Deploys to Google Cloud (what `make deploy`, `make plan` and `make destroy` run):
#
#   scripts/deploy.sh deploy    bootstrap, then Cloud Build: build + push every image,
#                               migrate both databases, terraform apply (cloudbuild.yaml)
#   scripts/deploy.sh plan      terraform plan here, with your credentials
#   scripts/deploy.sh destroy   turn deletion protection off, then terraform destroy
#   scripts/deploy.sh bootstrap only the bootstrap below
#
# Bootstrap (idempotent, first run does the work): enables the APIs, creates the Terraform
# state bucket (versioned, private) and the deployer service account Cloud Build runs
# Terraform as, with the roles of terraform/deployer-roles.txt.
#
# Before anything, each command checks what it needs and stops with a message naming
# what is missing: gcloud and its login, the project, billing, the caller's rights
# (deploy); terraform, application-default credentials, the enabled APIs and the state
# bucket (plan, destroy).
#
# Environment: PROJECT (required), REGION (europe-west1), NAME_PREFIX (alpes),
# TF_STATE_BUCKET (<project>-alpes-tfstate), IMAGE_TAG (the commit; plan: the deployed
# one), TF_VAR_FILE (terraform/env/<project>.tfvars when it exists), AUTO_APPROVE=1
# (destroy without asking), DESTROY_WAIT_MINUTES (destroy: how long to keep retrying
# while Google still holds the Direct VPC egress subnet; default 0: tell and stop),
# IAM_PROPAGATION_SECONDS (bootstrap: wait after new grants to the deployer, 90),
# SKIP_PREFLIGHT=1 (skip the checks).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROJECT=${PROJECT:-}
[[ -n $PROJECT ]] || die "PROJECT is required: make deploy PROJECT=<gcp project id> [REGION=...]"
REGION=${REGION:-europe-west1}
NAME_PREFIX=${NAME_PREFIX:-alpes}
TF_STATE_BUCKET=${TF_STATE_BUCKET:-$PROJECT-alpes-tfstate}
if [[ -z ${TF_VAR_FILE:-} && -f $REPO_ROOT/terraform/env/$PROJECT.tfvars ]]; then
  TF_VAR_FILE=terraform/env/$PROJECT.tfvars
fi
TF_VAR_FILE=${TF_VAR_FILE:-}
DEPLOYER="$NAME_PREFIX-deployer@$PROJECT.iam.gserviceaccount.com"
export PROJECT REGION NAME_PREFIX TF_STATE_BUCKET TF_VAR_FILE

# What Terraform enables itself too; enabled here first so Cloud Build can run at all.
APIS=(
  artifactregistry.googleapis.com cloudbuild.googleapis.com cloudresourcemanager.googleapis.com cloudscheduler.googleapis.com
  compute.googleapis.com iam.googleapis.com iamcredentials.googleapis.com logging.googleapis.com
  monitoring.googleapis.com pubsub.googleapis.com run.googleapis.com secretmanager.googleapis.com
  servicenetworking.googleapis.com serviceusage.googleapis.com sqladmin.googleapis.com
  storage.googleapis.com vpcaccess.googleapis.com
)

# What the deployer needs to read the uploaded sources and apply the Terraform
# configuration: one role per resource type, in terraform/deployer-roles.txt (make
# check-infra keeps that table complete). It manages everything the deployment has, so it
# is in effect an administrator of these services: only let people who may deploy act as it.
ROLES_TABLE="$REPO_ROOT/terraform/deployer-roles.txt"
mapfile -t DEPLOYER_ROLES < <(awk '!/^#/ && NF >= 2 { print $2 }' "$ROLES_TABLE" | sort -u)
((${#DEPLOYER_ROLES[@]})) || die "no roles in $ROLES_TABLE"

need() {
  command -v "$1" >/dev/null || die "$1 not found: $2"
}

image_tag() {
  local tag
  tag=$(git -C "$REPO_ROOT" rev-parse HEAD 2>/dev/null) || die "not a git checkout: set IMAGE_TAG"
  if [[ -n $(git -C "$REPO_ROOT" status --porcelain 2>/dev/null) ]]; then
    # The uploaded sources are not the commit's: never reuse the commit's tag for them.
    tag="$tag-dirty-$(date -u +%Y%m%d%H%M%S)"
    log "uncommitted changes: images are tagged $tag"
  fi
  echo "$tag"
}

# --- Preflight: stop early, with what to do, when a prerequisite is missing ------------

preflight_gcloud() {
  [[ ${SKIP_PREFLIGHT:-} == 1 ]] && return 0
  need gcloud "install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)"
  local account
  account=$(gcloud auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null | head -n 1)
  [[ -n $account ]] || die "gcloud is not logged in: run gcloud auth login"
  gcloud projects describe "$PROJECT" --format='value(projectId)' >/dev/null 2>&1 ||
    die "project $PROJECT: not found, or $account may not see it (gcloud projects describe $PROJECT)"
  local billing
  billing=$(gcloud billing projects describe "$PROJECT" --format='value(billingEnabled)' 2>/dev/null || true)
  case ${billing,,} in
    true) ;;
    false) die "billing is not enabled on $PROJECT: gcloud billing projects link $PROJECT --billing-account <id>" ;;
    *) log "warning: could not read the billing state of $PROJECT (needs billing.resourceAssociations.list); continuing" ;;
  esac
  log "preflight: $account on $PROJECT, billing ${billing:-unknown}"
}

# The caller creates the bucket and the deployer, grants it its roles and submits the
# build as it: roles/owner, or the roles of docs/DEPLOY.md "Prerequisites". Asked of IAM
# itself (testIamPermissions), so roles held through a group count too.
CALLER_PERMISSIONS=(
  serviceusage.services.enable
  resourcemanager.projects.setIamPolicy
  iam.serviceAccounts.create
  iam.serviceAccounts.actAs
  storage.buckets.create
  cloudbuild.builds.create
)
preflight_caller_roles() {
  [[ ${SKIP_PREFLIGHT:-} == 1 ]] && return 0
  local token body answer permission missing=()
  if ! command -v curl >/dev/null || ! token=$(gcloud auth print-access-token 2>/dev/null); then
    log "warning: could not check your permissions on $PROJECT (no curl or no access token); continuing"
    return 0
  fi
  body=$(printf '"%s",' "${CALLER_PERMISSIONS[@]}")
  answer=$(curl -fsS --max-time 20 -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    --data "{\"permissions\":[${body%,}]}" \
    "https://cloudresourcemanager.googleapis.com/v1/projects/$PROJECT:testIamPermissions" 2>/dev/null) || {
    log "warning: could not check your permissions on $PROJECT (testIamPermissions failed); continuing"
    return 0
  }
  for permission in "${CALLER_PERMISSIONS[@]}"; do
    grep -q "\"$permission\"" <<<"$answer" || missing+=("$permission")
  done
  ((${#missing[@]} == 0)) ||
    die "you lack ${missing[*]} on $PROJECT: make deploy needs roles/owner or the roles in docs/DEPLOY.md#prerequisites"
}

# plan and destroy run Terraform here: application-default credentials, the APIs and the
# state bucket the first make deploy set up.
preflight_terraform() {
  need terraform "install Terraform >= 1.11 (write-only arguments)"
  local version
  version=$(terraform version -json 2>/dev/null | sed -n 's/.*"terraform_version": *"\([0-9.]*\)".*/\1/p')
  if [[ -n $version ]] && ! printf '1.11.0\n%s\n' "$version" | sort -V -C; then
    die "terraform $version is too old: the configuration needs >= 1.11 (write-only arguments, ephemeral values)"
  fi
  [[ ${SKIP_PREFLIGHT:-} == 1 ]] && return 0
  preflight_gcloud
  gcloud auth application-default print-access-token >/dev/null 2>&1 ||
    die "Terraform has no Google credentials: run gcloud auth application-default login"
  local enabled api missing=()
  enabled=$(gcloud services list --enabled --project "$PROJECT" --format='value(config.name)' 2>/dev/null) ||
    die "cannot list the enabled APIs of $PROJECT (serviceusage.services.list)"
  for api in "${APIS[@]}"; do
    grep -qx "$api" <<<"$enabled" || missing+=("$api")
  done
  ((${#missing[@]} == 0)) || die "APIs not enabled on $PROJECT: ${missing[*]} (make deploy enables them: scripts/deploy.sh bootstrap)"
  gcloud storage buckets describe "gs://$TF_STATE_BUCKET" --project "$PROJECT" >/dev/null 2>&1 ||
    die "no state bucket gs://$TF_STATE_BUCKET yet (or no access to it): run make deploy (or scripts/deploy.sh bootstrap) first"
}

bootstrap() {
  preflight_gcloud
  preflight_caller_roles
  log "enabling the APIs of project $PROJECT"
  gcloud services enable "${APIS[@]}" --project "$PROJECT"

  if ! gcloud storage buckets describe "gs://$TF_STATE_BUCKET" --project "$PROJECT" >/dev/null 2>&1; then
    log "creating the Terraform state bucket gs://$TF_STATE_BUCKET"
    gcloud storage buckets create "gs://$TF_STATE_BUCKET" --project "$PROJECT" --location "$REGION" \
      --uniform-bucket-level-access --public-access-prevention
    gcloud storage buckets update "gs://$TF_STATE_BUCKET" --versioning
  fi

  local new_grants=0
  if ! gcloud iam service-accounts describe "$DEPLOYER" --project "$PROJECT" >/dev/null 2>&1; then
    log "creating the deployer service account $DEPLOYER"
    gcloud iam service-accounts create "$NAME_PREFIX-deployer" --project "$PROJECT" \
      --display-name "Alpes Partners deployer (Cloud Build runs Terraform as it)"
    new_grants=1
  fi
  local role held
  held=$(gcloud projects get-iam-policy "$PROJECT" --flatten=bindings[].members \
    --filter="bindings.members=serviceAccount:$DEPLOYER" --format='value(bindings.role)' 2>/dev/null || true)
  for role in "${DEPLOYER_ROLES[@]}"; do
    grep -qx "$role" <<<"$held" && continue
    log "granting $role to the deployer"
    gcloud projects add-iam-policy-binding "$PROJECT" --member "serviceAccount:$DEPLOYER" \
      --role "$role" --condition None --quiet >/dev/null
    new_grants=1
  done
  gcloud storage buckets add-iam-policy-binding "gs://$TF_STATE_BUCKET" \
    --member "serviceAccount:$DEPLOYER" --role roles/storage.objectAdmin >/dev/null
  if ((new_grants)); then
    # IAM changes take a minute or more to apply everywhere: Cloud Build starting at once
    # as the deployer would meet 403s.
    log "waiting ${IAM_PROPAGATION_SECONDS:-90} s for the new grants to take effect"
    sleep "${IAM_PROPAGATION_SECONDS:-90}"
  fi
}

deploy() {
  need git "install git (the image tag is the commit)"
  bootstrap
  local tag=${IMAGE_TAG:-$(image_tag)}
  log "building, migrating and deploying $tag to $PROJECT ($REGION) with Cloud Build"
  gcloud builds submit "$REPO_ROOT" --project "$PROJECT" --config "$REPO_ROOT/cloudbuild.yaml" \
    --service-account "projects/$PROJECT/serviceAccounts/$DEPLOYER" \
    --substitutions "_REGION=$REGION,_NAME_PREFIX=$NAME_PREFIX,_TF_STATE_BUCKET=$TF_STATE_BUCKET,_TF_VAR_FILE=$TF_VAR_FILE,_TAG=$tag"
}

# The image tag deployed now (plan and destroy keep it), else the commit.
deployed_tag() {
  "$REPO_ROOT/scripts/terraform.sh" output -raw image_tag 2>/dev/null || image_tag
}

plan() {
  preflight_terraform
  "$REPO_ROOT/scripts/terraform.sh" init >/dev/null
  IMAGE_TAG=${IMAGE_TAG:-$(deployed_tag)}
  export IMAGE_TAG
  log "terraform plan of $PROJECT ($REGION), images tagged $IMAGE_TAG"
  "$REPO_ROOT/scripts/terraform.sh" plan "$@"
}

destroy() {
  preflight_terraform
  "$REPO_ROOT/scripts/terraform.sh" init >/dev/null
  IMAGE_TAG=${IMAGE_TAG:-$(deployed_tag)}
  export IMAGE_TAG
  if [[ ${AUTO_APPROVE:-} != 1 ]]; then
    local answer
    read -r -p "Delete the whole deployment in $PROJECT, database and broker data included? Type the project id: " answer
    [[ $answer == "$PROJECT" ]] || die "not confirmed"
  fi
  log "turning deletion protection off"
  "$REPO_ROOT/scripts/terraform.sh" apply -auto-approve -var deletion_protection=false
  log "destroying"
  # Google releases the Direct VPC egress subnet's addresses only some time (1-2 hours)
  # after the Cloud Run services and jobs that used it are deleted: until then deleting the
  # subnet (and so the VPC) fails. Everything else is gone by then; a later run deletes
  # only what is left.
  local wait_minutes=${DESTROY_WAIT_MINUTES:-0} deadline=$((SECONDS + ${DESTROY_WAIT_MINUTES:-0} * 60))
  until "$REPO_ROOT/scripts/terraform.sh" destroy -auto-approve -var deletion_protection=false; do
    if ((SECONDS >= deadline)); then
      log "terraform destroy did not finish. If the error is about the subnetwork $NAME_PREFIX-run (\"being used by\" Cloud Run / serverless addresses),"
      log "Google has not yet released the Direct VPC egress addresses (1-2 hours after the services are deleted)."
      log "Everything else is deleted. Run make destroy again later (it deletes only what is left),"
      log "or let it retry: DESTROY_WAIT_MINUTES=120 make destroy PROJECT=$PROJECT"
      exit 1
    fi
    log "destroy incomplete; retrying in 10 minutes (until $wait_minutes minutes have passed)"
    sleep 600
  done
  log "kept: the state bucket gs://$TF_STATE_BUCKET, the deployer account, the enabled APIs"
}

case ${1:-} in
  deploy) deploy ;;
  plan) shift && plan "$@" ;;
  destroy) destroy ;;
  bootstrap) bootstrap ;;
  *) die "usage: scripts/deploy.sh deploy|plan|destroy|bootstrap" ;;
esac
