"""python -m erdr.discover against the fake ARM estate on 127.0.0.1 (tests/fake_arm): a hub in the
connectivity subscription, spokes in three landing-zone subscriptions, an Azure Firewall hub and
an appliance hub; paged lists, throttling with Retry-After, a 403 on one subscription."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest

from erdr import discover
from erdr.plan import EXIT_OK, Options, run_plan, stack_config
from model.config import Role
from tests.fake_arm.discovered import Run, discovered, run_discover
from tests.fake_arm.estate import (
    CONNECTIVITY,
    FIREWALL_IP,
    FIREWALL_POLICY_ID,
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
    assert ("AzureBastionSubnet", "AzureBastionSubnet") in found
    # NSGs are modelled now: the layout carries the source NSG and its rules for the target's copy.
    assert not any(what == "NSG" for what, _ in found)
    shared = next(s for s in _config(run)["layout"]["hub"]["extraSubnets"] if s["name"] == "snet-shared")
    assert shared["nsg"]["source"].endswith("/networkSecurityGroups/nsg-shared")
    assert [(r["name"], r["destinationPortRanges"]) for r in shared["nsg"]["rules"]] == [
        ("allow-dns-from-onprem", ["53"]),
        ("deny-onprem", ["*"]),
    ]
    assert ("private", "pe-sql-app1") in found
    # The Bastion subnet is not part of the layout: it would otherwise get a UDR through the NVA.
    hub = _config(run)["layout"]["hub"]
    assert "AzureBastionSubnet" not in {s["name"] for s in hub.get("extraSubnets", [])}


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
            discover.Arm(discover.StaticTokenCredential(TOKEN), arm.url),
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
