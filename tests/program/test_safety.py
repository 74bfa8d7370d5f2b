"""Safe under unknowns, with secrets, against accidental deletion and Azure's races; adoption.

Every default stack and example runs in every phase with ``preview=True`` (IDs unknown) while
``Output.apply`` is watched, so a resource created inside an apply callback is caught; secrets
stay wrapped; critical resources are protected; dependencies order the known Azure races; VNets
and subnets that Site Recovery created are imported, not created.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi
import pytest

from erdr.simulate import Registration, SimResult, is_secret, simulate, unwrap_secrets
from erdr.stackfiles import PROJECT_DIR, StackSettings, load_stack
from tests.helpers import run_stack

TARGET_RG = "rg-expressroute-dr-southeastasia"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
PHASES = ("standby", "failover", "failback")
EXAMPLES = sorted(p for p in (PROJECT_DIR / "examples").glob("*/") if list(p.glob("Pulumi.*.yaml")))
# (label, stack file): the default stacks and every example's pair.
STACK_FILES = [(stack, PROJECT_DIR / f"Pulumi.{stack}.yaml") for stack in ("prod", "dr")] + [
    (f"{ex.name}/{stack}", ex / f"Pulumi.{stack}.yaml")
    for ex in EXAMPLES
    for stack in ("prod", "dr")
    if (ex / f"Pulumi.{stack}.yaml").exists()
]


def _unique(files: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """Drop stack files whose merged config equals an earlier one's (an example that is the
    default stack): the run would be the same, and each costs seconds."""
    seen: set[str] = set()
    out: list[tuple[str, Path]] = []
    for label, path in files:
        settings_ = load_stack(label.rsplit("/", 1)[-1], stack_file=path)
        key = json.dumps([settings_.stack, settings_.config, sorted(settings_.secret_keys)], sort_keys=True)
        if key not in seen:
            seen.add(key)
            out.append((label, path))
    return out


PREVIEWED = _unique(STACK_FILES)
# The peer stacks single-circuit examples read: both report that they hold no circuit, so a
# gated connection may proceed.
PEERS = {f"organization/expressroute-dr/{s}": {"circuitConnections": []} for s in ("prod", "dr")}

VNET = "azure-native:network:VirtualNetwork"
SUBNET = "azure-native:network:Subnet"
PEERING = "azure-native:network:VirtualNetworkPeering"
GATEWAY = "azure-native:network:VirtualNetworkGateway"
CONNECTION = "azure-native:network:VirtualNetworkGatewayConnection"
FABRIC = "azure-native:recoveryservices:ReplicationFabric"


def _stack(label: str, path: Path, overrides: dict[str, Any] | None = None) -> StackSettings:
    return load_stack(label.rsplit("/", 1)[-1], stack_file=path, overrides=overrides)


@contextmanager
def watch_apply() -> Iterator[list[str]]:
    """Collect every resource constructed while an ``Output.apply`` callback runs."""
    inside: list[str] = []
    depth = [0]
    original_apply = pulumi.Output.apply
    original_init = pulumi.Resource.__init__

    def apply(self: pulumi.Output[Any], func: Callable[[Any], Any], run_with_unknowns: bool = False) -> Any:
        def watched(value: Any) -> Any:
            depth[0] += 1
            try:
                return func(value)
            finally:
                depth[0] -= 1

        return original_apply(self, watched, run_with_unknowns)

    def init(self: pulumi.Resource, t: str, name: str, *args: Any, **kwargs: Any) -> None:
        if depth[0]:
            inside.append(f"{t} {name}")
        original_init(self, t, name, *args, **kwargs)

    with mock.patch.object(pulumi.Output, "apply", apply), mock.patch.object(pulumi.Resource, "__init__", init):
        yield inside


# --- preview with unknowns ----------------------------------------------------------------------


def test_apply_watch_catches_a_resource_created_inside_apply(tmp_path: Path) -> None:
    """The detector itself: a program that creates a resource in an apply is caught."""
    program = tmp_path / "__main__.py"
    program.write_text(
        "import pulumi\n"
        "first = pulumi.CustomResource('test:index:Thing', 'first', {'value': None})\n"
        "first.urn.apply(lambda _: pulumi.CustomResource('test:index:Thing', 'second', {}))\n"
    )
    with watch_apply() as inside:
        result = simulate(load_stack("dr"), preview=True, program=program)
    assert result.error is None
    assert inside == ["test:index:Thing second"]


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize(("label", "path"), PREVIEWED, ids=[label for label, _ in PREVIEWED])
def test_preview_with_unknowns_runs_and_creates_nothing_inside_apply(label: str, path: Path, phase: str) -> None:
    with watch_apply() as inside:
        result = simulate(_stack(label, path, {"phase": phase}), preview=True, peer_outputs=PEERS)
    assert result.error is None, result.error
    assert inside == []
    assert result.of_type(VNET), "nothing was registered"
    # Unknown IDs flowed through as unknowns, not as a placeholder text that would be deployed;
    # an import reads the existing resource, so its ID is the one imported, in preview too.
    created = [r for r in result.resources if r.custom and not r.read and not r.import_id]
    assert all(r.id == "" for r in created)
    assert all(r.id == r.import_id for r in result.resources if r.import_id)


def test_examples_are_covered() -> None:
    assert len(EXAMPLES) >= 6
    assert len(STACK_FILES) == 2 + 2 * len(EXAMPLES)
    # Only exact duplicates of another stack's merged config are left out of the preview runs.
    assert len(PREVIEWED) >= len(STACK_FILES) - 2


# --- secrets ------------------------------------------------------------------------------------

AUTH_KEY = "c0ffee00-auth-key-never-in-plain-text"


def _with_key(stack: str, key: str) -> StackSettings:
    settings_ = load_stack(stack, overrides={key: AUTH_KEY})
    settings_.secret_keys.add(key)  # as `pulumi config set --secret`
    return settings_


def _strip_secrets(value: Any) -> Any:
    if is_secret(value):
        return "<secret>"
    if isinstance(value, dict):
        return {k: _strip_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_secrets(v) for v in value]
    return value


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize(("stack", "key"), [("prod", "primaryAuthorizationKey"), ("dr", "secondaryAuthorizationKey")])
def test_authorization_key_stays_secret(stack: str, key: str, preview: bool) -> None:
    result = simulate(_with_key(stack, key), preview=preview)
    assert result.error is None, result.error
    [connection] = result.of_type(CONNECTION)
    assert is_secret(connection.inputs["authorizationKey"])
    assert unwrap_secrets(connection.inputs["authorizationKey"]) == AUTH_KEY
    # Nowhere else in plain text: not in any resource's inputs, the outputs or the logs.
    for reg in result.resources:
        assert AUTH_KEY not in json.dumps(_strip_secrets(reg.inputs)), reg.name
    assert AUTH_KEY not in json.dumps(result.outputs)
    assert AUTH_KEY not in json.dumps(result.logs)


def test_without_authorization_key_the_connection_has_none() -> None:
    [connection] = run_stack("dr").of_type(CONNECTION)
    assert "authorizationKey" not in connection.inputs


# --- protection and timeouts ---------------------------------------------------------------------


def _routed_vnets(result: SimResult) -> list[Registration]:
    return [r for r in result.of_type(VNET) if "drill" not in r.name]


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_critical_resources_are_protected_by_default(stack: str) -> None:
    result = run_stack(stack)
    critical = [*_routed_vnets(result), *result.of_type(GATEWAY), *result.of_type(CONNECTION)]
    critical += result.of_type("azure-native:resources:ResourceGroup")
    critical += result.of_type("azure-native:recoveryservices:Vault")
    assert len(critical) >= 6
    assert [r.name for r in critical if not r.protect] == []
    # The drill network is disposable by design.
    assert all(not r.protect for r in result.of_type(VNET) if "drill" in r.name)


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_protect_false_protects_nothing(stack: str) -> None:
    result = run_stack(stack, overrides={"protect": False})
    assert result.error is None
    assert [r.name for r in result.resources if r.protect] == []


def test_connection_removed_by_a_phase_is_not_protected() -> None:
    """One circuit, same IPs: the target connects only at failover, so protecting it would block
    failback; the always-present source connection of the translated plan is protected."""
    same = PROJECT_DIR / "examples" / "single-circuit-same-ip"
    result = simulate(_stack("dr", same / "Pulumi.dr.yaml", {"phase": "failover"}), peer_outputs=PEERS)
    assert result.error is None, result.error
    [connection] = result.of_type(CONNECTION)
    assert not connection.protect
    new_ip = PROJECT_DIR / "examples" / "single-circuit-new-ip"
    [always] = simulate(_stack("prod", new_ip / "Pulumi.prod.yaml")).of_type(CONNECTION)
    assert always.protect


def _minutes(text: str) -> float:
    units = {"h": 60.0, "m": 1.0, "s": 1 / 60}
    return float(text[:-1]) * units[text[-1]]


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_gateways_and_connections_have_long_timeouts(stack: str) -> None:
    result = run_stack(stack)
    [gateway] = result.of_type(GATEWAY)
    assert _minutes(gateway.custom_timeouts["create"]) >= 60  # creation takes up to about an hour
    assert _minutes(gateway.custom_timeouts["update"]) >= 60
    assert _minutes(gateway.custom_timeouts["delete"]) >= 30
    for connection in result.of_type(CONNECTION):
        assert {"create", "update", "delete"} <= set(connection.custom_timeouts)
        assert all(_minutes(v) >= 30 for v in connection.custom_timeouts.values())
        # A replacement never holds the circuit twice.
        assert connection.delete_before_replace


# --- dependencies against Azure's races -----------------------------------------------------------


def _subnets_by_vnet(result: SimResult) -> dict[tuple[str, str], list[Registration]]:
    groups: dict[tuple[str, str], list[Registration]] = {}
    for sub in result.of_type(SUBNET):
        groups.setdefault((sub.parent, str(sub.inputs["virtualNetworkName"])), []).append(sub)
    return groups


@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_subnets_of_a_vnet_are_written_one_at_a_time(stack: str) -> None:
    """Concurrent subnet writes on one VNet fail (AnotherOperationInProgress): each subnet waits
    for the previous one, so they form a single chain."""
    groups = _subnets_by_vnet(run_stack(stack, overrides={"layout.hub.addressSpace": ["10.10.10.0/23"]}))
    assert any(len(subs) >= 2 for subs in groups.values())
    for subs in groups.values():
        urns = {s.urn for s in subs}
        previous = {s.urn: [d for d in s.dependencies if d in urns] for s in subs}
        heads = [urn for urn, deps in previous.items() if not deps]
        assert len(heads) == 1
        assert all(len(deps) <= 1 for deps in previous.values())
        # Walk the chain from its head: it covers every subnet once.
        following = {deps[0]: urn for urn, deps in previous.items() if deps}
        chain = [heads[0]]
        while chain[-1] in following:
            chain.append(following[chain[-1]])
        assert sorted(chain) == sorted(urns)


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize("stack", ["prod", "dr"])
def test_peerings_wait_for_subnets_and_the_gateway(stack: str, preview: bool) -> None:
    result = run_stack(stack, preview=preview)
    [gateway] = result.of_type(GATEWAY)
    hub_vnet = next(r for r in _routed_vnets(result) if r.name.startswith("hub-"))
    subnets = _subnets_by_vnet(result)
    hub_subnets = {
        s.urn for (_, vnet), subs in subnets.items() for s in subs if vnet == hub_vnet.inputs["virtualNetworkName"]
    }
    peerings = result.of_type(PEERING)
    assert len(peerings) == 4
    for peering in peerings:
        spoke = next(r for r in result.resources if r.urn == peering.parent)
        spoke_subnets = {s.urn for s in result.of_type(SUBNET) if s.parent == spoke.urn}
        # No peering write while a subnet write on either VNet is in flight.
        assert hub_subnets | spoke_subnets <= set(peering.dependencies), peering.name
        if peering.inputs["useRemoteGateways"]:
            # RemoteVnetHasNoGateways: useRemoteGateways only once the hub gateway exists.
            assert gateway.urn in peering.dependencies, peering.name


def test_site_recovery_fabrics_are_created_one_after_the_other() -> None:
    result = run_stack("dr")
    fabrics = {r.name: r for r in result.of_type(FABRIC)}
    assert set(fabrics) == {"asr-source-fabric", "asr-target-fabric"}
    assert fabrics["asr-source-fabric"].urn in fabrics["asr-target-fabric"].dependencies
    assert fabrics["asr-target-fabric"].urn not in fabrics["asr-source-fabric"].dependencies
    for mapping in result.of_type("azure-native:recoveryservices:ReplicationNetworkMapping"):
        assert {f.urn for f in fabrics.values()} <= set(mapping.dependencies), mapping.name


# --- adopting networks Site Recovery created ----------------------------------------------------------

ASR_RG = "rg-prod-asr"


def _vnet_id(name: str, group: str = TARGET_RG) -> str:
    return f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{group}/providers/Microsoft.Network/virtualNetworks/{name}"


ADOPT = {
    "adopt.vnet1.id": _vnet_id("vnet1-asr"),
    "adopt.vnet1.subnets.workload": _vnet_id("vnet1-asr") + "/subnets/workload",
    "adopt.vnet2.id": _vnet_id("vnet2-asr"),
}


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_adopted_vnets_and_subnets_are_imported_under_their_own_names(preview: bool) -> None:
    result = run_stack("dr", preview=preview, overrides=ADOPT)
    assert result.error is None, result.error
    vnets = {r.name: r for r in result.of_type(VNET)}
    for key in ("vnet1", "vnet2"):
        vnet = vnets[f"{key}-vnet"]
        assert vnet.import_id == _vnet_id(f"{key}-asr")
        assert vnet.inputs["virtualNetworkName"] == f"{key}-asr"
        assert vnet.inputs["resourceGroupName"] == TARGET_RG
        assert vnet.protect  # an import that would replace it is refused instead
    assert vnets["hub-vnet"].import_id == ""
    assert all(v.import_id == "" for name, v in vnets.items() if name.startswith("drill-"))
    subnets = {r.name: r for r in result.of_type(SUBNET)}
    workload = subnets["vnet1-workload"]
    assert workload.import_id == ADOPT["adopt.vnet1.subnets.workload"]
    assert workload.inputs["subnetName"] == "workload"
    assert workload.inputs["virtualNetworkName"] == "vnet1-asr"
    assert subnets["vnet2-workload"].import_id == ""  # adopted VNet, subnet not listed: created
    [group] = result.of_type("azure-native:resources:ResourceGroup")
    assert group.import_id == f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{TARGET_RG}"


def test_adoption_in_site_recoverys_own_resource_group() -> None:
    """Site Recovery puts its VNets in '<group>-asr': name that group as the target's."""
    overrides = {"resourceGroupNames.target": ASR_RG, "adopt.vnet1.id": _vnet_id("vnet1-asr", ASR_RG)}
    result = run_stack("dr", overrides=overrides)
    assert result.error is None, result.error
    vnet = result.by_name("vnet1-vnet")
    assert vnet.import_id == _vnet_id("vnet1-asr", ASR_RG)
    assert vnet.inputs["resourceGroupName"] == ASR_RG
    [group] = result.of_type("azure-native:resources:ResourceGroup")
    assert group.import_id.endswith(f"/resourceGroups/{ASR_RG}")
    # The network mapping points Site Recovery at the adopted VNet itself.
    mapping = result.by_name("asr-vnet1-source-to-target-network-mapping")
    assert mapping.inputs["properties"]["recoveryNetworkId"] == _vnet_id("vnet1-asr", ASR_RG)


def test_without_adoption_nothing_is_imported() -> None:
    assert [r.name for r in run_stack("dr").resources if r.import_id] == []
