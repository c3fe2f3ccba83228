################################################################################
# Pool policy: the flotilla-core config (core/src/config.rs). Every variable in
# this section is one field of that config, with the same name, type and default;
# together they travel as one JSON document in the SSM parameter /{prefix}/config.
# A recommended.tfvars.json written by `flotilla tune` sets these as is.
# Variables with a non-null default are `nullable = false`: null means "default",
# as in the core.
################################################################################

variable "prefix" {
  description = "Names every resource, tags every instance (flotilla:prefix) and roots every SSM path (/{prefix}/...)."
  type        = string
  default     = "github-actions"
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.prefix))
    error_message = "prefix must be 1-40 characters of letters, digits, '-' or '_' (it names AWS resources and SSM paths)."
  }
}

variable "aws_region" {
  description = "AWS region of the pool. Must be the region of the aws provider the module runs with; the simulator picks prices for it."
  type        = string
  default     = "eu-west-1"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region name such as eu-west-1."
  }
}

variable "delay_webhook_event" {
  description = "Seconds a queued job waits on the build queue before scale-up sees it (the queue's DelaySeconds). Not applied to a FIFO queue per message; the queue carries it."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.delay_webhook_event >= 0 && var.delay_webhook_event <= 900 && floor(var.delay_webhook_event) == var.delay_webhook_event
    error_message = "delay_webhook_event must be a whole number of seconds 0-900 (the SQS DelaySeconds limit)."
  }
}

variable "enable_ephemeral_runners" {
  description = "Ephemeral runners run one job, then their instance terminates itself."
  type        = bool
  default     = false
  nullable    = false
}

variable "enable_organization_runners" {
  description = "Register runners with the organization instead of the repository."
  type        = bool
  default     = false
  nullable    = false
}

variable "enable_job_queued_check" {
  description = "Ask GitHub whether a job is still queued before launching for it. null: on for reusable runners, off for ephemeral ones."
  type        = bool
  default     = null
}

variable "enable_jit_config" {
  description = "Register runners with a just-in-time config instead of a registration token. null: JIT for ephemeral runners, registration tokens for reusable ones."
  type        = bool
  default     = null
}

variable "minimum_running_time_in_minutes" {
  description = "Scale-down keeps an idle instance at least this long after launch. null: 5 on linux, 15 on windows."
  type        = number
  default     = null

  validation {
    condition     = var.minimum_running_time_in_minutes == null || try(var.minimum_running_time_in_minutes >= 0 && var.minimum_running_time_in_minutes <= 10080, false)
    error_message = "minimum_running_time_in_minutes must be 0-10080 (a week); use null for the OS default."
  }
}

variable "runner_boot_time_in_minutes" {
  description = "Minutes an instance may take to register its runner; after that scale-down treats it as an orphan."
  type        = number
  default     = 5
  nullable    = false

  validation {
    condition     = var.runner_boot_time_in_minutes >= 1
    error_message = "runner_boot_time_in_minutes must be at least 1: instances that have not registered within it are treated as orphans."
  }
}

variable "runners_maximum_count" {
  description = "The most instances this pool may run at once."
  type        = number
  default     = 3
  nullable    = false

  validation {
    condition     = var.runners_maximum_count >= 1
    error_message = "runners_maximum_count must be at least 1."
  }
}

variable "scale_down_schedule_expression" {
  description = "EventBridge schedule (cron(...) or rate(...)) on which scale-down runs."
  type        = string
  default     = "cron(*/5 * * * ? *)"
  nullable    = false

  validation {
    condition     = can(regex("^(cron\\(.+\\)|rate\\([0-9]+ (minute|minutes|hour|hours|day|days)\\))$", var.scale_down_schedule_expression))
    error_message = "scale_down_schedule_expression must be an EventBridge cron(...) or rate(...) expression."
  }
}

variable "idle_config" {
  description = "Idle runners to keep while a cron window is open: cron is 6-field with seconds (sec min hour day month weekday), timeZone an IANA name, evictionStrategy oldest_first or newest_first."
  type = list(object({
    cron             = string
    timeZone         = optional(string, "UTC")
    idleCount        = number
    evictionStrategy = optional(string, "oldest_first")
  }))
  default  = []
  nullable = false

  validation {
    condition     = alltrue([for c in var.idle_config : contains(["oldest_first", "newest_first"], c.evictionStrategy) && c.idleCount >= 0 && length(split(" ", trimspace(c.cron))) == 6])
    error_message = "idle_config: cron needs 6 fields (with seconds), idleCount >= 0, evictionStrategy oldest_first or newest_first."
  }
}

