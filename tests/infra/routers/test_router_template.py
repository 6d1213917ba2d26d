"""Infra tier: the router provisioner's part of infra/template.yaml (a VPC Lambda, no internet)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import boto3
import pytest
from cfnlint.decode.decode import decode_str
from moto import mock_aws

pytestmark = [pytest.mark.infra, pytest.mark.filterwarnings("ignore:Tried to parse AWS")]

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "infra" / "template.yaml"
REGION = "us-east-1"
MINE = "RouterProvisionerDeployed"


def resources() -> dict:
    decoded, errors = decode_str(TEMPLATE.read_text())
    assert not errors, errors
    return decoded["Resources"]


def of_type(kind: str) -> dict[str, dict]:
    return {name: r for name, r in resources().items() if r["Type"] == kind}


def test_functions_run_in_private_subnets_of_two_zones():
    """Given the template
    When the provisioner and health check functions are read
    Then both run in the router VPC's two subnets (different AZs) behind the provisioner's
    security group, on python3.11, only when their code is deployed."""
    res = resources()
    for name in ("RouterProvisionerFunction", "RouterHealthCheckFunction"):
        function = res[name]
        assert function["Condition"] == MINE
        vpc = function["Properties"]["VpcConfig"]
        assert vpc["SubnetIds"] == [{"Ref": "RouterSubnetA"}, {"Ref": "RouterSubnetB"}]
        assert vpc["SecurityGroupIds"] == [{"Ref": "RouterProvisionerSecurityGroup"}]
        assert function["Properties"]["Runtime"] == "python3.11"
    zones = [res[s]["Properties"]["AvailabilityZone"] for s in ("RouterSubnetA", "RouterSubnetB")]
    assert zones[0] != zones[1]
    assert not any(res[s]["Properties"]["MapPublicIpOnLaunch"] for s in ("RouterSubnetA", "RouterSubnetB"))


def test_no_path_to_the_internet():
    """Given the template
    When its network resources are listed
    Then there is no internet gateway, NAT gateway, or route at all (only endpoints and the VPN)."""
    kinds = {r["Type"] for r in resources().values()}
    for forbidden in (
        "AWS::EC2::InternetGateway",
        "AWS::EC2::NatGateway",
        "AWS::EC2::Route",
        "AWS::EC2::EIP",
    ):
        assert forbidden not in kinds


def test_the_endpoints_it_needs_exist():
    """Given the template
    When its VPC endpoints are read
    Then DynamoDB is a gateway endpoint on the subnets' route table; SQS, EventBridge and
    Secrets Manager are interface endpoints with private DNS in both subnets."""
    endpoints = {
        r["Properties"]["ServiceName"]["Fn::Sub"].rsplit(".", 1)[-1]: r["Properties"]
        for r in of_type("AWS::EC2::VPCEndpoint").values()
    }
    assert set(endpoints) == {"dynamodb", "sqs", "events", "secretsmanager"}
    assert endpoints["dynamodb"]["VpcEndpointType"] == "Gateway"
    assert endpoints["dynamodb"]["RouteTableIds"] == [{"Ref": "RouterRouteTable"}]
    for service in ("sqs", "events", "secretsmanager"):
        assert endpoints[service]["VpcEndpointType"] == "Interface"
        assert endpoints[service]["PrivateDnsEnabled"] is True
        assert len(endpoints[service]["SubnetIds"]) == 2


def test_security_group_allows_only_the_router_api_and_https():
    """Given the provisioner's security group
    When its egress rules are read
    Then it reaches the routers on 8728-8729 only and otherwise HTTPS; nothing may connect in."""
    group = resources()["RouterProvisionerSecurityGroup"]["Properties"]
    ports = sorted((rule["FromPort"], rule["ToPort"]) for rule in group["SecurityGroupEgress"])
    assert ports == [(443, 443), (443, 443), (3799, 3799), (8728, 8729)]  # 3799/udp: RADIUS Disconnect
    assert "SecurityGroupIngress" not in group


def test_queue_mapping_is_three_wide_and_reports_partial_failures():
    """Given the provisioning queue's event source mapping
    When it is read
    Then it feeds the provisioner at most 3 concurrent batches, reports batch item failures,
    and the queue redrives to its DLQ after the first try and 5 retries."""
    res = resources()
    mapping = res["RouterProvisionerEventSourceMapping"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["ProvisioningQueue", "Arn"]}
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 3}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert res["ProvisioningQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 6
    assert (
        res["RouterProvisionerFunction"]["Properties"]["Timeout"]
        < res["ProvisioningQueue"]["Properties"]["VisibilityTimeout"]
    )


def test_health_check_runs_every_minute():
    """Given the schedule rule
    When it is read
    Then it fires the health check function every minute, which EventBridge may invoke only
    from that rule."""
    res = resources()
    rule = res["RouterHealthCheckSchedule"]["Properties"]
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["RouterHealthCheckFunction", "Arn"]}
    permission = res["RouterHealthCheckPermission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["RouterHealthCheckSchedule", "Arn"]}


def test_role_reads_only_router_passwords_and_hotspot_records():
    """Given the provisioner's role
    When its policy is read
    Then it reads secrets only under muda/<stage>/hotspot/routers/, touches hotspot items only
    under SUB#/ROUTER#/ROUTERS keys, and puts events only as muda.hotspot."""
    [policy] = resources()["RouterProvisionerRole"]["Properties"]["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["RouterPasswords"]["Resource"]["Fn::Sub"].endswith(
        ":secret:muda/${Stage}/hotspot/routers/*"
    )
    assert statements["RoutersAndSubscriptions"]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["SUB#*", "ROUTER#*", "ROUTERS"]}
    }
    assert statements["HotspotEvents"]["Condition"] == {"StringEquals": {"events:source": "muda.hotspot"}}
    for statement in statements.values():
        assert "*" not in str(statement["Action"])


