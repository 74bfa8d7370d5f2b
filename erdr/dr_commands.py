"""The commands behind each runbook step: how to do it by hand, how to check it, what it prints.

The DR runbook (:mod:`erdr.dr_runbook`) gives, for every step of :mod:`model.phases`'
procedures, the failover command first (``python -m erdr.failover`` runs the whole procedure),
then the manual equivalent (Pulumi, the Azure CLI, Az PowerShell for Site Recovery) and a check
command with the output it should show. Names and IDs come from the stacks' own simulated runs and
config, so the commands are the user's, not an example's.

Command references (Microsoft Learn):
- Site Recovery: ``Start-AzRecoveryServicesAsrUnplannedFailoverJob``,
  ``Start-AzRecoveryServicesAsrCommitFailoverJob``, ``Update-AzRecoveryServicesAsrProtectionDirection``,
  ``Start-AzRecoveryServicesAsrPlannedFailoverJob``, ``Start-AzRecoveryServicesAsrTestFailoverJob``
  (``-AzureVMNetworkId``), ``Start-AzRecoveryServicesAsrTestFailoverCleanupJob``
  (https://learn.microsoft.com/powershell/module/az.recoveryservices/);
- connections: ``az network vpn-connection create --vnet-gateway1 ... --express-route-circuit2 ...``,
  ``update --routing-weight``, ``show``, ``delete`` ("Connect a virtual network to an ExpressRoute
  circuit using Azure CLI", https://learn.microsoft.com/azure/expressroute/expressroute-howto-linkvnet-cli);
- routes: ``az network vnet-gateway list-learned-routes``
  (https://learn.microsoft.com/cli/azure/network/vnet-gateway).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from erdr.simulate import SimResult
from model import identity
from model.config import Phase, Role, StackConfig
from model.identity import ResourceId
from model.phases import Action, Kind, Operation, Step, connection_plan
from model.spec import network_for

FAILOVER_COMMAND = ".venv/bin/python -m erdr.failover"
# An ASR job is done when its State is none of these (Get-AzRecoveryServicesAsrJob).
ASR_RUNNING_STATES = ("NotStarted", "InProgress")
ASR_POLL_SECONDS = 30


@dataclass(frozen=True)
class Names:
    """Everything the commands name: both stacks' config, the resolved estate (each side from its
    own stack's config, Site Recovery and the drill network from the target's), the target's
    standby outputs."""

    stacks: dict[Role, str]
    configs: dict[Role, StackConfig]
    sides: dict[Role, identity.Side]
    estate: identity.Estate
    drill_vnet_ids: dict[str, str] = field(default_factory=dict[str, str])
    # role -> circuits it reaches with an authorization key (the key itself stays a secret)
    keys: dict[Role, frozenset[str]] = field(default_factory=dict[Role, frozenset[str]])

    @classmethod
    def of(
        cls,
        stacks: dict[Role, str],
        configs: dict[Role, StackConfig],
        target_standby: SimResult,
        secret_keys: dict[Role, set[str]] | None = None,
    ) -> Names:
        outputs = target_standby.outputs
        drill = {str(k): str(v) for k, v in (outputs.get("drillVnetIds") or {}).items()}
        return cls(
            stacks=dict(stacks),
            configs=dict(configs),
            sides={role: identity.side(configs[role], role) for role in Role},
            estate=identity.resolve(configs[Role.TARGET]),
            drill_vnet_ids=drill,
            keys={
                role: frozenset(c for c in ("primary", "secondary") if f"{c}AuthorizationKey" in keys)
                for role, keys in (secret_keys or {r: set() for r in Role}).items()
            },
        )

    def cfg(self, role: Role) -> StackConfig:
        return self.configs[role]

    def gateway(self, role: Role) -> ResourceId:
        return self.sides[role].gateway

    def connection(self, role: Role, circuit: str) -> ResourceId:
        return self.sides[role].connection(circuit)


def az_target(rid: ResourceId) -> str:
    """``-g <group> -n <name> --subscription <subscription>``: where an az command finds ``rid``."""
    return f"-g {rid.resource_group} -n {rid.name} --subscription {rid.subscription}"


@dataclass(frozen=True)
class Detail:
    """How to do one step by hand, and how to check it."""

    manual: tuple[str, ...] = ()  # commands, in `shell`
    shell: str = "sh"  # "sh" or "powershell"
    check: tuple[str, ...] = ()  # commands that show the step's result, in `check_shell`
    expect: str = ""  # what the check prints when the step worked
    check_shell: str = "sh"


def failover_command(operation: Operation, source_reachable: bool, stacks: dict[Role, str]) -> str:
    flags = "" if source_reachable or operation is Operation.DRILL else " --source-unreachable"
    names = ""
    if stacks != {Role.SOURCE: "prod", Role.TARGET: "dr"}:
        names = f" --stacks prod={stacks[Role.SOURCE]},dr={stacks[Role.TARGET]}"
    return f"{FAILOVER_COMMAND} {operation.value}{flags}{names}"


# --- Site Recovery (Az PowerShell) ------------------------------------------------------------------

# Waits for Site Recovery jobs, prints how each ended, and stops the step (throw) on anything but
# Succeeded: Suspended waits for an operator (Resume-AzRecoveryServicesAsrJob), Failed, Cancelled
# and Other are failures (the job states of Az.RecoveryServices' ASRJob).
WAIT_FUNCTION = (
    "function Wait-ErdrAsrJob([object[]]$Jobs) {",
    "  foreach ($j in $Jobs) {",
    f"    while ($j.State -in {', '.join(repr(s) for s in ASR_RUNNING_STATES)}) "
    f"{{ Start-Sleep -Seconds {ASR_POLL_SECONDS}; $j = Get-AzRecoveryServicesAsrJob -Job $j }}",
    '    "$($j.DisplayName): $($j.State) $($j.StateDescription)"',
    "    if ($j.State -eq 'Suspended') { throw \"job $($j.Name) waits for an operator: do what it asks, run "
    "Resume-AzRecoveryServicesAsrJob -Job (Get-AzRecoveryServicesAsrJob -Name $($j.Name)), then this step's "
    'Wait-ErdrAsrJob again" }',
    "    if ($j.State -ne 'Succeeded') { throw \"job $($j.Name) ended $($j.State): stop here; its errors: "
    '(Get-AzRecoveryServicesAsrJob -Name $($j.Name)).Errors" }',
    "  }",
    "}",
)


def _vault_context(names: Names) -> list[str]:
    """Sign in to the vault's subscription, select the vault, define the job wait."""
    sr = names.estate.site_recovery
    assert sr is not None, "Site Recovery steps exist only with siteRecovery.enabled"
    lines = [
        f"Set-AzContext -Subscription {sr.vault.subscription}",
        f"$vault = Get-AzRecoveryServicesVault -ResourceGroupName {sr.vault.resource_group} -Name {sr.vault.name}",
        "Set-AzRecoveryServicesAsrVaultContext -Vault $vault",
        *WAIT_FUNCTION,
    ]
    return lines


