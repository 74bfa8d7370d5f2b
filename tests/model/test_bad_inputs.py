"""Bad input is refused before anything is built.

Every file in ``tests/model/bad_configs/`` is one mistake people really make, applied to a default stack
(``base: prod|dr``) the way ``pulumi config set --path`` would, and the exact error line it must
produce. Each runs through the real ``__main__.py`` under the mock runtime: it must fail with one
line per problem naming the stack, the key path and the value (never a secret's value), and
register no resource at all. An entry with ``peer:`` is a mistake between the two stacks (each
valid alone): ``peer`` corrupts the other default stack, and the pair check of
``model/config/pair.py`` must refuse the two with lines naming both files. The property tests
below corrupt random valid layouts the same ways.
"""

from __future__ import annotations

import ast
import ipaddress
import itertools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from erdr.plan import stack_config
from erdr.simulate import SimResult, simulate
from erdr.stackfiles import PROJECT_DIR, StackSettings, load_stack
from model.config import SECRET_KEYS, load
from model.config.pair import StackSide, pair_issues
from policies.shared import azure_facts
from policies.shared.addrspace import reserved_addresses
from policies.shared.names import NAMESPACE

CORPUS_DIR = Path(__file__).parent / "bad_configs"
CORPUS = sorted(CORPUS_DIR.glob("*.yaml"))
LINE = re.compile(r"^stack '(?P<stack>[^']+)': config (?P<key>[^ :]+:[^ ]+) = (?P<rest>.+)$")
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


# --- applying a corruption the way `pulumi config set --path` does ----------------------------


def _tokens(path: str) -> list[str | int]:
    out: list[str | int] = []
    for name, index in _TOKEN.findall(path):
        out.append(int(index) if index else name)
    return out


def _child(node: Any, part: str | int, next_part: str | int) -> Any:
    empty: Any = [] if isinstance(next_part, int) else {}
    if isinstance(part, int):
        while len(node) <= part:
            node.append(empty)
        if node[part] is None:
            node[part] = empty
        return node[part]
    if node.get(part) is None:
        node[part] = empty
    return node[part]


