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
# Terraform as, with the roles that needs.
#
# Environment: PROJECT (required), REGION (europe-west1), NAME_PREFIX (alpes),
# TF_STATE_BUCKET (<project>-alpes-tfstate), IMAGE_TAG (the commit; plan: the deployed
# one), TF_VAR_FILE (terraform/env/<project>.tfvars when it exists), AUTO_APPROVE=1
# (destroy without asking).
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
  artifactregistry.googleapis.com cloudbuild.googleapis.com cloudresourcemanager.googleapis.com
  compute.googleapis.com iam.googleapis.com iamcredentials.googleapis.com logging.googleapis.com
  monitoring.googleapis.com pubsub.googleapis.com run.googleapis.com secretmanager.googleapis.com
  servicenetworking.googleapis.com serviceusage.googleapis.com sqladmin.googleapis.com
  storage.googleapis.com vpcaccess.googleapis.com
)

# What the deployer needs to read the uploaded sources and apply the Terraform
# configuration (it manages everything
# the deployment has, so it is in effect an administrator of these services: only let
# people who may deploy act as it).
DEPLOYER_ROLES=(
  roles/artifactregistry.admin
  roles/cloudsql.admin
  roles/compute.admin
  roles/iam.serviceAccountAdmin
  roles/iam.serviceAccountUser
  roles/logging.logWriter
  roles/pubsub.admin
  roles/resourcemanager.projectIamAdmin
  roles/run.admin
  roles/secretmanager.admin
  roles/servicenetworking.networksAdmin
  roles/storage.objectViewer
  roles/serviceusage.serviceUsageAdmin
  roles/vpcaccess.admin
)

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

bootstrap() {
  need gcloud "install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)"
  log "enabling the APIs of project $PROJECT"
  gcloud services enable "${APIS[@]}" --project "$PROJECT"

  if ! gcloud storage buckets describe "gs://$TF_STATE_BUCKET" --project "$PROJECT" >/dev/null 2>&1; then
    log "creating the Terraform state bucket gs://$TF_STATE_BUCKET"
    gcloud storage buckets create "gs://$TF_STATE_BUCKET" --project "$PROJECT" --location "$REGION" \
      --uniform-bucket-level-access --public-access-prevention
    gcloud storage buckets update "gs://$TF_STATE_BUCKET" --versioning
  fi

  if ! gcloud iam service-accounts describe "$DEPLOYER" --project "$PROJECT" >/dev/null 2>&1; then
    log "creating the deployer service account $DEPLOYER"
    gcloud iam service-accounts create "$NAME_PREFIX-deployer" --project "$PROJECT" \
      --display-name "Alpes Partners deployer (Cloud Build runs Terraform as it)"
  fi
  local role
  for role in "${DEPLOYER_ROLES[@]}"; do
    gcloud projects add-iam-policy-binding "$PROJECT" --member "serviceAccount:$DEPLOYER" \
      --role "$role" --condition None --quiet >/dev/null
  done
  gcloud storage buckets add-iam-policy-binding "gs://$TF_STATE_BUCKET" \
    --member "serviceAccount:$DEPLOYER" --role roles/storage.objectAdmin >/dev/null
}

deploy() {
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
  need terraform "install Terraform >= 1.9"
  gcloud storage buckets describe "gs://$TF_STATE_BUCKET" --project "$PROJECT" >/dev/null 2>&1 ||
    die "no state bucket gs://$TF_STATE_BUCKET yet: run make deploy (or scripts/deploy.sh bootstrap) first"
  "$REPO_ROOT/scripts/terraform.sh" init >/dev/null
  IMAGE_TAG=${IMAGE_TAG:-$(deployed_tag)}
  export IMAGE_TAG
  log "terraform plan of $PROJECT ($REGION), images tagged $IMAGE_TAG"
  "$REPO_ROOT/scripts/terraform.sh" plan "$@"
}

destroy() {
  need terraform "install Terraform >= 1.9"
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
  "$REPO_ROOT/scripts/terraform.sh" destroy -auto-approve -var deletion_protection=false
  log "kept: the state bucket gs://$TF_STATE_BUCKET, the deployer account, the enabled APIs"
}

case ${1:-} in
  deploy) deploy ;;
  plan) shift && plan "$@" ;;
  destroy) destroy ;;
  bootstrap) bootstrap ;;
  *) die "usage: scripts/deploy.sh deploy|plan|destroy|bootstrap" ;;
esac
