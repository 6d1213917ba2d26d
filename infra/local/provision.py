"""Create the stage's resources on the local emulator from ``infra/template.yaml``.

The emulator's CloudFormation creates queues, the bus, rules, roles and SSM parameters; what it
skips (moto: ``AWS::Scheduler::*``, ``AWS::SecretsManager::Secret``) is applied here by boto3
from the same template, so the template stays the one description of the stack. When DynamoDB
has its own endpoint (the local stack: DynamoDB Local), the tables are taken out of the template
the emulator deploys and created there by boto3 from the same definitions, once (they keep their
data across restarts). Then the dev token key pair (generated on first run, kept under
``.cache/local``) is stored in Secrets Manager and its public JWKS in SSM, where the API verifies
tokens from.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import ClientError

from chalicelib.core import auth
from chalicelib.core.aws import client
from chalicelib.core.config import get_settings
from chalicelib.core.observability import logger

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
KEY_FILE = ROOT / ".cache" / "local" / "dev-signing-key.json"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags as ``{"Fn::X": value}``."""


def _tag(loader: yaml.Loader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)


def _resolve(value: Any, params: dict[str, str]) -> Any:
    """Resolve the plain ``!Sub``/``!Ref`` forms the skipped resources use."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        return re.sub(r"\$\{([\w:]+)\}", lambda m: params[m.group(1)], value["Fn::Sub"])
    if isinstance(value, dict) and "Ref" in value:
        return params[value["Ref"]]
    return value


def _conditions_hold(resource: dict[str, Any], stage: str) -> bool:
    # The template conditions skipped resources on the stage only; local stages satisfy them.
    return "Condition" not in resource or stage in ("local", "test")


TABLE = "AWS::DynamoDB::Table"


def _without_tables(template: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """The template minus its tables, every ``Ref``/``GetAtt`` of one replaced by its name/ARN."""
    resources = template["Resources"]
    names = {
        logical: _resolve(r["Properties"]["TableName"], params)
        for logical, r in resources.items()
        if r["Type"] == TABLE
    }
    arn = f"arn:aws:dynamodb:{params['AWS::Region']}:000000000000:table/{{}}"

    def swap(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Ref"} and value["Ref"] in names:
                return names[value["Ref"]]
            if set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][0] in names:
                table = value["Fn::GetAtt"][0]
                return arn.format(names[table])
            if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
                text = re.sub(
                    r"\$\{(\w+)(\.Arn)?\}",
                    lambda m: (arn.format(names[m[1]]) if m[2] else names[m[1]]) if m[1] in names else m[0],
                    value["Fn::Sub"],
                )
                return {"Fn::Sub": text}
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    kept = {k: v for k, v in template.items() if k != "Resources"}
    kept["Resources"] = {k: v for k, v in resources.items() if k not in names}
    return swap(kept)


def deploy_stack() -> None:
    settings = get_settings()
    cfn = client("cloudformation")
    name = settings.prefix
    separate = bool(settings.dynamodb_endpoint_url)
    if separate:
        create_tables(client("dynamodb"), exist_ok=True)
    try:
        cfn.describe_stacks(StackName=name)
        logger.info("stack already present", extra={"stack": name})
    except ClientError:
        params = {"Stage": settings.stage, "AWS::Region": settings.region}
        body = json.dumps(_without_tables(load_template(), params)) if separate else TEMPLATE.read_text()
        cfn.create_stack(
            StackName=name,
            TemplateBody=body,
            Parameters=[{"ParameterKey": "Stage", "ParameterValue": settings.stage}],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        _wait_for(cfn, name)
    apply_skipped()


def _wait_for(cfn: Any, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        if status.endswith("_COMPLETE") and "ROLLBACK" not in status:
            return
        if "FAILED" in status or "ROLLBACK" in status:
            raise RuntimeError(f"stack {name} failed on the emulator: {status}")
        time.sleep(0.2)
    raise TimeoutError(f"stack {name} not created in {timeout}s")


def create_tables(dynamodb: Any, exist_ok: bool = False) -> list[str]:
    """Create the template's tables with a plain DynamoDB client (DynamoDB Local has no
    CloudFormation): the contract tier then tests the models against the template's keys, the
    local stack runs on them. ``exist_ok``: keep a table already there (and its data)."""
    params = {"Stage": get_settings().stage, "AWS::Region": get_settings().region}
    names = []
    for resource in load_template()["Resources"].values():
        if resource["Type"] != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        request = {
            "TableName": _resolve(props["TableName"], params),
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        try:
            dynamodb.create_table(**request)
        except ClientError as error:
            if not (exist_ok and error.response["Error"]["Code"] == "ResourceInUseException"):
                raise
        names.append(request["TableName"])
    return names


def apply_skipped() -> None:
    """Apply by boto3 the resource types the emulator's CloudFormation skips (idempotent)."""
    settings = get_settings()
    params = {"Stage": settings.stage, "AWS::Region": settings.region}
    for resource in load_template()["Resources"].values():
        if not _conditions_hold(resource, settings.stage):
            continue
        props = resource.get("Properties", {})
        kind = resource["Type"]
        try:
            if kind == "AWS::Scheduler::ScheduleGroup":
                client("scheduler").create_schedule_group(Name=_resolve(props["Name"], params))
            elif kind == "AWS::SecretsManager::Secret":
                client("secretsmanager").create_secret(
                    Name=_resolve(props["Name"], params), Description=props.get("Description", "")
                )
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("ConflictException", "ResourceExistsException"):
                raise


def install_dev_keys() -> dict[str, Any]:
    """Generate the dev signing key on first run; publish it to Secrets Manager and its JWKS to SSM."""
    settings = get_settings()
    if KEY_FILE.exists():
        key = json.loads(KEY_FILE.read_text())
    else:
        kid = f"dev-{int(time.time())}"
        private_pem, jwks = auth.generate_key_pair(kid)
        key = {"kid": kid, "private_key": private_pem, "jwks": jwks}
        KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        KEY_FILE.touch(mode=0o600)
        KEY_FILE.write_text(json.dumps(key))
    secret = json.dumps({"kid": key["kid"], "private_key": key["private_key"]})
    sm = client("secretsmanager")
    try:
        sm.put_secret_value(SecretId=settings.signing_key_secret, SecretString=secret)
    except ClientError:
        sm.create_secret(Name=settings.signing_key_secret, SecretString=secret)
    client("ssm").put_parameter(
        Name=settings.auth_jwks_parameter or f"/muda/{settings.stage}/auth/jwks",
        Value=json.dumps(key["jwks"]),
        Type="String",
        Overwrite=True,
    )
    auth.keys.clear()
    return key


def provision() -> None:
    from infra.local.stack import domain_hooks

    deploy_stack()
    install_dev_keys()
    for hook in domain_hooks("provision"):
        hook()
