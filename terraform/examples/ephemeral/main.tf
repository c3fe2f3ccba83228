# Ephemeral runners: one job per instance, registered with a JIT config (the
# default for ephemeral runners); the instance terminates itself after the job.
# Organization-level, with a small warm pool on weekday mornings.

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

  prefix                      = "flotilla-ephemeral"
  enable_ephemeral_runners    = true
  enable_organization_runners = true
  delay_webhook_event         = 0
  runners_maximum_count       = 20
  runner_extra_labels         = ["ephemeral"]

  pool_runner_owner = "example-org"
  pool_config = [{
    schedule_expression          = "cron(0 8 ? * MON-FRI *)"
    schedule_expression_timezone = "Europe/Amsterdam"
    size                         = 2
  }]

  enable_runner_on_demand_failover_for_errors = ["InsufficientInstanceCapacity"]

  tags = { Example = "ephemeral" }
}
