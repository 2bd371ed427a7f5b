output "network_id" {
  description = "The VPC (projects/<p>/global/networks/<name>)."
  value       = google_compute_network.vpc.id
}

output "network_name" {
  description = "Name of the VPC."
  value       = google_compute_network.vpc.name
}

output "main_subnet_id" {
  description = "Subnet of the VMs."
  value       = google_compute_subnetwork.main.id
}

output "serverless_subnet_id" {
  description = "Subnet of Cloud Run's direct VPC egress (null with a connector)."
  value       = var.egress_mode == "direct" ? google_compute_subnetwork.serverless[0].id : null
}

output "connector_id" {
  description = "Serverless VPC Access connector (null with direct egress)."
  value       = var.egress_mode == "connector" ? google_vpc_access_connector.connector[0].id : null
}

output "serverless_source_range" {
  description = "Source range of Cloud Run's traffic inside the VPC: what firewalls open to."
  value       = var.egress_mode == "direct" ? var.serverless_cidr : var.connector_cidr
}

output "private_services_connection" {
  description = "The private services access peering (Cloud SQL depends on it)."
  value       = google_service_networking_connection.private_services.id
}
