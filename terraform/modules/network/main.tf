# The VPC the functions reach Cloud SQL and the Pulsar VM through: one subnet for VMs,
# Cloud Run's egress into the VPC (direct VPC egress on its own subnet, or a Serverless
# VPC Access connector), and private services access for Cloud SQL's private IP.

resource "google_compute_network" "vpc" {
  project                 = var.project_id
  name                    = "${var.name_prefix}-vpc"
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"
}

# Everything not opened by a rule is refused, and refused connections are logged.
resource "google_compute_firewall" "deny_ingress" {
  project     = var.project_id
  name        = "${var.name_prefix}-deny-ingress"
  network     = google_compute_network.vpc.id
  description = "Refuse (and log) ingress no other rule allows"
  direction   = "INGRESS"
  priority    = 65534

  source_ranges = ["0.0.0.0/0"]

  deny {
    protocol = "all"
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# VMs (the Pulsar broker). Private Google Access lets a VM without a public IP reach
# Google APIs (Artifact Registry, Logging).
resource "google_compute_subnetwork" "main" {
  project                  = var.project_id
  name                     = "${var.name_prefix}-main"
  region                   = var.region
  network                  = google_compute_network.vpc.id
  ip_cidr_range            = var.main_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# Direct VPC egress: Cloud Run instances take their addresses from this subnet (about
# two per instance; a /24 covers the default maximum instances with room for revisions).
resource "google_compute_subnetwork" "serverless" {
  count = var.egress_mode == "direct" ? 1 : 0

  project                  = var.project_id
  name                     = "${var.name_prefix}-run"
  region                   = var.region
  network                  = google_compute_network.vpc.id
  ip_cidr_range            = var.serverless_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# Serverless VPC Access connector (the alternative to direct egress): small VMs managed
# by Google, billed while they run.
resource "google_vpc_access_connector" "connector" {
  count = var.egress_mode == "connector" ? 1 : 0

  project       = var.project_id
  name          = "${var.name_prefix}-conn"
  region        = var.region
  network       = google_compute_network.vpc.name
  ip_cidr_range = var.connector_cidr
  machine_type  = var.connector_machine_type
  min_instances = 2
  max_instances = var.connector_max_instances
}

# Private services access: Cloud SQL's private IP lives in a range peered with the VPC.
resource "google_compute_global_address" "private_services" {
  project       = var.project_id
  name          = "${var.name_prefix}-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = var.private_services_prefix_length
  network       = google_compute_network.vpc.id
}

resource "google_service_networking_connection" "private_services" {
  network                 = google_compute_network.vpc.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]
  # Deleting the peering fails while Cloud SQL still holds addresses in it (it is
  # released some time after the instance is deleted): leave it to the network's deletion.
  deletion_policy = "ABANDON"
}
