"""Hostile input gets a clear error, not a crash, a hang or a silent guess: stack files and --set
values (erdr.safe_yaml), config error messages (model/config/errors.py), and erdr.discover against
a fake ARM that lies (tests/fake_arm/server.py)."""

from __future__ import annotations

import copy
import io
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from erdr import discover, safe_yaml
from erdr.plan import EXIT_CONFIG
from erdr.plan import main as plan_main
from erdr.stackfiles import PROJECT_DIR
from model.config.errors import show
from tests.fake_arm.estate import CONNECTION_ID, GATEWAY_ID, HUB_ID, LZ_APP1, build
from tests.fake_arm.server import TOKEN, FakeArm, serve

ALIAS_BOMB = "\n".join(
    [
        "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
        *(
            f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [{', '.join(['*' + chr(ord('a') + i - 1)] * 9)}]"
            for i in range(1, 9)
        ),
    ]
)  # 9**9 (387 million) strings once expanded, in 500 bytes


# --- the YAML loader ------------------------------------------------------------------------------


def test_a_key_twice_in_one_mapping_is_refused_with_both_lines() -> None:
    text = (
        "config:\n  expressroute-dr:phase: standby\n  expressroute-dr:role: source\n  expressroute-dr:phase: failover\n"
    )
    assert yaml.safe_load(text)["config"]["expressroute-dr:phase"] == "failover"  # PyYAML: last one wins
    with pytest.raises(safe_yaml.YamlLimitError) as info:
        safe_yaml.loads(text, "Pulumi.prod.yaml")
    message = str(info.value)
    assert "duplicate key 'expressroute-dr:phase'" in message and "first at line 2" in message
    assert 'in "Pulumi.prod.yaml", line 4' in message


def test_keys_merged_in_may_be_overridden() -> None:
    """YAML 1.1 merge keys: an explicit key overrides a merged one; that is not a duplicate."""
    assert safe_yaml.loads("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  x: 3\n")["m"] == {"x": 3, "y": 2}


def test_an_alias_bomb_is_refused_at_once() -> None:
    start = time.monotonic()
    with pytest.raises(safe_yaml.YamlLimitError, match="once its aliases are expanded"):
        safe_yaml.loads(ALIAS_BOMB)
    assert time.monotonic() - start < 2


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000 + "]" * 5000,  # flow: PyYAML's scanner is quadratic in this depth
        "a: &a " + "[" * 40 + "1" + "]" * 40 + "\nb: " + "[" * 40 + "*a" + "]" * 40,  # deep only once expanded
        "a: &a [1, *a]",  # an alias inside its own anchor
    ],
)
def test_nesting_beyond_the_limit_is_refused(text: str) -> None:
    start = time.monotonic()
    with pytest.raises(safe_yaml.YamlLimitError):
        safe_yaml.loads(text)
    assert time.monotonic() - start < 2


def test_every_yaml_file_of_the_repository_reads_as_before() -> None:
    """Control: the limits change nothing for real files (stack files, examples, workflows)."""
    files = [p for p in PROJECT_DIR.rglob("*.y*ml") if not {".venv", "build", "node_modules"} & set(p.parts)]
    assert len(files) > 20
    for path in files:
        assert safe_yaml.load_file(path) == yaml.safe_load(path.read_text()), path


def test_nesting_at_the_limit_is_accepted() -> None:
    depth = safe_yaml.MAX_DEPTH - 1  # the document's top mapping is one level
    value = safe_yaml.loads("a: " + "[" * depth + "1" + "]" * depth)["a"]
    for _ in range(depth - 1):
        value = value[0]
    assert value == [1]


def test_a_text_read_again_is_a_copy_the_caller_may_change() -> None:
    """loads answers a text it has read before from its cache: each caller gets its own copy, with
    the document's own sharing (an alias stays one object), and a refused text is refused again
    under each call's name."""
    text = "base: &b {x: [1, 2]}\nm: *b\nn: [a]\n"
    first = safe_yaml.loads(text)
    first["n"].append("changed")
    first["base"]["x"].append(3)
    again = safe_yaml.loads(text)
    assert again == {"base": {"x": [1, 2]}, "m": {"x": [1, 2]}, "n": ["a"]}
    assert again["base"] is again["m"]  # as PyYAML builds an alias
    duplicate = "a: 1\na: 2\n"
    for name in ("Pulumi.prod.yaml", "Pulumi.dr.yaml"):
        with pytest.raises(safe_yaml.YamlLimitError, match=f'in "{re.escape(name)}"'):
            safe_yaml.loads(duplicate, name)


# --- make plan on hostile stack files and --set values ---------------------------------------------


