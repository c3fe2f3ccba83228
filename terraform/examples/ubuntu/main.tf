# Ubuntu 24.04 runners: the module's Ubuntu boot template, Canonical's AMI and the
# ubuntu user.

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

  prefix              = "flotilla-ubuntu"
  runner_extra_labels = ["ubuntu"]
  runner_run_as       = "ubuntu"

  # The module ships this template next to the Amazon Linux and Windows ones.
  userdata_template = "${path.module}/../../templates/user-data-ubuntu.sh.tftpl"

  ami_filter = {
    name  = ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"]
    state = ["available"]
  }
  ami_owners = ["099720109477"] # Canonical

  block_device_mappings = [{
    device_name = "/dev/sda1"
    volume_size = 40
  }]

  tags = { Example = "ubuntu" }
}
