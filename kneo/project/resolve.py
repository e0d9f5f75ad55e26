"""The project path of spec-format §1 steps 1-4: load, overlays, defaults, environment policy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kneo.config import load_sandbox
from kneo.specs import Diagnostic, enforce_environment_policy
from kneo.specs.loading import read_spec_file

from .config import ProjectConfig, ProjectError
from .environments import apply_environment_defaults, apply_overlays, select_environment


class SpecPathMissing(ProjectError):
    """No spec path was given and the project config has no ``specs.default_spec``."""

    default_code = "spec_path_missing"


class EnvironmentPolicyError(ProjectError):
    """The environment's ``policy_enforcement`` refuses the resolved spec."""

    default_code = "environment_policy_violation"

    def __init__(self, environment: str, errors: Sequence[Diagnostic]) -> None:
        self.environment = environment
        self.errors = list(errors)
        lines = "\n".join(f"ERROR {d.code}: {d.message}" for d in self.errors)
        super().__init__(f"Environment '{environment}' policy blocks this spec:\n{lines}")


@dataclass
class Resolution:
    """A spec resolved for one environment, ready for validate/compile."""

    spec: dict[str, Any]
    environment: str
    project: ProjectConfig | None = None
    source: Path | None = None
    overlays: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """Where the spec came from (for JSON output)."""
        return {
            "environment": self.environment,
            "project": self.project.name if self.project else None,
            "project_config": str(self.project.path) if self.project else None,
            "spec_path": str(self.source) if self.source else None,
            "overlays": list(self.overlays),
        }


def spec_source(spec_path: str | None, project: ProjectConfig | None, cwd: Path | None = None) -> Path:
    """The spec file: the explicit path (relative to ``cwd``) or ``specs.default_spec`` (confined)."""
    if spec_path:
        path = Path(spec_path).expanduser()
        return path if path.is_absolute() else (cwd or Path.cwd()) / path
    if project is not None and project.default_spec:
        return project.resolve_path(project.default_spec, what="specs.default_spec")
    raise SpecPathMissing("No spec path given and no specs.default_spec configured in the project config.")


def read_spec(path: Path) -> dict[str, Any]:
    """Parse the spec file at ``path`` (YAML, or JSON for ``.json``)."""
    try:
        resolved = path.resolve()
    except OSError:
        resolved = path
    return read_spec_file(str(resolved), resolved.parent)


def environment_policy_errors(
    spec: Mapping[str, Any], project: ProjectConfig, environment: str, allowed_modules: Sequence[str] = ()
) -> list[Diagnostic]:
    """``E_ENV_POLICY_*`` errors of ``environments.<env>.policy_enforcement`` (empty when absent)."""
    policy = project.environment(environment).policy_enforcement
    if policy is None:
        return []
    commands = load_sandbox().commands if policy.deny_unlisted_mcp_commands else ()
    found = enforce_environment_policy(
        spec, environment, policy, allowed_modules=allowed_modules, mcp_commands=commands
    )
    return [d for d in found if d.severity == "error"]


def resolve_document(
    raw: Mapping[str, Any],
    project: ProjectConfig | None,
    environment: str,
    *,
    allowed_modules: Sequence[str] = (),
    enforce: bool = True,
) -> Resolution:
    """Overlays, environment defaults and (with ``enforce``) environment policy for ``raw``.

    Without a project config the document is returned unchanged. Raises
    :class:`EnvironmentPolicyError` when the policy refuses the result.
    """
    if project is None:
        return Resolution(spec=dict(raw), environment=environment)
    spec, policy_defaults, applied, diagnostics = apply_overlays(raw, project, environment)
    spec = apply_environment_defaults(spec, project, environment, policy_defaults)
    if enforce:
        errors = environment_policy_errors(spec, project, environment, allowed_modules)
        if errors:
            raise EnvironmentPolicyError(environment, errors)
    return Resolution(spec=spec, environment=environment, project=project, overlays=applied, diagnostics=diagnostics)


def resolve_spec(
    spec_path: str | None,
    *,
    project: ProjectConfig | None,
    env: str | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    allowed_modules: Sequence[str] = (),
    enforce: bool = True,
) -> Resolution:
    """Load the spec (explicit path or ``specs.default_spec``) and resolve it for the environment."""
    environment = select_environment(env, project, environ)
    source = spec_source(spec_path, project, cwd)
    resolution = resolve_document(
        read_spec(source), project, environment, allowed_modules=allowed_modules, enforce=enforce
    )
    resolution.source = source
    return resolution
