output "webhook_url" {
  description = "URL to give the GitHub App as its webhook URL."
  value       = "${trimsuffix(aws_apigatewayv2_stage.webhook.invoke_url, "/")}/webhook"
}

output "api_id" {
  description = "The HTTP API."
  value       = aws_apigatewayv2_api.webhook.id
}

output "function" {
  description = "The webhook function: name, arn, role, timeout, memory, environment."
  value = {
    function_name = aws_lambda_function.webhook.function_name
    arn           = aws_lambda_function.webhook.arn
    role_arn      = aws_iam_role.lambda.arn
    role_name     = aws_iam_role.lambda.name
    timeout       = aws_lambda_function.webhook.timeout
    memory_size   = aws_lambda_function.webhook.memory_size
    architectures = aws_lambda_function.webhook.architectures
    environment   = local.environment
  }
}

output "roles" {
  description = "The module's IAM roles: name => {arn, permissions_boundary}."
  value = {
    (aws_iam_role.lambda.name) = { arn = aws_iam_role.lambda.arn, permissions_boundary = aws_iam_role.lambda.permissions_boundary }
  }
}

output "policy_statements" {
  description = "The aws_iam_policy_document statements of the webhook role."
  value       = { webhook = data.aws_iam_policy_document.lambda.statement }
}
