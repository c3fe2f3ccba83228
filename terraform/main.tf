# Flotilla: one pool of self-hosted GitHub Actions runners on EC2 (spot by
# default), scaled by the Lambdas of lambdas/ on the policy of core/.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  ssm_arn    = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter"

  role_path             = coalesce(var.role_path, "/${var.prefix}/")
  instance_profile_path = coalesce(var.instance_profile_path, "/${var.prefix}/")
  kms_key_arn           = var.kms_key_arn != null ? var.kms_key_arn : aws_kms_key.this[0].arn
  logging_kms_key_id    = var.logging_kms_key_id != null ? var.logging_kms_key_id : local.kms_key_arn
  github_api_url        = var.ghes_url == null ? "https://api.github.com" : "${trimsuffix(var.ghes_url, "/")}/api/v3"
  metrics_namespace     = "Flotilla"

  # The pool's policy: every field of flotilla-core's Config, named as the variables.
  core_config = {
    prefix                                                         = var.prefix
    aws_region                                                     = var.aws_region
    delay_webhook_event                                            = var.delay_webhook_event
    enable_ephemeral_runners                                       = var.enable_ephemeral_runners
    enable_organization_runners                                    = var.enable_organization_runners
    enable_job_queued_check                                        = var.enable_job_queued_check
    enable_jit_config                                              = var.enable_jit_config
    minimum_running_time_in_minutes                                = var.minimum_running_time_in_minutes
    runner_boot_time_in_minutes                                    = var.runner_boot_time_in_minutes
    runners_maximum_count                                          = var.runners_maximum_count
    scale_down_schedule_expression                                 = var.scale_down_schedule_expression
    idle_config                                                    = var.idle_config
    pool_config                                                    = var.pool_config
    pool_runner_owner                                              = var.pool_runner_owner
    instance_types                                                 = var.instance_types
    instance_target_capacity_type                                  = var.instance_target_capacity_type
    instance_allocation_strategy                                   = var.instance_allocation_strategy
    instance_max_spot_price                                        = var.instance_max_spot_price
    enable_runner_on_demand_failover_for_errors                    = var.enable_runner_on_demand_failover_for_errors
    runner_os                                                      = var.runner_os
    runner_architecture                                            = var.runner_architecture
    runner_extra_labels                                            = var.runner_extra_labels
    runner_disable_default_labels                                  = var.runner_disable_default_labels
    runner_name_prefix                                             = var.runner_name_prefix
    enable_runner_workflow_job_labels_check_all                    = var.enable_runner_workflow_job_labels_check_all
    repository_white_list                                          = var.repository_white_list
    runner_group_name                                              = var.runner_group_name
    fifo_build_queue                                               = var.fifo_build_queue
    block_device_mappings                                          = var.block_device_mappings
    scale_up_reserved_concurrent_executions                        = var.scale_up_reserved_concurrent_executions
    lambda_event_source_mapping_batch_size                         = var.lambda_event_source_mapping_batch_size
    lambda_event_source_mapping_maximum_batching_window_in_seconds = var.lambda_event_source_mapping_maximum_batching_window_in_seconds
    redrive_build_queue                                            = var.redrive_build_queue
    job_queue_retention_in_seconds                                 = var.job_queue_retention_in_seconds
    instance_max_lifetime_in_minutes                               = var.instance_max_lifetime_in_minutes
    job_retry                                                      = var.job_retry
  }
  core_config_json = jsonencode(local.core_config)

  # Effective values of the core's null defaults that the infrastructure needs.
  enable_jit_config = coalesce(var.enable_jit_config, var.enable_ephemeral_runners)
  # What the boot script registers with a registration token (core: Config::runner_labels).
  runner_labels = distinct(concat(
    var.runner_disable_default_labels ? [] : ["self-hosted", var.runner_os, var.runner_architecture],
    [for l in var.runner_extra_labels : lower(trimspace(l))],
  ))
  github_url = var.ghes_url == null ? "https://github.com" : trimsuffix(var.ghes_url, "/")

  # GitHub App parameters: existing ones (github_app_ssm_parameters) or the module's.
  github_app_parameters = {
    id = var.github_app_ssm_parameters.id != null ? var.github_app_ssm_parameters.id : {
      name = aws_ssm_parameter.github_app_id[0].name
      arn  = aws_ssm_parameter.github_app_id[0].arn
    }
    key_base64 = var.github_app_ssm_parameters.key_base64 != null ? var.github_app_ssm_parameters.key_base64 : {
      name = aws_ssm_parameter.github_app_key_base64[0].name
      arn  = aws_ssm_parameter.github_app_key_base64[0].arn
    }
    webhook_secret = var.github_app_ssm_parameters.webhook_secret != null ? var.github_app_ssm_parameters.webhook_secret : {
      name = aws_ssm_parameter.github_app_webhook_secret[0].name
      arn  = aws_ssm_parameter.github_app_webhook_secret[0].arn
    }
  }
}

