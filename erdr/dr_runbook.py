"""The DR runbook, generated from the config: what is pre-provisioned, the ordered failover,
failback and drill steps (from :mod:`model.phases`, the one source of the order), what each
`pulumi up` changes (from simulations of every phase), and the network part of the RTO.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from erdr import dr_commands
from erdr.plan_json import Change, compare
from erdr.simulate import Registration, SimResult, physical_name
from erdr.stackfiles import StackSettings
from model import identity, phases
from model.config import Addressing, Phase, Role, StackConfig, Topology
from model.config.estate import FirewallProvisioning, SourceMode
from model.phases import Action, Operation, Step, connection_plan
from model.spec import network_for
from policies.shared import azure_facts
from policies.shared import names as T

ARTICLE = (
    '"Integrate ExpressRoute with disaster recovery for Azure VMs" (Azure Site Recovery docs, '
    "https://learn.microsoft.com/azure/site-recovery/azure-vm-disaster-recovery-with-expressroute)"
)


@dataclass(frozen=True)
class Duration:
    """How long creating or changing one kind of resource takes, and where that comes from."""

    minutes: int
    documented: bool
    source: str


_GATEWAY_DOC = (
    '"Creating virtual network gateway can take up to 45 minutes to complete." - "Configure a '
    'virtual network gateway for ExpressRoute using the Azure portal", '
    "https://learn.microsoft.com/azure/expressroute/expressroute-howto-add-gateway-portal-resource-manager"
)
_CONNECTION_DOC = (
    'no documented duration: "Connect a virtual network to an ExpressRoute circuit" '
    "(https://learn.microsoft.com/azure/expressroute/expressroute-howto-linkvnet-arm) states none; "
    "the value is policies/shared/azure_facts.py's planning estimate"
)
_NO_DOC = "no documented duration; the value is policies/shared/azure_facts.py's placeholder"

DURATIONS: dict[str, Duration] = {
    T.GATEWAY: Duration(azure_facts.GATEWAY_CREATE_MINUTES, True, _GATEWAY_DOC),
    T.CONNECTION: Duration(azure_facts.CONNECTION_CREATE_MINUTES, False, _CONNECTION_DOC),
    T.VNET: Duration(azure_facts.VNET_CREATE_MINUTES, False, _NO_DOC),
    T.PEERING: Duration(azure_facts.VNET_PEERING_CREATE_MINUTES, False, _NO_DOC),
    T.ROUTE_TABLE: Duration(azure_facts.ROUTE_TABLE_CREATE_MINUTES, False, _NO_DOC),
    T.FIREWALL: Duration(
        azure_facts.FIREWALL_CREATE_MINUTES,
        False,
        'no documented duration: the Azure Firewall tutorials say deployment takes "a few minutes" '
        "(https://learn.microsoft.com/azure/firewall/tutorial-firewall-deploy-portal-policy); "
        "the value is policies/shared/azure_facts.py's placeholder",
    ),
}

_TOPOLOGY_TEXT = {
    Topology.TWO_CIRCUITS_TWO_LOCATIONS: "two circuits at two peering locations",
    Topology.TWO_CIRCUITS_ONE_LOCATION: "two circuits at one peering location",
    Topology.SINGLE_CIRCUIT: "a single circuit",
}

_ARTICLE_SAYS = {
    Topology.TWO_CIRCUITS_TWO_LOCATIONS: (
        "protects against a regional disaster and the loss of a peering location; the secondary "
        "connection can be set up before failover to reduce recovery time, and with simultaneous "
        "connections on-premises routing must use only the secondary circuit after failover."
    ),
    Topology.TWO_CIRCUITS_ONE_LOCATION: (
        "protects against the failure of the primary circuit, not of the peering location; "
        "simultaneous connections are allowed, on-premises routing must use only the secondary "
        "circuit after failover, and both circuits cannot be connected to the same VNet (the ExpressRoute "
        "FAQ now allows up to four circuits of one peering location per VNet, so crossConnect may use "
        "both: https://learn.microsoft.com/azure/expressroute/expressroute-faqs)."
    ),
    Topology.SINGLE_CIRCUIT: (
        "gives no resilience if the peering location goes down. With the same address space the "
        "source and target VNets cannot be connected at the same time: disconnect the source first, "
        "then connect the target; when the source region recovers, terminate its connection at once. "
        "With a different address space both can be connected at once."
    ),
}

_NICE_TYPE = {
    T.RESOURCE_GROUP: "resource group",
    T.VNET: "VNet",
    T.SUBNET: "subnet",
    T.ROUTE_TABLE: "route table",
    T.PEERING: "VNet peering",
    T.GATEWAY: "ExpressRoute gateway",
    T.CONNECTION: "ExpressRoute connection",
    T.PUBLIC_IP: "public IP",
    T.VAULT: "Recovery Services vault",
    T.FABRIC: "Site Recovery fabric",
    T.REPLICATION_POLICY: "replication policy",
    T.CONTAINER_MAPPING: "protection container mapping",
    T.NETWORK_MAPPING: "network mapping",
    T.GENERIC_RESOURCE: "Site Recovery protection container",
    T.FIREWALL: "Azure Firewall",
    T.FIREWALL_POLICY: "firewall policy",
    T.PROVIDER: "azure-native provider (one per subscription)",
}


# The tools the runbook's commands are checked against (tests/tooling/test_runbook_azcli.py parses every
# az line with this Azure CLI; tests/tooling/test_runbook_powershell.py holds every cmdlet and parameter
# to the Az 12.0.0 cmdlet reference). Az 12.0.0 ships Az.Accounts 3.0.0 and Az.RecoveryServices 7.0.0
# ("Azure PowerShell release notes", 12.0.0 - May 2024,
# https://learn.microsoft.com/powershell/azure/release-notes-azureps).
AZURE_CLI = "2.91.0"
AZ_POWERSHELL = "Az 12.0.0"
AZ_POWERSHELL_TEXT = (
    "Az PowerShell module 12.0.0 or later (its Az.Accounts 3.0.0 and Az.RecoveryServices 7.0.0 or later: "
    "`Get-Module -ListAvailable Az.RecoveryServices`)"
)


@dataclass
class StackRuns:
    """One stack: its settings, config, and `up` simulations of the phases the runbook walks."""

    settings: StackSettings
    cfg: StackConfig
    runs: dict[Phase, SimResult] = field(default_factory=dict[Phase, SimResult])

    @property
    def name(self) -> str:
        return self.settings.stack


def _firewall_name(cfg: StackConfig) -> str:
    found = identity.side(cfg, Role.TARGET).firewall
    assert found is not None, "called for an azureFirewall hub only"
    return found.firewall.name


def _nice(type_: str) -> str:
    return _NICE_TYPE.get(type_, type_)


def _physical(r: Registration) -> str:
    """The name Azure shows (the portal, `az`), else the logical name."""
    return physical_name(r.type, r.plain_inputs) or r.name


def _inventory(result: SimResult) -> list[str]:
    """ "ExpressRoute gateway: ergw-hub-southeastasia (ErGw1AZ)" lines, one per kind."""
    lines: list[str] = []
    kinds: dict[str, list[str]] = {}
    for r in result.resources:
        if not r.custom:
            continue
        label = _physical(r)
        inputs = r.plain_inputs
        if r.type == T.GATEWAY:
            label += (
                f" ({(inputs.get('sku') or {}).get('name')}, create timeout {r.custom_timeouts.get('create', '-')})"
            )
        elif r.type == T.CONNECTION:
            label += f" (routing weight {int(inputs.get('routingWeight', 0))})"
        elif r.type == T.VNET:
            label += f" ({', '.join(inputs.get('addressSpace', {}).get('addressPrefixes', []))})"
        elif r.type == T.SUBNET:
            label = f"{inputs.get('virtualNetworkName')}/{inputs.get('subnetName')} ({inputs.get('addressPrefix')})"
        kinds.setdefault(_nice(r.type), []).append(label)
    order = list(_NICE_TYPE.values())
    for kind, names in sorted(
        kinds.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order else len(order), kv[0])
    ):
        lines.append(f"- {kind} ({len(names)}): {', '.join(sorted(names))}")
    return lines


def _change_text(c: Change) -> str:
    what = f"{_nice(c.type)} `{c.physical}`"
    if c.op == "update":
        return f"update {what}: {c.describe()}"
    if c.op == "delete":
        return f"delete {what}" + (" (protected: this would fail)" if c.protected else "")
    return f"create {what}"


def _minutes(changes: Sequence[Change]) -> tuple[int, bool, list[str]]:
    """(minutes for one `pulumi up` that runs these changes in parallel, all documented?, notes)."""
    worst = 0
    documented = True
    notes: list[str] = []
    for c in changes:
        d = DURATIONS.get(c.type)
        if d is None:
            continue
        worst = max(worst, d.minutes)
        documented = documented and d.documented
        notes.append(f"{c.op} {_nice(c.type)}: {d.minutes} min ({'documented' if d.documented else 'placeholder'})")
    return worst, documented, notes


@dataclass
class _Walk:
    """The phase each stack is in while the procedure is followed."""

    phase: dict[Role, Phase]


def _step_changes(step: Step, runs: dict[Role, StackRuns], walk: _Walk) -> list[Change]:
    if step.action is not Action.UP or step.role is None or step.phase is None:
        return []
    stack = runs[step.role]
    before, after = walk.phase[step.role], step.phase
    walk.phase[step.role] = after
    if before == after:
        return []
    return compare(stack.settings, stack.runs[before], stack.runs[after], before.value, after.value).changes


def _config_line(step: Step) -> str:
    sets = []
    if step.phase is not None:
        sets.append(f"`expressroute-dr:phase: {step.phase.value}`")
    sets += [f"`expressroute-dr:{k}: {v}`" for k, v in step.extra_config]
    return ", ".join(sets)


def _block(lines: list[str], shell: str, commands: Sequence[str], indent: str = "     ") -> None:
    lines += ["", f"{indent}```{shell}", *(f"{indent}{c}" for c in commands), f"{indent}```", ""]


def _steps_section(
    title: str,
    steps: Sequence[Step],
    runs: dict[Role, StackRuns],
    walk: _Walk,
    names: dr_commands.Names,
    command: str,
) -> tuple[list[str], int, bool]:
    """One procedure: the failover command that runs it all, then each step by hand with its check."""
    stacks = names.stacks
    out = [
        f"## {title}",
        "",
        "All steps, in order, with prompts at the manual ones and a log (`build/failover.jsonl`):",
    ]
    _block(out, "sh", [command], indent="")
    out += ["Step by step, by hand:", ""]
    total = 0
    documented = True
    # The failover waits for the Azure changes up to the step that moves traffic; what comes after
    # (cleanup, records) is off the critical path.
    switch_at = next((i for i, s in enumerate(steps, 1) if s.switch), len(steps))
    for i, step in enumerate(steps, 1):
        where = f"stack `{stacks[step.role]}`" if step.role is not None else "outside the stacks"
        mark = " — **this moves traffic**" if step.switch else ""
        out.append(f"{i}. **{step.title}** ({step.action.value}, {where}){mark}")
        config = _config_line(step) if step.action is Action.UP else ""
        if config:
            out.append(f"   - config: {config}")
        before = walk.phase[step.role] if step.role is not None else None
        changes = _step_changes(step, runs, walk)
        detail = dr_commands.detail(names, step, before)
        if detail.manual:
            out.append("   - by hand:")
            _block(out, detail.shell, detail.manual)
        if step.action is Action.UP:
            if changes:
                out.append("   - `pulumi up` changes:")
                out += [f"     - {_change_text(c)}" for c in changes]
                minutes, doc, _ = _minutes(changes)
                if i <= switch_at:
                    total += minutes
                    documented = documented and doc
                where_ = "on the critical path" if i <= switch_at else "after traffic moved, not on the critical path"
                source_ = "documented" if doc else "estimate: Microsoft documents no duration"
                out.append(f"   - network time: about {minutes} min ({source_}; {where_})")
            else:
                out.append("   - `pulumi up` changes: nothing in Azure (the stack's outputs record the phase)")
        if step.check:
            out.append(f"   - done when: {step.check}")
        if detail.check:
            out.append("   - check:")
            _block(out, detail.check_shell, detail.check)
            out.append(f"     prints: {detail.expect}")
    out.append("")
    return out, total, documented


def _rto_section(target: StackRuns, failover_minutes: int, documented: bool) -> list[str]:
    standby = target.runs[Phase.STANDBY]
    failover = target.runs[Phase.FAILOVER]
    counterfactual = [r for r in standby.resources if r.type in DURATIONS]
    by_type = Counter(r.type for r in counterfactual)
    lines = [
        "## Network RTO estimate",
        "",
        "Only the network part: Site Recovery's own failover time (VM boot, recovery point) comes on top.",
        "",
        f"- With this plan (pre-provisioned): **about {failover_minutes} min** of Azure operations before traffic "
        "moves (the `pulumi up` steps up to the switch, one after another; "
        f"{'documented figures' if documented else 'estimates: Microsoft documents no duration for a connection change'})."
        " The on-premises switch (routing or DNS) is the operator's own and comes on top.",
        "  Pulumi waits for each connection change up to the target's custom timeout ("
        + ", ".join(
            sorted({f"{_physical(r)}: {r.custom_timeouts.get('create', '-')}" for r in failover.of_type(T.CONNECTION)})
            or ["no connection"]
        )
        + ").",
    ]
    if azure_facts.GATEWAY_CREATE_MINUTES and by_type.get(T.GATEWAY):
        worst = max(DURATIONS[t].minutes for t in by_type)
        lines.append(
            f"- Without pre-provisioning (the article's steps a-d done at failover): at least "
            f"**{worst} min** more for the ExpressRoute gateway alone, then its connection, the "
            "peerings and the route tables that depend on it."
        )
    lines += ["", "| resource | count in the target stack | minutes | source |", "| --- | --- | --- | --- |"]
    for type_, count in sorted(by_type.items()):
        d = DURATIONS[type_]
        lines.append(f"| {_nice(type_)} | {count} | {d.minutes} | {d.source} |")
    lines.append("")
    return lines


def _prerequisites(design: phases.Design, source: StackRuns, target: StackRuns) -> list[str]:
    """What must be true before a disaster, and the commands that show it is."""
    cfg = target.cfg
    prod, dr = source.name, target.name
    lines = [
        "## Before you need it",
        "",
        "- **Tools** on the machine you will work from (not in the source region): the Pulumi CLI, the Azure "
        f"CLI (every `az` command here is checked with Azure CLI {AZURE_CLI}), the {AZ_POWERSHELL_TEXT} "
        "(Site Recovery commands), and this repository at the commit that was "
        "last deployed, set up with `make plan` once (it creates `.venv`, which the failover command uses).",
        "- **Sign-in and state**: `az login` (an identity that may write connections in both network resource "
        "groups, join the circuits, and run Site Recovery in the vault), then `pulumi login` to the state "
        "backend. The backend and the secrets provider must be **outside the source region**: check with "
        "`pulumi whoami -v` (backend URL) and `pulumi stack --stack "
        f"{dr}` (it must answer while the source region is down).",
        f"- **Both stacks in standby**: `pulumi stack output phase --stack {prod}` and "
        f"`pulumi stack output phase --stack {dr}` print `standby`; `pulumi preview --stack {dr}` shows no changes.",
    ]
    if design.exclusive:
        lines.append(
            "- **On-premises routing in standby**: the one circuit carries only the source region's routes "
            "(the target hub is not connected: same IPs). Nothing to prepare on-premises beyond accepting the "
            "same prefixes from the circuit after failover; `peerStack` must be set on both stacks "
            "(`pulumi config get expressroute-dr:peerStack --stack " + dr + "`)."
        )
    elif design.two_circuits:
        same = cfg.addressing is Addressing.SAME
        lines.append(
            "- **On-premises routing in standby** (required: the target is pre-connected, so on-premises learns "
            + (
                "the same prefixes from both circuits"
                if same
                else "the target's prefixes over the secondary circuit and the source's over the primary"
            )
            + "): prefer the **primary** circuit for the Azure prefixes, with a higher BGP local preference on "
            "routes learned over the primary (local preference steers on-premises' path to Azure; AS-path "
            "prepending on the on-premises prefixes advertised over the secondary steers the return direction, "
            "Azure to on-premises). At failover that "
            "preference moves to the secondary: that is the step that moves traffic. Routing weights in Azure "
            "only choose among the connections of one gateway and cannot do this for you "
            "(https://learn.microsoft.com/azure/expressroute/expressroute-optimize-routing)."
        )
        lines.append(
            "  Check on the edge routers: `show bgp ipv4 unicast <an Azure prefix>` has its best path over the "
            "primary circuit, and a second path over the secondary."
        )
    else:
        lines.append(
            "- **On-premises routing in standby**: the one circuit carries both hubs' prefixes (they differ). "
            "DNS and on-premises rules point at the source addresses; at failover they move to the target's."
        )
    if (
        cfg.circuits.secondary is not None
        and cfg.circuits.secondary.bandwidth_mbps < cfg.circuits.primary.bandwidth_mbps
    ):
        lines.append(
            "- **Bandwidth**: the secondary circuit is smaller than the primary; agree beforehand how to raise it "
            "with the provider at a disaster."
        )
    lines.append(
        "- **What the replica does not carry** (recreate or provide it in the target yourself): private endpoints "
        "and the private DNS records pointing at them, NAT gateways, custom DNS servers of the VNets, Azure "
        "service subnets that the layout does not list, the services in the ones it lists (the Bastion host, Route "
        "Server, the firewall's management IP configuration; erdr.discover writes the subnets into the layout "
        "and names the services under `notModelled`), "
        "and the rules of the firewall policy unless `layout.hub.nva.targetBasePolicyId` names a copy in the "
        "target region. Subnet NSGs, delegations, network policies and `defaultOutboundAccess` are replicated "
        "as the layout declares them (erdr.discover copies each NSG's rules)."
    )
    lines.append("")
    return lines


def _addresses(source: StackRuns, target: StackRuns) -> list[str]:
    """What failover means for the VMs' addresses and DNS."""
    cfg = target.cfg
    lines = ["## Addresses after failover", ""]
    if cfg.addressing is Addressing.SAME:
        lines += [
            "Same IP addresses: Site Recovery gives each VM the address it had (the target subnets have the same "
            "ranges), so DNS records and on-premises firewall rules stay as they are. Only routing moves.",
            "",
        ]
        return lines
    src = network_for(cfg, Role.SOURCE)
    tgt = network_for(cfg, Role.TARGET)
    lines += [
        "Translated addresses: every VNet, subnet and the NVA move to the target plan, keeping each address's "
        "offset in its prefix. Site Recovery gives a failed-over VM an address in the target subnet; set each "
        "replicated NIC's target IP (Compute and Network settings of the replicated item) to the translated "
        "address below to keep the same host part. Then update DNS records (or rely on the zone's "
        "auto-registration) and on-premises firewall rules and static routes for the target prefixes.",
        "",
        "| VNet | source | target |",
        "| --- | --- | --- |",
        *(
            f"| {a.key} | {', '.join(a.address_space)} | {', '.join(b.address_space)} |"
            for a, b in zip(src.vnets, tgt.vnets, strict=True)
        ),
        f"| NVA | {src.nva_address} | {tgt.nva_address} |",
        "",
    ]
    return lines


