variable "project_id" {
  description = "Project of the topics."
  type        = string
}

variable "labels" {
  description = "Labels of the topics and subscriptions."
  type        = map(string)
  default     = {}
}

variable "topics" {
  description = "Topic names (the contract's, without the Pulsar namespace)."
  type        = list(string)
}

variable "routes" {
  description = "Push subscriptions: topic, consuming function (subscription) and the function's base URL (also the OIDC audience)."
  type = list(object({
    topic        = string
    subscription = string
    url          = string
  }))
}

variable "push_service_account_email" {
  description = "Identity of the push OIDC tokens (must hold roles/run.invoker on the functions)."
  type        = string
}

variable "push_service_account_id" {
  description = "Resource id of that service account (projects/<p>/serviceAccounts/<email>)."
  type        = string
}

variable "publishers" {
  description = "Publish rights, keyed by a static name: { topic, member }."
  type = map(object({
    topic  = string
    member = string
  }))
  default = {}
}

variable "ack_deadline_seconds" {
  description = "Push acknowledgement deadline (the push timeout); keep it above the functions' REQUEST_TIMEOUT_MS."
  type        = number
  default     = 60
}

variable "message_retention" {
  description = "How long unacknowledged messages are kept."
  type        = string
  default     = "604800s"
}

variable "minimum_backoff" {
  description = "First redelivery delay."
  type        = string
  default     = "1s"
}

variable "maximum_backoff" {
  description = "Longest redelivery delay."
  type        = string
  default     = "60s"
}

variable "max_delivery_attempts" {
  description = "Attempts before a message goes to its dead-letter topic (5 to 100)."
  type        = number
  default     = 10
}