def _container_items(names: Names, role: Role) -> list[str]:
    """``$items``: every replicated item the ``role`` side's protection container holds."""
    sr = names.estate.site_recovery
    assert sr is not None
    fabric, container = sr.fabrics[role.value], sr.containers[role.value]
    return [
        f"$fabric = Get-AzRecoveryServicesAsrFabric -Name {fabric.name}",
        f"$container = Get-AzRecoveryServicesAsrProtectionContainer -Fabric $fabric -Name {container.name}",
        "$items = Get-AzRecoveryServicesAsrReplicationProtectedItem -ProtectionContainer $container",
    ]


def _plan_or_items(names: Names, role: Role) -> tuple[list[str], str, bool]:
    """(commands that select what fails over, the PowerShell expression for it, is it a plan):
    the recovery plan when the stack registers one, else every item the ``role`` side's
    protection container holds."""
    plan = names.estate.recovery_plan
    if plan is not None:
        return [f"$plan = Get-AzRecoveryServicesAsrRecoveryPlan -Name {plan.plan.name}"], "$plan", True
    return _container_items(names, role), "$items", False


def _job_check() -> tuple[tuple[str, ...], str]:
    return (
        ("$job | ForEach-Object { Get-AzRecoveryServicesAsrJob -Job $_ } | Select-Object DisplayName, State",),
        "every job `Succeeded` (the step above waits for them and stops on any other end state)",
    )