variable "pool_config" {
  description = "Pool sizes to top up to on schedules (EventBridge Scheduler expressions, optional IANA time zone)."
  type = list(object({
    schedule_expression          = string
    schedule_expression_timezone = optional(string)
    size                         = number
  }))
  default  = []
  nullable = false

  validation {
    condition     = alltrue([for p in var.pool_config : p.size >= 0 && can(regex("^(cron|rate|at)\\(.+\\)$", p.schedule_expression))])
    error_message = "pool_config: size must be >= 0 and schedule_expression a cron(...), rate(...) or at(...) expression."
  }

  validation {
    condition     = alltrue([for p in var.pool_config : p.size <= var.runners_maximum_count])
    error_message = "pool_config: a size is more than runners_maximum_count; raise the maximum or shrink the pool."
  }
}

variable "pool_runner_owner" {
  description = "The organization pool runners register with (pools serve organization runners only, as in v7); required with pool_config."
  type        = string
  default     = null

  validation {
    condition     = var.pool_runner_owner == null || try(var.pool_runner_owner != "" && !strcontains(var.pool_runner_owner, "/"), false)
    error_message = "pool_runner_owner must name an organization (no owner/repo)."
  }

  validation {
    condition     = length(var.pool_config) == 0 || (var.pool_runner_owner != null && var.enable_organization_runners)
    error_message = "pool_config needs enable_organization_runners = true and pool_runner_owner (pools serve organization runners only)."
  }
}

variable "instance_types" {
  description = "EC2 instance types the fleet may launch; CreateFleet overrides are subnet_ids x instance_types."
  type        = list(string)
  default     = ["m5.large", "c5.large"]
  nullable    = false

  validation {
    condition     = length(var.instance_types) > 0 && length(distinct(var.instance_types)) == length(var.instance_types) && alltrue([for t in var.instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])
    error_message = "instance_types must name at least one EC2 instance type such as m5.large, each once."
  }
}

variable "instance_target_capacity_type" {
  description = "Launch spot or on-demand instances."
  type        = string
  default     = "spot"
  nullable    = false

  validation {
    condition     = contains(["spot", "on-demand"], var.instance_target_capacity_type)
    error_message = "instance_target_capacity_type must be \"spot\" or \"on-demand\"."
  }
}

variable "instance_allocation_strategy" {
  description = "EC2 Fleet allocation strategy (on-demand fleets use lowest-price)."
  type        = string
  default     = "lowest-price"
  nullable    = false

  validation {
    condition     = contains(["lowest-price", "price-capacity-optimized", "capacity-optimized", "capacity-optimized-prioritized", "diversified"], var.instance_allocation_strategy)
    error_message = "instance_allocation_strategy must be one of lowest-price, price-capacity-optimized, capacity-optimized, capacity-optimized-prioritized, diversified."
  }
}

variable "instance_max_spot_price" {
  description = "Maximum spot price in USD/hour as a string, e.g. \"0.10\". null: the on-demand price."
  type        = string
  default     = null

  validation {
    condition     = var.instance_max_spot_price == null || try(tonumber(var.instance_max_spot_price) > 0, false)
    error_message = "instance_max_spot_price must be a positive USD/hour price such as \"0.10\", or null."
  }
}

variable "enable_runner_on_demand_failover_for_errors" {
  description = "EC2 Fleet error codes after which a failed spot launch is retried on-demand."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for c in var.enable_runner_on_demand_failover_for_errors : contains(["InsufficientInstanceCapacity", "MaxSpotInstanceCountExceeded", "SpotMaxPriceTooLow", "UnfulfillableCapacity", "InsufficientCapacity"], c)])
    error_message = "enable_runner_on_demand_failover_for_errors may list InsufficientInstanceCapacity, MaxSpotInstanceCountExceeded, SpotMaxPriceTooLow, UnfulfillableCapacity, InsufficientCapacity."
  }
}

