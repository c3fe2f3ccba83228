# Mocked AWS provider for terraform test: valid-looking ARNs and ids, the
# real account/region/partition of the tests, and module parameters' real ARNs.
mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:user/test", user_id = "AIDATEST" }
}
mock_data "aws_partition" {
  defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
}
mock_data "aws_region" {
  defaults = { name = "eu-west-1" }
}
mock_data "aws_ssm_parameter" {
  defaults = { value = "ami-0123456789abcdef0", insecure_value = "ami-0123456789abcdef0", type = "String" }
}
mock_data "aws_ami" {
  defaults = { id = "ami-0fedcba9876543210" }
}
mock_data "aws_iam_policy_document" {
  defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}
mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mock" }
}
mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::123456789012:role/mock" }
}
mock_resource "aws_sqs_queue" {
  defaults = { arn = "arn:aws:sqs:eu-west-1:123456789012:mock", url = "https://sqs.eu-west-1.amazonaws.com/123456789012/mock" }
}
mock_resource "aws_lambda_function" {
  defaults = { arn = "arn:aws:lambda:eu-west-1:123456789012:function:mock", invoke_arn = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:mock/invocations" }
}
mock_resource "aws_kms_key" {
  defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000", key_id = "00000000-0000-0000-0000-000000000000" }
}
mock_resource "aws_launch_template" {
  defaults = { arn = "arn:aws:ec2:eu-west-1:123456789012:launch-template/lt-0123456789abcdef0", id = "lt-0123456789abcdef0", latest_version = 1 }
}
mock_resource "aws_s3_bucket" {
  defaults = { arn = "arn:aws:s3:::mock-binaries", id = "mock-binaries" }
}
mock_resource "aws_cloudwatch_event_rule" {
  defaults = { arn = "arn:aws:events:eu-west-1:123456789012:rule/mock" }
}
mock_resource "aws_apigatewayv2_api" {
  defaults = { execution_arn = "arn:aws:execute-api:eu-west-1:123456789012:mockapi", api_endpoint = "https://mockapi.execute-api.eu-west-1.amazonaws.com" }
}
mock_resource "aws_apigatewayv2_stage" {
  defaults = { invoke_url = "https://mockapi.execute-api.eu-west-1.amazonaws.com/" }
}
mock_resource "aws_iam_instance_profile" {
  defaults = { arn = "arn:aws:iam::123456789012:instance-profile/mock" }
}
mock_resource "aws_security_group" {
  defaults = { id = "sg-0123456789abcdef0", arn = "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0123456789abcdef0" }
}
mock_resource "aws_iam_policy" {
  defaults = { arn = "arn:aws:iam::123456789012:policy/mock" }
}
