# Resource-level assertions on the modules (a run block can look inside the module it
# plans): the database's network and secrets, the Cloud Run service, the migration job.

mock_provider "google" {
  source = "./tests/mocks"
}

variables {
  project_id  = "alpes-test"
  region      = "europe-west1"
  name_prefix = "stg"
}

run "database" {
  command = plan

  module {
    source = "./modules/database"
  }

  variables {
    network_id                  = "projects/alpes-test/global/networks/stg-vpc"
    private_services_connection = "mock"
    tier                        = "db-custom-1-3840"
    availability_type           = "ZONAL"
    disk_size_gb                = 10
    deletion_protection         = true
    databases                   = ["alpes", "reportes"]
    user                        = "alpes"
  }

  assert {
    condition     = google_sql_database_instance.postgres.settings[0].ip_configuration[0].ipv4_enabled == false
    error_message = "Cloud SQL has no public IP"
  }
  assert {
    condition     = google_sql_database_instance.postgres.settings[0].ip_configuration[0].ssl_mode == "ENCRYPTED_ONLY"
    error_message = "Cloud SQL requires TLS"
  }
  assert {
    condition     = google_sql_database_instance.postgres.settings[0].ip_configuration[0].private_network == "projects/alpes-test/global/networks/stg-vpc"
    error_message = "Cloud SQL has a private IP in the deployment's VPC"
  }
  # Write-only arguments are never in the plan or the state: what would hold a secret is
  # null, and only the version numbers are recorded.
  assert {
    condition     = google_sql_user.app.password == null && google_sql_user.app.password_wo == null && google_sql_user.app.password_wo_version == 1
    error_message = "The user's password is write-only (not in plan or state)"
  }
  assert {
    condition     = google_secret_manager_secret_version.password.secret_data == null && google_secret_manager_secret_version.password.secret_data_wo == null
    error_message = "The password secret's value is write-only"
  }
  assert {
    condition     = alltrue([for version in google_secret_manager_secret_version.database_url : version.secret_data == null && version.secret_data_wo == null && version.secret_data_wo_version == 1])
    error_message = "The DATABASE_URL secrets' values are write-only"
  }
  assert {
    condition     = google_secret_manager_secret.password.secret_id == "stg-db-password" && alltrue([for name, secret in google_secret_manager_secret.database_url : secret.secret_id == "stg-database-url-${name}"])
    error_message = "Secrets carry the prefix"
  }
  assert {
    condition     = startswith(google_sql_database_instance.postgres.name, "stg-pg-")
    error_message = "The instance carries the prefix"
  }
}

run "database_rotation" {
  command = plan

  module {
    source = "./modules/database"
  }

  variables {
    network_id                  = "projects/alpes-test/global/networks/stg-vpc"
    private_services_connection = "mock"
    tier                        = "db-custom-1-3840"
    availability_type           = "ZONAL"
    disk_size_gb                = 10
    deletion_protection         = true
    databases                   = ["alpes", "reportes"]
    user                        = "alpes"
    password_version            = 2
  }

  assert {
    condition     = google_sql_user.app.password_wo_version == 2 && google_secret_manager_secret_version.password.secret_data_wo_version == 2 && alltrue([for version in google_secret_manager_secret_version.database_url : version.secret_data_wo_version == 2])
    error_message = "One version number drives the user's password and all three secrets"
  }
}

run "function_service" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    name     = "register-influencer"
    image    = "europe-west1-docker.pkg.dev/alpes-test/stg/register-influencer:0123abc"
    vpc      = { mode = "direct", network = "projects/alpes-test/global/networks/stg-vpc", subnetwork = "projects/alpes-test/regions/europe-west1/subnetworks/stg-run" }
    invokers = { pusher = "serviceAccount:stg-pulsar-bridge@alpes-test.iam.gserviceaccount.com" }
    secret_env = {
      DATABASE_URL = { secret = "projects/alpes-test/secrets/stg-database-url-alpes", version = "1" }
    }
  }

  assert {
    condition     = google_cloud_run_v2_service.service.name == "stg-register-influencer" && google_service_account.runtime.account_id == "stg-register-influencer"
    error_message = "Service and account are <prefix>-<name>"
  }
  assert {
    condition     = google_cloud_run_v2_service.service.template[0].execution_environment == "EXECUTION_ENVIRONMENT_GEN2" && google_cloud_run_v2_service.service.template[0].containers[0].resources[0].limits.memory == "512Mi"
    error_message = "A valid pair: second generation with 512Mi"
  }
  assert {
    condition     = length(google_secret_manager_secret_iam_member.runtime) == 1 && google_secret_manager_secret_iam_member.runtime["DATABASE_URL"].role == "roles/secretmanager.secretAccessor"
    error_message = "The account reads its secret and nothing else"
  }
  assert {
    condition     = length(google_cloud_run_v2_service_iam_member.invokers) == 1 && google_cloud_run_v2_service_iam_member.invokers["pusher"].member == "serviceAccount:stg-pulsar-bridge@alpes-test.iam.gserviceaccount.com"
    error_message = "Only the given members invoke the service"
  }
  assert {
    condition     = terraform_data.iam_propagation.triggers_replace != null
    error_message = "The service waits for its IAM grants (bounded wait)"
  }
}

run "function_gen2_memory" {
  command = plan

  module {
    source = "./modules/function"
  }

  variables {
    name   = "register-influencer"
    image  = "europe-west1-docker.pkg.dev/alpes-test/stg/register-influencer:0123abc"
    vpc    = { mode = "direct" }
    memory = "256Mi"
  }

  expect_failures = [var.memory]
}

run "migration_job" {
  command = plan

  module {
    source = "./modules/migration_job"
  }

  variables {
    database     = "alpes"
    image        = "europe-west1-docker.pkg.dev/alpes-test/stg/migrate:0123abc"
    database_url = { secret = "projects/alpes-test/secrets/stg-database-url-alpes", version = "1" }
    vpc          = { mode = "direct", network = "projects/alpes-test/global/networks/stg-vpc", subnetwork = "projects/alpes-test/regions/europe-west1/subnetworks/stg-run" }
  }

  assert {
    condition     = google_cloud_run_v2_job.migrate.name == "stg-migrate-alpes"
    error_message = "The job carries the prefix"
  }
  assert {
    condition     = google_cloud_run_v2_job.migrate.template[0].template[0].max_retries >= 3
    error_message = "A task that could not connect (Direct VPC egress start-up) is retried: about (1 + max_retries) x 30 s of connect wait"
  }
}
