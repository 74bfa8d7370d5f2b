"""The offline plan on the default stacks: preview JSON, stack export, phase diff, policies,
diagrams and the CLI's behaviour (overrides, alternative stack file, errors, exit codes)."""

from __future__ import annotations

import io
import json
import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from erdr import plan
from erdr.plan_json import SECRET_TEXT, compare, detailed_diff, ordered, timeout_seconds
from erdr.simulate import SECRET_SIG, UNKNOWN, simulate
from erdr.stackfiles import PROJECT_DIR, load_stack
from model.config import Phase
from policies.shared import azure_facts
from policies.shared.names import UNDECIDED_NOTE
from tests import session_cache

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"


def _run(args: list[str]) -> tuple[int, str, str]:
    """The command in this process; one job unless asked (worker processes cost more than they
    save on the small default stacks)."""
    out, err = io.StringIO(), io.StringIO()
    code = plan.main(args if "--jobs" in args else [*args, "--jobs", "1"], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def default_plan() -> tuple[Path, int, str, str]:
    """`make plan` as the README runs it: both default stacks, policies, images, runbook, with the
    planner's own choice of jobs (one process at this size; worker processes are compared with it
    in test_plan_cli); run once per test run and shared by the xdist workers (tests/session_cache.py)."""
    out = session_cache.folder("default-plan") / "plan"

    def make_plan() -> tuple[int, str, str]:
        stdout, stderr = io.StringIO(), io.StringIO()
        code = plan.main(["--out", str(out)], stdout=stdout, stderr=stderr)
        return code, stdout.getvalue(), stderr.getvalue()

    code, stdout, stderr = session_cache.once("default-plan", make_plan)
    return out, code, stdout, stderr


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def _steps(digest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["urn"]: s for s in digest["steps"]}


def _by_name(digest: dict[str, Any], name: str) -> dict[str, Any]:
    found = [s for s in digest["steps"] if s["urn"].endswith("::" + name)]
    assert len(found) == 1, name
    return found[0]


# --- the run itself ---------------------------------------------------------------------------


def test_default_run_writes_every_file_and_exits_zero(default_plan: tuple[Path, int, str, str]) -> None:
    out, code, stdout, stderr = default_plan
    assert code == plan.EXIT_OK, stdout + stderr
    expected = {
        f"{stack}{suffix}"
        for stack in ("prod", "dr")
        for suffix in (
            ".json",
            ".state.json",
            ".failover.json",
            ".dot",
            ".svg",
            ".png",
            "-failover.dot",
            "-failover.svg",
            "-failover.png",
        )
    } | {"dr-runbook.md"}
    assert {p.name for p in out.iterdir()} == expected
    # no temporary directory is left next to the output
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_progress_and_summary(default_plan: tuple[Path, int, str, str]) -> None:
    _, _, stdout, stderr = default_plan
    progress = [line for line in stderr.splitlines() if line.startswith("plan [")]
    assert any("prod: run the program, phase standby (preview)" in line for line in progress)
    assert any("dr: policy pack, phase failover (up)" in line for line in progress)
    last = progress[-1].split("]")[0].removeprefix("plan [")
    done, total = last.split("/")
    assert done == total
    header, _, prod_row, dr_row = stdout.splitlines()[:4]
    columns = [c.strip() for c in header.split("  ") if c.strip()]
    assert columns == [
        "stack",
        "role",
        "phase",
        "first up creates",
        "policies",
        "policies in failover",
        "changes in failover",
    ]
    # What the first `pulumi up` of a new stack creates, apart from what the phase change does:
    # two pre-connected circuits, so the failover changes nothing in Azure (on-premises routing moves).
    for row, cells in (
        (prod_row, ["prod", "source", "standby", "17", "pass (2 left to up)", "pass", "+0 ~0 -0"]),
        (dr_row, ["dr", "target", "standby", "39", "pass (2 left to up)", "pass", "+0 ~0 -0"]),
    ):
        assert re.split(r" {2,}", row) == cells
    assert "~ update" not in stdout
    assert "prod: standby -> failover: no resource changes" in stdout


# --- preview JSON -------------------------------------------------------------------------------


@pytest.mark.parametrize(("stack", "custom"), [("prod", 17), ("dr", 39)])
def test_preview_json_shape(default_plan: tuple[Path, int, str, str], stack: str, custom: int) -> None:
    out = default_plan[0]
    digest = _load(out / f"{stack}.json")
    # The CLI's fields, empty ones omitted (no diagnostics, no duration here), and the additions.
    assert set(digest) == {"config", "steps", "changeSummary", "outputs", "policyPacks", "policyViolations"}
    steps = digest["steps"]
    root = steps[0]
    assert root["urn"] == f"urn:pulumi:{stack}::expressroute-dr::pulumi:pulumi:Stack::expressroute-dr-{stack}"
    assert root["newState"] == {"urn": root["urn"], "custom": False, "type": "pulumi:pulumi:Stack"}
    # The default provider's step is internal: the CLI does not show it.
    assert not any(s["newState"]["type"].startswith("pulumi:providers:") for s in steps)
    assert {s["op"] for s in steps} == {"create"}
    azure = [s for s in steps if s["newState"]["type"].startswith("azure-native:")]
    assert len(azure) == custom
    assert digest["changeSummary"] == {"create": len(steps)}
    seen: set[str] = set()
    for step in steps:
        state = step["newState"]
        assert step["urn"] == state["urn"]
        assert set(state) >= {"urn", "custom", "type"}
        if state["type"].startswith("azure-native:"):
            assert state["custom"] is True
            assert step["provider"].startswith(f"urn:pulumi:{stack}::expressroute-dr::pulumi:providers:azure-native::")
            assert step["provider"].endswith("::" + UNKNOWN)  # a preview has not created the provider
            assert isinstance(state["inputs"], dict) and state["inputs"]
        # parents and dependencies come before the step that needs them, as the engine orders them
        for dep in [state.get("parent", ""), *state.get("dependencies", [])]:
            assert not dep or dep in seen, (state["urn"], dep)
        seen.add(step["urn"])
    assert digest["config"]["expressroute-dr:role"] == ("source" if stack == "prod" else "target")


def test_preview_json_inputs_are_camel_case_and_unknowns_as_the_engine_sends_them(
    default_plan: tuple[Path, int, str, str],
) -> None:
    digest = _load(default_plan[0] / "dr.json")
    conn = _by_name(digest, "hub-secondary-connection")["newState"]
    assert conn["type"] == "azure-native:network:VirtualNetworkGatewayConnection"
    inputs = conn["inputs"]
    assert inputs["routingWeight"] == 0 and isinstance(inputs["routingWeight"], int)
    assert inputs["connectionType"] == "ExpressRoute"
    assert inputs["virtualNetworkGateway1"] == {"id": UNKNOWN}  # the gateway's ID is not known in a preview
    assert inputs["peer"]["id"].endswith("/expressRouteCircuits/er-singapore")
    assert conn["parent"].endswith("expressroute-dr:network:Hub::hub")
    assert any(d.endswith("::hub-gateway") for d in conn["dependencies"])
    assert conn["customTimeouts"] == {"create": 1800.0, "update": 1800.0, "delete": 1800.0}
    assert conn["protect"] is True
    spoke_to_hub = _by_name(digest, "vnet1-to-hub")["newState"]["inputs"]
    assert spoke_to_hub["useRemoteGateways"] is True and spoke_to_hub["allowGatewayTransit"] is False
    assert digest["outputs"]["phase"] == "standby"
    assert digest["outputs"]["drillAddressSpaces"]["vnet1"] == ["172.16.1.0/24"]


def test_preview_json_policy_section(default_plan: tuple[Path, int, str, str]) -> None:
    for stack in ("prod", "dr"):
        digest = _load(default_plan[0] / f"{stack}.json")
        assert digest["policyPacks"] == {"expressroute-dr": digest["policyPacks"]["expressroute-dr"]}
        assert [v for v in digest["policyViolations"] if v["enforcementLevel"] == "mandatory"] == []
        # A first preview of the stack: only the notes on what waits for `pulumi up`.
        notes = {v["policyName"] for v in digest["policyViolations"] if UNDECIDED_NOTE in v["message"]}
        assert notes == {"gateway-subnet", "drill-network-isolated"}
        assert all(v["enforcementLevel"] == "advisory" for v in digest["policyViolations"])


# --- stack export -----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_state_file_is_a_stack_export_the_cli_can_import(default_plan: tuple[Path, int, str, str], stack: str) -> None:
    export = _load(default_plan[0] / f"{stack}.state.json")
    assert export["version"] == 3
    deployment = export["deployment"]
    assert deployment["manifest"]["version"].startswith("v3.")
    assert len(deployment["manifest"]["magic"]) == 64
    resources = deployment["resources"]
    assert resources[0]["type"] == "pulumi:pulumi:Stack" and "parent" not in resources[0]
    # The snapshot integrity rules `pulumi stack import` enforces: unique URNs; parents,
    # dependencies and providers (urn::id of a provider resource) appear before their users.
    seen: dict[str, dict[str, Any]] = {}
    for r in resources:
        assert r["urn"] not in seen
        for dep in [
            r.get("parent", ""),
            *r.get("dependencies", []),
            *(urn for urns in r.get("propertyDependencies", {}).values() for urn in urns),
        ]:
            assert not dep or dep in seen, (r["urn"], dep)
        if "provider" in r:
            provider_urn, provider_id = r["provider"].rsplit("::", 1)
            provider = seen[provider_urn]
            assert provider["type"].startswith("pulumi:providers:") and provider["id"] == provider_id
        if r["custom"] and not r["type"].startswith("pulumi:providers:"):
            assert r["id"].startswith("/subscriptions/")
            assert r["outputs"]["id"] == r["id"]
        seen[r["urn"]] = r
    gateway = next(r for r in resources if r["type"] == "azure-native:network:VirtualNetworkGateway")
    assert gateway["customTimeouts"] == {"create": 5400.0, "update": 5400.0, "delete": 3600.0}
    assert resources[0]["outputs"]["role"] == ("source" if stack == "prod" else "target")


# --- the phase comparison ------------------------------------------------------------------------


def test_failover_comparison_changes_nothing_in_azure(default_plan: tuple[Path, int, str, str]) -> None:
    """The article's example (two circuits, target pre-connected): each gateway holds one
    connection, so a weight would choose nothing; the failover only records the phase."""
    out = default_plan[0]
    for stack in ("prod", "dr"):
        digest = _load(out / f"{stack}.failover.json")
        assert digest["fromPhase"] == "standby" and digest["toPhase"] == "failover"
        # Unchanged resources are counted but not listed (the CLI without --show-sames); the root
        # stack's step always is. Nothing else changes: the failover records the phase only.
        root, *changed = digest["steps"]
        assert root["op"] == "same" and root["newState"]["type"] == "pulumi:pulumi:Stack"
        assert changed == []
        exported = _load(out / f"{stack}.state.json")["deployment"]["resources"]
        registered = [r for r in exported if not r["type"].startswith(("pulumi:pulumi:Stack", "pulumi:providers:"))]
        assert digest["changeSummary"] == {"same": len(registered) + 1}  # the root stack and the rest
        assert digest["outputChanges"]["phase"] == {"before": "standby", "after": "failover"}
        assert "connectionRoutingWeights" not in digest["outputChanges"]
        assert "diagnostics" not in digest  # none, so omitted as the CLI omits it


def test_comparison_shows_sames_on_request_and_counts_reads_as_the_cli_does() -> None:
    """`same` steps are listed only with --show-sames (counted either way); a read is listed,
    and counted only when what it read changed (the engine's shouldRecordReadStep)."""
    example = PROJECT_DIR / "examples" / "single-circuit-same-ip"
    settings = load_stack("dr", stack_file=example / "Pulumi.dr.yaml", overrides={"phase": "failover"})
    peer = "organization/expressroute-dr/prod"
    standby = simulate(load_stack("dr", stack_file=example / "Pulumi.dr.yaml"), preview=False)
    first = simulate(settings, preview=False, peer_outputs={peer: {"circuitConnections": []}})
    again = simulate(settings, preview=False, peer_outputs={peer: {"circuitConnections": []}})
    moved = simulate(settings, preview=False, peer_outputs={peer: {"circuitConnections": [], "phase": "failover"}})
    assert not {r.error for r in (standby, first, again, moved)} - {None}

    to_failover = compare(settings, standby, first, "standby", "failover")
    ops = [s["op"] for s in to_failover.digest["steps"]]
    assert ops.count("same") == 1 and "read" in ops and "create" in ops  # the root stack; the peer read
    assert "read" not in to_failover.digest["changeSummary"]  # a first read changes nothing
    listed = compare(settings, standby, first, "standby", "failover", show_sames=True).digest
    assert [s["op"] for s in listed["steps"]].count("same") == listed["changeSummary"]["same"] > 1
    assert listed["changeSummary"] == to_failover.digest["changeSummary"]
    assert "read" not in compare(settings, first, again, "failover", "failover").digest["changeSummary"]
    assert compare(settings, first, moved, "failover", "failover").digest["changeSummary"]["read"] == 1


def test_detailed_diff_paths() -> None:
    old = {"routes": [{"addressPrefix": "10.1.0.0/24"}], "tags": {"a": "1"}, "gone": 1}
    new = {"routes": [{"addressPrefix": "10.9.0.0/24"}], "tags": {"a": "1", "b": "2"}}
    assert detailed_diff(old, new) == {
        "gone": {"kind": "delete", "inputDiff": True},
        "routes[0].addressPrefix": {"kind": "update", "inputDiff": True},
        "tags.b": {"kind": "add", "inputDiff": True},
    }


def test_timeouts_and_order_helpers() -> None:
    assert timeout_seconds("90m") == 5400.0
    assert timeout_seconds("1h30m") == 5400.0
    with pytest.raises(ValueError, match="not a duration"):
        timeout_seconds("90 minutes")
    from erdr.simulate import Registration

    def reg(urn: str, parent: str = "", deps: list[str] | None = None) -> Registration:
        return Registration(urn, "t", urn, True, parent, deps or [], {}, {}, False, False, "", {}, [])

    regs = [reg("c", deps=["b"]), reg("b", parent="a"), reg("a")]
    assert [r.urn for r in ordered(regs)] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="cycle"):
        ordered([reg("x", deps=["y"]), reg("y", deps=["x"])])


