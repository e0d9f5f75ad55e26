"""``/specs/validate`` against the published kneo-serv 1.2.0, over mutated specs (slow tier).

The reference is installed from PyPI into a cached venv and run as a black box; every mutation
of the base specs in ``bases/`` is posted to both servers and the answers are compared (HTTP
status and error code, or valid flag, diagnostic codes, severities and paths).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support.services import Api

from .compare import Answer, Outcome
from .mutations import load_bases, sample
from .reference import reference_server

pytestmark = pytest.mark.e2e

SAMPLE = int(os.environ.get("KNEO_DIFF_MUTATIONS", "1200"))
AGREEMENT = 0.98


def _validate(stack: Api, spec: Any, attempts: int = 30) -> requests.Response:
    """POST to kneo's /specs/validate, waiting out a 503 (the database briefly unavailable)."""
    for _ in range(attempts):
        response = stack.call("POST", "/v1/specs/validate", role="viewer", json={"spec": spec})
        if response.status_code != 503:
            return response
        time.sleep(float(response.headers.get("Retry-After", "1")))
    return response


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with reference_server(tmp_path_factory.mktemp("reference")) as url:
        yield url


@pytest.fixture(scope="module")
def outcomes(stack: Api, reference: str) -> list[Outcome]:
    session = requests.Session()
    out: list[Outcome] = []
    for mutation in sample(SAMPLE):
        ref = session.post(f"{reference}/specs/validate", json={"spec": mutation.spec}, timeout=60)
        ours = _validate(stack, mutation.spec)
        out.append(
            Outcome(
                mutation.name,
                Answer.from_response(ref.status_code, ref.json()),
                Answer.from_response(ours.status_code, ours.json()),
            )
        )
    return out


def _report(outcomes: list[Outcome]) -> str:
    return "\n".join(o.describe() for o in outcomes)


def test_kneo_never_answers_5xx(outcomes: list[Outcome]) -> None:
    assert not [o for o in outcomes if o.kneo.status >= 500], _report([o for o in outcomes if o.kneo.status >= 500])


def test_every_spec_the_reference_accepts_is_accepted(outcomes: list[Outcome]) -> None:
    rejected = [
        o
        for o in outcomes
        if o.reference.status == 200 and o.reference.valid and not o.kneo.valid and not o.policy_only
    ]
    assert not rejected, _report(rejected)


def test_codes_and_paths_agree(outcomes: list[Outcome]) -> None:
    compared = [o for o in outcomes if not o.reference_failed and not o.policy_only]
    differing = [o for o in compared if not o.agrees]
    rate = 1 - len(differing) / len(compared)
    print(f"validation agreement with kneo-serv 1.2.0: {len(compared) - len(differing)}/{len(compared)} = {rate:.1%}")
    assert len(compared) > 0.8 * len(outcomes)
    assert rate >= AGREEMENT, _report(differing)


def test_base_specs_agree_unmutated(stack: Api, reference: str) -> None:
    for name, spec in load_bases().items():
        ref = requests.post(f"{reference}/specs/validate", json={"spec": spec}, timeout=60)
        ours = _validate(stack, spec)
        assert Answer.from_response(ref.status_code, ref.json()) == Answer.from_response(
            ours.status_code, ours.json()
        ), name
        assert ours.json()["valid"], (name, ours.json())