def render(source: StackRuns, target: StackRuns) -> str:
    """The runbook for the topology both stacks share (they must agree on it)."""
    cfg = target.cfg
    if (source.cfg.topology, source.cfg.addressing) != (cfg.topology, cfg.addressing):
        raise ValueError(
            f"stacks disagree: {source.name} has {source.cfg.topology.value}/{source.cfg.addressing.value}, "
            f"{target.name} has {cfg.topology.value}/{cfg.addressing.value}"
        )
    runs = {Role.SOURCE: source, Role.TARGET: target}
    stacks = {Role.SOURCE: source.name, Role.TARGET: target.name}
    design = phases.Design.of(cfg)
    src_region = azure_facts.REGIONS[cfg.regions.source].display_name
    tgt_region = azure_facts.REGIONS[cfg.regions.target].display_name
    lines = [
        f"# DR runbook: {src_region} to {tgt_region}, {_TOPOLOGY_TEXT[cfg.topology]}, "
        f"{'same IP addresses' if cfg.addressing is Addressing.SAME else 'new IP addresses'} after failover",
        "",
        "Generated by `make plan` (`python -m erdr.plan`) from Pulumi.yaml and the stack files; do not edit: "
        "change the config and run it again. Every step below comes from `model/phases.py`; what each "
        "`pulumi up` changes comes from running the program for each phase under Pulumi's mock runtime.",
        "",
        f"**What moves traffic at failover:** {phases.traffic_switch(design, Operation.FAILOVER)}.",
        "",
        f"**At failback:** {phases.traffic_switch(design, Operation.FAILBACK)}.",
        "",
        "## Topology",
        "",
        f"- Source: stack `{source.name}`, {src_region} (`{cfg.regions.source}`); "
        f"target: stack `{target.name}`, {tgt_region} (`{cfg.regions.target}`).",
    ]
    circuits = [("primary", cfg.circuits.primary), ("secondary", cfg.circuits.secondary)]
    for key, c in circuits:
        if c is not None:
            lines.append(
                f"- {key} circuit: {c.peering_location}, {c.sku_tier} {c.sku_family}, {c.bandwidth_mbps} Mbps (`{c.id}`)"
            )
    lines.append(f"- The article ({ARTICLE}) says this topology {_ARTICLE_SAYS[cfg.topology]}")
    secondary = cfg.circuits.secondary
    if secondary is not None and secondary.bandwidth_mbps < cfg.circuits.primary.bandwidth_mbps:
        lines.append(
            f"- The secondary circuit has {secondary.bandwidth_mbps} Mbps against the primary's "
            f"{cfg.circuits.primary.bandwidth_mbps} Mbps: as the article notes, raise its bandwidth with the "
            "provider at a disaster (outside these stacks)."
        )
    lines += ["", *_prerequisites(design, source, target), *_addresses(source, target), *estate_section(source, target)]
    lines += ["## Pre-provisioned (phase standby)", ""]
    for stack in (source, target):
        plan = connection_plan(stack.cfg, stack.cfg.role, Phase.STANDBY)
        held = ", ".join(f"`{c.name}` on the {c.circuit} circuit (weight {c.routing_weight})" for c in plan) or "none"
        lines.append(f"### `{stack.name}` ({stack.cfg.role.value})")
        lines.append("")
        lines.append(f"Connections held in standby: {held}.")
        lines.append("")
        lines += _inventory(stack.runs[Phase.STANDBY])
        lines.append("")
    names = dr_commands.Names.of(
        stacks,
        {Role.SOURCE: source.cfg, Role.TARGET: cfg},
        target.runs[Phase.STANDBY],
        {Role.SOURCE: set(source.settings.secret_keys), Role.TARGET: set(target.settings.secret_keys)},
    )
    failover_steps = phases.procedure(Operation.FAILOVER, design)
    remaining = [
        f"- `{stacks[s.role]}`: " + "; ".join(_change_text(c) for c in changes)
        for s, changes in _remaining(failover_steps, runs)
        if s.role is not None
    ]
    lines += ["## What remains to do at failover", ""]
    lines += remaining or ["- nothing in Azure: the Site Recovery failover and the on-premises switch move traffic"]
    lines += [""]
    failover_minutes, documented = 0, True
    sections = (
        ("Failover (source region reachable)", Operation.FAILOVER, True, Phase.STANDBY, Phase.STANDBY),
        ("Failover when the source region is down", Operation.FAILOVER, False, Phase.STANDBY, Phase.STANDBY),
        ("Failback", Operation.FAILBACK, True, Phase.FAILOVER, Phase.FAILOVER),
        # The source stack stayed in standby while its region was down.
        ("Failback after the source region was down", Operation.FAILBACK, False, Phase.STANDBY, Phase.FAILOVER),
    )
    for title, operation, reachable, source_phase, target_phase in sections:
        steps = phases.procedure(operation, design, source_reachable=reachable)
        command = dr_commands.failover_command(operation, reachable, stacks)
        walk = _Walk({Role.SOURCE: source_phase, Role.TARGET: target_phase})
        section, minutes, doc = _steps_section(title, steps, runs, walk, names, command)
        if operation is Operation.FAILOVER and reachable:
            failover_minutes, documented = minutes, doc
        lines += section
    drill_spaces = target.runs[Phase.STANDBY].outputs.get("drillAddressSpaces") or {}
    drill_lines = [f"- `{k}`: {', '.join(v)}" for k, v in sorted(drill_spaces.items())]
    section_drill, _, _ = _steps_section(
        "Drill (test failover)",
        phases.drill(),
        runs,
        _Walk({Role.SOURCE: Phase.STANDBY, Role.TARGET: Phase.STANDBY}),
        names,
        dr_commands.failover_command(Operation.DRILL, True, stacks),
    )
    lines += section_drill[:-1]
    if drill_lines:
        lines += ["", "Drill VNets (isolated, one per source VNet):", "", *drill_lines]
    lines.append("")
    lines += _rto_section(target, failover_minutes, documented)
    return "\n".join(lines).rstrip() + "\n"


