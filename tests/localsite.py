"""A small HTTP site on 127.0.0.1 for tests that fetch pages: it serves ``pages[path] =
(content type, body)``, answers other paths with ``default`` (200) or a 404, and records each
request's (path, Host header)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LocalSite:
    """``base`` is ``http://127.0.0.1:PORT``; ``close()`` stops it."""

    def __init__(self, default: bytes | None = None) -> None:
        self.pages: dict[str, tuple[str, bytes]] = {}
        self.requests: list[tuple[str, str | None]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                site.requests.append((self.path, self.headers.get("Host")))
                found = site.pages.get(self.path)
                if found is None and default is not None:
                    found = ("text/plain", default)
                kind, body = found or ("text/plain", b"not found")
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
