terraform {
  # Write-only arguments and ephemeral resources (no secret in state) need 1.11.
  required_version = ">= 1.11"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 7.0, < 8.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.7"
    }
  }

  # State in a GCS bucket (object versioning on, locking built in). The bucket is given at
  # init: terraform init -backend-config=bucket=<bucket> (scripts/deploy.sh does it).
  backend "gcs" {
    prefix = "alpes-partners"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}
