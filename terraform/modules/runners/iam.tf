# IAM of the four functions: least privilege per function, built from
# aws_iam_policy_document statements. SSM access mirrors each function's
# ssm_read / ssm_write lists in contracts/lambda-env.json (tests/contract.tftest.hcl
# checks it); every role carries var.role_permissions_boundary.

locals {
  ssm_resources = {
    config                = [var.config_parameter.arn]
    github_app_id         = [var.github_app_parameters.id.arn]
    github_app_key        = [var.github_app_parameters.key_base64.arn]
    github_webhook_secret = [var.github_app_parameters.webhook_secret.arn]
    runner_tokens         = ["${local.ssm_arn}/${var.prefix}/runners/tokens", "${local.ssm_arn}/${var.prefix}/runners/tokens/*"]
    launch_claims         = ["${local.ssm_arn}/${var.prefix}/runners/launch-claims", "${local.ssm_arn}/${var.prefix}/runners/launch-claims/*"]
    interrupted_jobs      = ["${local.ssm_arn}/${var.prefix}/runners/interrupted-jobs", "${local.ssm_arn}/${var.prefix}/runners/interrupted-jobs/*"]
  }

  # What each function may do. ssm_read / ssm_write: the contract's lists.
  access = {
    "scale-up" = {
      ssm_read      = ["config", "github_app_id", "github_app_key", "launch_claims"]
      ssm_write     = ["runner_tokens", "launch_claims"]
      launch        = true
      terminate     = true
      tag_instances = true
      build_queue   = true
    }
    "scale-down" = {
      ssm_read      = ["config", "github_app_id", "github_app_key", "runner_tokens", "launch_claims"]
      ssm_write     = ["runner_tokens", "launch_claims"]
      launch        = false
      terminate     = true
      tag_instances = true
      build_queue   = false
    }
    "pool" = {
      ssm_read      = ["config", "github_app_id", "github_app_key"]
      ssm_write     = ["runner_tokens"]
      launch        = true
      terminate     = true
      tag_instances = false
      build_queue   = false
    }
    "termination-watcher" = {
      ssm_read      = ["config", "github_app_id", "github_app_key", "runner_tokens"]
      ssm_write     = ["runner_tokens", "interrupted_jobs"]
      launch        = false
      terminate     = false
      tag_instances = true
      build_queue   = false
    }
  }

  role_names = { for name, _ in local.functions : name => "${var.prefix}-${name}" }
}

