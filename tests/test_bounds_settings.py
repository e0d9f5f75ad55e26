"""Environment binding, spec-cap settings and the step watchdog, without services."""

from __future__ import annotations

import threading
import time

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from kneo.auth.keys import parse_api_keys
from kneo.config import ConfigError, load_settings
from kneo.environments import normalise_environment, resolve_environment
from kneo.errors import Forbidden
from kneo.specs import SpecBounds
from kneo.tasks.time_limit import call_with_time_limit


@pytest.mark.parametrize(("raw", "canonical"), [("prod", "prod"), (" PROD\t", "prod"), ("", None), ("  ", None)])
def test_environment_names_have_one_spelling(raw: str, canonical: str | None) -> None:
    assert normalise_environment(raw) == canonical


def test_resolution_applies_the_default_and_the_binding() -> None:
    assert resolve_environment(None, frozenset(), "prod") == "prod"
    assert resolve_environment(" Dev ", frozenset(), "prod") == "dev"
    assert resolve_environment(None, frozenset({"prod"}), None) == "prod"
    assert resolve_environment("PROD", frozenset({"prod"}), None) == "prod"
    assert resolve_environment(None, frozenset({"dev", "prod"}), "prod") == "prod"
    for requested, bound in (("dev", {"prod"}), (None, {"dev", "staging"})):
        with pytest.raises(Forbidden) as refused:
            resolve_environment(requested, frozenset(bound), "prod")
        assert refused.value.code == "environment_forbidden"


def test_api_keys_bind_environments() -> None:
    (record,) = parse_api_keys("ci:ci-token:service,env=PROD,env= staging ")
    assert record.principal.environments == frozenset({"prod", "staging"})
    assert "runs:write" in record.principal.scopes
    for bad in ("ci:ci-token:service,env=", "ci:ci-token:env=prod"):
        with pytest.raises(ValueError):
            parse_api_keys(bad)


def test_settings_read_the_caps_and_the_default_environment() -> None:
    settings = load_settings({"KNEO_SERV_MAX_GRAPH_STEPS": "20", "KNEO_SERV_DEFAULT_ENVIRONMENT": " Prod "})
    assert settings.spec_bounds == SpecBounds(max_graph_steps=20)
    assert settings.default_environment == "prod"
    with pytest.raises(ConfigError):
        load_settings({"KNEO_SERV_MAX_SPEC_STEPS": "0"})


def run_in_thread(func: object) -> list[object]:
    """Call ``func`` in a non-main thread (where the watchdog applies); returns [result or error]."""
    out: list[object] = []

    def target() -> None:
        try:
            out.append(func())  # type: ignore[operator]
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(30)
    return out


@pytest.mark.no_cover  # under the coverage tracer the timed-out thread is only joined after its call ends
def test_watchdog_fails_an_overrunning_call_and_passes_results_and_errors() -> None:
    started = time.monotonic()
    (timed_out,) = run_in_thread(lambda: call_with_time_limit(lambda: time.sleep(30), 0.5))
    assert isinstance(timed_out, SoftTimeLimitExceeded)
    assert time.monotonic() - started < 10
    assert run_in_thread(lambda: call_with_time_limit(lambda: "done", 5)) == ["done"]
    (error,) = run_in_thread(lambda: call_with_time_limit(lambda: 1 / 0, 5))
    assert isinstance(error, ZeroDivisionError)
