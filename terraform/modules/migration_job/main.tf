# A Cloud Run job running the `migrate` binary against one database (its DATABASE_URL
# from Secret Manager). `gcloud run jobs execute <name> --wait` runs it; it is safe to
# run again (applied migrations are skipped).

resource "google_service_account" "job" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-migrate-${var.database}"
  display_name = "Migrations of ${var.database}"
  description  = "Runtime identity of the migration job of the ${var.database} database"
}

resource "google_secret_manager_secret_iam_member" "database_url" {
  project   = var.project_id
  secret_id = var.database_url.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.job.email}"
}

resource "google_cloud_run_v2_job" "migrate" {
  project             = var.project_id
  name                = "${var.name_prefix}-migrate-${var.database}"
  location            = var.region
  deletion_protection = var.deletion_protection
  labels              = var.labels

  template {
    task_count  = 1
    parallelism = 1
    labels      = var.labels

    template {
      service_account = google_service_account.job.email
      timeout         = "${var.timeout_seconds}s"
      # Direct VPC egress can take a minute or more to connect a new instance (Google's
      # documented start-up delay): the migrate binary waits up to 180 s for its
      # connection (MIGRATE_CONNECT_TIMEOUT_SECS), and a task that still could not
      # connect is retried in a fresh instance.
      max_retries = var.max_retries

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

        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
        }

        env {
          name = "DATABASE_URL"
          value_source {
            secret_key_ref {
              secret  = var.database_url.secret
              version = var.database_url.version
            }
          }
        }

        env {
          name  = "RUST_LOG"
          value = "info"
        }
      }
    }
  }

  depends_on = [terraform_data.iam_propagation]
}

# A bounded wait for the secretAccessor grant to take effect before the job can run
# (see the function module); again only when the grant changes.
resource "terraform_data" "iam_propagation" {
  triggers_replace = [google_secret_manager_secret_iam_member.database_url.id]

  provisioner "local-exec" {
    command = "sleep ${var.iam_propagation_seconds}"
  }
}
