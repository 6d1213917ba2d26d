"""The one error type. Anything a client can cause is a ``MudaError`` rendered as
``{"error": {"code", "message"}}`` with its status; nothing a client sends yields a 500."""

from __future__ import annotations

from typing import Any


class MudaError(Exception):
    status = 400
    code = "bad_request"
    retry_after: int | None = None  # seconds, sent as ``Retry-After`` (429, 503)

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class BadRequest(MudaError):
    status, code = 400, "bad_request"


class Unauthorized(MudaError):
    status, code = 401, "unauthorized"


class PaymentRequired(MudaError):
    status, code = 402, "payment_required"


class Forbidden(MudaError):
    status, code = 403, "forbidden"


class NotFound(MudaError):
    status, code = 404, "not_found"


class Conflict(MudaError):
    status, code = 409, "conflict"


class Unprocessable(MudaError):
    status, code = 422, "validation_error"


class TooManyRequests(MudaError):
    """A rate limit is full; ``retry_after`` seconds until it is not (the ``Retry-After`` header)."""

    status, code = 429, "too_many_requests"

    def __init__(self, message: str, retry_after: float, *, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = max(1, int(retry_after))


class Unavailable(MudaError):
    status, code = 503, "unavailable"


class Contended(Unavailable):
    """A write still refused for contention alone after ``db.retry_on_conflict``'s tries: many
    requests on one item at once. Nothing was written; the client tries again shortly."""

    code = "contention"
    retry_after = 1

    def __init__(self) -> None:
        super().__init__("too many changes to this at once: nothing was written, try again in a second")