# --- diagrams -------------------------------------------------------------------------------------


def _svg_titles(path: Path) -> tuple[set[str], dict[str, ET.Element]]:
    root = ET.fromstring(path.read_bytes())
    nodes: set[str] = set()
    edges: dict[str, ET.Element] = {}
    for g in root.iter(f"{SVG_NS}g"):
        title = g.find(f"{SVG_NS}title")
        if title is None or title.text is None:
            continue
        if g.get("class") == "node":
            nodes.add(title.text)
        elif g.get("class") == "edge":
            edges[title.text] = g
    return nodes, edges


def _edge_stroke(edge: ET.Element) -> tuple[str, str]:
    path = edge.find(f"{SVG_NS}path")
    assert path is not None
    return path.get("stroke", ""), path.get("stroke-dasharray", "")


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_render_produces_real_images_with_the_network(default_plan: tuple[Path, int, str, str], stack: str) -> None:
    out = default_plan[0]
    for name in (stack, f"{stack}-failover"):
        png = (out / f"{name}.png").read_bytes()
        assert png[:8] == PNG_MAGIC
        width, height = struct.unpack(">II", png[16:24])  # IHDR
        assert width > 800 and height > 500
        nodes, edges = _svg_titles(out / f"{name}.svg")
        assert {"onprem", "circuit_primary", "circuit_secondary", "source_gateway", "target_gateway"} <= nodes
        own = "source" if stack == "prod" else "target"
        assert {f"{own}_nva", f"{own}_hub_GatewaySubnet", f"{own}_vnet1_workload", f"{own}_vnet2_workload"} <= nodes
        assert {"circuit_primary->source_gateway", "circuit_secondary->target_gateway"} <= set(edges)
        if stack == "dr":
            assert {"drill_hub_southeastasia_drill", "drill_vnet1_southeastasia_drill", "target_site_recovery"} <= nodes
        text = (out / f"{name}.svg").read_text()
        assert "Hong Kong" in text and "Singapore" in text and "10.10.10.10" in text


