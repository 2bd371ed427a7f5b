# event_bus = pulsar with an existing cluster (pulsar_mode = external): the bridge, no VM.

mock_provider "google" {
  source = "./tests/mocks"
}

variables {
  project_id                   = "alpes-test"
  image_tag                    = "0123abc"
  pulsar_mode                  = "external"
  external_pulsar_url          = "pulsar+ssl://pulsar.alpes.test:6651"
  external_pulsar_token_secret = "pulsar-token"
}

run "external_cluster" {
  command = plan

  assert {
    condition     = output.pulsar_vm == null && output.pulsar_admin_url == null && length(module.pulsar_vm) == 0
    error_message = "No Pulsar VM with an external cluster"
  }
  assert {
    condition     = output.pulsar_url == "pulsar+ssl://pulsar.alpes.test:6651" && module.bridge[0].env.PULSAR_URL == "pulsar+ssl://pulsar.alpes.test:6651"
    error_message = "The bridge and the functions use the external cluster"
  }
  assert {
    condition     = alltrue([for function in module.functions : function.env.PULSAR_URL == "pulsar+ssl://pulsar.alpes.test:6651"])
    error_message = "Every function publishes to the external cluster"
  }
  assert {
    condition     = module.bridge[0].secret_env.PULSAR_TOKEN.secret == "pulsar-token" && alltrue([for function in module.functions : function.secret_env.PULSAR_TOKEN.secret == "pulsar-token"])
    error_message = "The cluster's token is read from Secret Manager (a reference, never the value)"
  }
  assert {
    condition     = !contains(output.alert_policies, "alpes: Pulsar VM down") && contains(output.alert_policies, "alpes: bridge not ready")
    error_message = "No VM alert without a VM; the bridge is watched"
  }
  assert {
    condition     = output.bridge_service == "alpes-pulsar-bridge"
    error_message = "The bridge carries the prefix"
  }
}

run "external_needs_url" {
  command = plan

  variables {
    external_pulsar_url = ""
  }

  expect_failures = [var.external_pulsar_url]
}
