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
from model.config import Phase, Role, StackConfig
from model.phases import Action, Kind, Operation, Step, connection_plan
from model.spec import gateway_azure_name, network_for, vnet_azure_name

FAILOVER_COMMAND = ".venv/bin/python -m erdr.failover"


@dataclass(frozen=True)
class Names:
    """Everything the commands name, from both stacks' config and the target's standby run."""

    stacks: dict[Role, str]
    configs: dict[Role, StackConfig]
    vault: str = ""
    recovery_plan: str = ""
    drill_hub_id: str = ""
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
        target = configs[Role.TARGET]
        drill = {str(k): str(v) for k, v in (outputs.get("drillVnetIds") or {}).items()}
        return cls(
            stacks=dict(stacks),
            configs=dict(configs),
            vault=str(outputs.get("recoveryVaultName") or ""),
            recovery_plan=str(
                outputs.get("recoveryPlanName")
                or (target.recovery_plan.name if target.recovery_plan and target.recovery_plan.name else "")
            ),
            drill_hub_id=drill.get(target.layout.hub.name, ""),
            drill_vnet_ids=drill,
            keys={
                role: frozenset(c for c in ("primary", "secondary") if f"{c}AuthorizationKey" in keys)
                for role, keys in (secret_keys or {r: set() for r in Role}).items()
            },
        )

    def cfg(self, role: Role) -> StackConfig:
        return self.configs[role]

    def group(self, role: Role) -> str:
        return self.cfg(role).resource_group_name(role)

    def gateway(self, role: Role) -> str:
        cfg = self.cfg(role)
        return gateway_azure_name(vnet_azure_name(cfg.layout.hub.name, cfg.regions.of(role)))


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


def _vault_context(names: Names) -> list[str]:
    rg = names.group(Role.TARGET)
    vault = names.vault or "<your Recovery Services vault>"
    plan = names.recovery_plan or "<your recovery plan>"
    return [
        f"$vault = Get-AzRecoveryServicesVault -ResourceGroupName {rg} -Name {vault}",
        "Set-AzRecoveryServicesAsrVaultContext -Vault $vault",
        f"$plan = Get-AzRecoveryServicesAsrRecoveryPlan -Name {plan}",
    ]


def _job_check() -> tuple[tuple[str, ...], str]:
    return (
        ("(Get-AzRecoveryServicesAsrJob -Job $job).State",),
        "`Succeeded` (while it runs: `InProgress`; run the check again)",
    )


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
        f"az network vpn-connection show -g {names.group(role)} -n {c.name} "
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
    old = {c.name: c for c in connection_plan(cfg, role, before)}
    new = {c.name: c for c in connection_plan(cfg, role, step.phase)}
    rg = names.group(role)
    out = [f"az network vpn-connection delete -g {rg} -n {name}" for name in sorted(set(old) - set(new))]
    for name, c in sorted(new.items()):
        if name not in old:
            key = (
                f" --authorization-key <{c.circuit}AuthorizationKey>"
                if c.circuit in names.keys.get(role, frozenset())
                else ""
            )
            out.append(
                f"az network vpn-connection create -g {rg} -n {name} --location {cfg.regions.of(role)} "
                f"--vnet-gateway1 {names.gateway(role)} --express-route-circuit2 {c.circuit_id} "
                f"--routing-weight {c.routing_weight}{key}"
            )
        elif old[name].routing_weight != c.routing_weight:
            out.append(f"az network vpn-connection update -g {rg} -n {name} --routing-weight {c.routing_weight}")
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