check "provider_region_matches_aws_region" {
  assert {
    condition     = data.aws_region.current.name == var.aws_region
    error_message = "aws_region (${var.aws_region}) differs from the aws provider's region (${data.aws_region.current.name}); the config the Lambdas read would name the wrong region."
  }
}

################################################################################
# KMS key of the SecureStrings (GitHub App secrets, runner tokens) and the logs.
################################################################################

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:Key policy: "*" is this key; the account-root statement is AWS's default that delegates access to IAM policies.
  #checkov:skip=CKV_AWS_111:Key policy: "*" is this key; the account-root statement is AWS's default that delegates access to IAM policies.
  #checkov:skip=CKV_AWS_356:Key policy: "*" is this key; the account-root statement is AWS's default that delegates access to IAM policies.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncrypts"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }
}

resource "aws_kms_key" "this" {
  count                   = var.kms_key_arn == null ? 1 : 0
  description             = "Flotilla ${var.prefix}: SSM SecureStrings and logs"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = data.aws_iam_policy_document.kms.json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count         = var.kms_key_arn == null ? 1 : 0
  name          = "alias/${var.prefix}"
  target_key_id = aws_kms_key.this[0].key_id
}

################################################################################
# SSM: the pool's config and the GitHub App
################################################################################

resource "aws_ssm_parameter" "config" {
  #checkov:skip=CKV2_AWS_34:The policy config holds no secret; contracts/lambda-env.json fixes it as a String so the simulator and tests read it as is.
  name        = "/${var.prefix}/config"
  description = "Flotilla ${var.prefix}: the pool's flotilla-core config (JSON, keys = Terraform variable names)."
  type        = "String"
  tier        = length(local.core_config_json) > 4096 ? "Advanced" : "Standard"
  value       = local.core_config_json
  tags        = var.tags
}

resource "aws_ssm_parameter" "github_app_id" {
  count       = var.github_app_ssm_parameters.id == null ? 1 : 0
  name        = "/${var.prefix}/github/app-id"
  description = "Flotilla ${var.prefix}: GitHub App id."
  type        = "SecureString"
  key_id      = local.kms_key_arn
  value       = var.github_app.id
  tags        = var.tags

  lifecycle {
    precondition {
      condition     = var.github_app.id != null
      error_message = "Set github_app.id or github_app_ssm_parameters.id."
    }
  }
}

resource "aws_ssm_parameter" "github_app_key_base64" {
  count       = var.github_app_ssm_parameters.key_base64 == null ? 1 : 0
  name        = "/${var.prefix}/github/app-key-base64"
  description = "Flotilla ${var.prefix}: GitHub App private key, PEM, base64-encoded."
  type        = "SecureString"
  key_id      = local.kms_key_arn
  value       = var.github_app.key_base64
  tags        = var.tags

  lifecycle {
    precondition {
      condition     = var.github_app.key_base64 != null
      error_message = "Set github_app.key_base64 or github_app_ssm_parameters.key_base64."
    }
  }
}

resource "aws_ssm_parameter" "github_app_webhook_secret" {
  count       = var.github_app_ssm_parameters.webhook_secret == null ? 1 : 0
  name        = "/${var.prefix}/github/webhook-secret"
  description = "Flotilla ${var.prefix}: GitHub App webhook secret."
  type        = "SecureString"
  key_id      = local.kms_key_arn
  value       = var.github_app.webhook_secret
  tags        = var.tags

  lifecycle {
    precondition {
      condition     = var.github_app.webhook_secret != null
      error_message = "Set github_app.webhook_secret or github_app_ssm_parameters.webhook_secret."
    }
  }
}

resource "aws_iam_service_linked_role" "spot" {
  count            = var.create_service_linked_role_spot ? 1 : 0
  aws_service_name = "spot.amazonaws.com"
  tags             = var.tags
}

################################################################################
# Modules
################################################################################

module "runner_binaries" {
  source = "./modules/runner-binaries-syncer"
  count  = var.enable_runner_binaries_syncer ? 1 : 0

  prefix                    = var.prefix
  tags                      = var.tags
  runner_os                 = var.runner_os
  runner_architecture       = var.runner_architecture
  github_api_url            = local.github_api_url
  s3_sse_configuration      = var.runner_binaries_s3_sse_configuration
  kms_key_arn               = local.kms_key_arn
  logging_kms_key_id        = local.logging_kms_key_id
  logging_retention_in_days = var.logging_retention_in_days
  log_level                 = var.log_level
  role_path                 = local.role_path
  role_permissions_boundary = var.role_permissions_boundary
  lambda_zip                = var.runner_binaries_syncer_lambda_zip
  lambda_runtime            = var.lambda_runtime
  lambda_architecture       = var.lambda_architecture
  lambda_memory_size        = var.lambda_memory_size
  lambda_subnet_ids         = var.lambda_subnet_ids
  lambda_security_group_ids = var.lambda_security_group_ids
  enable_alarms             = var.enable_alarms
  alarm_sns_topic_arns      = var.alarm_sns_topic_arns
}

module "runners" {
  source = "./modules/runners"

