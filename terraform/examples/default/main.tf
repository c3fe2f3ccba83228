# The default pool: reusable Amazon Linux 2023 x64 runners on spot, registered
# per repository, with the runner-binaries mirror, the termination watcher and a
# dead-letter queue. The digital twin (issue 8) reads its settings from this
# example applied against moto (terraform/tests/moto.sh --keep).

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

  prefix              = "flotilla-default"
  runner_extra_labels = ["default"]
  redrive_build_queue = { enabled = true, maxReceiveCount = 3 }

  tags = { Example = "default" }
}
