# The runner pool: build queue (+ DLQ), the four functions of runners.zip
# (scale-up, scale-down, pool, termination-watcher), their schedules and event
# sources, the launch template the fleet launches from, and the runners' IAM.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name

  ssm_arn = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter"
  ec2_arn = "arn:${local.partition}:ec2:${local.region}:${local.account_id}"

  queue_suffix    = var.fifo_build_queue ? ".fifo" : ""
  build_queue_url = aws_sqs_queue.build.url

  runner_log_group_name = "/${var.prefix}/runners"

  # The functions of runners.zip, chosen by FLOTILLA_HANDLER.
  functions = {
    for name, f in {
      "scale-up" = {
        enabled     = true
        timeout     = var.scale_up_timeout
        concurrency = var.scale_up_reserved_concurrent_executions
        description = "Launches runners for queued jobs (SQS build queue)."
      }
      "scale-down" = {
        enabled     = true
        timeout     = var.scale_down_timeout
        concurrency = -1
        description = "Deregisters and terminates idle and orphaned runners (schedule)."
      }
      "pool" = {
        enabled     = true
        timeout     = var.pool_timeout
        concurrency = -1
        description = "Tops the pool up to pool_config sizes (schedules)."
      }
      "termination-watcher" = {
        enabled     = var.enable_spot_termination_watcher
        timeout     = 30
        concurrency = -1
        description = "Deregisters runners of interrupted or terminated instances (EventBridge)."
      }
    } : name => f if f.enabled
  }

  # Environment per function: exactly the function's `env` list in contracts/lambda-env.json.
  common_environment = {
    FLOTILLA_PREFIX                   = var.prefix
    FLOTILLA_CONFIG_PARAMETER         = var.config_parameter.name
    FLOTILLA_GITHUB_APP_ID_PARAMETER  = var.github_app_parameters.id.name
    FLOTILLA_GITHUB_APP_KEY_PARAMETER = var.github_app_parameters.key_base64.name
    FLOTILLA_GITHUB_API_URL           = var.github_api_url
    FLOTILLA_METRICS_NAMESPACE        = var.metrics_namespace
    LOG_LEVEL                         = var.log_level
  }
  launch_environment = {
    FLOTILLA_LAUNCH_TEMPLATE_NAME = aws_launch_template.runner.name
    FLOTILLA_SUBNET_IDS           = join(",", var.subnet_ids)
    FLOTILLA_KMS_KEY_ID           = var.kms_key_arn
  }
  environment = {
    "scale-up"            = merge(local.common_environment, local.launch_environment, { FLOTILLA_HANDLER = "scale-up", FLOTILLA_BUILD_QUEUE_URL = local.build_queue_url })
    "scale-down"          = merge(local.common_environment, { FLOTILLA_HANDLER = "scale-down" })
    "pool"                = merge(local.common_environment, local.launch_environment, { FLOTILLA_HANDLER = "pool" })
    "termination-watcher" = merge(local.common_environment, { FLOTILLA_HANDLER = "termination-watcher" })
  }
}

################################################################################
# Build queue
################################################################################

resource "aws_sqs_queue" "build" {
  name                        = "${var.prefix}-queued-builds${local.queue_suffix}"
  fifo_queue                  = var.fifo_build_queue
  content_based_deduplication = var.fifo_build_queue ? true : null
  delay_seconds               = var.delay_webhook_event
  message_retention_seconds   = var.job_queue_retention_in_seconds
  # Lambda's guidance: at least the function timeout (six times leaves room for retries).
  visibility_timeout_seconds = min(43200, 6 * var.scale_up_timeout)
  sqs_managed_sse_enabled    = true
  redrive_policy = var.redrive_build_queue.enabled ? jsonencode({
    deadLetterTargetArn = aws_sqs_queue.build_dlq[0].arn
    maxReceiveCount     = var.redrive_build_queue.maxReceiveCount
  }) : null
  tags = var.tags
}