variable "runner_os" {
  description = "Operating system of the runners."
  type        = string
  default     = "linux"
  nullable    = false

  validation {
    condition     = contains(["linux", "windows"], var.runner_os)
    error_message = "runner_os must be \"linux\" or \"windows\"."
  }
}

variable "runner_architecture" {
  description = "CPU architecture of the runners; must match instance_types and the AMI."
  type        = string
  default     = "x64"
  nullable    = false

  validation {
    condition     = contains(["x64", "arm64"], var.runner_architecture)
    error_message = "runner_architecture must be \"x64\" or \"arm64\"."
  }

  validation {
    condition     = !(var.runner_os == "windows" && var.runner_architecture == "arm64")
    error_message = "EC2 has no Windows Server on arm64 (Graviton): use runner_architecture = \"x64\" with runner_os = \"windows\"."
  }
}

variable "runner_extra_labels" {
  description = "Labels added to the default ones (self-hosted, OS, architecture)."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for l in var.runner_extra_labels : trimspace(l) != "" && !strcontains(l, ",")])
    error_message = "runner_extra_labels must be non-empty labels without commas."
  }
}

variable "runner_disable_default_labels" {
  description = "Register runners with runner_extra_labels only, without self-hosted/OS/architecture."
  type        = bool
  default     = false
  nullable    = false
}

variable "runner_name_prefix" {
  description = "Prefix of runner names (the rest is the instance id)."
  type        = string
  default     = ""
  nullable    = false
}

variable "enable_runner_workflow_job_labels_check_all" {
  description = "true: every label of the job must be a runner label; false: one shared label is enough."
  type        = bool
  default     = true
  nullable    = false
}

variable "repository_white_list" {
  description = "owner/repo names allowed to use the pool; empty: all."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for r in var.repository_white_list : can(regex("^[^/]+/[^/]+$", r))])
    error_message = "repository_white_list entries must be owner/repo names."
  }
}

variable "runner_group_name" {
  description = "Runner group of organization runners."
  type        = string
  default     = "Default"
  nullable    = false

  validation {
    condition     = var.runner_group_name != ""
    error_message = "runner_group_name must not be empty (GitHub's default group is \"Default\")."
  }
}

variable "fifo_build_queue" {
  description = "Use a FIFO build queue (named <prefix>-queued-builds.fifo)."
  type        = bool
  default     = false
  nullable    = false
}

variable "block_device_mappings" {
  description = "EBS volumes of the runner instances; always encrypted."
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
  default = [{
    delete_on_termination = true
    device_name           = "/dev/xvda"
    encrypted             = true
    iops                  = null
    kms_key_id            = null
    snapshot_id           = null
    throughput            = null
    volume_size           = 30
    volume_type           = "gp3"
  }]
  nullable = false

  validation {
    condition     = length(var.block_device_mappings) > 0 && alltrue([for b in var.block_device_mappings : b.encrypted && b.volume_size >= 1 && b.volume_size <= 16384 && contains(["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"], b.volume_type)])
    error_message = "block_device_mappings must hold at least the root volume; every volume encrypted, 1-16384 GiB, an EBS volume type."
  }
}

variable "scale_up_reserved_concurrent_executions" {
  description = "Reserved concurrency of the scale-up function; -1: unreserved."
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.scale_up_reserved_concurrent_executions >= -1
    error_message = "scale_up_reserved_concurrent_executions must be -1 (unreserved) or at least 0."
  }
}

variable "lambda_event_source_mapping_batch_size" {
  description = "Messages per scale-up invocation (at most 10 with a FIFO queue)."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.lambda_event_source_mapping_batch_size >= 1 && var.lambda_event_source_mapping_batch_size <= 10000
    error_message = "lambda_event_source_mapping_batch_size must be 1-10000."
  }
}

variable "lambda_event_source_mapping_maximum_batching_window_in_seconds" {
  description = "Seconds the event source mapping gathers a batch (not for FIFO queues)."
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.lambda_event_source_mapping_maximum_batching_window_in_seconds >= 0 && var.lambda_event_source_mapping_maximum_batching_window_in_seconds <= 300
    error_message = "lambda_event_source_mapping_maximum_batching_window_in_seconds must be 0-300."
  }
}

