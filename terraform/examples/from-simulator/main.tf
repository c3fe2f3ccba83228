# Applies a `recommended.tfvars.json` written by `flotilla tune` as is: every key is
# a field of flotilla-core's config and a variable of the module with the same name.
# Keys the file leaves out (or sets to null) keep the module's defaults.
#
#   flotilla tune ... --out recommended.tfvars.json
#   terraform apply -var recommended_tfvars_json=recommended.tfvars.json ...

locals {
  recommended = jsondecode(file(coalesce(var.recommended_tfvars_json, "${path.module}/recommended.tfvars.json")))
}

module "flotilla" {
  source = "../../"

  aws_region = var.aws_region
  vpc_id     = var.vpc_id
  subnet_ids = var.subnet_ids

  github_app = {
    id             = var.github_app_id
    key_base64     = var.github_app_key_base64
    webhook_secret = var.github_webhook_secret
  }

  webhook_lambda_zip                = "${var.lambda_zips_dir}/webhook.zip"
  runners_lambda_zip                = "${var.lambda_zips_dir}/runners.zip"
  runner_binaries_syncer_lambda_zip = "${var.lambda_zips_dir}/runner-binaries-syncer.zip"
  lambda_architecture               = var.lambda_architecture

  prefix = try(local.recommended.prefix, "flotilla-tuned")

  # The policy, from the simulator.
  delay_webhook_event                                            = try(local.recommended.delay_webhook_event, null)
  enable_ephemeral_runners                                       = try(local.recommended.enable_ephemeral_runners, null)
  enable_organization_runners                                    = try(local.recommended.enable_organization_runners, null)
  enable_job_queued_check                                        = try(local.recommended.enable_job_queued_check, null)
  enable_jit_config                                              = try(local.recommended.enable_jit_config, null)
  minimum_running_time_in_minutes                                = try(local.recommended.minimum_running_time_in_minutes, null)
  runner_boot_time_in_minutes                                    = try(local.recommended.runner_boot_time_in_minutes, null)
  runners_maximum_count                                          = try(local.recommended.runners_maximum_count, null)
  scale_down_schedule_expression                                 = try(local.recommended.scale_down_schedule_expression, null)
  idle_config                                                    = try(local.recommended.idle_config, null)
  pool_config                                                    = try(local.recommended.pool_config, null)
  pool_runner_owner                                              = try(local.recommended.pool_runner_owner, null)
  instance_types                                                 = try(local.recommended.instance_types, null)
  instance_target_capacity_type                                  = try(local.recommended.instance_target_capacity_type, null)
  instance_allocation_strategy                                   = try(local.recommended.instance_allocation_strategy, null)
  instance_max_spot_price                                        = try(local.recommended.instance_max_spot_price, null)
  enable_runner_on_demand_failover_for_errors                    = try(local.recommended.enable_runner_on_demand_failover_for_errors, null)
  runner_os                                                      = try(local.recommended.runner_os, null)
  runner_architecture                                            = try(local.recommended.runner_architecture, null)
  runner_extra_labels                                            = try(local.recommended.runner_extra_labels, null)
  runner_disable_default_labels                                  = try(local.recommended.runner_disable_default_labels, null)
  runner_name_prefix                                             = try(local.recommended.runner_name_prefix, null)
  enable_runner_workflow_job_labels_check_all                    = try(local.recommended.enable_runner_workflow_job_labels_check_all, null)
  repository_white_list                                          = try(local.recommended.repository_white_list, null)
  runner_group_name                                              = try(local.recommended.runner_group_name, null)
  fifo_build_queue                                               = try(local.recommended.fifo_build_queue, null)
  block_device_mappings                                          = try(local.recommended.block_device_mappings, null)
  scale_up_reserved_concurrent_executions                        = try(local.recommended.scale_up_reserved_concurrent_executions, null)
  lambda_event_source_mapping_batch_size                         = try(local.recommended.lambda_event_source_mapping_batch_size, null)
  lambda_event_source_mapping_maximum_batching_window_in_seconds = try(local.recommended.lambda_event_source_mapping_maximum_batching_window_in_seconds, null)
  redrive_build_queue                                            = try(local.recommended.redrive_build_queue, null)
  job_queue_retention_in_seconds                                 = try(local.recommended.job_queue_retention_in_seconds, null)
  instance_max_lifetime_in_minutes                               = try(local.recommended.instance_max_lifetime_in_minutes, null)
  job_retry                                                      = try(local.recommended.job_retry, null)

  tags = { Example = "from-simulator" }
}
