"""MCP client sessions (official ``mcp`` SDK) over stdio and streamable HTTP, against tests/support/mcp_server.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kneo.agents.errors import McpError
from kneo.agents.mcp_pool import McpPool
from kneo.redaction import REDACTED, redact
from tests.support.mcp_process import mcp_http_server
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]
STDIO = {
    "transport": "stdio",
    "command": sys.executable,
    "args": ["-m", "tests.support.mcp_server"],
    "cwd": str(ROOT),
    "env": {"SERVER_API_TOKEN": "${KNEO_UNIT_MCP_TOKEN}"},
}


@pytest.fixture
def pool() -> Iterator[McpPool]:
    created = McpPool()
    yield created
    created.close()


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    with mcp_http_server() as url:
        yield url


def test_stdio_tools_are_listed_called_and_the_session_reused(pool: McpPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNEO_UNIT_MCP_TOKEN", "unit-mcp-token-value")
    tools = pool.list_tools("local", STDIO, 20)
    assert {"word_count", "shout", "reveal"} <= set(tools)
    assert tools["word_count"].inputSchema["properties"]["text"]["type"] == "string"
    assert pool.call_tool("local", STDIO, "word_count", {"text": "a b c"}, 20).text == "3 words"
    assert len(pool._connections) == 1
    leaked = pool.call_tool("local", STDIO, "reveal", {"name": "SERVER_API_TOKEN"}, 20)
    assert leaked.text.endswith("unit-mcp-token-value")
    assert redact(leaked.text) == f"value of SERVER_API_TOKEN: {REDACTED}"
    assert pool.call_tool("local", STDIO, "missing", {}, 20).is_error


def test_streamable_http(pool: McpPool, http_server: str) -> None:
    config = {"transport": "http", "url": http_server}
    assert pool.call_tool("remote", config, "shout", {"text": "hi"}, 20).text == "HI"
    assert pool.call_tool("remote", config, "word_count", {"text": "x y"}, 20).text == "2 words"


def test_literal_credentials_are_refused(pool: McpPool, http_server: str) -> None:
    config = {"transport": "http", "url": http_server, "headers": {"Authorization": "Bearer literal"}}
    with pytest.raises(McpError, match=r"must reference an environment variable"):
        pool.call_tool("remote", config, "shout", {"text": "x"}, 5)


def test_unreachable_server_fails_fast_and_close_is_clean(pool: McpPool) -> None:
    config = {"transport": "http", "url": f"http://127.0.0.1:{free_port()}/mcp"}
    with pytest.raises(McpError):
        pool.call_tool("down", config, "x", {}, 3)
    assert pool._connections == {}
    pool.close()
    assert pool._thread is None
