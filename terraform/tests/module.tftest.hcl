# Plan/apply facts of the root module with a mocked AWS provider (offline, no
# credentials): queue settings, FIFO naming, the config JSON, the permissions
# boundary on every role. Run from terraform/: `terraform test`.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
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
  # The field names of flotilla-core's Config, read from its source.
  core_config_fields = flatten(regexall("\"([a-z0-9_]+)\"",
    regex("CONFIG_FIELDS: &\\[&str\\] = &\\[([^\\]]*)\\]", file("../core/src/config.rs"))[0]
  ))
}

run "defaults" {
  command = apply

  assert {
    condition     = output.queues.build_queue.delay_seconds == 30
    error_message = "The build queue's DelaySeconds must be delay_webhook_event (default 30)."
  }
  assert {
    condition     = output.queues.build_queue.name == "github-actions-queued-builds" && !output.queues.build_queue.fifo
    error_message = "A standard build queue is named <prefix>-queued-builds."
  }
  assert {
    condition     = output.queues.dead_letter_queue == null
    error_message = "No dead-letter queue without redrive_build_queue.enabled."
  }
  assert {
    condition     = sort(keys(jsondecode(output.config.json))) == sort(var.core_config_fields)
    error_message = "The SSM config JSON must carry exactly the fields of flotilla-core's Config."
  }
  assert {
    condition     = output.config.parameter_name == "/github-actions/config"
    error_message = "The config parameter is /{prefix}/config."
  }
  assert {
    condition = alltrue([
      jsondecode(output.config.json).delay_webhook_event == 30,
      jsondecode(output.config.json).runners_maximum_count == 3,
      jsondecode(output.config.json).instance_types == ["m5.large", "c5.large"],
      jsondecode(output.config.json).enable_job_queued_check == null,
      jsondecode(output.config.json).minimum_running_time_in_minutes == null,
      jsondecode(output.config.json).scale_down_schedule_expression == "cron(*/5 * * * ? *)",
      jsondecode(output.config.json).block_device_mappings[0].volume_size == 30,
      jsondecode(output.config.json).redrive_build_queue.enabled == false,
      jsondecode(output.config.json).instance_max_lifetime_in_minutes == 1440,
      jsondecode(output.config.json).job_retry == { enable = false, delay_in_seconds = 300, delay_backoff = 2, max_attempts = 1, lambda_memory_size = null, lambda_timeout = null },
    ])
    error_message = "The config JSON must carry the variables' values (v7 defaults here), nulls included."
  }
  assert {
    condition     = alltrue([for r in output.roles : r.permissions_boundary == null])
    error_message = "Without role_permissions_boundary no role has a boundary."
  }
  assert {
    condition     = length(output.roles) == 7
    error_message = "Expected 7 roles by default: webhook, scale-up, scale-down, pool, termination-watcher, runner, runner-binaries-syncer."
  }
  assert {
    condition     = startswith(output.runner_user_data, "#!/bin/bash") && strcontains(output.runner_user_data, "/github-actions/runners/tokens")
    error_message = "Linux runners get the Amazon Linux 2023 bash user data reading /{prefix}/runners/tokens/<instance id>."
  }
  assert {
    condition     = strcontains(output.runner_user_data, "RUNNER_LABELS='self-hosted,linux,x64'") && strcontains(output.runner_user_data, "RUNNER_GROUP=''") && strcontains(output.runner_user_data, "GITHUB_URL='https://github.com'")
    error_message = "Registration-token runners register with the core's labels, no group for repository runners, on github.com."
  }
  assert {
    condition     = output.launch_template.image_id == "ami-0123456789abcdef0"
    error_message = "The AMI comes from the default SSM parameter."
  }
}

run "delay_fifo_and_dlq" {
  command = apply

  variables {
    delay_webhook_event                    = 7
    fifo_build_queue                       = true
    redrive_build_queue                    = { enabled = true, maxReceiveCount = 3 }
    lambda_event_source_mapping_batch_size = 10
  }

  assert {
    condition     = output.queues.build_queue.delay_seconds == 7
    error_message = "The build queue's DelaySeconds must be delay_webhook_event."
  }
  assert {
    condition     = output.queues.build_queue.name == "github-actions-queued-builds.fifo" && output.queues.build_queue.fifo
    error_message = "A FIFO build queue is named <prefix>-queued-builds.fifo."
  }
  assert {
    condition     = output.queues.dead_letter_queue.name == "github-actions-queued-builds_dead_letter.fifo"
    error_message = "The DLQ of a FIFO queue is FIFO too."
  }
  assert {
    condition     = jsondecode(output.config.json).fifo_build_queue == true && jsondecode(output.config.json).delay_webhook_event == 7
    error_message = "The config JSON follows the variables."
  }
}

