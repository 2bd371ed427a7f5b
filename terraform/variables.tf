# ---------------------------------------------------------------------------
# Project and naming
# ---------------------------------------------------------------------------

variable "project_id" {
  description = "The GCP project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of Cloud Run, Cloud SQL, Artifact Registry and the subnets."
  type        = string
  default     = "europe-west1"
}

variable "zone" {
  description = "Zone of the Pulsar VM and its disk (empty: <region>-b)."
  type        = string
  default     = ""
}

variable "name_prefix" {
  description = "Prefix of resource and service account names (service accounts are <prefix>-<function>, at most 30 characters, so at most 10 here)."
  type        = string
  default     = "alpes"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,9}$", var.name_prefix))
    error_message = "name_prefix: 2 to 10 lower-case letters, digits or dashes, starting with a letter."
  }
}

variable "labels" {
  description = "Extra labels on every resource that takes labels."
  type        = map(string)
  default     = {}
}

variable "deletion_protection" {
  description = "Protect Cloud SQL, the Pulsar VM and the Cloud Run services from deletion. `make destroy` turns it off first."
  type        = bool
  default     = true
}

# ---------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------

variable "image_tag" {
  description = "Tag of every image (the commit SHA Cloud Build tagged them with)."
  type        = string

  validation {
    condition     = length(var.image_tag) > 0 && var.image_tag != "latest"
    error_message = "image_tag: give the commit SHA the images were built from (not latest)."
  }
}

variable "image_repository" {
  description = "Where the images are (empty: the Artifact Registry repository created here, <region>-docker.pkg.dev/<project>/<name_prefix>)."
  type        = string
  default     = ""
}

# ---------------------------------------------------------------------------
# Network
# ---------------------------------------------------------------------------

variable "vpc_egress" {
  description = "How Cloud Run reaches the VPC (Cloud SQL, Pulsar): \"direct\" (direct VPC egress, no extra VMs) or \"connector\" (Serverless VPC Access connector)."
  type        = string
  default     = "direct"

  validation {
    condition     = contains(["direct", "connector"], var.vpc_egress)
    error_message = "vpc_egress: direct or connector."
  }
}

variable "main_cidr" {
  description = "Range of the VM subnet (the Pulsar VM)."
  type        = string
  default     = "10.10.0.0/24"
}

variable "serverless_cidr" {
  description = "Range of the subnet Cloud Run's direct VPC egress takes addresses from (vpc_egress = direct)."
  type        = string
  default     = "10.10.4.0/22"
}

variable "connector_cidr" {
  description = "Unused /28 of the Serverless VPC Access connector (vpc_egress = connector)."
  type        = string
  default     = "10.10.8.0/28"
}

# ---------------------------------------------------------------------------
# Database
# ---------------------------------------------------------------------------

variable "db_tier" {
  description = "Cloud SQL machine tier. db-custom-1-3840 (1 vCPU, 3.75 GB) allows 100 connections: keep functions x max instances x database_max_connections below it."
  type        = string
  default     = "db-custom-1-3840"
}

variable "db_availability_type" {
  description = "ZONAL, or REGIONAL (a standby in a second zone, twice the price)."
  type        = string
  default     = "ZONAL"

  validation {
    condition     = contains(["ZONAL", "REGIONAL"], var.db_availability_type)
    error_message = "db_availability_type: ZONAL or REGIONAL."
  }
}

variable "db_disk_size_gb" {
  description = "Initial database disk size (grows automatically)."
  type        = number
  default     = 10
}

variable "db_backups" {
  description = "Daily backups with point-in-time recovery."
  type        = bool
  default     = true
}

variable "database_max_connections" {
  description = "Connection pool size of each function instance (DATABASE_MAX_CONNECTIONS)."
  type        = number
  default     = 4
}

# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------

variable "function_min_instances" {
  description = "Instances each function keeps warm (0: scale to zero; the process listens within about 10 ms of exec and answers /ready within about 30-50 ms on a busy 2-core machine, docs/BENCHMARKS.md, plus Cloud Run's own start)."
  type        = number
  default     = 0
}

variable "function_max_instances" {
  description = "Maximum instances of each function (5 functions x 4 x 4 connections = 80 database connections)."
  type        = number
  default     = 4
}

variable "function_concurrency" {
  description = "Concurrent requests per function instance."
  type        = number
  default     = 80
}

variable "function_timeout_seconds" {
  description = "Cloud Run request timeout of the functions; REQUEST_TIMEOUT_MS is set 5 s below it (at most 30 s)."
  type        = number
  default     = 60

  validation {
    condition     = var.function_timeout_seconds >= 10 && var.function_timeout_seconds <= 3600
    error_message = "function_timeout_seconds: 10 to 3600."
  }
}

