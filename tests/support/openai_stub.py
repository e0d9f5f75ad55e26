"""A local OpenAI-compatible HTTP server with scripted replies (real HTTP for the ``openai`` SDK).

Replies are scripted per model name, so one server can serve many tests at once::

    stub = OpenAIStub().start()
    stub.script("m-loop", [tool_call("add", {"a": 1, "b": 2}), echo_last_tool("Sum: {}")])
    # OPENAI_BASE_URL=stub.base_url

A step is a dict reply (``text``/``tool_call``), ``status(429)``, ``hang(seconds)``, or a callable
``(request_body, headers) -> step``. The last step repeats when the script runs out.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Step = dict[str, Any] | Callable[[dict[str, Any], dict[str, str]], dict[str, Any]]
_ids = itertools.count(1)


def _completion(model: str, message: dict[str, Any], finish: str, usage: tuple[int, int]) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
    }


def text(content: str, usage: tuple[int, int] = (11, 7)) -> dict[str, Any]:
    return {"kind": "reply", "message": {"role": "assistant", "content": content}, "finish": "stop", "usage": usage}


def tool_call(name: str, arguments: dict[str, Any], *more: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    calls = [
        {"id": f"call_{next(_ids)}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
        for n, a in [(name, arguments), *more]
    ]
    message = {"role": "assistant", "content": None, "tool_calls": calls}
    return {"kind": "reply", "message": message, "finish": "tool_calls", "usage": (13, 5)}


def status(code: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "kind": "status",
        "code": code,
        "body": body or {"error": {"message": f"status {code}"}},
        "headers": headers,
    }


def hang(seconds: float) -> dict[str, Any]:
    return {"kind": "hang", "seconds": seconds}


def delayed(seconds: float, step: dict[str, Any]) -> dict[str, Any]:
    return {**step, "delay": seconds}


def last_tool_result(body: dict[str, Any]) -> str:
    tools = [m for m in body.get("messages", []) if m.get("role") == "tool"]
    return str(tools[-1]["content"]) if tools else ""


def echo_last_tool(template: str = "Tool said: {}") -> Step:
    return lambda body, _headers: text(template.format(last_tool_result(body)))


class OpenAIStub:
    def __init__(self) -> None:
        self.scripts: dict[str, list[Step]] = {}
        self.requests: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.headers: dict[str, list[dict[str, str]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def origin(self) -> str:
        """``scheme://host:port`` of the stub, as an entry of KNEO_SERV_OUTBOUND_ALLOWLIST."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def script(self, model: str, steps: list[Step]) -> None:
        with self._lock:
            self.scripts[model] = list(steps)
            self.requests.pop(model, None)

    def count(self, model: str) -> int:
        with self._lock:
            return len(self.requests.get(model, []))

    def _next(self, model: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            self.requests[model].append(body)
            self.headers[model].append(headers)
            steps = self.scripts.get(model) or [text(f"no script for {model}")]
            step = steps.pop(0) if len(steps) > 1 else steps[0]
        return step(body, headers) if callable(step) else step

    def start(self) -> OpenAIStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                model = str(body.get("model"))
                step = stub._next(model, body, {k.lower(): v for k, v in self.headers.items()})
                time.sleep(step.get("delay", 0))
                if step["kind"] == "hang":
                    time.sleep(step["seconds"])
                    step = text("too late")
                if step["kind"] == "status":
                    self._send(step["code"], step["body"], step.get("headers"))
                else:
                    self._send(200, _completion(model, step["message"], step["finish"], step["usage"]))

            def _send(self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="openai-stub", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
