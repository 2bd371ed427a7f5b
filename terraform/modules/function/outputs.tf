output "name" {
  description = "Service name."
  value       = google_cloud_run_v2_service.service.name
}

output "uri" {
  description = "The service's main URL."
  value       = google_cloud_run_v2_service.service.uri
}

output "service_account_email" {
  description = "The service's runtime identity."
  value       = google_service_account.runtime.email
}

output "invoker_members" {
  description = "Members holding roles/run.invoker on the service."
  value       = sort([for grant in google_cloud_run_v2_service_iam_member.invokers : grant.member])
}

output "secret_accessor_secrets" {
  description = "Secrets the service account may read."
  value       = sort([for grant in google_secret_manager_secret_iam_member.runtime : grant.secret_id])
}

output "env" {
  description = "The plain (non-secret) environment variables of the service."
  value       = var.env
}

output "secret_env" {
  description = "Environment variables read from Secret Manager: name => { secret, version } (references, never values)."
  value       = var.secret_env
}
