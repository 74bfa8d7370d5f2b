"""The fake ARM endpoint: GETs of an :class:`~tests.fake_arm.estate.Estate` over HTTP on 127.0.0.1.

Behaves as ARM does where the discover command depends on it:

- a bearer token is required (401 ``InvalidAuthenticationToken`` without the expected one);
- lists are paged: ``{"value": [...], "nextLink": <absolute URL>}`` two items a page;
- throttling: a path named in ``throttle_once`` first answers 429 ``TooManyRequests`` with a
  ``Retry-After`` header (ARM's "Throttling Resource Manager requests",
  learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling);
- a subscription in ``estate.forbidden`` answers 403 ``AuthorizationFailed`` with ARM's message;
- anything else unknown is 404 ``ResourceNotFound``;
- ``compose_vnets``: a VNet's GET carries its subnets and peerings (as ARM's VirtualNetworkGet
  example does), read from the estate's child resources so a fault injected on one shows;
- ``lists``: further collections by path (a vault's ``replicationProtectedItems``);
- ``actions``: long-running POST actions (``getLearnedRoutes``) answer ``202 Accepted`` with a
  ``Location`` to poll, which answers ``202`` once more and then ``200`` with the result (ARM's
  asynchronous operations: learn.microsoft.com/azure/azure-resource-manager/management/
  async-operations);
- ``in_flight``: the most requests it held at once per subscription (politeness is measured).

And lies, for the tests of a malformed answer: ``bodies`` replaces the JSON answer of a path,
``html`` answers a path with a 200 HTML page (a portal or proxy), ``next_links`` sets the
``nextLink`` of a list's pages (``{self}``: the page's own URL); every request's Authorization
header is kept in ``auth``.

Loopback only; the server stops with the context manager.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fake_arm.estate import Estate
from tests.loopback import LoopbackServer, running

PAGE = 2
TOKEN = "fake-arm-token"


@dataclass
class FakeArm:
    estate: Estate
    throttle_once: set[str] = field(default_factory=set[str])  # lower-case paths
    retry_after: int = 1
    requests: list[tuple[str, int]] = field(default_factory=list[tuple[str, int]])  # (path, status)
    url: str = ""
    bodies: dict[str, Any] = field(default_factory=dict[str, Any])  # lower-case path -> JSON answer
    html: set[str] = field(default_factory=set[str])  # lower-case paths answered with an HTML page
    next_links: dict[str, str] = field(default_factory=dict[str, str])  # lower-case list path -> nextLink
    auth: list[tuple[str, str | None]] = field(default_factory=list[tuple[str, str | None]])
    compose_vnets: bool = False
    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict[str, list[dict[str, Any]]])
    actions: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])  # lower path -> result
    delay: float = 0.0  # seconds every answer waits (ARM's latency)
    in_flight: dict[str, int] = field(default_factory=dict[str, int])
    most_in_flight: dict[str, int] = field(default_factory=dict[str, int])
    _operations: dict[str, list[Any]] = field(default_factory=dict[str, list[Any]])
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self, path: str) -> str:
        segments = path.lower().split("/")
        sub = segments[2] if len(segments) > 2 and segments[1] == "subscriptions" else ""
        with self._lock:
            self.in_flight[sub] = self.in_flight.get(sub, 0) + 1
            self.most_in_flight[sub] = max(self.most_in_flight.get(sub, 0), self.in_flight[sub])
        return sub

    def leave(self, sub: str) -> None:
        with self._lock:
            self.in_flight[sub] -= 1

    def _vnet(self, body: dict[str, Any]) -> dict[str, Any]:
        out = dict(body)
        props = dict(body.get("properties") or {})
        props["subnets"] = self.estate.children(body["id"], "subnets")
        props["virtualNetworkPeerings"] = self.estate.children(body["id"], "virtualNetworkPeerings")
        out["properties"] = props
        return out

    def _list(self, path: str) -> list[dict[str, Any]] | None:
        lower = path.lower()
        if lower in self.lists:
            return self.lists[lower]
        for kind in ("virtualnetworkpeerings", "subnets"):
            if lower.endswith(f"/{kind}"):
                parent = path[: -len(kind) - 1]
                return self.estate.children(parent, kind) if parent.lower() in self.estate.resources else None
        if lower.endswith("/connections") and "/virtualnetworkgateways/" in lower:
            gateway = path[: -len("/connections")].lower()
            if gateway not in self.estate.resources:
                return None
            return [
                b
                for b in self.estate.resources.values()
                if b["type"] == "Microsoft.Network/connections"
                and b["properties"].get("virtualNetworkGateway1", {}).get("id", "").lower() == gateway
            ]
        return None

    def answer(self, method: str, raw_path: str, auth: str | None) -> tuple[int, dict[str, str], dict[str, Any]]:
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/")
        lower = path.lower()
        if method not in ("GET", "POST"):
            return 405, {}, _error("MethodNotAllowed", "the fake ARM endpoint is read-only")
        if auth != f"Bearer {TOKEN}":
            return 401, {}, _error("InvalidAuthenticationToken", "The access token is missing or invalid.")
        if lower.startswith("/fakeoperations/"):
            with self._lock:
                state = self._operations.get(lower)
                if state is None:
                    return 404, {}, _error("OperationNotFound", f"no operation {path}")
                if state[0] > 0:
                    state[0] -= 1
                    return 202, {"Location": f"{self.url}{path}", "Retry-After": "0"}, {}
            return 200, {}, state[1]
        segments = lower.split("/")
        if len(segments) > 2 and segments[1] == "subscriptions" and segments[2] in self.estate.forbidden:
            return (
                403,
                {},
                _error(
                    "AuthorizationFailed",
                    f"The client 'erdr-discover' with object id '00000000-0000-0000-0000-00000000d15c' does not have "
                    f"authorization to perform action 'Microsoft.Network/read' over scope '{path}' or the scope is "
                    "invalid. If access was recently granted, please refresh your credentials.",
                ),
            )
        if lower in self.throttle_once:
            self.throttle_once.discard(lower)
            return (
                429,
                {"Retry-After": str(self.retry_after)},
                _error("TooManyRequests", "Number of read requests for subscription exceeded the limit."),
            )
        if lower in self.bodies:
            return 200, {}, self.bodies[lower]
        if method == "POST":
            result = self.actions.get(lower)
            if result is None:
                return 404, {}, _error("ResourceNotFound", f"The Resource '{path}' was not found.")
            with self._lock:
                operation = f"/fakeoperations/{len(self._operations) + 1}"
                self._operations[operation] = [1, result]
            return 202, {"Location": f"{self.url}{operation}", "Retry-After": "0"}, {}
        items = self._list(path)
        if items is not None:
            start = int(parse_qs(parts.query).get("$skipToken", ["0"])[0])
            page: dict[str, Any] = {"value": items[start : start + PAGE]}
            if start + PAGE < len(items):
                page["nextLink"] = f"{self.url}{path}?api-version=2024-05-01&$skipToken={start + PAGE}"
            if lower in self.next_links:
                page["nextLink"] = self.next_links[lower].replace("{self}", f"{self.url}{raw_path}")
            return 200, {}, page
        body = self.estate.resources.get(lower)
        if body is None:
            return 404, {}, _error("ResourceNotFound", f"The Resource '{path}' was not found.")
        if self.compose_vnets and body.get("type") == "Microsoft.Network/virtualNetworks":
            body = self._vnet(body)
        return 200, {}, body


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


@contextmanager
def serve(arm: FakeArm) -> Iterator[FakeArm]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply("GET")

        def do_PUT(self) -> None:
            self._reply("PUT")

        def do_POST(self) -> None:
            self._reply("POST")

        def _reply(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            path = urlsplit(self.path).path
            arm.auth.append((path, self.headers.get("Authorization")))
            if path.lower().rstrip("/") in arm.html:
                arm.requests.append((path, 200))
                page = b"<html><head><title>Sign in</title></head><body>Proxy</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return
            sub = arm.enter(path)
            try:
                if arm.delay:
                    time.sleep(arm.delay)
                status, headers, body = arm.answer(method, self.path, self.headers.get("Authorization"))
            finally:
                arm.leave(sub)
            arm.requests.append((path, status))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-ms-request-id", "00000000-0000-0000-0000-000000000000")
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = LoopbackServer(("127.0.0.1", 0), Handler)
    arm.url = f"http://127.0.0.1:{server.server_address[1]}"
    with running(server):
        yield arm
