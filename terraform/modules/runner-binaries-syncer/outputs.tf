output "bucket" {
  description = "The mirror: bucket name and arn, object key."
  value = {
    bucket_name = aws_s3_bucket.binaries.id
    bucket_arn  = aws_s3_bucket.binaries.arn
    key         = local.object_key
  }
}

output "function" {
  description = "The syncer function: name, arn, role, timeout, memory, environment."
  value = {
    function_name = aws_lambda_function.syncer.function_name
    arn           = aws_lambda_function.syncer.arn
    role_arn      = aws_iam_role.lambda.arn
    role_name     = aws_iam_role.lambda.name
    timeout       = aws_lambda_function.syncer.timeout
    memory_size   = aws_lambda_function.syncer.memory_size
    architectures = aws_lambda_function.syncer.architectures
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
  description = "The aws_iam_policy_document statements of the syncer role."
  value       = { "runner-binaries-syncer" = data.aws_iam_policy_document.lambda.statement }
}
