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

variable "name_prefix" {
  description = "Prefix of the subscription and dead-letter topic names."
  type        = string
}

variable "minimum_backoff" {
  description = "First redelivery delay (retry policy; Pub/Sub allows 0s to 600s)."
  type        = string
  default     = "10s"
}

variable "maximum_backoff" {
  description = "Longest redelivery delay (retry policy; at most 600s)."
  type        = string
  default     = "600s"
}

variable "max_delivery_attempts" {
  description = "Delivery attempts before a message goes to its dead-letter topic (Pub/Sub allows 5 to 100)."
  type        = number
  default     = 100

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts: 5 to 100 (Pub/Sub's bounds)."
  }
}

variable "dead_letter_retention" {
  description = "How long dead letters are kept by their subscription (and topic); at most 7 days (604800s), a subscription's limit."
  type        = string
  default     = "604800s"
}