@pytest.fixture
def moto_aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_template_with_the_provisioner_creates_on_moto(moto_aws):
    """Given the provisioner's zip uploaded to a bucket
    When the template is created on moto with that bucket
    Then the stack completes; the function is in the VPC's subnets and the queue mapping exists."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="muda-artifacts")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("router_provisioner/__init__.py", "")
    s3.put_object(Bucket="muda-artifacts", Key="router_provisioner.zip", Body=code.getvalue())
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(
        StackName="muda-test",
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[
            {"ParameterKey": "Stage", "ParameterValue": "test"},
            {"ParameterKey": "RouterProvisionerCodeBucket", "ParameterValue": "muda-artifacts"},
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName="muda-test")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    ec2 = boto3.client("ec2", region_name=REGION)
    in_vpc = {"Name": "vpc-id", "Values": [outputs["RouterVpcId"]]}
    subnets = {s["SubnetId"] for s in ec2.describe_subnets(Filters=[in_vpc])["Subnets"]}
    function = boto3.client("lambda", region_name=REGION).get_function(
        FunctionName="muda-test-router-provisioner"
    )
    assert set(function["Configuration"]["VpcConfig"]["SubnetIds"]) == subnets
    assert len(subnets) == 2
    mappings = boto3.client("lambda", region_name=REGION).list_event_source_mappings(
        FunctionName="muda-test-router-provisioner"
    )["EventSourceMappings"]
    assert [m["EventSourceArn"].rsplit(":", 1)[-1] for m in mappings] == ["muda-test-provisioning"]
    endpoints = ec2.describe_vpc_endpoints(Filters=[in_vpc])["VpcEndpoints"]
    assert len(endpoints) == 4


def test_package_zips_the_function_with_librouteros(tmp_path):
    """Given functions/router_provisioner and its requirements
    When infra/package.py zips it (as `make package` does)
    Then a clean interpreter given only the zip imports both handlers the template names."""
    import subprocess
    import sys

    from infra.package import package_router_provisioner

    archive = package_router_provisioner(tmp_path)
    names = zipfile.ZipFile(archive).namelist()
    assert "router_provisioner/handler.py" in names and "librouteros/__init__.py" in names
    probe = "import router_provisioner.handler as h; print(callable(h.handle), callable(h.health_check))"
    result = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(archive)!r}); {probe}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "True True", result.stderr
