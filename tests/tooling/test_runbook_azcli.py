"""Every `az` line of every generated runbook, through the real Azure CLI (issue #20).

The runbooks (tests/runbooks.py): the default stacks, every example, and an invented estate with the
hub in its own group and subscription, spokes in two landing-zone subscriptions and the dr stack in
a third, rendered as `make plan` renders them.

Every az command the runbook shows (shell blocks, inline code, any in PowerShell) goes through the
real CLI's parser (`azure-cli`, pinned in tests/azure-cli.txt, in its own environment: tests/azcli.py):
no unknown command or argument, no missing required one, no bad value. And every resource those
commands name is one the stacks register (or, for circuits, one their connections refer to), at
the subscription and group the command gives with `--subscription` and `-g`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import Any

import pytest

from erdr import dr_runbook
from erdr.simulate import SimResult
from tests import azcli
from tests import runbooks as runbooks_

VALUES = runbooks_.VALUES
Runbook = runbooks_.Runbook
ID = re.compile(
    r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Network/"
    r"(?P<type>[^/]+)/(?P<name>[^/\s\"']+)",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def runbooks() -> list[Runbook]:
    return runbooks_.rendered()


@pytest.fixture(scope="module")
def parsed(runbooks: list[Runbook]) -> dict[str, azcli.Parsed]:
    """Each distinct line, parsed once by the real CLI."""
    lines = sorted({a.line for rb in runbooks for a in rb.lines})
    run = azcli.parse(lines)
    assert run.version == _pinned_version(), run.version
    return {p.line: p for p in run.results}


def test_the_prerequisites_name_the_cli_the_lines_are_checked_with(runbooks: list[Runbook]) -> None:
    assert _pinned_version() == dr_runbook.AZURE_CLI
    for rb in runbooks:
        assert f"checked with Azure CLI {_pinned_version()}" in rb.text, rb.name


def _pinned_version() -> str:
    match = re.search(r"^azure-cli==(\S+)$", azcli.PINS.read_text(), re.MULTILINE)
    assert match, azcli.PINS
    return match[1]


# --- the parse ----------------------------------------------------------------------------------


def test_every_runbook_shows_the_az_commands_of_its_steps(runbooks: list[Runbook]) -> None:
    """What the parse covers: each runbook's az lines, and across them every kind the generator writes."""
    for rb in runbooks:
        assert any(a.line.startswith("az network ") for a in rb.lines), rb.name
    commands = {" ".join(shlex.split(a.line)[:4]) for rb in runbooks for a in rb.lines}
    assert {
        "az login",
        "az network vpn-connection create",
        "az network vpn-connection update",
        "az network vpn-connection delete",
        "az network vpn-connection show",
        "az network express-route list-route-tables",
        "az network vnet-gateway list-learned-routes",
        "az network vnet peering",
    } <= commands, commands
    invented = next(rb for rb in runbooks if rb.name == "invented")
    assert any("--authorization-key 5f1c0d8e-" in a.line for a in invented.lines), "the key placeholder is filled"


def test_every_az_line_parses_with_the_real_cli(runbooks: list[Runbook], parsed: dict[str, azcli.Parsed]) -> None:
    failed = [
        f"{rb.name} {a.where}: {a.shown}\n    -> {p.phase}: {p.error_class} {p.error or p.needs_azure}"
        for rb in runbooks
        for a in rb.lines
        if not (p := parsed[a.line]).ok or p.needs_azure
    ]
    assert not failed, "\n".join(failed)


def _variant(line: str, old: str, new: str) -> str:
    assert old in line, (old, line)
    return line.replace(old, new, 1)


