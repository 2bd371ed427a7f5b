# Copy to terraform/env/<project id>.tfvars: scripts/deploy.sh (make deploy/plan/destroy)
# and Cloud Build pass it to Terraform. project_id, region, name_prefix and image_tag come
# from make (PROJECT, REGION, NAME_PREFIX, the commit); everything else is here. No secrets:
# the database password is generated (never in the state), a Pulsar token is read from
# Secret Manager. Copied as it is, this file deploys the defaults; uncomment what you need.

# Who may call the HTTP API (Cloud Run IAM). Default: nobody but the project's owners.
# api_invokers = ["group:<your api clients group>@<your domain>"]
# Public instead:
# allow_unauthenticated_api = true

# Where alerts go (docs/DEPLOY.md, "Monitoring"): existing channels and/or an e-mail address.
# alert_notification_channels = ["projects/<project>/notificationChannels/<id>"]
# alert_email                 = "<on-call address>"

# Sizing
function_max_instances   = 4
database_max_connections = 4
db_tier                  = "db-custom-1-3840"
function_overrides = {
  generate-report = { max_instances = 6 }
}
# Less memory on the first-generation execution environment (faster cold starts):
# function_execution_environment = "EXECUTION_ENVIRONMENT_GEN1"
# function_memory                = "256Mi"

# Retries before dead-lettering (SPEC section 6; these are the defaults)
# bridge_max_attempts          = 100
# bridge_retry_budget          = "24h"
# pubsub_max_delivery_attempts = 100

# Event bus: the VM (default), an existing cluster, or Google Pub/Sub
# pulsar_mode                  = "external"
# external_pulsar_url          = "pulsar+ssl://pulsar.example.com:6651"
# external_pulsar_token_secret = "pulsar-token"
# event_bus = "pubsub"
