"""Fast JSON responses: views build plain dicts, redact once, and return them as-is."""

from __future__ import annotations

from typing import Any

from flask import Response

from kneo.redaction import redact
from kneo.workflows.documents import dumps


def json_response(payload: Any, status: int = 200, *, redacted: bool = False) -> Response:
    """Serialize ``payload`` (redacting it unless already redacted)."""
    return Response(dumps(payload if redacted else redact(payload)), status=status, mimetype="application/json")
