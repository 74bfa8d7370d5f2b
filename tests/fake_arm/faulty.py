"""A fake ARM endpoint on 127.0.0.1 that throttles, fails, hangs or lies, path by path.

Plain HTTP (the tools accept it for loopback addresses only). Each path answers by its mode:

- ``gone``: 404 with ARM's error body ``{"error": {"code": "ResourceNotFound", ...}}``;
- ``present``: 200 with the resource (``body``), ``provisioningState`` Succeeded unless given;
- ``throttle``: 429 ``TooManyRequests`` with ``Retry-After`` (ARM's throttling answer);
- ``fail``: 500 ``InternalServerError``;
- ``hang``: reads the request, never answers (the connection stays open);
- ``drip``: sends the status line and headers, then one byte of body every ``drip_seconds``;
- ``html404`` / ``html200``: a proxy's or portal's HTML page with that status;
- ``other``: 200 with a body for another resource than the one asked for.

A path not configured answers ``default``. Every request is recorded (path, Authorization header,
time); the server stops with the context manager.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.loopback import LoopbackServer, running

TOKEN = "fake-arm-token"


@dataclass
class Request:
    path: str
    query: str
    auth: str
    at: float


@dataclass
class FaultyArm:
    modes: dict[str, str] = field(default_factory=dict[str, str])  # lower-case path -> mode
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    default: str = "gone"
    retry_after: int = 1
    drip_seconds: float = 1.0
    requests: list[Request] = field(default_factory=list[Request])
    url: str = ""
    _stop: threading.Event = field(default_factory=threading.Event)

    def mode(self, path: str) -> str:
        return self.modes.get(path.lower().rstrip("/"), self.default)


def _json(handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    handler.send_header("x-ms-request-id", "00000000-0000-0000-0000-000000000000")
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)


def _html(handler: BaseHTTPRequestHandler, status: int) -> None:
    data = b"<html><head><title>Sign in to continue</title></head><body>Proxy</body></html>"
    handler.send_response(status)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@contextmanager
def serve(arm: FaultyArm) -> Iterator[FaultyArm]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path = parts.path
            arm.requests.append(Request(path, parts.query, self.headers.get("Authorization", ""), time.monotonic()))
            mode = arm.mode(path)
            name = path.rstrip("/").rsplit("/", 1)[-1]
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                _json(self, 401, {"error": {"code": "InvalidAuthenticationToken", "message": "bad token"}})
            elif mode == "gone":
                _json(
                    self,
                    404,
                    {"error": {"code": "ResourceNotFound", "message": f"The Resource '{path}' was not found."}},
                )
            elif mode == "present":
                body = arm.bodies.get(path.lower()) or {
                    "id": path,
                    "name": name,
                    "properties": {"provisioningState": "Succeeded"},
                }
                _json(self, 200, body)
            elif mode == "other":
                other = path.rsplit("/", 1)[0] + "/someone-elses-connection"
                _json(
                    self,
                    200,
                    {"id": other, "name": "someone-elses-connection", "properties": {"provisioningState": "Succeeded"}},
                )
            elif mode == "throttle":
                _json(
                    self,
                    429,
                    {"error": {"code": "TooManyRequests", "message": "Number of read requests exceeded the limit."}},
                    {"Retry-After": str(arm.retry_after)},
                )
            elif mode == "fail":
                _json(self, 500, {"error": {"code": "InternalServerError", "message": "boom"}})
            elif mode == "html404":
                _html(self, 404)
            elif mode == "html200":
                _html(self, 200)
            elif mode == "hang":
                arm._stop.wait()  # until the server stops
            elif mode == "drip":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.flush()
                while not arm._stop.wait(arm.drip_seconds):
                    try:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    except OSError:
                        return
            else:
                raise AssertionError(f"unknown mode {mode}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(LoopbackServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up: expected here
                super().handle_error(request, client_address)

    server = Server(("127.0.0.1", 0), Handler)
    arm.url = f"http://127.0.0.1:{server.server_address[1]}"
    with running(server):
        try:
            yield arm
        finally:
            arm._stop.set()  # hanging handlers end before the server shuts down
