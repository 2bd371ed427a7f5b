variable "project_id" {
  description = "Project of the service."
  type        = string
}

variable "region" {
  description = "Region of the service."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the service name and the service account id (<prefix>-<name>; the account id at most 30 characters)."
  type        = string
}

variable "name" {
  description = "Service name (the function's binary name)."
  type        = string
}

variable "image" {
  description = "Container image, e.g. <region>-docker.pkg.dev/<project>/<repo>/<name>:<tag>."
  type        = string
}

variable "labels" {
  description = "Labels of the service and its revisions."
  type        = map(string)
  default     = {}
}

variable "env" {
  description = "Plain environment variables."
  type        = map(string)
  default     = {}
}

variable "secret_env" {
  description = "Environment variables read from Secret Manager: name => { secret = <secret id>, version = <version> }. The service account gets secretAccessor on each secret."
  type = map(object({
    secret  = string
    version = string
  }))
  default = {}
}

variable "invokers" {
  description = "Members granted roles/run.invoker on this service, keyed by a static name (e.g. { bridge = \"serviceAccount:...\" })."
  type        = map(string)
  default     = {}
}

variable "ingress" {
  description = "INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  type        = string
  default     = "INGRESS_TRAFFIC_ALL"
}

variable "min_instances" {
  description = "Instances kept warm."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Upper bound on instances (each holds up to DATABASE_MAX_CONNECTIONS connections)."
  type        = number
  default     = 4
}

variable "concurrency" {
  description = "Requests one instance serves at once."
  type        = number
  default     = 80
}

variable "timeout_seconds" {
  description = "Cloud Run request timeout."
  type        = number
  default     = 60
}

variable "cpu" {
  description = "CPU limit, e.g. \"1\"."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory limit, e.g. \"512Mi\" or \"1Gi\" (the second-generation execution environment needs at least 512Mi)."
  type        = string
  default     = "512Mi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.memory))
    error_message = "memory: a number of Mi or Gi, e.g. 512Mi."
  }
  validation {
    # Cloud Run: the second generation needs 512 MiB or more; below it, only the first.
    condition = var.execution_environment != "EXECUTION_ENVIRONMENT_GEN2" || (
      endswith(var.memory, "Gi") ? tonumber(trimsuffix(var.memory, "Gi")) * 1024 >= 512 : tonumber(trimsuffix(var.memory, "Mi")) >= 512
    )
    error_message = "memory: the second-generation execution environment needs at least 512Mi (set execution_environment = EXECUTION_ENVIRONMENT_GEN1 for less)."
  }
}

variable "execution_environment" {
  description = "EXECUTION_ENVIRONMENT_GEN2 (full Linux, at least 512Mi) or EXECUTION_ENVIRONMENT_GEN1 (faster cold starts, 128Mi to 8Gi)."
  type        = string
  default     = "EXECUTION_ENVIRONMENT_GEN2"

  validation {
    condition     = contains(["EXECUTION_ENVIRONMENT_GEN1", "EXECUTION_ENVIRONMENT_GEN2"], var.execution_environment)
    error_message = "execution_environment: EXECUTION_ENVIRONMENT_GEN1 or EXECUTION_ENVIRONMENT_GEN2."
  }
}

variable "iam_propagation_seconds" {
  description = "Wait between granting the service account its secrets and creating the service."
  type        = number
  default     = 60
}

variable "cpu_idle" {
  description = "true: CPU only during requests; false: always allocated."
  type        = bool
  default     = true
}

variable "vpc" {
  description = "VPC egress: mode \"direct\" (network/subnetwork) or \"connector\" (connector id); egress is PRIVATE_RANGES_ONLY or ALL_TRAFFIC."
  type = object({
    mode       = string
    connector  = optional(string)
    network    = optional(string)
    subnetwork = optional(string)
    tags       = optional(list(string), [])
    egress     = optional(string, "PRIVATE_RANGES_ONLY")
  })
}

variable "deletion_protection" {
  description = "Refuse to delete the service."
  type        = bool
  default     = false
}
