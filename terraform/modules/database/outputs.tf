output "instance_name" {
  description = "Cloud SQL instance name."
  value       = google_sql_database_instance.postgres.name
}

output "connection_name" {
  description = "project:region:instance, for the Cloud SQL Auth Proxy."
  value       = google_sql_database_instance.postgres.connection_name
}

output "private_ip" {
  description = "The instance's private IP."
  value       = google_sql_database_instance.postgres.private_ip_address
}

output "password_secret_id" {
  description = "Secret Manager secret holding the application user's password."
  value       = google_secret_manager_secret.password.id
}

output "database_url_secrets" {
  description = "Per database: the Secret Manager secret holding its DATABASE_URL, and the version to read."
  value = {
    for name in var.databases : name => {
      secret  = google_secret_manager_secret.database_url[name].id
      version = google_secret_manager_secret_version.database_url[name].version
    }
  }
}
