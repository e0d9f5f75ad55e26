"""Tool permissions (spec-format §3.4, enforced as in 1.2.0) checked on every tool call's arguments.

* ``allowed_domains`` / ``denied_domains`` apply to every URL-shaped argument value (any depth):
  a host must equal a listed domain or be a subdomain of it.
* ``allow_network: false`` denies any URL-shaped argument.
* ``allow_shell: false`` denies shell-shaped arguments (keys ``command``, ``cmd``, ``shell``,
  ``script``).
* ``allow_filesystem_read: false`` denies path-shaped arguments (keys such as ``path``, ``file``,
  ``filename``, ``directory``, or values that start with ``/``, ``./``, ``../``, ``~/``), and
  ``allow_filesystem_write: false`` denies them for tools whose name says they write.

A ``null`` flag is not a restriction (the flags are declared per agent, not per tool). A denied
call never runs; the model receives the denial as the tool result and the trace records it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

_URL = re.compile(r"(?i)\b(?:https?|ftp|wss?)://[^\s'\"<>]+")
_BARE_HOST = re.compile(r"(?i)^(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}(?:[:/?#]\S*)?$")
_SHELL_KEYS = frozenset({"command", "cmd", "shell", "script", "commands"})
_PATH_KEYS = frozenset({"path", "file", "filename", "filepath", "file_path", "directory", "dir", "folder"})
_PATH_PREFIXES = ("/", "./", "../", "~/")
_WRITE_WORDS = ("write", "save", "delete", "remove", "create", "append", "move", "rename", "upload", "mkdir")


def _leaves(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for k, item in value.items():
            yield from _leaves(item, str(k).lower())
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item, key)
    elif isinstance(value, str):
        yield key, value


def urls_in(arguments: Mapping[str, Any]) -> list[str]:
    """The URL-shaped values in the arguments (full URLs anywhere in a string, or bare host names)."""
    found: list[str] = []
    for _key, text in _leaves(arguments):
        matches = _URL.findall(text)
        found.extend(matches)
        if not matches and _BARE_HOST.match(text.strip()):
            found.append("http://" + text.strip())
    return found


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def _matches(host: str, domains: list[str]) -> bool:
    for domain in domains:
        domain = domain.lower().strip().lstrip("*").lstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


def check_tool_call(tool_name: str, arguments: Mapping[str, Any], permissions: Mapping[str, Any] | None) -> str | None:
    """The reason the call is denied, or None when it may run."""
    if not permissions:
        return None
    urls = urls_in(arguments)
    if urls and permissions.get("allow_network") is False:
        return f"network access is not allowed for tool '{tool_name}' (allow_network: false)"
    allowed = list(permissions.get("allowed_domains") or [])
    denied = list(permissions.get("denied_domains") or [])
    for url in urls:
        host = host_of(url)
        if denied and _matches(host, denied):
            return f"domain '{host}' is denied (denied_domains)"
        if allowed and not _matches(host, allowed):
            return f"domain '{host}' is not in allowed_domains"
    leaves = list(_leaves(arguments))
    if permissions.get("allow_shell") is False and any(k in _SHELL_KEYS for k, _ in leaves):
        return f"shell access is not allowed for tool '{tool_name}' (allow_shell: false)"
    paths = [v for k, v in leaves if k in _PATH_KEYS or (v.startswith(_PATH_PREFIXES) and "://" not in v)]
    if paths:
        if permissions.get("allow_filesystem_read") is False:
            return f"filesystem access is not allowed for tool '{tool_name}' (allow_filesystem_read: false)"
        writes = any(word in tool_name.lower() for word in _WRITE_WORDS)
        if writes and permissions.get("allow_filesystem_write") is False:
            return f"filesystem writes are not allowed for tool '{tool_name}' (allow_filesystem_write: false)"
    return None
