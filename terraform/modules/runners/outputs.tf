output "build_queue" {
  description = "The build queue: url, arn, name, delay_seconds, fifo."
  value = {
    url           = aws_sqs_queue.build.url
    arn           = aws_sqs_queue.build.arn
    name          = aws_sqs_queue.build.name
    delay_seconds = aws_sqs_queue.build.delay_seconds
    fifo          = aws_sqs_queue.build.fifo_queue
  }
}

output "build_dlq" {
  description = "The dead-letter queue (null without redrive)."
  value = var.redrive_build_queue.enabled ? {
    url  = aws_sqs_queue.build_dlq[0].url
    arn  = aws_sqs_queue.build_dlq[0].arn
    name = aws_sqs_queue.build_dlq[0].name
  } : null
}

output "functions" {
  description = "Per function: name, arn, role, timeout, memory, environment."
  value = {
    for name, f in aws_lambda_function.this : name => {
      function_name = f.function_name
      arn           = f.arn
      role_arn      = f.role
      role_name     = aws_iam_role.lambda[name].name
      timeout       = f.timeout
      memory_size   = f.memory_size
      architectures = f.architectures
      environment   = local.environment[name]
    }
  }
}

output "roles" {
  description = "Every IAM role of the module: name => {arn, permissions_boundary}."
  value = merge(
    { for name, r in aws_iam_role.lambda : r.name => { arn = r.arn, permissions_boundary = r.permissions_boundary } },
    { (aws_iam_role.runner.name) = { arn = aws_iam_role.runner.arn, permissions_boundary = aws_iam_role.runner.permissions_boundary } },
    { for r in aws_iam_role.scheduler : r.name => { arn = r.arn, permissions_boundary = r.permissions_boundary } },
  )
}

output "policy_statements" {
  description = "The aws_iam_policy_document statements of every role (for inspection and tests): function name or \"runner\" => statements."
  value = merge(
    { for name, d in data.aws_iam_policy_document.lambda : name => d.statement },
    { runner = data.aws_iam_policy_document.runner.statement },
  )
}

output "launch_template" {
  description = "The runners' launch template: id, name, latest version, AMI."
  value = {
    id             = aws_launch_template.runner.id
    name           = aws_launch_template.runner.name
    latest_version = aws_launch_template.runner.latest_version
    image_id       = aws_launch_template.runner.image_id
  }
}

output "runner_role" {
  description = "The runner instance role and profile."
  value = {
    role_name             = aws_iam_role.runner.name
    role_arn              = aws_iam_role.runner.arn
    instance_profile_name = aws_iam_instance_profile.runner.name
  }
}

output "security_group_ids" {
  description = "Security groups of the runners."
  value       = local.security_group_ids
}

output "runner_log_group_name" {
  description = "Log group of the runners' boot and runner logs."
  value       = aws_cloudwatch_log_group.runner.name
}

output "user_data" {
  description = "The rendered runner user data."
  value       = module.user_data.user_data
}

output "event_source_mapping_uuid" {
  description = "The build queue -> scale-up event source mapping."
  value       = aws_lambda_event_source_mapping.scale_up.uuid
}

output "schedules" {
  description = "Schedules: scale-down rule and pool schedules."
  value = {
    scale_down = { name = aws_cloudwatch_event_rule.scale_down.name, schedule_expression = aws_cloudwatch_event_rule.scale_down.schedule_expression }
    pool       = [for s in aws_scheduler_schedule.pool : { name = s.name, schedule_expression = s.schedule_expression, timezone = s.schedule_expression_timezone, input = s.target[0].input }]
  }
}