variable "function_cpu" {
  description = "CPU limit of each function instance."
  type        = string
  default     = "1"
}

variable "function_memory" {
  description = "Memory limit of each function instance (idle RSS is about 12 MiB). The second-generation execution environment needs at least 512Mi; 128Mi to 256Mi need function_execution_environment = EXECUTION_ENVIRONMENT_GEN1."
  type        = string
  default     = "512Mi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.function_memory))
    error_message = "function_memory: a number of Mi or Gi, e.g. 512Mi."
  }
  validation {
    # Cloud Run: the second generation needs 512 MiB or more.
    condition = var.function_execution_environment != "EXECUTION_ENVIRONMENT_GEN2" || !can(regex("^[0-9]+(Mi|Gi)$", var.function_memory)) || (
      endswith(var.function_memory, "Gi") ? tonumber(trimsuffix(var.function_memory, "Gi")) * 1024 >= 512 : tonumber(trimsuffix(var.function_memory, "Mi")) >= 512
    )
    error_message = "function_memory: the second-generation execution environment (function_execution_environment) needs at least 512Mi; set function_execution_environment = \"EXECUTION_ENVIRONMENT_GEN1\" for less."
  }
}

variable "function_execution_environment" {
  description = "Cloud Run execution environment of the functions: EXECUTION_ENVIRONMENT_GEN2 (memory at least 512Mi) or EXECUTION_ENVIRONMENT_GEN1 (faster cold start, from 128Mi)."
  type        = string
  default     = "EXECUTION_ENVIRONMENT_GEN2"
}

variable "function_overrides" {
  description = "Per-function settings overriding the function_* defaults, keyed by function name, e.g. { generate-report = { max_instances = 8 } }."
  type = map(object({
    min_instances         = optional(number)
    max_instances         = optional(number)
    concurrency           = optional(number)
    timeout_seconds       = optional(number)
    cpu                   = optional(string)
    memory                = optional(string)
    execution_environment = optional(string)
  }))
  default = {}
}

variable "outbox_relay_schedule" {
  description = "Cron schedule (Cloud Scheduler) of POST /outbox/relay on every function: publishes what a broker outage left in an outbox even when no request comes (instances get CPU only during requests). Empty disables the jobs."
  type        = string
  default     = "* * * * *"
}

variable "function_env" {
  description = "Extra environment variables of every function (e.g. RELAY_INTERVAL_MS)."
  type        = map(string)
  default     = {}
}

variable "function_ingress" {
  description = "Ingress of the functions: INGRESS_TRAFFIC_ALL, or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER behind your own load balancer (the bridge then needs vpc egress ALL_TRAFFIC; Pub/Sub push counts as internal)."
  type        = string
  default     = "INGRESS_TRAFFIC_ALL"
}

variable "allow_unauthenticated_api" {
  description = "Let anyone call the HTTP API (roles/run.invoker to allUsers). Off by default: callers need the invoker role (api_invokers) and an ID token. Event pushes are checked by the functions themselves (OIDC audience and pusher service account) either way."
  type        = bool
  default     = false
}

variable "api_invokers" {
  description = "Members allowed to call the functions' HTTP API when it is not public, e.g. [\"group:api-clients@your-domain.com\", \"serviceAccount:gateway@p.iam.gserviceaccount.com\"]."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for member in var.api_invokers : can(regex("^(user|group|serviceAccount|domain|principal|principalSet):", member)) && !strcontains(member, "example.com")])
    error_message = "api_invokers: IAM members such as group:<group>@<your domain> (a placeholder at example.com does not exist and fails the IAM grant)."
  }
}

variable "otlp_endpoint" {
  description = "Base URL of an OTLP/HTTP collector receiving the spans of every function and the bridge (OTEL_EXPORTER_OTLP_ENDPOINT), e.g. an OpenTelemetry Collector forwarding to Cloud Trace. Empty: spans are not exported (trace ids still reach the logs)."
  type        = string
  default     = ""
  validation {
    condition     = var.otlp_endpoint == "" || can(regex("^https?://[^/]+", var.otlp_endpoint))
    error_message = "otlp_endpoint: an http(s):// base URL, or empty."
  }
}

variable "rust_log" {
  description = "Log filter of the functions (RUST_LOG)."
  type        = string
  default     = "info"
}

# ---------------------------------------------------------------------------
# Event bus
# ---------------------------------------------------------------------------

