"""Signed spec bundles (spec-format §13): SHA-256 digest + HMAC-SHA256 over canonical JSON."""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from .errors import SpecError
from .migrate import migrate_document

BUNDLE_KIND = "kneo.spec.bundle"
BUNDLE_VERSION = "v1"
DEFAULT_KEY_ID = "KNEO_SERV_SPEC_SIGNING_KEY"


def canonical_json(value: Any) -> bytes:
    """Keys sorted, compact separators, non-ASCII kept, UTF-8 encoded."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def spec_digest(spec: Any) -> str:
    return hashlib.sha256(canonical_json(spec)).hexdigest()


def _key_bytes(key: str | bytes) -> bytes:
    data = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    if not data:
        raise SpecError("Signing key must not be empty.", code="bundle_key_missing")
    return data


def _signature(unsigned: Mapping[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical_json(unsigned), hashlib.sha256).hexdigest()


def sign_bundle(
    spec: Mapping[str, Any],
    key: str | bytes,
    *,
    approved_by: str,
    environment: str | None = None,
    key_id: str = DEFAULT_KEY_ID,
    created_at: str | None = None,
) -> dict[str, Any]:
    """Build a signed bundle of ``spec`` (migrated only, no normalisation)."""
    key_data = _key_bytes(key)
    migrated, _applied = migrate_document(spec)
    bundle: dict[str, Any] = {
        "kind": BUNDLE_KIND,
        "version": BUNDLE_VERSION,
        "metadata": {
            "approved_by": approved_by,
            "environment": environment,
            "created_at": created_at or _dt.datetime.now(_dt.UTC).isoformat(),
        },
        "spec": migrated,
        "digest": {"algorithm": "SHA256", "value": spec_digest(migrated)},
    }
    bundle["signature"] = {
        "algorithm": "HMAC-SHA256",
        "key_id": key_id,
        "value": _signature(bundle, key_data),
    }
    return bundle


def verify_bundle(bundle: Any, key: str | bytes) -> dict[str, Any]:
    """``{valid, digest_valid, signature_valid, errors}`` for ``bundle`` under ``key``."""
    key_data = _key_bytes(key)
    errors: list[str] = []
    if not isinstance(bundle, Mapping):
        return {
            "valid": False,
            "digest_valid": False,
            "signature_valid": False,
            "errors": ["Bundle must be an object."],
        }
    if bundle.get("kind") != BUNDLE_KIND:
        errors.append("Invalid bundle kind.")
    if bundle.get("version") != BUNDLE_VERSION:
        errors.append("Invalid bundle version.")
    spec = bundle.get("spec")
    if not isinstance(spec, Mapping):
        errors.append("Bundle spec must be an object.")
        return {"valid": False, "digest_valid": False, "signature_valid": False, "errors": errors}
    digest = bundle.get("digest")
    claimed = digest.get("value") if isinstance(digest, Mapping) else None
    digest_valid = isinstance(claimed, str) and hmac.compare_digest(claimed, spec_digest(spec))
    if not digest_valid:
        errors.append("Spec digest does not match bundle contents.")
    signature = bundle.get("signature")
    claimed_sig = signature.get("value") if isinstance(signature, Mapping) else None
    unsigned = {k: v for k, v in bundle.items() if k != "signature"}
    signature_valid = isinstance(claimed_sig, str) and hmac.compare_digest(claimed_sig, _signature(unsigned, key_data))
    if not signature_valid:
        errors.append("Bundle signature is invalid.")
    return {
        "valid": not errors,
        "digest_valid": digest_valid,
        "signature_valid": signature_valid,
        "errors": errors,
    }
