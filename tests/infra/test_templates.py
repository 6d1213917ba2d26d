"""Infra tier: infra/template.yaml, the Chalice IAM policies and `chalice package` output."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from cfnlint.api import ManualArgs, lint_file
from cfnlint.decode.decode import decode_str
from moto import mock_aws

pytestmark = [
    pytest.mark.infra,
    # moto's CloudFormation skips AWS::Scheduler::*, AWS::SecretsManager::Secret and
    # AWS::SQS::QueuePolicy with this warning; the local stack applies those by boto3.
    pytest.mark.filterwarnings("ignore:Tried to parse AWS"),
]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
LINT_REGIONS = ["us-east-1", "af-south-1"]
STAGE = "test"
REGION = "us-east-1"


def lint(path: Path, *, informational: bool) -> list[str]:
    config = ManualArgs(regions=LINT_REGIONS, include_checks=["I"] if informational else [])
    return [f"{m.rule.id} {m.message} ({m.filename}:{m.linenumber})" for m in lint_file(path, config)]


def template() -> dict:
    decoded, errors = decode_str(TEMPLATE.read_text())
    assert not errors, errors
    return decoded


@pytest.fixture(scope="module")
def aws() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        patch.delenv("AWS_PROFILE", raising=False)
        with mock_aws():
            yield


@pytest.fixture(scope="module")
def stack(aws) -> dict[str, str]:
    """The template created on in-process moto with Stage=test, once for the module (the tests
    only read it, but for one muda.* event put on the bus); returns its outputs."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(
        StackName=f"muda-{STAGE}",
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": "Stage", "ParameterValue": STAGE}],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    described = cloudformation.describe_stacks(StackName=f"muda-{STAGE}")["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE", described.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}


# ---------------------------------------------------------------- infra/template.yaml


def test_template_lints_clean():
    """Given infra/template.yaml
    When cfn-lint checks it, informational rules included, for each region we lint for
    Then it reports nothing."""
    assert lint(TEMPLATE, informational=True) == []


