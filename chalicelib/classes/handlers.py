"""Classes event handlers: SQS consumers, timer kinds, schedules."""

from __future__ import annotations

from chalice import Blueprint

blueprint = Blueprint(__name__)
