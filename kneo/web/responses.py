"""Fast JSON responses: views build plain dicts, redact once, and return them as-is."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

from kneo.redaction import redact


def json_response(payload: Any, status: int = 200, *, redacted: bool = False) -> Response:
    """Serialize ``payload`` (redacting it unless already redacted)."""
    body = json.dumps(payload if redacted else redact(payload), separators=(",", ":"), default=str)
    return Response(body, status=status, mimetype="application/json")
