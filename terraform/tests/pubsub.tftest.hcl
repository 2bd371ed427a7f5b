# event_bus = pubsub: Pub/Sub topics and push subscriptions instead of Pulsar and the
# bridge, offline with a mock Google provider (make check-infra).

mock_provider "google" {
  source = "./tests/mocks"
}

variables {
  project_id              = "alpes-test"
  image_tag               = "0123abc"
  name_prefix             = "stg"
  event_bus               = "pubsub"
  iam_propagation_seconds = 0
}

run "pubsub_deployment" {
  command = apply

  # The provider checks the account's resource name form: a realistic one.
  override_resource {
    target = google_service_account.pubsub_push[0]
    values = {
      name  = "projects/alpes-test/serviceAccounts/stg-pubsub-push@alpes-test.iam.gserviceaccount.com"
      email = "stg-pubsub-push@alpes-test.iam.gserviceaccount.com"
    }
  }

  assert {
    condition     = output.bridge_service == null && output.pulsar_vm == null && output.pulsar_url == null
    error_message = "No bridge, no VM, no Pulsar URL with Pub/Sub"
  }
  assert {
    condition     = output.pusher_service_account == google_service_account.pubsub_push[0].email && google_service_account.pubsub_push[0].account_id == "stg-pubsub-push"
    error_message = "Pub/Sub pushes as its own prefixed account"
  }
  assert {
    condition     = alltrue([for function in module.functions : join(",", function.invoker_members) == "serviceAccount:${google_service_account.pubsub_push[0].email}"])
    error_message = "Only Pub/Sub's push account may invoke the functions"
  }
  assert {
    condition     = alltrue([for function in module.functions : function.env.EVENT_BUS == "pubsub" && function.env.PUSH_SERVICE_ACCOUNTS == google_service_account.pubsub_push[0].email && !contains(keys(function.env), "PULSAR_URL")])
    error_message = "The functions publish to Pub/Sub and accept pushes of its account only"
  }
  assert {
    condition     = length(module.pubsub[0].push_subscriptions) == 6 && alltrue([for name in module.pubsub[0].push_subscriptions : startswith(name, "stg-")])
    error_message = "Six push subscriptions (one per consumed topic and function), prefixed: ${jsonencode(module.pubsub[0].push_subscriptions)}"
  }
  assert {
    condition     = alltrue([for push, dead in output.pubsub_dead_letter_subscriptions : startswith(dead, "stg-") && endswith(dead, "-DLQ")]) && length(output.pubsub_dead_letter_subscriptions) == 6
    error_message = "Each push subscription has a prefixed dead-letter subscription"
  }
  assert {
    condition     = output.pubsub_dead_letter_subscriptions["stg-generate-report-eventos-contratos"] == "stg-eventos-contratos-generate-report-DLQ"
    error_message = "Dead letters are kept on <prefix>-<topic>-<function>-DLQ (like the bridge's)"
  }
  assert {
    condition     = length(google_cloud_scheduler_job.outbox_relay) == 5 && alltrue([for job in google_cloud_scheduler_job.outbox_relay : job.http_target[0].oidc_token[0].service_account_email == google_service_account.pubsub_push[0].email])
    error_message = "The outbox relay jobs call with the pusher's OIDC token"
  }
  assert {
    condition     = join(",", output.alert_policies) == join(",", sort(["stg: 5xx ratio", "stg: Cloud SQL CPU or connections", "stg: dead letters", "stg: outbox not draining"]))
    error_message = "Alerts without the VM and the bridge: ${jsonencode(output.alert_policies)}"
  }
}

# The module's resources: retry policy, dead-letter policy and the service agent's rights.
run "pubsub_module" {
  command = plan

  module {
    source = "./modules/pubsub"
  }

  variables {
    topics                     = ["eventos-influencers", "eventos-campanas"]
    push_service_account_email = "stg-pubsub-push@alpes-test.iam.gserviceaccount.com"
    push_service_account_id    = "projects/alpes-test/serviceAccounts/stg-pubsub-push@alpes-test.iam.gserviceaccount.com"
    routes = [
      { topic = "eventos-influencers", subscription = "create-campaign", url = "https://stg-create-campaign-123456789012.europe-west1.run.app" },
      { topic = "eventos-campanas", subscription = "send-contract", url = "https://stg-send-contract-123456789012.europe-west1.run.app" },
    ]
  }

  assert {
    condition = alltrue([for sub in google_pubsub_subscription.push :
      sub.retry_policy[0].minimum_backoff == "10s" && sub.retry_policy[0].maximum_backoff == "600s" &&
    sub.dead_letter_policy[0].max_delivery_attempts == 100])
    error_message = "Push subscriptions retry from 10 s to 600 s and dead-letter after 100 attempts"
  }
  assert {
    condition     = google_pubsub_subscription.push["create-campaign-eventos-influencers"].push_config[0].push_endpoint == "https://stg-create-campaign-123456789012.europe-west1.run.app/events"
    error_message = "Pushes go to POST /events"
  }
  assert {
    condition = alltrue([for sub in google_pubsub_subscription.push :
    sub.push_config[0].oidc_token[0].service_account_email == "stg-pubsub-push@alpes-test.iam.gserviceaccount.com"])
    error_message = "Pushes carry an OIDC token of the push account"
  }
  assert {
    condition = alltrue([for key, sub in google_pubsub_subscription.dead_letters :
    sub.message_retention_duration == "604800s" && sub.expiration_policy[0].ttl == "" && length(sub.push_config) == 0])
    error_message = "Dead-letter subscriptions are pull subscriptions keeping messages 7 days, never expiring"
  }
  assert {
    condition = alltrue([for key, member in google_pubsub_topic_iam_member.dead_letter_publisher :
    member.role == "roles/pubsub.publisher" && member.member == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"])
    error_message = "The Pub/Sub service agent may publish to each dead-letter topic"
  }
  assert {
    condition = alltrue([for key, member in google_pubsub_subscription_iam_member.dead_letter_subscriber :
    member.role == "roles/pubsub.subscriber" && member.member == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"])
    error_message = "The Pub/Sub service agent may acknowledge on each source subscription"
  }
  assert {
    condition     = length(google_pubsub_topic_iam_member.dead_letter_publisher) == 2 && length(google_pubsub_subscription_iam_member.dead_letter_subscriber) == 2
    error_message = "One grant of each per route"
  }
}

run "pubsub_attempts_bounds" {
  command = plan

  variables {
    pubsub_max_delivery_attempts = 200
  }

  expect_failures = [var.pubsub_max_delivery_attempts]
}
