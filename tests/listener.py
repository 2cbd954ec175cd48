"""A real HTTP listener on 127.0.0.1 for the outbound-fetch tests: it records every request it
gets, so a test can prove that a refused fetch reached nothing ("nothing fetched")."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Listener:
    url: str  # http://127.0.0.1:<port>
    port: int
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        return [path for _, path, _ in self.requests]


def reply(
    status: int,
    body: bytes = b"",
    content_type: str = "text/plain",
    reason: str | None = None,
    **headers: str,
) -> Route:
    """A route that answers `status` (with its `reason` phrase, if given) with `body` and the
    given headers (underscores in their names: dashes)."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status, reason)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        handler.wfile.write(body)

    return route


def endless(handler: BaseHTTPRequestHandler) -> None:
    """A route whose body has no length and never ends (until the client hangs up)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.end_headers()
    try:
        while True:
            handler.wfile.write(b"x" * 65536)
    except OSError:
        pass


def trickle(handler: BaseHTTPRequestHandler) -> None:
    """A route that sends one byte every 50 ms: no single read ever waits long, so only a total
    deadline stops it."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.end_headers()
    try:
        for _ in range(10_000):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.05)
    except OSError:
        pass


@contextmanager
def listening(routes: dict[str, Route] | None = None) -> Iterator[Listener]:
    """Serve `routes` (path -> route; anything else is a 200 "hello") on a free port."""
    table = routes or {}
    seen: list[tuple[str, str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            seen.append((self.command, self.path, dict(self.headers.items())))
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            table.get(self.path.split("?")[0], reply(200, b"hello"))(self)

        def do_GET(self) -> None:
            self._any()

        def do_POST(self) -> None:
            self._any()

        def do_HEAD(self) -> None:
            self._any()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        yield Listener(url=f"http://127.0.0.1:{port}", port=port, requests=seen)
    finally:
        server.shutdown()
        server.server_close()
