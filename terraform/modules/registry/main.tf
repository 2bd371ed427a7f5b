# Artifact Registry: the Docker repository the function images are pushed to, and
# optionally a remote repository proxying Docker Hub, so the Pulsar VM (no public IP)
# pulls the official apachepulsar/pulsar image through Private Google Access.

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:Google-managed encryption at rest; the images hold no secrets and a CMEK key adds a KMS key ring to operate and pay for. Set up CMEK on the project if policy requires it.
  project       = var.project_id
  location      = var.region
  repository_id = var.repository_id
  description   = "Alpes Partners function images (tag = commit SHA)"
  format        = "DOCKER"
  labels        = var.labels

  cleanup_policy_dry_run = false
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.keep_recent_images
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "${var.delete_images_older_than_days * 86400}s"
    }
  }
}

resource "google_artifact_registry_repository" "docker_hub" {
  #checkov:skip=CKV_GCP_84:A pull-through cache of public Docker Hub images; Google-managed encryption is enough for public content.
  count = var.docker_hub_proxy ? 1 : 0

  project       = var.project_id
  location      = var.region
  repository_id = "${var.repository_id}-dockerhub"
  description   = "Pull-through cache of Docker Hub (the Pulsar VM pulls apachepulsar/pulsar here)"
  format        = "DOCKER"
  mode          = "REMOTE_REPOSITORY"
  labels        = var.labels

  remote_repository_config {
    description = "Docker Hub"
    docker_repository {
      public_repository = "DOCKER_HUB"
    }
  }
}

resource "google_artifact_registry_repository_iam_member" "docker_hub_readers" {
  for_each = var.docker_hub_proxy ? var.docker_hub_readers : {}

  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.docker_hub[0].name
  role       = "roles/artifactregistry.reader"
  member     = each.value
}
