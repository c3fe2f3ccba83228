# Alarms: build-queue age and depth, dead-letter queue depth, function errors.

resource "aws_cloudwatch_metric_alarm" "build_queue_age" {
  count               = var.enable_alarms ? 1 : 0
  alarm_name          = "${var.prefix}-build-queue-age"
  alarm_description   = "Jobs wait on ${aws_sqs_queue.build.name} well past delay_webhook_event: scale-up is failing or throttled."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.build.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.delay_webhook_event + 600
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_sns_topic_arns
  ok_actions          = var.alarm_sns_topic_arns
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "build_queue_depth" {
  count               = var.enable_alarms ? 1 : 0
  alarm_name          = "${var.prefix}-build-queue-depth"
  alarm_description   = "Many jobs visible on ${aws_sqs_queue.build.name} for 15 minutes: the pool cannot keep up (runners_maximum_count, capacity)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.build.name }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 3
  threshold           = 25
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_sns_topic_arns
  ok_actions          = var.alarm_sns_topic_arns
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "build_dlq_depth" {
  count               = var.enable_alarms && var.redrive_build_queue.enabled ? 1 : 0
  alarm_name          = "${var.prefix}-build-dlq-depth"
  alarm_description   = "Jobs gave up on after maxReceiveCount attempts are in ${aws_sqs_queue.build_dlq[0].name}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.build_dlq[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_sns_topic_arns
  ok_actions          = var.alarm_sns_topic_arns
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each            = var.enable_alarms ? local.functions : {}
  alarm_name          = "${var.prefix}-${each.key}-errors"
  alarm_description   = "${var.prefix}-${each.key} failed; logs in /aws/lambda/${var.prefix}-${each.key}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
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
