# Alpes Partners functions on Google Cloud: five Cloud Run functions, the Pulsar push
# bridge and a Pulsar VM (or an external Pulsar cluster, or Google Pub/Sub instead),
# Cloud SQL for PostgreSQL, the network between them, and the migration jobs.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  # Span export (SPEC 12): every function and the bridge send OTLP/HTTP to this collector
  # (docs/DEPLOY.md, "Traces"); nothing is exported when it is empty.
  tracing_env = var.otlp_endpoint == "" ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT = var.otlp_endpoint }

  labels = merge({ app = "alpes-partners", managed-by = "terraform" }, var.labels)
  zone   = var.zone != "" ? var.zone : "${var.region}-b"

  # Which database each function uses, what it consumes (SPEC section 5) and publishes.
  functions = {
    register-influencer = { database = "alpes", consumes = ["eventos-crear-influencer"], publishes = ["eventos-influencers"] }
    create-campaign     = { database = "alpes", consumes = ["eventos-influencers"], publishes = ["eventos-campanas"] }
    send-contract       = { database = "alpes", consumes = ["eventos-campanas"], publishes = ["eventos-contratos", "eventos-contratos-error"] }
    generate-report     = { database = "reportes", consumes = ["eventos-campanas", "eventos-contratos"], publishes = ["eventos-reportes"] }
    compensate-report   = { database = "reportes", consumes = ["eventos-contratos-error"], publishes = ["eventos-reportes"] }
  }
  databases = ["alpes", "reportes"]
  topics    = ["eventos-crear-influencer", "eventos-influencers", "eventos-campanas", "eventos-contratos", "eventos-contratos-error", "eventos-reportes"]

  image_base = var.image_repository != "" ? var.image_repository : module.registry.repository_url
  image      = { for name in concat(keys(local.functions), ["pulsar-bridge", "migrate"]) : name => "${local.image_base}/${name}:${var.image_tag}" }

  # Cloud Run service names carry the prefix (two deployments can share a project).
  service_name = { for name in concat(keys(local.functions), ["pulsar-bridge"]) : name => "${var.name_prefix}-${name}" }

  # Cloud Run's deterministic URL (https://<service>-<project number>.<region>.run.app),
  # known before the service exists: the bridge pushes to it and the functions check it
  # as the token audience (PUSH_AUDIENCE), so neither waits for the other.
  function_url = { for name, _ in local.functions : name => "https://${local.service_name[name]}-${data.google_project.this.number}.${var.region}.run.app" }

  use_pulsar = var.event_bus == "pulsar"
  pulsar_vm  = local.use_pulsar && var.pulsar_mode == "vm"
  pulsar_url = local.pulsar_vm ? module.pulsar_vm[0].service_url : var.external_pulsar_url
  pulsar_token = local.use_pulsar && var.external_pulsar_token_secret != "" ? {
    PULSAR_TOKEN = { secret = var.external_pulsar_token_secret, version = var.external_pulsar_token_secret_version }
  } : {}

  # Who pushes events to the functions: the bridge, or Pub/Sub's push identity.
  pusher_email = local.use_pulsar ? module.bridge[0].service_account_email : google_service_account.pubsub_push[0].email

  vpc = {
    mode       = var.vpc_egress
    connector  = module.network.connector_id
    network    = module.network.network_id
    subnetwork = module.network.serverless_subnet_id
    egress     = "PRIVATE_RANGES_ONLY"
  }

  api_invokers = merge(
    var.allow_unauthenticated_api ? { public = "allUsers" } : {},
    { for index, member in var.api_invokers : "api-${index}" => member },
  )
}

module "registry" {
  source = "./modules/registry"

  project_id       = var.project_id
  region           = var.region
  repository_id    = var.name_prefix
  labels           = local.labels
  docker_hub_proxy = local.pulsar_vm
  docker_hub_readers = local.pulsar_vm ? {
    pulsar-vm = "serviceAccount:${module.pulsar_vm[0].service_account_email}"
  } : {}

  depends_on = [google_project_service.apis]
}

module "network" {
  source = "./modules/network"

  project_id      = var.project_id
  region          = var.region
  name_prefix     = var.name_prefix
  main_cidr       = var.main_cidr
  egress_mode     = var.vpc_egress
  serverless_cidr = var.serverless_cidr
  connector_cidr  = var.connector_cidr

  depends_on = [google_project_service.apis]
}

module "database" {
  source = "./modules/database"

  project_id                  = var.project_id
  region                      = var.region
  name_prefix                 = var.name_prefix
  labels                      = local.labels
  network_id                  = module.network.network_id
  private_services_connection = module.network.private_services_connection
  tier                        = var.db_tier
  availability_type           = var.db_availability_type
  disk_size_gb                = var.db_disk_size_gb
  backups                     = var.db_backups
  deletion_protection         = var.deletion_protection
  databases                   = local.databases
  user                        = "alpes"
  password_version            = var.db_password_version

  depends_on = [google_project_service.apis]
}

