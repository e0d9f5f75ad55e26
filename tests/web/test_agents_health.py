"""/readyz provider and MCP secret checks (contract §6): references only, 503 when one is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from kneo.config import load_settings
from kneo.web import create_app


def _client(tmp_path: Path) -> object:
    settings = load_settings(
        {
            "KNEO_SERV_STATE_DIR": str(tmp_path),
            "KNEO_SERV_HEALTH_PROVIDERS": "openai",
            "KNEO_SERV_HEALTH_MCP_SECRETS": "MCP_TOKEN",
        }
    )
    return create_app(settings).test_client()


def test_missing_provider_and_mcp_secrets_make_readyz_503(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("MCP_TOKEN", raising=False)
    response = _client(tmp_path).get("/readyz")  # type: ignore[attr-defined]
    assert response.status_code == 503
    detail = response.get_json()["detail"]
    assert detail["error"] == "not_ready"
    checks = detail["metadata"]["checks"]
    assert checks["providers"] == {
        "name": "providers",
        "ok": False,
        "items": {"openai": {"name": "provider:openai", "env_var": "OPENAI_API_KEY", "present": False, "value": None}},
    }
    assert checks["mcp"]["items"]["MCP_TOKEN"] == {
        "name": "extra:MCP_TOKEN",
        "env_var": "MCP_TOKEN",
        "present": False,
        "value": None,
    }


def test_present_secrets_are_ready_and_never_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "readyz-provider-key")
    monkeypatch.setenv("MCP_TOKEN", "readyz-mcp-token")
    response = _client(tmp_path).get("/readyz")  # type: ignore[attr-defined]
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_data(as_text=True)
    assert "readyz-provider-key" not in body and "readyz-mcp-token" not in body
    checks = response.get_json()["metadata"]["checks"]
    assert checks["mcp"]["items"]["MCP_TOKEN"]["value"] == "[REDACTED]"
    assert checks["providers"]["ok"] is True
    assert checks["runtime_registry"]["names"] == ["bridge", "native"]