def estate_section(source: StackRuns, target: StackRuns) -> list[str]:
    """The target's next hop, and who changes production when this program does not (external
    mode). Empty for a stack that declares neither (the runbook stays as it was)."""
    cfg = target.cfg
    nva = cfg.layout.hub.nva
    plan = phases.nva_statement(cfg)
    lines: list[str] = []
    address = plan["address"].get("target", "")
    if nva.firewall:
        when = (
            "pre-provisioned in standby"
            if nva.provisioning is FirewallProvisioning.PRE_PROVISIONED
            else "created by the failover update (`dr` -> `failover`) and removed at failback; its creation "
            "time counts in the RTO below"
        )
        lines += [
            "## The target's next hop",
            "",
            f"- Azure Firewall `{_firewall_name(cfg)}` in the target hub's "
            f"`{cfg.layout.hub.nva_subnet.name}`, {when}. Site Recovery cannot replicate Azure Firewall; the target "
            "gets its own policy"
            + (
                f", which inherits from `{nva.target_base_policy_id}` in the target region"
                if nva.target_base_policy_id
                else ", with **no rules** until you give it a base policy in the target region"
            )
            + (
                f". A parent policy must be in its child's region, so production's `{nva.base_policy_id}` "
                "cannot be the base: keep a copy of its rule collection groups in the target region and set "
                "`layout.hub.nva.targetBasePolicyId` to it (Azure Firewall Manager, policy overview: "
                "https://learn.microsoft.com/azure/firewall-manager/policy-overview)."
                if nva.base_policy_id
                else "."
            ),
            f"- Every UDR of the target points at `{address}`: check the firewall's private IP "
            "(dr output `firewallPrivateIp`) is that address after it is created.",
            "",
        ]
    elif nva.replicated_item:
        lines += [
            "## The target's next hop",
            "",
            f"- The NVA VM is protected by Site Recovery (replicated item `{nva.replicated_item}`). It boots alone in "
            "the recovery plan's first group, before every workload.",
            f"- It must come up with `{address}` in `{cfg.layout.hub.nva_subnet.name}`"
            + (
                " (the same address as in the source)"
                if cfg.addressing is Addressing.SAME
                else " (the translated address)"
            )
            + ": set it as the replicated item's target IP (Compute and Network > network interface > target IP) "
            "before a failover; every UDR of the target points there.",
            "",
        ]
    if cfg.source.mode is SourceMode.EXTERNAL:
        lines += [
            "## Production is managed elsewhere (source.mode external)",
            "",
            f"- `{source.name}` registers nothing: the steps on `{source.name}` below are done in the tool that "
            "manages production (set the source connection's routing weight, or remove and restore it, as each "
            "step says); the dr stack checks the declared production network against Azure at every preview.",
            "",
        ]
    return lines


def _remaining(steps: Sequence[Step], runs: dict[Role, StackRuns]) -> list[tuple[Step, list[Change]]]:
    walk = _Walk({Role.SOURCE: Phase.STANDBY, Role.TARGET: Phase.STANDBY})
    out: list[tuple[Step, list[Change]]] = []
    for step in steps:
        changes = _step_changes(step, runs, walk)
        if changes:
            out.append((step, changes))
    return out