def test_diagram_draws_the_failover_like_the_article(default_plan: tuple[Path, int, str, str]) -> None:
    """Before: the source connection is preferred (solid green), the target one standby (grey,
    dashed). After failover: the other way round."""
    out = default_plan[0]
    preferred, standby = "#2f855a", "#718096"
    _, before = _svg_titles(out / "prod.svg")
    _, after = _svg_titles(out / "prod-failover.svg")
    assert _edge_stroke(before["circuit_primary->source_gateway"])[0] == preferred
    assert _edge_stroke(before["circuit_secondary->target_gateway"])[0] == standby
    assert _edge_stroke(before["circuit_secondary->target_gateway"])[1] != ""
    assert _edge_stroke(after["circuit_primary->source_gateway"])[0] == standby
    assert _edge_stroke(after["circuit_secondary->target_gateway"])[0] == preferred


# --- the CLI's edges ----------------------------------------------------------------------------


def test_set_speaks_pulumi_config_set_path() -> None:
    def parsed(*items: str) -> list[tuple[str, tuple[str | int, ...], object]]:
        return [(o.key.namespace, o.key.path, o.value) for o in plan.parse_set(items)]

    assert parsed("routingWeights.preferred=200", "expressroute-dr:drill.enabled=false") == [
        ("expressroute-dr", ("routingWeights", "preferred"), 200),
        ("expressroute-dr", ("drill", "enabled"), False),
    ]
    assert parsed("circuits.secondary=null", "topology=single-circuit", "crossConnect=true") == [
        ("expressroute-dr", ("circuits", "secondary"), None),
        ("expressroute-dr", ("topology",), "single-circuit"),
        ("expressroute-dr", ("crossConnect",), "true"),  # top level: a string, as the CLI stores it
    ]
    assert parsed("recoveryPlan.bootGroups[0].items[0]=/subscriptions/x", 'tags["cost.center"]=0042') == [
        ("expressroute-dr", ("recoveryPlan", "bootGroups", 0, "items", 0), "/subscriptions/x"),
        ("expressroute-dr", ("tags", "cost.center"), "0042"),
    ]
    assert parsed('targetAddressPlan={"hub": ["10.20.10.0/24"]}', "azure-native:location=southeastasia") == [
        ("expressroute-dr", ("targetAddressPlan",), {"hub": ["10.20.10.0/24"]}),
        ("azure-native", ("location",), "southeastasia"),
    ]
    with pytest.raises(plan.PlanError, match=r"must be in the form \[key\]=\[value\]"):
        plan.parse_set(["topology"])
    with pytest.raises(plan.PlanError, match="invalid array index"):
        plan.parse_set(["layout.spokes[x].name=a"])


