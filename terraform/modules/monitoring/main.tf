# Monitoring as code: alert policies on what loses or delays events (dead letters, an
# outbox that does not drain, 5xx answers, the bridge, the Pulsar VM) and on the database,
# sent to the given notification channels, plus one dashboard of the deployment.
#
# The functions' and the bridge's Prometheus /metrics are not scraped by Cloud Monitoring
# on Cloud Run without a collector sidecar; the alerts below use what Google records by
# itself (Cloud Run, Cloud SQL, Pub/Sub, Compute Engine metrics) and log-based metrics of
# the structured logs (the bridge's dead-letter line, Cloud Scheduler's failed relays).

locals {
  use_pulsar = var.event_bus == "pulsar"
  channels = concat(
    var.notification_channels,
    [for channel in google_monitoring_notification_channel.email : channel.id],
  )
  services         = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = starts_with(\"${var.name_prefix}-\")"
  dead_letter_subs = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = monitoring.regex.full_match(\"${var.name_prefix}-.*-DLQ\")"
  database         = "resource.type = \"cloudsql_database\" AND resource.labels.database_id = \"${var.database_id}\""
}

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email != "" ? 1 : 0

  project      = var.project_id
  display_name = "${var.name_prefix}: ${var.alert_email}"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }
  user_labels = var.labels
}

# --- Log-based metrics -----------------------------------------------------------------

# One count per dead-lettered message: the bridge logs each at ERROR (route, event id,
# attempts, last error).
resource "google_logging_metric" "dead_letters" {
  count = local.use_pulsar ? 1 : 0

  project     = var.project_id
  name        = "${var.name_prefix}-bridge-dead-letters"
  description = "Messages the Pulsar bridge dead-lettered (its ERROR log line), by route"
  filter      = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.bridge_service}\" AND severity>=ERROR AND jsonPayload.message:\"dead-letter\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "route"
      value_type  = "STRING"
      description = "The bridge route (topic/subscription)"
    }
  }
  label_extractors = {
    route = "EXTRACT(jsonPayload.route)"
  }
}

# The bridge's other errors (broker unreachable, no push token, a task panicked).
resource "google_logging_metric" "bridge_errors" {
  count = local.use_pulsar ? 1 : 0

  project     = var.project_id
  name        = "${var.name_prefix}-bridge-errors"
  description = "ERROR log lines of the Pulsar bridge other than dead-letterings"
  filter      = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.bridge_service}\" AND severity>=ERROR AND NOT jsonPayload.message:\"dead-letter\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

# A scheduled POST /outbox/relay that failed (503: the broker or the database refused, the
# events stay in that function's outbox and grow older).
resource "google_logging_metric" "outbox_relay_failures" {
  project     = var.project_id
  name        = "${var.name_prefix}-outbox-relay-failures"
  description = "Failed Cloud Scheduler calls of POST /outbox/relay, by job"
  filter      = "resource.type=\"cloud_scheduler_job\" AND resource.labels.job_id=~\"^${var.name_prefix}-.*-outbox-relay$\" AND severity>=ERROR"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "job_id"
      value_type  = "STRING"
      description = "The Cloud Scheduler job (<prefix>-<function>-outbox-relay)"
    }
  }
  label_extractors = {
    job_id = "EXTRACT(resource.labels.job_id)"
  }
}

