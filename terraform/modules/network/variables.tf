variable "project_id" {
  description = "Project of the network."
  type        = string
}

variable "region" {
  description = "Region of the subnets and the connector."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
}

variable "main_cidr" {
  description = "Range of the subnet holding VMs (the Pulsar broker)."
  type        = string
}

variable "egress_mode" {
  description = "How Cloud Run reaches the VPC: \"direct\" (direct VPC egress) or \"connector\" (Serverless VPC Access)."
  type        = string
}

variable "serverless_cidr" {
  description = "Range of the subnet Cloud Run instances take addresses from (egress_mode = direct)."
  type        = string
}

variable "connector_cidr" {
  description = "Unused /28 range of the Serverless VPC Access connector (egress_mode = connector)."
  type        = string
}

variable "connector_machine_type" {
  description = "Machine type of the connector's instances."
  type        = string
  default     = "e2-micro"
}

variable "connector_max_instances" {
  description = "Maximum instances of the connector (3 to 10)."
  type        = number
  default     = 3
}

variable "private_services_prefix_length" {
  description = "Size of the range reserved for Cloud SQL private IPs (private services access)."
  type        = number
  default     = 20
}
