"""The HTTP server every fake Azure endpoint in the tests runs on (ARM, Blob, managed identity).

Two defaults of ``socketserver`` made the fakes slower than the code they test, and neither is
ARM's behaviour:

- ``request_queue_size = 5``: the listen backlog. A readiness check opens up to 32 connections at
  once; with a backlog of 5 the kernel drops the surplus SYNs and the client's TCP stack resends
  them after its 1 s initial retransmission timeout (RFC 6298 section 2.1), so a read of a
  loopback server took a second. 128 is Linux's classic ``somaxconn``.
- ``serve_forever(poll_interval=0.5)``: ``shutdown()`` waits for the next poll, half a second at
  the end of every test that starts a server.

Handler threads are daemons: a test that leaves a hanging request behind does not keep pytest
alive. A client that hangs up mid-reply (what the timeout and deadline tests make the code under
test do) is not an error of the fake: socketserver's traceback for it is not printed; any other
error in a handler still is.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from typing import Any, TypeVar

POLL_INTERVAL_S = 0.05


class LoopbackServer(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipeError, ConnectionResetError
            return
        super().handle_error(request, client_address)


S = TypeVar("S", bound=ThreadingHTTPServer)


@contextmanager
def running(server: S) -> Iterator[S]:
    """``server`` serving on a daemon thread until the block ends; then shut down and closed."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL_S}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
