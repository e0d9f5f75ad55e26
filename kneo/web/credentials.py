"""Credential inventory (contract §12.1, fixed: service tokens are an object of references)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import fields

from kneo.audit.record import record_audit
from kneo.db import transaction
from kneo.errors import Unprocessable
from kneo.sandbox import SERVICE_PREFIX
from kneo.secrets import PROVIDER_ENV, SERVICE_TOKENS, extra_reference, provider_reference, reference
from kneo.web.auth import current_principal, require_scope
from kneo.web.context import db, settings
from kneo.web.extensions import Blueprint
from kneo.web.responses import json_response
from kneo.web.schemas import StrictSchema
from kneo.web.schemas.admin import CredentialInventoryResponseSchema


def _check_extras(names: list[str]) -> None:
    """Only variables the operator named (secret allow-list, readiness secrets) are looked up."""
    config = settings()
    allowed = config.agents.sandbox.secrets | set(config.health_mcp_secrets)
    refused = sorted({n for n in names if n not in allowed or n.upper().startswith(SERVICE_PREFIX)})
    if refused:
        raise Unprocessable(
            "extras may only name variables on the operator's secret allow-list (KNEO_SERV_SECRET_ALLOWLIST).",
            code="secret_not_allowed",
            extras=refused,
        )


blp = Blueprint("credentials", __name__, description="Which secrets are configured (never their values).")


class CredentialQuerySchema(StrictSchema):
    providers = fields.List(fields.String(), load_default=list)
    extras = fields.List(fields.String(), load_default=list)
    include_service_tokens = fields.Boolean(load_default=True)


def inventory_item(ref: dict[str, Any]) -> dict[str, Any]:
    """A reference with the 1.2 status fields; an environment variable has no known expiry and is
    never checked against its issuer."""
    return {**ref, "status": "present" if ref["present"] else "missing", "expires_at": None, "last_checked": None}


@blp.route("/security/credentials")
class Credentials(MethodView):
    @require_scope("credentials:read")
    @blp.arguments(CredentialQuerySchema, location="query")
    @blp.response(200, CredentialInventoryResponseSchema)
    def get(self, query: dict[str, Any]) -> Response:
        """The inventory of provider, extra and service-token references."""
        _check_extras(query["extras"])
        inventory = credential_inventory(
            current_principal().name, query["providers"], query["extras"], query["include_service_tokens"]
        )
        return json_response({"inventory": inventory}, redacted=True)


def credential_inventory(
    actor: str, providers: list[str], extras: list[str], include_service_tokens: bool
) -> dict[str, Any]:
    """The inventory of secret references (never values), audited as it is read."""
    inventory: dict[str, Any] = {
        "providers": {p: inventory_item(provider_reference(p)) for p in providers or PROVIDER_ENV},
        "extra": {e: inventory_item(extra_reference(e)) for e in extras},
    }
    if include_service_tokens:
        inventory["service_tokens"] = {t: inventory_item(reference(f"service:{t}", t)) for t in SERVICE_TOKENS}
    present = {section: sorted(k for k, v in refs.items() if v["present"]) for section, refs in inventory.items()}
    session = db(write=True)
    with transaction(session):
        record_audit(
            session,
            "credential.inventory_accessed",
            actor=actor,
            metadata={
                "providers_requested": providers,
                "extras_requested": extras,
                "include_service_references": include_service_tokens,
                "provider_count": len(inventory["providers"]),
                "extra_count": len(inventory["extra"]),
                "service_reference_count": len(inventory.get("service_tokens", {})),
                "providers_present": present["providers"],
                "extras_present": present["extra"],
                "service_references_present": present.get("service_tokens", []),
            },
        )
    return inventory
