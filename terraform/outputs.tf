output "function_urls" {
  description = "Base URL of each function (the deterministic https://<name>-<project number>.<region>.run.app)."
  value       = local.function_url
}

output "function_service_uris" {
  description = "The URL Cloud Run reports for each function (either URL works)."
  value       = { for name, function in module.functions : name => function.uri }
}

output "api_routes" {
  description = "Which function serves which API path (what a load balancer or gateway in front routes)."
  value = {
    "/influencers"          = local.function_url["register-influencer"]
    "/campanas"             = local.function_url["create-campaign"]
    "/contratos"            = local.function_url["send-contract"]
    "/reportes"             = local.function_url["generate-report"]
    "/reportes/*/compensar" = local.function_url["compensate-report"]
  }
}

output "bridge_service" {
  description = "The Pulsar bridge's Cloud Run service (internal ingress), or null with Pub/Sub."
  value       = local.use_pulsar ? module.bridge[0].name : null
}

output "pusher_service_account" {
  description = "The only identity allowed to push events to the functions."
  value       = local.pusher_email
}

output "pulsar_url" {
  description = "Broker the functions publish to (null with Pub/Sub)."
  value       = local.use_pulsar ? local.pulsar_url : null
}

output "pulsar_admin_url" {
  description = "Admin API of the Pulsar VM, reachable from the VPC only (null without the VM)."
  value       = local.pulsar_vm ? module.pulsar_vm[0].admin_url : null
}

output "pulsar_vm" {
  description = "Name of the Pulsar VM (null without it)."
  value       = local.pulsar_vm ? module.pulsar_vm[0].instance_name : null
}

output "migration_jobs" {
  description = "Migration job per database: gcloud run jobs execute <job> --region <region> --wait"
  value       = { for name, job in module.migrations : name => job.name }
}

output "database_instance" {
  description = "Cloud SQL instance connection name (project:region:instance)."
  value       = module.database.connection_name
}

output "database_password_secret" {
  description = "Secret Manager secret holding the database user's password."
  value       = module.database.password_secret_id
}

output "image_repository" {
  description = "Where the images are pushed."
  value       = local.image_base
}

output "image_tag" {
  description = "The image tag deployed (make destroy reuses it)."
  value       = var.image_tag
}

output "region" {
  description = "The deployment's region."
  value       = var.region
}

output "services" {
  description = "Cloud Run service name of each function and of the bridge (<prefix>-<name>)."
  value = merge(
    { for name, function in module.functions : name => function.name },
    local.use_pulsar ? { pulsar-bridge = module.bridge[0].name } : {},
  )
}

output "outbox_relay_jobs" {
  description = "Cloud Scheduler job of each function's outbox relay (<prefix>-<function>-outbox-relay)."
  value       = { for name, job in google_cloud_scheduler_job.outbox_relay : name => job.name }
}

output "pubsub_dead_letter_subscriptions" {
  description = "With Pub/Sub: the pull subscription keeping each push subscription's dead letters (null with Pulsar: dead letters are on <topic>-<subscription>-DLQ, subscription dlq)."
  value       = local.use_pulsar ? null : module.pubsub[0].dead_letter_subscriptions
}

output "alert_policies" {
  description = "The Cloud Monitoring alert policies of the deployment."
  value       = module.monitoring.alert_policies
}

output "dashboard" {
  description = "The Cloud Monitoring dashboard (console: Monitoring > Dashboards)."
  value       = module.monitoring.dashboard
}
