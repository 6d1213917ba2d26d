"""boto3 clients, built once per process.

In the local stage they are built through localstack-client, so the same code talks to
moto_server or LocalStack on the edge endpoint; in dev/prod they talk to real AWS.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config

from chalicelib.core.config import get_settings

_lock = threading.Lock()
_BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=50)


def endpoint_url(service: str | None = None) -> str | None:
    """The AWS-compatible endpoint of the local stage, or ``None`` for real AWS; DynamoDB's own
    when one is set (the local stack runs DynamoDB Local beside moto_server)."""
    settings = get_settings()
    if service == "dynamodb" and settings.dynamodb_endpoint_url:
        return settings.dynamodb_endpoint_url
    if settings.endpoint_url:
        return settings.endpoint_url
    # The local stage defaults to the local stack's ports (`make run`: DynamoDB Local on 8001,
    # moto_server for the rest on 4566); the ``test`` stage (in-process moto) and dev/prod use
    # AWS's own endpoints.
    if settings.stage != "local":
        return None
    return "http://localhost:8001" if service == "dynamodb" else "http://localhost:4566"


@cache
def _client(service: str, endpoint: str | None, region: str, own: bool = False) -> Any:
    if endpoint is None:
        return boto3.session.Session().client(service, region_name=region, config=_BOTO_CONFIG)
    if own:  # a service on its own endpoint (localstack-client would send it to the edge one)
        return boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test").client(
            service, region_name=region, endpoint_url=endpoint, config=_BOTO_CONFIG
        )
    from localstack_client.session import Session  # local stage only

    session = Session(region_name=region, localstack_host=urlparse(endpoint).netloc)
    return session.client(service, config=_BOTO_CONFIG)


def client(service: str) -> Any:
    """A cached client for ``service`` (thread-safe once built)."""
    settings = get_settings()
    endpoint = endpoint_url(service)
    with _lock:
        return _client(service, endpoint, settings.region, endpoint != endpoint_url())


def client_at(service: str, endpoint: str) -> Any:
    """A cached client for ``service`` at an endpoint of its own: API Gateway's management API
    (``apigatewaymanagementapi``) lives at each WebSocket API's URL (the local stage: its gateway)."""
    settings = get_settings()
    with _lock:
        return _client_at(service, endpoint, settings.region, settings.is_local)


@cache
def _client_at(service: str, endpoint: str, region: str, local: bool) -> Any:
    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"} if local else {}
    return boto3.session.Session(**credentials).client(
        service, region_name=region, endpoint_url=endpoint, config=_BOTO_CONFIG
    )


def reset_clients() -> None:
    """Forget cached clients (tests that move the endpoint)."""
    _client.cache_clear()
    _client_at.cache_clear()


@cache
def _queue_url(name: str, endpoint: str | None) -> str:
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def queue_url(name: str) -> str:
    return _queue_url(name, endpoint_url())


def queue_arn(name: str) -> str:
    """The ARN of a queue by name, read once from SQS."""
    return _queue_arn(name, endpoint_url())


@cache
def _queue_arn(name: str, endpoint: str | None) -> str:
    attrs = client("sqs").get_queue_attributes(QueueUrl=queue_url(name), AttributeNames=["QueueArn"])
    return attrs["Attributes"]["QueueArn"]


def reset_caches() -> None:
    reset_clients()
    _queue_url.cache_clear()
    _queue_arn.cache_clear()
