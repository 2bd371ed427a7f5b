variable "project_id" {
  description = "Project of the alert policies, log-based metrics and dashboard."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the deployment's names: the Cloud Run services watched are <prefix>-*."
  type        = string
}

variable "labels" {
  description = "User labels of the alert policies."
  type        = map(string)
  default     = {}
}

variable "event_bus" {
  description = "pulsar (the bridge's dead-letter logs) or pubsub (the dead-letter subscriptions' backlog)."
  type        = string
}

variable "bridge_service" {
  description = "Cloud Run service name of the bridge (event_bus = pulsar)."
  type        = string
  default     = ""
}

variable "pulsar_vm" {
  description = "Whether the Pulsar VM is deployed here (pulsar_vm_name is then watched)."
  type        = bool
  default     = false
}

variable "pulsar_vm_name" {
  description = "Instance name of the Pulsar VM."
  type        = string
  default     = ""
}

variable "database_id" {
  description = "Cloud SQL database id as Cloud Monitoring labels it: <project>:<instance name>."
  type        = string
}

variable "notification_channels" {
  description = "Notification channel ids (projects/<p>/notificationChannels/<id>) every alert goes to."
  type        = list(string)
  default     = []
}

variable "alert_email" {
  description = "Also create an e-mail notification channel for this address (empty: none)."
  type        = string
  default     = ""
}

variable "error_ratio_threshold" {
  description = "Share of a function's requests answered 5xx, over 5 minutes, that opens an incident."
  type        = number
  default     = 0.05
}

variable "outbox_relay_failures_threshold" {
  description = "Failed scheduled outbox relays of one function within 15 minutes that open an incident (runs every minute: 5 means its oldest event has waited at least about 5 minutes)."
  type        = number
  default     = 5
}

variable "db_cpu_threshold" {
  description = "Cloud SQL CPU utilization (0-1), over 10 minutes, that opens an incident."
  type        = number
  default     = 0.8
}

variable "db_connections_threshold" {
  description = "PostgreSQL connections (num_backends), over 5 minutes, that open an incident; keep it below max_connections (100 on db-custom-1-3840)."
  type        = number
  default     = 80
}