def test_bad_config_gives_the_programs_error_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    out.mkdir()
    (out / "keep.txt").write_text("from an earlier run")
    code, stdout, stderr = _run(["--out", str(out), "--override", "layout.hub.nvaAddress=10.10.10.200", "-q"])
    assert code == plan.EXIT_CONFIG
    assert stdout == ""
    # one line per problem naming stack, key and value, as model.config.ConfigError words it
    assert "stack 'prod': config expressroute-dr:layout.hub.nvaAddress = '10.10.10.200'" in stderr
    assert "stack 'dr': config expressroute-dr:layout.hub.nvaAddress = '10.10.10.200'" in stderr
    assert "nothing was written" in stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["plan"]


def test_missing_stack_file_and_bad_arguments(tmp_path: Path) -> None:
    code, _, stderr = _run(["--stack", "staging", "--out", str(tmp_path / "p"), "-q"])
    assert code == plan.EXIT_CONFIG and "no stack file" in stderr and "Pulumi.staging.yaml" in stderr
    code, _, stderr = _run(["--stack-file", str(PROJECT_DIR / "Pulumi.dr.yaml"), "-q"])
    assert code == plan.EXIT_CONFIG and "--stack-file needs exactly one --stack" in stderr
    assert not (tmp_path / "p").exists()


