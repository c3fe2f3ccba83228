variable "prefix" {
  description = "The pool's prefix."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "runner_os" {
  description = "linux or windows: the release asset to mirror."
  type        = string
  default     = "linux"
}

variable "runner_architecture" {
  description = "x64 or arm64: the release asset to mirror."
  type        = string
  default     = "x64"
}

variable "github_api_url" {
  description = "GitHub REST API base URL."
  type        = string
}

variable "schedule_expression" {
  description = "How often the syncer checks for a new release."
  type        = string
  default     = "cron(27 * * * ? *)"
}

variable "s3_sse_configuration" {
  description = "Server-side encryption of the bucket."
  type = object({
    sse_algorithm     = string
    kms_master_key_id = optional(string)
  })
  default = { sse_algorithm = "AES256" }
}

variable "logging_kms_key_id" {
  description = "KMS key ARN of the log group."
  type        = string
  default     = null
}

variable "logging_retention_in_days" {
  description = "Retention of the log group."
  type        = number
  default     = 180
}

variable "log_level" {
  description = "LOG_LEVEL."
  type        = string
  default     = "info"
}

variable "kms_key_arn" {
  description = "KMS key encrypting the function's environment."
  type        = string
  default     = null
}

variable "role_path" {
  description = "IAM path of the role."
  type        = string
  default     = "/"
}

variable "role_permissions_boundary" {
  description = "Permissions boundary of the role."
  type        = string
  default     = null
}

variable "lambda_zip" {
  description = "Path of runner-binaries-syncer.zip."
  type        = string
}

variable "lambda_runtime" {
  description = "Lambda runtime."
  type        = string
  default     = "provided.al2023"
}

variable "lambda_architecture" {
  description = "arm64 or x86_64."
  type        = string
  default     = "arm64"
}

variable "lambda_memory_size" {
  description = "Memory (MB)."
  type        = number
  default     = 256
}

variable "lambda_timeout" {
  description = "Timeout (s); the release is ~200 MB."
  type        = number
  default     = 300
}

variable "lambda_subnet_ids" {
  description = "Subnets of the function; empty: outside a VPC."
  type        = list(string)
  default     = []
}

variable "lambda_security_group_ids" {
  description = "Security groups of the function."
  type        = list(string)
  default     = []
}

variable "enable_alarms" {
  description = "Create the errors alarm."
  type        = bool
  default     = true
}

variable "alarm_sns_topic_arns" {
  description = "SNS topics of the alarm."
  type        = list(string)
  default     = []
}
