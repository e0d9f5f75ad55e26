"""Import allow-list / deny-list: a spec is data, nothing is ever imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kneo.specs import SpecInvalid, compile_document, module_allowed, validate_document

from .factories import base_spec


@pytest.mark.parametrize(
    ("module", "allowed", "ok"),
    [
        ("examples.app_functions", ("examples",), True),
        ("examples", ("examples",), True),
        ("examples2.x", ("examples",), False),
        ("other.examples", ("examples",), False),
        ("examples.app_functions", ("examples.app_functions",), True),
        ("examples.app", ("examples.app_functions",), False),
        ("examples.x", ("examples.",), True),
        ("examples.x", (), False),
        ("examples.x", ("", " "), False),
    ],
)
def test_module_allowed(module: str, allowed: tuple[str, ...], ok: bool) -> None:
    assert module_allowed(module, allowed) is ok


def _codes(spec: dict, allowed: tuple[str, ...]) -> list[tuple[str, str | None]]:
    return [
        (d.code, d.path)
        for d in validate_document(spec, allowed_modules=allowed).diagnostics
        if d.code.startswith("E_UNSAFE")
    ]


def test_default_allow_list_refuses_everything() -> None:
    diags = validate_document(base_spec()).diagnostics
    unsafe = [d for d in diags if d.code.startswith("E_UNSAFE")]
    assert [(d.code, d.path) for d in unsafe] == [
        ("E_UNSAFE_TOOL_IMPORT", "tools.search.implementation"),
        ("E_UNSAFE_FUNCTION_IMPORT", "components.functions.draft.implementation"),
    ]
    assert all("KNEO_SERV_ALLOWED_MODULES" in d.message for d in unsafe)


@pytest.mark.parametrize(
    "implementation",
    [
        "os.system",
        "subprocess.run",
        "builtins.eval",
        "eval",
        "breakpoint",
        "pickle.loads",
        "ctypes.CDLL",
        "importlib.import_module",
        "examples",
        "examples:fn",
        ".examples.fn",
        "examples.fn()",
        "examples2.fn",
    ],
)
def test_denied_or_unlisted_implementations(implementation: str) -> None:
    spec = base_spec()
    spec["tools"]["search"]["implementation"] = implementation
    spec["components"]["functions"]["draft"]["implementation"] = implementation
    allowed = ("examples", "os", "subprocess", "builtins", "pickle", "ctypes", "importlib")
    assert _codes(spec, allowed) == [
        ("E_UNSAFE_TOOL_IMPORT", "tools.search.implementation"),
        ("E_UNSAFE_FUNCTION_IMPORT", "components.functions.draft.implementation"),
    ]


def test_compile_never_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = base_spec()
    spec["tools"]["search"]["implementation"] = "kneo_specs_probe_module.tool"
    spec["components"]["functions"]["draft"]["implementation"] = "kneo_specs_probe_module.fn"
    before = set(sys.modules)
    plan = compile_document(spec, allowed_modules=("kneo_specs_probe_module",))
    assert plan["tools"]["search"]["implementation"] == "kneo_specs_probe_module.tool"
    assert set(sys.modules) == before
    with pytest.raises(SpecInvalid) as info:
        compile_document(spec, allowed_modules=("somewhere_else",))
    assert "ERROR E_UNSAFE_TOOL_IMPORT" in info.value.message
    assert set(sys.modules) == before


def test_package_import_is_pure() -> None:
    code = (
        "import sys, kneo.specs; "
        "bad = [m for m in ('flask', 'celery', 'sqlalchemy', 'requests', 'http.client', 'urllib.request') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
