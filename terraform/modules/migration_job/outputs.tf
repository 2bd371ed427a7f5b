output "name" {
  description = "Job name (gcloud run jobs execute <name> --region <region> --wait)."
  value       = google_cloud_run_v2_job.migrate.name
}