variable "redrive_build_queue" {
  description = "Move messages that failed maxReceiveCount times to a dead-letter queue."
  type = object({
    enabled         = bool
    maxReceiveCount = optional(number)
  })
  default = {
    enabled         = false
    maxReceiveCount = null
  }
  nullable = false

  validation {
    condition     = !var.redrive_build_queue.enabled || try(var.redrive_build_queue.maxReceiveCount >= 1, false)
    error_message = "redrive_build_queue.maxReceiveCount must be at least 1 when redrive is enabled."
  }
}

variable "job_queue_retention_in_seconds" {
  description = "Seconds a build-queue message is retained."
  type        = number
  default     = 86400
  nullable    = false

  validation {
    condition     = var.job_queue_retention_in_seconds >= 60 && var.job_queue_retention_in_seconds <= 1209600
    error_message = "job_queue_retention_in_seconds must be 60-1209600 (SQS retention limits)."
  }
}

variable "instance_max_lifetime_in_minutes" {
  description = "Flotilla's leak guard: an instance older than this that is not running a job is removed."
  type        = number
  default     = 1440
  nullable    = false

  validation {
    condition     = var.instance_max_lifetime_in_minutes >= 10
    error_message = "instance_max_lifetime_in_minutes must be at least 10."
  }
}

variable "job_retry" {
  description = "Re-check a job after launching for it; if it is still queued and its instance is gone (reclaimed, failed to boot), launch again. delay_in_seconds 150-900, each further re-check waits delay_backoff times longer, up to max_attempts. lambda_memory_size and lambda_timeout are accepted for v7 compatibility and unused (scale-up does the re-check)."
  type = object({
    enable             = optional(bool, false)
    delay_in_seconds   = optional(number, 300)
    delay_backoff      = optional(number, 2)
    max_attempts       = optional(number, 1)
    lambda_memory_size = optional(number)
    lambda_timeout     = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = !var.job_retry.enable || (var.job_retry.delay_in_seconds >= 150 && var.job_retry.delay_in_seconds <= 900 && var.job_retry.max_attempts >= 1 && var.job_retry.max_attempts <= 10 && var.job_retry.delay_backoff >= 1)
    error_message = "job_retry: delay_in_seconds must be 150-900 (longer than a launch in flight, at most an SQS delay), max_attempts 1-10, delay_backoff at least 1."
  }
}

################################################################################
# Deployment: everything else (core's DEPLOYMENT_VARIABLES).
################################################################################

variable "vpc_id" {
  description = "VPC of the runners."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the runners launch in (no public IPs are assigned)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "subnet_ids must name at least one subnet."
  }
}

variable "tags" {
  description = "Tags for every resource the module creates (the module does not rely on provider default_tags)."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "github_app" {
  description = "GitHub App values; the module stores them as SSM SecureStrings (they end up in the Terraform state). Set each to null and use github_app_ssm_parameters to keep them out of state. key_base64 is the base64-encoded PEM private key."
  type = object({
    id             = optional(string)
    key_base64     = optional(string)
    webhook_secret = optional(string)
  })
  default   = {}
  nullable  = false
  sensitive = true
}

variable "github_app_ssm_parameters" {
  description = "Existing SSM parameters holding the GitHub App id, key (base64 PEM, SecureString) and webhook secret (SecureString), each {arn, name}; any one given wins over github_app."
  type = object({
    id             = optional(object({ arn = string, name = string }))
    key_base64     = optional(object({ arn = string, name = string }))
    webhook_secret = optional(object({ arn = string, name = string }))
  })
  default  = {}
  nullable = false
}

variable "ghes_url" {
  description = "GitHub Enterprise Server URL, e.g. https://github.example.com; null: github.com."
  type        = string
  default     = null

  validation {
    condition     = var.ghes_url == null || can(regex("^https://[^/]+", var.ghes_url))
    error_message = "ghes_url must be an https:// URL."
  }
}

variable "webhook_lambda_zip" {
  description = "Path of webhook.zip."
  type        = string
}

variable "runners_lambda_zip" {
  description = "Path of runners.zip (scale-up, scale-down, pool, termination watcher)."
  type        = string
}

variable "runner_binaries_syncer_lambda_zip" {
  description = "Path of runner-binaries-syncer.zip; required when enable_runner_binaries_syncer."
  type        = string
  default     = null

  validation {
    condition     = var.runner_binaries_syncer_lambda_zip != null || !var.enable_runner_binaries_syncer
    error_message = "runner_binaries_syncer_lambda_zip is required when enable_runner_binaries_syncer is true."
  }
}

variable "lambda_architecture" {
  description = "Architecture of the Lambda zips."
  type        = string
  default     = "arm64"
  nullable    = false

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "lambda_runtime" {
  description = "Lambda runtime of the bootstrap binaries (the x86_64 binaries need glibc 2.30: provided.al2023)."
  type        = string
  default     = "provided.al2023"
  nullable    = false

  validation {
    condition     = startswith(var.lambda_runtime, "provided.")
    error_message = "lambda_runtime must be an OS-only runtime such as provided.al2023."
  }
}

variable "lambda_memory_size" {
  description = "Memory (MB) of every function."
  type        = number
  default     = 256
  nullable    = false

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240
    error_message = "lambda_memory_size must be 128-10240."
  }
}

variable "webhook_lambda_timeout" {
  description = "Timeout (s) of the webhook function; GitHub waits 10 s."
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.webhook_lambda_timeout >= 1 && var.webhook_lambda_timeout <= 29
    error_message = "webhook_lambda_timeout must be 1-29 (API Gateway's limit)."
  }
}

