"""Opening an MCP transport (stdio, streamable HTTP, SSE) from an ``mcp_servers`` entry.

Credentials are references only: ``env`` and ``headers`` values may embed ``${VAR}``, resolved
from the worker's environment at connect time; a sensitive header or env name (Authorization,
``*_TOKEN``, ``*_API_KEY`` …) with a literal value is refused. ``client_key_ref`` names the env
var holding the client key's password. A stdio server inherits only the SDK's safe default
environment plus its declared ``env``; its stderr is relayed to the ``kneo.mcp`` logger, redacted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, get_default_environment, stdio_client
from mcp.client.streamable_http import streamable_http_client

from kneo.agents.errors import McpError
from kneo.redaction import is_sensitive_key, redact_text
from kneo.secrets import env_references, require_secret, resolve_references

log = logging.getLogger("kneo.mcp")
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_SSE_READ_TIMEOUT_SECONDS = 300.0


def resolved_mapping(server: str, section: str, values: Mapping[str, str] | None) -> dict[str, str]:
    """``env`` / ``headers`` with ``${VAR}`` references resolved; literal secrets refused."""
    out: dict[str, str] = {}
    for key, raw in (values or {}).items():
        text = str(raw)
        if is_sensitive_key(key) and not env_references(text):
            raise McpError(
                f"MCP server '{server}' {section}.{key} must reference an environment variable as ${{VAR}}, "
                "not hold a literal credential."
            )
        out[str(key)] = resolve_references(text, f"mcp:{server}")
    return out


def _tls(server: str, config: Mapping[str, Any]) -> ssl.SSLContext | bool:
    if config.get("verify") is False:
        return False
    if not (config.get("ca_bundle") or config.get("client_cert")):
        return True
    context = ssl.create_default_context(cafile=config.get("ca_bundle"))
    if config.get("client_cert"):
        password = None
        if config.get("client_key_ref"):
            password = require_secret(f"mcp:{server}:client_key", str(config["client_key_ref"]))
        context.load_cert_chain(config["client_cert"], config.get("client_key"), password=password)
    return context


class _StderrRelay:
    """A pipe whose read end is logged line by line (redacted) by a daemon thread."""

    def __init__(self, server: str) -> None:
        read_fd, write_fd = os.pipe()
        self.writer = os.fdopen(write_fd, "w")
        self._reader = os.fdopen(read_fd, "r", errors="replace")
        threading.Thread(target=self._pump, args=(server,), name=f"mcp-stderr-{server}", daemon=True).start()

    def _pump(self, server: str) -> None:
        with contextlib.suppress(OSError, ValueError), self._reader:
            for line in self._reader:
                log.info("mcp server %s: %s", server, redact_text(line.rstrip()))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.writer.close()


def _positive(value: Any, default: float) -> float:
    """A configured number of seconds, or ``default`` when it is absent, zero or negative."""
    return float(value) if isinstance(value, int | float) and value > 0 else default


@asynccontextmanager
async def open_transport(name: str, config: Mapping[str, Any], timeout: float) -> AsyncIterator[tuple[Any, Any]]:
    """Yield the (read, write) streams of the server's transport; closes everything on exit."""
    transport = config.get("transport")
    async with AsyncExitStack() as stack:
        if transport == "stdio":
            env = {**get_default_environment(), **resolved_mapping(name, "env", config.get("env"))}
            params = StdioServerParameters(
                command=str(config["command"]),
                args=[str(a) for a in config.get("args") or []],
                env=env,
                cwd=config.get("cwd"),
            )
            relay = _StderrRelay(name)
            stack.callback(relay.close)
            read, write = await stack.enter_async_context(stdio_client(params, errlog=relay.writer))
        elif transport in ("http", "sse"):
            headers = resolved_mapping(name, "headers", config.get("headers"))
            read_timeout = _positive(config.get("sse_read_timeout"), DEFAULT_SSE_READ_TIMEOUT_SECONDS)
            http_timeout = httpx.Timeout(_positive(config.get("timeout"), timeout), read=read_timeout)
            verify = _tls(name, config)

            def factory(
                headers: dict[str, str] | None = None, timeout: httpx.Timeout | None = None, auth: Any = None
            ) -> httpx.AsyncClient:
                return httpx.AsyncClient(headers=headers, timeout=timeout or http_timeout, auth=auth, verify=verify)

            if transport == "http":
                client = await stack.enter_async_context(factory(headers, http_timeout))
                read, write, _ = await stack.enter_async_context(
                    streamable_http_client(config["url"], http_client=client)
                )
            else:
                read, write = await stack.enter_async_context(
                    sse_client(
                        config["sse_url"],
                        headers=headers,
                        timeout=http_timeout.connect or timeout,
                        sse_read_timeout=read_timeout,
                        httpx_client_factory=factory,
                    )
                )
        else:
            raise McpError(f"MCP server '{name}' has an unsupported transport: {transport}")
        yield read, write
