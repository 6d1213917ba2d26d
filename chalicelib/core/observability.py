"""Powertools Logger, Metrics and Tracer, set up once for the whole app."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.core.config import get_settings

SERVICE = "muda"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="Muda", service=SERVICE)
# X-Ray on AWS; off in the local stage and in tests (no daemon to send to).
tracer = Tracer(service=SERVICE, disabled=get_settings().is_local)


def flush_metrics() -> None:
    """Emit the metrics gathered by a handler (Chalice handlers are not Powertools-wrapped)."""
    try:
        metrics.flush_metrics()
    except Exception:  # metrics must never fail the work they describe
        logger.exception("metrics flush failed")


__all__ = ["MetricUnit", "flush_metrics", "logger", "metrics", "tracer"]