def test_template_creates_the_tables(stack):
    """Given the template created on moto with Stage=test
    When the tables are described
    Then muda-test-timers is keyed on id with the sparse `sweep` GSI, muda-test-ops on pk/sk,
    both on demand."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    assert stack["TimersTableName"] == "muda-test-timers"
    assert stack["OpsTableName"] == "muda-test-ops"

    timers = dynamodb.describe_table(TableName="muda-test-timers")["Table"]
    assert timers["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert timers["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    [sweep] = timers["GlobalSecondaryIndexes"]
    assert sweep["IndexName"] == "sweep"
    assert sweep["KeySchema"] == [
        {"AttributeName": "sweep_shard", "KeyType": "HASH"},
        {"AttributeName": "sweep_at", "KeyType": "RANGE"},
    ]
    assert sweep["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": ["kind", "key", "due_at", "state"],
    }
    types = {a["AttributeName"]: a["AttributeType"] for a in timers["AttributeDefinitions"]}
    assert types == {"id": "S", "sweep_shard": "S", "sweep_at": "N"}

    ops = dynamodb.describe_table(TableName="muda-test-ops")["Table"]
    assert ops["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert ops["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


def test_template_declares_ttl_and_recovery():
    """Given infra/template.yaml (moto ignores TTL and point-in-time recovery, so read them)
    When the table properties are read
    Then both tables expire items on `expires_at` and the timers table has PITR on."""
    resources = template()["Resources"]
    for name in ("TimersTable", "OpsTable"):
        ttl = resources[name]["Properties"]["TimeToLiveSpecification"]
        assert ttl == {"AttributeName": "expires_at", "Enabled": True}
    pitr = resources["TimersTable"]["Properties"]["PointInTimeRecoverySpecification"]
    assert pitr == {"PointInTimeRecoveryEnabled": True}


@pytest.mark.parametrize("name", ["timers", "events"])
def test_template_creates_each_queue_with_its_dlq(stack, name):
    """Given the template created on moto with Stage=test
    When a work queue and its DLQ are described
    Then the queue has a 180 s visibility timeout (6 x the Lambda timeout) and redrives to its
    DLQ after 5 receives, the DLQ keeps messages 14 days, and both are encrypted with SQS-managed
    keys."""
    sqs = boto3.client("sqs", region_name=REGION)
    prefix = name.capitalize()
    queue_url = sqs.get_queue_url(QueueName=f"muda-test-{name}")["QueueUrl"]
    dlq_url = sqs.get_queue_url(QueueName=f"muda-test-{name}-dlq")["QueueUrl"]
    assert stack[f"{prefix}QueueUrl"] == queue_url
    assert stack[f"{prefix}DeadLetterQueueUrl"] == dlq_url

    queue = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
    assert queue["VisibilityTimeout"] == "180"
    assert json.loads(queue["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq["QueueArn"],
        "maxReceiveCount": 5,
    }
    assert dlq["MessageRetentionPeriod"] == "1209600"
    assert queue["SqsManagedSseEnabled"] == dlq["SqsManagedSseEnabled"] == "true"
    assert stack[f"{prefix}QueueArn"] == queue["QueueArn"]
    assert stack[f"{prefix}DeadLetterQueueArn"] == dlq["QueueArn"]


def test_template_routes_domain_events_to_the_events_queue(stack):
    """Given the template created on moto with Stage=test
    When one muda.* event and one foreign event are put on muda-test-bus
    Then only the muda.* event arrives on the events queue."""
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    assert stack["EventBusName"] == "muda-test-bus"
    assert stack["EventBusArn"].endswith(":event-bus/muda-test-bus")
    rules = {r["Name"] for r in events.list_rules(EventBusName="muda-test-bus")["Rules"]}
    assert "muda-test-domain-events" in rules

    events.put_events(
        Entries=[
            {
                "EventBusName": "muda-test-bus",
                "Source": source,
                "DetailType": "PaymentProcessed",
                "Detail": json.dumps({"checkout_request_id": source}),
            }
            for source in ("muda.hotspot", "acme.billing")
        ]
    )

    received = sqs.receive_message(QueueUrl=stack["EventsQueueUrl"], MaxNumberOfMessages=10)
    sources = [json.loads(m["Body"])["source"] for m in received.get("Messages", [])]
    assert sources == ["muda.hotspot"]


def test_template_lets_only_the_rule_send_to_the_events_queue():
    """Given infra/template.yaml (moto skips AWS::SQS::QueuePolicy, so read it)
    When the events queue policy is read
    Then events.amazonaws.com may send to the events queue only on behalf of the domain-events rule."""
    policy = template()["Resources"]["EventsQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "EventsQueue"}]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["DomainEventsRule", "Arn"]}}
    }


def test_template_creates_the_scheduler_role(stack):
    """Given the template created on moto with Stage=test
    When the scheduler role is read
    Then only EventBridge Scheduler of this account may assume it, and it may send only to the
    timers queue and its DLQ."""
    iam = boto3.client("iam", region_name=REGION)
    role = iam.get_role(RoleName="muda-test-scheduler")["Role"]
    assert stack["SchedulerRoleArn"] == role["Arn"]
    assert stack["SchedulerGroupName"] == "muda-test-timers"
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": role["Arn"].split(":")[4]}}

    [policy_name] = iam.list_role_policies(RoleName="muda-test-scheduler")["PolicyNames"]
    document = iam.get_role_policy(RoleName="muda-test-scheduler", PolicyName=policy_name)["PolicyDocument"]
    if isinstance(document, str):  # moto 5.2.5 returns a CloudFormation inline policy as Python repr
        document = ast.literal_eval(document)
    [statement] = document["Statement"]
    assert statement["Action"] == "sqs:SendMessage"
    assert sorted(statement["Resource"]) == sorted(
        [stack["TimersQueueArn"], stack["TimersDeadLetterQueueArn"]]
    )


def test_template_creates_the_auth_parameters(stack):
    """Given the template created on moto with Stage=test and default parameters
    When the stage's SSM parameters are read
    Then the JWKS URL is "none" and the issuer is "muda"."""
    ssm = boto3.client("ssm", region_name=REGION)
    found = ssm.get_parameters_by_path(Path="/muda/test", Recursive=True)["Parameters"]
    assert {p["Name"]: p["Value"] for p in found} == {
        "/muda/test/auth/jwks-url": "none",
        "/muda/test/auth/issuer": "muda",
    }


def test_template_names_every_resource_after_its_stage(stack):
    """Given the template created on moto with Stage=test
    When the stack's resources are listed
    Then each physical name carries the stage (muda-test-… or /muda/test/…)."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    summaries = cloudformation.list_stack_resources(StackName="muda-test")["StackResourceSummaries"]
    # moto lists the types it skipped with blank ids, and the bus without its name.
    named = {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries if s["PhysicalResourceId"]}
    assert len(named) >= 10
    for logical_id, physical_id in named.items():
        assert "muda-test-" in physical_id or "/muda/test/" in physical_id, (logical_id, physical_id)


