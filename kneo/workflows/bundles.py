"""Signed spec bundles on the service path (``KNEO_SERV_REQUIRE_SIGNED_BUNDLES``).

For a request whose ``environment`` is listed (``*`` lists every request), only an inline
``spec`` that is a bundle verified with ``KNEO_SERV_SPEC_SIGNING_KEY`` is accepted, and the
bundle's ``spec`` is what compiles. Checked before anything is written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from kneo import specs
from kneo.config import Settings
from kneo.environments import normalise_environment
from kneo.errors import ServiceUnavailable, Unprocessable
from kneo.specs.bundles import BUNDLE_KIND, DEFAULT_KEY_ID

SIGNING_KEY_ENV = DEFAULT_KEY_ID
ALL_ENVIRONMENTS = "*"


def bundle_required(settings: Settings, environment: str | None) -> bool:
    """True when requests for ``environment`` must carry a signed bundle."""
    listed = settings.require_signed_bundles
    return ALL_ENVIRONMENTS in listed or (environment is not None and environment in listed)


def verify_for_environment(bundle: Any, key: str, environment: str | None) -> dict[str, Any]:
    """:func:`kneo.specs.verify_bundle` plus: a bundle approved for an environment runs only there."""
    result = specs.verify_bundle(bundle, key)
    metadata = bundle.get("metadata") if isinstance(bundle, Mapping) else None
    bound = metadata.get("environment") if isinstance(metadata, Mapping) else None
    bound = normalise_environment(bound) if isinstance(bound, str) else bound
    result["environment_valid"] = bound is None or bound == environment
    if not result["environment_valid"]:
        shown = f"'{environment}'" if environment is not None else "a request without an environment"
        result["errors"].append(f"Bundle is approved for environment '{bound}', not {shown}.")
        result["valid"] = False
    return result


def signed_spec(
    spec: Mapping[str, Any] | None,
    *,
    spec_path: str | None,
    overrides: Mapping[str, Any] | None,
    environment: str | None,
    settings: Settings,
    environ: Mapping[str, str] | None = None,
) -> Mapping[str, Any] | None:
    """The spec to compile: ``spec`` itself when no bundle is required, else the verified bundle's spec.

    Raises 422 ``bundle_required`` (no bundle given) or ``bundle_invalid`` (verification failed,
    or overrides that would change the signed spec), 503 ``bundle_key_missing`` without a key.
    """
    if not bundle_required(settings, environment):
        return spec
    where = f"Environment '{environment}'" if environment is not None else "This service"
    if spec_path or not isinstance(spec, Mapping) or spec.get("kind") != BUNDLE_KIND:
        raise Unprocessable(
            f"{where} accepts only a signed spec bundle (kind: {BUNDLE_KIND}) as the inline spec.",
            code="bundle_required",
            environment=environment,
            errors=[f"spec must be a {BUNDLE_KIND} document signed with kneo spec bundle sign."],
        )
    if overrides:
        raise Unprocessable(
            "Overrides cannot be applied to a signed spec bundle.",
            code="bundle_invalid",
            environment=environment,
            errors=["overrides would change the signed spec."],
        )
    key = (os.environ if environ is None else environ).get(SIGNING_KEY_ENV) or ""
    if not key:
        raise ServiceUnavailable(
            f"Signed bundles are required but {SIGNING_KEY_ENV} is not configured.", code="bundle_key_missing"
        )
    result = verify_for_environment(spec, key, environment)
    if not result["valid"]:
        raise Unprocessable(
            "Spec bundle verification failed: " + " ".join(result["errors"]),
            code="bundle_invalid",
            environment=environment,
            errors=result["errors"],
            verification={k: v for k, v in result.items() if k != "errors"},
        )
    inner = spec["spec"]
    assert isinstance(inner, Mapping)
    return inner


def signed_body(body: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """``body`` with its ``spec`` replaced by the verified bundle's spec when a bundle is required."""
    spec = signed_spec(
        body.get("spec"),
        spec_path=body.get("spec_path"),
        overrides=body.get("overrides"),
        environment=body.get("environment"),
        settings=settings,
    )
    return body if spec is body.get("spec") else {**body, "spec": spec}