def _plan(args: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = plan_main(args, out, err)
    return code, out.getvalue() + err.getvalue()


def _stacks_with(tmp_path: Path, extra: str) -> Path:
    folder = tmp_path / "stacks"
    folder.mkdir()
    for stack in ("prod", "dr"):
        shutil.copy(PROJECT_DIR / f"Pulumi.{stack}.yaml", folder / f"Pulumi.{stack}.yaml")
    with (folder / "Pulumi.prod.yaml").open("a") as fh:
        fh.write(extra)
    return folder


def test_plan_refuses_a_stack_file_that_sets_phase_twice(tmp_path: Path) -> None:
    folder = _stacks_with(tmp_path, "  expressroute-dr:phase: failover\n")  # the file already has standby
    code, text = _plan(["--stacks-dir", str(folder), "--out", str(tmp_path / "plan"), "--no-images"])
    assert code == EXIT_CONFIG, text
    assert "duplicate key 'expressroute-dr:phase'" in text and "Pulumi.prod.yaml" in text
    assert not (tmp_path / "plan").exists()


def test_plan_refuses_an_alias_bomb_in_a_stack_file(tmp_path: Path) -> None:
    bomb = "".join(f"  expressroute-dr:x{line}\n" for line in ALIAS_BOMB.splitlines())
    folder = _stacks_with(tmp_path, bomb)
    start = time.monotonic()
    code, text = _plan(["--stacks-dir", str(folder), "--out", str(tmp_path / "plan"), "--no-images"])
    assert code == EXIT_CONFIG, text
    assert "once its aliases are expanded" in text
    assert time.monotonic() - start < 30


def test_plan_refuses_a_deeply_nested_set_value_as_a_config_error(tmp_path: Path) -> None:
    value = "[" * 5000 + "]" * 5000
    code, text = _plan(["--set", f"tags={value}", "--out", str(tmp_path / "plan"), "--no-images"])
    assert code == EXIT_CONFIG, text[-500:]
    assert "nested deeper than 64 levels" in text and "RecursionError" not in text
    assert len(text) < 1000  # the value is cut, not echoed


# --- config errors show a bounded prefix of the value ------------------------------------------------


def _deep(levels: int) -> list[Any]:
    root: list[Any] = []
    node = root
    for _ in range(levels):
        child: list[Any] = []
        node.append(child)
        node = child
    return root


def _cyclic() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


@pytest.mark.parametrize(
    ("make", "starts"),
    [
        (lambda: _deep(20_000), "[[[["),  # json.dumps: RecursionError
        (_cyclic, "[[[["),  # json.dumps: ValueError (circular reference)
        (lambda: list(range(3_000_000)), "[0, 1, 2"),  # json.dumps: all 3 million first
        (lambda: {"key": "x" * 50_000_000}, '{"key": "xxx'),
    ],
)
def test_a_config_error_shows_only_a_prefix_of_the_value(make: Callable[[], Any], starts: str) -> None:
    value = make()
    start = time.monotonic()
    text = show(value)
    assert time.monotonic() - start < 0.5
    assert text.startswith(starts) and text.endswith("...") and len(text) == 120


def test_short_values_are_shown_whole_as_json() -> None:
    """Control: what messages showed before stays the same."""
    for value in ("10.10.10.3", ["a", "b"], {"a": 1, "b": [1, None, True]}, 5, 2.5, None, {}, []):
        expected = repr(value) if isinstance(value, str) else __import__("json").dumps(value)
        assert show(value) == expected


# --- erdr.discover against an ARM that lies ---------------------------------------------------------


def _discover(arm: FakeArm, out: Path, timeout: float = 60) -> tuple[int, str]:
    """discover.main in a thread, so a loop that never ends fails the test instead of hanging it."""
    result: dict[str, Any] = {}

    def target() -> None:
        err = io.StringIO()
        try:
            result["code"] = discover.main(
                ["--hub-id", HUB_ID, "--target-region", "southeastasia", "--arm-endpoint", arm.url, "--out", str(out)],
                io.StringIO(),
                err,
                {"ERDR_ARM_TOKEN": TOKEN},
            )
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            result["raised"] = exc
        result["stderr"] = err.getvalue()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"erdr.discover still running after {timeout} s"
    if "raised" in result:
        raise AssertionError(f"erdr.discover raised {result['raised']!r} instead of exiting 2")
    return result["code"], result["stderr"]


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    out = copy.deepcopy(body)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def _with(body: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    out = copy.deepcopy(body)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


ESTATE = build()
HUB = ESTATE.resources[HUB_ID.lower()]
GATEWAY = ESTATE.resources[GATEWAY_ID.lower()]
CONNECTION = ESTATE.resources[CONNECTION_ID.lower()]
SPOKE_ID = next(k for k in ESTATE.resources if k.startswith(f"/subscriptions/{LZ_APP1}") and "/virtualnetworks/" in k)
SPOKE = ESTATE.resources[SPOKE_ID]

MALFORMED = {
    "hub without a name": (HUB_ID, _without(HUB, "name"), "name is missing"),
    "hub without an id": (HUB_ID, _without(HUB, "id"), "id is missing"),
    "hub's subnets an object": (HUB_ID, _with(HUB, {"a": 1}, "properties", "subnets"), "expected a list"),
    "subnet without a name": (
        HUB_ID,
        _without(HUB, "properties", "subnets", 0, "name"),  # type: ignore[arg-type]
        "subnets[0].name is missing",
    ),
    "spoke's prefixes a string": (
        SPOKE_ID,
        _with(SPOKE, "10.110.0.0/24", "properties", "addressSpace", "addressPrefixes"),
        "expected a list",
    ),
    "routing weight a string": (CONNECTION_ID, _with(CONNECTION, "ten", "properties", "routingWeight"), "a number"),
    "gateway describing another resource": (GATEWAY_ID, _with(GATEWAY, HUB_ID, "id"), "not the resource asked for"),
    "an array for a body": (GATEWAY_ID, [GATEWAY], "expected an object"),
    "null for a body": (CONNECTION_ID, None, "the body is null"),
    "null for a page": (f"{HUB_ID}/virtualNetworkPeerings", None, "the body is null"),
    "a page without its value": (f"{HUB_ID}/virtualNetworkPeerings", {"nextLink": None}, "value is missing"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_answer_exits_2_naming_the_resource(case: str, tmp_path: Path) -> None:
    path, body, why = MALFORMED[case]
    arm = FakeArm(build(), bodies={path.lower(): body})
    out = tmp_path / "estate.yaml"
    with serve(arm):
        code, err = _discover(arm, out)
    assert code == discover.EXIT_ERROR, err
    assert path.lower() in err.lower() and why in err and "malformed" in err
    assert not out.exists()


@pytest.mark.parametrize("path", [HUB_ID, GATEWAY_ID, SPOKE_ID])
def test_an_html_page_with_status_200_exits_2_naming_the_resource(path: str, tmp_path: Path) -> None:
    arm = FakeArm(build(), html={path.lower()})
    with serve(arm):
        code, err = _discover(arm, tmp_path / "estate.yaml")
    assert code == discover.EXIT_ERROR, err
    assert path.lower() in err.lower() and "not JSON (content type text/html)" in err


def test_a_next_link_pointing_at_its_own_page_stops(tmp_path: Path) -> None:
    peerings = f"{HUB_ID}/virtualNetworkPeerings".lower()
    arm = FakeArm(build(), next_links={peerings: "{self}"})
    with serve(arm):
        code, err = _discover(arm, tmp_path / "estate.yaml")
    assert code == discover.EXIT_ERROR, err
    assert "same nextLink twice" in err and HUB_ID in err
    assert sum(1 for p, _ in arm.requests if p.lower() == peerings) == 1


def test_a_list_that_never_ends_stops_at_the_page_cap(tmp_path: Path) -> None:
    peerings = f"{HUB_ID}/virtualNetworkPeerings".lower()
    arm = FakeArm(build(), next_links={peerings: "{self}&more=1"})  # a new link every page
    with serve(arm):
        code, err = _discover(arm, tmp_path / "estate.yaml")
    assert code == discover.EXIT_ERROR, err
    assert f"more than {discover.MAX_PAGES} pages" in err
    assert sum(1 for p, _ in arm.requests if p.lower() == peerings) == discover.MAX_PAGES


def test_the_token_never_goes_to_a_next_link_on_another_host(tmp_path: Path) -> None:
    """Plain-http test mode too: azure-core's https check is off there, so only the origin check
    keeps the bearer token on the endpoint."""
    peerings = f"{HUB_ID}/virtualNetworkPeerings"
    elsewhere = FakeArm(build())
    with serve(elsewhere):
        arm = FakeArm(build(), next_links={peerings.lower(): f"{elsewhere.url}{peerings}?api-version=2024-05-01"})
        with serve(arm):
            code, err = _discover(arm, tmp_path / "estate.yaml")
    assert code == discover.EXIT_ERROR, err
    assert elsewhere.url in err and "not on the endpoint" in err
    assert elsewhere.auth == []  # not even asked
    assert all(auth == f"Bearer {TOKEN}" for _, auth in arm.auth)  # control: the endpoint got it


def test_the_untouched_estate_still_discovers(tmp_path: Path) -> None:
    """Control for the cases above: the same fake, no lie, exit 0."""
    arm = FakeArm(build())
    with serve(arm):
        code, err = _discover(arm, tmp_path / "estate.yaml")
    assert code == discover.EXIT_OK, err
    assert (tmp_path / "estate.yaml").is_file()
