"""The HTTP client of the CLI: which service, which key, retries, errors as ``CliError``.

Service: ``--profile`` (its URL unless ``--service-url`` is given, and its key), else
``--service-url``, else the active profile, else ``KNEO_SERV_URL`` or ``http://127.0.0.1:8000``.
Key: the profile's, else ``KNEO_SERV_API_KEY``. Requests go to the ``/v1`` routes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import requests

from kneo.cli import profiles
from kneo.cli.errors import CliError

DEFAULT_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = frozenset({408, 425, 429, 502, 503, 504})
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
                raise CliError(f"cannot reach {self.service_url}: {type(exc).__name__}") from None
            if response.status_code in RETRY_STATUSES and attempt < attempts:
                time.sleep(self.backoff * attempt)
                continue
            return _body(response)
        raise AssertionError("unreachable")  # pragma: no cover


def _body(response: requests.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code < 400:
        return body
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, dict):
        message = detail.get("message") or detail.get("error")
        code = detail.get("error")
        text = f"{message} ({code}, HTTP {response.status_code})" if code and code != message else str(message)
    else:
        text = f"HTTP {response.status_code}: {detail or response.text[:300]}"
    raise CliError(text)


def make_client(service_url: str | None, profile_name: str | None) -> Client:
    profile = profiles.get(profile_name) if profile_name else None
    if profile is None and not service_url:
        profile = profiles.active()
    url = service_url or (profile.service_url if profile else None) or os.environ.get("KNEO_SERV_URL") or DEFAULT_URL
    key = (profile.api_key if profile else None) or os.environ.get("KNEO_SERV_API_KEY") or None
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


def service_options(command: F) -> F:
    """``--service-url``, ``--profile`` and ``--json`` on a command that talks to the service."""
    command = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(command)
    command = click.option("--profile", "profile_name", help="Use a saved profile (URL and key).")(command)
    return click.option("--service-url", help="The service URL (default: the active profile).")(command)
