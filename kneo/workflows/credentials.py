"""The credential inventory (contract §12.1, fixed: service tokens are an object of references):
which secrets are configured, never their values; each reading is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from kneo.audit.record import record_audit
from kneo.config import Settings
from kneo.errors import Unprocessable
from kneo.sandbox import SERVICE_PREFIX
from kneo.secrets import PROVIDER_ENV, SERVICE_TOKENS, extra_reference, provider_reference, reference


def check_extras(names: list[str], settings: Settings) -> None:
    """Only variables the operator named (secret allow-list, readiness secrets) are looked up."""
    allowed = settings.agents.sandbox.secrets | set(settings.health_mcp_secrets)
    refused = sorted({n for n in names if n not in allowed or n.upper().startswith(SERVICE_PREFIX)})
    if refused:
        raise Unprocessable(
            "extras may only name variables on the operator's secret allow-list (KNEO_SERV_SECRET_ALLOWLIST).",
            code="secret_not_allowed",
            extras=refused,
        )


def inventory_item(ref: dict[str, Any]) -> dict[str, Any]:
    """A reference with the 1.2 status fields; an environment variable has no known expiry and is
    never checked against its issuer."""
    return {**ref, "status": "present" if ref["present"] else "missing", "expires_at": None, "last_checked": None}


def credential_inventory(
    session: Session, actor: str, providers: list[str], extras: list[str], include_service_tokens: bool
) -> dict[str, Any]:
    """The inventory of secret references (never values), audited in ``session``."""
    inventory: dict[str, Any] = {
        "providers": {p: inventory_item(provider_reference(p)) for p in providers or PROVIDER_ENV},
        "extra": {e: inventory_item(extra_reference(e)) for e in extras},
    }
    if include_service_tokens:
        inventory["service_tokens"] = {t: inventory_item(reference(f"service:{t}", t)) for t in SERVICE_TOKENS}
    present = {section: sorted(k for k, v in refs.items() if v["present"]) for section, refs in inventory.items()}
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
