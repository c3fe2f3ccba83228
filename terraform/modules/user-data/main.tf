# Renders a runner's user data from templates/ (no resources, no provider).
# The runners module and the render test (tests/render.sh) both use it.

locals {
  templates_dir    = "${path.module}/../../templates"
  default_template = var.runner_os == "windows" ? "${local.templates_dir}/user-data-windows.ps1.tftpl" : "${local.templates_dir}/user-data-al2023.sh.tftpl"
  template         = coalesce(var.userdata_template, local.default_template)

  vars = {
    prefix                   = var.prefix
    token_path               = "/${var.prefix}/runners/tokens"
    enable_ephemeral_runners = var.enable_ephemeral_runners ? "true" : "false"
    enable_jit_config        = var.enable_jit_config ? "true" : "false"
    runner_run_as            = var.runner_run_as
    runner_name_prefix       = var.runner_name_prefix
    runner_architecture      = var.runner_architecture
    github_url               = trimsuffix(var.github_url, "/")
    runner_labels            = join(",", var.runner_labels)
    runner_group             = var.runner_group
    runner_binaries_s3_url   = var.runner_binaries_s3_url == null ? "" : var.runner_binaries_s3_url
    runner_log_group_name    = var.runner_log_group_name
    enable_cloudwatch_agent  = var.enable_cloudwatch_agent
    enable_debug_logging     = var.enable_debug_logging
  }

  start_runner = var.runner_os == "windows" ? "" : templatefile("${local.templates_dir}/start-runner.sh.tftpl", local.vars)
  rendered     = templatefile(local.template, merge(local.vars, { start_runner = local.start_runner }))
}
