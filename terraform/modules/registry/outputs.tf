output "repository_url" {
  description = "Base of the function image names: <region>-docker.pkg.dev/<project>/<repository>."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "docker_hub_url" {
  description = "Base of images pulled through the Docker Hub cache (empty without it)."
  value       = var.docker_hub_proxy ? "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.docker_hub[0].repository_id}" : ""
}