variable "runners_scale_up_lambda_timeout" {
  description = "Timeout (s) of scale-up; the build queue's visibility timeout follows it."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.runners_scale_up_lambda_timeout >= 1 && var.runners_scale_up_lambda_timeout <= 900
    error_message = "runners_scale_up_lambda_timeout must be 1-900."
  }
}

variable "runners_scale_down_lambda_timeout" {
  description = "Timeout (s) of scale-down."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.runners_scale_down_lambda_timeout >= 1 && var.runners_scale_down_lambda_timeout <= 900
    error_message = "runners_scale_down_lambda_timeout must be 1-900."
  }
}

variable "pool_lambda_timeout" {
  description = "Timeout (s) of the pool function."
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.pool_lambda_timeout >= 1 && var.pool_lambda_timeout <= 900
    error_message = "pool_lambda_timeout must be 1-900."
  }
}

variable "lambda_subnet_ids" {
  description = "Run the functions in these subnets (they need a NAT route to GitHub); empty: outside a VPC."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "lambda_security_group_ids" {
  description = "Security groups of the functions when lambda_subnet_ids is set."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "info"
  nullable    = false

  validation {
    condition     = contains(["error", "warn", "info", "debug", "trace"], var.log_level)
    error_message = "log_level must be one of error, warn, info, debug, trace."
  }
}

variable "logging_retention_in_days" {
  description = "Retention of every log group the module creates."
  type        = number
  default     = 180
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.logging_retention_in_days)
    error_message = "logging_retention_in_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "logging_kms_key_id" {
  description = "KMS key ARN for the log groups; null: the module's key (kms_key_arn or the one it creates). The key policy must allow logs.<region>.amazonaws.com."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "KMS key for the SSM SecureStrings (GitHub App secrets, runner tokens) and the logs; null: the module creates one."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN."
  }
}

variable "role_permissions_boundary" {
  description = "ARN of the permissions boundary set on every IAM role the module creates."
  type        = string
  default     = null

  validation {
    condition     = var.role_permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::", var.role_permissions_boundary))
    error_message = "role_permissions_boundary must be an IAM policy ARN."
  }
}

variable "role_path" {
  description = "IAM path of the roles; null: /<prefix>/."
  type        = string
  default     = null
}

variable "instance_profile_path" {
  description = "IAM path of the runner instance profile; null: /<prefix>/."
  type        = string
  default     = null
}

variable "create_service_linked_role_spot" {
  description = "Create the EC2 Spot service-linked role (once per account)."
  type        = bool
  default     = false
  nullable    = false
}

variable "enable_ssm_on_runners" {
  description = "Attach AmazonSSMManagedInstanceCore to the runners (Session Manager access)."
  type        = bool
  default     = false
  nullable    = false
}

