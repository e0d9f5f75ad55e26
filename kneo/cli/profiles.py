"""Service profiles in ``~/.kneo_serv/profiles.json`` (``KNEO_SERV_PROFILES_PATH`` overrides).

``{"active": name, "profiles": {name: {"service_url": ..., "api_key": ...}}}``, written with mode
0600 through a temporary file renamed into place. Listings never show keys.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kneo.cli.errors import CliError

DEFAULT_PATH = Path("~/.kneo_serv/profiles.json")


@dataclass(frozen=True)
class Profile:
    name: str
    service_url: str
    api_key: str | None = None

    def public(self, active: bool) -> dict[str, Any]:
        return {
            "name": self.name,
            "service_url": self.service_url,
            "authenticated": bool(self.api_key),
            "active": active,
        }


def profiles_path() -> Path:
    return Path(os.environ.get("KNEO_SERV_PROFILES_PATH") or DEFAULT_PATH).expanduser()


def load() -> dict[str, Any]:
    path = profiles_path()
    if not path.exists():
        return {"active": None, "profiles": {}}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read profiles from {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
        raise CliError(f"{path} is not a kneo profile store")
    return data


def save(data: dict[str, Any]) -> Path:
    path = profiles_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(path.name + ".tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.chmod(partial, 0o600)
    os.replace(partial, path)
    return path


def get(name: str) -> Profile:
    entry = load()["profiles"].get(name)
    if entry is None:
        raise CliError(f"no profile named {name!r} (kneo config profile list)")
    return Profile(name, entry["service_url"], entry.get("api_key"))


def active() -> Profile | None:
    data = load()
    name = data.get("active")
    if not name or name not in data["profiles"]:
        return None
    return get(name)


def add(name: str, service_url: str, api_key: str | None, activate: bool) -> Profile:
    data = load()
    data["profiles"][name] = {"service_url": service_url.rstrip("/"), "api_key": api_key}
    if activate or not data.get("active"):
        data["active"] = name
    save(data)
    return get(name)


def use(name: str) -> Profile:
    data = load()
    if name not in data["profiles"]:
        raise CliError(f"no profile named {name!r} (kneo config profile list)")
    data["active"] = name
    save(data)
    return get(name)


def listing() -> list[dict[str, Any]]:
    data = load()
    return [
        Profile(name, entry["service_url"], entry.get("api_key")).public(name == data.get("active"))
        for name, entry in sorted(data["profiles"].items())
    ]


def delete(name: str) -> None:
    data = load()
    if name not in data["profiles"]:
        raise CliError(f"no profile named {name!r} (kneo config profile list)")
    del data["profiles"][name]
    if data.get("active") == name:
        data["active"] = None
    save(data)
