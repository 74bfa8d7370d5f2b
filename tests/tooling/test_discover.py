"""python -m erdr.discover against the fake ARM estate on 127.0.0.1 (tests/fake_arm): a hub in the
connectivity subscription, spokes in three landing-zone subscriptions, an Azure Firewall hub and
an appliance hub; paged lists, throttling with Retry-After, a 403 on one subscription."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from erdr import discover
from erdr.arm import StaticTokenCredential
from erdr.plan import EXIT_OK, Options, run_plan, stack_config
from erdr.simulate import SimResult
from model.config import Role
from tests.fake_arm.discovered import Run, discovered, run_discover
from tests.fake_arm.estate import (
    CONNECTIVITY,
    FIREWALL_IP,
    FIREWALL_POLICY_ID,
    GATEWAY_IP_ID,
    HUB_ID,
    LZ_APP1,
    LZ_APP2,
    LZ_DATA,
    PRIMARY_CIRCUIT_ID,
    SECONDARY_CIRCUIT_ID,
    build,
)
from tests.fake_arm.server import TOKEN, FakeArm, serve


def _config(run: Run) -> dict[str, Any]:
    return {k: v["value"] for k, v in run.document["config"].items()}


@pytest.mark.parametrize("nva", ["firewall", "appliance"])
def test_discovered_estate_is_a_config_the_program_accepts(nva: str) -> None:
    run = discovered(nva)
    assert run.code == discover.EXIT_OK, run.stderr
    cfg = _config(run)
    layout = cfg["layout"]
    hub = layout["hub"]
    assert hub["placement"]["source"] == {
        "subscriptionId": CONNECTIVITY,
        "resourceGroup": "rg-connectivity-eastasia",
        "name": "vnet-hub-eastasia",
    }
    # Spokes across subscriptions, each placed where it lives, the replica in the same landing zone.
    spokes = {s["name"]: s for s in layout["spokes"]}
    assert set(spokes) == {"vnet-app1", "vnet-app2", "vnet-data"}
    assert spokes["vnet-app1"]["placement"]["source"]["subscriptionId"] == LZ_APP1
    assert spokes["vnet-app2"]["placement"]["target"] == {
        "subscriptionId": LZ_APP2,
        "resourceGroup": "rg-app2-network-southeastasia",
    }
    assert cfg["circuits"] == {
        "primary": {
            "id": PRIMARY_CIRCUIT_ID,
            "peeringLocation": "Hong Kong",
            "skuTier": "Standard",
            "skuFamily": "MeteredData",
            "bandwidthMbps": 1000,
        },
        "secondary": {
            "id": SECONDARY_CIRCUIT_ID,
            "peeringLocation": "Singapore",
            "skuTier": "Standard",
            "skuFamily": "MeteredData",
            "bandwidthMbps": 500,
        },
    }
    assert cfg["topology"] == "two-circuits-two-locations"
    if nva == "firewall":
        assert hub["nvaSubnet"]["name"] == "AzureFirewallSubnet"
        assert hub["nvaAddress"] == FIREWALL_IP
        assert hub["nva"] == {"kind": "azureFirewall", "firewallSku": "Standard", "basePolicyId": FIREWALL_POLICY_ID}
    else:
        assert hub["nvaSubnet"] == {"name": "snet-nva", "prefix": "10.100.0.64/26"}
        assert hub["nva"] == {"kind": "appliance"}
    for stack in ("prod", "dr"):
        stack_config(run.settings(stack))  # raises ConfigError if the program would refuse it


def test_discovered_estate_plans_cleanly(tmp_path: Path) -> None:
    """`make plan` (erdr.plan) accepts the discovered estate: both stacks, their policies, the
    failover comparison and the runbook."""
    run = discovered("firewall")
    out = io.StringIO()
    code = run_plan(
        Options(stacks=["prod", "dr"], stacks_dir=run.stacks_dir, out=tmp_path / "plan", images=False),
        out,
        io.StringIO(),
        quiet=True,
    )
    assert code == EXIT_OK, out.getvalue()
    written = {p.name for p in (tmp_path / "plan").iterdir()}
    assert {"prod.json", "dr.json", "dr-runbook.md", "dr.failover.json"} <= written


def test_everything_not_modelled_is_listed() -> None:
    run = discovered("firewall")
    found = {(f["what"].split(" ")[0], f["resource"].rsplit("/", 1)[-1]) for f in run.document["notModelled"]}
    assert ("Vpn", "vpngw-hub-eastasia") in found
    # Bastion itself is not replicated (its subnet is: see the service subnets' test below).
    assert ("Azure", "AzureBastionSubnet") in found
    # NSGs are modelled now: the layout carries the source NSG and its rules for the target's copy.
    assert not any(what == "NSG" for what, _ in found)
    shared = next(s for s in _config(run)["layout"]["hub"]["extraSubnets"] if s["name"] == "snet-shared")
    assert shared["nsg"]["source"].endswith("/networkSecurityGroups/nsg-shared")
    assert [(r["name"], r["destinationPortRanges"]) for r in shared["nsg"]["rules"]] == [
        ("allow-dns-from-onprem", ["53"]),
        ("deny-onprem", ["*"]),
    ]
    assert ("private", "pe-sql-app1") in found


SERVICE = ("AzureBastionSubnet", "AzureFirewallManagementSubnet", "RouteServerSubnet")
PE_PREFIX = "10.110.0.128/26"  # vnet-app1's snet-pe


def _hub_table(result: SimResult, name: str) -> dict[str, Any] | None:
    """The registered route table the hub subnet ``name`` points at, by the URN it waits for."""
    reg = result.by_name(f"vnet-hub-{name}")
    urns = reg.property_dependencies.get("routeTable") or []
    if not urns:
        assert reg.plain_inputs.get("routeTable") is None, (result.stack, name)
        return None
    (urn,) = urns
    return result.by_urn(urn).plain_inputs


def test_service_subnets_reach_the_dr_stack_by_their_services_rules(tmp_path: Path) -> None:
    """A hub with Bastion (an NSG with Microsoft's rules), the firewall's management subnet (its own
    0.0.0.0/0 -> Internet table, BGP off) and Route Server, a spoke with a Bastion of its own and a
    private-endpoint subnet without a route table: discover writes them into the layout, with what
    adopted mode imports; discover -> plan exits 0 (the adopted gateway table's update keeps the
    GatewaySubnet's link to it in the symmetric-paths rule); the dr stack builds Bastion's subnet
    without a route table and with a copy of its NSG, the management subnet with its Internet
    table, and no service subnet reaches the NVA route or the GatewaySubnet's routes to the NVA."""
    from erdr.plan import OBSERVED_STATE, read_observed
    from erdr.simulate import simulate
    from tests.fake_arm.estate import BASTION_NSG_ID, BASTION_RULES, MANAGEMENT_TABLE_ID, SPOKE_BASTION_PREFIX
    from tests.helpers import ROUTES, SUBNET, short

    run = run_discover("firewall", throttle=False, service_subnets=True, pe_without_table=True)
    assert run.code == discover.EXIT_OK, run.stderr
    # The spoke subnets without a route table (Bastion's, the private endpoints') reply directly:
    # the program gives the GatewaySubnet's table a VnetLocal route for each, which production
    # lacks (the adopted table's first `up` adds them); nothing else differs.
    assert [(d["resource"].rsplit("/", 1)[-1], d["what"]) for d in run.document["differences"]] == [
        ("rt-hub-gateway", f"no route {prefix} -> VnetLocal") for prefix in (PE_PREFIX, SPOKE_BASTION_PREFIX)
    ]
    app1 = next(s for s in _config(run)["layout"]["spokes"] if s["name"] == "vnet-app1")
    assert {"name": "AzureBastionSubnet", "prefix": SPOKE_BASTION_PREFIX} in app1["subnets"]
    cfg = _config(run)
    extras = {s["name"]: s for s in cfg["layout"]["hub"]["extraSubnets"]}
    assert set(SERVICE) <= set(extras)
    assert all("routeTable" not in extras[name] for name in SERVICE)  # the service's rule decides
    assert extras["AzureBastionSubnet"]["nsg"]["source"] == BASTION_NSG_ID
    assert [r["name"] for r in extras["AzureBastionSubnet"]["nsg"]["rules"]] == [r[0] for r in BASTION_RULES]
    source = cfg["source"]
    assert source["imports"]["vnet-hub-AzureFirewallManagementSubnet-routes"] == MANAGEMENT_TABLE_ID
    assert source["routeNames"]["vnet-hub-AzureFirewallManagementSubnet-routes"] == {"0.0.0.0/0": "default-internet"}
    for name in SERVICE:
        assert source["imports"][f"vnet-hub-{name}"] == f"{HUB_ID}/subnets/{name}"

    out = io.StringIO()
    code = run_plan(
        Options(stacks=["prod", "dr"], stacks_dir=run.stacks_dir, out=tmp_path / "plan", images=False),
        out,
        io.StringIO(),
        quiet=True,
    )
    assert code == EXIT_OK, out.getvalue()

    observed = read_observed(run.stacks_dir / OBSERVED_STATE)
    for stack in ("prod", "dr"):
        result = simulate(run.settings(stack), live=observed, observed=observed)
        assert result.error is None, result.error
        assert _hub_table(result, "AzureBastionSubnet") is None, stack
        assert _hub_table(result, "RouteServerSubnet") is None, stack
        management = _hub_table(result, "AzureFirewallManagementSubnet")
        assert management is not None and management["disableBgpRoutePropagation"] is True, stack
        assert [(r["addressPrefix"], r["nextHopType"]) for r in management["routes"]] == [("0.0.0.0/0", "Internet")]
        for reg in result.of_type(SUBNET):
            for urn in reg.property_dependencies.get("routeTable") or []:
                routes = result.by_urn(urn).plain_inputs["routes"]
                if any(r["nextHopType"] == "VirtualAppliance" for r in routes):
                    assert reg.plain_inputs["subnetName"] not in SERVICE, (stack, short(reg.urn))
        # The gateway sends no service subnet's traffic to the NVA (their replies do not pass it).
        gateway_routes = result.by_name("vnet-hub-gateway-routes").plain_inputs["routes"]
        service_prefixes = {extras[name]["prefix"] for name in SERVICE}
        assert not service_prefixes & {r["addressPrefix"] for r in gateway_routes if r["nextHopType"] != "VnetLocal"}
        direct = {r["addressPrefix"] for r in gateway_routes if r["nextHopType"] == "VnetLocal"}
        assert {PE_PREFIX, SPOKE_BASTION_PREFIX} <= direct, stack
        spoke_bastion = result.by_name("vnet-app1-AzureBastionSubnet")
        assert not spoke_bastion.property_dependencies.get("routeTable"), stack
        assert spoke_bastion.plain_inputs.get("routeTable") is None, stack
        assert any(short(r.urn) == "vnet-hub-AzureFirewallManagementSubnet-routes" for r in result.of_type(ROUTES))
        if stack == "prod":
            adopted = result.by_name("vnet-hub-AzureFirewallManagementSubnet-routes")
            assert adopted.import_id == MANAGEMENT_TABLE_ID and adopted.observed is True
            continue
        # The dr copy of Bastion's subnet carries its own NSG with the source's rules.
        bastion = result.by_name("vnet-hub-AzureBastionSubnet")
        (nsg_urn,) = bastion.property_dependencies["networkSecurityGroup"]
        nsg = result.by_urn(nsg_urn)
        assert short(nsg.urn) == "vnet-hub-AzureBastionSubnet-nsg"
        assert [r["name"] for r in nsg.plain_inputs["securityRules"]] == [r[0] for r in BASTION_RULES]


def test_adopted_mode_lists_an_import_for_every_production_resource() -> None:
    run = discovered("firewall")
    source = _config(run)["source"]
    imports = source["imports"]
    assert imports["vnet-hub-vnet"] == HUB_ID
    assert imports["vnet-hub-gateway-routes"].endswith("/routeTables/rt-hub-gateway")
    assert imports["vnet-hub-to-vnet-app1"].endswith("/virtualNetworkPeerings/peer-hub-to-app1")
    assert imports["vnet-app1-to-vnet-hub"].startswith(f"/subscriptions/{LZ_APP1}/")
    assert source["routeNames"]["vnet-app2-routes"] == {"0.0.0.0/0": "default-route"}
    assert source["routeNames"]["vnet-hub-gateway-routes"]["10.110.0.0/24"] == "to-app1"
    assert source["routeNames"]["vnet-hub-gateway-routes"]["10.100.1.0/24"] == "to-shared"  # the hub workload
    assert run.document["differences"] == []


def test_lists_are_followed_across_pages() -> None:
    run = discovered("firewall")
    pages = [p for p, status in run.requests if p.lower().endswith(f"{HUB_ID.lower()}/virtualnetworkpeerings")]
    assert len(pages) == 2  # three peerings, two a page: nextLink followed once
    assert len(_config(run)["layout"]["spokes"]) == 3


def test_throttled_request_is_retried_after_retry_after() -> None:
    estate = build()
    arm = FakeArm(estate, throttle_once={HUB_ID.lower()}, retry_after=1)
    with serve(arm):
        start = time.monotonic()
        found = discover.discover(
            discover.Arm(StaticTokenCredential(TOKEN), arm.url),
            discover.Options(HUB_ID, "southeastasia"),
        )
        waited = time.monotonic() - start
    hub_gets = [status for path, status in arm.requests if path == HUB_ID]
    assert hub_gets == [429, 200]
    assert waited >= 1.0  # the SDK's RetryPolicy honoured Retry-After
    assert found.config["layout"]["hub"]["name"] == "vnet-hub"


def test_forbidden_subscription_is_reported_and_the_rest_described(tmp_path: Path) -> None:
    run = run_discover("firewall", forbidden=(LZ_DATA,))
    assert run.code == discover.EXIT_PARTIAL
    (problem,) = run.document["problems"]
    assert LZ_DATA in problem["what"] and "10.130.0.0/24" in problem["what"]
    assert "HTTP 403 AuthorizationFailed" in problem["why"] and "Reader" in problem["why"]
    assert f"could not read /subscriptions/{LZ_DATA}/" in run.stderr
    spokes = {s["name"] for s in _config(run)["layout"]["spokes"]}
    assert spokes == {"vnet-app1", "vnet-app2"}
    # What was read still makes a config the program accepts (adopted: the unreadable spoke's
    # route on the hub's GatewaySubnet is a difference the first `up` would change).
    assert any("10.130.0.0/24" in d["what"] for d in run.document["differences"])
    stack_config(run.settings("dr"))


def test_single_circuit_without_a_secondary() -> None:
    run = run_discover("appliance", secondary=False, throttle=False)
    cfg = _config(run)
    assert cfg["topology"] == "single-circuit"
    assert set(cfg["circuits"]) == {"primary"}
    dr = stack_config(run.settings("dr"))
    assert dr.role is Role.TARGET


def _main(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    err = io.StringIO()
    code = discover.main(args, io.StringIO(), err, env)
    return code, err.getvalue()


def test_arm_endpoint_needs_a_token_and_tls_off_loopback() -> None:
    base = ["--hub-id", HUB_ID, "--target-region", "southeastasia"]
    code, err = _main([*base, "--arm-endpoint", "http://127.0.0.1:1"], {})
    assert code == discover.EXIT_ERROR and "ERDR_ARM_TOKEN" in err
    code, err = _main([*base, "--arm-endpoint", "http://arm.example.net"], {"ERDR_ARM_TOKEN": "x"})
    assert code == discover.EXIT_ERROR and "loopback" in err
    code, err = _main([*base[:2], "--target-region", "atlantis"], {})
    assert code == discover.EXIT_ERROR and "unknown Azure region" in err


def test_unreadable_hub_writes_nothing(tmp_path: Path) -> None:
    arm = FakeArm(build())
    missing = HUB_ID.replace("vnet-hub-eastasia", "vnet-nope")
    out = tmp_path / "estate.yaml"
    with serve(arm):
        code, err = _main(
            ["--hub-id", missing, "--target-region", "southeastasia", "--arm-endpoint", arm.url, "--out", str(out)],
            {"ERDR_ARM_TOKEN": TOKEN},
        )
        wrong_token, err_token = _main(
            ["--hub-id", HUB_ID, "--target-region", "southeastasia", "--arm-endpoint", arm.url],
            {"ERDR_ARM_TOKEN": "stale"},
        )
    assert code == discover.EXIT_ERROR and "HTTP 404 ResourceNotFound" in err and not out.exists()
    assert wrong_token == discover.EXIT_ERROR and "401" in err_token


def test_the_landing_zone_example_is_what_discover_writes() -> None:
    """examples/landing-zone-firewall is erdr.discover's output for the fake estate (its own header
    aside), so the example shows users exactly what they will get."""
    from erdr.stackfiles import PROJECT_DIR

    run = discovered("firewall")
    example = PROJECT_DIR / "examples" / "landing-zone-firewall"
    for stack in ("prod", "dr"):
        written = (run.stacks_dir / f"Pulumi.{stack}.yaml").read_text().split("\n", 1)[1]
        committed = (example / f"Pulumi.{stack}.yaml").read_text()
        assert committed.endswith(written), stack
    observed = discover.OBSERVED_STATE
    assert (example / observed).read_text() == (run.stacks_dir / observed).read_text()


# --- the observed state: what Azure returned, as the plan's import step reads it -------------------


def test_discover_records_what_azure_returned_beside_the_config() -> None:
    run = discovered("firewall")
    observed = json.loads((run.stacks_dir / discover.OBSERVED_STATE).read_text())["resources"]
    assert observed[HUB_ID] == run.estate.get(HUB_ID)  # the body as ARM sent it, read-only values kept
    gateway_subnet = f"{HUB_ID}/subnets/GatewaySubnet"
    assert observed[gateway_subnet]["properties"]["addressPrefix"] == "10.100.0.0/26"  # under its own ID
    assert any("/virtualNetworkPeerings/" in k for k in observed)
    assert PRIMARY_CIRCUIT_ID in observed
    # The gateway's own public IP, imported as vnet-hub-gateway-ip, is read too: not provisional.
    assert observed[GATEWAY_IP_ID]["properties"]["ipAddress"] == "20.2.0.10"
    assert _config(run)["source"]["imports"]["vnet-hub-gateway-ip"] == GATEWAY_IP_ID


def _plan_prod(stacks: Path, out: Path) -> tuple[int, str]:
    from erdr import plan

    stdout, stderr = io.StringIO(), io.StringIO()
    args = ["--stacks-dir", str(stacks), "--stack", "prod", "--out", str(out), "--no-images", "--no-runbook"]
    code = plan.main([*args, "--compare-phase", "none", "-q", "--jobs", "1"], stdout, stderr)
    return code, stdout.getvalue() + stderr.getvalue()


def test_an_nsg_azure_holds_on_the_adopted_gateway_subnet_fails_the_plan(tmp_path: Path) -> None:
    """The landing-zone estate with an NSG on its GatewaySubnet, which the layout does not model:
    the real import reads the subnet, ignore_changes keeps Azure's networkSecurityGroup, and the
    pack sees it. The plan imports from discover's observed state, so gateway-subnet fails it (exit
    1); the same estate without the NSG passes (the control)."""
    from erdr import plan
    from tests.fake_arm.discovered import run_discover

    broken = run_discover("firewall", throttle=False, gateway_nsg=True)
    code, text = _plan_prod(broken.stacks_dir, tmp_path / "broken")
    assert code == plan.EXIT_POLICY, text
    digest = json.loads((tmp_path / "broken" / "prod.json").read_text())
    found = [v for v in digest["policyViolations"] if v["enforcementLevel"] == "mandatory"]
    assert [(v["policyName"], v["resourceUrn"].rsplit("::", 1)[-1]) for v in found] == [
        ("gateway-subnet", "vnet-hub-GatewaySubnet")
    ]
    assert "has a network security group" in found[0]["message"]
    subnet = next(s for s in digest["steps"] if s["urn"].endswith("::vnet-hub-GatewaySubnet"))
    assert subnet["newState"]["inputs"]["networkSecurityGroup"]["id"].endswith("/nsg-gateway")  # what Analyze saw
    clean = discovered("firewall")
    code, text = _plan_prod(clean.stacks_dir, tmp_path / "clean")
    assert code == plan.EXIT_OK, text
    # The layout and config are the same either way: only Azure's state differs.
    for stack in ("prod", "dr"):
        name = f"Pulumi.{stack}.yaml"
        assert (broken.stacks_dir / name).read_text() == (clean.stacks_dir / name).read_text()
    # Without the observed state the broken estate passes on the program's inputs, and the plan
    # says its verdicts on the adopted resources are provisional, and how to get Azure's state.
    (broken.stacks_dir / discover.OBSERVED_STATE).unlink()
    code, text = _plan_prod(broken.stacks_dir, tmp_path / "provisional")
    assert code == plan.EXIT_OK, text
    imports = len(_config(broken)["source"]["imports"])
    assert re.search(rf"prod: provisional: {imports} adopted resources \(network-rg, ", text), text
    assert "no observed state: run `python -m erdr.discover" in text


def _with_circuits_at_hong_kong(extra: int, out: Path) -> Path:
    """The landing-zone estate whose production gateway Azure also connects to ``extra`` other
    circuits at Hong Kong (connections the layout does not model): discover's stack files."""
    from tests.fake_arm.estate import CIRCUIT_RG, GATEWAY_ID, HUB_RG, REGION, _resource, rid

    estate = build()
    for i in range(extra):
        circuit = rid(CONNECTIVITY, CIRCUIT_RG, f"expressRouteCircuits/er-hongkong-{i}")
        provider = {"serviceProviderName": "Equinix", "peeringLocation": "Hong Kong", "bandwidthInMbps": 200}
        estate.add(
            _resource(circuit, "Microsoft.Network/expressRouteCircuits", {"serviceProviderProperties": provider})
        )
        estate.add(
            _resource(
                rid(CONNECTIVITY, HUB_RG, f"connections/conn-hub-eastasia-er-hongkong-{i}"),
                "Microsoft.Network/connections",
                {
                    "connectionType": "ExpressRoute",
                    "virtualNetworkGateway1": {"id": GATEWAY_ID},
                    "peer": {"id": circuit},
                },
                location=REGION,
            )
        )
    arm = FakeArm(estate)
    args = ["--hub-id", HUB_ID, "--target-region", "southeastasia", "--stacks-dir", str(out)]
    with serve(arm):
        code, err = _main(
            [*args, "--secondary-circuit", SECONDARY_CIRCUIT_ID, "--arm-endpoint", arm.url], {"ERDR_ARM_TOKEN": TOKEN}
        )
    assert code == 0, err
    return out


def test_a_fifth_circuit_of_one_location_on_the_adopted_gateway_is_a_config_error(tmp_path: Path) -> None:
    """Azure allows four circuits of one peering location per VNet (ExpressRoute FAQ). The config
    holds two circuits; the others come from Azure: connections on the adopted production gateway
    that the layout does not model stay there. With three of them at Hong Kong the primary is the
    fourth and the estate plans; with four it would be the fifth, a config error naming the key."""
    from erdr import plan

    code, text = _plan_prod(_with_circuits_at_hong_kong(3, tmp_path / "estate4"), tmp_path / "four")
    assert code == plan.EXIT_OK, text
    code, text = _plan_prod(_with_circuits_at_hong_kong(4, tmp_path / "estate5"), tmp_path / "five")
    assert code == plan.EXIT_CONFIG, text
    (line,) = [ln for ln in text.splitlines() if "peering location" in ln]
    # The key, then the value (long IDs are shortened like every config error's value).
    assert line.startswith(
        f"error: stack 'prod': config expressroute-dr:circuits.primary.id = '{PRIMARY_CIRCUIT_ID[:100]}"
    )
    assert "would be connection 5 from peering location Hong Kong" in line
    assert "er-hongkong-0, er-hongkong-1, er-hongkong-2, er-hongkong-3" in line and "Azure allows 4" in line
    assert not (tmp_path / "five").exists()


def test_external_dr_checks_the_observed_network_else_says_provisional(tmp_path: Path) -> None:
    from erdr import plan

    run = discovered("firewall", mode="external")
    args = ["--stacks-dir", str(run.stacks_dir), "--stack", "dr", "--no-images", "--no-runbook", "--no-policy"]
    args += ["--compare-phase", "none", "-q", "--jobs", "1"]
    stdout = io.StringIO()
    assert plan.main([*args, "--out", str(tmp_path / "a")], stdout, io.StringIO()) == plan.EXIT_OK
    assert "provisional" not in stdout.getvalue()
    stdout = io.StringIO()
    missing = tmp_path / "none.json"
    missing.write_text(json.dumps({"resources": {}}))
    code = plan.main([*args, "--out", str(tmp_path / "b"), "--observed-state", str(missing)], stdout, io.StringIO())
    assert code == plan.EXIT_CRASH  # the observed network lacks the declared VNets: the program refuses
