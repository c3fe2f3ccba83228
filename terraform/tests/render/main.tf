# Renders the runner boot templates (modules/user-data) in the combinations that
# matter; tests/run.sh applies this root (no provider, no resources), runs
# shellcheck on the bash outputs and check_powershell.py on the PowerShell ones.

terraform {
  required_version = ">= 1.9"
}

module "al2023_reusable" {
  source                = "../../modules/user-data"
  prefix                = "render-test"
  runner_log_group_name = "/render-test/runners"
}

output "al2023_reusable" {
  value = module.al2023_reusable.user_data
}

module "al2023_ephemeral_jit_s3_debug" {
  source                   = "../../modules/user-data"
  prefix                   = "render-test"
  runner_log_group_name    = "/render-test/runners"
  enable_ephemeral_runners = true
  enable_jit_config        = true
  runner_binaries_s3_url   = "s3://bucket/actions-runner-linux-x64.tar.gz"
  enable_debug_logging     = true
}

output "al2023_ephemeral_jit_s3_debug" {
  value = module.al2023_ephemeral_jit_s3_debug.user_data
}

module "al2023_ephemeral_configsh_nocwagent" {
  source                   = "../../modules/user-data"
  prefix                   = "render-test"
  runner_log_group_name    = "/render-test/runners"
  enable_ephemeral_runners = true
  enable_jit_config        = false
  enable_cloudwatch_agent  = false
  runner_name_prefix       = "ci-"
}

output "al2023_ephemeral_configsh_nocwagent" {
  value = module.al2023_ephemeral_configsh_nocwagent.user_data
}

module "ubuntu_reusable_arm64" {
  source                = "../../modules/user-data"
  prefix                = "render-test"
  runner_log_group_name = "/render-test/runners"
  userdata_template     = "${path.module}/../../templates/user-data-ubuntu.sh.tftpl"
  runner_run_as         = "ubuntu"
  runner_architecture   = "arm64"
  runner_labels         = ["self-hosted", "linux", "arm64", "ubuntu"]
  runner_group          = "CI Runners"
  github_url            = "https://github.example.com/"
}

output "ubuntu_reusable_arm64" {
  value = module.ubuntu_reusable_arm64.user_data
}

module "ubuntu_ephemeral_jit_s3" {
  source                   = "../../modules/user-data"
  prefix                   = "render-test"
  runner_log_group_name    = "/render-test/runners"
  userdata_template        = "${path.module}/../../templates/user-data-ubuntu.sh.tftpl"
  runner_run_as            = "ubuntu"
  enable_ephemeral_runners = true
  enable_jit_config        = true
  runner_binaries_s3_url   = "s3://bucket/actions-runner-linux-x64.tar.gz"
}

output "ubuntu_ephemeral_jit_s3" {
  value = module.ubuntu_ephemeral_jit_s3.user_data
}

module "windows_reusable" {
  source                = "../../modules/user-data"
  prefix                = "render-test"
  runner_log_group_name = "/render-test/runners"
  runner_os             = "windows"
}

output "windows_reusable" {
  value = module.windows_reusable.user_data
}

module "windows_ephemeral_jit_s3_debug" {
  source                   = "../../modules/user-data"
  prefix                   = "render-test"
  runner_log_group_name    = "/render-test/runners"
  runner_os                = "windows"
  enable_ephemeral_runners = true
  enable_jit_config        = true
  runner_binaries_s3_url   = "s3://bucket/actions-runner-win-x64.zip"
  enable_debug_logging     = true
}

output "windows_ephemeral_jit_s3_debug" {
  value = module.windows_ephemeral_jit_s3_debug.user_data
}

module "windows_ephemeral_configsh" {
  source                   = "../../modules/user-data"
  prefix                   = "render-test"
  runner_log_group_name    = "/render-test/runners"
  runner_os                = "windows"
  enable_ephemeral_runners = true
  enable_jit_config        = false
}

output "windows_ephemeral_configsh" {
  value = module.windows_ephemeral_configsh.user_data
}
