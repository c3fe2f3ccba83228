# A prebuilt AMI (Packer or similar) that already has Docker, the runner and a boot
# script: the module gives it no user data and runs no binaries syncer. The AMI's
# boot script must do what templates/start-runner.sh.tftpl does (read then delete
# /<prefix>/runners/tokens/<instance id>, register, run; ephemeral: terminate).

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

  prefix                        = "flotilla-prebuilt"
  enable_userdata               = false
  enable_runner_binaries_syncer = false
  runner_extra_labels           = ["prebuilt"]

  ami_filter = {
    name  = ["flotilla-runner-al2023-x64-*"]
    state = ["available"]
  }
  ami_owners = ["self"]

  tags = { Example = "prebuilt" }
}
