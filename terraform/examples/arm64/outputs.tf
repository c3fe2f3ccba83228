output "webhook_url" {
  description = "Webhook URL for the GitHub App."
  value       = module.flotilla.webhook_url
}

output "webhook_secret" {
  description = "The webhook secret."
  value       = module.flotilla.webhook_secret
  sensitive   = true
}

output "queues" {
  description = "Build queue and dead-letter queue."
  value       = module.flotilla.queues
}

output "functions" {
  description = "Every function with its settings and environment."
  value       = module.flotilla.functions
}

output "config" {
  description = "The pool's core config as deployed (SSM parameter and JSON)."
  value       = module.flotilla.config
}

output "ssm_parameters" {
  description = "SSM parameter names and paths."
  value       = module.flotilla.ssm_parameters
}

output "launch_template" {
  description = "The runners' launch template."
  value       = module.flotilla.launch_template
}

output "runner_role" {
  description = "The runner instance role and profile."
  value       = module.flotilla.runner_role
}

output "runner_security_group_ids" {
  description = "Security groups of the runners."
  value       = module.flotilla.runner_security_group_ids
}

output "runner_log_group_name" {
  description = "Log group of the runners' boot and runner logs."
  value       = module.flotilla.runner_log_group_name
}

output "runner_binaries" {
  description = "The S3 mirror of the runner release."
  value       = module.flotilla.runner_binaries
}

output "kms_key_arn" {
  description = "KMS key of the SecureStrings and logs."
  value       = module.flotilla.kms_key_arn
}

output "event_source_mapping_uuid" {
  description = "Build queue -> scale-up event source mapping."
  value       = module.flotilla.event_source_mapping_uuid
}

output "schedules" {
  description = "Scale-down and pool schedules."
  value       = module.flotilla.schedules
}

output "roles" {
  description = "Every IAM role with its permissions boundary."
  value       = module.flotilla.roles
}
