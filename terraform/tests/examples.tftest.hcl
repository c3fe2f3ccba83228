# Every example is a working root: each is applied here with the mocked provider
# and checked for what it is meant to show. examples/default is also applied to a
# real moto server by tests/run.sh.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  vpc_id                = "vpc-0123456789abcdef0"
  subnet_ids            = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
  github_app_id         = "123456"
  github_app_key_base64 = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQ=="
  github_webhook_secret = "not-a-secret"
  lambda_zips_dir       = "tests/fixtures/zips"
}

run "default" {
  command = apply
  module {
    source = "./examples/default"
  }

  assert {
    condition     = output.queues.build_queue.delay_seconds == 30 && output.queues.dead_letter_queue.name == "flotilla-default-queued-builds_dead_letter"
    error_message = "default: v7 delay and a dead-letter queue."
  }
  assert {
    condition     = length(output.functions) == 6 && output.runner_binaries != null
    error_message = "default: all six functions and the binaries mirror."
  }
}

run "arm64" {
  command = apply
  module {
    source = "./examples/arm64"
  }

  assert {
    condition     = jsondecode(output.config.json).runner_architecture == "arm64" && alltrue([for f in output.functions : f.architectures == tolist(["arm64"])])
    error_message = "arm64: arm64 runners and arm64 Lambdas."
  }
}

run "ubuntu" {
  command = apply
  module {
    source = "./examples/ubuntu"
  }

  assert {
    condition     = output.launch_template.image_id == "ami-0fedcba9876543210"
    error_message = "ubuntu: the AMI comes from ami_filter (aws_ami), not the Amazon Linux parameter."
  }
}

run "windows" {
  command = apply
  module {
    source = "./examples/windows"
  }

  assert {
    condition     = jsondecode(output.config.json).runner_os == "windows" && jsondecode(output.config.json).runner_boot_time_in_minutes == 20
    error_message = "windows: windows runners with a longer boot time."
  }
}

run "ephemeral" {
  command = apply
  module {
    source = "./examples/ephemeral"
  }

  assert {
    condition     = jsondecode(output.config.json).enable_ephemeral_runners && output.queues.build_queue.delay_seconds == 0
    error_message = "ephemeral: ephemeral runners, no webhook delay."
  }
  assert {
    condition     = length(output.schedules.pool) == 1 && contains(keys(output.roles), "flotilla-ephemeral-pool-scheduler")
    error_message = "ephemeral: one pool schedule and its scheduler role."
  }
}

run "prebuilt" {
  command = apply
  module {
    source = "./examples/prebuilt"
  }

  assert {
    condition     = output.runner_binaries == null && !contains(keys(output.functions), "runner-binaries-syncer")
    error_message = "prebuilt: no binaries syncer."
  }
}

run "permissions_boundary" {
  command = apply
  module {
    source = "./examples/permissions-boundary"
  }

  assert {
    condition     = length(output.roles) == 7 && alltrue([for r in output.roles : r.permissions_boundary != null && r.permissions_boundary == values(output.roles)[0].permissions_boundary])
    error_message = "permissions-boundary: every role carries the example's boundary."
  }
}

run "from_simulator" {
  command = apply
  module {
    source = "./examples/from-simulator"
  }

  assert {
    condition = alltrue([
      jsondecode(output.config.json).delay_webhook_event == 10,
      jsondecode(output.config.json).minimum_running_time_in_minutes == 12,
      jsondecode(output.config.json).runners_maximum_count == 8,
      jsondecode(output.config.json).idle_config[0].timeZone == "Europe/Amsterdam",
      jsondecode(output.config.json).idle_config[0].evictionStrategy == "oldest_first",
      jsondecode(output.config.json).instance_allocation_strategy == "price-capacity-optimized",
      output.queues.build_queue.delay_seconds == 10,
    ])
    error_message = "from-simulator: the recommended.tfvars.json values reach the queue and the config."
  }
  assert {
    condition     = jsondecode(output.config.json).runner_boot_time_in_minutes == 5 && jsondecode(output.config.json).enable_job_queued_check == null
    error_message = "from-simulator: keys the file leaves out keep the module defaults (null stays null)."
  }
}
