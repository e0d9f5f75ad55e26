"""Every operation of /openapi.json documents its success answer with a schema (fast, in process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kneo.config import load_settings
from kneo.web import create_app
from kneo.web.schemas.runs import RunStatusResponseSchema

METHODS = ("get", "post", "put", "delete", "patch")


def document(tmp_path: Path) -> dict[str, Any]:
    app = create_app(load_settings({"KNEO_SERV_STATE_DIR": str(tmp_path)}))
    return app.test_client().get("/openapi.json").get_json()  # type: ignore[no-any-return]


def resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = doc["components"][section][name]
    return node


def test_every_success_answer_has_a_schema(tmp_path: Path) -> None:
    doc = document(tmp_path)
    untyped = []
    operations = 0
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            operations += 1
            successes = {code: resolve(doc, r) for code, r in item[method]["responses"].items() if code[0] == "2"}
            schemas = [r.get("content", {}).get("application/json", {}).get("schema") for r in successes.values()]
            if not successes or not all(schemas):
                untyped.append(f"{method.upper()} {path}")
    assert operations >= 60
    assert untyped == []


def test_closed_objects_and_nullable_fields(tmp_path: Path) -> None:
    schemas = document(tmp_path)["components"]["schemas"]
    status = schemas["RunStatusResponse"]
    assert status["additionalProperties"] is False
    assert {"run_id", "status", "metadata", "trace_event_count"} <= set(status["required"])
    assert status["properties"]["output_text"]["type"] == ["string", "null"]
    assert schemas["RunMetadata"]["additionalProperties"] is True, "run metadata is free-form"
    assert schemas["CheckpointState"].get("required") is None, "older snapshots may lack fields"


def test_response_schemas_never_serialise() -> None:
    """A view that returned a dict would be dumped through its schema; that is refused loudly."""
    with pytest.raises(TypeError, match="only documents"):
        RunStatusResponseSchema().dump({"run_id": "r", "status": "completed"})
