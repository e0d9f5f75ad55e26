"""``kneo spec bundle sign|verify``: HMAC-signed spec bundles (spec-format §13)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from kneo import specs
from kneo.cli import output
from kneo.cli.spec_common import (
    SpecOptions,
    cli_errors,
    counts,
    diagnostics_table,
    display_path,
    fail,
    resolve,
    spec_options,
    write_text,
)
from kneo.specs.bundles import DEFAULT_KEY_ID
from kneo.workflows.bundles import verify_for_environment

KEY_ENV_HELP = "Environment variable holding the HMAC key."


def signing_key(key_env: str) -> str:
    key = os.environ.get(key_env) or ""
    if not key:
        fail(f"Signing key environment variable is not set: {key_env}")
    return key


@click.group("bundle")
def bundle_group() -> None:
    """Sign a spec into a tamper-evident bundle, or verify one."""


@bundle_group.command("sign")
@click.option("-o", "--output", "output_path", required=True, metavar="FILE", help="Where to write the bundle.")
@click.option("--approved-by", required=True, metavar="NAME", help="Who approved this spec.")
@click.option("--key-env", default=DEFAULT_KEY_ID, show_default=True, metavar="VAR", help=KEY_ENV_HELP)
@spec_options()
def sign_command(opts: SpecOptions, output_path: str, approved_by: str, key_env: str) -> None:
    """Sign SPEC as resolved for the environment (overlays, defaults, policy) after validating it.

    The bundle is bound to the environment when --env is given or a project config exists.
    JSON: {output, environment, digest, signature: {algorithm, key_id}}.
    """
    if not approved_by.strip():
        raise click.BadParameter("must not be empty", param_hint="--approved-by")
    key = signing_key(key_env)
    with cli_errors():
        resolution = resolve(opts)
        report = specs.validate_document(resolution.spec, allowed_modules=opts.allowed_modules)
        if not report.valid:
            found = [d.to_dict() for d in report.diagnostics]
            diagnostics_table(found)
            fail(f"refusing to sign {display_path(resolution.source)}: it is invalid ({counts(found)})")
        environment = resolution.environment if (opts.env or resolution.project) else None
        bundle = specs.sign_bundle(
            resolution.spec, key, approved_by=approved_by.strip(), environment=environment, key_id=key_env
        )
    text = json.dumps(bundle, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    written = write_text(output_path, text)
    payload = {
        "output": str(written),
        "environment": environment,
        "digest": bundle["digest"],
        "signature": {k: bundle["signature"][k] for k in ("algorithm", "key_id")},
    }
    if opts.as_json:
        output.emit_json(payload)
        return
    scope = f"for environment {environment}" if environment else "for any environment"
    click.echo(f"✓ signed {display_path(resolution.source)} → {output_path} ({scope}, approved by {approved_by})")
    click.echo(f"  sha256 {bundle['digest']['value']}")


def read_bundle(path: str) -> Any:
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8-sig")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    try:
        return json.loads(text)
    except ValueError as exc:
        fail(f"{path} is not a JSON bundle: {exc}")


@bundle_group.command("verify")
@click.argument("bundle_path", metavar="BUNDLE")
@click.option("--key-env", default=DEFAULT_KEY_ID, show_default=True, metavar="VAR", help=KEY_ENV_HELP)
@spec_options(spec_argument=False)
def verify_command(opts: SpecOptions, bundle_path: str, key_env: str) -> None:
    """Verify BUNDLE's digest and signature (and, with --env, its environment); exit 1 when invalid.

    JSON: {valid, digest_valid, signature_valid, errors} (+ environment_valid with --env).
    """
    key = signing_key(key_env)
    bundle = read_bundle(bundle_path)
    with cli_errors():
        result = verify_for_environment(bundle, key, opts.env) if opts.env else specs.verify_bundle(bundle, key)
    if opts.as_json:
        output.emit_json(result)
    if not result["valid"]:
        fail(f"{bundle_path} is not a valid bundle:\n" + "\n".join(f"  {e}" for e in result["errors"]))
    if not opts.as_json:
        meta = bundle.get("metadata") or {}
        scope = f"environment {meta.get('environment')}" if meta.get("environment") else "any environment"
        click.echo(
            f"✓ {bundle_path} is valid ({scope}, approved by {meta.get('approved_by')}, {meta.get('created_at')})"
        )