data "aws_iam_policy_document" "lambda_assume_role" {
  statement {
    sid     = "LambdaAssumeRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  for_each             = local.functions
  name                 = local.role_names[each.key]
  description          = "${var.prefix}: ${each.key} function"
  path                 = var.role_path
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume_role.json
  permissions_boundary = var.role_permissions_boundary
  tags                 = var.tags
}

data "aws_iam_policy_document" "lambda" {
  for_each = local.functions

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda[each.key].arn}:*"]
  }

  statement {
    sid       = "ReadSsmParameters"
    actions   = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]
    resources = distinct(flatten([for p in local.access[each.key].ssm_read : local.ssm_resources[p]]))
  }

  statement {
    sid       = "WriteSsmParameters"
    actions   = ["ssm:PutParameter", "ssm:DeleteParameter", "ssm:DeleteParameters", "ssm:AddTagsToResource"]
    resources = distinct(flatten([for p in local.access[each.key].ssm_write : local.ssm_resources[p]]))
  }

  statement {
    sid       = "UseKmsKeyViaSsm"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ssm.${local.region}.amazonaws.com"]
    }
  }

  statement {
    # EC2 Describe* calls support no resource-level permissions.
    sid       = "DescribeInstances"
    actions   = ["ec2:DescribeInstances", "ec2:DescribeInstanceStatus", "ec2:DescribeTags"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = local.access[each.key].tag_instances ? [1] : []
    content {
      sid       = "TagPoolInstances"
      actions   = ["ec2:CreateTags", "ec2:DeleteTags"]
      resources = ["${local.ec2_arn}:instance/*"]
      condition {
        test     = "StringEquals"
        variable = "ec2:ResourceTag/flotilla:prefix"
        values   = [var.prefix]
      }
    }
  }

  dynamic "statement" {
    for_each = local.access[each.key].terminate ? [1] : []
    content {
      sid       = "TerminatePoolInstances"
      actions   = ["ec2:TerminateInstances"]
      resources = ["${local.ec2_arn}:instance/*"]
      condition {
        test     = "StringEquals"
        variable = "ec2:ResourceTag/flotilla:prefix"
        values   = [var.prefix]
      }
    }
  }

  dynamic "statement" {
    for_each = local.access[each.key].launch ? [1] : []
    content {
      sid       = "DescribeForLaunch"
      actions   = ["ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions", "ec2:DescribeSubnets", "ec2:DescribeImages", "ec2:DescribeFleets", "ec2:DescribeSpotPriceHistory", "ec2:DescribeInstanceTypes"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = local.access[each.key].launch ? [1] : []
    content {
      sid     = "LaunchFromPoolTemplate"
      actions = ["ec2:CreateFleet", "ec2:RunInstances"]
      resources = [
        aws_launch_template.runner.arn,
        "arn:${local.partition}:ec2:${local.region}::image/*",
        "${local.ec2_arn}:image/*",
        "${local.ec2_arn}:fleet/*",
        "${local.ec2_arn}:instance/*",
        "${local.ec2_arn}:volume/*",
        "${local.ec2_arn}:network-interface/*",
        "${local.ec2_arn}:subnet/*",
        "${local.ec2_arn}:security-group/*",
        "${local.ec2_arn}:spot-instances-request/*",
      ]
    }
  }

  dynamic "statement" {
    for_each = local.access[each.key].launch ? [1] : []
    content {
      sid       = "TagOnLaunch"
      actions   = ["ec2:CreateTags"]
      resources = ["${local.ec2_arn}:fleet/*", "${local.ec2_arn}:instance/*", "${local.ec2_arn}:volume/*", "${local.ec2_arn}:network-interface/*", "${local.ec2_arn}:spot-instances-request/*"]
      condition {
        test     = "StringEquals"
        variable = "ec2:CreateAction"
        values   = ["CreateFleet", "RunInstances"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.access[each.key].launch ? [1] : []
    content {
      sid       = "PassRunnerRole"
      actions   = ["iam:PassRole"]
      resources = [aws_iam_role.runner.arn]
      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["ec2.amazonaws.com"]
      }
    }
  }

  dynamic "statement" {
    for_each = local.access[each.key].build_queue ? [1] : []
    content {
      sid       = "ConsumeBuildQueue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:SendMessage"]
      resources = [aws_sqs_queue.build.arn]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  for_each = local.functions
  name     = "${each.key}-least-privilege"
  role     = aws_iam_role.lambda[each.key].id
  policy   = data.aws_iam_policy_document.lambda[each.key].json
}

resource "aws_iam_role_policy_attachment" "lambda_vpc" {
  for_each   = length(var.lambda_subnet_ids) > 0 ? local.functions : {}
  role       = aws_iam_role.lambda[each.key].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

# EventBridge Scheduler invokes the pool function.
data "aws_iam_policy_document" "scheduler_assume_role" {
  statement {
    sid     = "SchedulerAssumeRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count                = length(var.pool_config) > 0 ? 1 : 0
  name                 = "${var.prefix}-pool-scheduler"
  description          = "${var.prefix}: EventBridge Scheduler invoking the pool function"
  path                 = var.role_path
  assume_role_policy   = data.aws_iam_policy_document.scheduler_assume_role.json
  permissions_boundary = var.role_permissions_boundary
  tags                 = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokePoolFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this["pool"].arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count  = length(var.pool_config) > 0 ? 1 : 0
  name   = "invoke-pool"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler.json
}
