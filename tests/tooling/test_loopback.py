"""The fakes' HTTP server (tests/loopback.py): quiet about clients that hang up, loud about bugs."""

from __future__ import annotations

import socket
import time
from http.server import BaseHTTPRequestHandler

import pytest

from tests.loopback import LoopbackServer, running


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/bug":
            raise ValueError("a bug in the fake")
        self.send_response(200)
        self.end_headers()
        for _ in range(2000):  # far more than the socket buffers: the client's hang-up breaks the pipe
            self.wfile.write(b"x" * 65536)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _get_and_hang_up(address: tuple[str, int], path: str) -> None:
    with socket.create_connection(address) as conn:
        conn.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        conn.recv(16)


def test_a_client_hanging_up_is_not_reported_but_a_handler_bug_is(capsys: pytest.CaptureFixture[str]) -> None:
    with running(LoopbackServer(("127.0.0.1", 0), _Handler)) as server:
        host, port = server.server_address[:2]
        _get_and_hang_up((str(host), int(port)), "/")
        time.sleep(0.3)  # the handler thread meets the broken pipe
        assert capsys.readouterr().err == ""
        _get_and_hang_up((str(host), int(port)), "/bug")
        time.sleep(0.3)
    err = capsys.readouterr().err
    assert "a bug in the fake" in err and "ValueError" in err