# --- connections (Azure CLI) -------------------------------------------------------------------------


def _connections_check(names: Names, role: Role, phase: Phase) -> tuple[tuple[str, ...], str]:
    stack = names.stacks[role]
    plan = connection_plan(names.cfg(role), role, phase)
    circuits = json.dumps([c.circuit_id for c in plan])
    weights = json.dumps({c.name: c.routing_weight for c in plan}, sort_keys=True)
    checks = [
        f"pulumi stack output circuitConnections --stack {stack} --json",
        f"pulumi stack output connectionRoutingWeights --stack {stack} --json",
    ]
    checks += [
        f"az network vpn-connection show {az_target(names.connection(role, c.circuit))} "
        '--query "[provisioningState, routingWeight]" -o tsv'
        for c in plan
    ]
    expect = f"`{circuits}`, then `{weights}`"
    if plan:
        expect += ", then for each connection `Succeeded` and its weight"
    return tuple(checks), expect


def _connection_changes(names: Names, step: Step, before: Phase) -> list[str]:
    """az equivalents of what the step's `pulumi up` does to the connections."""
    assert step.role is not None and step.phase is not None
    role, cfg = step.role, names.cfg(step.role)
    old = {c.circuit: c for c in connection_plan(cfg, role, before)}
    new = {c.circuit: c for c in connection_plan(cfg, role, step.phase)}
    out = [
        f"az network vpn-connection delete {az_target(names.connection(role, circuit))}"
        for circuit in sorted(set(old) - set(new))
    ]
    for circuit, c in sorted(new.items()):
        conn = names.connection(role, circuit)
        if circuit not in old:
            key = (
                f" --authorization-key <{c.circuit}AuthorizationKey>"
                if c.circuit in names.keys.get(role, frozenset())
                else ""
            )
            out.append(
                f"az network vpn-connection create {az_target(conn)} --location {cfg.regions.of(role)} "
                f"--vnet-gateway1 {names.gateway(role).id} --express-route-circuit2 {c.circuit_id} "
                f"--routing-weight {c.routing_weight}{key}"
            )
        elif old[circuit].routing_weight != c.routing_weight:
            out.append(f"az network vpn-connection update {az_target(conn)} --routing-weight {c.routing_weight}")
    return out


def up_detail(names: Names, step: Step, before: Phase) -> Detail:
    assert step.role is not None and step.phase is not None
    stack = names.stacks[step.role]
    manual = tuple(step.commands(names.stacks))
    if not step.azure:
        return Detail(
            manual=manual,
            check=(f"pulumi preview --stack {stack} --diff", f"pulumi stack output phase --stack {stack}"),
            expect=f"the preview lists no resource change, then `{step.phase.value}`",
        )
    changes = _connection_changes(names, step, before)
    checks, expect = _connections_check(names, step.role, step.phase)
    note = (
        f"# without Pulumi (only if the state backend is out of reach), then `pulumi refresh --stack {stack}`:",
        *changes,
    )
    return Detail(manual=(*manual, *note), check=checks, expect=expect)


def _site_recovery_detail(names: Names, commands: list[str]) -> Detail:
    check, expect = _job_check()
    return Detail(
        manual=(*_vault_context(names), *commands),
        shell="powershell",
        check=check,
        expect=expect,
        check_shell="powershell",
    )


SOURCE_GROUPS_FILE = "erdr-source-groups.json"


