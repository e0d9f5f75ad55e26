"""The project config file (spec-format §12.3): discovery, schema and confined paths.

Pure: reads only the config file itself; never imports user code or touches a database.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kneo.specs import EnvironmentPolicy, SpecError
from kneo.specs.loading import MAX_FILE_BYTES, resolve_confined, to_plain

PROJECT_CONFIG_ENV = "KNEO_PROJECT_CONFIG"
CONFIG_CANDIDATES = (".kneo/config.yaml", ".kneo/config.yml", "kneo_serv.yaml", "kneo_serv.yml")
DEFAULT_ENVIRONMENT = "dev"
MODES = ("bridge", "native", "adapter")
MODEL_FIELDS = {"provider": str, "name": str, "temperature": float, "max_tokens": int, "timeout_seconds": int}
RUNTIME_FIELDS = (
    "preferred_mode",
    "allowed_modes",
    "fallback_mode",
    "native_provider",
    "adapter_ref",
    "bridge_provider",
)
RETENTION_FIELDS = (
    "runs_days",
    "checkpoints_days",
    "queue_days",
    "continuations_days",
    "artifacts_days",
    "logs_days",
    "trace_days",
    "audit_days",
    "idempotency_days",
)
POLICY_DEFAULTS: dict[str, dict[str, Any]] = {
    "checkpointing": {"enabled": True, "mode": "step"},
    "logging": {"level": "info"},
    "tracing": {"enabled": True, "include_messages": False, "include_tool_results": True},
    "guardrails": {"enable_default_input_filter": False, "enable_default_output_review": False},
}
POLICY_CHOICES = {
    ("checkpointing", "mode"): ("none", "run", "step", "node"),
    ("logging", "level"): ("debug", "info", "warning", "error"),
}
KNOWN_SECTIONS = frozenset(
    {
        "project",
        "service",
        "local",
        "specs",
        "runtime_defaults",
        "model_defaults",
        "policy_defaults",
        "secrets",
        "retention",
        "environments",
    }
)
_ENV_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ProjectError(SpecError):
    """The project config is missing, malformed or refers to a path outside the project."""

    default_code = "project_config_invalid"


@dataclass(frozen=True)
class EnvironmentConfig:
    """``environments.<env>``: the enforcement policy (None = no enforcement) and spec defaults."""

    policy_enforcement: EnvironmentPolicy | None = None
    defaults: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectConfig:
    """A parsed project config; ``root`` is the directory every relative path resolves against."""

    path: Path
    root: Path
    name: str
    default_environment: str = DEFAULT_ENVIRONMENT
    owner: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    service: dict[str, Any] = field(default_factory=dict)
    default_spec: str | None = None
    overlays: dict[str, tuple[str, ...]] = field(default_factory=dict)
    runtime_defaults: dict[str, Any] = field(default_factory=dict)
    model_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    policy_defaults: dict[str, Any] = field(default_factory=dict)
    provider_env: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    retention: dict[str, int | None] = field(default_factory=dict)
    environments: dict[str, EnvironmentConfig] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def environment(self, name: str) -> EnvironmentConfig:
        return self.environments.get(name) or EnvironmentConfig()

    def resolve_path(self, path_text: str, what: str) -> Path:
        """``path_text`` resolved against the project root; anything outside the root is refused."""
        try:
            return resolve_confined(path_text, self.root, what=what)
        except SpecError as exc:
            raise ProjectError(exc.message.replace("spec root", "project root"), code="project_path_confined") from None


def find_config(start: Path | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    """``KNEO_PROJECT_CONFIG`` (must exist) or the first candidate file walking up from ``start``."""
    env = os.environ if environ is None else environ
    explicit = (env.get(PROJECT_CONFIG_ENV) or "").strip()
    base = (start or Path.cwd()).resolve()
    if explicit:
        path = Path(explicit).expanduser()
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise ProjectError(
                f"{PROJECT_CONFIG_ENV} points to a missing file: {explicit}", code="project_config_missing"
            )
        return path.resolve()
    for directory in (base, *base.parents):
        for candidate in CONFIG_CANDIDATES:
            path = directory / candidate
            if path.is_file():
                return path
    return None


def project_root(config_path: Path) -> Path:
    """The parent of ``.kneo/`` for ``.kneo/config.yaml``, else the file's directory."""
    parent = config_path.resolve().parent
    return parent.parent if parent.name == ".kneo" else parent


