# Least privilege, asserted on the aws_iam_policy_document statement blocks
# (the mocked documents' JSON is fake; the statements are what the module wrote).

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  vpc_id                            = "vpc-0123456789abcdef0"
  subnet_ids                        = ["subnet-0aaaaaaaaaaaaaaaa"]
  webhook_lambda_zip                = "tests/fixtures/dummy-lambda.zip"
  runners_lambda_zip                = "tests/fixtures/dummy-lambda.zip"
  runner_binaries_syncer_lambda_zip = "tests/fixtures/dummy-lambda.zip"
  github_app = {
    id             = "123456"
    key_base64     = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ=="
    webhook_secret = "not-a-secret"
  }
}

run "reusable_runners" {
  command = apply

  # Nothing but EC2 Describe* (no resource-level permissions) may use Resource "*",
  # and no action is a wildcard.
  assert {
    condition = alltrue(flatten([for role, statements in output.policy_statements : [
      for s in statements : !contains(tolist(s.resources), "*") || alltrue([for a in s.actions : startswith(a, "ec2:Describe")])
    ]]))
    error_message = "Only ec2:Describe* statements may have Resource \"*\"."
  }
  assert {
    condition = alltrue(flatten([for role, statements in output.policy_statements : [
      for s in statements : [for a in s.actions : !strcontains(a, "*")]
    ]]))
    error_message = "No statement may grant a wildcard action."
  }
  assert {
    condition     = alltrue(flatten([for role, statements in output.policy_statements : [for s in statements : s.effect == null || s.effect == "Allow"]]))
    error_message = "Role policies only allow (denies live in the boundary)."
  }

  # The runner instance: its own token only, no termination for reusable runners.
  assert {
    condition     = one([for s in output.policy_statements["runner"] : s if s.sid == "ReadAndDeleteOwnToken"]).resources == toset(["arn:aws:ssm:eu-west-1:123456789012:parameter/github-actions/runners/tokens/*"]) && toset(one([for s in output.policy_statements["runner"] : s if s.sid == "ReadAndDeleteOwnToken"]).actions) == toset(["ssm:GetParameter", "ssm:DeleteParameter"])
    error_message = "The runner may get and delete parameters under /{prefix}/runners/tokens only."
  }
  assert {
    condition = anytrue([for c in one([for s in output.policy_statements["runner"] : s if s.sid == "ReadAndDeleteOwnToken"]).condition :
    c.test == "StringEquals" && c.variable == "ssm:resourceTag/flotilla:instance-arn" && toset(c.values) == toset(["$${ec2:SourceInstanceARN}"])])
    error_message = "The runner's token access must be bound to its own instance (tag flotilla:instance-arn == $${ec2:SourceInstanceARN})."
  }
  assert {
    condition     = length([for s in output.policy_statements["runner"] : s if contains(s.actions, "ec2:TerminateInstances")]) == 0
    error_message = "Reusable runners never terminate instances themselves."
  }
  assert {
    condition     = alltrue([for s in output.policy_statements["runner"] : !contains(s.actions, "ssm:PutParameter")])
    error_message = "The runner never writes SSM parameters."
  }

  # scale-up launches from the pool's template only and passes only the runner role to EC2.
  assert {
    condition     = contains(one([for s in output.policy_statements["scale-up"] : s if s.sid == "LaunchFromPoolTemplate"]).resources, "arn:aws:ec2:eu-west-1:123456789012:launch-template/lt-0123456789abcdef0")
    error_message = "scale-up launches from the pool's launch template."
  }
  assert {
    condition = alltrue([
      one([for s in output.policy_statements["scale-up"] : s if s.sid == "PassRunnerRole"]).resources == toset([output.runner_role.role_arn]),
      anytrue([for c in one([for s in output.policy_statements["scale-up"] : s if s.sid == "PassRunnerRole"]).condition : c.variable == "iam:PassedToService" && toset(c.values) == toset(["ec2.amazonaws.com"])]),
    ])
    error_message = "scale-up may pass only the runner role, only to EC2."
  }
  assert {
    condition = alltrue([for f in ["scale-up", "scale-down", "pool"] :
      anytrue([for c in one([for s in output.policy_statements[f] : s if s.sid == "TerminatePoolInstances"]).condition : c.variable == "ec2:ResourceTag/flotilla:prefix" && toset(c.values) == toset(["github-actions"])])
    ])
    error_message = "Functions terminate only instances tagged flotilla:prefix = prefix."
  }
  assert {
    condition     = one([for s in output.policy_statements["scale-up"] : s if s.sid == "ConsumeBuildQueue"]).resources == toset([output.queues.build_queue.arn])
    error_message = "scale-up consumes the build queue only."
  }

  # Functions that do not launch cannot launch or pass roles.
  assert {
    condition = alltrue([for f in ["webhook", "scale-down", "termination-watcher", "runner-binaries-syncer"] :
      alltrue([for s in output.policy_statements[f] : !contains(s.actions, "ec2:RunInstances") && !contains(s.actions, "ec2:CreateFleet") && !contains(s.actions, "iam:PassRole")])
    ])
    error_message = "Only scale-up and pool launch instances."
  }
  assert {
    condition = alltrue([for f in ["webhook", "termination-watcher", "runner-binaries-syncer"] :
      alltrue([for s in output.policy_statements[f] : !contains(s.actions, "ec2:TerminateInstances")])
    ])
    error_message = "The webhook, the termination watcher and the syncer never terminate instances."
  }
  assert {
    condition     = alltrue([for s in output.policy_statements["webhook"] : !contains(s.actions, "sqs:ReceiveMessage") && !contains(s.actions, "sqs:DeleteMessage")])
    error_message = "The webhook only sends to the build queue."
  }
  assert {
    condition     = one([for s in output.policy_statements["webhook"] : s if s.sid == "EnqueueBuilds"]).resources == toset([output.queues.build_queue.arn])
    error_message = "The webhook enqueues on the build queue only."
  }
  assert {
    condition     = alltrue([for s in output.policy_statements["runner-binaries-syncer"] : alltrue([for a in s.actions : startswith(a, "logs:") || startswith(a, "s3:")])])
    error_message = "The syncer only writes its logs and its bucket."
  }
  assert {
    condition     = alltrue([for f, statements in output.policy_statements : alltrue([for s in statements : !anytrue([for a in s.actions : startswith(a, "kms:")]) || anytrue([for c in s.condition : c.variable == "kms:ViaService"])]) if f != "runner-binaries-syncer"])
    error_message = "KMS use is restricted to calls through SSM (kms:ViaService)."
  }
}

