#!/bin/sh
# Runs terraform in terraform/ against one deployment: its state bucket and its variables.
# POSIX sh, because Cloud Build runs it in the hashicorp/terraform image (no bash);
# scripts/deploy.sh runs it locally.
#
#   scripts/terraform.sh init
#   scripts/terraform.sh plan|apply|destroy|output [terraform arguments]
#
# Environment: PROJECT, TF_STATE_BUCKET (required); REGION (europe-west1), NAME_PREFIX
# (alpes), IMAGE_TAG (plan/apply/destroy), TF_VAR_FILE (optional file of more variables,
# e.g. terraform/env/<project>.tfvars; relative to the repository root).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
: "${PROJECT:?PROJECT: the GCP project id is required}"
: "${TF_STATE_BUCKET:?TF_STATE_BUCKET: the Terraform state bucket is required}"
TF_VAR_project_id=$PROJECT
TF_VAR_region=${REGION:-europe-west1}
TF_VAR_name_prefix=${NAME_PREFIX:-alpes}
export TF_VAR_project_id TF_VAR_region TF_VAR_name_prefix TF_IN_AUTOMATION=1
if [ -n "${IMAGE_TAG:-}" ]; then
  TF_VAR_image_tag=$IMAGE_TAG
  export TF_VAR_image_tag
fi

[ $# -ge 1 ] || {
  echo "usage: scripts/terraform.sh init|plan|apply|destroy|output [arguments]" >&2
  exit 2
}
command=$1
shift

cd "$root/terraform"
if [ "$command" = init ]; then
  exec terraform init -input=false -reconfigure -backend-config="bucket=$TF_STATE_BUCKET" "$@"
fi
if [ ! -d .terraform ]; then
  terraform init -input=false -reconfigure -backend-config="bucket=$TF_STATE_BUCKET" >/dev/null
fi
case $command in
  plan | apply | destroy)
    if [ -n "${TF_VAR_FILE:-}" ]; then
      [ -f "$root/$TF_VAR_FILE" ] || {
        echo "TF_VAR_FILE: $TF_VAR_FILE does not exist" >&2
        exit 1
      }
      exec terraform "$command" -input=false -var-file="$root/$TF_VAR_FILE" "$@"
    fi
    exec terraform "$command" -input=false "$@"
    ;;
  *) exec terraform "$command" "$@" ;;
esac
