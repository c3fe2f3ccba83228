# Test-only: points the aws provider of a copied example at a moto server on
# loopback. tests/run.sh copies this next to examples/default's files in a temp
# folder; production examples stay clean. MOTO_ENDPOINT is substituted by run.sh.
# No default_tags (moto makes them a permanent launch-template diff).

provider "aws" {
  region                      = var.aws_region
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = false
  s3_use_path_style           = true

  endpoints {
    apigatewayv2 = "MOTO_ENDPOINT"
    cloudwatch   = "MOTO_ENDPOINT"
    ec2          = "MOTO_ENDPOINT"
    events       = "MOTO_ENDPOINT"
    iam          = "MOTO_ENDPOINT"
    kms          = "MOTO_ENDPOINT"
    lambda       = "MOTO_ENDPOINT"
    logs         = "MOTO_ENDPOINT"
    s3           = "MOTO_ENDPOINT"
    scheduler    = "MOTO_ENDPOINT"
    sqs          = "MOTO_ENDPOINT"
    ssm          = "MOTO_ENDPOINT"
    sts          = "MOTO_ENDPOINT"
  }
}