def test_alternative_stack_file_with_a_secret_and_no_compare(tmp_path: Path) -> None:
    """A stack file elsewhere, holding an encrypted authorization key: the key reaches the program
    as a secret and every file shows it the way the CLI does, never its value."""
    stack_file = tmp_path / "Pulumi.dr-test.yaml"
    stack_file.write_text(
        "config:\n"
        "  expressroute-dr:role: target\n"
        "  expressroute-dr:topology: two-circuits-two-locations\n"
        "  expressroute-dr:phase: failover\n"
        "  expressroute-dr:drill: {enabled: false}\n"
        "  expressroute-dr:siteRecovery: {enabled: false}\n"
        "  expressroute-dr:secondaryAuthorizationKey:\n"
        "    secure: v1:c2VjcmV0:AAAAbm90IGEgcmVhbCBrZXk=\n"
    )
    out = tmp_path / "plan"
    args = ["--stack", "dr-test", "--stack-file", str(stack_file), "--out", str(out), "--compare-phase", "none"]
    cross = [
        "--set",
        "addressing=translated",
        "--set",
        "targetAddressPlan={hub: [10.20.10.0/24], vnet1: [10.21.0.0/24], vnet2: [10.22.0.0/24]}",
        "--set",
        "crossConnect=true",
        "--set",
        "routingWeights.preferred=300",
    ]
    code, stdout, _ = _run([*args, "--no-images", *cross, "-q"])
    assert code == plan.EXIT_OK, stdout
    assert {p.name for p in out.iterdir()} == {"dr-test.json", "dr-test.state.json", "dr-test.dot"}
    assert "runbook skipped" in stdout
    digest = _load(out / "dr-test.json")
    conn = _by_name(digest, "hub-secondary-connection")["newState"]["inputs"]
    assert conn["authorizationKey"] == SECRET_TEXT
    assert conn["routingWeight"] == 300  # --set, cross-connected, phase failover: the secondary is preferred
    assert digest["config"]["expressroute-dr:secondaryAuthorizationKey"] == SECRET_TEXT
    assert not any(s["newState"]["type"].startswith("azure-native:recoveryservices") for s in digest["steps"])
    export = (out / "dr-test.state.json").read_text()
    assert "offline-placeholder-secret" not in export and "offline-placeholder-secret" not in json.dumps(digest)
    state_conn = next(
        r
        for r in _load(out / "dr-test.state.json")["deployment"]["resources"]
        if r["urn"].endswith("hub-secondary-connection")
    )
    assert state_conn["inputs"]["authorizationKey"][SECRET_SIG] == "1b47061264138c4ac30d75fd1eb44270"


