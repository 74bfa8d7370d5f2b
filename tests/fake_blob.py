"""A fake Azure Blob endpoint on 127.0.0.1: one container, blobs with leases and metadata.

Behaves as Blob Storage does where :mod:`erdr.lock` depends on it (Lease Blob, "Outcomes of lease
operations on blobs by lease state", https://learn.microsoft.com/rest/api/storageservices/lease-blob;
Put Blob, Set Blob Metadata, Get Blob Properties):

- Put Blob with ``If-None-Match: *`` on an existing blob: 409 ``BlobAlreadyExists``; on a leased
  blob without the lease ID: 412 ``LeaseIdMissing``;
- lease ``acquire``: 201 from available, broken or expired, or from leased with the same proposed
  ID (a renewal); 409 ``LeaseAlreadyPresent`` from leased with another ID or from breaking;
- ``release``: 200 with the lease's ID; 409 ``LeaseIdMismatchWithLeaseOperation`` with another,
  409 ``LeaseNotPresentWithLeaseOperation`` when no lease is held;
- ``break`` with period 0: 202, broken at once; 409 when no lease was ever taken;
- Set Blob Metadata on a leased blob needs the lease ID (412 ``LeaseIdMissing``);
- HEAD: ``x-ms-lease-state``, ``x-ms-lease-status``, ``x-ms-lease-duration``, ``x-ms-meta-*``;
- auth: ``Authorization: Bearer <TOKEN>`` or a SAS whose ``sig`` is :data:`SAS_SIG`; a
  :data:`READER_TOKEN` may only read (403 ``AuthorizationPermissionMismatch`` on writes), anything
  else is 403 ``AuthenticationFailed``;
- ``fail_next``: statuses answered first, in order, whatever the request (with ``Retry-After: 0``).

One lock serialises every request, as the service does per blob.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from tests.loopback import LoopbackServer, running

TOKEN = "fake-storage-token"
READER_TOKEN = "fake-reader-token"
SAS_SIG = "fake-sig"
ACCOUNT = "erdrstate"
CONTAINER = "state"


@dataclass
class Blob:
    body: bytes = b""
    lease_state: str = "available"  # available | leased | breaking | broken | expired
    lease_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict[str, str])


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int


@dataclass
class FakeBlobService:
    blobs: dict[str, Blob] = field(default_factory=dict[str, Blob])
    fail_next: list[int] = field(default_factory=list[int])
    requests: list[Request] = field(default_factory=list[Request])
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, raw: str, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        with self._lock:
            parts = urlsplit(raw)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            status, out = self._answer(method, unquote(parts.path), query, headers)
            self.requests.append(Request(method, unquote(parts.path), query, headers, status))
            return status, out

    def _answer(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, dict[str, str]]:
        if self.fail_next:
            return self.fail_next.pop(0), {"retry-after": "0", "x-ms-error-code": "ServerBusy"}
        auth = headers.get("authorization", "")
        reader = auth == f"Bearer {READER_TOKEN}"
        if not (auth == f"Bearer {TOKEN}" or reader or query.get("sig") == SAS_SIG):
            return 403, {"x-ms-error-code": "AuthenticationFailed"}
        if reader and method != "HEAD":
            return 403, {"x-ms-error-code": "AuthorizationPermissionMismatch"}
        prefix = f"/{ACCOUNT}/{CONTAINER}/"
        if not path.startswith(prefix):
            return 404, {"x-ms-error-code": "ContainerNotFound"}
        name = path[len(prefix) :]
        blob = self.blobs.get(name)
        comp = query.get("comp")
        if method == "HEAD":
            if blob is None:
                return 404, {"x-ms-error-code": "BlobNotFound"}
            return 200, {
                "x-ms-lease-state": blob.lease_state,
                "x-ms-lease-status": "locked" if blob.lease_state in ("leased", "breaking") else "unlocked",
                **({"x-ms-lease-duration": "infinite"} if blob.lease_state == "leased" else {}),
                **{f"x-ms-meta-{k}": v for k, v in blob.metadata.items()},
            }
        if method != "PUT":
            return 405, {"x-ms-error-code": "UnsupportedHttpVerb"}
        if comp is None:
            return self._put_blob(name, blob, headers)
        if blob is None:
            return 404, {"x-ms-error-code": "BlobNotFound"}
        if comp == "metadata":
            if blob.lease_state == "leased" and headers.get("x-ms-lease-id") != blob.lease_id:
                code = "LeaseIdMissing" if "x-ms-lease-id" not in headers else "LeaseIdMismatchWithBlobOperation"
                return (412 if code == "LeaseIdMissing" else 409), {"x-ms-error-code": code}
            blob.metadata = {k[len("x-ms-meta-") :]: v for k, v in headers.items() if k.startswith("x-ms-meta-")}
            return 200, {}
        if comp == "lease":
            return self._lease(blob, headers)
        return 400, {"x-ms-error-code": "InvalidQueryParameterValue"}

    def _put_blob(self, name: str, blob: Blob | None, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        if blob is not None and headers.get("if-none-match") == "*":
            return 409, {"x-ms-error-code": "BlobAlreadyExists"}
        if blob is not None and blob.lease_state == "leased" and headers.get("x-ms-lease-id") != blob.lease_id:
            return 412, {"x-ms-error-code": "LeaseIdMissing"}
        self.blobs[name] = Blob(
            lease_state=blob.lease_state if blob else "available", lease_id=blob.lease_id if blob else None
        )
        return 201, {}

    def _lease(self, blob: Blob, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        action = headers.get("x-ms-lease-action")
        state = blob.lease_state
        if action == "acquire":
            proposed = headers.get("x-ms-proposed-lease-id")
            if headers.get("x-ms-lease-duration") != "-1" or not proposed:
                return 400, {"x-ms-error-code": "InvalidHeaderValue"}
            if state == "breaking" or (state == "leased" and proposed != blob.lease_id):
                return 409, {"x-ms-error-code": "LeaseAlreadyPresent"}
            blob.lease_state, blob.lease_id = "leased", proposed
            return 201, {"x-ms-lease-id": proposed}
        if action == "release":
            if state == "available":
                return 409, {"x-ms-error-code": "LeaseNotPresentWithLeaseOperation"}
            if headers.get("x-ms-lease-id") != blob.lease_id:
                return 409, {"x-ms-error-code": "LeaseIdMismatchWithLeaseOperation"}
            blob.lease_state, blob.lease_id = "available", None
            return 200, {}
        if action == "break":
            if state == "available":
                return 409, {"x-ms-error-code": "LeaseNotPresentWithLeaseOperation"}
            if headers.get("x-ms-lease-break-period") != "0":
                return 400, {"x-ms-error-code": "InvalidHeaderValue"}
            blob.lease_state = "broken"
            return 202, {"x-ms-lease-time": "0"}
        return 400, {"x-ms-error-code": "InvalidHeaderValue"}


@contextmanager
def serve(service: FakeBlobService) -> Iterator[FakeBlobService]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, out = service.answer(self.command, self.path, headers)
            self.send_response(status)
            for k, v in out.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_PUT = _reply
        do_HEAD = _reply
        do_GET = _reply

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = LoopbackServer(("127.0.0.1", 0), Handler)
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    with running(server):
        yield service
