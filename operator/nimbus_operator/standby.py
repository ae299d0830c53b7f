"""``/healthz`` while a replica waits to lead: kopf serves it once it runs, on the same address."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class _Health(BaseHTTPRequestHandler):
    path_served = "/healthz"

    def do_GET(self) -> None:
        found = urlsplit(self.path).path == self.path_served
        body = b'{"standby": true}\n' if found else b"not found\n"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json" if found else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def standby_health(endpoint: str | None) -> Iterator[None]:
    """Answer ``endpoint`` (``http://HOST:PORT/PATH``) until the block ends; nothing if None."""
    if not endpoint:
        yield
        return
    parts = urlsplit(endpoint)
    handler = type("Health", (_Health,), {"path_served": parts.path or "/"})
    server = ThreadingHTTPServer((parts.hostname or "0.0.0.0", parts.port or 80), handler)
    thread = threading.Thread(target=server.serve_forever, name="standby health", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