def manual_detail(names: Names, step: Step) -> Detail:
    kind = Kind(step.kind)
    target, source = names.cfg(Role.TARGET), names.cfg(Role.SOURCE)
    if kind is Kind.SITE_RECOVERY_FAILOVER:
        check, expect = _job_check()
        return Detail(
            manual=(
                *_vault_context(names),
                "$job = Start-AzRecoveryServicesAsrUnplannedFailoverJob -RecoveryPlan $plan -Direction PrimaryToRecovery",
                "# once the VMs run and the application answers:",
                "Start-AzRecoveryServicesAsrCommitFailoverJob -RecoveryPlan $plan",
            ),
            shell="powershell",
            check=check,
            expect=expect,
            check_shell="powershell",
        )
    if kind is Kind.SITE_RECOVERY_FAILBACK:
        check, expect = _job_check()
        return Detail(
            manual=(
                *_vault_context(names),
                "Update-AzRecoveryServicesAsrProtectionDirection -RecoveryPlan $plan -Direction RecoveryToPrimary",
                "# wait until every replicated item is 'Protected', then:",
                "$job = Start-AzRecoveryServicesAsrPlannedFailoverJob -RecoveryPlan $plan -Direction RecoveryToPrimary",
                "Start-AzRecoveryServicesAsrCommitFailoverJob -RecoveryPlan $plan",
                "# then protect the source region again (source to target):",
                "Update-AzRecoveryServicesAsrProtectionDirection -RecoveryPlan $plan -Direction PrimaryToRecovery",
            ),
            shell="powershell",
            check=check,
            expect=expect,
            check_shell="powershell",
        )
    role = step.serving or Role.TARGET
    to_target = role is Role.TARGET
    if kind is Kind.ROUTING_SWITCH:
        circuit = "secondary" if to_target else "primary"
        prefixes = ", ".join(p for v in _vnet_prefixes(names, role) for p in v)
        return Detail(
            manual=(
                f"# on-premises to Azure: on the edge routers, set a higher BGP local preference on the Azure "
                f"routes learned over the {circuit} circuit than over the other one",
                "# Azure to on-premises (return direction): prepend AS-path on the on-premises prefixes "
                "advertised over the other circuit",
            ),
            check=(
                f"az network vnet-gateway list-learned-routes -g {names.group(role)} -n {names.gateway(role)} -o table",
                "# on the edge routers: show bgp ipv4 unicast <one of the Azure prefixes>",
            ),
            expect=f"the gateway lists the on-premises prefixes; the routers' best path to {prefixes} "
            f"is over the {circuit} circuit",
        )
    if kind is Kind.DNS_SWITCH:
        prefixes = ", ".join(p for v in _vnet_prefixes(names, role) for p in v)
        return Detail(
            manual=(
                f"# point DNS records at the VMs' {'target' if to_target else 'source'} addresses ({prefixes}); "
                "update on-premises static routes and firewall rules for those prefixes",
            ),
            check=("nslookup <an application name>", "traceroute <that address>"),
            expect=f"an address in {prefixes}, reached over the circuit",
        )
    if kind is Kind.ROUTES_CHECK:
        prefixes = ", ".join(p for v in _vnet_prefixes(names, role) for p in v)
        circuit = (target if to_target else source).circuits.primary
        rg, name = _circuit_group_and_name(circuit.id)
        return Detail(
            check=(
                f"az network express-route list-route-tables -g {rg} -n {name} "
                "--peering-name AzurePrivatePeering --path primary -o table",
                f"az network vnet-gateway list-learned-routes -g {names.group(role)} -n {names.gateway(role)} -o table",
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
        network = names.drill_hub_id or "<the drill VNet ID from `pulumi stack output drillVnetIds --stack dr`>"
        check, expect = _job_check()
        return Detail(
            manual=(
                *_vault_context(names),
                "$job = Start-AzRecoveryServicesAsrTestFailoverJob -RecoveryPlan $plan -Direction PrimaryToRecovery "
                f"-AzureVMNetworkId {network}",
            ),
            shell="powershell",
            check=check,
            expect=expect,
            check_shell="powershell",
        )
    if kind is Kind.DRILL_VALIDATE:
        rg = names.group(Role.TARGET)
        drill = sorted(i.rsplit("/", 1)[-1] for i in names.drill_vnet_ids.values())
        return Detail(
            check=tuple(f"az network vnet peering list -g {rg} --vnet-name {v} -o tsv" for v in drill)
            or (f"pulumi stack output drillVnetIds --stack {names.stacks[Role.TARGET]}",),
            expect="nothing: the drill VNets have no peering (and no gateway)",
        )
    # Kind.DRILL_CLEANUP
    check, expect = _job_check()
    return Detail(
        manual=(
            *_vault_context(names),
            '$job = Start-AzRecoveryServicesAsrTestFailoverCleanupJob -RecoveryPlan $plan -Comment "drill done"',
        ),
        shell="powershell",
        check=check,
        expect=expect,
        check_shell="powershell",
    )


def _vnet_prefixes(names: Names, role: Role) -> list[list[str]]:
    return [list(v.address_space) for v in network_for(names.cfg(Role.TARGET), role).vnets]


def _circuit_group_and_name(circuit_id: str) -> tuple[str, str]:
    parts = circuit_id.split("/")
    return parts[4], parts[-1]


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
