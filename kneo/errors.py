"""The platform's one exception family; each error has a stable code and an HTTP status."""

from __future__ import annotations

from typing import Any


class KneoError(Exception):
    """Base of every deliberate platform error."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra

    def to_detail(self) -> dict[str, Any]:
        """The ``detail`` object of the contract's error envelope."""
        return {"error": self.code, "message": self.message, **self.extra}


class BadRequest(KneoError):
    status = 400
    code = "bad_request"


class Unauthorized(KneoError):
    status = 401
    code = "unauthorized"


class Forbidden(KneoError):
    status = 403
    code = "forbidden"


class NotFound(KneoError):
    status = 404
    code = "not_found"


class Conflict(KneoError):
    status = 409
    code = "conflict"


class Gone(KneoError):
    status = 410
    code = "gone"


class PayloadTooLarge(KneoError):
    status = 413
    code = "payload_too_large"


class Unprocessable(KneoError):
    status = 422
    code = "unprocessable"


class ServiceUnavailable(KneoError):
    status = 503
    code = "service_unavailable"