# --- Alert policies --------------------------------------------------------------------

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: dead letters"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = var.labels
  severity              = "ERROR"

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name_prefix}: events were dead-lettered"
    content   = local.use_pulsar ? "The Pulsar bridge gave up on a message (attempts or retry budget spent): it waits on the route's `<topic>-<subscription>-DLQ` topic, subscription `dlq`. List with `make dlq`, replay with `make dlq-replay` (docs/BRIDGE.md, docs/DEPLOY.md)." : "A push subscription gave up on a message: it waits in the `${var.name_prefix}-<topic>-<function>-DLQ` pull subscription (kept 7 days). See docs/DEPLOY.md, \"Dead letters\"."
  }

  dynamic "conditions" {
    for_each = local.use_pulsar ? [1] : []
    content {
      display_name = "The bridge dead-lettered a message"
      condition_threshold {
        filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.dead_letters[0].name}\""
        comparison      = "COMPARISON_GT"
        threshold_value = 0
        duration        = "0s"
        aggregations {
          alignment_period     = "300s"
          per_series_aligner   = "ALIGN_SUM"
          cross_series_reducer = "REDUCE_SUM"
          group_by_fields      = ["metric.label.route"]
        }
        trigger {
          count = 1
        }
      }
    }
  }

  dynamic "conditions" {
    for_each = local.use_pulsar ? [] : [1]
    content {
      display_name = "A dead-letter subscription holds messages"
      condition_threshold {
        filter          = "${local.dead_letter_subs} AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\""
        comparison      = "COMPARISON_GT"
        threshold_value = 0
        duration        = "0s"
        aggregations {
          alignment_period   = "300s"
          per_series_aligner = "ALIGN_MAX"
        }
        trigger {
          count = 1
        }
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }
}

resource "google_monitoring_alert_policy" "error_ratio" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: 5xx ratio"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = var.labels
  severity              = "ERROR"

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name_prefix}: a function answers 5xx"
    content   = "More than ${var.error_ratio_threshold * 100}% of a function's requests answered 5xx over 5 minutes. 503 means a dependency (database, broker) is down: check the Cloud SQL and Pulsar alerts and the service's logs."
  }

  conditions {
    display_name = "5xx share of requests above ${var.error_ratio_threshold}"
    condition_threshold {
      filter             = "${local.services} AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\""
      denominator_filter = "${local.services} AND metric.type = \"run.googleapis.com/request_count\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.error_ratio_threshold
      duration           = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
      denominator_aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "3600s"
  }
}

resource "google_monitoring_alert_policy" "outbox_age" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: outbox not draining"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = var.labels
  severity              = "WARNING"

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name_prefix}: events wait in an outbox"
    content   = "The scheduled outbox relay of a function failed ${var.outbox_relay_failures_threshold} or more times in 15 minutes: its oldest unpublished event has waited at least that many minutes. The broker (Pulsar VM or Pub/Sub) or the database refuses; nothing is lost, the events are published when it is back."
  }

  conditions {
    display_name = "Outbox relay failures of one function"
    condition_threshold {
      filter          = "resource.type = \"cloud_scheduler_job\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.outbox_relay_failures.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.outbox_relay_failures_threshold - 1
      duration        = "0s"
      aggregations {
        alignment_period     = "900s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.job_id"]
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "3600s"
  }
}

resource "google_monitoring_alert_policy" "database" {
  project               = var.project_id
  display_name          = "${var.name_prefix}: Cloud SQL CPU or connections"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = var.labels
  severity              = "WARNING"

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name_prefix}: the database is near its limits"
    content   = "Cloud SQL CPU above ${var.db_cpu_threshold * 100}% for 10 minutes, or more than ${var.db_connections_threshold} connections for 5 minutes. Raise db_tier, or lower function_max_instances x database_max_connections (docs/DEPLOY.md, sizing)."
  }

  conditions {
    display_name = "CPU utilization above ${var.db_cpu_threshold}"
    condition_threshold {
      filter          = "${local.database} AND metric.type = \"cloudsql.googleapis.com/database/cpu/utilization\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.db_cpu_threshold
      duration        = "600s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MEAN"
      }
      trigger {
        count = 1
      }
    }
  }

  conditions {
    display_name = "Connections above ${var.db_connections_threshold}"
    condition_threshold {
      filter          = "${local.database} AND metric.type = \"cloudsql.googleapis.com/database/postgresql/num_backends\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.db_connections_threshold
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MEAN"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "3600s"
  }
}

resource "google_monitoring_alert_policy" "pulsar_vm" {
  count = var.pulsar_vm ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name_prefix}: Pulsar VM down"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = var.labels
  severity              = "CRITICAL"

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name_prefix}: the Pulsar VM reports no uptime"
    content   = "The broker VM `${var.pulsar_vm_name}` has reported no uptime for 5 minutes (stopped, deleted or being repaired). Events wait in the functions' outboxes meanwhile. pulsar-vm/README.md: how to look at it."
  }

  conditions {
    display_name = "No uptime from ${var.pulsar_vm_name}"
    condition_absent {
      filter   = "resource.type = \"gce_instance\" AND metric.type = \"compute.googleapis.com/instance/uptime\" AND metric.labels.instance_name = \"${var.pulsar_vm_name}\""
      duration = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_RATE"
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "3600s"
  }
}

