"""The HTTP client of the CLI: which service, which key, retries, errors as ``CliError``.

Service: ``--service-url``, else ``--profile``'s URL, else ``KNEO_SERV_URL``, else the project
config's ``service.default_url``, else the active profile, else ``http://127.0.0.1:8000``. Key:
``--api-key``, else the profile's, else ``KNEO_SERV_API_KEY``. Requests go to the ``/v1`` routes.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import requests

from kneo.cli import profiles
from kneo.cli.errors import CliError, json_errors

DEFAULT_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = frozenset({408, 425, 429, 502, 503, 504})
FULL_ID_LENGTH = 36
F = TypeVar("F", bound=Callable[..., Any])


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise CliError(f"{name} must be a number") from None
    if value <= 0:
        raise CliError(f"{name} must be greater than zero")
    return value


@dataclass
class Client:
    service_url: str
    api_key: str | None
    timeout: float = 120.0
    retries: int = 2
    backoff: float = 0.25

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        headers = {"Accept": "application/json", "User-Agent": "kneo-cli"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        idempotency_key = os.environ.get("KNEO_SERV_IDEMPOTENCY_KEY")
        if method == "POST" and idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        # POSTs without an idempotency key are not retried: a retry could create a second run.
        attempts = 1 + (self.retries if method == "GET" or idempotency_key else 0)
        url = f"{self.service_url.rstrip('/')}/v1{path}"
        for attempt in range(1, attempts + 1):
            try:
                response = requests.request(
                    method, url, json=json, params=params, headers=headers, timeout=self.timeout + 5
                )
            except requests.RequestException as exc:
                if attempt < attempts:
                    time.sleep(self.backoff * attempt)
                    continue
                raise CliError(
                    f"cannot reach {self.service_url} ({type(exc).__name__})",
                    hint="start it with `kneo serve`, or point elsewhere with --service-url URL or --profile NAME",
                    code="unreachable",
                ) from None
            if response.status_code in RETRY_STATUSES and attempt < attempts:
                time.sleep(self.backoff * attempt)
                continue
            return _body(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def run_id(self, reference: str) -> str:
        """A full run id for ``reference``: the id itself, or a unique prefix of a recent run's id."""
        if len(reference) >= FULL_ID_LENGTH:
            return reference
        listing = self.request("GET", "/runs", params={"limit": 1000})
        found = [r["id"] for r in listing.get("runs", []) if str(r.get("id", "")).startswith(reference)]
        if len(found) == 1:
            return str(found[0])
        if not found:
            raise CliError(f"no recent run id starts with {reference!r}", hint="kneo runs list", code="not_found")
        raise CliError(f"{len(found)} runs start with {reference!r}; give more characters", code="ambiguous")


HINTS = {
    401: "pass a key with --api-key KEY, KNEO_SERV_API_KEY or a profile (kneo config profile set)",
    403: "this key lacks the scope; use a key with a role that has it",
}


def _body(response: requests.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code < 400:
        return body
    detail = body.get("detail") if isinstance(body, dict) else None
    code = None
    if isinstance(detail, dict):
        message = detail.get("message") or detail.get("error")
        code = detail.get("error")
        text = f"{message} ({code}, HTTP {response.status_code})" if code and code != message else str(message)
    else:
        text = f"HTTP {response.status_code}: {detail or response.text[:300]}"
    raise CliError(text, hint=HINTS.get(response.status_code), code=code)


def make_client(service_url: str | None, profile_name: str | None, api_key: str | None = None) -> Client:
    profile = profiles.get(profile_name) if profile_name else None
    url = service_url or (profile.service_url if profile else None) or os.environ.get("KNEO_SERV_URL")
    if not url:
        url = _project_url()
    if not url and profile is None:
        profile = profiles.active()
        url = profile.service_url if profile else None
    url = url or DEFAULT_URL
    key = api_key or (profile.api_key if profile else None) or os.environ.get("KNEO_SERV_API_KEY") or None
    retries = os.environ.get("KNEO_SERV_CLIENT_RETRIES", "2")
    if not retries.isdigit():
        raise CliError("KNEO_SERV_CLIENT_RETRIES must be a non-negative integer")
    return Client(
        service_url=url,
        api_key=key,
        timeout=_float_env("KNEO_SERV_CLIENT_TIMEOUT", 120.0),
        retries=int(retries),
        backoff=_float_env("KNEO_SERV_CLIENT_RETRY_BACKOFF_SECONDS", 0.25),
    )


def _project_url() -> str | None:
    """``service.default_url`` of the project config found from the working directory."""
    from kneo import project as projects

    try:
        project = projects.load_project()
    except projects.ProjectError as exc:
        raise CliError(exc.message, hint="kneo config show") from None
    url = (project.service or {}).get("default_url") if project else None
    return str(url) if url else None


def service_options(command: F) -> F:
    """``--service-url``, ``--profile``, ``--api-key`` and ``--json``; the command receives ``client``."""

    @functools.wraps(command)
    def wrapper(
        *args: Any, service_url: str | None, profile_name: str | None, api_key: str | None, as_json: bool, **kwargs: Any
    ) -> Any:
        json_errors(as_json)
        client = make_client(service_url, profile_name, api_key)
        return command(*args, client=client, as_json=as_json, **kwargs)

    decorated: Any = wrapper
    decorated = click.option("--json", "as_json", is_flag=True, help="Print JSON (errors too).")(decorated)
    decorated = click.option("--api-key", help="The API key to send (default: the profile's, $KNEO_SERV_API_KEY).")(
        decorated
    )
    decorated = click.option("--profile", "profile_name", help="Use a saved profile (URL and key).")(decorated)
    return click.option(
        "--service-url", help="The service URL (default: the active profile, $KNEO_SERV_URL, http://127.0.0.1:8000)."
    )(decorated)
