# What the fleet launches: the launch template (IMDSv2 required, encrypted EBS,
# no public IP), its AMI, user data, security group and instance profile.

locals {
  default_ami_ssm_parameter = {
    linux-x64   = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
    linux-arm64 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
    windows-x64 = "/aws/service/ami-windows-latest/Windows_Server-2022-English-Full-Base"
  }
  ami_ssm_parameter_name = var.ami_id_ssm_parameter_name != null ? var.ami_id_ssm_parameter_name : (var.ami_filter == null ? local.default_ami_ssm_parameter["${var.runner_os}-${var.runner_architecture}"] : null)
  ami_id                 = local.ami_ssm_parameter_name != null ? nonsensitive(data.aws_ssm_parameter.ami[0].insecure_value) : data.aws_ami.runner[0].id

  security_group_ids = concat(aws_security_group.runner[*].id, var.runner_additional_security_group_ids)
}

data "aws_ssm_parameter" "ami" {
  count = local.ami_ssm_parameter_name != null ? 1 : 0
  name  = local.ami_ssm_parameter_name
}

data "aws_ami" "runner" {
  count       = local.ami_ssm_parameter_name == null ? 1 : 0
  most_recent = true
  owners      = var.ami_owners

  dynamic "filter" {
    for_each = var.ami_filter
    content {
      name   = filter.key
      values = filter.value
    }
  }
}

module "user_data" {
  source = "../user-data"

  prefix                   = var.prefix
  runner_os                = var.runner_os
  runner_architecture      = var.runner_architecture
  github_url               = var.github_url
  runner_labels            = var.runner_labels
  runner_group             = var.runner_group
  userdata_template        = var.userdata_template
  enable_ephemeral_runners = var.enable_ephemeral_runners
  enable_jit_config        = var.enable_jit_config
  runner_run_as            = var.runner_run_as
  runner_name_prefix       = var.runner_name_prefix
  runner_binaries_s3_url   = var.runner_binaries == null ? null : "s3://${var.runner_binaries.bucket_name}/${var.runner_binaries.key}"
  runner_log_group_name    = local.runner_log_group_name
  enable_cloudwatch_agent  = var.enable_cloudwatch_agent
  enable_debug_logging     = var.enable_user_data_debug_logging_runner
}

resource "aws_launch_template" "runner" {
  name                   = "${var.prefix}-runner"
  description            = "Runners of ${var.prefix}; the fleet overrides subnet and instance type."
  image_id               = local.ami_id
  update_default_version = true
  user_data              = var.enable_userdata ? base64encode(module.user_data.user_data) : null
  ebs_optimized          = true

  iam_instance_profile {
    name = aws_iam_instance_profile.runner.name
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled" # the boot script reads flotilla:owner
  }

  monitoring {
    enabled = true
  }

  network_interfaces {
    associate_public_ip_address = false
    delete_on_termination       = true
    security_groups             = local.security_group_ids
  }

  dynamic "block_device_mappings" {
    for_each = var.block_device_mappings
    content {
      device_name = block_device_mappings.value.device_name
      ebs {
        delete_on_termination = block_device_mappings.value.delete_on_termination
        encrypted             = true
        iops                  = block_device_mappings.value.iops
        kms_key_id            = block_device_mappings.value.kms_key_id
        snapshot_id           = block_device_mappings.value.snapshot_id
        throughput            = block_device_mappings.value.throughput
        volume_size           = block_device_mappings.value.volume_size
        volume_type           = block_device_mappings.value.volume_type
      }
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.prefix}-runner", "flotilla:prefix" = var.prefix })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(var.tags, { Name = "${var.prefix}-runner", "flotilla:prefix" = var.prefix })
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(module.user_data.user_data) <= 12288
      error_message = "The rendered user data is over 12 KiB; EC2 takes 16 KiB base64-encoded."
    }
  }
}