module "migrations" {
  source   = "./modules/migration_job"
  for_each = toset(local.databases)

  project_id          = var.project_id
  region              = var.region
  name_prefix         = var.name_prefix
  labels              = local.labels
  database            = each.key
  image               = local.image["migrate"]
  database_url        = module.database.database_url_secrets[each.key]
  vpc                 = local.vpc
  max_retries         = var.migration_max_retries
  deletion_protection = false

  iam_propagation_seconds = var.iam_propagation_seconds
}

module "pulsar_vm" {
  source = "./modules/pulsar_vm"
  count  = local.pulsar_vm ? 1 : 0

  project_id              = var.project_id
  region                  = var.region
  zone                    = local.zone
  name_prefix             = var.name_prefix
  labels                  = local.labels
  network                 = module.network.network_id
  subnetwork              = module.network.main_subnet_id
  client_ranges           = [module.network.serverless_source_range]
  machine_type            = var.pulsar_machine_type
  image                   = "${module.registry.docker_hub_url}/${var.pulsar_image}"
  pulsar_mem              = var.pulsar_mem
  namespace               = var.pulsar_namespace
  retention_minutes       = var.pulsar_retention_minutes
  retention_size_mb       = var.pulsar_retention_size_mb
  startup_script          = file("${path.root}/../pulsar-vm/startup.sh")
  disk_size_gb            = var.pulsar_disk_size_gb
  snapshot_retention_days = var.pulsar_snapshot_retention_days
  allow_iap_ssh           = var.pulsar_allow_iap_ssh
  deletion_protection     = var.deletion_protection

  depends_on = [google_project_service.apis]
}

module "functions" {
  source   = "./modules/function"
  for_each = local.functions

  project_id  = var.project_id
  region      = var.region
  name_prefix = var.name_prefix
  name        = each.key
  image       = local.image[each.key]
  labels      = local.labels
  ingress     = var.function_ingress
  vpc         = local.vpc

  min_instances   = coalesce(try(var.function_overrides[each.key].min_instances, null), var.function_min_instances)
  max_instances   = coalesce(try(var.function_overrides[each.key].max_instances, null), var.function_max_instances)
  concurrency     = coalesce(try(var.function_overrides[each.key].concurrency, null), var.function_concurrency)
  timeout_seconds = coalesce(try(var.function_overrides[each.key].timeout_seconds, null), var.function_timeout_seconds)
  cpu             = coalesce(try(var.function_overrides[each.key].cpu, null), var.function_cpu)
  memory          = coalesce(try(var.function_overrides[each.key].memory, null), var.function_memory)

  execution_environment   = coalesce(try(var.function_overrides[each.key].execution_environment, null), var.function_execution_environment)
  iam_propagation_seconds = var.iam_propagation_seconds

  env = merge(
    {
      RUST_LOG                 = var.rust_log
      GCP_PROJECT              = var.project_id
      EVENT_BUS                = var.event_bus
      PUSH_AUTH                = "oidc"
      PUSH_AUDIENCE            = local.function_url[each.key]
      PUSH_SERVICE_ACCOUNTS    = local.pusher_email
      DATABASE_MAX_CONNECTIONS = tostring(var.database_max_connections)
      # Answer (503) before Cloud Run cuts the request.
      REQUEST_TIMEOUT_MS = tostring(min(30000, (coalesce(try(var.function_overrides[each.key].timeout_seconds, null), var.function_timeout_seconds) - 5) * 1000))
    },
    local.use_pulsar ? { PULSAR_URL = local.pulsar_url, PULSAR_NAMESPACE = var.pulsar_namespace } : {},
    local.tracing_env,
    var.function_env,
  )
  secret_env = merge(
    { DATABASE_URL = module.database.database_url_secrets[each.value.database] },
    local.pulsar_token,
  )

  # Only the pusher may invoke a function for events (roles/run.invoker); the API is
  # public or reserved to the given members (allow_unauthenticated_api, api_invokers).
  invokers = merge(
    { pusher = "serviceAccount:${local.pusher_email}" },
    local.api_invokers,
  )

  deletion_protection = var.deletion_protection
}

# The outbox relay on a schedule: each instance sweeps its outbox every few seconds, but
# on Cloud Run an instance gets CPU only during requests and scales to zero, so events a
# broker outage left behind would wait for the next request. Cloud Scheduler calls
# POST /outbox/relay with an OIDC token of the pusher account, which every function
# already accepts (PUSH_SERVICE_ACCOUNTS) and which already holds roles/run.invoker.
resource "google_cloud_scheduler_job" "outbox_relay" {
  for_each = var.outbox_relay_schedule == "" ? {} : local.functions

  project          = var.project_id
  region           = var.region
  name             = "${local.service_name[each.key]}-outbox-relay"
  description      = "Publishes what the outbox of ${each.key} still holds"
  schedule         = var.outbox_relay_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "60s"

  # The next run is a minute away: no retries of a failed call (a 503 while the broker
  # is down is logged by Cloud Scheduler, the events stay in the outbox).
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${local.function_url[each.key]}/outbox/relay"

    oidc_token {
      service_account_email = local.pusher_email
      audience              = local.function_url[each.key]
    }
  }

  depends_on = [google_project_service.apis, module.functions]
}

