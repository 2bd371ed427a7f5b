# Copy to terraform/env/<project id>.tfvars: scripts/deploy.sh (make deploy/plan/destroy)
# and Cloud Build pass it to Terraform. project_id, region, name_prefix and image_tag come
# from make (PROJECT, REGION, NAME_PREFIX, the commit); everything else is here. No secrets:
# the database password is generated, a Pulsar token is read from Secret Manager.

# Who may call the HTTP API (Cloud Run IAM). Public instead: allow_unauthenticated_api = true
api_invokers = ["group:alpes-api-clients@example.com"]

# Sizing
function_max_instances   = 4
database_max_connections = 4
db_tier                  = "db-custom-1-3840"
function_overrides = {
  generate-report = { max_instances = 6 }
}

# Event bus: the VM (default), an existing cluster, or Google Pub/Sub
# pulsar_mode                  = "external"
# external_pulsar_url          = "pulsar+ssl://pulsar.example.com:6651"
# external_pulsar_token_secret = "pulsar-token"
# event_bus = "pubsub"