resource "google_monitoring_alert_policy" "bridge" {
  count = local.use_pulsar ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name_prefix}: bridge not ready"
  combiner              = "OR"
  notification_channels = local.channels
  user_labels           = var.labels
  severity              = "CRITICAL"

  documentation {
    mime_type = "text/markdown"
    subject   = "${var.name_prefix}: the Pulsar bridge does not deliver"
    content   = "The bridge `${var.bridge_service}` has no running instance, or keeps logging errors (broker unreachable, no push token). Nothing is pushed to the functions meanwhile; messages wait in Pulsar. See its logs and docs/BRIDGE.md."
  }

  conditions {
    display_name = "No running bridge instance"
    condition_absent {
      filter   = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${var.bridge_service}\" AND metric.type = \"run.googleapis.com/container/instance_count\""
      duration = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  conditions {
    display_name = "The bridge logs errors for 5 minutes"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.bridge_errors[0].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "3600s"
  }
}

# --- Dashboard -------------------------------------------------------------------------

locals {
  # title => { filter, aligner, reducer, group_by }
  charts = merge(
    {
      "Requests per second by function and class" = {
        filter = "${local.services} AND metric.type = \"run.googleapis.com/request_count\""
        align  = "ALIGN_RATE", reduce = "REDUCE_SUM", group = ["resource.label.service_name", "metric.label.response_code_class"]
      }
      "Request latency p99 (ms) by function" = {
        filter = "${local.services} AND metric.type = \"run.googleapis.com/request_latencies\""
        align  = "ALIGN_PERCENTILE_99", reduce = "REDUCE_MAX", group = ["resource.label.service_name"]
      }
      "Instances by service" = {
        filter = "${local.services} AND metric.type = \"run.googleapis.com/container/instance_count\""
        align  = "ALIGN_MAX", reduce = "REDUCE_SUM", group = ["resource.label.service_name"]
      }
      "Failed outbox relays by job" = {
        filter = "resource.type = \"cloud_scheduler_job\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.outbox_relay_failures.name}\""
        align  = "ALIGN_SUM", reduce = "REDUCE_SUM", group = ["metric.label.job_id"]
      }
      "Cloud SQL CPU utilization" = {
        filter = "${local.database} AND metric.type = \"cloudsql.googleapis.com/database/cpu/utilization\""
        align  = "ALIGN_MEAN", reduce = "REDUCE_MAX", group = []
      }
      "Cloud SQL connections" = {
        filter = "${local.database} AND metric.type = \"cloudsql.googleapis.com/database/postgresql/num_backends\""
        align  = "ALIGN_MEAN", reduce = "REDUCE_SUM", group = []
      }
    },
    local.use_pulsar ? {
      "Dead-lettered messages by route" = {
        filter = "resource.type = \"cloud_run_revision\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.dead_letters[0].name}\""
        align  = "ALIGN_SUM", reduce = "REDUCE_SUM", group = ["metric.label.route"]
      }
      } : {
      "Dead letters kept by subscription" = {
        filter = "${local.dead_letter_subs} AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\""
        align  = "ALIGN_MAX", reduce = "REDUCE_SUM", group = ["resource.label.subscription_id"]
      }
      "Oldest unacked push message (s) by subscription" = {
        filter = "resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = starts_with(\"${var.name_prefix}-\") AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
        align  = "ALIGN_MAX", reduce = "REDUCE_MAX", group = ["resource.label.subscription_id"]
      }
    },
    var.pulsar_vm ? {
      "Pulsar VM CPU utilization" = {
        filter = "resource.type = \"gce_instance\" AND metric.type = \"compute.googleapis.com/instance/cpu/utilization\" AND metric.labels.instance_name = \"${var.pulsar_vm_name}\""
        align  = "ALIGN_MEAN", reduce = "REDUCE_MAX", group = []
      }
    } : {},
  )
  chart_titles = sort(keys(local.charts))
}

resource "google_monitoring_dashboard" "overview" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "${var.name_prefix}: Alpes Partners functions"
    mosaicLayout = {
      columns = 12
      tiles = [
        for index, title in local.chart_titles : {
          xPos   = (index % 2) * 6
          yPos   = floor(index / 2) * 4
          width  = 6
          height = 4
          widget = {
            title = title
            xyChart = {
              dataSets = [{
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = local.charts[title].filter
                    aggregation = merge(
                      {
                        alignmentPeriod    = "60s"
                        perSeriesAligner   = local.charts[title].align
                        crossSeriesReducer = local.charts[title].reduce
                      },
                      length(local.charts[title].group) > 0 ? { groupByFields = local.charts[title].group } : {},
                    )
                  }
                }
              }]
            }
          }
        }
      ]
    }
  })
}