variable "runner_iam_role_managed_policy_arns" {
  description = "More managed policies for the runner instance role."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "ami_id_ssm_parameter_name" {
  description = "SSM parameter holding the runner AMI id; null with ami_filter null: the latest Amazon Linux 2023 (linux) or Windows Server 2022 (windows) for runner_architecture."
  type        = string
  default     = null
}

variable "ami_filter" {
  description = "DescribeImages filters for the runner AMI (most recent wins), e.g. { name = [\"my-runner-*\"], state = [\"available\"] }; used when ami_id_ssm_parameter_name is null."
  type        = map(list(string))
  default     = null
}

variable "ami_owners" {
  description = "Owners for ami_filter."
  type        = list(string)
  default     = ["amazon"]
  nullable    = false
}

variable "enable_userdata" {
  description = "Give the runners the module's user data; false for an AMI that starts its runner itself."
  type        = bool
  default     = true
  nullable    = false
}

variable "userdata_template" {
  description = "Path of a user-data template instead of the module's (templates/user-data-al2023.sh.tftpl for linux, user-data-windows.ps1.tftpl for windows; templates/user-data-ubuntu.sh.tftpl for Ubuntu). It is rendered with the variables listed in terraform/README.md."
  type        = string
  default     = null
}

variable "enable_user_data_debug_logging_runner" {
  description = "Trace every command of the user data into /var/log/user-data.log."
  type        = bool
  default     = false
  nullable    = false
}

variable "enable_cloudwatch_agent" {
  description = "Install the CloudWatch agent on the runners to ship user-data and runner logs to /<prefix>/runners."
  type        = bool
  default     = true
  nullable    = false
}

variable "runner_run_as" {
  description = "OS user the runner runs as (linux); ec2-user on Amazon Linux, ubuntu on Ubuntu."
  type        = string
  default     = "ec2-user"
  nullable    = false

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]*$", var.runner_run_as)) && var.runner_run_as != "root"
    error_message = "runner_run_as must be a non-root user name."
  }
}

variable "enable_managed_runner_security_group" {
  description = "Create the runners' security group (egress only)."
  type        = bool
  default     = true
  nullable    = false
}

variable "runner_additional_security_group_ids" {
  description = "More security groups for the runners."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "enable_runner_binaries_syncer" {
  description = "Mirror the actions/runner release into an S3 bucket the runners download from."
  type        = bool
  default     = true
  nullable    = false
}

variable "runner_binaries_s3_sse_configuration" {
  description = "Server-side encryption of the runner binaries bucket: { sse_algorithm = \"AES256\" } or { sse_algorithm = \"aws:kms\", kms_master_key_id = \"...\" }."
  type = object({
    sse_algorithm     = string
    kms_master_key_id = optional(string)
  })
  default = {
    sse_algorithm     = "AES256"
    kms_master_key_id = null
  }
  nullable = false

  validation {
    condition     = contains(["AES256", "aws:kms", "aws:kms:dsse"], var.runner_binaries_s3_sse_configuration.sse_algorithm)
    error_message = "runner_binaries_s3_sse_configuration.sse_algorithm must be AES256, aws:kms or aws:kms:dsse."
  }
}

variable "enable_spot_termination_watcher" {
  description = "Deploy the termination watcher (spot interruption warnings, instance state changes)."
  type        = bool
  default     = true
  nullable    = false
}

variable "job_event_archive_bucket_name" {
  description = "Existing S3 bucket the webhook archives workflow_job events into as JSONL (what flotilla replay reads); null: no archive."
  type        = string
  default     = null
}

variable "api_gateway_throttling_burst_limit" {
  description = "Burst limit of the webhook HTTP API."
  type        = number
  default     = 100
  nullable    = false
}

variable "api_gateway_throttling_rate_limit" {
  description = "Steady requests per second of the webhook HTTP API."
  type        = number
  default     = 50
  nullable    = false
}

variable "enable_alarms" {
  description = "Create CloudWatch alarms: build-queue age and depth, DLQ depth, Lambda errors."
  type        = bool
  default     = true
  nullable    = false
}

variable "alarm_sns_topic_arns" {
  description = "SNS topics the alarms notify."
  type        = list(string)
  default     = []
  nullable    = false
}
