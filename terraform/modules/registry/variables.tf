variable "project_id" {
  description = "Project of the repositories."
  type        = string
}

variable "region" {
  description = "Region of the repositories (images are pulled from <region>-docker.pkg.dev)."
  type        = string
}

variable "repository_id" {
  description = "Name of the Docker repository holding the function images."
  type        = string
}

variable "labels" {
  description = "Labels set on the repositories."
  type        = map(string)
  default     = {}
}

variable "keep_recent_images" {
  description = "Image versions always kept per package, whatever their age (rollbacks)."
  type        = number
  default     = 10
}

variable "delete_images_older_than_days" {
  description = "Image versions older than this are deleted, except the most recent ones kept above."
  type        = number
  default     = 90
}

variable "docker_hub_proxy" {
  description = "Create a remote repository caching Docker Hub (used by the Pulsar VM)."
  type        = bool
  default     = false
}

variable "docker_hub_readers" {
  description = "Members (\"serviceAccount:...\") allowed to pull through the Docker Hub cache, keyed by a static name."
  type        = map(string)
  default     = {}
}
