output "alert_policies" {
  description = "Display names of the alert policies."
  value = sort(concat(
    [
      google_monitoring_alert_policy.dead_letters.display_name,
      google_monitoring_alert_policy.error_ratio.display_name,
      google_monitoring_alert_policy.outbox_age.display_name,
      google_monitoring_alert_policy.database.display_name,
    ],
    [for policy in google_monitoring_alert_policy.pulsar_vm : policy.display_name],
    [for policy in google_monitoring_alert_policy.bridge : policy.display_name],
  ))
}

output "notification_channels" {
  description = "Channels the alerts go to."
  value       = local.channels
}

output "dashboard" {
  description = "The dashboard's id."
  value       = google_monitoring_dashboard.overview.id
}
