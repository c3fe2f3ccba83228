output "webhook_url" {
  description = "Webhook URL for the GitHub App."
  value       = module.webhook.webhook_url
}

output "webhook_secret" {
  description = "The webhook secret given in github_app (null when it comes from github_app_ssm_parameters)."
  value       = var.github_app.webhook_secret
  sensitive   = true
}

output "queues" {
  description = "The build queue (url, arn, name, delay_seconds, fifo) and its dead-letter queue (null without redrive)."
  value = {
    build_queue       = module.runners.build_queue
    dead_letter_queue = module.runners.build_dlq
  }
}

output "functions" {
  description = "Every function: name => {function_name, arn, role_arn, role_name, timeout, memory_size, architectures, environment}."
  value = merge(
    { webhook = module.webhook.function },
    module.runners.functions,
    var.enable_runner_binaries_syncer ? { "runner-binaries-syncer" = module.runner_binaries[0].function } : {},
  )
}

output "roles" {
  description = "Every IAM role the module creates: name => {arn, permissions_boundary}."
  value = merge(
    module.webhook.roles,
    module.runners.roles,
    var.enable_runner_binaries_syncer ? module.runner_binaries[0].roles : {},
  )
}

output "policy_statements" {
  description = "The aws_iam_policy_document statements of every role: function name (or \"runner\") => statements."
  value = merge(
    module.webhook.policy_statements,
    module.runners.policy_statements,
    var.enable_runner_binaries_syncer ? module.runner_binaries[0].policy_statements : {},
  )
}

output "config" {
  description = "The pool's flotilla-core config as deployed: SSM parameter name and the JSON document."
  value = {
    parameter_name = aws_ssm_parameter.config.name
    json           = local.core_config_json
  }
}

output "ssm_parameters" {
  description = "SSM parameter names: config, GitHub App, and the runner paths (tokens, launch claims, interrupted jobs)."
  value = {
    config                = aws_ssm_parameter.config.name
    github_app_id         = local.github_app_parameters.id.name
    github_app_key        = local.github_app_parameters.key_base64.name
    github_webhook_secret = local.github_app_parameters.webhook_secret.name
    runner_tokens         = "/${var.prefix}/runners/tokens"
    launch_claims         = "/${var.prefix}/runners/launch-claims"
    interrupted_jobs      = "/${var.prefix}/runners/interrupted-jobs"
  }
}

output "kms_key_arn" {
  description = "KMS key of the SecureStrings and logs."
  value       = local.kms_key_arn
}

output "launch_template" {
  description = "The runners' launch template: id, name, latest version, AMI."
  value       = module.runners.launch_template
}

output "runner_role" {
  description = "The runner instance role and instance profile."
  value       = module.runners.runner_role
}

output "runner_security_group_ids" {
  description = "Security groups of the runners."
  value       = module.runners.security_group_ids
}

output "runner_log_group_name" {
  description = "Log group of the runners' user-data and runner logs."
  value       = module.runners.runner_log_group_name
}

output "runner_binaries" {
  description = "The S3 mirror of the runner release (null without the syncer)."
  value       = var.enable_runner_binaries_syncer ? module.runner_binaries[0].bucket : null
}

output "runner_user_data" {
  description = "The rendered runner user data."
  value       = module.runners.user_data
}

output "event_source_mapping_uuid" {
  description = "UUID of the build queue -> scale-up event source mapping."
  value       = module.runners.event_source_mapping_uuid
}

output "schedules" {
  description = "The scale-down schedule and the pool schedules."
  value       = module.runners.schedules
}