def test_the_parse_catches_a_misspelt_a_missing_and_a_bad_argument(runbooks: list[Runbook]) -> None:
    """Control: lines the CLI must refuse, made from a real runbook line, fail the parse, each at the
    parser and saying why; the line itself passes."""
    invented = next(rb for rb in runbooks if rb.name == "invented")
    create = next(a.line for a in invented.lines if a.line.startswith("az network vpn-connection create"))
    routes = next(a.line for a in invented.lines if a.line.startswith("az network vnet-gateway list-learned-routes"))
    group = _options(shlex.split(routes))["--resource-group"]
    bad = {
        "misspelt": (
            _variant(create, "--routing-weight", "--routing-wieght"),
            "unrecognized arguments: --routing-wieght",
        ),
        "missing": (_variant(routes, f"-g {group} ", ""), "Missing required field: --resource-group"),
        "choice": (_variant(routes, "-o table", "-o tabel"), "'tabel' is not a valid value for '--output'"),
        "command": (_variant(routes, "list-learned-routes", "list-learnt-routes"), "list-learnt-routes"),
        "weight": (_variant(create, "--routing-weight ", "--routing-weight x"), "--routing-weight"),
    }
    run = azcli.parse([create, routes, *(line for line, _ in bad.values())])
    assert run.results[0].ok and run.results[1].ok, (run.results[0].error, run.results[1].error)
    for (what, (_, expected)), result in zip(bad.items(), run.results[2:], strict=True):
        assert not result.ok, what
        # argparse (parse), or for the CLI's generated (AAZ) commands its argument schema (format)
        assert result.phase in ("parse", "format"), (what, result.phase)
        assert expected in result.error + result.output, (what, result.error, result.output)


# --- the names ----------------------------------------------------------------------------------

# az command -> the ARM resource type its -n names (with -g and --subscription), and the option
# that names a VNet it works under.
NAMED_BY = {
    "network vpn-connection": "connections",
    "network vnet-gateway": "virtualNetworkGateways",
    "network express-route": "expressRouteCircuits",
}
IDS_IN = ("--vnet-gateway1", "--express-route-circuit2")
SHORT = {"-g": "--resource-group", "-n": "--name"}


