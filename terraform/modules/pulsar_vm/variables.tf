variable "project_id" {
  description = "Project of the VM."
  type        = string
}

variable "region" {
  description = "Region of the internal address and the snapshot policy."
  type        = string
}

variable "zone" {
  description = "Zone of the VM and its data disk."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the resource names."
  type        = string
}

variable "labels" {
  description = "Labels of the VM and its disk."
  type        = map(string)
  default     = {}
}

variable "network" {
  description = "VPC (id or name) the firewall rules belong to."
  type        = string
}

variable "subnetwork" {
  description = "Subnet of the VM."
  type        = string
}

variable "network_tag" {
  description = "Network tag the firewall rules target."
  type        = string
  default     = "pulsar-broker"
}

variable "internal_ip" {
  description = "Fixed internal IP of the broker (null: one is allocated and kept)."
  type        = string
  default     = null
}

variable "client_ranges" {
  description = "Source ranges allowed to reach 6650 and 8080 (Cloud Run's egress range)."
  type        = list(string)
}

variable "machine_type" {
  description = "Machine type (Pulsar standalone wants about 4 GB of memory or more)."
  type        = string
  default     = "e2-standard-2"
}

variable "boot_image" {
  description = "Boot image: Container-Optimized OS (the startup script uses its docker)."
  type        = string
  default     = "cos-cloud/cos-stable"
}

variable "image" {
  description = "Pulsar container image, pinned (the official apachepulsar/pulsar)."
  type        = string
}

variable "pulsar_mem" {
  description = "JVM memory settings (PULSAR_MEM) of the standalone process."
  type        = string
  default     = "-Xms2g -Xmx2g -XX:MaxDirectMemorySize=2g"
}

variable "startup_script" {
  description = "Content of pulsar-vm/startup.sh."
  type        = string
}

variable "disk_type" {
  description = "Type of the data disk."
  type        = string
  default     = "pd-balanced"
}

variable "disk_size_gb" {
  description = "Size of the data disk (messages, ledgers, metadata)."
  type        = number
  default     = 50
}

variable "snapshot_retention_days" {
  description = "Daily snapshots of the data disk kept this many days (0: no snapshots)."
  type        = number
  default     = 7
}

variable "allow_iap_ssh" {
  description = "Open SSH from Identity-Aware Proxy's range only (for operators)."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Refuse to delete the VM."
  type        = bool
  default     = false
}

variable "namespace" {
  description = "tenant/namespace of the contract's topics: created if missing, given the retention policy below."
  type        = string
  default     = "public/default"
}

variable "retention_minutes" {
  description = "Namespace retention of acknowledged messages, minutes (-1: unbounded). Unacknowledged messages, the dead letters on their dlq subscriptions included, are kept regardless."
  type        = number
  default     = 10080
}

variable "retention_size_mb" {
  description = "Size bound of that retention per topic, MB (-1: unbounded)."
  type        = number
  default     = 10240
}
