# The webhook: an HTTP API (throttled, access-logged) in front of the webhook
# function, which verifies X-Hub-Signature-256 and enqueues accepted jobs.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition     = data.aws_partition.current.partition
  account_id    = data.aws_caller_identity.current.account_id
  region        = data.aws_region.current.name
  ssm_arn       = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter"
  function_name = "${var.prefix}-webhook"

  # Exactly the webhook's `env` list in contracts/lambda-env.json.
  environment = {
    FLOTILLA_HANDLER                         = "webhook"
    FLOTILLA_PREFIX                          = var.prefix
    FLOTILLA_CONFIG_PARAMETER                = var.config_parameter.name
    FLOTILLA_GITHUB_APP_ID_PARAMETER         = var.github_app_parameters.id.name
    FLOTILLA_GITHUB_APP_KEY_PARAMETER        = var.github_app_parameters.key_base64.name
    FLOTILLA_GITHUB_WEBHOOK_SECRET_PARAMETER = var.github_app_parameters.webhook_secret.name
    FLOTILLA_GITHUB_API_URL                  = var.github_api_url
    FLOTILLA_BUILD_QUEUE_URL                 = var.build_queue.url
    FLOTILLA_JOB_ARCHIVE_BUCKET              = var.job_event_archive_bucket_name == null ? "" : var.job_event_archive_bucket_name
    FLOTILLA_METRICS_NAMESPACE               = var.metrics_namespace
    LOG_LEVEL                                = var.log_level
  }

  # The contract's ssm_read / ssm_write for the webhook.
  ssm_read = [
    var.config_parameter.arn,
    var.github_app_parameters.id.arn,
    var.github_app_parameters.key_base64.arn,
    var.github_app_parameters.webhook_secret.arn,
    "${local.ssm_arn}/${var.prefix}/runners/interrupted-jobs",
    "${local.ssm_arn}/${var.prefix}/runners/interrupted-jobs/*",
  ]
  ssm_write = [
    "${local.ssm_arn}/${var.prefix}/runners/interrupted-jobs",
    "${local.ssm_arn}/${var.prefix}/runners/interrupted-jobs/*",
  ]
}

################################################################################
# Function
################################################################################

resource "aws_cloudwatch_log_group" "lambda" {
  #checkov:skip=CKV_AWS_338:Retention is the operator's choice (logging_retention_in_days, default 180 days as in v7); a year of these logs is rarely wanted.
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.logging_retention_in_days
  kms_key_id        = var.logging_kms_key_id
  tags              = var.tags
}

data "aws_iam_policy_document" "assume_role" {
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
  name                 = local.function_name
  description          = "${var.prefix}: webhook function"
  path                 = var.role_path
  assume_role_policy   = data.aws_iam_policy_document.assume_role.json
  permissions_boundary = var.role_permissions_boundary
  tags                 = var.tags
}