def load_project(start: Path | None = None, environ: Mapping[str, str] | None = None) -> ProjectConfig | None:
    """Discover and parse the project config; None when there is none."""
    path = find_config(start, environ)
    return None if path is None else read_config(path)


def read_config(path: Path) -> ProjectConfig:
    """Parse the config file at ``path`` (an empty file is ``{}``, which lacks project.name)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ProjectError(f"Project config is too large: {path}")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"Cannot read project config {path}: {exc}") from None
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise ProjectError(f"Project config {path} is not valid YAML: {' '.join(str(exc).split())[:300]}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ProjectError(f"Project config {path} must be a mapping (YAML root must be an object).")
    return parse_config(to_plain(data), path)


def valid_environment_name(name: str) -> bool:
    return bool(_ENV_NAME.match(name))


class _Checker:
    """Collects schema problems so one error lists all of them."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.errors.append(f"{where}: must be a mapping")
            return {}
        return dict(value)

    def known(self, data: Mapping[str, Any], where: str, names: Any) -> None:
        for key in data:
            if key not in names:
                self.warnings.append(f"{where}.{key}: unknown key (ignored)")

    def string(self, value: Any, where: str, *, required: bool = False) -> str | None:
        if value is None:
            if required:
                self.errors.append(f"{where}: required")
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            self.errors.append(f"{where}: must be a{' non-empty' if required else ''} string")
            return None
        return value

    def strings(self, value: Any, where: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.errors.append(f"{where}: must be a list of strings")
            return ()
        return tuple(value)

    def typed(self, value: Any, kind: type, where: str) -> Any:
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if kind is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok:
            self.errors.append(f"{where}: must be {'a number' if kind is float else 'an integer'}")
            return None
        return value

    def environment(self, name: Any, where: str) -> str | None:
        if not isinstance(name, str) or not valid_environment_name(name):
            self.errors.append(f"{where}: environment names are 1-64 letters, digits, '_', '.' or '-'")
            return None
        return name


def parse_config(data: Mapping[str, Any], path: Path) -> ProjectConfig:
    """Validate ``data`` against the §12.3 schema; unknown keys are ignored with a warning."""
    c = _Checker()
    c.known(data, "config", KNOWN_SECTIONS)
    project = c.mapping(data.get("project"), "project")
    if "project" not in data:
        c.errors.append("project.name: required")
    name = c.string(project.get("name"), "project.name", required="project" in data)
    default_env = c.string(project.get("default_environment"), "project.default_environment") or DEFAULT_ENVIRONMENT
    c.environment(default_env, "project.default_environment")
    service = c.mapping(data.get("service"), "service")
    specs_block = c.mapping(data.get("specs"), "specs")
    overlays: dict[str, tuple[str, ...]] = {}
    for env, paths in c.mapping(specs_block.get("overlays"), "specs.overlays").items():
        if c.environment(env, f"specs.overlays.{env}"):
            overlays[env] = c.strings(paths, f"specs.overlays.{env}")
    config = ProjectConfig(
        path=path,
        root=project_root(path),
        name=name or "",
        default_environment=default_env,
        owner=c.string(project.get("owner"), "project.owner"),
        description=c.string(project.get("description"), "project.description"),
        tags=c.strings(project.get("tags"), "project.tags"),
        service=service,
        default_spec=c.string(specs_block.get("default_spec"), "specs.default_spec"),
        overlays=overlays,
        runtime_defaults=_runtime_defaults(c, data.get("runtime_defaults")),
        model_defaults=_model_defaults(c, data.get("model_defaults")),
        policy_defaults=_policy_defaults(c, data.get("policy_defaults")),
        provider_env=_string_map(
            c, c.mapping(data.get("secrets"), "secrets").get("provider_env"), "secrets.provider_env"
        ),
        extra_env=_string_map(c, c.mapping(data.get("secrets"), "secrets").get("extra_env"), "secrets.extra_env"),
        retention=_retention(c, data.get("retention")),
        environments=_environments(c, data.get("environments")),
    )
    if c.errors:
        raise ProjectError(f"Project config {path} is invalid:\n" + "\n".join(f"  {e}" for e in c.errors))
    return dataclasses.replace(config, warnings=tuple(c.warnings))


def _string_map(c: _Checker, value: Any, where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, item in c.mapping(value, where).items():
        if c.string(item, f"{where}.{key}") is not None:
            out[str(key)] = item
    return out


def _runtime_defaults(c: _Checker, value: Any) -> dict[str, Any]:
    block = {"preferred_mode": "bridge", "allowed_modes": ["bridge"], **c.mapping(value, "runtime_defaults")}
    c.known(block, "runtime_defaults", RUNTIME_FIELDS)
    out: dict[str, Any] = {}
    for key in RUNTIME_FIELDS:
        item = block.get(key)
        if item is None:
            continue
        if key == "allowed_modes":
            modes = c.strings(item, "runtime_defaults.allowed_modes")
            if any(m not in MODES for m in modes):
                c.errors.append(f"runtime_defaults.allowed_modes: each mode must be one of {', '.join(MODES)}")
            out[key] = list(modes)
        elif key in ("preferred_mode", "fallback_mode") and item not in MODES:
            c.errors.append(f"runtime_defaults.{key}: must be one of {', '.join(MODES)}")
        elif c.string(item, f"runtime_defaults.{key}") is not None:
            out[key] = item
    return out


def _model_defaults(c: _Checker, value: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for env, block in c.mapping(value, "model_defaults").items():
        if not c.environment(env, f"model_defaults.{env}"):
            continue
        where = f"model_defaults.{env}"
        fields_ = c.mapping(block, where)
        c.known(fields_, where, (*MODEL_FIELDS, "extra"))
        clean: dict[str, Any] = {}
        for key, kind in MODEL_FIELDS.items():
            item = fields_.get(key)
            if item is None:
                continue
            checked = c.string(item, f"{where}.{key}") if kind is str else c.typed(item, kind, f"{where}.{key}")
            if checked is not None:
                clean[key] = checked
        clean["extra"] = c.mapping(fields_.get("extra"), f"{where}.extra")
        out[env] = clean
    return out


def _policy_defaults(c: _Checker, value: Any) -> dict[str, Any]:
    block = c.mapping(value, "policy_defaults")
    c.known(block, "policy_defaults", POLICY_DEFAULTS)
    out: dict[str, Any] = {}
    for section, defaults in POLICY_DEFAULTS.items():
        given = c.mapping(block.get(section), f"policy_defaults.{section}")
        c.known(given, f"policy_defaults.{section}", defaults)
        merged = {**defaults, **{k: v for k, v in given.items() if k in defaults and v is not None}}
        for key, default in defaults.items():
            where = f"policy_defaults.{section}.{key}"
            choices = POLICY_CHOICES.get((section, key))
            if choices and merged[key] not in choices:
                c.errors.append(f"{where}: must be one of {', '.join(choices)}")
            elif isinstance(default, bool) and not isinstance(merged[key], bool):
                c.errors.append(f"{where}: must be a boolean")
        out[section] = merged
    return out


def _retention(c: _Checker, value: Any) -> dict[str, int | None]:
    block = c.mapping(value, "retention")
    c.known(block, "retention", RETENTION_FIELDS)
    out: dict[str, int | None] = {}
    for key in RETENTION_FIELDS:
        item = block.get(key)
        if item is not None and (isinstance(item, bool) or not isinstance(item, int) or item < 0):
            c.errors.append(f"retention.{key}: must be an integer >= 0 or null")
            item = None
        out[key] = item
    return out


def _environments(c: _Checker, value: Any) -> dict[str, EnvironmentConfig]:
    out: dict[str, EnvironmentConfig] = {}
    for env, block in c.mapping(value, "environments").items():
        if not c.environment(env, f"environments.{env}"):
            continue
        where = f"environments.{env}"
        fields_ = c.mapping(block, where)
        c.known(fields_, where, ("policy_enforcement", "defaults"))
        policy = None
        if fields_.get("policy_enforcement") is not None:
            try:
                policy = EnvironmentPolicy.from_mapping(fields_["policy_enforcement"])
            except SpecError as exc:
                c.errors.append(f"{where}.policy_enforcement: {exc.message}")
        out[env] = EnvironmentConfig(policy, c.mapping(fields_.get("defaults"), f"{where}.defaults"))
    return out
