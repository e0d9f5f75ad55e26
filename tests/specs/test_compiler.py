"""compile_document: the plan contract, targets, skills, summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kneo.sandbox import SkillRoot
from kneo.specs import (
    SpecError,
    SpecInvalid,
    SpecNotFound,
    SpecParseError,
    SpecPathConfined,
    compile_document,
    compile_summary,
    explain_document,
    validate_document,
)

from .factories import ALLOWED, base_spec, with_graph, with_orchestration

DATA = Path(__file__).parent / "data"


def test_plan_top_level_and_root_agent() -> None:
    plan = compile_document(base_spec(), allowed_modules=ALLOWED)
    json.dumps(plan)
    assert plan["plan_version"] == 1
    assert (plan["target"], plan["root_agent"], plan["root_workflow"]) == ("workflow", "__root__", "__root__")
    assert list(plan["agents"]) == ["__root__", "writer"]
    assert list(plan["workflows"]) == ["__root__", "sub"]
    assert plan["spec_name"] == "demo"
    assert plan["functions"] == {"draft": {"implementation": "examples.fns.draft"}}
    assert plan["tools"]["search"] == {
        "description": "Search",
        "parameters": {},
        "implementation": "examples.fns.search",
        "mcp": None,
        "agent": None,
    }
    root = plan["agents"]["__root__"]
    assert root["strategy"] == "simple" and root["max_iterations"] is None
    assert root["model"]["provider"] == "dummy"
    assert root["runtime"] == {
        "preferred_mode": "bridge",
        "allowed_modes": None,
        "fallback_mode": None,
        "native_provider": None,
        "adapter_ref": None,
    }
    assert root["tools"] == ["search"]
    assert root["tool_permissions"]["allowed_domains"] == ["example.com"]
    assert root["guardrails"] == {"input": [], "output": [], "tool": [], "workflow": []}
    assert (root["memory"], root["skills"], root["as_agent"], root["append_mode"]) == (None, [], None, "auto")
    assert plan["agents"]["writer"]["system_prompt"] == ""
    assert plan["humans"]["reviewer"] == {
        "description": "Approve?",
        "assignee": None,
        "timeout_seconds": None,
        "on_timeout": "fail",
        "escalation_assignee": None,
        "escalation_timeout_seconds": None,
        "request_type": "approval",
        "allow_edit": False,
        "options": None,
        "default_option": None,
        "response_role": None,
        "context": None,
        "title": "Approve?",
        "prompt": "Approve?",
    }


def test_sequential_steps_and_disabled_dropped() -> None:
    spec = base_spec()
    spec["workflow"]["steps"][0].update(enabled=False)
    spec["workflow"]["steps"][2].update(on_error="retry", max_retries=2, timeout_seconds=5)
    wf = compile_document(spec, allowed_modules=ALLOWED)["workflows"]["__root__"]
    assert wf["type"] == "sequential" and wf["name"] == "sequential-workflow"
    assert [s["id"] for s in wf["steps"]] == ["approve", "write"]
    assert wf["steps"][1] == {
        "id": "write",
        "kind": "agent",
        "ref": "writer",
        "on_error": "retry",
        "fallback_ref": None,
        "max_retries": 2,
        "timeout_seconds": 5,
        "retry_backoff_seconds": None,
    }


def test_graph_plan() -> None:
    spec = with_graph()
    spec["workflow"]["nodes"]["b"]["id"] = "other-id"
    spec["workflow"]["edges"][0]["label"] = "go"
    wf = compile_document(spec, allowed_modules=ALLOWED)["workflows"]["__root__"]
    assert (wf["start"], wf["max_steps"], wf["name"]) == ("a", 50, "graph-workflow")
    assert wf["nodes"]["b"]["id"] == "b"
    assert wf["edges"] == [
        {
            "from": "a",
            "to": "b",
            "condition": {
                "type": "output_contains",
                "value": "x",
                "key": None,
                "case_sensitive": False,
                "conditions": None,
                "condition": None,
            },
            "label": "go",
        }
    ]


@pytest.mark.parametrize(
    ("kind", "extra", "expected"),
    [
        ("concurrent", {}, {"max_iterations": None, "selector": None, "rounds": None}),
        (
            "handoff",
            {},
            {"max_iterations": 2, "selector": {"type": "sequence", "sequence": []}, "rounds": None},
        ),
        (
            "handoff",
            {"selector": {"sequence": ["a", "b", "a"]}},
            {
                "max_iterations": 3,
                "selector": {"type": "sequence", "sequence": ["a", "b", "a"]},
                "rounds": None,
            },
        ),
        ("group_chat", {"rounds": 3}, {"max_iterations": 6, "selector": None, "rounds": 3}),
        ("group-chat", {"max_iterations": 1}, {"max_iterations": 1, "selector": None, "rounds": 1}),
    ],
)
def test_orchestration_plans(kind: str, extra: dict, expected: dict) -> None:
    wf = compile_document(with_orchestration(kind, **extra), allowed_modules=ALLOWED)["workflows"]["__root__"]
    assert wf["type"] == kind.replace("_", "-")
    assert wf["name"] == f"{kind.replace('_', '-')}-workflow"
    assert [p["id"] for p in wf["participants"]] == ["a", "b"]
    assert {k: wf[k] for k in expected} == expected


def test_target_agent_and_missing_workflow() -> None:
    plan = compile_document(base_spec(), target="agent", allowed_modules=ALLOWED)
    assert (plan["target"], plan["root_workflow"]) == ("agent", None)
    spec = base_spec()
    del spec["workflow"]
    plan = compile_document(spec, allowed_modules=ALLOWED)
    assert (plan["target"], plan["root_workflow"]) == ("agent", None)
    assert "__root__" not in plan["workflows"]
    with pytest.raises(SpecError) as info:
        compile_document(spec, target="robot")
    assert info.value.code == "spec_target_invalid"


def test_tool_selection_include_minus_exclude_and_mcp_defaults() -> None:
    spec = base_spec()
    spec["tools"]["remote"] = {"description": "r", "mcp": {"server": "srv"}}
    spec["mcp_servers"] = {"srv": {"transport": "stdio", "command": "python", "args": ["s.py"]}}
    spec["agent"]["tools"]["include"] = ["search", "remote", "search"]
    plan = compile_document(spec, allowed_modules=ALLOWED)
    assert plan["agents"]["__root__"]["tools"] == ["search", "remote"]
    assert plan["tools"]["remote"]["mcp"] == {"server": "srv", "name": "remote"}
    assert plan["mcp_servers"] == {"srv": {"transport": "stdio", "command": "python", "args": ["s.py"]}}


def test_spec_invalid_lists_errors() -> None:
    spec = base_spec()
    spec["workflow"]["steps"][2]["ref"] = "ghost"
    with pytest.raises(SpecInvalid) as info:
        compile_document(spec, allowed_modules=ALLOWED)
    assert info.value.code == "spec_invalid"
    assert [d.code for d in info.value.diagnostics] == ["E_STEP_AGENT_REF"]
    assert "ERROR E_STEP_AGENT_REF: Agent component 'ghost' is referenced but not defined." in info.value.message


def _with_skill(source: str) -> dict:
    spec = base_spec()
    spec["skills"] = {"review": {"source": source, "description": "Reviews"}}
    spec["agent"]["skills"] = ["review"]
    return spec


def test_skills_loaded_under_root() -> None:
    plan = compile_document(_with_skill("skills/review"), allowed_modules=ALLOWED, skills=SkillRoot(DATA))
    skill = plan["skills"]["review"]
    assert skill["instructions"].strip() == "Check correctness first."
    assert skill["metadata"] == {
        "name": "review",
        "description": "Review code carefully.",
        "tags": ["quality"],
    }
    assert skill["description"] == "Reviews"
    assert plan["agents"]["__root__"]["skills"] == ["review"]
    single_spec = _with_skill(str(DATA / "skills" / "single.md"))
    single = compile_document(single_spec, allowed_modules=ALLOWED, skills=SkillRoot(DATA))["skills"]["review"]
    assert single["instructions"] == "Single-file skill body.\n" and single["metadata"] == {}
    unread = compile_document(_with_skill("skills/review"), allowed_modules=ALLOWED)["skills"]["review"]
    assert unread["instructions"] is None


@pytest.mark.parametrize("source", ["/etc", "/"])
def test_skill_source_confined(source: str) -> None:
    with pytest.raises(SpecPathConfined):
        compile_document(_with_skill(source), allowed_modules=ALLOWED, skills=SkillRoot(DATA))


@pytest.mark.parametrize("source", ["../factories.py", "skills/../../x", "~/skills"])
def test_skill_source_with_parent_or_home_is_a_schema_error(source: str) -> None:
    report = validate_document(_with_skill(source), allowed_modules=ALLOWED)
    assert [(d.code, d.path) for d in report.diagnostics] == [("E_SCHEMA", None)]
    assert "skills.review.source" in report.diagnostics[0].message


def test_skill_source_missing() -> None:
    with pytest.raises(SpecNotFound) as info:
        compile_document(_with_skill("skills/nope"), allowed_modules=ALLOWED, skills=SkillRoot(DATA))
    assert "Skill source does not exist" in info.value.message


@pytest.mark.parametrize("source", [".kneo/kneo_runs.sqlite", "skills/.hidden", "./.git/config"])
def test_skill_source_never_hidden(source: str) -> None:
    with pytest.raises(SpecPathConfined):
        compile_document(_with_skill(source), allowed_modules=ALLOWED, skills=SkillRoot(DATA))


def test_skill_sources_refused_without_a_skills_root() -> None:
    with pytest.raises(SpecPathConfined) as info:
        compile_document(_with_skill("skills/review"), allowed_modules=ALLOWED, skills=SkillRoot(None))
    assert "KNEO_SERV_SKILLS_ROOT" in info.value.message


def test_skill_files_are_text_within_the_size_limit(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "run.sqlite").write_bytes(b"SQLite format 3\x00")
    with pytest.raises(SpecParseError, match="type is not allowed"):
        compile_document(_with_skill("bundle/run.sqlite"), allowed_modules=ALLOWED, skills=SkillRoot(tmp_path))
    (bundle / "README.md").write_text("x" * 600)
    (bundle / "skill.yaml").write_text("name: big\ndescription: " + "y" * 600)
    with pytest.raises(SpecParseError, match="size limit"):
        compile_document(_with_skill("bundle"), allowed_modules=ALLOWED, skills=SkillRoot(tmp_path, max_bytes=1000))
    (bundle / ".env").write_text("SECRET=1")
    plan = compile_document(_with_skill("bundle"), allowed_modules=ALLOWED, skills=SkillRoot(tmp_path, 2000))
    assert plan["skills"]["review"]["resources"] == ["run.sqlite"]


def test_summary_and_explain() -> None:
    spec = base_spec()
    spec["components"]["agents"]["alpha"] = {"name": "Alpha"}
    assert compile_summary(spec) == {
        "has_root_agent": True,
        "has_root_workflow": True,
        "component_agents": ["alpha", "writer"],
    }
    assert explain_document(spec) == {
        "summary": {
            "root_agent": "root",
            "root_workflow": "sequential-workflow",
            "component_agents": ["alpha", "writer"],
        }
    }
    with pytest.raises(SpecInvalid):
        explain_document({"version": "v1"})


def test_compile_does_not_mutate_input() -> None:
    spec = base_spec()
    spec["agent"]["tools"] = ["search"]
    snapshot = json.dumps(spec, sort_keys=True)
    compile_document(spec, allowed_modules=ALLOWED)
    assert json.dumps(spec, sort_keys=True) == snapshot


def test_skill_bundle_symlink_escape(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    bundle = tmp_path / "root" / "bundle"
    bundle.mkdir(parents=True)
    (bundle / "README.md").symlink_to(secret)
    with pytest.raises(SpecPathConfined):
        compile_document(_with_skill("bundle"), allowed_modules=ALLOWED, skills=SkillRoot(tmp_path / "root"))
    (bundle / "README.md").unlink()
    (bundle / "README.md").write_text("ok")
    (bundle / "skill.json").write_text('{"name": "b", "tags": ["t"]}')
    (bundle / "extra.txt").write_text("resource")
    root = SkillRoot(tmp_path / "root")
    skill = compile_document(_with_skill("bundle"), allowed_modules=ALLOWED, skills=root)["skills"]
    assert skill["review"]["instructions"] == "ok"
    assert skill["review"]["metadata"] == {"name": "b", "tags": ["t"]}
    assert skill["review"]["resources"] == ["extra.txt"]
