"""The target firewall policy's parent is in the target region: the program never gives it the
source's policy (a parent must be in the child's region: Azure Firewall Manager policy overview),
and the firewall-policy-base-same-region rule catches a stack that does, over the pack's gRPC
interface (AnalyzeStack with the stack config the CLI passes)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from erdr import engine_view
from erdr.policy_client import PolicyPackClient, check_simulation, stack_env
from erdr.simulate import SimResult, simulate
from erdr.stackfiles import PROJECT_DIR, load_stack
from tests.helpers import NO_PEER_CONNECTIONS

RULE = "firewall-policy-base-same-region"
EXAMPLE = PROJECT_DIR / "examples" / "landing-zone-firewall"
SOURCE_POLICY = (
    "/subscriptions/c0000000-0000-4000-8000-000000000001/resourceGroups/rg-connectivity-eastasia/providers/"
    "Microsoft.Network/firewallPolicies/afwp-hub-eastasia"
)
TARGET_BASE = (
    "/subscriptions/c0000000-0000-4000-8000-000000000001/resourceGroups/rg-connectivity-southeastasia/providers/"
    "Microsoft.Network/firewallPolicies/afwp-hub-base-southeastasia"
)
POLICY = "vnet-hub-firewall-policy"


def run(preview: bool, **overrides: Any) -> tuple[Any, SimResult]:
    settings = load_stack("dr", stack_file=EXAMPLE / "Pulumi.dr.yaml", overrides=overrides)
    result = simulate(settings, preview=preview, peer_outputs=NO_PEER_CONNECTIONS)
    assert result.error is None, result.error
    return settings, result


def with_base(result: SimResult, base: dict[str, Any]) -> SimResult:
    out = copy.deepcopy(result)
    reg = out.by_name(POLICY)
    reg.inputs["basePolicy"] = base
    reg.outputs = engine_view.outputs_for(reg.type, reg.inputs, preview=out.preview, resource_id=reg.id)
    return out


def test_target_policy_inherits_from_the_target_region_base_never_the_source() -> None:
    _, plain = run(False)
    assert plain.by_name(POLICY).plain_inputs.get("basePolicy") is None  # no rules until one is given
    _, based = run(False, **{"layout.hub.nva.targetBasePolicyId": TARGET_BASE})
    assert based.by_name(POLICY).plain_inputs["basePolicy"] == {"id": TARGET_BASE}
    assert SOURCE_POLICY not in str(based.by_name(POLICY).plain_inputs)


@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_a_source_region_parent_fails_and_the_target_one_passes(preview: bool) -> None:
    settings, result = run(preview, **{"layout.hub.nva.targetBasePolicyId": TARGET_BASE})
    with PolicyPackClient(env=stack_env(settings, preview=preview)) as pack:
        pack.configure()
        assert [d for d in check_simulation(pack, result) if d.policy == RULE] == []
        found = [d for d in check_simulation(pack, with_base(result, {"id": SOURCE_POLICY})) if d.policy == RULE]
    assert [d.level for d in found] == ["mandatory"], [d.message for d in found]
    assert "source region's policy" in found[0].message and found[0].urn.endswith(f"::{POLICY}")


def test_a_parent_in_the_stack_in_another_region_fails() -> None:
    """General, without stack config: a parent registered in the stack, in another location."""
    _, result = run(False)
    out = copy.deepcopy(result)
    parent = out.by_name(POLICY)
    moved = copy.deepcopy(parent)
    moved.name = "far-base"
    moved.urn = parent.urn.rsplit("::", 1)[0] + "::far-base"
    moved.inputs = {**parent.inputs, "firewallPolicyName": "afwp-far", "location": "westeurope"}
    moved.id = parent.id.replace(parent.inputs["firewallPolicyName"], "afwp-far")
    moved.outputs = engine_view.outputs_for(moved.type, moved.inputs, preview=False, resource_id=moved.id)
    out.resources.append(moved)
    broken = with_base(out, {"id": moved.id})
    with PolicyPackClient() as pack:
        pack.configure()
        assert [d for d in check_simulation(pack, result) if d.policy == RULE] == []
        found = [d for d in check_simulation(pack, broken) if d.policy == RULE]
    assert len(found) == 1 and "westeurope" in found[0].message, [d.message for d in found]