run "ephemeral_runners_terminate_only_themselves" {
  command = apply

  variables {
    enable_ephemeral_runners = true
  }

  assert {
    condition     = one([for s in output.policy_statements["runner"] : s if s.sid == "TerminateItself"]).resources == toset(["$${ec2:SourceInstanceARN}"])
    error_message = "An ephemeral runner may terminate only the instance its credentials belong to."
  }
  assert {
    condition     = toset(one([for s in output.policy_statements["runner"] : s if s.sid == "TerminateItself"]).actions) == toset(["ec2:TerminateInstances"])
    error_message = "TerminateItself grants ec2:TerminateInstances only."
  }
  assert {
    condition     = strcontains(output.runner_user_data, "terminate_self") && strcontains(output.runner_user_data, "EPHEMERAL='true'") && strcontains(output.runner_user_data, "JIT='true'")
    error_message = "Ephemeral runners' user data uses JIT (default) and terminates the instance."
  }
}

run "lambdas_in_vpc_get_eni_access" {
  command = apply

  variables {
    lambda_subnet_ids         = ["subnet-0ccccccccccccccccc"]
    lambda_security_group_ids = ["sg-0ddddddddddddddddd"]
  }

  assert {
    condition     = alltrue([for s in output.policy_statements["scale-up"] : !contains(s.actions, "ec2:CreateNetworkInterface")])
    error_message = "ENI permissions come from the AWSLambdaVPCAccessExecutionRole attachment, not the least-privilege policy."
  }
}
