"""Audit listing (contract §1.10)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from kneo.audit.record import audit_event_view
from kneo.web.auth import require_scope
from kneo.web.extensions import Blueprint
from kneo.web.request_scope import db
from kneo.web.responses import json_response
from kneo.web.schemas import AuditQuerySchema
from kneo.web.schemas.admin import AuditEventListResponseSchema
from kneo.workflows import queries
from kneo.workflows.serialize import reviewer_view

blp = Blueprint("audit", __name__, description="The audit trail, newest first.")


@blp.route("/audit-events")
class AuditEvents(MethodView):
    @require_scope("audit:read")
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditEventListResponseSchema)
    def get(self, query: dict[str, Any]) -> Response:
        """List audit events (filters AND-combined)."""
        page = queries.Page(query["limit"], query["offset"], query["sort_by"], query["sort_order"])
        events, total = queries.list_audit(db(), query, page)
        items = [audit_event_view(e, query["include_hashes"]) for e in events]
        return json_response(reviewer_view({"events": items, **page.meta(len(items), total)}), redacted=True)
