# One Cloud Run (v2) service with its own service account: the account reads only the
# secrets given here, and only the members given here may invoke the service.
# Service and account are both named <prefix>-<name>.

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-${var.name}"
  display_name = "Cloud Run ${var.name}"
  description  = "Runtime identity of the ${var.name} Cloud Run service"
}

resource "google_secret_manager_secret_iam_member" "runtime" {
  for_each = var.secret_env

  project   = var.project_id
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.runtime.email}"
}

resource "google_cloud_run_v2_service" "service" {
  project             = var.project_id
  name                = "${var.name_prefix}-${var.name}"
  location            = var.region
  ingress             = var.ingress
  deletion_protection = var.deletion_protection
  labels              = var.labels

  template {
    service_account                  = google_service_account.runtime.email
    execution_environment            = var.execution_environment
    timeout                          = "${var.timeout_seconds}s"
    max_instance_request_concurrency = var.concurrency
    labels                           = var.labels

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    vpc_access {
      connector = var.vpc.mode == "connector" ? var.vpc.connector : null
      egress    = var.vpc.egress
      dynamic "network_interfaces" {
        for_each = var.vpc.mode == "direct" ? [var.vpc] : []
        content {
          network    = network_interfaces.value.network
          subnetwork = network_interfaces.value.subnetwork
          tags       = network_interfaces.value.tags
        }
      }
    }

    containers {
      image = var.image

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        # false: CPU always allocated (the bridge consumes Pulsar between requests).
        cpu_idle          = var.cpu_idle
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = var.env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = var.secret_env
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = env.value.secret
              version = env.value.version
            }
          }
        }
      }

      # /health does no I/O: an instance starts even while the database or the broker is
      # down (its /ready says so, and requests answer 503 until they are back).
      startup_probe {
        period_seconds    = 1
        timeout_seconds   = 1
        failure_threshold = 30
        http_get {
          path = "/health"
          port = 8080
        }
      }

      liveness_probe {
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
        http_get {
          path = "/health"
          port = 8080
        }
      }
    }
  }

  depends_on = [terraform_data.iam_propagation]
}

# IAM grants take effect within seconds, sometimes minutes: a revision started right after
# its secretAccessor grant can fail with "permission denied on secret". The service is
# created after this bounded wait, which runs again only when the grants change.
resource "terraform_data" "iam_propagation" {
  triggers_replace = [for grant in google_secret_manager_secret_iam_member.runtime : grant.id]

  provisioner "local-exec" {
    command = length(var.secret_env) > 0 ? "sleep ${var.iam_propagation_seconds}" : "true"
  }
}

resource "google_cloud_run_v2_service_iam_member" "invokers" {
  # "allUsers" is among them only with allow_unauthenticated_api (default false); the
  # event endpoint then still checks the OIDC token's audience and service account itself.
  for_each = var.invokers

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.service.name
  role     = "roles/run.invoker"
  member   = each.value
}
