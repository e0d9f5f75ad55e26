"""Signed bundles: canonical JSON digest + HMAC-SHA256 signature, tamper detection."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json

import pytest

from kneo.specs import SpecError, canonical_json, sign_bundle, verify_bundle

SPEC = {"agent": {"name": "rédacteur"}, "components": {}}


def _bundle() -> dict:
    return sign_bundle(
        SPEC, "test-key-123", approved_by="alice", environment="prod", created_at="2024-01-01T00:00:00+00:00"
    )


def test_shape_and_independent_recomputation() -> None:
    bundle = _bundle()
    assert bundle["kind"] == "kneo.spec.bundle" and bundle["version"] == "v1"
    assert bundle["spec"]["version"] == "v1"  # migrated
    assert bundle["metadata"] == {
        "approved_by": "alice",
        "environment": "prod",
        "created_at": "2024-01-01T00:00:00+00:00",
    }
    canonical = json.dumps(bundle["spec"], sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert "rédacteur".encode() in canonical
    assert bundle["digest"] == {"algorithm": "SHA256", "value": hashlib.sha256(canonical).hexdigest()}
    unsigned = {k: v for k, v in bundle.items() if k != "signature"}
    expected = hmac.new(b"test-key-123", canonical_json(unsigned), hashlib.sha256).hexdigest()
    assert bundle["signature"] == {
        "algorithm": "HMAC-SHA256",
        "key_id": "KNEO_SERV_SPEC_SIGNING_KEY",
        "value": expected,
    }
    assert verify_bundle(bundle, "test-key-123") == {
        "valid": True,
        "digest_valid": True,
        "signature_valid": True,
        "errors": [],
    }


def test_pretty_printing_does_not_matter() -> None:
    bundle = json.loads(json.dumps(_bundle(), indent=2, sort_keys=True))
    assert verify_bundle(bundle, "test-key-123")["valid"]


def test_metadata_tampering_breaks_signature_only() -> None:
    bundle = _bundle()
    bundle["metadata"]["approved_by"] = "mallory"
    result = verify_bundle(bundle, "test-key-123")
    assert result == {
        "valid": False,
        "digest_valid": True,
        "signature_valid": False,
        "errors": ["Bundle signature is invalid."],
    }


def test_spec_tampering_breaks_both() -> None:
    bundle = _bundle()
    bundle["spec"]["agent"]["name"] = "evil"
    result = verify_bundle(bundle, "test-key-123")
    assert not result["digest_valid"] and not result["signature_valid"]
    assert result["errors"] == ["Spec digest does not match bundle contents.", "Bundle signature is invalid."]


def test_wrong_key_and_bad_envelope() -> None:
    assert verify_bundle(_bundle(), "other")["signature_valid"] is False
    bundle = copy.deepcopy(_bundle())
    bundle["kind"] = "x"
    bundle["version"] = "v9"
    assert verify_bundle(bundle, "test-key-123")["errors"][:2] == [
        "Invalid bundle kind.",
        "Invalid bundle version.",
    ]
    bundle["spec"] = []
    assert verify_bundle(bundle, "test-key-123") == {
        "valid": False,
        "digest_valid": False,
        "signature_valid": False,
        "errors": ["Invalid bundle kind.", "Invalid bundle version.", "Bundle spec must be an object."],
    }
    assert verify_bundle("nope", "k")["valid"] is False


def test_empty_key_refused() -> None:
    with pytest.raises(SpecError):
        sign_bundle(SPEC, "", approved_by="a")
    with pytest.raises(SpecError):
        verify_bundle(_bundle(), "")
