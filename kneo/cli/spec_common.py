"""Shared pieces of ``kneo spec``: options, project resolution, errors and diagnostic output."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import yaml

from kneo import project as projects
from kneo import specs
from kneo.cli.errors import CliError, json_errors
from kneo.specs.governance import ALLOWED_MODULES_ENV, normalise_prefixes

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class SpecOptions:
    """The options every ``kneo spec`` command takes."""

    spec_path: str | None
    as_json: bool
    env: str | None
    allow_modules: tuple[str, ...]
    service_url: str | None = None
    profile_name: str | None = None
    api_key: str | None = None

    @property
    def remote(self) -> bool:
        """True when the command asks a service (``--service-url`` or ``--profile``) instead of compiling here."""
        return bool(self.service_url or self.profile_name)

    def request(self, path: str, spec: dict[str, Any]) -> Any:
        """POST the resolved ``spec`` to the service's ``path`` (with the environment, when one was given)."""
        from kneo.cli.client import make_client

        body: dict[str, Any] = {"spec": spec}
        if self.env:
            body["environment"] = self.env
        return make_client(self.service_url, self.profile_name, self.api_key).request("POST", path, json=body)

    @property
    def allowed_modules(self) -> tuple[str, ...]:
        """``--allow-module`` prefixes, else ``KNEO_SERV_ALLOWED_MODULES`` (nothing is allowed by default)."""
        if self.allow_modules:
            return normalise_prefixes(self.allow_modules)
        return normalise_prefixes(os.environ.get(ALLOWED_MODULES_ENV, ""))


def spec_options(*, spec_argument: bool = True, remote: bool = False) -> Callable[[F], F]:
    """Decorate a command with ``[SPEC] --json --env --allow-module`` collected into ``opts``.

    With ``remote``, also ``--service-url``, ``--profile`` and ``--api-key``: the resolved spec is
    then checked by that service instead of in this process.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(
            spec_path: str | None = None,
            as_json: bool = False,
            env: str | None = None,
            allow_modules: tuple[str, ...] = (),
            service_url: str | None = None,
            profile_name: str | None = None,
            api_key: str | None = None,
            **kwargs: Any,
        ) -> Any:
            json_errors(as_json)
            opts = SpecOptions(spec_path, as_json, env, allow_modules, service_url, profile_name, api_key)
            return func(opts, **kwargs)

        command: Any = wrapper
        if remote:
            command = click.option("--api-key", help="The key to send (default: the profile's, $KNEO_SERV_API_KEY).")(
                command
            )
            command = click.option("--profile", "profile_name", help="Check on the service of this saved profile.")(
                command
            )
            command = click.option("--service-url", help="Check on this service instead of locally.")(command)
        command = click.option(
            "--allow-module",
            "allow_modules",
            multiple=True,
            metavar="PREFIX",
            help=f"Module prefix implementations may come from (repeatable; default: ${ALLOWED_MODULES_ENV}).",
        )(command)
        command = click.option(
            "--env", "env", metavar="ENV", help="Environment (default: $KNEO_ENV, the project default, dev)."
        )(command)
        command = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(command)
        if spec_argument:
            command = click.argument("spec_path", required=False, metavar="[SPEC]")(command)
        return command

    return decorate


@contextmanager
def cli_errors() -> Iterator[None]:
    """Spec/project errors → ``✗ message`` and exit 1; a missing spec path is a usage error (2)."""
    try:
        yield
    except projects.SpecPathMissing as exc:
        raise click.UsageError(f"{exc.message} Pass SPEC or set specs.default_spec.") from None
    except specs.SpecError as exc:
        raise CliError(exc.message) from None


def load_project() -> projects.ProjectConfig | None:
    project = projects.load_project()
    if project is not None:
        for warning in project.warnings:
            click.echo(f"⚠ {project.path}: {warning}", err=True)
    return project


def load_context(opts: SpecOptions) -> tuple[projects.ProjectConfig | None, str, Path]:
    """``(project, environment, spec file)`` for the command's options."""
    project = load_project()
    environment = projects.select_environment(opts.env, project)
    return project, environment, projects.spec_source(opts.spec_path, project)


def resolve(opts: SpecOptions, *, enforce: bool = True) -> projects.Resolution:
    """The spec resolved for the environment: overlays, defaults and environment policy (§1 steps 1-4)."""
    project, environment, source = load_context(opts)
    resolution = projects.resolve_document(
        projects.read_spec(source), project, environment, allowed_modules=opts.allowed_modules, enforce=enforce
    )
    resolution.source = source
    return resolution


def spec_root(resolution: projects.Resolution) -> Path:
    """Where skill sources resolve: the project root, else the working directory."""
    return resolution.project.root if resolution.project else Path.cwd()


def display_path(path: Path | None) -> str:
    if path is None:
        return "spec"
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _one_line(value: Any) -> str:
    return "-" if value is None else " ".join(str(value).split())


SCHEMA_SUMMARY = re.compile(r"^\d+ validation errors? for \w+$")


def one_per_problem(diagnostics: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Split each ``E_SCHEMA`` diagnostic into one row per schema problem, with that problem's path.

    The compiler reports every schema problem in one diagnostic (as the HTTP API does); a person
    reading a table wants each problem on its own row, counted as one.
    """
    rows: list[dict[str, Any]] = []
    for d in diagnostics:
        lines = str(d.get("message") or "").splitlines()
        if d.get("code") != "E_SCHEMA" or not lines or not SCHEMA_SUMMARY.match(lines[0]) or len(lines) % 2 == 0:
            rows.append(dict(d))
            continue
        for location, problem in zip(lines[1::2], lines[2::2], strict=True):
            rows.append({**d, "path": location.strip(), "message": problem.strip()})
    return rows


def diagnostics_table(diagnostics: Sequence[dict[str, Any]]) -> None:
    """A compact table: severity, code, path, message (messages are never cut; one schema problem a row)."""
    if not diagnostics:
        return
    diagnostics = one_per_problem(diagnostics)
    rows = [[d["severity"], d["code"], _one_line(d.get("path")), _one_line(d.get("message"))] for d in diagnostics]
    heads = ["SEVERITY", "CODE", "PATH", "MESSAGE"]
    widths = [max(len(heads[i]), *(len(r[i]) for r in rows)) for i in range(3)]
    click.echo("  ".join(h.ljust(w) for h, w in zip(heads, [*widths, 0], strict=True)).rstrip())
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, [*widths, 0], strict=True)).rstrip())


def counts(diagnostics: Sequence[dict[str, Any]]) -> str:
    diagnostics = one_per_problem(diagnostics)
    errors = sum(1 for d in diagnostics if d["severity"] == "error")
    warnings = sum(1 for d in diagnostics if d["severity"] == "warning")
    return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"


def to_yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False)


def write_text(path: str, text: str) -> Path:
    target = Path(path).expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    return target


def fail(message: str, diagnostics: Sequence[dict[str, Any]] = ()) -> NoReturn:
    """Print ``✗ message`` on stderr and exit 1 (after the command's normal output)."""
    click.echo(f"✗ {message}", err=True)
    if any(str(d.get("code", "")).startswith("E_UNSAFE_") for d in diagnostics):
        click.echo(
            f"  hint: allow implementation modules with --allow-module PREFIX or ${ALLOWED_MODULES_ENV}",
            err=True,
        )
    raise SystemExit(1)