def test_dev_signing_key_exists_only_on_local_and_test():
    """Given infra/template.yaml (moto skips secrets, so read it)
    When the dev signing key secret and its condition are read
    Then it is muda/<stage>/auth/dev-signing-key, created only when Stage is local or test."""
    decoded = template()
    secret = decoded["Resources"]["DevSigningKeySecret"]
    assert secret["Properties"]["Name"] == {"Fn::Sub": "muda/${Stage}/auth/dev-signing-key"}
    condition = decoded["Conditions"][secret["Condition"]]
    assert condition == {
        "Fn::Or": [
            {"Fn::Equals": [{"Ref": "Stage"}, "local"]},
            {"Fn::Equals": [{"Ref": "Stage"}, "test"]},
        ]
    }


# ---------------------------------------------------------------- .chalice/policy-<stage>.json


def as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def policy(stage: str) -> dict:
    return json.loads((ROOT / ".chalice" / f"policy-{stage}.json").read_text())


def test_stage_policies_differ_only_in_the_stage():
    """Given .chalice/policy-dev.json and .chalice/policy-prod.json
    When the prod policy is rewritten with the dev stage's names
    Then it is the dev policy: both stages grant the same."""
    prod = json.dumps(policy("prod")).replace("muda-prod-", "muda-dev-").replace("muda/prod", "muda/dev")
    assert json.loads(prod) == policy("dev")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_stage_policy_reaches_only_its_own_stage(stage):
    """Given a stage's Lambda policy
    When each statement's resources are read
    Then every resource but the few that IAM cannot scope belongs to that stage."""
    unscoped = {"sqs:ListQueues", "cloudwatch:PutMetricData", "xray:PutTraceSegments"}
    for statement in policy(stage)["Statement"]:
        actions = as_list(statement["Action"])
        resources = as_list(statement["Resource"])
        if resources == ["*"]:
            assert unscoped & set(actions), statement["Sid"]
            continue
        for resource in resources:
            if resource.startswith("arn:aws:execute-api:") and resource.endswith("/@connections/*"):
                continue  # the live feed's posts: an execute-api ARN names the API by its id, not its name
            assert f"muda-{stage}-" in resource or f"muda/{stage}" in resource, resource


# ---------------------------------------------------------------- chalice package


def test_chalice_package_lints_clean_and_reports_batch_failures(tmp_path):
    """Given the Chalice app (the merge template is made from its SQS handlers)
    When infra/package.py packages the dev stage (pip-installing requirements once, then reusing
    them from .cache/package/ while requirements.txt is unchanged)
    Then it succeeds, sam.json lints clean, and every SQS event source reports batch item
    failures."""
    result = subprocess.run(
        [sys.executable, "-m", "infra.package", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    sam_path = tmp_path / "chalice" / "sam.json"
    assert lint(sam_path, informational=False) == []
    assert (tmp_path / "template.yaml").read_text() == TEMPLATE.read_text()

    sam = json.loads(sam_path.read_text())
    sqs_events = {
        f"{name}.{event_name}": event["Properties"]
        for name, resource in sam["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        for event_name, event in resource["Properties"].get("Events", {}).items()
        if event["Type"] == "SQS"
    }
    assert {"TimersDue.TimersDueSqsEventSource", "DomainEvents.DomainEventsSqsEventSource"} <= set(sqs_events)
    for name, properties in sqs_events.items():
        assert properties.get("FunctionResponseTypes") == ["ReportBatchItemFailures"], name
    # And the console finds the live feed of its own stack, every other variable kept
    variables = sam["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert variables["MUDA_LIVE_WEBSOCKET_URL"] == {
        "Fn::Sub": "wss://${WebsocketAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"
    }
    assert variables["MUDA_STAGE"] == "dev"
