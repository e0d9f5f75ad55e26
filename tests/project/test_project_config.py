"""Project config (spec-format §12): discovery, schema, environments, overlays, defaults, enforcement."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kneo import project as projects
from kneo import specs
from kneo.project import ProjectConfig, ProjectError
from tests.support.specs import echo_chain, human_flow

NO_ENV: dict[str, str] = {}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def make_project(root: Path, config: dict[str, Any], spec: dict[str, Any] | None = None) -> ProjectConfig:
    write(root / ".kneo" / "config.yaml", config)
    if spec is not None:
        write(root / "specs" / "main.yaml", spec)
    found = projects.load_project(root, NO_ENV)
    assert found is not None
    return found


# --- discovery -----------------------------------------------------------------------------------


def test_discovery_walks_up_and_the_root_is_the_parent_of_dot_kneo(tmp_path: Path) -> None:
    write(tmp_path / ".kneo" / "config.yml", {"project": {"name": "demo"}})
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    config = projects.load_project(nested, NO_ENV)
    assert config is not None
    assert (config.name, config.root, config.default_environment) == ("demo", tmp_path.resolve(), "dev")
    assert config.path == tmp_path / ".kneo" / "config.yml"


def test_discovery_order_and_kneo_serv_yaml_roots_at_its_directory(tmp_path: Path) -> None:
    write(tmp_path / "kneo_serv.yaml", {"project": {"name": "outer"}})
    inner = tmp_path / "inner"
    write(inner / "kneo_serv.yml", {"project": {"name": "inner"}})
    config = projects.load_project(inner, NO_ENV)
    assert config is not None and (config.name, config.root) == ("inner", inner.resolve())
    write(inner / ".kneo" / "config.yaml", {"project": {"name": "dot-kneo"}})
    config = projects.load_project(inner, NO_ENV)
    assert config is not None and config.name == "dot-kneo"


def test_explicit_config_env_var_must_exist_and_wins(tmp_path: Path) -> None:
    write(tmp_path / ".kneo" / "config.yaml", {"project": {"name": "walked"}})
    write(tmp_path / "conf" / "other.yaml", {"project": {"name": "explicit"}})
    config = projects.load_project(tmp_path, {"KNEO_PROJECT_CONFIG": "conf/other.yaml"})
    assert config is not None and (config.name, config.root) == ("explicit", (tmp_path / "conf").resolve())
    with pytest.raises(ProjectError, match="KNEO_PROJECT_CONFIG points to a missing file"):
        projects.load_project(tmp_path, {"KNEO_PROJECT_CONFIG": "nope.yaml"})


def test_no_config_is_none(tmp_path: Path) -> None:
    (tmp_path / ".kneo").mkdir()  # a state directory without a config is not a project
    assert projects.find_config(tmp_path, NO_ENV) is None


# --- schema --------------------------------------------------------------------------------------


def test_project_name_is_required_and_an_empty_file_is_an_empty_mapping(tmp_path: Path) -> None:
    path = write(tmp_path / "kneo_serv.yaml", "")
    with pytest.raises(ProjectError, match=r"project\.name: required"):
        projects.read_config(path)
    write(path, {"project": {"owner": "me"}})
    with pytest.raises(ProjectError, match=r"project\.name: required"):
        projects.read_config(path)
    write(path, "- a list\n")
    with pytest.raises(ProjectError, match="must be a mapping"):
        projects.read_config(path)


def test_schema_errors_are_collected_and_unknown_keys_warn(tmp_path: Path) -> None:
    path = write(
        tmp_path / "kneo_serv.yaml",
        {
            "project": {"name": "x", "tags": "solo"},
            "specs": {"overlays": {"prod": [3]}},
            "runtime_defaults": {"preferred_mode": "warp"},
            "model_defaults": {"prod": {"temperature": "hot"}},
            "retention": {"runs_days": -1},
            "environments": {"prod": {"policy_enforcement": {"require_guardrail": True}}},
            "enviroments": {},
        },
    )
    with pytest.raises(ProjectError) as caught:
        projects.read_config(path)
    message = caught.value.message
    for fragment in (
        "specs.overlays.prod: must be a list of strings",
        "runtime_defaults.preferred_mode: must be one of bridge, native, adapter",
        "model_defaults.prod.temperature: must be a number",
        "retention.runs_days: must be an integer >= 0 or null",
        "environments.prod.policy_enforcement: Unknown environment policy keys: require_guardrail",
    ):
        assert fragment in message
    write(path, {"project": {"name": "x"}, "enviroments": {}, "retention": {"runs_dayz": 1}})
    config = projects.read_config(path)
    assert "config.enviroments: unknown key (ignored)" in config.warnings
    assert "retention.runs_dayz: unknown key (ignored)" in config.warnings


def test_schema_defaults(tmp_path: Path) -> None:
    config = projects.read_config(write(tmp_path / "kneo_serv.yaml", {"project": {"name": "x"}, "specs": {}}))
    assert config.runtime_defaults == {"preferred_mode": "bridge", "allowed_modes": ["bridge"]}
    assert config.policy_defaults["checkpointing"] == {"enabled": True, "mode": "step"}
    assert config.retention["runs_days"] is None
    assert config.environment("prod") == projects.EnvironmentConfig()


# --- environments --------------------------------------------------------------------------------


def test_environment_selection_precedence(tmp_path: Path) -> None:
    config = projects.read_config(write(tmp_path / "k.yaml", {"project": {"name": "x", "default_environment": "qa"}}))
    assert projects.select_environment("prod", config, {"KNEO_ENV": "staging"}) == "prod"
    assert projects.select_environment(None, config, {"KNEO_ENV": "staging"}) == "staging"
    assert projects.select_environment(None, config, {}) == "qa"
    assert projects.select_environment(None, None, {}) == "dev"
    assert projects.select_environment("  ", None, {"KNEO_ENV": ""}) == "dev"
    with pytest.raises(ProjectError, match="Invalid environment name"):
        projects.select_environment("../prod", None, {})


def test_overlays_apply_in_order_and_policy_defaults_are_consumed(tmp_path: Path) -> None:
    config = make_project(
        tmp_path,
        {"project": {"name": "demo"}, "specs": {"overlays": {"prod": ["o1.yaml", "o2.yaml", "gone.yaml"]}}},
    )
    write(tmp_path / "o1.yaml", {"agent": {"model": {"name": "m1", "provider": "p"}}, "policy_defaults": {"a": 1}})
    write(tmp_path / "o2.yaml", {"agent": {"model": {"name": "m2"}}, "metadata": None, "policy_defaults": {"b": 2}})
    base = {**echo_chain(1), "metadata": {"name": "x"}}
    spec, policy_defaults, applied, diagnostics = projects.apply_overlays(base, config, "prod")
    assert spec["agent"]["model"] == {"name": "m2", "provider": "p"}
    assert "metadata" not in spec and "policy_defaults" not in spec
    assert policy_defaults == {"a": 1, "b": 2}
    assert applied == ["o1.yaml", "o2.yaml"]
    assert [(d.code, d.severity, d.path) for d in diagnostics] == [
        ("W_OVERLAY_MISSING", "warning", "specs.overlays.prod[2]")
    ]
    resolved = projects.resolve_document(base, config, "prod")
    assert "policy_defaults" not in resolved.spec
    assert resolved.spec["policies"]["project_defaults"]["a"] == 1
    assert specs.validate_document(resolved.spec).valid  # never E_SCHEMA from an overlay's policy_defaults
    assert projects.apply_overlays(base, config, "dev")[2] == []


@pytest.mark.parametrize("overlay", ["../outside.yaml", "/etc/passwd", "~/x.yaml"])
def test_overlay_and_default_spec_paths_are_confined(tmp_path: Path, overlay: str) -> None:
    root = tmp_path / "proj"
    write(tmp_path / "outside.yaml", {"agent": {"name": "evil"}})
    config = make_project(
        root, {"project": {"name": "x"}, "specs": {"default_spec": overlay, "overlays": {"dev": [overlay]}}}
    )
    with pytest.raises(ProjectError, match=r"project root|may not start"):
        projects.apply_overlays(echo_chain(1), config, "dev")
    with pytest.raises(ProjectError, match=r"project root|may not start"):
        projects.spec_source(None, config)


def test_environment_defaults_never_overwrite_the_spec(tmp_path: Path) -> None:
    config = make_project(
        tmp_path,
        {
            "project": {"name": "demo"},
            "runtime_defaults": {"allowed_modes": ["bridge", "native"], "fallback_mode": "native"},
            "model_defaults": {"prod": {"provider": "openai", "name": "gpt-4o", "temperature": 0.1, "extra": {"a": 1}}},
            "environments": {"prod": {"defaults": {"metadata": {"owner": "ops", "project": "no"}, "tools": {}}}},
            "policy_defaults": {"tracing": {"include_messages": True}},
        },
    )
    spec = echo_chain(1)
    spec["agent"]["model"] = {"name": "mine", "provider": "local", "extra": {"a": 2, "b": 3}}
    spec["metadata"] = {"environment": "custom"}
    out = projects.apply_environment_defaults(spec, config, "prod", {"checkpointing": {"mode": "node"}})
    assert spec["metadata"] == {"environment": "custom"}  # input untouched
    assert out["metadata"] == {"environment": "custom", "project": "demo", "owner": "ops"}
    # allowed_modes from the spec win; the default fallback 'native' is not allowed there, so it is skipped
    assert out["agent"]["runtime_preferences"] == {"preferred_mode": "bridge", "allowed_modes": ["bridge"]}
    assert out["agent"]["model"] == {"name": "mine", "provider": "local", "extra": {"a": 2, "b": 3}, "temperature": 0.1}
    assert out["tools"] == {}
    defaults = out["policies"]["project_defaults"]
    assert defaults["tracing"]["include_messages"] is True and defaults["checkpointing"]["mode"] == "node"
    assert specs.validate_document(out).valid


def test_model_defaults_fill_but_never_invent_an_invalid_model(tmp_path: Path) -> None:
    config = make_project(
        tmp_path,
        {
            "project": {"name": "demo"},
            "model_defaults": {"prod": {"provider": "openai", "name": "gpt-4o"}, "dev": {"temperature": 0.2}},
        },
    )
    spec = echo_chain(1)
    assert projects.apply_environment_defaults(spec, config, "prod", {})["agent"]["model"] == {
        "provider": "openai",
        "name": "gpt-4o",
    }
    assert "model" not in projects.apply_environment_defaults(spec, config, "dev", {})["agent"]
    spec["agent"]["model"] = "small"
    assert projects.apply_environment_defaults(spec, config, "dev", {})["agent"]["model"] == {
        "name": "small",
        "temperature": 0.2,
        "provider": "default",
    }
    spec["agent"]["model"] = {"name": "no-provider"}  # the author's schema error is not hidden
    assert "provider" not in projects.apply_environment_defaults(spec, config, "dev", {})["agent"]["model"]


def test_runtime_defaults_fill_an_agent_without_preferences(tmp_path: Path) -> None:
    config = make_project(
        tmp_path,
        {
            "project": {"name": "x"},
            "runtime_defaults": {"allowed_modes": ["bridge", "native"], "fallback_mode": "native"},
        },
    )
    spec = echo_chain(1)
    del spec["agent"]["runtime_preferences"]
    prefs = projects.apply_environment_defaults(spec, config, "dev", {})["agent"]["runtime_preferences"]
    assert prefs == {"allowed_modes": ["bridge", "native"], "preferred_mode": "bridge", "fallback_mode": "native"}


# --- enforcement and the whole path --------------------------------------------------------------


def test_environment_policy_errors_abort_with_error_lines(tmp_path: Path) -> None:
    policy = {"require_human_review": True, "blocked_diagnostic_codes": ["E_UNSAFE_FUNCTION_IMPORT"]}
    config = make_project(
        tmp_path,
        {
            "project": {"name": "x"},
            "environments": {
                "prod": {"policy_enforcement": policy},
                "dev": {"policy_enforcement": {**policy, "enabled": False}},
            },
        },
    )
    spec = echo_chain(1)
    spec["components"]["functions"] = {"f": {"implementation": "examples.functions.outline"}}
    with pytest.raises(projects.EnvironmentPolicyError) as caught:
        projects.resolve_document(spec, config, "prod")
    assert [d.code for d in caught.value.errors] == ["E_ENV_POLICY_DIAGNOSTIC", "E_ENV_POLICY_HUMAN_REVIEW"]
    assert caught.value.message.splitlines()[1:] == [
        "ERROR E_ENV_POLICY_DIAGNOSTIC: Environment 'prod' blocks diagnostic E_UNSAFE_FUNCTION_IMPORT.",
        "ERROR E_ENV_POLICY_HUMAN_REVIEW: Environment 'prod' requires a human approval workflow step.",
    ]
    # the allow-list matters: with 'examples' allowed only the human-review rule remains
    with pytest.raises(projects.EnvironmentPolicyError) as caught:
        projects.resolve_document(spec, config, "prod", allowed_modules=["examples"])
    assert [d.code for d in caught.value.errors] == ["E_ENV_POLICY_HUMAN_REVIEW"]
    assert projects.resolve_document(spec, config, "dev").environment == "dev"  # enabled: false
    assert projects.resolve_document(spec, config, "staging").environment == "staging"  # no policy
    assert projects.resolve_document(spec, config, "prod", enforce=False).spec["metadata"]["environment"] == "prod"
    reviewed = human_flow()
    assert projects.resolve_document(reviewed, config, "prod").spec["metadata"]["project"] == "x"


def test_resolve_spec_uses_the_default_spec_and_no_project_means_no_changes(tmp_path: Path) -> None:
    config = make_project(
        tmp_path, {"project": {"name": "demo"}, "specs": {"default_spec": "specs/main.yaml"}}, spec=echo_chain(2)
    )
    resolution = projects.resolve_spec(None, project=config, env="qa", environ=NO_ENV)
    assert resolution.source == (tmp_path / "specs" / "main.yaml").resolve()
    assert resolution.describe()["project"] == "demo"
    assert resolution.spec["metadata"] == {"project": "demo", "environment": "qa"}
    plain = projects.resolve_spec(str(tmp_path / "specs" / "main.yaml"), project=None, environ=NO_ENV)
    assert plain.spec == echo_chain(2) and plain.environment == "dev"
    with pytest.raises(projects.SpecPathMissing):
        projects.resolve_spec(None, project=None, environ=NO_ENV)
