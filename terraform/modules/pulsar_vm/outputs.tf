output "internal_ip" {
  description = "The broker's internal IP (its advertised address)."
  value       = google_compute_address.internal.address
}

output "service_url" {
  description = "pulsar://<internal ip>:6650"
  value       = "pulsar://${google_compute_address.internal.address}:6650"
}

output "admin_url" {
  description = "http://<internal ip>:8080 (reachable from the VPC only)."
  value       = "http://${google_compute_address.internal.address}:8080"
}

output "service_account_email" {
  description = "The VM's identity (gets read access to the image repository)."
  value       = google_service_account.vm.email
}

output "instance_name" {
  description = "VM name (gcloud compute instances reset <name> restarts the broker)."
  value       = google_compute_instance.pulsar.name
}
