"""The function's settings, from its environment (no pydantic here: boto3 and librouteros only)."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_BACKOFF = (5, 15, 30, 60, 120)


def _delays(text: str) -> tuple[int, ...]:
    values = tuple(int(float(v)) for v in text.replace(" ", "").split(",") if v)
    if not values or any(v < 0 or v > 43200 for v in values):
        raise ValueError(f"MUDA_ROUTERS_BACKOFF_SECONDS must list 0..43200 s delays, not {text!r}")
    return values


@dataclass(frozen=True)
class Settings:
    """Names follow the stack's convention ``muda-<stage>-<name>``; knobs are ``MUDA_ROUTERS_*``."""

    stage: str = "local"
    region: str = "us-east-1"
    # Visibility timeout after failed try n (1-based): tries = len(backoff) + 1, i.e. the first
    # try and one retry per delay. The queue's maxReceiveCount must equal that number.
    backoff: tuple[int, ...] = DEFAULT_BACKOFF
    # Socket timeout for connecting to a router and for each reply.
    timeout: float = 5.0
    # How long a router's API password read from Secrets Manager is reused.
    secret_ttl: float = 300.0
    # Routers probed side by side by the health check.
    health_workers: int = 8
    # API-SSL (routers on port 8729): the CA bundle that signed the routers' certificates
    # (None: the system's CAs). Certificates are always verified, host names included.
    tls_ca_file: str | None = None
    # The local stage's AWS-compatible endpoint (and DynamoDB's own, when the tables run apart
    # on DynamoDB Local); unset in AWS. The variables botocore itself reads.
    endpoint_url: str | None = None
    dynamodb_endpoint_url: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            stage=env.get("MUDA_STAGE", "local"),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            backoff=_delays(env.get("MUDA_ROUTERS_BACKOFF_SECONDS", ",".join(map(str, DEFAULT_BACKOFF)))),
            timeout=float(env.get("MUDA_ROUTERS_TIMEOUT_SECONDS", 5)),
            secret_ttl=float(env.get("MUDA_ROUTERS_SECRET_TTL_SECONDS", 300)),
            health_workers=int(env.get("MUDA_ROUTERS_HEALTH_WORKERS", 8)),
            tls_ca_file=env.get("MUDA_ROUTERS_TLS_CA_FILE") or None,
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            dynamodb_endpoint_url=env.get("AWS_ENDPOINT_URL_DYNAMODB") or None,
        )

    def endpoint(self, service: str) -> str | None:
        if service == "dynamodb" and self.dynamodb_endpoint_url:
            return self.dynamodb_endpoint_url
        return self.endpoint_url

    def name(self, short: str) -> str:
        return f"muda-{self.stage}-{short}"

    @property
    def max_attempts(self) -> int:
        return len(self.backoff) + 1

    @property
    def table(self) -> str:
        return self.name("hotspot")

    @property
    def ops_table(self) -> str:
        return self.name("ops")

    @property
    def bus(self) -> str:
        return self.name("bus")

    @property
    def queue(self) -> str:
        return self.name("provisioning")
