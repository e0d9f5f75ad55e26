"""A small MCP server for the MCP examples, built with the official ``mcp`` SDK.

python examples/agents/mcp_server.py                 # stdio (the platform spawns it)
python examples/agents/mcp_server.py http 8765       # streamable HTTP at http://127.0.0.1:8765/mcp
"""

from __future__ import annotations

import sys

from mcp.server.fastmcp import FastMCP

server = FastMCP("kneo-example-tools", log_level="WARNING")


@server.tool()
def word_count(text: str) -> str:
    """Count the words in a text."""
    return f"{len(text.split())} words"


@server.tool()
def reverse(text: str) -> str:
    """Reverse a text."""
    return text[::-1]


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        server.settings.port = int(sys.argv[2]) if len(sys.argv) > 2 else 8765
        server.run(transport="streamable-http")
    else:
        server.run(transport="stdio")