run "permissions_boundary_on_every_role" {
  command = apply

  variables {
    role_permissions_boundary   = "arn:aws:iam::123456789012:policy/flotilla-boundary"
    pool_config                 = [{ schedule_expression = "cron(0 8 ? * MON-FRI *)", schedule_expression_timezone = "Europe/Amsterdam", size = 2 }]
    enable_organization_runners = true
    pool_runner_owner           = "example-org"
    enable_ephemeral_runners    = true
  }

  assert {
    condition     = length(output.roles) == 8
    error_message = "Expected 8 roles with a pool schedule: webhook, scale-up, scale-down, pool, termination-watcher, runner, pool-scheduler, runner-binaries-syncer."
  }
  assert {
    condition     = alltrue([for r in output.roles : r.permissions_boundary == "arn:aws:iam::123456789012:policy/flotilla-boundary"])
    error_message = "Every role must carry role_permissions_boundary."
  }
  assert {
    condition     = length(output.schedules.pool) == 1 && output.schedules.pool[0].timezone == "Europe/Amsterdam"
    error_message = "One EventBridge Scheduler schedule per pool_config entry, with its time zone."
  }
}

run "prefix_names_everything" {
  command = apply

  variables {
    prefix                      = "ci-pool"
    runner_extra_labels         = ["GPU"]
    enable_organization_runners = true
    runner_group_name           = "ci"
    ghes_url                    = "https://ghe.example.com/"
  }

  assert {
    condition     = alltrue([for f in output.functions : startswith(f.function_name, "ci-pool-") && f.environment.FLOTILLA_PREFIX == "ci-pool"])
    error_message = "Functions are named <prefix>-<handler> and carry FLOTILLA_PREFIX."
  }
  assert {
    condition     = strcontains(output.runner_user_data, "RUNNER_LABELS='self-hosted,linux,x64,gpu'") && strcontains(output.runner_user_data, "RUNNER_GROUP='ci'") && strcontains(output.runner_user_data, "GITHUB_URL='https://ghe.example.com'")
    error_message = "Labels are lowercased default + extra labels; organization runners join runner_group_name; GHES URLs are used as is."
  }
  assert {
    condition     = output.functions["webhook"].environment.FLOTILLA_GITHUB_API_URL == "https://ghe.example.com/api/v3"
    error_message = "With ghes_url the functions call https://HOST/api/v3."
  }
  assert {
    condition     = output.ssm_parameters.github_app_id == "/ci-pool/github/app-id" && output.ssm_parameters.runner_tokens == "/ci-pool/runners/tokens"
    error_message = "SSM paths are rooted at /{prefix}."
  }
  assert {
    condition     = output.runner_log_group_name == "/ci-pool/runners"
    error_message = "Runner logs go to the log group <prefix>/runners."
  }
}

run "existing_github_app_parameters" {
  command = apply

  variables {
    github_app = {}
    github_app_ssm_parameters = {
      id             = { arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/org/app-id", name = "/org/app-id" }
      key_base64     = { arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/org/app-key", name = "/org/app-key" }
      webhook_secret = { arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/org/secret", name = "/org/secret" }
    }
  }

  assert {
    condition     = output.functions["webhook"].environment.FLOTILLA_GITHUB_WEBHOOK_SECRET_PARAMETER == "/org/secret" && output.functions["scale-up"].environment.FLOTILLA_GITHUB_APP_KEY_PARAMETER == "/org/app-key"
    error_message = "Existing parameters are passed to the functions by name."
  }
  assert {
    condition     = contains(flatten([for s in output.policy_statements["webhook"] : s.resources if s.sid == "ReadSsmParameters"]), "arn:aws:ssm:eu-west-1:123456789012:parameter/org/secret")
    error_message = "The webhook may read the existing webhook secret parameter."
  }
}

run "windows_runner" {
  command = apply

  variables {
    runner_os = "windows"
  }

  assert {
    condition     = startswith(output.runner_user_data, "<powershell>") && strcontains(output.runner_user_data, "Remove-SSMParameter")
    error_message = "Windows runners get the PowerShell user data."
  }
  assert {
    condition     = jsondecode(output.config.json).runner_os == "windows"
    error_message = "runner_os reaches the config."
  }
}

run "rejects_bad_values" {
  command = plan

  variables {
    delay_webhook_event           = 901
    instance_target_capacity_type = "cheap"
    runners_maximum_count         = 1
    pool_config                   = [{ schedule_expression = "cron(0 8 * * ? *)", size = 2 }]
    prefix                        = "no/slashes"
  }

  expect_failures = [
    var.delay_webhook_event,
    var.instance_target_capacity_type,
    var.pool_config,
    var.prefix,
  ]
}

run "syncer_needs_its_zip" {
  command = plan

  variables {
    runner_binaries_syncer_lambda_zip = null
  }

  expect_failures = [var.runner_binaries_syncer_lambda_zip]
}
