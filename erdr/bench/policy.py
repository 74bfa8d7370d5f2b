"""Policy scale: AnalyzeStack on growing estates, the CrossGuard pack against a no-op pack.

Both packs run as the CLI runs them (``python -m pulumi.policy``, over gRPC, through
:class:`erdr.policy_client.PolicyPackClient`) and get the same request: the hub-and-N-spokes
estate of :func:`synthetic_estate` (3 resources a spoke, plus the hub's 4).
The no-op pack (``erdr/bench/noop_pack``) has one stack policy that checks nothing, so its time is
what pulumi-policy itself spends delivering the stack; calls alternate between the two packs so
both see the same machine load.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.runtime.proto import analyzer_pb2

from erdr import engine_view
from erdr.bench.stats import growth_exponent, median, nlogn_exponent
from erdr.engine_view import SUBSCRIPTION, UNKNOWN
from erdr.policy_client import POLICIES_DIR, PolicyPackClient
from erdr.policy_client import make_resource as make_analyzer_resource

NOOP_PACK = Path(__file__).resolve().parent / "noop_pack"
SIZES = (100, 200, 500, 1000, 2000)
QUICK_SIZES = (100, 200, 500)  # --quick: still three sizes to fit a growth exponent to
TARGET_RESOURCES = 6000
TARGET_SECONDS = 5.0
# Timing noise on a shared machine moves a fitted exponent by a few hundredths.
EXPONENT_TOLERANCE = 0.05


# --- a synthetic estate for the benchmark -------------------------------------------------------


CIRCUIT_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-er/providers/Microsoft.Network/expressRouteCircuits/er-bench"
)


def _spoke_prefix(i: int) -> str:
    return f"10.{1 + i // 256}.{i % 256}.0/24"


def synthetic_estate(
    spokes: int, *, preview: bool = False, overlaps: Iterable[int] = (), stack: str = "bench"
) -> list[analyzer_pb2.AnalyzerResource]:
    """A hub (VNet, GatewaySubnet, gateway, circuit connection) with ``spokes`` peered spokes:
    3 resources per spoke (VNet and both peerings) plus 4.

    ``overlaps``: indexes of spokes (at most 16) given a /28 of the hub's prefix, each its own,
    so each overlaps the hub and nothing else (one finding per spoke).
    ``preview``: a first preview (IDs and names unknown, references resolvable only through
    property dependencies); else after ``pulumi up``. Either way each resource carries the
    outputs the engine hands AnalyzeStack (erdr.engine_view), built from its inputs.
    """

    def make_resource(
        urn: str, inputs: dict[str, Any], property_dependencies: dict[str, list[str]] | None = None
    ) -> analyzer_pb2.AnalyzerResource:
        type_ = urn.split("::")[-2]
        outputs = engine_view.outputs_for(type_, inputs, preview=preview)
        return make_analyzer_resource(urn, outputs, property_dependencies=property_dependencies)

    rg = "rg-bench"
    base = f"urn:pulumi:{stack}::expressroute-dr::azure-native:network:"
    vnet_path = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks/"

    def ident(path: str) -> str:
        return UNKNOWN if preview else path

    bad = {spoke: n for n, spoke in enumerate(sorted(set(overlaps)))}
    hub_urn = base + "VirtualNetwork::hub"
    subnet_urn = base + "Subnet::hub-gateway-subnet"
    gateway_urn = base + "VirtualNetworkGateway::hub-gateway"
    hub_id = vnet_path + "hub"
    gateway_id = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworkGateways/ergw-hub"
    )
    out = [
        make_resource(
            hub_urn,
            {
                "virtualNetworkName": "hub",
                "resourceGroupName": rg,
                "location": "eastasia",
                "addressSpace": {"addressPrefixes": ["10.0.0.0/24"]},
            },
        ),
        make_resource(
            subnet_urn,
            {
                "subnetName": "GatewaySubnet",
                "virtualNetworkName": "hub",
                "resourceGroupName": rg,
                "addressPrefix": "10.0.0.0/26",
            },
            property_dependencies={"virtualNetworkName": [hub_urn]},
        ),
        make_resource(
            gateway_urn,
            {
                "virtualNetworkGatewayName": "ergw-hub",
                "resourceGroupName": rg,
                "location": "eastasia",
                "gatewayType": "ExpressRoute",
                "sku": {"name": "ErGw1AZ", "tier": "ErGw1AZ"},
                "ipConfigurations": [{"name": "default", "subnet": {"id": ident(hub_id + "/subnets/GatewaySubnet")}}],
            },
            property_dependencies={"ipConfigurations": [subnet_urn]},
        ),
        make_resource(
            base + "VirtualNetworkGatewayConnection::hub-connection",
            {
                "virtualNetworkGatewayConnectionName": "hub-to-er",
                "resourceGroupName": rg,
                "location": "eastasia",
                "connectionType": "ExpressRoute",
                "virtualNetworkGateway1": {"id": ident(gateway_id)},
                "peer": {"id": CIRCUIT_ID},
            },
            property_dependencies={"virtualNetworkGateway1": [gateway_urn]},
        ),
    ]
    peering = {"allowVirtualNetworkAccess": True, "allowForwardedTraffic": True}
    for i in range(spokes):
        name = f"spoke{i}"
        urn = base + f"VirtualNetwork::{name}"
        prefix = f"10.0.0.{16 * bad[i]}/28" if i in bad else _spoke_prefix(i)
        spoke_id = vnet_path + name
        out.append(
            make_resource(
                urn,
                {
                    "virtualNetworkName": name,
                    "resourceGroupName": rg,
                    "location": "eastasia",
                    "addressSpace": {"addressPrefixes": [prefix]},
                },
            )
        )
        out.append(
            make_resource(
                base + f"VirtualNetworkPeering::hub-to-{name}",
                {
                    "virtualNetworkPeeringName": f"hub-to-{name}",
                    "virtualNetworkName": "hub",
                    "resourceGroupName": rg,
                    "remoteVirtualNetwork": {"id": ident(spoke_id)},
                    **peering,
                    "allowGatewayTransit": True,
                    "useRemoteGateways": False,
                },
                property_dependencies={"virtualNetworkName": [hub_urn], "remoteVirtualNetwork": [urn]},
            )
        )
        out.append(
            make_resource(
                base + f"VirtualNetworkPeering::{name}-to-hub",
                {
                    "virtualNetworkPeeringName": f"{name}-to-hub",
                    "virtualNetworkName": name,
                    "resourceGroupName": rg,
                    "remoteVirtualNetwork": {"id": ident(hub_id)},
                    **peering,
                    "allowGatewayTransit": False,
                    "useRemoteGateways": True,
                },
                property_dependencies={"virtualNetworkName": [urn], "remoteVirtualNetwork": [hub_urn]},
            )
        )
    return out


def resources_for(spokes: int) -> int:
    return 3 * spokes + 4


@dataclass(frozen=True)
class PolicyRow:
    spokes: int
    resources: int
    pack: float  # median seconds
    noop: float

    @property
    def ratio(self) -> float:
        return self.pack / self.noop


@dataclass(frozen=True)
class PolicyScale:
    rows: tuple[PolicyRow, ...]
    runs: int
    findings: int  # diagnostics the pack returned on the largest (clean) estate

    @property
    def pack_exponent(self) -> float:
        return growth_exponent([r.resources for r in self.rows], [r.pack for r in self.rows])

    @property
    def noop_exponent(self) -> float:
        return growth_exponent([r.resources for r in self.rows], [r.noop for r in self.rows])

    @property
    def nlogn_exponent(self) -> float:
        return nlogn_exponent([r.resources for r in self.rows])

    @property
    def largest(self) -> PolicyRow:
        return max(self.rows, key=lambda r: r.resources)

    @property
    def meets_growth(self) -> bool:
        return self.pack_exponent <= self.nlogn_exponent + EXPONENT_TOLERANCE

    @property
    def meets_time(self) -> bool:
        big = self.largest
        return big.resources >= TARGET_RESOURCES and big.pack < TARGET_SECONDS


def measure(sizes: Sequence[int] = SIZES, runs: int = 5) -> PolicyScale:
    rows: list[PolicyRow] = []
    findings = 0
    with PolicyPackClient(POLICIES_DIR) as pack, PolicyPackClient(NOOP_PACK) as noop:
        pack.configure()
        noop.configure()
        warm = synthetic_estate(10)
        pack.analyze_stack(warm)
        noop.analyze_stack(warm)
        for spokes in sizes:
            estate = synthetic_estate(spokes)
            times: dict[str, list[float]] = {"pack": [], "noop": []}
            for _ in range(runs):
                for name, client in (("pack", pack), ("noop", noop)):
                    start = time.perf_counter()
                    diagnostics = client.analyze_stack(estate)
                    times[name].append(time.perf_counter() - start)
                    if name == "pack":
                        findings = len(diagnostics)
            rows.append(PolicyRow(spokes, resources_for(spokes), median(times["pack"]), median(times["noop"])))
    return PolicyScale(tuple(rows), runs, findings)