resource "aws_sqs_queue" "build_dlq" {
  count                     = var.redrive_build_queue.enabled ? 1 : 0
  name                      = "${var.prefix}-queued-builds_dead_letter${local.queue_suffix}"
  fifo_queue                = var.fifo_build_queue
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

################################################################################
# Functions
################################################################################

resource "aws_cloudwatch_log_group" "lambda" {
  #checkov:skip=CKV_AWS_338:Retention is the operator's choice (logging_retention_in_days, default 180 days as in v7); a year of these logs is rarely wanted.
  for_each          = local.functions
  name              = "/aws/lambda/${var.prefix}-${each.key}"
  retention_in_days = var.logging_retention_in_days
  kms_key_id        = var.logging_kms_key_id
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked by SQS (redrive_build_queue is the DLQ) and by schedules/EventBridge that fire again; an async DLQ would only collect stale events.
  #checkov:skip=CKV_AWS_117:VPC placement is optional (lambda_subnet_ids): the functions only call AWS and GitHub APIs and need a NAT route in a VPC.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; the zips are built from this repository's pinned sources.
  #checkov:skip=CKV_AWS_115:Only scale-up has a concurrency limit (scale_up_reserved_concurrent_executions); reserving for scheduled functions would eat the account's unreserved pool.
  for_each = local.functions

  function_name    = "${var.prefix}-${each.key}"
  description      = each.value.description
  filename         = var.lambda_zip
  source_code_hash = filebase64sha256(var.lambda_zip)
  handler          = "bootstrap"
  runtime          = var.lambda_runtime
  architectures    = [var.lambda_architecture]
  memory_size      = var.lambda_memory_size
  timeout          = each.value.timeout
  role             = aws_iam_role.lambda[each.key].arn
  kms_key_arn      = var.kms_key_arn

  reserved_concurrent_executions = each.value.concurrency

  environment {
    variables = local.environment[each.key]
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

resource "aws_lambda_event_source_mapping" "scale_up" {
  event_source_arn                   = aws_sqs_queue.build.arn
  function_name                      = aws_lambda_function.this["scale-up"].arn
  batch_size                         = var.lambda_event_source_mapping_batch_size
  maximum_batching_window_in_seconds = var.fifo_build_queue ? null : var.lambda_event_source_mapping_maximum_batching_window_in_seconds
  function_response_types            = ["ReportBatchItemFailures"]
}

################################################################################
# Schedules and events
################################################################################

resource "aws_cloudwatch_event_rule" "scale_down" {
  name                = "${var.prefix}-scale-down"
  description         = "Runs ${var.prefix}-scale-down."
  schedule_expression = var.scale_down_schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "scale_down" {
  rule = aws_cloudwatch_event_rule.scale_down.name
  arn  = aws_lambda_function.this["scale-down"].arn
}

resource "aws_lambda_permission" "scale_down" {
  statement_id  = "AllowScaleDownSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["scale-down"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.scale_down.arn
}

# Pool top-ups: EventBridge Scheduler (it takes a time zone per schedule).
resource "aws_scheduler_schedule" "pool" {
  #checkov:skip=CKV_AWS_297:The schedule holds only {pool_size}; nothing secret to encrypt with a customer key (and its role would need the key too).
  count       = length(var.pool_config)
  name        = "${var.prefix}-pool-${count.index}"
  description = "Tops ${var.prefix} up to ${var.pool_config[count.index].size} idle runners."

  schedule_expression          = var.pool_config[count.index].schedule_expression
  schedule_expression_timezone = var.pool_config[count.index].schedule_expression_timezone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this["pool"].arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = jsonencode({ pool_size = var.pool_config[count.index].size })
  }
}

resource "aws_cloudwatch_event_rule" "termination" {
  for_each = {
    for k, v in {
      interruption = {
        description = "Spot interruption warnings of ${var.prefix} runners."
        pattern     = jsonencode({ source = ["aws.ec2"], "detail-type" = ["EC2 Spot Instance Interruption Warning"] })
      }
      state-change = {
        description = "Instances of ${var.prefix} shutting down or terminated."
        pattern     = jsonencode({ source = ["aws.ec2"], "detail-type" = ["EC2 Instance State-change Notification"], detail = { state = ["shutting-down", "terminated"] } })
      }
    } : k => v if var.enable_spot_termination_watcher
  }
  name          = "${var.prefix}-${each.key}"
  description   = each.value.description
  event_pattern = each.value.pattern
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "termination" {
  for_each = aws_cloudwatch_event_rule.termination
  rule     = each.value.name
  arn      = aws_lambda_function.this["termination-watcher"].arn
}

resource "aws_lambda_permission" "termination" {
  for_each      = aws_cloudwatch_event_rule.termination
  statement_id  = "AllowEventBridge-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["termination-watcher"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = each.value.arn
}
