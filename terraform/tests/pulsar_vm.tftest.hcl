# The default deployment (event_bus = pulsar, pulsar_mode = vm), offline with a mock Google
# provider (make check-infra). Root-level assertions: names, IAM, scheduler jobs, the
# bridge's settings, alerts. `command = apply` against the mock provider (nothing leaves
# the machine) so that computed values such as service account e-mails are known.

mock_provider "google" {
  source = "./tests/mocks"
}

variables {
  project_id  = "alpes-test"
  image_tag   = "0123abc"
  name_prefix = "stg"
  # The bounded IAM wait is a local `sleep`: not in a mocked apply.
  iam_propagation_seconds = 0
}

run "pulsar_vm_plan" {
  command = apply

  # --- every name carries the prefix -------------------------------------------------
  assert {
    condition     = alltrue([for name in values(output.services) : startswith(name, "stg-")]) && length(output.services) == 6
    error_message = "Every Cloud Run service (5 functions and the bridge) is named stg-<name>: ${jsonencode(output.services)}"
  }
  assert {
    condition     = alltrue([for name, url in output.function_urls : url == "https://stg-${name}-123456789012.europe-west1.run.app"])
    error_message = "The pushed-to URLs are the prefixed services' deterministic URLs: ${jsonencode(output.function_urls)}"
  }
  assert {
    condition     = alltrue([for name, job in output.outbox_relay_jobs : job == "stg-${name}-outbox-relay"])
    error_message = "Scheduler jobs are <prefix>-<function>-outbox-relay: ${jsonencode(output.outbox_relay_jobs)}"
  }
  assert {
    condition     = alltrue([for name, job in output.migration_jobs : job == "stg-migrate-${name}"])
    error_message = "Migration jobs are <prefix>-migrate-<database>"
  }
  assert {
    condition     = output.pulsar_vm == "stg-pulsar" && output.bridge_service == "stg-pulsar-bridge"
    error_message = "The VM and the bridge carry the prefix"
  }
  assert {
    condition     = alltrue([for policy in output.alert_policies : startswith(policy, "stg: ")])
    error_message = "Alert policies carry the prefix"
  }
  assert {
    condition     = module.network.network_name == "stg-vpc"
    error_message = "The VPC carries the prefix"
  }

  # --- one scheduler job per function, with an OIDC token of the pusher ----------------
  assert {
    condition     = length(google_cloud_scheduler_job.outbox_relay) == 5
    error_message = "One outbox relay job per function"
  }
  assert {
    condition = alltrue([
      for name, job in google_cloud_scheduler_job.outbox_relay :
      job.http_target[0].oidc_token[0].service_account_email == output.pusher_service_account &&
      job.http_target[0].oidc_token[0].audience == output.function_urls[name] &&
      job.http_target[0].uri == "${output.function_urls[name]}/outbox/relay"
    ])
    error_message = "Each job calls its function's POST /outbox/relay with an OIDC token of the pusher, audience the function's URL"
  }

  # --- identities and who may push -----------------------------------------------------
  assert {
    condition     = length(distinct([for function in module.functions : function.service_account_email])) == 5
    error_message = "Every function has its own service account"
  }
  assert {
    condition     = !contains([for function in module.functions : function.service_account_email], module.bridge[0].service_account_email)
    error_message = "The bridge has an account of its own"
  }
  assert {
    condition     = output.pusher_service_account == module.bridge[0].service_account_email
    error_message = "With Pulsar the bridge is the pusher"
  }
  assert {
    condition     = alltrue([for function in module.functions : join(",", function.invoker_members) == "serviceAccount:${module.bridge[0].service_account_email}"])
    error_message = "Only the bridge may invoke the functions (api_invokers empty, API not public)"
  }
  assert {
    condition     = alltrue([for function in module.functions : function.env.PUSH_AUTH == "oidc" && function.env.PUSH_SERVICE_ACCOUNTS == module.bridge[0].service_account_email])
    error_message = "The functions accept pushes (POST /events) only with an OIDC token of the bridge's account"
  }
  assert {
    condition     = length(module.bridge[0].invoker_members) == 0
    error_message = "Nobody invokes the bridge"
  }

  # --- the bridge's retry policy (issue 13, SPEC section 6) ----------------------------
  assert {
    condition = (
      module.bridge[0].env.BRIDGE_MIN_BACKOFF_MS == "1000" &&
      module.bridge[0].env.BRIDGE_MAX_BACKOFF_MS == "60000" &&
      module.bridge[0].env.BRIDGE_MAX_ATTEMPTS == "100" &&
      module.bridge[0].env.BRIDGE_RETRY_BUDGET == "24h"
    )
    error_message = "The bridge gets the retry defaults: ${jsonencode(module.bridge[0].env)}"
  }
  assert {
    condition     = alltrue([for name, url in output.function_urls : module.bridge[0].env["${upper(replace(name, "-", "_"))}_URL"] == url])
    error_message = "The bridge pushes to the prefixed functions' URLs"
  }

  # --- secrets: references only -------------------------------------------------------
  assert {
    condition     = alltrue([for function in module.functions : join(",", keys(function.secret_env)) == "DATABASE_URL"])
    error_message = "DATABASE_URL comes from Secret Manager, never as a plain variable"
  }
  assert {
    condition     = alltrue([for function in module.functions : !contains(keys(function.env), "DATABASE_URL")])
    error_message = "No plain DATABASE_URL"
  }

  # --- alerts --------------------------------------------------------------------------
  assert {
    condition = join(",", output.alert_policies) == join(",", sort([
      "stg: 5xx ratio", "stg: Cloud SQL CPU or connections", "stg: Pulsar VM down",
      "stg: bridge not ready", "stg: dead letters", "stg: outbox not draining",
    ]))
    error_message = "Alert policies: dead letters, 5xx, outbox, Cloud SQL, Pulsar VM, bridge: ${jsonencode(output.alert_policies)}"
  }
}

