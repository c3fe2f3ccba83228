# Mirrors the latest actions/runner release for the pool's OS and architecture
# into a private, encrypted, versioned S3 bucket the runners download from.

data "aws_partition" "current" {}

locals {
  partition     = data.aws_partition.current.partition
  function_name = "${var.prefix}-runner-binaries-syncer"
  object_key    = "actions-runner-${var.runner_os}-${var.runner_architecture}.${var.runner_os == "windows" ? "zip" : "tar.gz"}"

  # Exactly the syncer's `env` list in contracts/lambda-env.json.
  environment = {
    FLOTILLA_HANDLER                = "runner-binaries-syncer"
    FLOTILLA_PREFIX                 = var.prefix
    FLOTILLA_GITHUB_API_URL         = var.github_api_url
    FLOTILLA_RUNNER_BINARIES_BUCKET = aws_s3_bucket.binaries.id
    FLOTILLA_RUNNER_BINARIES_KEY    = local.object_key
    FLOTILLA_RUNNER_OS              = var.runner_os
    FLOTILLA_RUNNER_ARCHITECTURE    = var.runner_architecture
    LOG_LEVEL                       = var.log_level
  }
}

################################################################################
# Bucket
################################################################################

resource "aws_s3_bucket" "binaries" {
  #checkov:skip=CKV_AWS_18:Holds only a public release artifact that the syncer rewrites; access logging would need a second bucket per pool.
  #checkov:skip=CKV_AWS_144:A public release artifact re-downloadable at any time; replication buys nothing.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events of this bucket.
  #checkov:skip=CKV_AWS_145:SSE-S3 by default for a public artifact; runner_binaries_s3_sse_configuration selects aws:kms.
  bucket_prefix = "${substr(lower(replace(var.prefix, "_", "-")), 0, 24)}-binaries-"
  force_destroy = true
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "binaries" {
  bucket = aws_s3_bucket.binaries.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "binaries" {
  bucket                  = aws_s3_bucket.binaries.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "binaries" {
  bucket = aws_s3_bucket.binaries.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "binaries" {
  bucket = aws_s3_bucket.binaries.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.s3_sse_configuration.sse_algorithm
      kms_master_key_id = var.s3_sse_configuration.kms_master_key_id
    }
    bucket_key_enabled = var.s3_sse_configuration.sse_algorithm != "AES256"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "binaries" {
  bucket = aws_s3_bucket.binaries.id
  rule {
    id     = "expire-old-releases"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
  depends_on = [aws_s3_bucket_versioning.binaries]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.binaries.arn, "${aws_s3_bucket.binaries.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "binaries" {
  bucket     = aws_s3_bucket.binaries.id
  policy     = data.aws_iam_policy_document.bucket.json
  depends_on = [aws_s3_bucket_public_access_block.binaries]
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
  description          = "${var.prefix}: runner binaries syncer"
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
    sid       = "ListBinariesBucket"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.binaries.arn]
  }

  statement {
    sid       = "MirrorRelease"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:PutObjectTagging", "s3:GetObjectTagging", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.binaries.arn}/${local.object_key}"]
  }

  dynamic "statement" {
    for_each = var.s3_sse_configuration.kms_master_key_id == null ? [] : [1]
    content {
      sid       = "EncryptWithBucketKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.s3_sse_configuration.kms_master_key_id]
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "syncer-least-privilege"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

resource "aws_iam_role_policy_attachment" "lambda_vpc" {
  count      = length(var.lambda_subnet_ids) > 0 ? 1 : 0
  role       = aws_iam_role.lambda.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_lambda_function" "syncer" {
  #checkov:skip=CKV_AWS_116:Invoked by a schedule that fires again within the hour; a DLQ would only collect stale ticks.
  #checkov:skip=CKV_AWS_117:VPC placement is optional (lambda_subnet_ids): the function only calls GitHub and S3 and needs a NAT route in a VPC.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; the zips are built from this repository's pinned sources.
  #checkov:skip=CKV_AWS_115:Runs once an hour; reserving concurrency would eat the account's unreserved pool.
  function_name    = local.function_name
  description      = "Mirrors the latest actions/runner release into S3."
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

resource "aws_cloudwatch_event_rule" "syncer" {
  name                = local.function_name
  description         = "Runs ${local.function_name}."
  schedule_expression = var.schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "syncer" {
  rule = aws_cloudwatch_event_rule.syncer.name
  arn  = aws_lambda_function.syncer.arn
}

resource "aws_lambda_permission" "syncer" {
  statement_id  = "AllowSyncerSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.syncer.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.syncer.arn
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  count               = var.enable_alarms ? 1 : 0
  alarm_name          = "${local.function_name}-errors"
  alarm_description   = "${local.function_name} failed; logs in /aws/lambda/${local.function_name}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.syncer.function_name }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 3
  threshold           = 2
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_sns_topic_arns
  ok_actions          = var.alarm_sns_topic_arns
  tags                = var.tags
}