def set_path(config: dict[str, Any], path: str, value: Any) -> None:
    parts = _tokens(path)
    node: Any = config
    for part, next_part in itertools.pairwise(parts):
        node = _child(node, part, next_part)
    last = parts[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value


def unset_path(config: dict[str, Any], path: str) -> None:
    parts = _tokens(path)
    node: Any = config
    for part in parts[:-1]:
        node = node[part]
    del node[parts[-1]]


def corrupted(
    stack: str,
    base: str,
    set_: Mapping[str, Any] | None = None,
    unset: list[str] | None = None,
    secret: list[str] | None = None,
) -> StackSettings:
    """The default stack ``base`` (or ``landing-zone/<base>``: the adopted landing-zone example's)
    with the corruption applied, run under the name ``stack``."""
    folder, _, name = base.rpartition("/")
    directory = PROJECT_DIR / "examples" / "landing-zone-firewall" if folder else PROJECT_DIR
    settings_ = load_stack(stack, stack_file=directory / f"Pulumi.{name}.yaml")
    for path, value in (set_ or {}).items():
        if ":" in path:  # another namespace's key (azure-native:subscriptionId), set whole
            settings_.config[path] = value
        else:
            set_path(settings_.config, path, value)
    for path in unset or []:
        unset_path(settings_.config, path)
    settings_.secret_keys |= set(secret or [])
    return settings_


def shown(value: object) -> str:
    """How an error line prints a value: strings quoted, the rest as JSON, long ones cut."""
    text = repr(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 120 else text[:117] + "..."


def assert_refused(result: SimResult, stack: str, expected: list[tuple[str, str, str]]) -> list[str]:
    """``expected``: (key path, shown value, message fragment), one per error line."""
    assert result.error, "the program ran: the corruption was not caught"
    assert result.resources == [], f"registered before failing: {[r.name for r in result.resources]}"
    assert result.outputs == {}
    return assert_lines(result.error, {stack}, [(stack, *e) for e in expected])


def assert_lines(error: str, stacks: set[str], expected: list[tuple[str, str, str, str]]) -> list[str]:
    """``expected``: (stack, key path, shown value, message fragment), one per error line; a key
    without a namespace is in the project's."""
    lines = error.splitlines()
    for line in lines:
        match = LINE.match(line)
        assert match, f"not a config error line: {line!r}"
        assert match["stack"] in stacks
    assert len(lines) == len(expected), error
    for stack, key, value, message in expected:
        full = key if ":" in key.split(".")[0].split("[")[0] else f"{NAMESPACE}:{key}"
        prefix = f"stack '{stack}': config {full} = {value}: "
        found = [line for line in lines if line.startswith(prefix)]
        assert found, f"no line starts with {prefix!r}:\n{error}"
        assert any(message in line[len(prefix) :] for line in found), f"{message!r} not in {found!r}"
    return lines


# --- the corpus ------------------------------------------------------------------------------


def _entry(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def test_corpus_is_large_enough_and_well_formed() -> None:
    assert len(CORPUS) >= 40
    for path in CORPUS:
        doc = _entry(path)
        assert set(doc) <= {"why", "base", "set", "unset", "secret", "expect", "also", "peer"}, path.name
        assert doc["base"] in ("prod", "dr", "landing-zone/prod", "landing-zone/dr"), path.name
        assert doc.get("set") or doc.get("unset"), path.name
        assert {"key", "message"} <= set(doc["expect"]), path.name
        assert ("value" in doc["expect"]) != bool(doc["expect"].get("hidden")), path.name


def test_corpus_bases_are_valid() -> None:
    """The corruption, not the base, is what fails."""
    for base in ("prod", "dr"):
        settings_ = load_stack(base)
        raw = {k.split(":", 1)[-1]: v for k, v in settings_.engine_config().items()}
        load(base, raw, frozenset(settings_.secret_keys))


def _peer_of(doc: dict[str, Any]) -> str:
    return "prod" if doc["base"].endswith("dr") else "dr"


def pair_refusal(path: Path) -> str:
    """The pair check's lines for a ``peer:`` entry, once each stack is shown to be valid alone."""
    doc = _entry(path)
    stack, other = path.stem, _peer_of(doc)
    mine = corrupted(stack, doc["base"], doc.get("set"), doc.get("unset"), doc.get("secret"))
    theirs = corrupted(other, other, doc["peer"].get("set"), doc["peer"].get("unset"))
    sides = [
        StackSide(s.stack, f"Pulumi.{base}.yaml", stack_config(s))  # raises if either is invalid alone
        for s, base in ((mine, doc["base"]), (theirs, other))
    ]
    return "\n".join(issue.line(name) for name, issue in pair_issues(*sides))


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_bad_config_is_refused(path: Path) -> None:
    doc = _entry(path)
    stack = path.stem
    exp = doc["expect"]
    expected = [(exp["key"], "<hidden>" if exp.get("hidden") else shown(exp["value"]), exp["message"])]
    expected += [(a["key"], shown(a["value"]), a["message"]) for a in doc.get("also", [])]
    if "peer" in doc:
        owners = [exp.get("stack"), *(a.get("stack") for a in doc.get("also", []))]
        named = [(_peer_of(doc) if owner == "peer" else stack, *e) for owner, e in zip(owners, expected, strict=True)]
        error = pair_refusal(path)
        assert_lines(error, {stack, _peer_of(doc)}, named)
        assert f"Pulumi.{doc['base']}.yaml" in error and f"Pulumi.{_peer_of(doc)}.yaml" in error
        return
    settings_ = corrupted(stack, doc["base"], doc.get("set"), doc.get("unset"), doc.get("secret"))
    result = simulate(settings_)
    assert_refused(result, stack, expected)
    assert result.error is not None
    for key in SECRET_KEYS:
        secret_value = (doc.get("set") or {}).get(key)
        if secret_value:
            assert str(secret_value) not in result.error


def _rule_texts() -> list[list[str]]:
    """The fixed text pieces of every message an ``Issue(...)`` in model/config/ and the resolved
    estate (model/identity.py) can carry."""
    sources = [*sorted((PROJECT_DIR / "model" / "config").rglob("*.py")), PROJECT_DIR / "model" / "identity.py"]
    trees = [ast.parse(path.read_text()) for path in sources]
    out: list[list[str]] = []
    for node in (n for tree in trees for n in ast.walk(tree)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Issue"):
            continue
        if len(node.args) < 3:
            continue
        message = node.args[2]
        parts: list[ast.expr] = list(message.values) if isinstance(message, ast.JoinedStr) else [message]
        chunks = [p.value.strip() for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str)]
        chunks = [c for c in chunks if len(c) >= 4]
        if chunks:
            out.append(chunks)
    return out


def test_every_rule_has_a_corpus_entry() -> None:
    """Each cross-field rule of model/config/ produces one of the corpus's error lines.

    A rule added without a bad config in tests/model/bad_configs/ fails this test.
    """
    lines: list[str] = []
    for path in CORPUS:
        doc = _entry(path)
        if "peer" in doc:
            lines += pair_refusal(path).splitlines()
            continue
        result = simulate(corrupted(path.stem, doc["base"], doc.get("set"), doc.get("unset"), doc.get("secret")))
        lines += (result.error or "").splitlines()
    rules = _rule_texts()
    assert len(rules) >= 30
    missing = [" ... ".join(rule) for rule in rules if not any(all(c in line for c in rule) for line in lines)]
    assert not missing, f"rules without a bad config in tests/model/bad_configs/: {missing}"


# --- the same kinds of corruption, in random layouts -------------------------------------------

ASIA_REGIONS = ["eastasia", "southeastasia"]
LAYOUT_KEYS = {
    "hub": ["name", "addressSpace", "nvaSubnet", "nvaAddress", "gatewaySubnetPrefix", "extraSubnets"],
    "spoke": ["name", "addressSpace", "subnets"],
    "subnet": ["name", "prefix", "serviceEndpoints"],
}


@st.composite
def layouts(draw: st.DrawFn) -> dict[str, Any]:
    """A valid hub-and-spoke layout: distinct 10.x/16 blocks, random lengths and subnets."""
    n_spokes = draw(st.integers(1, 4))
    octets = draw(st.lists(st.integers(0, 199), min_size=n_spokes + 1, max_size=n_spokes + 1, unique=True))
    hub_len = draw(st.integers(16, 24))
    hub = ipaddress.ip_network(f"10.{octets[0]}.0.0/{hub_len}")
    nva_net, rest = list(hub.subnets(new_prefix=hub_len + 1))
    gw_len = draw(st.integers(hub_len + 1, 27))
    gateway = next(rest.subnets(new_prefix=gw_len))
    offset = draw(st.integers(4, nva_net.num_addresses - 2))
    spokes = []
    for i, octet in enumerate(octets[1:]):
        length = draw(st.integers(16, 24))
        space = ipaddress.ip_network(f"10.{octet}.0.0/{length}")
        split = draw(st.integers(0, 3))
        pieces = list(space.subnets(prefixlen_diff=split))
        count = draw(st.integers(1, len(pieces)))
        spokes.append(
            {
                "name": f"spoke{i}",
                "addressSpace": [str(space)],
                "subnets": [{"name": f"sub{j}", "prefix": str(p)} for j, p in enumerate(pieces[:count])],
            }
        )
    return {
        "hub": {
            "name": "hub",
            "addressSpace": [str(hub)],
            "nvaSubnet": {"name": "nva", "prefix": str(nva_net)},
            "nvaAddress": str(nva_net.network_address + offset),
            "gatewaySubnetPrefix": str(gateway),
        },
        "spokes": spokes,
    }


@st.composite
def stacks(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A valid stack config (base dr or prod) around a random layout, as raw config values."""
    layout = draw(layouts())
    base = draw(st.sampled_from(["prod", "dr"]))
    source, target = draw(st.permutations(ASIA_REGIONS))
    used = {int(v["addressSpace"][0].split(".")[1]) for v in [layout["hub"], *layout["spokes"]]}
    translated = draw(st.booleans())
    config: dict[str, Any] = {
        "regions": {"source": source, "target": target},
        "layout": layout,
        "drill": {"addressSpace": "172.16.0.0/12"},
    }
    if translated:
        free = [o for o in range(200, 256) if o not in used]
        plan = {}
        for i, vnet in enumerate([layout["hub"], *layout["spokes"]]):
            length = vnet["addressSpace"][0].split("/")[1]
            plan[vnet["name"]] = [f"10.{free[i]}.0.0/{length}"]
        config["addressing"] = "translated"
        config["targetAddressPlan"] = plan
    return base, config


def _settings(stack: str, base: str, config: Mapping[str, Any], secret: frozenset[str] = frozenset()) -> StackSettings:
    settings_ = load_stack(stack, stack_file=PROJECT_DIR / f"Pulumi.{base}.yaml")
    settings_.config.update(json.loads(json.dumps(config)))
    settings_.secret_keys |= secret
    return settings_


def _assert_valid(settings_: StackSettings) -> None:
    raw = {k.split(":", 1)[-1]: v for k, v in settings_.engine_config().items()}
    load(settings_.stack, raw, frozenset(settings_.secret_keys))


def _prefix_paths(layout: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key path, prefix) of every prefix in the layout."""
    hub = layout["hub"]
    out = [("layout.hub.addressSpace[0]", hub["addressSpace"][0])]
    out += [("layout.hub.nvaSubnet.prefix", hub["nvaSubnet"]["prefix"])]
    out += [("layout.hub.gatewaySubnetPrefix", hub["gatewaySubnetPrefix"])]
    for s, spoke in enumerate(layout["spokes"]):
        out.append((f"layout.spokes[{s}].addressSpace[0]", spoke["addressSpace"][0]))
        out += [(f"layout.spokes[{s}].subnets[{i}].prefix", sub["prefix"]) for i, sub in enumerate(spoke["subnets"])]
    return out


PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _refused(base: str, config: Mapping[str, Any], key: str, value: str, message: str, **kw: Any) -> None:
    stack = "corrupted"
    _assert_valid(_settings(stack, base, kw.pop("valid_config", None) or config))
    result = simulate(_settings(stack, base, config, kw.pop("secret", frozenset())))
    assert_refused(result, stack, [(key, value, message)])


@PROPERTY
@given(stacks(), st.data())
def test_any_prefix_with_host_bits_is_refused(stack: tuple[str, dict[str, Any]], data: st.DataObject) -> None:
    base, config = stack
    _assert_valid(_settings("corrupted", base, config))
    paths = _prefix_paths(config["layout"])
    key, prefix = data.draw(st.sampled_from(paths))
    net = ipaddress.ip_network(prefix)
    assume(net.num_addresses > 1)
    host = net.network_address + data.draw(st.integers(1, net.num_addresses - 1))
    bad = f"{host}/{net.prefixlen}"
    set_path(config, key, bad)
    result = simulate(_settings("corrupted", base, config))
    assert_refused(result, "corrupted", [(key, shown(bad), f"host bits set; did you mean {net}?")])


@PROPERTY
@given(stacks(), st.integers(28, 32))
def test_any_gateway_subnet_smaller_than_27_is_refused(stack: tuple[str, dict[str, Any]], length: int) -> None:
    base, config = stack
    valid = json.loads(json.dumps(config))
    gateway = ipaddress.ip_network(config["layout"]["hub"]["gatewaySubnetPrefix"])
    small = str(next(gateway.subnets(new_prefix=length)))
    config["layout"]["hub"]["gatewaySubnetPrefix"] = small
    _refused(
        base,
        config,
        "layout.hub.gatewaySubnetPrefix",
        shown(small),
        "GatewaySubnet must be /27 or larger",
        valid_config=valid,
    )


@PROPERTY
@given(stacks(), st.integers(0, 4))
def test_nva_on_any_reserved_address_is_refused(stack: tuple[str, dict[str, Any]], which: int) -> None:
    base, config = stack
    valid = json.loads(json.dumps(config))
    subnet = ipaddress.ip_network(config["layout"]["hub"]["nvaSubnet"]["prefix"])
    address = str(reserved_addresses(subnet)[which])
    config["layout"]["hub"]["nvaAddress"] = address
    _refused(
        base,
        config,
        "layout.hub.nvaAddress",
        shown(address),
        f"Azure reserves this address in {subnet}",
        valid_config=valid,
    )


@PROPERTY
@given(stacks(), st.data())
def test_translated_plan_reusing_any_source_prefix_is_refused(
    stack: tuple[str, dict[str, Any]], data: st.DataObject
) -> None:
    base, config = stack
    if "targetAddressPlan" not in config:
        plan = {}
        for i, vnet in enumerate([config["layout"]["hub"], *config["layout"]["spokes"]]):
            plan[vnet["name"]] = [f"10.{200 + i}.0.0/{vnet['addressSpace'][0].split('/')[1]}"]
        config["addressing"] = "translated"
        config["targetAddressPlan"] = plan
    valid = json.loads(json.dumps(config))
    vnets = [config["layout"]["hub"], *config["layout"]["spokes"]]
    index = data.draw(st.integers(0, len(vnets) - 1))
    vnet = vnets[index]
    source = vnet["addressSpace"][0]
    config["targetAddressPlan"][vnet["name"]] = [source]
    source_path = "layout.hub.addressSpace[0]" if index == 0 else f"layout.spokes[{index - 1}].addressSpace[0]"
    _refused(
        base,
        config,
        f"targetAddressPlan.{vnet['name']}[0]",
        shown(source),
        f"target prefix overlaps source {vnet['name']} at {source_path}",
        valid_config=valid,
    )


def _typos(word: str) -> st.SearchStrategy[str]:
    """One dropped, doubled or swapped letter: a spelling the model does not know."""
    drop = [word[:i] + word[i + 1 :] for i in range(len(word))]
    double = [word[:i] + word[i] + word[i:] for i in range(len(word))]
    swap = [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)]
    return st.sampled_from(sorted({t for t in drop + double + swap if t != word}))


@PROPERTY
@given(stacks(), st.data())
def test_any_misspelt_layout_key_is_refused(stack: tuple[str, dict[str, Any]], data: st.DataObject) -> None:
    base, config = stack
    valid = json.loads(json.dumps(config))
    layout = config["layout"]
    where = data.draw(st.sampled_from(["hub", "spoke", "subnet"]))
    if where == "hub":
        node, path = layout["hub"], "layout.hub"
    elif where == "spoke":
        s = data.draw(st.integers(0, len(layout["spokes"]) - 1))
        node, path = layout["spokes"][s], f"layout.spokes[{s}]"
    else:
        s = data.draw(st.integers(0, len(layout["spokes"]) - 1))
        i = data.draw(st.integers(0, len(layout["spokes"][s]["subnets"]) - 1))
        node, path = layout["spokes"][s]["subnets"][i], f"layout.spokes[{s}].subnets[{i}]"
    key = data.draw(st.sampled_from(LAYOUT_KEYS[where]))
    typo = data.draw(_typos(key))
    assume(typo not in LAYOUT_KEYS[where])
    value = node.pop(key) if key in node else []  # an absent optional key gets a value
    node[typo] = value
    stack_name = "corrupted"
    _assert_valid(_settings(stack_name, base, valid))
    result = simulate(_settings(stack_name, base, config))
    expected = [(f"{path}.{typo}", shown(value), "unknown key")]
    if key in ("name", "prefix", "addressSpace", "nvaSubnet", "nvaAddress", "gatewaySubnetPrefix", "subnets") and not (
        where == "hub" and key == "name"
    ):
        expected.append((f"{path}.{key}", "null", "required key is missing"))
    assert_refused(result, stack_name, expected)


def _misspellings(region: str) -> st.SearchStrategy[str]:
    display = azure_facts.REGIONS[region].display_name
    variants = {display, display.lower(), region.upper(), region[:-1], region + "s", region.replace("asia", " asia")}
    return st.sampled_from(sorted(v for v in variants if v not in azure_facts.REGIONS))


@PROPERTY
@given(stacks(), st.sampled_from(["source", "target"]), st.data())
def test_any_misspelt_region_is_refused(stack: tuple[str, dict[str, Any]], side: str, data: st.DataObject) -> None:
    base, config = stack
    valid = json.loads(json.dumps(config))
    bad = data.draw(_misspellings(config["regions"][side]))
    config["regions"][side] = bad
    _refused(base, config, f"regions.{side}", shown(bad), "unknown Azure region", valid_config=valid)


@PROPERTY
@given(stacks())
def test_target_region_equal_to_source_is_refused(stack: tuple[str, dict[str, Any]]) -> None:
    base, config = stack
    valid = json.loads(json.dumps(config))
    config["regions"]["target"] = config["regions"]["source"]
    _refused(
        base,
        config,
        "regions.target",
        shown(config["regions"]["source"]),
        "the target region must differ from the source region",
        valid_config=valid,
    )


@PROPERTY
@given(stacks(), st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=8, max_size=40))
def test_plain_text_authorization_key_is_refused_without_its_value(
    stack: tuple[str, dict[str, Any]], key_value: str
) -> None:
    base, config = stack
    _assert_valid(_settings("corrupted", base, config))
    key = "primaryAuthorizationKey" if base == "prod" else "secondaryAuthorizationKey"
    config[key] = key_value
    result = simulate(_settings("corrupted", base, config))
    assert_refused(result, "corrupted", [(key, "<hidden>", "authorization keys must be secrets")])
    assert result.error is not None
    assert key_value not in result.error


@PROPERTY
@given(stacks(), st.data())
def test_any_subnet_moved_outside_its_vnet_is_refused(stack: tuple[str, dict[str, Any]], data: st.DataObject) -> None:
    base, config = stack
    valid = json.loads(json.dumps(config))
    spokes = config["layout"]["spokes"]
    s = data.draw(st.integers(0, len(spokes) - 1))
    i = data.draw(st.integers(0, len(spokes[s]["subnets"]) - 1))
    old = ipaddress.ip_network(spokes[s]["subnets"][i]["prefix"])
    # The same subnet in 192.168/16: outside every VNet, overlapping nothing.
    moved = str(ipaddress.ip_network(f"192.168.{data.draw(st.integers(0, 255))}.0/{max(old.prefixlen, 24)}"))
    spokes[s]["subnets"][i]["prefix"] = moved
    _refused(
        base,
        config,
        f"layout.spokes[{s}].subnets[{i}].prefix",
        shown(moved),
        "subnet lies outside its VNet",
        valid_config=valid,
    )
