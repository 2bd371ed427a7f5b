output "topics" {
  description = "Topic ids."
  value       = { for name, topic in google_pubsub_topic.topics : name => topic.id }
}

output "push_subscriptions" {
  description = "Push subscription names."
  value       = sort([for subscription in google_pubsub_subscription.push : subscription.name])
}

output "dead_letter_subscriptions" {
  description = "Pull subscriptions keeping the dead letters, by push subscription name (gcloud pubsub subscriptions pull <name>)."
  value       = { for key, subscription in google_pubsub_subscription.dead_letters : local.push_name[key] => subscription.name }
}
