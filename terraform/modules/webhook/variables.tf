variable "prefix" {
  description = "The pool's prefix."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "config_parameter" {
  description = "The SSM parameter holding the pool's core config as JSON."
  type        = object({ name = string, arn = string })
}

variable "github_app_parameters" {
  description = "SSM parameters of the GitHub App: id, key_base64, webhook_secret."
  type = object({
    id             = object({ name = string, arn = string })
    key_base64     = object({ name = string, arn = string })
    webhook_secret = object({ name = string, arn = string })
  })
}

variable "github_api_url" {
  description = "GitHub REST API base URL."
  type        = string
}

variable "build_queue" {
  description = "The build queue the webhook enqueues accepted jobs on."
  type        = object({ url = string, arn = string })
}

variable "job_event_archive_bucket_name" {
  description = "Existing bucket for the workflow_job archive; null: none."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "KMS key of the SSM SecureStrings."
  type        = string
}

variable "logging_kms_key_id" {
  description = "KMS key ARN of the log groups."
  type        = string
  default     = null
}

variable "logging_retention_in_days" {
  description = "Retention of the log groups."
  type        = number
  default     = 180
}

variable "log_level" {
  description = "LOG_LEVEL."
  type        = string
  default     = "info"
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the EMF metrics."
  type        = string
  default     = "Flotilla"
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
  description = "Path of webhook.zip."
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
  description = "Timeout (s)."
  type        = number
  default     = 10
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

variable "api_gateway_throttling_burst_limit" {
  description = "Burst limit of the HTTP API."
  type        = number
  default     = 100
}

variable "api_gateway_throttling_rate_limit" {
  description = "Requests per second of the HTTP API."
  type        = number
  default     = 50
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
