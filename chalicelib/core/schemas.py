"""Models every product's API shares: the base of request bodies and of query strings, and the
one page model for ``?limit=``.

Request bodies are validated strictly by ``core.http`` (a bool or a string is never a number);
these bases add what every product wants besides: unknown body fields are refused, unknown query
parameters are ignored (cache busters, trackers).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class RequestBody(BaseModel):
    """The base of request bodies: an unknown field is a 422, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Query(BaseModel):
    """The base of query-string models (values arrive as text and are converted)."""

    model_config = ConfigDict(extra="ignore")


class Page(Query):
    """``?limit=``: how many items a list answers at most. A route whose list is longer or
    shorter subclasses it with its own bounds; its cursor (``before``/``after``) sits beside."""

    limit: int = Field(default=50, ge=1, le=200, description="How many items, at most.")
