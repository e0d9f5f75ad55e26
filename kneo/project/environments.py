"""Environment selection, overlays and environment defaults (spec-format §12.1, §12.2).

Every function returns a new document; inputs are never modified.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any

from kneo.specs import Diagnostic, SpecError, deep_merge
from kneo.specs.loading import MAX_FILE_BYTES, parse_text, to_plain

from .config import DEFAULT_ENVIRONMENT, ProjectConfig, ProjectError, valid_environment_name

ENV_VAR = "KNEO_ENV"
POLICY_DEFAULTS_KEY = "policy_defaults"


def select_environment(
    explicit: str | None, project: ProjectConfig | None, environ: Mapping[str, str] | None = None
) -> str:
    """``--env`` > ``KNEO_ENV`` > ``project.default_environment`` > ``dev``."""
    env = os.environ if environ is None else environ
    candidates = (explicit, env.get(ENV_VAR), project.default_environment if project else None)
    for candidate in candidates:
        if candidate is not None and candidate.strip():
            name = candidate.strip()
            if not valid_environment_name(name):
                raise ProjectError(
                    f"Invalid environment name {name!r}: use 1-64 letters, digits, '_', '.' or '-'.",
                    code="environment_invalid",
                )
            return name
    return DEFAULT_ENVIRONMENT


def merge_under(defaults: Mapping[str, Any], spec: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``defaults`` *under* ``spec``: the spec's values (even null) always win."""
    result: dict[str, Any] = to_plain(dict(defaults))
    for key, value in spec.items():
        current = result.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            result[key] = merge_under(current, value)
        else:
            result[key] = to_plain(value)
    return result


def read_overlay(project: ProjectConfig, path_text: str, where: str) -> dict[str, Any] | None:
    """An overlay file (confined under the project root); None when missing, ``{}`` when empty."""
    path = project.resolve_path(path_text, what=where)
    if not path.is_file():
        return None
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ProjectError(f"Overlay file is too large: {path_text}")
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"Cannot read overlay {path_text}: {exc}") from None
    if not text.strip():
        return {}
    try:
        return parse_text(text, suffix=path.suffix)
    except SpecError as exc:
        raise ProjectError(f"Overlay {path_text} is invalid: {exc.message}", code="overlay_invalid") from None


def apply_overlays(
    spec: Mapping[str, Any], project: ProjectConfig, environment: str
) -> tuple[dict[str, Any], dict[str, Any], list[str], list[Diagnostic]]:
    """Deep-merge the environment's overlays over ``spec`` in list order.

    Returns ``(spec, policy_defaults, applied paths, diagnostics)``. A ``policy_defaults`` block
    in an overlay is a project-config concept: it is removed from the overlay and returned (merged
    in order) so it never reaches the spec's top level. A missing overlay is a warning.
    """
    result: dict[str, Any] = to_plain(dict(spec))
    policy_defaults: dict[str, Any] = {}
    applied: list[str] = []
    diagnostics: list[Diagnostic] = []
    for index, path_text in enumerate(project.overlays.get(environment, ())):
        where = f"specs.overlays.{environment}[{index}]"
        overlay = read_overlay(project, path_text, where)
        if overlay is None:
            diagnostics.append(
                Diagnostic(
                    "W_OVERLAY_MISSING",
                    "warning",
                    f"Overlay file for environment '{environment}' not found: {path_text}",
                    where,
                    "Create the overlay or remove it from specs.overlays in the project config.",
                )
            )
            continue
        block = overlay.pop(POLICY_DEFAULTS_KEY, None)
        if block is not None:
            if not isinstance(block, Mapping):
                raise ProjectError(f"Overlay {path_text}: policy_defaults must be a mapping.", code="overlay_invalid")
            policy_defaults = deep_merge(policy_defaults, block)
        result = deep_merge(result, overlay)
        applied.append(path_text)
    return result, policy_defaults, applied, diagnostics


def _mode_allowed(mode: Any, preferences: Mapping[str, Any]) -> bool:
    allowed = preferences.get("allowed_modes")
    return not isinstance(allowed, list) or mode in allowed


def _runtime_defaults(agent: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    prefs = agent.get("runtime_preferences")
    if prefs is None:
        prefs = {}
    if not isinstance(prefs, dict):
        return
    for key in ("allowed_modes", "native_provider", "adapter_ref", "bridge_provider"):
        if prefs.get(key) is None and defaults.get(key) is not None:
            prefs[key] = copy.deepcopy(defaults[key])
    # A default mode the agent's own allowed_modes forbids is skipped rather than turned into an error.
    for key in ("preferred_mode", "fallback_mode"):
        value = defaults.get(key)
        if prefs.get(key) is None and value is not None and _mode_allowed(value, prefs):
            prefs[key] = value
    if prefs:
        agent["runtime_preferences"] = prefs


def _model_defaults(agent: dict[str, Any], defaults: Mapping[str, Any]) -> None:
    model = agent.get("model")
    shorthand = isinstance(model, str)
    if shorthand:
        model = {"name": model}
    elif model is None:
        if not (defaults.get("provider") and defaults.get("name")):
            return  # never create a model the schema would reject
        model = {}
    if not isinstance(model, dict):
        return
    for key, value in defaults.items():
        if key != "extra" and value is not None and model.get(key) is None:
            model[key] = value
    if shorthand:
        model.setdefault("provider", "default")  # what the normaliser gives the shorthand
    if defaults.get("extra"):
        extra = model.get("extra")
        model["extra"] = merge_under(defaults["extra"], extra if isinstance(extra, Mapping) else {})
    agent["model"] = model


def apply_environment_defaults(
    spec: Mapping[str, Any], project: ProjectConfig, environment: str, policy_defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """Project defaults for ``environment``; explicit spec values are never overwritten (§12.2)."""
    result: dict[str, Any] = to_plain(dict(spec))
    metadata = result.setdefault("metadata", {})
    if isinstance(metadata, dict):
        metadata.setdefault("project", project.name)
        metadata.setdefault("environment", environment)
    agent = result.get("agent")
    if isinstance(agent, dict):
        _runtime_defaults(agent, project.runtime_defaults)
        if environment in project.model_defaults:
            _model_defaults(agent, project.model_defaults[environment])
    env_defaults = project.environment(environment).defaults
    if env_defaults:
        result = merge_under(env_defaults, result)
    policies = result.get("policies")
    if policies is None:
        policies = result["policies"] = {}
    if isinstance(policies, dict):
        block = deep_merge(project.policy_defaults, policy_defaults)
        existing = policies.get("project_defaults")
        policies["project_defaults"] = merge_under(block, existing) if isinstance(existing, Mapping) else block
    return result
