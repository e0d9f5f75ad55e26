"""Credential inventory route (contract §12.1)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import fields

from kneo.db import transaction
from kneo.web.auth import current_principal, require_scope
from kneo.web.extensions import Blueprint
from kneo.web.request_scope import db, settings
from kneo.web.responses import json_response
from kneo.web.schemas import StrictSchema
from kneo.web.schemas.admin import CredentialInventoryResponseSchema
from kneo.workflows.credentials import check_extras, credential_inventory

blp = Blueprint("credentials", __name__, description="Which secrets are configured (never their values).")


class CredentialQuerySchema(StrictSchema):
    providers = fields.List(fields.String(), load_default=list)
    extras = fields.List(fields.String(), load_default=list)
    include_service_tokens = fields.Boolean(load_default=True)


def read_inventory(actor: str, providers: list[str], extras: list[str], include_service_tokens: bool) -> dict[str, Any]:
    """The audited inventory, in its own transaction (shared with the console)."""
    session = db(write=True)
    with transaction(session):
        return credential_inventory(session, actor, providers, extras, include_service_tokens)


@blp.route("/security/credentials")
class Credentials(MethodView):
    @require_scope("credentials:read")
    @blp.arguments(CredentialQuerySchema, location="query")
    @blp.response(200, CredentialInventoryResponseSchema)
    def get(self, query: dict[str, Any]) -> Response:
        """The inventory of provider, extra and service-token references."""
        check_extras(query["extras"], settings())
        inventory = read_inventory(
            current_principal().name, query["providers"], query["extras"], query["include_service_tokens"]
        )
        return json_response({"inventory": inventory}, redacted=True)
