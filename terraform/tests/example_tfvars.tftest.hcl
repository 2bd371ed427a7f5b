# terraform/env/example.tfvars, copied as it is, plans: make check-infra runs this file a
# second time with -var-file=env/example.tfvars (here it plans the defaults).

mock_provider "google" {
  source = "./tests/mocks"
}

variables {
  project_id = "alpes-test"
  image_tag  = "0123abc"
}

run "example_tfvars_plan" {
  command = plan

  assert {
    condition     = length(output.function_urls) == 5 && length(output.outbox_relay_jobs) == 5
    error_message = "The example deploys the five functions with their relay jobs"
  }
}
