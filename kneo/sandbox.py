"""What a spec may make the platform reach: commands, network origins and secret names.

A spec is untrusted input. The operator decides, by allow-lists in the environment, which stdio
MCP command lines may be spawned (:class:`CommandRule`), which origins a spec-chosen URL may
point at (:class:`Origin`; loopback, private and link-local addresses only when listed by exact
host) and which environment variables a spec may name as a secret. ``KNEO_SERV_*`` variables are
never resolvable from a spec. Every check here runs before anything is spawned, sent or read.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import socket
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kneo.secrets import env_references

DEFAULT_PORTS = {"http": 80, "https": 443}
SERVICE_PREFIX = "KNEO_SERV_"
# Variables that change what a spawned interpreter or loader executes.
_LOADER_ENV = re.compile(r"^(LD_|DYLD_|PYTHON|PERL5|NODE_OPTIONS$|RUBYOPT$|BASH_ENV$|ENV$|PATH$)", re.IGNORECASE)


class SandboxRefusal(RuntimeError):
    """A spec asked for something the operator has not allowed; nothing was spawned or sent."""


class CommandNotAllowed(SandboxRefusal):
    """A stdio MCP command line that is not on the operator's command allow-list."""


class OutboundNotAllowed(SandboxRefusal):
    """A spec-chosen URL outside the operator's outbound allow-list."""


class SecretNotAllowed(SandboxRefusal):
    """A spec names an environment variable that is not on the operator's secret allow-list."""


@dataclass(frozen=True)
class CommandRule:
    """An allowed stdio command: this exact executable, its arguments starting with ``args``."""

    executable: str
    args: tuple[str, ...] = ()

    def allows(self, executable: str, args: tuple[str, ...]) -> bool:
        return executable == self.executable and args[: len(self.args)] == self.args

    def __str__(self) -> str:
        return shlex.join((self.executable, *self.args))


@dataclass(frozen=True)
class Origin:
    """An allowed ``scheme://host[:port]``; host ``*`` is any host, ``*.example.com`` any subdomain,
    port ``*`` any port. Only an exact host may name a loopback, private or link-local address."""

    scheme: str
    host: str
    port: int | None  # None: any port

    @property
    def exact(self) -> bool:
        return not self.host.startswith("*")

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if scheme != self.scheme or (self.port is not None and port != self.port):
            return False
        if self.host == "*":
            return True
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}:{'*' if self.port is None else self.port}"


def parse_commands(text: str) -> tuple[CommandRule, ...]:
    """Command lines separated by ``;`` or newlines (``#`` starts a comment line), shell-quoted."""
    rules = []
    for line in re.split(r"[;\n]", text):
        if not line.strip() or line.strip().startswith("#"):
            continue
        words = shlex.split(line)
        rules.append(CommandRule(words[0], tuple(words[1:])))
    return tuple(rules)


def _host(text: str) -> str:
    host = text.strip("[]").lower()
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.rstrip(".")


def parse_origin(text: str) -> Origin:
    """``scheme://host[:port]`` (port defaults to the scheme's); raises ValueError when malformed."""
    match = re.fullmatch(r"(https?)://(\[[0-9A-Fa-f:.]+\]|[^/:\[\]]+)(?::(\d+|\*))?/?", text.strip(), re.IGNORECASE)
    if match is None:
        raise ValueError(f"not an origin (scheme://host[:port]): {text!r}")
    scheme, host, port = match.group(1).lower(), _host(match.group(2)), match.group(3)
    if "*" in host and not (host == "*" or (host.startswith("*.") and "*" not in host[1:])):
        raise ValueError(f"a wildcard host is '*' or '*.domain': {text!r}")
    return Origin(scheme, host, None if port == "*" else int(port) if port else DEFAULT_PORTS[scheme])


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise OutboundNotAllowed(f"Host {host} does not resolve.") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str, allowed: Iterable[Origin], what: str = "URL") -> None:
    """Refuse ``url`` unless an allowed origin matches it; a wildcard match must resolve to public
    addresses only (every address the host resolves to is checked)."""
    parts = urlsplit(str(url).strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    if scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        raise OutboundNotAllowed(f"{what} must be an http(s) URL with a host: {url}")
    if parts.username or parts.password:
        raise OutboundNotAllowed(f"{what} may not carry credentials in the URL.")
    host = _host(parts.hostname)
    origin = next((o for o in allowed if o.matches(scheme, host, port)), None)
    if origin is None:
        raise OutboundNotAllowed(
            f"{what} {scheme}://{host}:{port} is not on the operator's outbound allow-list "
            "(KNEO_SERV_OUTBOUND_ALLOWLIST)."
        )
    if not origin.exact and not all(_public(a) for a in _addresses(host, port)):
        raise OutboundNotAllowed(
            f"{what} host {host} resolves to a loopback, private or link-local address; "
            "list it by exact host to allow it."
        )


def check_secret_name(name: str, allowed: Collection[str], what: str = "secret") -> None:
    """Refuse a spec-named environment variable unless the operator listed it (never ``KNEO_SERV_*``)."""
    if name.upper().startswith(SERVICE_PREFIX) or name not in allowed:
        raise SecretNotAllowed(
            f"The {what} names environment variable '{name}', which is not on the operator's secret "
            "allow-list (KNEO_SERV_SECRET_ALLOWLIST)."
        )


def check_command(
    server: str, command: str, args: Iterable[Any], rules: Iterable[CommandRule], env: Mapping[str, Any] | None
) -> None:
    """Refuse a stdio MCP server unless its command line starts with an allowed rule."""
    argv = tuple(str(a) for a in args)
    if not any(rule.allows(str(command), argv) for rule in rules):
        raise CommandNotAllowed(
            f"MCP server '{server}' command {shlex.join((str(command), *argv))!r} is not on the operator's "
            "command allow-list (KNEO_SERV_MCP_COMMANDS)."
        )
    loader = sorted(str(k) for k in (env or {}) if _LOADER_ENV.match(str(k)))
    if loader:
        raise CommandNotAllowed(f"MCP server '{server}' env may not set {', '.join(loader)}.")


@dataclass(frozen=True)
class SkillRoot:
    """Where skill sources are read from (``None``: skill sources are refused) and how much of them."""

    path: Path | None
    max_bytes: int = 262_144


@dataclass(frozen=True)
class Sandbox:
    """The operator's allow-lists for what specs may reach."""

    commands: tuple[CommandRule, ...] = ()
    outbound: tuple[Origin, ...] = ()
    secrets: frozenset[str] = frozenset()

    def check_mcp_server(self, name: str, config: Mapping[str, Any]) -> None:
        """Vet an ``mcp_servers`` entry before anything is spawned, connected or resolved."""
        transport = config.get("transport")
        if transport == "stdio":
            check_command(name, config.get("command", ""), config.get("args") or [], self.commands, config.get("env"))
        elif transport in ("http", "sse"):
            url_key = "url" if transport == "http" else "sse_url"
            check_url(str(config.get(url_key) or ""), self.outbound, f"MCP server '{name}' {url_key}")
        for section in ("env", "headers"):
            for value in (config.get(section) or {}).values():
                for var in env_references(str(value)):
                    check_secret_name(var, self.secrets, f"MCP server '{name}' {section}")
        if config.get("client_key_ref"):
            check_secret_name(str(config["client_key_ref"]), self.secrets, f"MCP server '{name}' client_key_ref")