  prefix                    = var.prefix
  tags                      = var.tags
  vpc_id                    = var.vpc_id
  subnet_ids                = var.subnet_ids
  config_parameter          = { name = aws_ssm_parameter.config.name, arn = aws_ssm_parameter.config.arn }
  github_app_parameters     = local.github_app_parameters
  github_api_url            = local.github_api_url
  kms_key_arn               = local.kms_key_arn
  logging_kms_key_id        = local.logging_kms_key_id
  logging_retention_in_days = var.logging_retention_in_days
  log_level                 = var.log_level
  metrics_namespace         = local.metrics_namespace
  role_path                 = local.role_path
  instance_profile_path     = local.instance_profile_path
  role_permissions_boundary = var.role_permissions_boundary

  lambda_zip                = var.runners_lambda_zip
  lambda_runtime            = var.lambda_runtime
  lambda_architecture       = var.lambda_architecture
  lambda_memory_size        = var.lambda_memory_size
  lambda_subnet_ids         = var.lambda_subnet_ids
  lambda_security_group_ids = var.lambda_security_group_ids
  scale_up_timeout          = var.runners_scale_up_lambda_timeout
  scale_down_timeout        = var.runners_scale_down_lambda_timeout
  pool_timeout              = var.pool_lambda_timeout

  delay_webhook_event                                            = var.delay_webhook_event
  fifo_build_queue                                               = var.fifo_build_queue
  job_queue_retention_in_seconds                                 = var.job_queue_retention_in_seconds
  redrive_build_queue                                            = var.redrive_build_queue
  scale_up_reserved_concurrent_executions                        = var.scale_up_reserved_concurrent_executions
  lambda_event_source_mapping_batch_size                         = var.lambda_event_source_mapping_batch_size
  lambda_event_source_mapping_maximum_batching_window_in_seconds = var.lambda_event_source_mapping_maximum_batching_window_in_seconds
  scale_down_schedule_expression                                 = var.scale_down_schedule_expression
  pool_config                                                    = var.pool_config
  enable_spot_termination_watcher                                = var.enable_spot_termination_watcher

  runner_os                             = var.runner_os
  runner_architecture                   = var.runner_architecture
  enable_ephemeral_runners              = var.enable_ephemeral_runners
  enable_jit_config                     = local.enable_jit_config
  runner_name_prefix                    = var.runner_name_prefix
  runner_labels                         = local.runner_labels
  runner_group                          = var.enable_organization_runners ? var.runner_group_name : ""
  github_url                            = local.github_url
  block_device_mappings                 = var.block_device_mappings
  ami_id_ssm_parameter_name             = var.ami_id_ssm_parameter_name
  ami_filter                            = var.ami_filter
  ami_owners                            = var.ami_owners
  enable_userdata                       = var.enable_userdata
  userdata_template                     = var.userdata_template
  enable_user_data_debug_logging_runner = var.enable_user_data_debug_logging_runner
  enable_cloudwatch_agent               = var.enable_cloudwatch_agent
  runner_run_as                         = var.runner_run_as
  enable_ssm_on_runners                 = var.enable_ssm_on_runners
  runner_iam_role_managed_policy_arns   = var.runner_iam_role_managed_policy_arns
  enable_managed_runner_security_group  = var.enable_managed_runner_security_group
  runner_additional_security_group_ids  = var.runner_additional_security_group_ids
  runner_binaries                       = var.enable_runner_binaries_syncer ? module.runner_binaries[0].bucket : null

  enable_alarms        = var.enable_alarms
  alarm_sns_topic_arns = var.alarm_sns_topic_arns
}

module "webhook" {
  source = "./modules/webhook"

  prefix                        = var.prefix
  tags                          = var.tags
  config_parameter              = { name = aws_ssm_parameter.config.name, arn = aws_ssm_parameter.config.arn }
  github_app_parameters         = local.github_app_parameters
  github_api_url                = local.github_api_url
  build_queue                   = { url = module.runners.build_queue.url, arn = module.runners.build_queue.arn }
  job_event_archive_bucket_name = var.job_event_archive_bucket_name
  kms_key_arn                   = local.kms_key_arn
  logging_kms_key_id            = local.logging_kms_key_id
  logging_retention_in_days     = var.logging_retention_in_days
  log_level                     = var.log_level
  metrics_namespace             = local.metrics_namespace
  role_path                     = local.role_path
  role_permissions_boundary     = var.role_permissions_boundary

  lambda_zip                = var.webhook_lambda_zip
  lambda_runtime            = var.lambda_runtime
  lambda_architecture       = var.lambda_architecture
  lambda_memory_size        = var.lambda_memory_size
  lambda_timeout            = var.webhook_lambda_timeout
  lambda_subnet_ids         = var.lambda_subnet_ids
  lambda_security_group_ids = var.lambda_security_group_ids

  api_gateway_throttling_burst_limit = var.api_gateway_throttling_burst_limit
  api_gateway_throttling_rate_limit  = var.api_gateway_throttling_rate_limit

  enable_alarms        = var.enable_alarms
  alarm_sns_topic_arns = var.alarm_sns_topic_arns
}
