"""MCP client sessions on the official ``mcp`` SDK, reused per worker process.

One daemon thread per process runs an asyncio loop; each server connection is held open by one
task of that loop (the SDK's transports and ``ClientSession`` are entered and exited in the same
task, as anyio requires) until the pool closes at worker shutdown. Tasks of any thread call
:meth:`McpPool.call_tool` synchronously; each call is bounded by ``KNEO_SERV_MCP_TIMEOUT_SECONDS``
and a failed connection is dropped so the next call reconnects. The pool is rebuilt after a fork.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from mcp import ClientSession, types

from kneo.agents.errors import McpError, time_limit_of
from kneo.agents.mcp_transport import DEFAULT_TIMEOUT_SECONDS, open_transport

T = TypeVar("T")


@dataclass
class McpToolResult:
    text: str
    is_error: bool = False


@dataclass
class _Connection:
    name: str
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    session: ClientSession | None = None
    error: BaseException | None = None
    task: asyncio.Task[None] | None = None
    tools: dict[str, types.Tool] | None = None

    @property
    def alive(self) -> bool:
        return self.error is None and not self.closing.is_set() and self.task is not None and not self.task.done()


def server_key(name: str, config: Mapping[str, Any]) -> str:
    return name + ":" + json.dumps(config, sort_keys=True, default=str)


def result_text(result: types.CallToolResult, max_bytes: int | None) -> str:
    parts: list[str] = []
    for item in result.content:
        if isinstance(item, types.TextContent):
            parts.append(item.text)
        else:
            parts.append(f"[{item.type} content]")
    if not parts and result.structuredContent is not None:
        parts.append(json.dumps(result.structuredContent, default=str))
    text = "\n".join(parts)
    if max_bytes is not None and max_bytes > 0 and len(text.encode()) > max_bytes:
        text = text.encode()[:max_bytes].decode(errors="ignore") + "...[truncated]"
    return text


class McpPool:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connections: dict[str, _Connection] = {}

    # --- the loop thread ----------------------------------------------------------------------
    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="kneo-mcp", daemon=True)
                self._thread.start()
                self._loop = loop
            return self._loop

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self._ensure_loop())
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise McpError(f"MCP call timed out after {timeout:g} seconds.") from None
        except BaseException:
            future.cancel()
            raise

    # --- connections (loop side) -------------------------------------------------------------
    async def _hold(self, conn: _Connection, config: Mapping[str, Any], timeout: float) -> None:
        try:
            async with (
                open_transport(conn.name, config, timeout) as (read, write),
                ClientSession(read, write, read_timeout_seconds=timedelta(seconds=timeout)) as session,
            ):
                await session.initialize()
                conn.session = session
                conn.ready.set()
                await conn.closing.wait()
        except BaseException as exc:
            conn.error = exc if not isinstance(exc, asyncio.CancelledError) else McpError("connection closed")
        finally:
            conn.closing.set()
            conn.ready.set()

    async def _connection(self, name: str, config: Mapping[str, Any], timeout: float) -> _Connection:
        key = server_key(name, config)
        conn = self._connections.get(key)
        if conn is None or (conn.ready.is_set() and not conn.alive):
            conn = _Connection(name)
            self._connections[key] = conn
            conn.task = asyncio.get_running_loop().create_task(self._hold(conn, config, timeout))
        await conn.ready.wait()
        if conn.error is not None or conn.session is None:
            self._connections.pop(key, None)
            raise McpError(f"MCP server '{name}' is unavailable: {type(conn.error).__name__}: {conn.error}")
        return conn

    async def _drop(self, name: str, config: Mapping[str, Any]) -> None:
        conn = self._connections.pop(server_key(name, config), None)
        if conn is not None:
            conn.closing.set()

    async def _list_tools(self, name: str, config: Mapping[str, Any], timeout: float) -> dict[str, types.Tool]:
        conn = await self._connection(name, config, timeout)
        if conn.tools is None:
            assert conn.session is not None
            listed = await conn.session.list_tools()
            conn.tools = {tool.name: tool for tool in listed.tools}
        return conn.tools

    async def _call(
        self, name: str, config: Mapping[str, Any], tool: str, arguments: dict[str, Any], timeout: float
    ) -> McpToolResult:
        conn = await self._connection(name, config, timeout)
        assert conn.session is not None
        try:
            result = await conn.session.call_tool(tool, arguments, read_timeout_seconds=timedelta(seconds=timeout))
        except Exception:
            await self._drop(name, config)
            raise
        return McpToolResult(result_text(result, config.get("max_response_bytes")), bool(result.isError))

    # --- the synchronous API -----------------------------------------------------------------
    def list_tools(self, name: str, config: Mapping[str, Any], timeout: float) -> dict[str, types.Tool]:
        return self._run(self._list_tools(name, config, timeout), timeout * 2)

    def call_tool(
        self,
        name: str,
        config: Mapping[str, Any],
        tool: str,
        arguments: dict[str, Any],
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retries: int = 0,
        backoff: float = 0.0,
    ) -> McpToolResult:
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._run(self._call(name, config, tool, arguments, timeout), timeout * 2)
            except Exception as exc:
                if (limit := time_limit_of(exc)) is not None:
                    raise limit from None
                if attempt > retries:
                    if isinstance(exc, McpError):
                        raise
                    raise McpError(
                        f"MCP tool '{tool}' on server '{name}' failed: {type(exc).__name__}: {exc}"
                    ) from None
                time.sleep(backoff * attempt)

    def close(self, timeout: float = 5.0) -> None:
        """Close every session (in its own task) and stop the loop thread."""
        with self._lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is None:
            return

        async def shutdown() -> None:
            conns = list(self._connections.values())
            self._connections.clear()
            for conn in conns:
                conn.closing.set()
            tasks = [c.task for c in conns if c.task is not None]
            if tasks:
                await asyncio.wait(tasks, timeout=timeout)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout + 1)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout)
        if not loop.is_running():
            loop.close()


_pool: McpPool | None = None
_pool_lock = threading.Lock()


def get_pool() -> McpPool:
    """This process's pool (a forked child never reuses its parent's loop or sessions)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():
            _pool = McpPool()
        return _pool


def close_pool() -> None:
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None and pool.pid == os.getpid():
        pool.close()