def _failover_commands(names: Names) -> list[str]:
    select, what, plan = _plan_or_items(names, Role.SOURCE)
    # Failback re-protects each VM back into its original resource group: the group of the source VM
    # (the A2A item's FabricObjectId), recorded before the failover changes what the item points at.
    record = [
        *_container_items(names, Role.SOURCE),
        "$groups = @{}; foreach ($item in $items) { $groups[$item.FriendlyName] = "
        "(($item.ProviderSpecificDetails.FabricObjectId -split '/')[0..4] -join '/') }; "
        f"$groups | ConvertTo-Json | Set-Content {SOURCE_GROUPS_FILE}",
    ]
    if plan:
        start = (
            f"$job = Start-AzRecoveryServicesAsrUnplannedFailoverJob -RecoveryPlan {what} -Direction PrimaryToRecovery"
        )
        commit = f"$job = Start-AzRecoveryServicesAsrCommitFailoverJob -RecoveryPlan {what}"
    else:
        start = (
            f"$job = foreach ($item in {what}) {{ Start-AzRecoveryServicesAsrUnplannedFailoverJob "
            "-ReplicationProtectedItem $item -Direction PrimaryToRecovery }"
        )
        commit = (
            f"$job = foreach ($item in {what}) {{ Start-AzRecoveryServicesAsrCommitFailoverJob "
            "-ReplicationProtectedItem $item }"
        )
    return [
        f"# keep {SOURCE_GROUPS_FILE} for the failback (each VM's original resource group)",
        *record,
        *(s for s in select if s not in record),
        start,
        "Wait-ErdrAsrJob $job",
        "# once the VMs run in the target region and the application answers:",
        commit,
        "Wait-ErdrAsrJob $job",
    ]


def _drill_map(names: Names) -> str:
    """The PowerShell hashtable from each target VNet's ID (lower-case: Azure compares IDs without
    regard to case) to the drill VNet of the same source VNet."""
    target = names.sides[Role.TARGET]
    pairs = [
        f"'{v.vnet.id.lower()}' = '{names.estate.drill[v.key].vnet.id}'"
        for v in target.vnets
        if v.key in names.estate.drill
    ]
    return "$drill = @{ " + "; ".join(pairs) + " }"


def _drill_commands(names: Names) -> list[str]:
    """Each replicated item into the drill VNet of its own source VNet: the item's recovery VNet (the
    target copy of its source VNet, set by the network mapping) picks it. An item whose recovery VNet
    has no drill copy stops the drill before any test failover starts."""
    return [
        *_container_items(names, Role.SOURCE),
        _drill_map(names),
        "$pairs = foreach ($item in $items) { $network = $drill[[string]$item.ProviderSpecificDetails."
        'SelectedRecoveryAzureNetworkId.ToLower()]; if (-not $network) { throw "no drill VNet for '
        "$($item.FriendlyName): its recovery VNet $($item.ProviderSpecificDetails.SelectedRecoveryAzureNetworkId) "
        'is not a VNet of the dr stack; nothing was started" }; ,@($item, $network) }',
        "$job = foreach ($pair in $pairs) { Start-AzRecoveryServicesAsrTestFailoverJob "
        "-ReplicationProtectedItem $pair[0] -Direction PrimaryToRecovery -AzureVMNetworkId $pair[1] }",
        "Wait-ErdrAsrJob $job",
    ]


UNMANAGED_SITE_RECOVERY = (
    "# siteRecovery.enabled is false: this program registers no vault, so these steps run in the vault "
    "that protects the VMs (Azure portal: Recovery Services vault > Replicated items, or that vault's own runbook)"
)
_SITE_RECOVERY_KINDS = {Kind.SITE_RECOVERY_FAILOVER, Kind.SITE_RECOVERY_FAILBACK, Kind.DRILL_START, Kind.DRILL_CLEANUP}


