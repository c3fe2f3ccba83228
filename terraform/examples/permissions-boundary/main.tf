# Every role the module creates carries a permissions boundary, under an IAM path.
# The boundary here is an example: it caps the roles at the services Flotilla uses.

data "aws_iam_policy_document" "boundary" {
  #checkov:skip=CKV_AWS_107:A permissions boundary only caps what the roles' own least-privilege policies grant; it is broad by design.
  #checkov:skip=CKV_AWS_108:A permissions boundary only caps what the roles' own least-privilege policies grant; it is broad by design.
  #checkov:skip=CKV_AWS_109:A permissions boundary only caps what the roles' own least-privilege policies grant; it is broad by design.
  #checkov:skip=CKV_AWS_110:A permissions boundary only caps what the roles' own least-privilege policies grant; it is broad by design.
  #checkov:skip=CKV_AWS_111:A permissions boundary only caps what the roles' own least-privilege policies grant; it is broad by design.
  #checkov:skip=CKV_AWS_356:A permissions boundary only caps what the roles' own least-privilege policies grant; it is broad by design.
  statement {
    sid       = "FlotillaServices"
    actions   = ["ec2:*", "sqs:*", "ssm:*", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "logs:*", "s3:*", "iam:PassRole", "lambda:InvokeFunction"]
    resources = ["*"]
  }

  statement {
    sid       = "NoIamChanges"
    effect    = "Deny"
    actions   = ["iam:Create*", "iam:Delete*", "iam:Put*", "iam:Attach*", "iam:Detach*", "iam:Update*"]
    resources = ["*"]
  }
}

resource "aws_iam_policy" "boundary" {
  name        = "flotilla-boundary"
  path        = "/flotilla/"
  description = "Permissions boundary of Flotilla's roles"
  policy      = data.aws_iam_policy_document.boundary.json
}

module "flotilla" {
  source = "../../"

  aws_region = var.aws_region
  vpc_id     = var.vpc_id
  subnet_ids = var.subnet_ids

  github_app = {
    id             = var.github_app_id
    key_base64     = var.github_app_key_base64
    webhook_secret = var.github_webhook_secret
  }

  webhook_lambda_zip                = "${var.lambda_zips_dir}/webhook.zip"
  runners_lambda_zip                = "${var.lambda_zips_dir}/runners.zip"
  runner_binaries_syncer_lambda_zip = "${var.lambda_zips_dir}/runner-binaries-syncer.zip"
  lambda_architecture               = var.lambda_architecture

  prefix                    = "flotilla-boundary"
  role_permissions_boundary = aws_iam_policy.boundary.arn
  role_path                 = "/flotilla/"
  instance_profile_path     = "/flotilla/"
  runner_extra_labels       = ["bounded"]

  tags = { Example = "permissions-boundary" }
}