def _options(argv: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, token in enumerate(argv):
        if token.startswith("-") and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            out[SHORT.get(token, token)] = argv[i + 1]
    return out


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():  # pyright: ignore[reportUnknownVariableType]
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:  # pyright: ignore[reportUnknownVariableType]
            yield from _strings(v)


def _key(sub: str, rg: str, type_: str, name: str) -> tuple[str, str, str, str]:
    return (sub.lower(), rg.lower(), type_.lower(), name.lower())


def _registered(rb: Runbook) -> tuple[set[tuple[str, str, str, str]], set[tuple[str, str, str, str]]]:
    """(what the stacks register, in any phase; what registered resources refer to: circuits)."""
    runs: list[SimResult] = [r for s in rb.stacks.values() for r in s.runs.values()]
    own, referred = set[tuple[str, str, str, str]](), set[tuple[str, str, str, str]]()
    for run in runs:
        for r in run.resources:
            if r.custom and (m := ID.fullmatch(r.id)):
                own.add(_key(m["sub"], m["rg"], m["type"], m["name"]))
            for text in _strings(r.inputs):
                referred |= {_key(m["sub"], m["rg"], m["type"], m["name"]) for m in ID.finditer(text)}
    return own, referred


def _named(line: str) -> list[tuple[str, tuple[str, str, str, str]]]:
    """(how the line names it, the resource) for each resource an az line names."""
    argv = shlex.split(line)
    command = " ".join(argv[1:3])
    opts = _options(argv)
    if argv[1:2] == ["login"]:
        return []
    sub = opts.get("--subscription")
    assert sub, f"no --subscription: {line}"
    rg = opts["--resource-group"]
    found: list[tuple[str, tuple[str, str, str, str]]] = []
    if command == "network vnet" and argv[3] == "peering":
        found.append(("--vnet-name", _key(sub, rg, "virtualNetworks", opts["--vnet-name"])))
    else:
        assert command in NAMED_BY, f"add what `az {command}` names to NAMED_BY: {line}"
        found.append(("-g/-n", _key(sub, rg, NAMED_BY[command], opts["--name"])))
    for option in IDS_IN:
        if option in opts:
            m = ID.fullmatch(opts[option])
            assert m, (option, opts[option])
            found.append((option, _key(m["sub"], m["rg"], m["type"], m["name"])))
    return found


def test_every_az_line_names_only_what_the_stacks_register(runbooks: list[Runbook]) -> None:
    for rb in runbooks:
        own, referred = _registered(rb)
        unknown = [
            f"{a.where} {how} {'/'.join(key)}: {a.shown}"
            for a in rb.lines
            for how, key in _named(a.line)
            if key not in (referred if key[2] == "expressroutecircuits" else own)
        ]
        assert not unknown, f"{rb.name}:\n" + "\n".join(unknown)


def _locations(rb: Runbook) -> dict[tuple[str, str, str, str], set[str]]:
    """Registered resource -> the locations the stacks give it (in any phase)."""
    out: dict[tuple[str, str, str, str], set[str]] = {}
    for stack in rb.stacks.values():
        for run in stack.runs.values():
            for r in run.resources:
                if r.custom and (m := ID.fullmatch(r.id)) and isinstance(r.plain_inputs.get("location"), str):
                    key = _key(m["sub"], m["rg"], m["type"], m["name"])
                    out.setdefault(key, set()).add(str(r.plain_inputs["location"]).lower())
    return out


def test_a_connection_the_runbook_creates_is_where_the_stack_creates_it(runbooks: list[Runbook]) -> None:
    """`vpn-connection create --location` is the location the stack registers that connection in."""
    checked = 0
    for rb in runbooks:
        locations = _locations(rb)
        for a in rb.lines:
            if a.line.startswith("az network vpn-connection create"):
                (_, key), *_ = _named(a.line)
                location = _options(shlex.split(a.line))["--location"].lower()
                assert locations.get(key) == {location}, (rb.name, a.where, location, locations.get(key))
                checked += 1
    assert checked >= 4, checked


def test_the_names_check_catches_a_group_or_subscription_the_stacks_do_not_use(runbooks: list[Runbook]) -> None:
    """Control: the same line with another group, another subscription or a made-up name is refused."""
    rb = next(rb for rb in runbooks if rb.name == "invented")
    own, _ = _registered(rb)
    line = next(a.line for a in rb.lines if a.line.startswith("az network vnet-gateway list-learned-routes"))
    (_, key), *_ = _named(line)
    assert key in own
    opts = _options(shlex.split(line))
    for old, new in (
        (f"-g {opts['--resource-group']} ", "-g rg-elsewhere "),
        (f"--subscription {opts['--subscription']}", "--subscription 99999999-0000-4000-8000-000000000009"),
        (f"-n {opts['--name']} ", "-n ergw-hub "),
    ):
        (_, other), *_ = _named(_variant(line, old, new))
        assert other not in own, (old, new)


# --- the extraction -----------------------------------------------------------------------------


def test_az_lines_joins_continuations_fills_variables_and_finds_powershell_and_inline() -> None:
    text = "\n".join(
        [
            "Sign in with `az login`, then:",
            "   ```sh",
            "   # a comment",
            "   az network vnet-gateway list-learned-routes -g $GROUP \\",
            "     -n ${GATEWAY} --subscription <sub>",
            "   pulumi up",
            "   ```",
            "```powershell",
            "$routes = az network vnet-gateway list-learned-routes -g rg -n gw --subscription s | ConvertFrom-Json",
            "```",
        ]
    )
    values = {"GROUP": "rg one", "GATEWAY": "ergw-hub", "sub": "0000"}
    lines = azcli.az_lines(text, values)
    assert [a.line for a in lines] == [
        "az network vnet-gateway list-learned-routes -g 'rg one'    -n ergw-hub --subscription 0000",
        "az network vnet-gateway list-learned-routes -g rg -n gw --subscription s",
        "az login",
    ]
    assert [a.where for a in lines] == ["line 4 (sh block)", "line 9 (powershell block)", "line 1 (inline)"]
    with pytest.raises(azcli.UnknownValueError, match="'GATEWAY'"):
        azcli.az_lines(text, {"GROUP": "g", "sub": "s"})