def manual_detail(names: Names, step: Step) -> Detail:
    kind = Kind(step.kind)
    if kind in _SITE_RECOVERY_KINDS and names.estate.site_recovery is None:
        return Detail(
            manual=(UNMANAGED_SITE_RECOVERY,),
            check=("# in that vault: Monitoring > Site Recovery jobs",),
            expect="the step's jobs `Succeeded`",
        )
    if kind is Kind.SITE_RECOVERY_FAILOVER:
        return _site_recovery_detail(names, _failover_commands(names))
    if kind is Kind.SITE_RECOVERY_FAILBACK:
        return _site_recovery_detail(names, _failback_commands(names))
    role = step.serving or Role.TARGET
    to_target = role is Role.TARGET
    prefixes = ", ".join(p for v in _vnet_prefixes(names, role) for p in v)
    if kind is Kind.ROUTING_SWITCH:
        circuit = "secondary" if to_target else "primary"
        return Detail(
            manual=(
                f"# on-premises to Azure: on the edge routers, set a higher BGP local preference on the Azure "
                f"routes learned over the {circuit} circuit than over the other one",
                "# Azure to on-premises (return direction): prepend AS-path on the on-premises prefixes "
                "advertised over the other circuit",
            ),
            check=(
                f"az network vnet-gateway list-learned-routes {az_target(names.gateway(role))} -o table",
                "# on the edge routers: show bgp ipv4 unicast <one of the Azure prefixes>",
            ),
            expect=f"the gateway lists the on-premises prefixes; the routers' best path to {prefixes} "
            f"is over the {circuit} circuit",
        )
    if kind is Kind.DNS_SWITCH:
        return Detail(
            manual=(
                f"# point DNS records at the VMs' {'target' if to_target else 'source'} addresses ({prefixes}); "
                "update on-premises static routes and firewall rules for those prefixes",
            ),
            check=("nslookup <an application name>", "traceroute <that address>"),
            expect=f"an address in {prefixes}, reached over the circuit",
        )
    if kind is Kind.ROUTES_CHECK:
        circuit = names.estate.circuits["primary"]
        return Detail(
            check=(
                f"az network express-route list-route-tables {az_target(circuit)} "
                "--peering-name AzurePrivatePeering --path primary -o table",
                f"az network vnet-gateway list-learned-routes {az_target(names.gateway(role))} -o table",
            ),
            expect=f"the circuit's route table lists {prefixes} (now from the "
            f"{'target' if to_target else 'source'} region); the gateway lists the on-premises prefixes",
        )
    if kind is Kind.SOURCE_RETURNS:
        stack = names.stacks[Role.SOURCE]
        return Detail(
            manual=(f"{failover_command(Operation.FAILBACK, False, names.stacks)}   # its first steps do it",),
            check=(f"pulumi stack output phase --stack {stack}",),
            expect="`failover`",
        )
    if kind is Kind.DRILL_START:
        return _site_recovery_detail(names, _drill_commands(names))
    if kind is Kind.DRILL_VALIDATE:
        drill = sorted(names.estate.drill.values(), key=lambda v: v.vnet.name)
        return Detail(
            check=tuple(
                f"az network vnet peering list -g {v.vnet.resource_group} --vnet-name {v.vnet.name} "
                f"--subscription {v.vnet.subscription} -o tsv"
                for v in drill
            )
            or (f"pulumi stack output drillVnetIds --stack {names.stacks[Role.TARGET]}",),
            expect="nothing: the drill VNets have no peering (and no gateway)",
        )
    # Kind.DRILL_CLEANUP: the items the drill started are those of the source container.
    return _site_recovery_detail(
        names,
        [
            *_container_items(names, Role.SOURCE),
            "$job = foreach ($item in $items) { Start-AzRecoveryServicesAsrTestFailoverCleanupJob "
            '-ReplicationProtectedItem $item -Comment "drill done" }',
            "Wait-ErdrAsrJob $job",
        ],
    )


def _container(names: Names, role: Role, var: str) -> list[str]:
    """``$<var>``: the ``role`` side's protection container."""
    sr = names.estate.site_recovery
    assert sr is not None
    fabric, container = sr.fabrics[role.value], sr.containers[role.value]
    return [
        f"${var} = Get-AzRecoveryServicesAsrProtectionContainer -Fabric "
        f"(Get-AzRecoveryServicesAsrFabric -Name {fabric.name}) -Name {container.name}",
    ]


