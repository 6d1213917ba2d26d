"""Local stack hooks of the notifications domain: none needed — the bus rule and queue come from
infra/template.yaml, and the local event runtime runs the consumer like any SQS handler."""

from __future__ import annotations
