#!/usr/bin/env python3
"""Talks to the moto server for tests/run.sh (boto3 only; the aws CLI is not installed).

  moto_check.py network            -> prints {"vpc_id": ..., "subnet_ids": [...]} (moto's default VPC)
  moto_check.py deployed OUTPUTS   -> asserts what `terraform apply` of examples/default created,
                                      read back through the AWS APIs, against the outputs and
                                      contracts/lambda-env.json
  moto_check.py keep OUTPUTS       -> disables the build queue's event source mapping (moto would
                                      swallow queue messages into a stub Lambda) for the twin
  moto_check.py empty              -> asserts nothing the module creates is left after destroy

Environment: AWS_ENDPOINT_URL, AWS_REGION, fake credentials.
"""
import json
import os
import sys

import boto3

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
REGION = os.environ.get("AWS_REGION", "eu-west-1")

failures = []


def client(name):
    return boto3.client(name, endpoint_url=ENDPOINT, region_name=REGION)


def check(cond, what):
    print(("  ok   " if cond else "  FAIL ") + what)
    if not cond:
        failures.append(what)


def network():
    ec2 = client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    vpc = vpcs[0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    print(json.dumps({"vpc_id": vpc, "subnet_ids": sorted(s["SubnetId"] for s in subnets)[:2]}))


def outputs(path):
    with open(path) as f:
        return {k: v["value"] for k, v in json.load(f).items()}


def deployed(path):
    out = outputs(path)
    contract = json.load(open(os.path.join(REPO, "contracts", "lambda-env.json")))
    print("checking the deployment in moto")

    sqs = client("sqs")
    q = out["queues"]["build_queue"]
    attrs = sqs.get_queue_attributes(QueueUrl=q["url"], AttributeNames=["All"])["Attributes"]
    check(attrs.get("DelaySeconds") == str(out_config(out)["delay_webhook_event"]),
          f"build queue DelaySeconds {attrs.get('DelaySeconds')} == delay_webhook_event")
    check(attrs.get("SqsManagedSseEnabled") == "true", "build queue is encrypted (SSE-SQS)")
    dlq = out["queues"]["dead_letter_queue"]
    check(dlq is not None and dlq["arn"] in attrs.get("RedrivePolicy", ""), "build queue redrives to the DLQ")

    lam = client("lambda")
    for name, spec in contract["functions"].items():
        fn = out["functions"][name]
        conf = lam.get_function_configuration(FunctionName=fn["function_name"])
        env = conf.get("Environment", {}).get("Variables", {})
        check(sorted(env) == sorted(spec["env"]), f"{name}: environment keys in Lambda == contract env list")
        check(env == fn["environment"], f"{name}: environment in Lambda == terraform output")
        check(conf["Runtime"] == "provided.al2023" and conf["Handler"] == "bootstrap",
              f"{name}: provided.al2023 / bootstrap")
    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    check(any(m["EventSourceArn"] == q["arn"] and m["FunctionArn"] == out["functions"]["scale-up"]["arn"]
              and m.get("BatchSize") == out_config(out)["lambda_event_source_mapping_batch_size"] for m in mappings),
          "scale-up is mapped to the build queue with lambda_event_source_mapping_batch_size")

    ssm = client("ssm")
    cfg = json.loads(ssm.get_parameter(Name=out["config"]["parameter_name"])["Parameter"]["Value"])
    fields = core_config_fields()
    check(sorted(cfg) == sorted(fields), "SSM config JSON keys == core CONFIG_FIELDS")
    for p in ("github_app_id", "github_app_key", "github_webhook_secret"):
        param = ssm.get_parameter(Name=out["ssm_parameters"][p], WithDecryption=False)["Parameter"]
        check(param["Type"] == "SecureString", f"{p} is a SecureString")

    ec2 = client("ec2")
    lt = ec2.describe_launch_template_versions(LaunchTemplateId=out["launch_template"]["id"],
                                              Versions=["$Latest"])["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    check(lt.get("MetadataOptions", {}).get("HttpTokens") == "required", "launch template requires IMDSv2")
    check(all(ni.get("AssociatePublicIpAddress") is False for ni in lt.get("NetworkInterfaces", [])),
          "launch template assigns no public IP")
    check(all(b.get("Ebs", {}).get("Encrypted") for b in lt.get("BlockDeviceMappings", [])),
          "launch template volumes are encrypted")

    iam = client("iam")
    for role in out["roles"]:
        r = iam.get_role(RoleName=role)["Role"]
        check(r["RoleName"] == role, f"role {role} exists")
    if failures:
        sys.exit(f"{len(failures)} deployment check(s) failed: {failures}")


def out_config(out):
    return json.loads(out["config"]["json"])


def core_config_fields():
    import re
    src = open(os.path.join(REPO, "core", "src", "config.rs")).read()
    body = re.search(r"CONFIG_FIELDS: &\[&str\] = &\[([^\]]*)\]", src).group(1)
    return re.findall(r'"([a-z0-9_]+)"', body)


def keep(path):
    out = outputs(path)
    lam = client("lambda")
    uuid = out["event_source_mapping_uuid"]
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    print(f"disabled event source mapping {uuid}: drive scale-up from the build queue yourself")


def empty():
    print("checking that moto holds nothing the module created")
    sqs, lam, iam, ssm = client("sqs"), client("lambda"), client("iam"), client("ssm")
    check(not sqs.list_queues().get("QueueUrls"), "no SQS queues")
    check(not lam.list_functions()["Functions"], "no Lambda functions")
    check(not lam.list_event_source_mappings()["EventSourceMappings"], "no event source mappings")
    check(not iam.list_roles()["Roles"], "no IAM roles")
    check(not iam.list_instance_profiles()["InstanceProfiles"], "no instance profiles")
    check(not iam.list_policies(Scope="Local")["Policies"], "no customer-managed IAM policies")
    params = [p["Name"] for page in ssm.get_paginator("describe_parameters").paginate()
              for p in page["Parameters"] if not p["Name"].startswith("/aws/")]  # moto's public parameters
    check(not params, f"no SSM parameters {params}")
    kms = client("kms")
    live = [k["KeyId"] for k in kms.list_keys()["Keys"]
            if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion"]
    check(not live, "every KMS key is pending deletion")
    check(not [a for a in kms.list_aliases()["Aliases"] if not a["AliasName"].startswith("alias/aws/")], "no KMS aliases")
    logs = client("logs")
    check(not logs.describe_log_groups()["logGroups"], "no log groups")
    check(not client("events").list_rules()["Rules"], "no EventBridge rules")
    check(not client("scheduler").list_schedules()["Schedules"], "no schedules")
    check(not client("apigatewayv2").get_apis()["Items"], "no HTTP APIs")
    check(not client("s3").list_buckets()["Buckets"], "no S3 buckets")
    check(not client("cloudwatch").describe_alarms()["MetricAlarms"], "no alarms")
    ec2 = client("ec2")
    check(not ec2.describe_launch_templates()["LaunchTemplates"], "no launch templates")
    groups = [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"]
    check(not groups, f"no security groups besides the defaults {groups}")
    if failures:
        sys.exit(f"{len(failures)} leftover(s) in moto: {failures}")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "network":
        network()
    elif cmd == "deployed":
        deployed(sys.argv[2])
    elif cmd == "keep":
        keep(sys.argv[2])
    elif cmd == "empty":
        empty()
    else:
        sys.exit(f"unknown command {cmd}")