def test_mandatory_policy_failure_exits_one_after_writing_the_plan(tmp_path: Path) -> None:
    """A non-zonal gateway in a zonal region is advisory by default; made mandatory through the
    pack config, the same plan fails the gate (exit 1) and says why."""
    config = tmp_path / "policy.json"
    config.write_text(json.dumps({"expressroute-gateway-zone-redundant": "mandatory"}))
    out = tmp_path / "plan"
    common = ["--stack", "prod", "--set", "gateway.sku=Standard", "--compare-phase", "none", "--no-images", "-q"]
    code, stdout, _ = _run([*common, "--out", str(out), "--no-runbook"])
    # The zone rule's finding, and the pack's notes on what a first preview cannot decide.
    assert code == plan.EXIT_OK and "pass (1 advisory, 2 left to up)" in stdout
    code, stdout, _ = _run([*common, "--out", str(out), "--no-runbook", "--policy-pack-config", str(config)])
    assert code == plan.EXIT_POLICY
    assert "FAIL" in stdout
    assert (
        "prod: [mandatory] expressroute-gateway-zone-redundant on ergw-hub-eastasia (Pulumi name hub-gateway), "
        "in standby:" in stdout
    )
    violations = [v for v in _load(out / "prod.json")["policyViolations"] if UNDECIDED_NOTE not in v["message"]]
    assert [(v["policyName"], v["enforcementLevel"]) for v in violations] == [
        ("expressroute-gateway-zone-redundant", "mandatory")
    ]
    assert violations[0]["resourceUrn"].endswith("::hub-gateway")


def test_runbook_of_the_default_stacks(default_plan: tuple[Path, int, str, str]) -> None:
    text = (default_plan[0] / "dr-runbook.md").read_text()
    assert text.startswith("# DR runbook: East Asia to Southeast Asia, two circuits at two peering locations")
    assert "ergw-hub-southeastasia (ErGw1AZ, create timeout 90m)" in text
    assert "- nothing in Azure: the Site Recovery failover and the on-premises switch move traffic" in text
    assert (
        "**What moves traffic at failover:** Azure: nothing to change; on-premises routing prefers the secondary"
        in text
    )
    assert "**about 0 min** of Azure operations before traffic moves" in text
    assert f"**{azure_facts.GATEWAY_CREATE_MINUTES} min** more for the ExpressRoute gateway alone" in text
    assert "expressroute-howto-add-gateway-portal-resource-manager" in text
    assert "raise its bandwidth with the provider" in text  # 500 Mbps secondary vs 1000 Mbps primary
    assert "- `vnet1`: 172.16.1.0/24" in text
    assert Phase.FAILBACK.value in text