variable "event_bus" {
  description = "\"pulsar\" (the Avro contract on Apache Pulsar, pushed by the bridge) or \"pubsub\" (Google Pub/Sub topics and OIDC push subscriptions; no broker, no bridge)."
  type        = string
  default     = "pulsar"

  validation {
    condition     = contains(["pulsar", "pubsub"], var.event_bus)
    error_message = "event_bus: pulsar or pubsub."
  }
}

variable "pulsar_mode" {
  description = "With event_bus = pulsar: \"vm\" (a standalone broker on a VM created here) or \"external\" (an existing cluster at external_pulsar_url)."
  type        = string
  default     = "vm"

  validation {
    condition     = contains(["vm", "external"], var.pulsar_mode)
    error_message = "pulsar_mode: vm or external."
  }
}

variable "external_pulsar_url" {
  description = "Service URL of an existing Pulsar cluster (pulsar://... or pulsar+ssl://...), with pulsar_mode = external."
  type        = string
  default     = ""

  validation {
    condition     = var.event_bus != "pulsar" || var.pulsar_mode != "external" || can(regex("^pulsar(\\+ssl)?://", var.external_pulsar_url))
    error_message = "external_pulsar_url: pulsar_mode = external needs a pulsar:// or pulsar+ssl:// URL."
  }
}

variable "external_pulsar_token_secret" {
  description = "Secret Manager secret (name or projects/<p>/secrets/<name>) holding the external cluster's JWT, given to the functions and the bridge as PULSAR_TOKEN. Create it yourself, so the token never enters the Terraform state. Empty: no token."
  type        = string
  default     = ""
}

variable "external_pulsar_token_secret_version" {
  description = "Version of that secret to read."
  type        = string
  default     = "latest"
}

variable "pulsar_namespace" {
  description = "tenant/namespace of the contract's topics (PULSAR_NAMESPACE of the functions and the bridge). The Pulsar VM creates it if missing and gives it the retention policy below; on an external cluster it must exist."
  type        = string
  default     = "public/default"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.pulsar_namespace))
    error_message = "pulsar_namespace: tenant/namespace, e.g. public/default or alpes/staging."
  }
}

variable "pulsar_retention_minutes" {
  description = "Pulsar VM: namespace retention of acknowledged messages, minutes (7 days; -1: unbounded). Dead letters wait unacknowledged on their dlq subscriptions and are kept regardless, until replayed or dropped."
  type        = number
  default     = 10080
}

variable "pulsar_retention_size_mb" {
  description = "Pulsar VM: size bound of that retention per topic, MB (-1: unbounded)."
  type        = number
  default     = 10240
}

variable "pulsar_image" {
  description = "Pulsar image on Docker Hub, pinned (pulled through an Artifact Registry cache)."
  type        = string
  default     = "apachepulsar/pulsar:4.0.7"
}

variable "pulsar_machine_type" {
  description = "Machine type of the Pulsar VM."
  type        = string
  default     = "e2-standard-2"
}

variable "pulsar_mem" {
  description = "JVM memory of the broker (PULSAR_MEM); fit it to pulsar_machine_type."
  type        = string
  default     = "-Xms2g -Xmx2g -XX:MaxDirectMemorySize=2g"
}

variable "pulsar_disk_size_gb" {
  description = "Data disk of the Pulsar VM."
  type        = number
  default     = 50
}

variable "pulsar_snapshot_retention_days" {
  description = "Daily snapshots of the Pulsar data disk kept this many days (0: none)."
  type        = number
  default     = 7
}

variable "pulsar_allow_iap_ssh" {
  description = "Open SSH to the Pulsar VM from Identity-Aware Proxy only (gcloud compute ssh --tunnel-through-iap)."
  type        = bool
  default     = false
}

variable "bridge_min_instances" {
  description = "Bridge instances always running (at least 1: it is the Pulsar consumer)."
  type        = number
  default     = 1

  validation {
    condition     = var.bridge_min_instances >= 1
    error_message = "bridge_min_instances: at least 1, or nothing consumes Pulsar."
  }
}

variable "bridge_max_instances" {
  description = "Bridge instances at most (they share the subscriptions)."
  type        = number
  default     = 2
}

variable "bridge_memory" {
  description = "Memory limit of a bridge instance (at least 512Mi on the second-generation execution environment)."
  type        = string
  default     = "512Mi"
}

variable "bridge_execution_environment" {
  description = "Cloud Run execution environment of the bridge (EXECUTION_ENVIRONMENT_GEN2 or EXECUTION_ENVIRONMENT_GEN1)."
  type        = string
  default     = "EXECUTION_ENVIRONMENT_GEN2"
}

variable "bridge_min_backoff_ms" {
  description = "First retry delay of a failed push (BRIDGE_MIN_BACKOFF_MS); later ones double, with jitter."
  type        = number
  default     = 1000
}

