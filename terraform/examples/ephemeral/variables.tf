variable "aws_region" {
  description = "Region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "vpc_id" {
  description = "VPC of the runners."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (with a NAT route) of the runners."
  type        = list(string)
}

variable "github_app_id" {
  description = "GitHub App id."
  type        = string
}

variable "github_app_key_base64" {
  description = "GitHub App private key (PEM), base64-encoded: base64 -w0 app.private-key.pem."
  type        = string
  sensitive   = true
}

variable "github_webhook_secret" {
  description = "Webhook secret configured in the GitHub App."
  type        = string
  sensitive   = true
}

variable "lambda_zips_dir" {
  description = "Folder holding webhook.zip, runners.zip and runner-binaries-syncer.zip (built by lambdas/ or fetched with modules/download-lambda)."
  type        = string
  default     = "lambdas"
}

variable "lambda_architecture" {
  description = "Architecture the zips were built for."
  type        = string
  default     = "x86_64"
}
