variable "project_id" {
  description = "Project of the instance."
  type        = string
}

variable "region" {
  description = "Region of the instance."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the instance and secret names."
  type        = string
}

variable "labels" {
  description = "Labels set on the instance and the secrets."
  type        = map(string)
  default     = {}
}

variable "network_id" {
  description = "VPC the private IP is allocated in."
  type        = string
}

variable "private_services_connection" {
  description = "The private services access peering; the instance is created after it."
  type        = string
}

variable "database_version" {
  description = "Cloud SQL database version."
  type        = string
  default     = "POSTGRES_15"
}

variable "tier" {
  description = "Machine tier, e.g. db-custom-1-3840 (1 vCPU, 3.75 GB: max_connections 100)."
  type        = string
}

variable "availability_type" {
  description = "ZONAL, or REGIONAL for a standby in another zone."
  type        = string
}

variable "disk_size_gb" {
  description = "Initial SSD size; it grows automatically."
  type        = number
}

variable "backups" {
  description = "Daily backups and point-in-time recovery."
  type        = bool
  default     = true
}

variable "retained_backups" {
  description = "Daily backups kept."
  type        = number
  default     = 7
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (Terraform and the Cloud SQL API)."
  type        = bool
}

variable "databases" {
  description = "Databases created on the instance."
  type        = list(string)
}

variable "user" {
  description = "The application's database user."
  type        = string
}

variable "database_flags" {
  description = "Extra PostgreSQL flags, added to the logging flags set here (e.g. { max_connections = \"200\" })."
  type        = map(string)
  default     = {}
}

variable "password_version" {
  description = "Version of the generated password: raise it to rotate (a new password is generated, stored, set on the user and written into both DATABASE_URL secrets)."
  type        = number
  default     = 1
}
