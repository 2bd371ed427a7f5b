# Google Pub/Sub instead of Pulsar and the bridge: the contract's topics, one push
# subscription per (topic, consuming function) to the function's POST /events with an
# OIDC token and a retry policy (exponential backoff, 10 s to 600 s by default), a
# dead-letter topic per push subscription named like the bridge's
# (<prefix>-<topic>-<function>-DLQ) kept by a pull subscription of the same name (7 days),
# and publish rights for the producing functions.
#
# The topics keep the contract's names (the functions publish to
# projects/<project>/topics/<topic>): one Pub/Sub deployment per project. Subscriptions
# and dead-letter topics carry name_prefix.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  routes       = { for route in var.routes : "${route.subscription}-${route.topic}" => route }
  # Push subscription and dead-letter names of each route.
  push_name        = { for key, route in local.routes : key => "${var.name_prefix}-${route.subscription}-${route.topic}" }
  dead_letter_name = { for key, route in local.routes : key => "${var.name_prefix}-${route.topic}-${route.subscription}-DLQ" }
}

resource "google_pubsub_topic" "topics" {
  #checkov:skip=CKV_GCP_83:Messages are encrypted at rest with Google-managed keys; CMEK is optional hardening (a KMS key ring) left to projects whose policy requires it.
  for_each = toset(var.topics)

  project                    = var.project_id
  name                       = each.key
  labels                     = var.labels
  message_retention_duration = var.message_retention
}

resource "google_pubsub_topic" "dead_letters" {
  #checkov:skip=CKV_GCP_83:Messages are encrypted at rest with Google-managed keys; CMEK is optional hardening (a KMS key ring) left to projects whose policy requires it.
  for_each = local.routes

  project = var.project_id
  name    = local.dead_letter_name[each.key]
  labels  = var.labels
  # Dead letters are kept by the subscription below; the topic keeps them as well, so a
  # subscription recreated later can seek back to them.
  message_retention_duration = var.dead_letter_retention
}

# A topic without subscriptions drops what is published to it: this one keeps the dead
# letters (7 days) until someone reads or replays them.
resource "google_pubsub_subscription" "dead_letters" {
  for_each = local.routes

  project                    = var.project_id
  name                       = local.dead_letter_name[each.key]
  topic                      = google_pubsub_topic.dead_letters[each.key].id
  labels                     = var.labels
  message_retention_duration = var.dead_letter_retention
  retain_acked_messages      = false
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "push" {
  for_each = local.routes

  project                    = var.project_id
  name                       = local.push_name[each.key]
  topic                      = google_pubsub_topic.topics[each.value.topic].id
  labels                     = var.labels
  ack_deadline_seconds       = var.ack_deadline_seconds
  message_retention_duration = var.message_retention

  push_config {
    push_endpoint = "${each.value.url}/events"
    oidc_token {
      service_account_email = var.push_service_account_email
      audience              = each.value.url
    }
  }

  retry_policy {
    minimum_backoff = var.minimum_backoff
    maximum_backoff = var.maximum_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letters[each.key].id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }
}

# Dead-lettering: Pub/Sub's service agent publishes to the dead-letter topic and
# acknowledges on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.routes

  project = var.project_id
  topic   = google_pubsub_topic.dead_letters[each.key].name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.routes

  project      = var.project_id
  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# Pub/Sub mints the push OIDC tokens as the push service account.
resource "google_service_account_iam_member" "token_creator" {
  service_account_id = var.push_service_account_id
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_pubsub_topic_iam_member" "publishers" {
  for_each = var.publishers

  project = var.project_id
  topic   = google_pubsub_topic.topics[each.value.topic].name
  role    = "roles/pubsub.publisher"
  member  = each.value.member
}
