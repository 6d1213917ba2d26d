"""One typed settings object; nothing else in the code base reads ``os.environ``.

Names of AWS resources are derived from the stage (``muda-<stage>-<name>``) so the template,
the Chalice config and the local stack agree without a list of names to keep in sync.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal, TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Stage = Literal["local", "dev", "prod", "test"]
S = TypeVar("S", bound=BaseSettings)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MUDA_", extra="ignore", frozen=True)

    stage: Stage = "local"
    region: str = Field(default="us-east-1", validation_alias="AWS_DEFAULT_REGION")
    # Where the local stage finds its AWS-compatible endpoint (moto_server or LocalStack).
    # In dev/prod this stays unset and boto3 talks to real AWS.
    endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")
    # DynamoDB's own endpoint when it is not the edge one (the local stack: DynamoDB Local beside
    # moto_server); the same variable botocore reads for its per-service endpoint.
    dynamodb_endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL_DYNAMODB")

    # Timers: SQS delay up to this many seconds, EventBridge Scheduler beyond it.
    timer_sqs_max_delay: int = Field(default=900, ge=1, le=900)
    # Scheduler fires within a minute of its at() time: aim this far before due_at and let
    # the consumer re-delay the remainder on SQS.
    timer_scheduler_lead_seconds: int = Field(default=120, ge=0)
    # The sweeper re-sends pending timers still unclaimed this long after due_at, and sweeps
    # every `timer_sweep_interval_seconds` (a once-a-minute schedule that sweeps twice, 30 s
    # apart: EventBridge rates stop at a minute). A timer whose message is lost therefore fires
    # at most grace + interval = 20 + 30 = 50 s after due, plus one sweep and one delivery:
    # within the minute the README promises.
    timer_sweep_grace_seconds: float = Field(default=20, ge=0)
    timer_sweep_interval_seconds: float = Field(default=30, gt=0)
    # A claim is a lease: a handler that dies mid-run frees its timer after this long.
    timer_lease_seconds: int = Field(default=300, ge=1)
    # A handler that keeps failing is marked failed after this many attempts (its SQS message
    # reaches the DLQ on the same count and can be redriven).
    timer_max_attempts: int = Field(default=5, ge=1)
    # Shards of the sweeper's sparse GSI, so pending timers do not share one hot partition.
    timer_sweep_shards: int = Field(default=4, ge=1, le=64)
    scheduler_role_arn: str | None = None

    # Auth: a JWKS from a URL (Cognito in dev/prod) or from an SSM parameter (local stage).
    auth_issuer: str = "muda-local"
    auth_audience: str = "muda"
    auth_jwks_url: str | None = None
    auth_jwks_parameter: str | None = None

    # The local event runtime fires @app.schedule handlers every N seconds instead of their
    # rate when set (e2e tests and demos run scaled down).
    local_schedule_seconds: float | None = None

    # Health (``/health``, ``muda health``): the local event runtime writes a heartbeat every
    # `health_beat_seconds`; it, the sweeper's last run and the oldest visible message of each
    # work queue are stale past these ages.
    health_beat_seconds: float = Field(default=5, gt=0)
    health_runtime_stale_seconds: float = Field(default=30, gt=0)
    health_sweeper_stale_seconds: float = Field(default=150, gt=0)
    health_queue_stale_seconds: float = Field(default=120, gt=0)

    @property
    def prefix(self) -> str:
        return f"muda-{self.stage}"

    def name(self, resource: str) -> str:
        """Physical name of a stage resource: ``muda-<stage>-<resource>``."""
        return f"{self.prefix}-{resource}"

    @property
    def timers_table(self) -> str:
        return self.name("timers")

    @property
    def ops_table(self) -> str:
        return self.name("ops")

    @property
    def timers_queue(self) -> str:
        return self.name("timers")

    @property
    def events_queue(self) -> str:
        return self.name("events")

    @property
    def event_bus(self) -> str:
        return self.name("bus")

    @property
    def scheduler_group(self) -> str:
        return self.name("timers")

    @property
    def signing_key_secret(self) -> str:
        """Secrets Manager id of the dev token signing key (local stage only)."""
        return f"muda/{self.stage}/auth/dev-signing-key"

    @property
    def tables(self) -> list[str]:
        """Every registered table (``core.registry``), as in infra/template.yaml (a test checks)."""
        from chalicelib.core import registry

        return [self.name(t) for t in registry.tables()]

    @property
    def queues(self) -> list[str]:
        """Every registered work queue; each has a ``<name>-dlq``."""
        from chalicelib.core import registry

        return [self.name(q) for q in registry.queues()]

    @property
    def is_local(self) -> bool:
        return self.stage in ("local", "test")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


_domain: dict[type[BaseSettings], BaseSettings] = {}


def domain_settings(cls: type[S]) -> S:
    """A domain's own settings class (env prefix ``MUDA_<DOMAIN>_``), cached like the core's.

    Each product keeps its knobs beside its code instead of growing one shared class; they are
    read once and forgotten together by ``reset_settings``.
    """
    if cls not in _domain:
        _domain[cls] = cls()
    return _domain[cls]  # type: ignore[return-value]


def reset_settings() -> None:
    """Forget the cached settings (tests that change the environment)."""
    get_settings.cache_clear()
    _domain.clear()
