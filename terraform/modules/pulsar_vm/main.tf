# Apache Pulsar standalone on one Container-Optimized OS VM: the pinned official image
# run by pulsar-vm/startup.sh, data on its own persistent disk (snapshotted daily), a
# fixed internal IP advertised to clients, no public IP, and a firewall opening the
# binary (6650) and admin (8080) ports only to Cloud Run's egress range.

resource "google_service_account" "vm" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-pulsar-vm"
  display_name = "Pulsar VM"
  description  = "Identity of the Pulsar broker VM: writes logs and metrics, pulls its image"
}

resource "google_project_iam_member" "vm" {
  for_each = toset(["roles/logging.logWriter", "roles/monitoring.metricWriter"])

  project = var.project_id
  role    = each.key
  member  = "serviceAccount:${google_service_account.vm.email}"
}

resource "google_compute_address" "internal" {
  project      = var.project_id
  name         = "${var.name_prefix}-pulsar"
  region       = var.region
  subnetwork   = var.subnetwork
  address_type = "INTERNAL"
  address      = var.internal_ip
}

resource "google_compute_disk" "data" {
  #checkov:skip=CKV_GCP_37:Encrypted at rest with Google-managed keys; customer-supplied keys would have to be handed to every restart and snapshot.
  project = var.project_id
  name    = "${var.name_prefix}-pulsar-data"
  zone    = var.zone
  type    = var.disk_type
  size    = var.disk_size_gb
  labels  = var.labels
}

resource "google_compute_resource_policy" "snapshots" {
  count = var.snapshot_retention_days > 0 ? 1 : 0

  project = var.project_id
  name    = "${var.name_prefix}-pulsar-data-daily"
  region  = var.region

  snapshot_schedule_policy {
    schedule {
      daily_schedule {
        days_in_cycle = 1
        start_time    = "04:00"
      }
    }
    retention_policy {
      max_retention_days    = var.snapshot_retention_days
      on_source_disk_delete = "KEEP_AUTO_SNAPSHOTS"
    }
  }
}

resource "google_compute_disk_resource_policy_attachment" "snapshots" {
  count = var.snapshot_retention_days > 0 ? 1 : 0

  project = var.project_id
  name    = google_compute_resource_policy.snapshots[0].name
  disk    = google_compute_disk.data.name
  zone    = var.zone
}

resource "google_compute_instance" "pulsar" {
  #checkov:skip=CKV_GCP_38:The boot disk holds only the OS (Container-Optimized OS, read-only root); Google-managed encryption at rest.
  project                   = var.project_id
  name                      = "${var.name_prefix}-pulsar"
  zone                      = var.zone
  machine_type              = var.machine_type
  tags                      = [var.network_tag]
  labels                    = var.labels
  allow_stopping_for_update = true
  deletion_protection       = var.deletion_protection

  boot_disk {
    auto_delete = true
    initialize_params {
      image = var.boot_image
      size  = 20
      type  = "pd-balanced"
    }
  }

  attached_disk {
    source      = google_compute_disk.data.self_link
    device_name = "pulsar-data"
    mode        = "READ_WRITE"
  }

  # No access_config: no public IP. Google APIs through Private Google Access.
  network_interface {
    subnetwork = var.subnetwork
    network_ip = google_compute_address.internal.address
  }

  metadata = {
    startup-script            = var.startup_script
    pulsar-image              = var.image
    pulsar-mem                = var.pulsar_mem
    pulsar-namespace          = var.namespace
    pulsar-retention-minutes  = tostring(var.retention_minutes)
    pulsar-retention-size-mb  = tostring(var.retention_size_mb)
    block-project-ssh-keys    = "true"
    enable-oslogin            = "TRUE"
    serial-port-enable        = "false"
    google-logging-enabled    = "true"
    google-monitoring-enabled = "true"
  }

  service_account {
    email  = google_service_account.vm.email
    scopes = ["cloud-platform"]
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  scheduling {
    automatic_restart   = true
    on_host_maintenance = "MIGRATE"
  }

  lifecycle {
    # A newer Container-Optimized OS image must not replace the broker; the VM updates
    # itself on reboot.
    ignore_changes = [boot_disk[0].initialize_params[0].image]
  }
}

resource "google_compute_firewall" "clients" {
  project     = var.project_id
  name        = "${var.name_prefix}-pulsar-clients"
  network     = var.network
  description = "Pulsar binary protocol and admin API from Cloud Run's VPC egress only"
  direction   = "INGRESS"
  priority    = 1000

  source_ranges = var.client_ranges
  target_tags   = [var.network_tag]

  allow {
    protocol = "tcp"
    ports    = ["6650", "8080"]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Optional: SSH through Identity-Aware Proxy (gcloud compute ssh --tunnel-through-iap),
# never from the internet.
resource "google_compute_firewall" "iap_ssh" {
  count = var.allow_iap_ssh ? 1 : 0

  project     = var.project_id
  name        = "${var.name_prefix}-pulsar-iap-ssh"
  network     = var.network
  description = "SSH to the Pulsar VM through IAP TCP forwarding only"
  direction   = "INGRESS"
  priority    = 1000

  source_ranges = ["35.235.240.0/20"]
  target_tags   = [var.network_tag]

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}
