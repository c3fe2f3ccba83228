variable "prefix" {
  description = "The pool's prefix; the token path is /<prefix>/runners/tokens/<instance id>."
  type        = string
}

variable "runner_os" {
  description = "linux or windows: picks the default template."
  type        = string
  default     = "linux"

  validation {
    condition     = contains(["linux", "windows"], var.runner_os)
    error_message = "runner_os must be linux or windows."
  }
}

variable "runner_architecture" {
  description = "x64 or arm64 (the runner release asset when downloading from GitHub)."
  type        = string
  default     = "x64"

  validation {
    condition     = contains(["x64", "arm64"], var.runner_architecture)
    error_message = "runner_architecture must be x64 or arm64."
  }
}

variable "userdata_template" {
  description = "Template path instead of the default for runner_os."
  type        = string
  default     = null
}

variable "enable_ephemeral_runners" {
  description = "Run one job, then terminate the instance."
  type        = bool
  default     = false
}

variable "enable_jit_config" {
  description = "The token parameter holds a JIT config (run.sh --jitconfig) instead of config.sh arguments."
  type        = bool
  default     = false
}

variable "runner_run_as" {
  description = "Linux user the runner runs as."
  type        = string
  default     = "ec2-user"
}

variable "runner_name_prefix" {
  description = "Prefix of the runner name (config.sh path); the rest is the instance id."
  type        = string
  default     = ""
}

variable "runner_binaries_s3_url" {
  description = "s3://bucket/key of the mirrored runner release; null: download from GitHub."
  type        = string
  default     = null
}

variable "runner_log_group_name" {
  description = "Log group the CloudWatch agent ships the boot and runner logs to."
  type        = string
}

variable "enable_cloudwatch_agent" {
  description = "Install and configure the CloudWatch agent."
  type        = bool
  default     = true
}

variable "enable_debug_logging" {
  description = "Trace every command (tokens excepted)."
  type        = bool
  default     = false
}

variable "github_url" {
  description = "GitHub (or GHES) web URL the runner registers with: <github_url>/<owner>."
  type        = string
  default     = "https://github.com"
}

variable "runner_labels" {
  description = "Labels of the runner when it registers with a registration token (JIT configs carry their own)."
  type        = list(string)
  default     = ["self-hosted", "linux", "x64"]
}

variable "runner_group" {
  description = "Runner group of organization runners; empty for repository runners."
  type        = string
  default     = ""
}
