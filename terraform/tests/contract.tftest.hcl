# The Terraform side of contracts/lambda-env.json and core/src/config.rs:
# - each function's environment keys are exactly the contract's `env` list,
#   FLOTILLA_HANDLER names the function, and every value is set;
# - each function's SSM read/write statements cover exactly the contract's
#   ssm_read / ssm_write paths (with {placeholders} as /*);
# - the SSM config JSON carries exactly flotilla-core's CONFIG_FIELDS.
# Both files are read at test time, so a change on either side fails here.

mock_provider "aws" {
  source = "./tests/mocks"
}

# The module-created parameters get their real ARNs (the contract test compares them).
override_resource {
  target = aws_ssm_parameter.config
  values = { arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/github-actions/config" }
}
override_resource {
  target = aws_ssm_parameter.github_app_id
  values = { arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/github-actions/github/app-id" }
}
override_resource {
  target = aws_ssm_parameter.github_app_key_base64
  values = { arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/github-actions/github/app-key-base64" }
}
override_resource {
  target = aws_ssm_parameter.github_app_webhook_secret
  values = { arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/github-actions/github/webhook-secret" }
}

variables {
  contract = jsondecode(file("../contracts/lambda-env.json"))
  core_config_fields = flatten(regexall("\"([a-z0-9_]+)\"",
    regex("CONFIG_FIELDS: &\\[&str\\] = &\\[([^\\]]*)\\]", file("../core/src/config.rs"))[0]
  ))

  vpc_id                            = "vpc-0123456789abcdef0"
  subnet_ids                        = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
  webhook_lambda_zip                = "tests/fixtures/dummy-lambda.zip"
  runners_lambda_zip                = "tests/fixtures/dummy-lambda.zip"
  runner_binaries_syncer_lambda_zip = "tests/fixtures/dummy-lambda.zip"
  github_app = {
    id             = "123456"
    key_base64     = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ=="
    webhook_secret = "not-a-secret"
  }
  ssm_arn = "arn:aws:ssm:eu-west-1:123456789012:parameter"
}

run "contract" {
  command = apply

  # Every function of the contract is deployed (syncer and watcher are on by default) and no other.
  assert {
    condition     = sort(keys(output.functions)) == sort(keys(var.contract.functions))
    error_message = "The module must deploy exactly the contract's functions: ${jsonencode(sort(keys(output.functions)))} vs ${jsonencode(sort(keys(var.contract.functions)))}."
  }

  assert {
    condition     = alltrue([for name, f in var.contract.functions : sort(keys(output.functions[name].environment)) == sort(f.env)])
    error_message = "Each function's environment keys must equal its `env` list in contracts/lambda-env.json: ${jsonencode({ for name, f in var.contract.functions : name => { extra = setsubtract(keys(output.functions[name].environment), f.env), missing = setsubtract(f.env, keys(output.functions[name].environment)) } })}."
  }

  assert {
    condition     = alltrue([for name, f in output.functions : f.environment[var.contract.handler_selector] == name && contains(var.contract.variables[var.contract.handler_selector].values, name)])
    error_message = "FLOTILLA_HANDLER must name the function, with a value the contract lists."
  }

  assert {
    condition     = alltrue(flatten([for name, f in output.functions : [for k, v in f.environment : v != "" || try(var.contract.variables[k].optional, false)]]))
    error_message = "Only variables the contract marks optional may be empty."
  }

  assert {
    condition = alltrue(flatten([for name, f in output.functions : [
      for k, v in f.environment : contains(var.contract.variables[k].values, v) if try(var.contract.variables[k].type, "") == "enum"
    ]]))
    error_message = "Enum variables (FLOTILLA_RUNNER_OS, LOG_LEVEL, ...) must take a value the contract lists."
  }

  assert {
    condition     = output.functions["webhook"].environment.FLOTILLA_CONFIG_PARAMETER == replace(var.contract.ssm_paths.config, "{prefix}", "github-actions")
    error_message = "FLOTILLA_CONFIG_PARAMETER must be the contract's config path."
  }

  assert {
    condition = alltrue([
      output.ssm_parameters.github_app_id == replace(var.contract.ssm_paths.github_app_id, "{prefix}", "github-actions"),
      output.ssm_parameters.github_app_key == replace(var.contract.ssm_paths.github_app_key, "{prefix}", "github-actions"),
      output.ssm_parameters.github_webhook_secret == replace(var.contract.ssm_paths.github_webhook_secret, "{prefix}", "github-actions"),
      "${output.ssm_parameters.runner_tokens}/{instance_id}" == replace(var.contract.ssm_paths.runner_tokens, "{prefix}", "github-actions"),
    ])
    error_message = "Module-created parameters must sit at the contract's ssm_paths."
  }

  # SSM statements == the contract's ssm_read / ssm_write (a {placeholder} path grants its folder and /*).
  assert {
    condition = alltrue([for name, f in var.contract.functions :
      toset(flatten([for s in output.policy_statements[name] : s.resources if s.sid == "ReadSsmParameters"])) ==
      toset(flatten([for p in f.ssm_read : strcontains(var.contract.ssm_paths[p], "{instance_id}") || strcontains(var.contract.ssm_paths[p], "{job_id}") || strcontains(var.contract.ssm_paths[p], "{run_id}")
        ? ["${var.ssm_arn}${regex("^(.*?)/\\{[a-z_]+\\}", replace(var.contract.ssm_paths[p], "{prefix}", "github-actions"))[0]}", "${var.ssm_arn}${regex("^(.*?)/\\{[a-z_]+\\}", replace(var.contract.ssm_paths[p], "{prefix}", "github-actions"))[0]}/*"]
        : ["${var.ssm_arn}${replace(var.contract.ssm_paths[p], "{prefix}", "github-actions")}"]
      ]))
    ])
    error_message = "Each function's ReadSsmParameters statement must cover exactly its contract ssm_read paths."
  }

  assert {
    condition = alltrue([for name, f in var.contract.functions :
      toset(flatten([for s in output.policy_statements[name] : s.resources if s.sid == "WriteSsmParameters"])) ==
      toset(flatten([for p in f.ssm_write : strcontains(var.contract.ssm_paths[p], "{instance_id}") || strcontains(var.contract.ssm_paths[p], "{job_id}") || strcontains(var.contract.ssm_paths[p], "{run_id}")
        ? ["${var.ssm_arn}${regex("^(.*?)/\\{[a-z_]+\\}", replace(var.contract.ssm_paths[p], "{prefix}", "github-actions"))[0]}", "${var.ssm_arn}${regex("^(.*?)/\\{[a-z_]+\\}", replace(var.contract.ssm_paths[p], "{prefix}", "github-actions"))[0]}/*"]
        : ["${var.ssm_arn}${replace(var.contract.ssm_paths[p], "{prefix}", "github-actions")}"]
      ]))
    ])
    error_message = "Each function's WriteSsmParameters statement must cover exactly its contract ssm_write paths."
  }

  assert {
    condition     = length(var.core_config_fields) > 30 && sort(keys(jsondecode(output.config.json))) == sort(var.core_config_fields)
    error_message = "The SSM config JSON keys must be exactly CONFIG_FIELDS of core/src/config.rs."
  }
}

# Each pool schedule sends the input the pool function reads (contract `schedule_inputs.pool`):
# the keys are the contract's and the size is the entry's own.
run "pool_schedule_input" {
  command = apply

  variables {
    enable_organization_runners = true
    pool_runner_owner           = "acme"
    runners_maximum_count       = 5
    pool_config = [
      { schedule_expression = "cron(0/10 8-17 ? * MON-FRI *)", schedule_expression_timezone = "Europe/Amsterdam", size = 2 },
      { schedule_expression = "rate(30 minutes)", size = 1 },
    ]
  }

  assert {
    condition     = length(output.schedules.pool) == 2
    error_message = "One schedule per pool_config entry."
  }
  assert {
    condition = alltrue([for s in output.schedules.pool :
      sort(keys(jsondecode(s.input))) == sort([for k in keys(var.contract.schedule_inputs.pool) : k if k != "$comment"])
    ])
    error_message = "A pool schedule's input must have exactly the contract's schedule_inputs.pool keys: ${jsonencode([for s in output.schedules.pool : s.input])}."
  }
  assert {
    condition     = [for s in output.schedules.pool : jsondecode(s.input).pool_size] == [2, 1]
    error_message = "Each pool schedule sends its own entry's size."
  }
}
