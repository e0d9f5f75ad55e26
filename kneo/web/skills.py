"""The read-only skill catalog (``GET /skills``): what lies under ``skills/`` of the skills root."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import fields, validate

from kneo.specs.skills import skill_catalog
from kneo.web.auth import require_scope
from kneo.web.extensions import Blueprint
from kneo.web.request_scope import settings
from kneo.web.responses import json_response
from kneo.web.schemas import PageQuerySchema
from kneo.web.schemas.admin import SkillListResponseSchema
from kneo.workflows.queries import Page

blp = Blueprint("skills", __name__, description="The skill catalog (nothing is loaded or compiled).")
SKILL_SORT = ("name", "path")


class SkillQuerySchema(PageQuerySchema):
    sort_by = fields.String(load_default="name", validate=validate.OneOf(SKILL_SORT))
    sort_order = fields.String(load_default="asc", validate=validate.OneOf(["asc", "desc"]))


@blp.route("/skills")
class Skills(MethodView):
    @require_scope("specs:read")
    @blp.arguments(SkillQuerySchema, location="query")
    @blp.response(200, SkillListResponseSchema)
    def get(self, query: dict[str, Any]) -> Response:
        """Discoverable skills ``{name, description, path}``, sorted and paged."""
        page = Page(query["limit"], query["offset"], query["sort_by"], query["sort_order"])
        catalog = sorted(skill_catalog(settings().skills), key=lambda s: s[page.sort_by] or "")
        if page.sort_order == "desc":
            catalog.reverse()
        items = catalog[page.offset : page.offset + page.limit]
        return json_response({"skills": items, **page.meta(len(items), len(catalog))})