def _recovery_plan_estate(tmp_path: Path, own: str, source: str) -> Path:
    """examples/single-circuit-new-ip with a recovery plan on dr: dr connects to the circuit with its
    own key and holds prod's key for the runbook, both `secure:` values (README step 5)."""
    from tests.helpers import RECOVERY_PLAN

    stacks = tmp_path / "stacks"
    stacks.mkdir(parents=True)
    example = PROJECT_DIR / "examples" / "single-circuit-new-ip"
    (stacks / "Pulumi.prod.yaml").write_text(
        (example / "Pulumi.prod.yaml").read_text()
        + "  expressroute-dr:primaryAuthorizationKey:\n    secure: v1:cHJvZA==:AAAAcHJvZCBrZXk=\n"
    )
    (stacks / "Pulumi.dr.yaml").write_text(
        (example / "Pulumi.dr.yaml").read_text()
        + f"  expressroute-dr:recoveryPlan: {json.dumps(RECOVERY_PLAN)}\n"
        + f"  expressroute-dr:primaryAuthorizationKey:\n    secure: {own}\n"
        + f"  expressroute-dr:sourcePrimaryAuthorizationKey:\n    secure: {source}\n"
    )
    return stacks


def test_distinct_secure_values_plan_as_distinct_keys(tmp_path: Path) -> None:
    """Each `secure:` value stands for its own plaintext offline, so a dr with a recovery plan, its
    own key and prod's key (two authorizations of one circuit) plans; the same ciphertext under both
    keys is one key twice, which the one-key-one-connection rule refuses (the control)."""
    stacks = _recovery_plan_estate(tmp_path, "v1:ZHI=:AAAAZHIga2V5", "v1:cHJvZA==:AAAAcHJvZCBrZXk=")
    out = tmp_path / "plan"
    quick = ["--no-images", "--no-runbook", "--compare-phase", "none", "-q"]
    code, stdout, stderr = _run(["--stacks-dir", str(stacks), "--out", str(out), *quick])
    assert code == plan.EXIT_OK, stdout + stderr
    dr = _load(out / "dr.json")
    assert dr["config"]["expressroute-dr:sourcePrimaryAuthorizationKey"] == SECRET_TEXT
    assert "offline-placeholder-secret" not in json.dumps(dr) + (out / "dr.state.json").read_text()

    same = _recovery_plan_estate(tmp_path / "same", "v1:ZHI=:AAAAZHIga2V5", "v1:ZHI=:AAAAZHIga2V5")
    code, _, stderr = _run(["--stacks-dir", str(same), "--out", str(tmp_path / "p2"), *quick])
    assert code == plan.EXIT_CONFIG
    assert "primaryAuthorizationKey" in stderr and "is the same key as sourcePrimaryAuthorizationKey" in stderr


def test_cross_connect_at_one_peering_location_plans(tmp_path: Path) -> None:
    """Two circuits of one peering location on each hub, within the ExpressRoute FAQ's four per
    VNet: the plan builds both connections on each gateway and the pack passes it (exit 0)."""
    out = tmp_path / "plan"
    args = ["--stacks-dir", str(PROJECT_DIR / "examples" / "one-location-new-ip"), "--out", str(out)]
    args += ["--set", "crossConnect=true", "--set", "drill.enabled=false", "--set", "siteRecovery.enabled=false"]
    code, stdout, stderr = _run([*args, "--no-images", "--no-runbook", "--compare-phase", "none", "-q"])
    assert code == plan.EXIT_OK, stdout + stderr
    for stack in ("prod", "dr"):
        digest = _load(out / f"{stack}.json")
        peers = sorted(
            s["newState"]["inputs"]["peer"]["id"].rsplit("/", 1)[-1]
            for s in digest["steps"]
            if s["newState"]["type"] == "azure-native:network:VirtualNetworkGatewayConnection"
        )
        assert len(peers) == 2 and len(set(peers)) == 2, peers
        assert not [v for v in digest["policyViolations"] if v["policyName"] == "circuits-same-peering-location"]
