# Graviton runners: arm64 instances, the arm64 runner release and arm64 Lambdas.

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

  prefix              = "flotilla-arm64"
  runner_architecture = "arm64"
  instance_types      = ["m7g.large", "c7g.large", "m6g.large"]
  runner_extra_labels = ["graviton"]

  instance_allocation_strategy = "price-capacity-optimized"

  tags = { Example = "arm64" }
}
