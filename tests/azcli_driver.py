# pyright: reportMissingImports=false, reportAttributeAccessIssue=false
"""Parses `az` command lines with the real Azure CLI, in the Azure CLI's own environment.

tests/azcli.py starts this file with that environment's Python (never the project's .venv): it reads
{"lines": [...]} as JSON on stdin and writes one JSON object per line, in order, on stdout.

Each line is split as a POSIX shell splits it (shlex) and goes through `AzCli.invoke`, as `az` runs it:
the command index picks the command modules to load, the command table and the arguments are loaded,
argparse parses (unknown commands and arguments, missing required ones, bad choices), then the
command's validators run. It stops where the command's handler would be called
(`AzCliCommandInvoker._run_job`): for AAZ-generated commands it runs only the part of the handler
that formats the arguments (`AAZCommandCtx.format_args`: patterns, ranges, ID formats), never an
operation. Nothing here signs in or reaches the network: sockets refuse to connect, and a validator
that needs Azure (to read a resource group's location, say) is reported as `needs_azure`, not as a
parse error.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import socket
import sys
from typing import Any


class _Capture(io.TextIOBase):
    """What the CLI prints, kept per command line."""

    def __init__(self) -> None:
        self.buffer_ = io.StringIO()

    def write(self, text: str) -> int:
        return self.buffer_.write(text)

    def isatty(self) -> bool:
        return False

    def take(self) -> str:
        text, self.buffer_ = self.buffer_.getvalue(), io.StringIO()
        return text


class _State:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.phase = "load"  # load -> parse -> validate -> format -> handler
        self.errors: list[tuple[str, str]] = []  # (error class, message)
        self.needs_azure: list[str] = []


STATE = _State()


class NetworkBlockedError(OSError):
    pass


def _refuse(*_args: Any, **_kwargs: Any) -> Any:
    STATE.needs_azure.append("network")
    raise NetworkBlockedError("the az parse check is offline: no network access")


def _block_network() -> None:
    socket.socket.connect = _refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = _refuse  # type: ignore[method-assign]
    socket.create_connection = _refuse  # type: ignore[assignment]
    socket.getaddrinfo = _refuse  # type: ignore[assignment]


def _instrument() -> None:
    """Hooks into the invocation: where each phase starts, what errors the CLI prints, and the stop."""
    from azure.cli.core import azclierror
    from azure.cli.core._profile import Profile
    from azure.cli.core.aaz import AAZCommand
    from azure.cli.core.aaz._command_ctx import AAZCommandCtx
    from azure.cli.core.commands import AzCliCommandInvoker
    from azure.cli.core.parser import AzCliCommandParser

    print_error = azclierror.AzCLIError.print_error

    def record_error(self: Any) -> None:
        STATE.errors.append((type(self).__name__, str(self.error_msg)))
        print_error(self)

    azclierror.AzCLIError.print_error = record_error

    parse_args = AzCliCommandParser.parse_args

    def parse(self: Any, *args: Any, **kwargs: Any) -> Any:
        STATE.phase = "parse"
        return parse_args(self, *args, **kwargs)

    AzCliCommandParser.parse_args = parse

    validation = AzCliCommandInvoker._validation

    def validate(self: Any, parsed_ns: Any) -> Any:
        STATE.phase = "validate"
        return validation(self, parsed_ns)

    AzCliCommandInvoker._validation = validate

    # A signed-in account is what a validator needs to read Azure; there is none here, by design.
    for name in ("get_subscription", "get_login_credentials", "get_raw_token"):
        original = getattr(Profile, name)

        def needs_account(self: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            STATE.needs_azure.append(f"Profile.{_name}")
            return _original(self, *args, **kwargs)

        setattr(Profile, name, needs_account)

    def stop_before_handler(self: Any, expanded_arg: Any, cmd_copy: Any) -> None:
        if isinstance(cmd_copy, AAZCommand):
            STATE.phase = "format"
            ctx = AAZCommandCtx(
                cli_ctx=cmd_copy.cli_ctx,
                schema=cmd_copy.get_arguments_schema(),
                command_args=self._filter_params(expanded_arg),
                no_wait_arg="no_wait" if cmd_copy.supports_no_wait else None,
            )
            ctx.format_args()
        STATE.phase = "handler"

    AzCliCommandInvoker._run_job = stop_before_handler


def check(line: str, capture: _Capture) -> dict[str, Any]:
    from azure.cli.core import get_default_cli

    STATE.reset()
    capture.take()
    try:
        argv = shlex.split(line, comments=False, posix=True)
    except ValueError as err:
        return {"ok": False, "phase": "shell", "error": f"sh cannot split the line: {err}", "output": ""}
    if not argv or argv[0] != "az":
        return {"ok": False, "phase": "shell", "error": "not an az command line", "output": ""}
    cli = get_default_cli()
    try:
        code = cli.invoke(argv[1:], out_file=io.StringIO())
    except SystemExit as ex:
        code = ex.code if isinstance(ex.code, int) else 1
    output = capture.take()
    reached = STATE.phase == "handler"
    ok = code == 0 and reached and not STATE.errors
    needs_azure = (not ok) and STATE.phase == "validate" and bool(STATE.needs_azure)
    error = ""
    if not ok:
        error = STATE.errors[0][1] if STATE.errors else (output.strip() or f"az exited {code} before the handler")
    return {
        "ok": ok or needs_azure,
        "phase": STATE.phase,
        "exit_code": code,
        "error": "" if needs_azure else error,
        "error_class": STATE.errors[0][0] if STATE.errors and not ok else "",
        "needs_azure": error if needs_azure else "",
        "output": output,
    }


def main() -> int:
    request = json.load(sys.stdin)
    out = sys.stdout
    capture = _Capture()
    sys.stdout = sys.stderr = capture
    _block_network()
    _instrument()
    results = [check(line, capture) for line in request["lines"]]
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    json.dump({"version": _version(), "results": results}, out)
    out.flush()
    os._exit(0)  # skip the CLI's exit hooks (telemetry, upgrade and survey checks)


def _version() -> str:
    from azure.cli.core import __version__

    return str(__version__)


if __name__ == "__main__":
    sys.exit(main())