variable "bridge_max_backoff_ms" {
  description = "Longest retry delay of a failed push (BRIDGE_MAX_BACKOFF_MS)."
  type        = number
  default     = 60000

  validation {
    condition     = var.bridge_max_backoff_ms >= var.bridge_min_backoff_ms
    error_message = "bridge_max_backoff_ms: at least bridge_min_backoff_ms."
  }
}

variable "bridge_max_attempts" {
  description = "Push attempts before a message is dead-lettered (BRIDGE_MAX_ATTEMPTS; with the default backoff 100 attempts is about 1.5 hours), unless bridge_retry_budget runs out first."
  type        = number
  default     = 100
}

variable "bridge_retry_budget" {
  description = "Time since a message's first failed push after which it is dead-lettered (BRIDGE_RETRY_BUDGET, e.g. 24h, 90m), unless bridge_max_attempts comes first."
  type        = string
  default     = "24h"

  validation {
    condition     = can(regex("^[0-9]+(ms|s|m|h|d)$", var.bridge_retry_budget))
    error_message = "bridge_retry_budget: a number and a unit (ms, s, m, h, d), e.g. 24h."
  }
}

variable "bridge_env" {
  description = "Extra environment variables of the bridge (BRIDGE_* settings, docs/BRIDGE.md)."
  type        = map(string)
  default     = {}
}

variable "pubsub_max_delivery_attempts" {
  description = "With event_bus = pubsub: deliveries before a message goes to its dead-letter topic (Pub/Sub allows 5 to 100)."
  type        = number
  default     = 100

  validation {
    condition     = var.pubsub_max_delivery_attempts >= 5 && var.pubsub_max_delivery_attempts <= 100
    error_message = "pubsub_max_delivery_attempts: 5 to 100 (Pub/Sub's bounds)."
  }
}

variable "pubsub_minimum_backoff" {
  description = "With event_bus = pubsub: first redelivery delay of a failed push (retry policy)."
  type        = string
  default     = "10s"
}

variable "pubsub_maximum_backoff" {
  description = "With event_bus = pubsub: longest redelivery delay of a failed push (retry policy, at most 600s)."
  type        = string
  default     = "600s"
}

# ---------------------------------------------------------------------------
# Secrets, IAM propagation, migrations
# ---------------------------------------------------------------------------

variable "db_password_version" {
  description = "Version of the generated database password: raise it by one to rotate the password (stored in Secret Manager, set on the user, written into both DATABASE_URL secrets; the services read the new version at their next deployment). The password never enters the Terraform state."
  type        = number
  default     = 1
}

variable "iam_propagation_seconds" {
  description = "Bounded wait between granting a service account access to its secrets and starting the Cloud Run service or job that uses them (IAM changes take up to minutes to apply). Runs only when the grants change."
  type        = number
  default     = 60
}

variable "migration_max_retries" {
  description = "Retries of a failed migration task (each task waits up to 180 s for the database: Direct VPC egress can take a minute or more to connect at start)."
  type        = number
  default     = 4
}

# ---------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------

variable "alert_notification_channels" {
  description = "Cloud Monitoring notification channel ids every alert goes to (projects/<project>/notificationChannels/<id>: gcloud beta monitoring channels list). Empty: incidents are only shown in the console."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for channel in var.alert_notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", channel))])
    error_message = "alert_notification_channels: ids of the form projects/<project>/notificationChannels/<id>."
  }
}

variable "alert_email" {
  description = "An e-mail address to create a notification channel for (in addition to alert_notification_channels). Empty: none."
  type        = string
  default     = ""

  validation {
    condition     = var.alert_email == "" || (can(regex("^[^@ ]+@[^@ ]+\\.[^@ ]+$", var.alert_email)) && !strcontains(var.alert_email, "example.com"))
    error_message = "alert_email: an e-mail address that exists (not a placeholder at example.com)."
  }
}

variable "alert_error_ratio" {
  description = "Share (0-1) of a function's requests answered 5xx over 5 minutes that raises an alert."
  type        = number
  default     = 0.05
}

variable "alert_outbox_relay_failures" {
  description = "Failed scheduled outbox relays of one function in 15 minutes that raise an alert (runs every minute: its oldest event waits at least that many minutes)."
  type        = number
  default     = 5
}

variable "alert_db_cpu" {
  description = "Cloud SQL CPU utilization (0-1) over 10 minutes that raises an alert."
  type        = number
  default     = 0.8
}

variable "alert_db_connections" {
  description = "PostgreSQL connections over 5 minutes that raise an alert (max_connections is 100 on db-custom-1-3840)."
  type        = number
  default     = 80
}
