# Values of the mock Google provider where the provider validates a computed value's form
# (random strings would not pass); everything else is generated.

mock_data "google_project" {
  defaults = { number = "123456789012" }
}

mock_resource "google_compute_network" {
  defaults = {
    id        = "projects/alpes-test/global/networks/mock-vpc"
    self_link = "https://www.googleapis.com/compute/v1/projects/alpes-test/global/networks/mock-vpc"
  }
}

mock_resource "google_compute_subnetwork" {
  defaults = {
    id        = "projects/alpes-test/regions/europe-west1/subnetworks/mock-subnet"
    self_link = "https://www.googleapis.com/compute/v1/projects/alpes-test/regions/europe-west1/subnetworks/mock-subnet"
  }
}

mock_resource "google_compute_address" {
  defaults = { address = "10.10.0.10" }
}

mock_resource "google_sql_database_instance" {
  defaults = { private_ip_address = "10.20.0.3" }
}