resource "aws_security_group" "runner" {
  #checkov:skip=CKV_AWS_382:Runners fetch actions, containers and packages from arbitrary hosts; the group has no ingress and the instances have no public IP.
  count       = var.enable_managed_runner_security_group ? 1 : 0
  name        = "${var.prefix}-runner"
  description = "Runners of ${var.prefix}: no ingress, egress to GitHub, AWS APIs and package mirrors."
  vpc_id      = var.vpc_id

  egress {
    description = "All outbound traffic (jobs reach arbitrary hosts)"
    protocol    = "-1"
    from_port   = 0
    to_port     = 0
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = merge(var.tags, { Name = "${var.prefix}-runner" })
}

resource "aws_cloudwatch_log_group" "runner" {
  #checkov:skip=CKV_AWS_338:Retention is the operator's choice (logging_retention_in_days, default 180 days as in v7); a year of these logs is rarely wanted.
  name              = local.runner_log_group_name
  retention_in_days = var.logging_retention_in_days
  kms_key_id        = var.logging_kms_key_id
  tags              = var.tags
}

################################################################################
# Instance role: an instance reads and deletes only its own token and
# terminates only itself.
################################################################################

data "aws_iam_policy_document" "runner_assume_role" {
  statement {
    sid     = "Ec2AssumeRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "runner" {
  name                 = "${var.prefix}-runner"
  description          = "${var.prefix}: runner instances"
  path                 = var.role_path
  assume_role_policy   = data.aws_iam_policy_document.runner_assume_role.json
  permissions_boundary = var.role_permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_instance_profile" "runner" {
  name = "${var.prefix}-runner"
  path = var.instance_profile_path
  role = aws_iam_role.runner.name
  tags = var.tags
}

data "aws_iam_policy_document" "runner" {
  # The token parameter /<prefix>/runners/tokens/<instance id> is tagged by scale-up/pool
  # with flotilla:instance-arn = the instance's ARN. ${ec2:SourceInstanceARN} is the ARN of
  # the instance whose role credentials sign the request, so an instance reaches only
  # its own token.
  statement {
    sid       = "ReadAndDeleteOwnToken"
    actions   = ["ssm:GetParameter", "ssm:DeleteParameter"]
    resources = ["${local.ssm_arn}/${var.prefix}/runners/tokens/*"]
    condition {
      test     = "StringEquals"
      variable = "ssm:resourceTag/flotilla:instance-arn"
      values   = ["$${ec2:SourceInstanceARN}"]
    }
  }

  statement {
    sid       = "DecryptOwnToken"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ssm.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:PARAMETER_ARN"
      values   = ["${local.ssm_arn}/${var.prefix}/runners/tokens/*"]
    }
  }

  dynamic "statement" {
    # Ephemeral runners end their own instance after the job: the resource is the
    # calling instance itself.
    for_each = var.enable_ephemeral_runners ? [1] : []
    content {
      sid       = "TerminateItself"
      actions   = ["ec2:TerminateInstances"]
      resources = ["$${ec2:SourceInstanceARN}"]
      condition {
        test     = "StringEquals"
        variable = "ec2:ResourceTag/flotilla:prefix"
        values   = [var.prefix]
      }
    }
  }

  dynamic "statement" {
    for_each = var.enable_cloudwatch_agent ? [1] : []
    content {
      sid       = "ShipRunnerLogs"
      actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
      resources = [aws_cloudwatch_log_group.runner.arn, "${aws_cloudwatch_log_group.runner.arn}:*"]
    }
  }

  dynamic "statement" {
    for_each = var.runner_binaries == null ? [] : [1]
    content {
      sid       = "DownloadRunnerRelease"
      actions   = ["s3:GetObject"]
      resources = ["${var.runner_binaries.bucket_arn}/${var.runner_binaries.key}"]
    }
  }
}

resource "aws_iam_role_policy" "runner" {
  name   = "runner-least-privilege"
  role   = aws_iam_role.runner.id
  policy = data.aws_iam_policy_document.runner.json
}

resource "aws_iam_role_policy_attachment" "runner_ssm" {
  count      = var.enable_ssm_on_runners ? 1 : 0
  role       = aws_iam_role.runner.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy_attachment" "runner_managed" {
  count      = length(var.runner_iam_role_managed_policy_arns)
  role       = aws_iam_role.runner.name
  policy_arn = var.runner_iam_role_managed_policy_arns[count.index]
}
