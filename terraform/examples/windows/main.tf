# Windows Server 2022 runners (PowerShell boot template). Windows boots slowly:
# runner_boot_time_in_minutes is raised and the minimum running time defaults to 15.

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

  prefix                      = "flotilla-windows"
  runner_os                   = "windows"
  instance_types              = ["m5.large", "m5a.large"]
  runner_extra_labels         = ["windows-2022"]
  runner_boot_time_in_minutes = 20

  block_device_mappings = [{
    device_name = "/dev/sda1"
    volume_size = 60
  }]

  tags = { Example = "windows" }
}
