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
