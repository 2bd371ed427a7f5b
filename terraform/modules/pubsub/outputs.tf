output "topics" {
  description = "Topic ids."
  value       = { for name, topic in google_pubsub_topic.topics : name => topic.id }
}

output "push_subscriptions" {
  description = "Push subscription names."
  value       = keys(google_pubsub_subscription.push)
}