run "default_prefix" {
  command = plan

  variables {
    name_prefix = "alpes"
  }

  assert {
    condition     = output.outbox_relay_jobs["register-influencer"] == "alpes-register-influencer-outbox-relay"
    error_message = "The scheduler job name has its dash: ${output.outbox_relay_jobs["register-influencer"]}"
  }
  assert {
    condition     = output.services["create-campaign"] == "alpes-create-campaign"
    error_message = "Service names carry the default prefix"
  }
}

run "api_invokers_and_alert_channels" {
  command = apply

  variables {
    api_invokers                = ["group:api-clients@alpes.test"]
    alert_notification_channels = ["projects/alpes-test/notificationChannels/42"]
    alert_email                 = "oncall@alpes.test"
  }

  assert {
    condition     = alltrue([for function in module.functions : join(",", function.invoker_members) == join(",", sort(["group:api-clients@alpes.test", "serviceAccount:${module.bridge[0].service_account_email}"]))])
    error_message = "API invokers are added to the pusher, nobody else"
  }
  assert {
    condition     = length(module.monitoring.notification_channels) == 2 && contains(module.monitoring.notification_channels, "projects/alpes-test/notificationChannels/42")
    error_message = "Alerts go to the given channel and the e-mail channel"
  }
}

run "placeholder_invoker_is_refused" {
  command = plan

  variables {
    api_invokers = ["group:alpes-api-clients@example.com"]
  }

  expect_failures = [var.api_invokers]
}

run "gen1_allows_256mi" {
  command = plan

  variables {
    function_memory                = "256Mi"
    function_execution_environment = "EXECUTION_ENVIRONMENT_GEN1"
  }
}

run "gen2_needs_512mi" {
  command = plan

  variables {
    function_memory = "256Mi"
  }

  expect_failures = [var.function_memory]
}

run "dead_letters_kept_on_the_vm" {
  command = plan

  assert {
    condition     = module.bridge[0].env.PULSAR_NAMESPACE == "public/default" && alltrue([for function in module.functions : function.env.PULSAR_NAMESPACE == "public/default"])
    error_message = "Functions and bridge use the VM's namespace"
  }
  assert {
    condition     = strcontains(file("${path.module}/../pulsar-vm/startup.sh"), "namespaces/$namespace/retention") && strcontains(file("${path.module}/../pulsar-vm/startup.sh"), "ttlDurationDefaultInSeconds=0")
    error_message = "The VM sets the namespace retention policy and never expires unacknowledged dead letters"
  }
}
