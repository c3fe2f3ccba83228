variable "prefix" {
  description = "The pool's prefix (names, tags, SSM paths)."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "VPC of the runners."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets the runners launch in."
  type        = list(string)
}

variable "config_parameter" {
  description = "The SSM parameter holding the pool's core config as JSON."
  type        = object({ name = string, arn = string })
}

variable "github_app_parameters" {
  description = "SSM parameters of the GitHub App: id, key_base64 (and webhook_secret, unused here)."
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

variable "kms_key_arn" {
  description = "KMS key of the SSM SecureStrings (runner tokens)."
  type        = string
}

variable "logging_kms_key_id" {
  description = "KMS key ARN of the log groups; null: not encrypted with a customer key."
  type        = string
  default     = null
}

variable "logging_retention_in_days" {
  description = "Retention of the log groups."
  type        = number
  default     = 180
}

variable "log_level" {
  description = "LOG_LEVEL of the functions."
  type        = string
  default     = "info"
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the EMF metrics."
  type        = string
  default     = "Flotilla"
}

variable "role_path" {
  description = "IAM path of the roles."
  type        = string
  default     = "/"
}

variable "instance_profile_path" {
  description = "IAM path of the instance profile."
  type        = string
  default     = "/"
}

variable "role_permissions_boundary" {
  description = "Permissions boundary of every role."
  type        = string
  default     = null
}

variable "lambda_zip" {
  description = "Path of runners.zip."
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
  description = "Memory (MB) of the functions."
  type        = number
  default     = 256
}

variable "lambda_subnet_ids" {
  description = "Subnets of the functions; empty: outside a VPC."
  type        = list(string)
  default     = []
}

variable "lambda_security_group_ids" {
  description = "Security groups of the functions."
  type        = list(string)
  default     = []
}

variable "scale_up_timeout" {
  description = "Timeout (s) of scale-up."
  type        = number
  default     = 30
}

variable "scale_down_timeout" {
  description = "Timeout (s) of scale-down."
  type        = number
  default     = 60
}

variable "pool_timeout" {
  description = "Timeout (s) of pool."
  type        = number
  default     = 60
}

variable "delay_webhook_event" {
  description = "DelaySeconds of the build queue."
  type        = number
}

variable "fifo_build_queue" {
  description = "FIFO build queue."
  type        = bool
  default     = false
}

variable "job_queue_retention_in_seconds" {
  description = "Retention of the build queue."
  type        = number
  default     = 86400
}

variable "redrive_build_queue" {
  description = "Dead-letter queue settings."
  type = object({
    enabled         = bool
    maxReceiveCount = optional(number)
  })
  default = { enabled = false }
}

variable "scale_up_reserved_concurrent_executions" {
  description = "Reserved concurrency of scale-up; -1: unreserved."
  type        = number
  default     = 1
}

variable "lambda_event_source_mapping_batch_size" {
  description = "Batch size of the build queue's event source mapping."
  type        = number
  default     = 10
}

variable "lambda_event_source_mapping_maximum_batching_window_in_seconds" {
  description = "Batching window of the event source mapping (standard queues only)."
  type        = number
  default     = 0
}

variable "scale_down_schedule_expression" {
  description = "Schedule of scale-down."
  type        = string
}

variable "pool_config" {
  description = "Pool schedules."
  type = list(object({
    schedule_expression          = string
    schedule_expression_timezone = optional(string)
    size                         = number
  }))
  default = []
}

variable "enable_spot_termination_watcher" {
  description = "Deploy the termination watcher and its EventBridge rules."
  type        = bool
  default     = true
}

variable "runner_os" {
  description = "linux or windows."
  type        = string
  default     = "linux"
}

variable "runner_architecture" {
  description = "x64 or arm64."
  type        = string
  default     = "x64"
}

variable "enable_ephemeral_runners" {
  description = "Ephemeral runners (they may terminate their own instance)."
  type        = bool
  default     = false
}

variable "enable_jit_config" {
  description = "Effective JIT setting (already resolved from null)."
  type        = bool
  default     = false
}

variable "runner_name_prefix" {
  description = "Prefix of runner names."
  type        = string
  default     = ""
}

variable "block_device_mappings" {
  description = "EBS volumes of the launch template."
  type = list(object({
    delete_on_termination = optional(bool, true)
    device_name           = optional(string, "/dev/xvda")
    encrypted             = optional(bool, true)
    iops                  = optional(number)
    kms_key_id            = optional(string)
    snapshot_id           = optional(string)
    throughput            = optional(number)
    volume_size           = optional(number, 30)
    volume_type           = optional(string, "gp3")
  }))
}

variable "ami_id_ssm_parameter_name" {
  description = "SSM parameter of the AMI id; null with ami_filter null: the OS/architecture default."
  type        = string
  default     = null
}

variable "ami_filter" {
  description = "DescribeImages filters; used when ami_id_ssm_parameter_name is null."
  type        = map(list(string))
  default     = null
}

variable "ami_owners" {
  description = "Owners for ami_filter."
  type        = list(string)
  default     = ["amazon"]
}

variable "enable_userdata" {
  description = "Give the launch template the module's user data."
  type        = bool
  default     = true
}

variable "userdata_template" {
  description = "Template path instead of the default."
  type        = string
  default     = null
}

variable "enable_user_data_debug_logging_runner" {
  description = "Trace the user data."
  type        = bool
  default     = false
}

variable "enable_cloudwatch_agent" {
  description = "Ship runner logs with the CloudWatch agent."
  type        = bool
  default     = true
}

variable "runner_run_as" {
  description = "Linux user of the runner."
  type        = string
  default     = "ec2-user"
}

variable "enable_ssm_on_runners" {
  description = "Attach AmazonSSMManagedInstanceCore to the runner role."
  type        = bool
  default     = false
}

variable "runner_iam_role_managed_policy_arns" {
  description = "More managed policies for the runner role."
  type        = list(string)
  default     = []
}

variable "enable_managed_runner_security_group" {
  description = "Create the runners' egress-only security group."
  type        = bool
  default     = true
}

variable "runner_additional_security_group_ids" {
  description = "More security groups for the runners."
  type        = list(string)
  default     = []
}

variable "runner_binaries" {
  description = "The S3 mirror of the runner release ({bucket_arn, bucket_name, key}); null: runners download from GitHub."
  type = object({
    bucket_arn  = string
    bucket_name = string
    key         = string
  })
  default = null
}

variable "enable_alarms" {
  description = "Create the alarms."
  type        = bool
  default     = true
}

variable "alarm_sns_topic_arns" {
  description = "SNS topics of the alarms."
  type        = list(string)
  default     = []
}

variable "github_url" {
  description = "GitHub (or GHES) web URL runners register with."
  type        = string
  default     = "https://github.com"
}

variable "runner_labels" {
  description = "The runners' labels (default labels + runner_extra_labels, lowercase)."
  type        = list(string)
  default     = ["self-hosted", "linux", "x64"]
}

variable "runner_group" {
  description = "Runner group of organization runners; empty for repository runners."
  type        = string
  default     = ""
}