module "bridge" {
  source = "./modules/function"
  count  = local.use_pulsar ? 1 : 0

  project_id  = var.project_id
  region      = var.region
  name_prefix = var.name_prefix
  name        = "pulsar-bridge"
  image       = local.image["pulsar-bridge"]
  labels      = local.labels
  # Nobody calls the bridge: /health, /ready and /metrics stay inside the project.
  ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  vpc     = local.vpc

  # Always-on consumer: CPU allocated outside requests, never scaled to zero.
  cpu_idle        = false
  min_instances   = var.bridge_min_instances
  max_instances   = var.bridge_max_instances
  concurrency     = 80
  timeout_seconds = 60
  cpu             = "1"
  memory          = var.bridge_memory

  execution_environment   = var.bridge_execution_environment
  iam_propagation_seconds = var.iam_propagation_seconds

  env = merge(
    {
      RUST_LOG                = "info,pulsar=warn"
      PULSAR_URL              = local.pulsar_url
      PULSAR_NAMESPACE        = var.pulsar_namespace
      PUSH_AUTH               = "metadata"
      REGISTER_INFLUENCER_URL = local.function_url["register-influencer"]
      CREATE_CAMPAIGN_URL     = local.function_url["create-campaign"]
      SEND_CONTRACT_URL       = local.function_url["send-contract"]
      GENERATE_REPORT_URL     = local.function_url["generate-report"]
      COMPENSATE_REPORT_URL   = local.function_url["compensate-report"]
      # Retry policy (SPEC section 6): exponential backoff with jitter between the two
      # bounds; dead-lettered after the attempts or the budget, whichever comes first.
      BRIDGE_MIN_BACKOFF_MS    = tostring(var.bridge_min_backoff_ms)
      BRIDGE_MAX_BACKOFF_MS    = tostring(var.bridge_max_backoff_ms)
      BRIDGE_MAX_ATTEMPTS      = tostring(var.bridge_max_attempts)
      BRIDGE_RETRY_BUDGET      = var.bridge_retry_budget
      BRIDGE_SHUTDOWN_GRACE_MS = "6000"
    },
    # The dead-letter backlog on /metrics comes from the admin API (docs/BRIDGE.md).
    local.pulsar_vm ? { PULSAR_ADMIN_URL = module.pulsar_vm[0].admin_url } : {},
    local.tracing_env,
    var.bridge_env,
  )
  secret_env = local.pulsar_token

  invokers            = {}
  deletion_protection = var.deletion_protection
}

# Pub/Sub mode: the identity Pub/Sub signs push tokens with.
resource "google_service_account" "pubsub_push" {
  count = local.use_pulsar ? 0 : 1

  project      = var.project_id
  account_id   = "${var.name_prefix}-pubsub-push"
  display_name = "Pub/Sub push to the functions"
  description  = "OIDC identity of the Pub/Sub push subscriptions (run.invoker on the functions)"

  depends_on = [google_project_service.apis]
}

module "pubsub" {
  source = "./modules/pubsub"
  count  = local.use_pulsar ? 0 : 1

  project_id                 = var.project_id
  name_prefix                = var.name_prefix
  labels                     = local.labels
  topics                     = local.topics
  push_service_account_email = google_service_account.pubsub_push[0].email
  push_service_account_id    = google_service_account.pubsub_push[0].name
  max_delivery_attempts      = var.pubsub_max_delivery_attempts
  minimum_backoff            = var.pubsub_minimum_backoff
  maximum_backoff            = var.pubsub_maximum_backoff
  routes = flatten([
    for name, function in local.functions : [
      for topic in function.consumes : { topic = topic, subscription = name, url = local.function_url[name] }
    ]
  ])
  publishers = merge([
    for name, function in local.functions : {
      for topic in function.publishes : "${name}-${topic}" => {
        topic  = topic
        member = "serviceAccount:${module.functions[name].service_account_email}"
      }
    }
  ]...)

  depends_on = [google_project_service.apis]
}

module "monitoring" {
  source = "./modules/monitoring"

  project_id            = var.project_id
  name_prefix           = var.name_prefix
  labels                = local.labels
  event_bus             = var.event_bus
  bridge_service        = local.service_name["pulsar-bridge"]
  pulsar_vm             = local.pulsar_vm
  pulsar_vm_name        = local.pulsar_vm ? module.pulsar_vm[0].instance_name : ""
  database_id           = "${var.project_id}:${module.database.instance_name}"
  notification_channels = var.alert_notification_channels
  alert_email           = var.alert_email

  error_ratio_threshold           = var.alert_error_ratio
  outbox_relay_failures_threshold = var.alert_outbox_relay_failures
  db_cpu_threshold                = var.alert_db_cpu
  db_connections_threshold        = var.alert_db_connections

  depends_on = [google_project_service.apis]
}