data "aws_iam_policy_document" "lambda" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  statement {
    sid       = "ReadSsmParameters"
    actions   = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"]
    resources = local.ssm_read
  }

  statement {
    sid       = "WriteSsmParameters"
    actions   = ["ssm:PutParameter", "ssm:DeleteParameter", "ssm:DeleteParameters", "ssm:AddTagsToResource"]
    resources = local.ssm_write
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
    sid       = "EnqueueBuilds"
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes"]
    resources = [var.build_queue.arn]
  }

  statement {
    # EC2 Describe* calls support no resource-level permissions.
    sid       = "DescribeInstances"
    actions   = ["ec2:DescribeInstances", "ec2:DescribeTags"]
    resources = ["*"]
  }

  statement {
    # flotilla:current-job, from workflow_job in_progress.
    sid       = "TagPoolInstances"
    actions   = ["ec2:CreateTags"]
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:instance/*"]
    condition {
      test     = "StringEquals"
      variable = "ec2:ResourceTag/flotilla:prefix"
      values   = [var.prefix]
    }
  }

  dynamic "statement" {
    for_each = var.job_event_archive_bucket_name == null ? [] : [1]
    content {
      sid       = "ArchiveJobEvents"
      actions   = ["s3:PutObject"]
      resources = ["arn:${local.partition}:s3:::${var.job_event_archive_bucket_name}/*"]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "webhook-least-privilege"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

resource "aws_iam_role_policy_attachment" "lambda_vpc" {
  count      = length(var.lambda_subnet_ids) > 0 ? 1 : 0
  role       = aws_iam_role.lambda.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_lambda_function" "webhook" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway; GitHub shows failed deliveries and a DLQ does not apply to synchronous calls.
  #checkov:skip=CKV_AWS_117:VPC placement is optional (lambda_subnet_ids): the function only calls AWS APIs and needs a NAT route in a VPC.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; the zips are built from this repository's pinned sources.
  #checkov:skip=CKV_AWS_115:The HTTP API's throttling (api_gateway_throttling_*) bounds concurrency; reserving would eat the account's unreserved pool.
  function_name    = local.function_name
  description      = "Verifies GitHub webhooks and enqueues accepted jobs on the build queue."
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  handler          = "bootstrap"
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  memory_size      = var.lambda_memory_size
  timeout          = var.lambda_timeout
  role             = aws_iam_role.lambda.arn
  kms_key_arn      = var.kms_key_arn

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = "PassThrough"
  }

  dynamic "vpc_config" {
    for_each = length(var.lambda_subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.lambda_subnet_ids
      security_group_ids = var.lambda_security_group_ids
    }
  }

  tags       = var.tags
  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.lambda]
}

################################################################################
# HTTP API
################################################################################

resource "aws_apigatewayv2_api" "webhook" {
  name          = "${var.prefix}-webhook"
  description   = "GitHub App webhook of ${var.prefix}"
  protocol_type = "HTTP"
  tags          = var.tags
}

resource "aws_apigatewayv2_integration" "webhook" {
  api_id                 = aws_apigatewayv2_api.webhook.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.webhook.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = min(30000, var.lambda_timeout * 1000 + 1000)
}

resource "aws_apigatewayv2_route" "webhook" {
  #checkov:skip=CKV_AWS_309:GitHub cannot send IAM/JWT credentials; every request is authenticated by its X-Hub-Signature-256 HMAC in the function.
  api_id    = aws_apigatewayv2_api.webhook.id
  route_key = "POST /webhook"
  target    = "integrations/${aws_apigatewayv2_integration.webhook.id}"
}

resource "aws_cloudwatch_log_group" "api" {
  #checkov:skip=CKV_AWS_338:Retention is the operator's choice (logging_retention_in_days, default 180 days as in v7); a year of these logs is rarely wanted.
  name              = "/aws/apigateway/${var.prefix}-webhook"
  retention_in_days = var.logging_retention_in_days
  kms_key_id        = var.logging_kms_key_id
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "webhook" {
  api_id      = aws_apigatewayv2_api.webhook.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.api_gateway_throttling_burst_limit
    throttling_rate_limit  = var.api_gateway_throttling_rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      ip             = "$context.identity.sourceIp"
      requestTime    = "$context.requestTime"
      routeKey       = "$context.routeKey"
      status         = "$context.status"
      latency        = "$context.integrationLatency"
      responseLength = "$context.responseLength"
      error          = "$context.integrationErrorMessage"
    })
  }

  tags = var.tags
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowWebhookApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.webhook.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.webhook.execution_arn}/*/*/webhook"
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  count               = var.enable_alarms ? 1 : 0
  alarm_name          = "${local.function_name}-errors"
  alarm_description   = "${local.function_name} failed; logs in /aws/lambda/${local.function_name}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.webhook.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_sns_topic_arns
  ok_actions          = var.alarm_sns_topic_arns
  tags                = var.tags
}
