variable "project_id" {
  description = "Project of the job."
  type        = string
}

variable "region" {
  description = "Region of the job."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the job and service account names."
  type        = string
}

variable "database" {
  description = "The database migrated (alpes or reportes): job <prefix>-migrate-<database>."
  type        = string
}

variable "image" {
  description = "The migrate image (the Dockerfile built with FUNCTION=migrate)."
  type        = string
}

variable "database_url" {
  description = "Secret Manager secret id and version of the database's DATABASE_URL."
  type = object({
    secret  = string
    version = string
  })
}

variable "vpc" {
  description = "VPC egress, as for the functions (the database has only a private IP)."
  type = object({
    mode       = string
    connector  = optional(string)
    network    = optional(string)
    subnetwork = optional(string)
    tags       = optional(list(string), [])
    egress     = optional(string, "PRIVATE_RANGES_ONLY")
  })
}

variable "timeout_seconds" {
  description = "Bound on one execution."
  type        = number
  default     = 600
}

variable "labels" {
  description = "Labels of the job."
  type        = map(string)
  default     = {}
}

variable "deletion_protection" {
  description = "Refuse to delete the job."
  type        = bool
  default     = false
}

variable "max_retries" {
  description = "Retries of a failed task (each waits up to 30 s to connect; Direct VPC egress may need a minute or more at start)."
  type        = number
  default     = 4
}

variable "iam_propagation_seconds" {
  description = "Wait between granting the job's account its secret and creating the job."
  type        = number
  default     = 60
}
