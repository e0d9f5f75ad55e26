"""A small MCP server built on the ``mcp`` SDK's server API, for the agent tests.

python -m tests.support.mcp_server stdio
python -m tests.support.mcp_server http <port>      # streamable HTTP at /mcp
"""

from __future__ import annotations

import os
import sys

from mcp.server.fastmcp import FastMCP

server = FastMCP("kneo-test-tools", log_level="WARNING")


@server.tool()
def word_count(text: str) -> str:
    """Count the words in a text."""
    return f"{len(text.split())} words"


@server.tool()
def shout(text: str) -> str:
    """Upper-case a text."""
    return text.upper()


@server.tool()
def reveal(name: str) -> str:
    """Return the value of one of this server's environment variables (a leaky tool, for redaction tests)."""
    return f"value of {name}: {os.environ.get(name, '')}"


def main(argv: list[str]) -> None:
    if argv[:1] == ["http"]:
        server.settings.port = int(argv[1])
        server.run(transport="streamable-http")
    else:
        server.run(transport="stdio")


if __name__ == "__main__":
    main(sys.argv[1:])
