# Cloud SQL for PostgreSQL 15, private IP only, TLS required; the application user's
# password is generated here and kept in Secret Manager, and so is each database's
# DATABASE_URL (what the functions and the migration jobs read).
#
# No secret value enters the Terraform state or plan: the password is an ephemeral value
# (generated anew at every run, never stored by Terraform) passed only to write-only
# arguments: the user's password, the password secret and both DATABASE_URL secrets. A
# write-only value is sent only when its resource is created or its *_wo_version changes,
# so all three take the same run's password together: on the first apply, when
# password_version is raised (rotation), and when the user is replaced (a new instance:
# the secret versions are replaced with it).
# If an apply fails half-way through a rotation, raise password_version once more.

resource "random_id" "instance_suffix" {
  # Cloud SQL keeps a deleted instance's name reserved for about a week.
  byte_length = 2
}

ephemeral "random_password" "app" {
  length = 32
  # Letters and digits only: the password goes into a URL unescaped.
  special = false
}

resource "google_sql_database_instance" "postgres" {
  #checkov:skip=CKV_GCP_6:TLS is required for every connection (ssl_mode ENCRYPTED_ONLY) and the instance has only a private IP; client certificates (TRUSTED_CLIENT_CERTIFICATE_REQUIRED) would have to be issued and rotated for every function, and the Rust functions connect without the Cloud SQL connector.
  #checkov:skip=CKV2_GCP_13:log_duration logs a line per statement: at thousands of requests per second that is most of the logging bill; Query Insights records latency instead.
  #checkov:skip=CKV_GCP_79:PostgreSQL 15 is the version the specification and the local services pin; move to a later major version deliberately (database_version is a variable).
  project             = var.project_id
  name                = "${var.name_prefix}-pg-${random_id.instance_suffix.hex}"
  region              = var.region
  database_version    = var.database_version
  deletion_protection = var.deletion_protection

  settings {
    tier                        = var.tier
    edition                     = "ENTERPRISE"
    availability_type           = var.availability_type
    disk_type                   = "PD_SSD"
    disk_size                   = var.disk_size_gb
    disk_autoresize             = true
    deletion_protection_enabled = var.deletion_protection
    user_labels                 = var.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network_id
      # TLS required (server certificate; no client certificates). Clients connect with
      # sslmode=require.
      ssl_mode = "ENCRYPTED_ONLY"
    }

    backup_configuration {
      enabled                        = var.backups
      start_time                     = "03:00"
      point_in_time_recovery_enabled = var.backups
      transaction_log_retention_days = 7
      backup_retention_settings {
        retained_backups = var.retained_backups
      }
    }

    maintenance_window {
      day          = 7
      hour         = 4
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = false
      record_client_address   = false
    }

    # Logging the CIS benchmark asks for (checkov CKV_GCP_51..58, 108..111): written out
    # one by one so the scanner reads them. Statement text is not logged (it may carry
    # personal data) except DDL, i.e. the migrations.
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
    dynamic "database_flags" {
      for_each = var.database_flags
      content {
        name  = database_flags.key
        value = database_flags.value
      }
    }
  }

  depends_on = [var.private_services_connection]
}

resource "google_sql_database" "databases" {
  for_each = toset(var.databases)

  project  = var.project_id
  instance = google_sql_database_instance.postgres.name
  name     = each.key
}

resource "google_sql_user" "app" {
  project             = var.project_id
  instance            = google_sql_database_instance.postgres.name
  name                = var.user
  password_wo         = ephemeral.random_password.app.result
  password_wo_version = var.password_version
  # PostgreSQL refuses to drop a role that owns objects; the instance's deletion removes it.
  deletion_policy = "ABANDON"
}

resource "google_secret_manager_secret" "password" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-db-password"
  labels    = var.labels
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "password" {
  secret                 = google_secret_manager_secret.password.id
  secret_data_wo         = ephemeral.random_password.app.result
  secret_data_wo_version = var.password_version

  # Written with the user's password, in the same run: a new version whenever the user is
  # created or replaced (its id is then unknown until applied; an in-place update of the
  # user does not trigger this), before the old one is removed.
  lifecycle {
    replace_triggered_by  = [google_sql_user.app.id]
    create_before_destroy = true
  }
}

resource "google_secret_manager_secret" "database_url" {
  for_each = toset(var.databases)

  project   = var.project_id
  secret_id = "${var.name_prefix}-database-url-${each.key}"
  labels    = var.labels
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "database_url" {
  for_each = toset(var.databases)

  secret                 = google_secret_manager_secret.database_url[each.key].id
  secret_data_wo         = "postgres://${var.user}:${ephemeral.random_password.app.result}@${google_sql_database_instance.postgres.private_ip_address}:5432/${each.key}?sslmode=require"
  secret_data_wo_version = var.password_version

  # As the password secret: a new version with the user's password whenever the user is
  # created or replaced (a new instance, a new private IP included); the services switch
  # to it in the same apply, then the old version is removed.
  lifecycle {
    replace_triggered_by  = [google_sql_user.app.id]
    create_before_destroy = true
  }

  depends_on = [google_sql_database.databases, google_sql_user.app]
}