def _reprotect(names: Names, active: Role, groups: bool) -> list[str]:
    """Re-protect (A2A switch protection) every item now running in ``active``'s region towards the
    other region, then wait until each is Protected there.

    The items are still listed under the container they were protected from (the other side's);
    the mapping is the one that leaves ``active``'s container, the cache storage account is in
    ``active``'s region, one call per item ("Set up disaster recovery for Azure VMs using Azure
    PowerShell", reprotect: https://learn.microsoft.com/azure/site-recovery/azure-to-azure-powershell;
    the ``-RecoveryPlan`` form of the cmdlet refuses A2A plans). Afterwards the items are listed
    under ``active``'s container."""
    sr = names.estate.site_recovery
    assert sr is not None
    other = Role.TARGET if active is Role.SOURCE else Role.SOURCE
    mapping = sr.container_mappings[f"{active.value}-to-{other.value}"]
    group = " -RecoveryResourceGroupId $groups.($item.FriendlyName)" if groups else ""
    return [
        *_container(names, other, "was"),
        *_container(names, active, "now"),
        f"$mapping = Get-AzRecoveryServicesAsrProtectionContainerMapping -ProtectionContainer $now -Name {mapping.name}",
        "$items = Get-AzRecoveryServicesAsrReplicationProtectedItem -ProtectionContainer $was",
        "$job = foreach ($item in $items) { Update-AzRecoveryServicesAsrProtectionDirection -AzureToAzure "
        f"-ReplicationProtectedItem $item -ProtectionContainerMapping $mapping "
        f"-LogStorageAccountId {sr.cache_storage[active.value].id}{group} }}",
        "Wait-ErdrAsrJob $job",
        f"# the disks resynchronise to the {other.value} region: wait until every item is Protected",
        "do { Start-Sleep -Seconds 300; $items = Get-AzRecoveryServicesAsrReplicationProtectedItem "
        "-ProtectionContainer $now; $items | Format-Table FriendlyName, ProtectionState, ReplicationHealth } "
        "while (-not $items -or ($items | Where-Object { $_.ProtectionState -ne 'Protected' }))",
    ]


def _failback_commands(names: Names) -> list[str]:
    """A2A failback: re-protect target to source (back into each VM's original resource group,
    recorded at failover), fail over back with the source side's shutdown, commit, then protect
    source to target again ("Reprotect Azure VMs to the primary region",
    https://learn.microsoft.com/azure/site-recovery/azure-to-azure-how-to-reprotect)."""
    plan = names.estate.recovery_plan
    if plan is not None:
        select = [f"$plan = Get-AzRecoveryServicesAsrRecoveryPlan -Name {plan.plan.name}"]
        back = (
            "$job = Start-AzRecoveryServicesAsrUnplannedFailoverJob -RecoveryPlan $plan -Direction RecoveryToPrimary "
            "-PerformSourceSideAction"
        )
        commit = "$job = Start-AzRecoveryServicesAsrCommitFailoverJob -RecoveryPlan $plan"
    else:
        select = []  # $items: the re-protected items, listed under the target container
        back = (
            "$job = foreach ($item in $items) { Start-AzRecoveryServicesAsrUnplannedFailoverJob "
            "-ReplicationProtectedItem $item -Direction RecoveryToPrimary -PerformSourceSideAction }"
        )
        commit = (
            "$job = foreach ($item in $items) { Start-AzRecoveryServicesAsrCommitFailoverJob "
            "-ReplicationProtectedItem $item }"
        )
    return [
        f"$groups = Get-Content {SOURCE_GROUPS_FILE} | ConvertFrom-Json   # written by the failover step",
        "# 1. re-protect: the VMs run in the target region; replicate them back to the source region",
        *_reprotect(names, Role.TARGET, groups=True),
        "# 2. fail back (the source side's action shuts down the target VMs first), then commit",
        *select,
        back,
        "Wait-ErdrAsrJob $job",
        commit,
        "Wait-ErdrAsrJob $job",
        "# 3. protect the source region again (source to target)",
        *_reprotect(names, Role.SOURCE, groups=False),
    ]


def _vnet_prefixes(names: Names, role: Role) -> list[list[str]]:
    return [list(v.address_space) for v in network_for(names.cfg(Role.TARGET), role).vnets]


def detail(names: Names, step: Step, before: Phase | None) -> Detail:
    if step.action is Action.UP:
        assert before is not None
        return up_detail(names, step, before)
    if step.action is Action.REFRESH:
        stack = names.stacks[Role.SOURCE] if step.role is None else names.stacks[step.role]
        return Detail(
            manual=tuple(step.commands(names.stacks)),
            check=(f"pulumi stack output circuitConnections --stack {stack} --json",),
            expect="the circuits Azure really holds there now (a connection that survived the outage shows up)",
        )
    return manual_detail(names, step)
