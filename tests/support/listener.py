"""A TCP listener on 127.0.0.1 that records every byte anyone sends it and answers nothing useful.

An attack test points a spec at it: whatever the platform should never send (a request, a key)
shows up in :attr:`Listener.received`.
"""

from __future__ import annotations

import socketserver
import threading


class Listener:
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self._lock = threading.Lock()
        listener = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(2)
                chunks = []
                try:
                    while chunk := self.request.recv(65536):
                        chunks.append(chunk)
                        if b"\r\n\r\n" in b"".join(chunks):
                            break
                except (TimeoutError, OSError):
                    pass
                with listener._lock:
                    listener.received.append(b"".join(chunks))
                self.request.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="listener", daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def everything(self) -> bytes:
        with self._lock:
            return b"".join(self.received)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
