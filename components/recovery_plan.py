"""The network switch as a step of the Site Recovery failover itself (target stack only).

A recovery plan whose first boot group starts with an Automation runbook action, so a failover
started from the portal or the Site Recovery API still gets the network right before any VM boots.
Site Recovery documents its context hand-over for PowerShell runbooks only (the object parameter
RecoveryPlanContext), so the action is automation/network_switch.ps1 on PowerShell 7.4; it starts
automation/network_switch.py (Python 3.10, the network logic, tested against fake ARM endpoints)
as a child job with the context as the one positional, space-free argument Python runbooks take
(base64 of its JSON), waits, and fails the action unless the child reports success. The Python
runbook reads what to do from ``erdr-*`` Automation variables set here from the same
:func:`model.phases.connection_plan` the stacks use, so its end state is the stacks' end state
(docs/recovery-plan.md, which also weighs the runtimes: neither Python 3.10 nor PowerShell 7.4 has
community support left, and Microsoft documents no newer Python runtime for Automation).

Runbook content: pulumi-azure-native v3's ``automation.Runbook`` only takes content from a URL
(``publishContentLink``; there is no inline content, pulumi/pulumi-azure-native#3029). The
program uploads each file from the repository to a private blob and hands Automation a read-only,
HTTPS-only service SAS for that one blob. The blob name carries the content's SHA-256, so a new
version is a new blob (and a republish); the SAS expiry is fixed so the URL, and therefore the
runbook's inputs, stay identical between runs and `pulumi preview` shows no changes.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi_azure_native import authorization, automation, recoveryservices, storage

from automation.network_switch import DEFAULT_TIMEOUTS, OUTAGE_VARIABLE
from model.identity import ResourceId
from model.phases import SwitchPlan, switch_variables
from policies.shared.names import NAMESPACE

AUTOMATION_DIR = Path(__file__).resolve().parent.parent / "automation"


@dataclass(frozen=True)
class RunbookSource:
    """A runbook published from a repository file into a runtime environment of the account."""

    file: Path
    name: str
    runbook_type: str  # the language; the runtime environment fixes the version
    runtime: str  # runtime environment name
    language: str
    version: str
    content_type: str


# Runtime environments (Automation API 2024-10-23): a runbook of type PowerShell or Python runs in
# the environment it names. Both are created here rather than relying on system-generated ones,
# which do not exist for PowerShell 7.4 ("Runtime environment in Azure Automation"). PowerShell 7.4
# and Python 3.10 are the newest versions Microsoft documents for Automation (GA July 2025); both
# are past community support (Python 3.10: October 2026, PEP 619; PowerShell 7.4: November 2026),
# and Automation's retirement policy ends its support at that date. Change ``version`` (and the
# runtime name) here when a newer one is offered: both runbooks keep to the older language level.
ACTION_RUNBOOK = RunbookSource(
    file=AUTOMATION_DIR / "network_switch.ps1",
    name="erdr-network-switch",
    runbook_type="PowerShell",
    runtime="erdr-powershell-7-4",
    language="PowerShell",
    version="7.4",
    content_type="text/plain",
)
CHILD_RUNBOOK = RunbookSource(
    file=AUTOMATION_DIR / "network_switch.py",
    name="erdr-network-switch-py",
    runbook_type="Python",
    runtime="erdr-python-3-10",
    language="Python",
    version="3.10",
    content_type="text/x-python",
)
RUNBOOKS = (ACTION_RUNBOOK, CHILD_RUNBOOK)
VARIABLE_PREFIX = "erdr-"
# How the PowerShell action finds and waits for the Python child (network_switch.ps1 reads it).
CHILD_VARIABLE = "child-runbook"
CHILD_POLL_SECONDS = 15
# The child's deadlines (erdr-timeouts): 30 s a call, 30 min a connection operation, 65 min in all
# (two operations and the checks before them). The parent waits that long plus the time a job
# may sit queued before it starts, so the child always reports its own outcome first.
TIMEOUTS_VARIABLE = "timeouts"
CHILD_QUEUE_SECONDS = 600
CHILD_TIMEOUT_SECONDS = int(DEFAULT_TIMEOUTS.switch_seconds) + CHILD_QUEUE_SECONDS
# The parent's own Automation API calls: each bounded, retried on 429 (after Retry-After) and 5xx.
CHILD_CALL_SECONDS = 30
CHILD_CALL_RETRIES = 4
CONTENT_CONTAINER = "runbooks"
# Automation reads the content once per publish; a fixed expiry keeps the URL stable (a rolling
# one would republish on every `pulumi up`). The SAS grants read on one blob of public code.
CONTENT_LINK_EXPIRY = "2099-12-31T00:00:00Z"


@dataclass(frozen=True)
class RoleSpec:
    """One custom role of the runbooks: the actions of one kind of call, assigned only where those
    calls land. tests/program/test_runbook_permissions.py maps every action to the code that uses it."""

    key: str  # in the logical name: "<plan component>-<key>-role"
    kind: str  # in the role's name and in the seed of its GUID
    description: str
    actions: tuple[str, ...]


# ExpressRoute, "About roles and permissions for ExpressRoute circuits and gateways"
# (https://learn.microsoft.com/azure/expressroute/roles-permissions): creating or updating a
# connection needs connections/write on it, virtualNetworkGateways/join/action on its gateway and
# expressRouteCircuits/join/action on its circuit. A connection that redeems an authorization key
# needs no right on the circuit: the key is the circuit owner's permission ("Circuit user
# operations", https://learn.microsoft.com/azure/expressroute/expressroute-howto-linkvnet-arm).
CONNECTIONS_ROLE = RoleSpec(
    "connections",
    "network switch connections",
    "Site Recovery runbook: create, reweight and remove the hub's ExpressRoute connections in this group.",
    (
        "Microsoft.Network/connections/read",
        "Microsoft.Network/connections/write",
        "Microsoft.Network/connections/delete",
    ),
)
# A connection present in every phase is only rewritten (its routing weight): read and write on it alone.
WEIGHTS_ROLE = RoleSpec(
    "weights",
    "network switch weights",
    "Site Recovery runbook: rewrite the routing weight of this ExpressRoute connection.",
    ("Microsoft.Network/connections/read", "Microsoft.Network/connections/write"),
)
GATEWAY_JOIN_ROLE = RoleSpec(
    "gateway-join",
    "network switch gateway join",
    "Site Recovery runbook: name this gateway in the connections it writes.",
    ("Microsoft.Network/virtualNetworkGateways/join/action",),
)
CIRCUIT_JOIN_ROLE = RoleSpec(
    "circuit-join",
    "network switch circuit join",
    "Site Recovery runbook: name this circuit in the connections it writes (no authorization key).",
    ("Microsoft.Network/expressRouteCircuits/join/action",),
)
# The PowerShell action starts the Python child job on its own account and reads how it ended.
# A job is a child of the account that does not exist before the PUT, so these sit on the account.
JOB_ROLE = RoleSpec(
    "job",
    "network switch job",
    "Site Recovery runbook action: start the network switch child job and read how it ended.",
    (
        "Microsoft.Automation/automationAccounts/jobs/write",
        "Microsoft.Automation/automationAccounts/jobs/read",
        "Microsoft.Automation/automationAccounts/jobs/output/read",
    ),
)
# The job PUT names the child runbook. Microsoft documents starting one runbook, and no other, as
# Automation Job Operator on the account plus Automation Runbook Operator (runbooks/read) on that
# runbook alone ("Manage role permissions and security in
# Automation", https://learn.microsoft.com/azure/automation/automation-role-based-access-control,
# "Configure Azure RBAC for runbooks"). So read sits on the child runbook only: the identity
# cannot start the action runbook, or any other runbook of the account.
CHILD_RUNBOOK_ROLE = RoleSpec(
    "child-runbook",
    "network switch child runbook",
    "Site Recovery runbook action: start jobs of this runbook only.",
    ("Microsoft.Automation/automationAccounts/runbooks/read",),
)
# Test failover: read the drill VNets, remove a peering that would break their isolation (and
# read it until it is gone).
DRILL_ROLE = RoleSpec(
    "drill",
    "drill isolation",
    "Site Recovery runbook, test failover: check the drill VNets, remove peerings from them.",
    (
        "Microsoft.Network/virtualNetworks/read",
        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/read",
        "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/delete",
    ),
)
NETWORK_ROLES = (CONNECTIONS_ROLE, WEIGHTS_ROLE, GATEWAY_JOIN_ROLE, CIRCUIT_JOIN_ROLE)
ROLES = (*NETWORK_ROLES, JOB_ROLE, CHILD_RUNBOOK_ROLE, DRILL_ROLE)


@dataclass(frozen=True)
class SwitchScopes:
    """(label, ARM scope) where each network role is assigned (program/target.py decides, from the
    resolved estate and the connections each hub holds in each phase). A hub whose connections no
    operation changes gets nothing: the runbook never calls ARM for it."""

    # Groups where the runbook creates and deletes connections: a role cannot sit on a resource
    # that does not exist yet, so the group is the narrowest scope a create allows.
    connections: Sequence[tuple[str, str]] = ()
    # Connections present in every phase whose weight the runbook rewrites.
    weights: Sequence[tuple[str, str]] = ()
    # The gateways of the hubs whose connections it writes.
    gateways: Sequence[tuple[str, str]] = ()
    # The circuits it writes a connection to without an authorization key.
    circuits: Sequence[tuple[str, str]] = ()

    def of(self, role: RoleSpec) -> Sequence[tuple[str, str]]:
        return {
            CONNECTIONS_ROLE.kind: self.connections,
            WEIGHTS_ROLE.kind: self.weights,
            GATEWAY_JOIN_ROLE.kind: self.gateways,
            CIRCUIT_JOIN_ROLE.kind: self.circuits,
        }[role.kind]


# The groups Site Recovery always holds before the Boot groups, in its order.
AZURE_FIXED_GROUPS = ("Shutdown", "Failover")

# Recovery plan actions: (action name, failover directions, failover types). Site Recovery's
# A2A failback is a failover in the other direction, so it uses the same failover types.
FAILOVER_TYPES = ("PlannedFailover", "UnplannedFailover")
PLAN_ACTIONS = (
    ("erdr-network-failover", ("PrimaryToRecovery",), FAILOVER_TYPES),
    ("erdr-network-failback", ("RecoveryToPrimary",), FAILOVER_TYPES),
    ("erdr-network-drill", ("PrimaryToRecovery",), ("TestFailover",)),
)


def runbook_content(source: RunbookSource) -> tuple[str, str]:
    """(text, SHA-256 in upper-case hex, as Automation's contentHash expects)."""
    text = source.file.read_text()
    return text, hashlib.sha256(text.encode()).hexdigest().upper()


def _groups_of(scopes: Iterable[str]) -> list[str]:
    """The resource groups holding ``scopes``: a custom role's assignable scopes must name at least
    one management group, subscription or resource group, and Microsoft advises against resource
    instances there ("Azure role definitions", AssignableScopes,
    https://learn.microsoft.com/azure/role-based-access-control/role-definitions#assignablescopes).
    What the identity may do is still decided by the assignment's own, narrower scope."""
    groups: dict[str, str] = {}
    for scope in scopes:
        group = ResourceId.parse(scope).group_id
        groups.setdefault(group.lower(), group)
    return sorted(groups.values())


def _guid(*parts: str) -> str:
    """Deterministic GUID for role definitions and assignments (their names must be GUIDs)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join((NAMESPACE, *parts))))


@dataclass(kw_only=True)
class RecoveryPlanArgs:
    plan_name: str
    location: str
    resource_group_name: pulumi.Input[str]
    resource_group_id: pulumi.Input[str]
    subscription_id: str  # the dr stack's (role names are seeded with it)
    subscription_scope: str  # its ARM scope, where the custom roles are defined
    content_account_name: str  # the storage account serving the runbooks' content
    # Where the network roles are assigned (the resolved estate's IDs).
    switch_scopes: SwitchScopes = field(default_factory=SwitchScopes)
    # RoleSpec.key -> a role definition an administrator created (recoveryPlan.roleDefinitionIds):
    # assigned as it is, not created here.
    role_definition_ids: Mapping[str, str] = field(default_factory=dict[str, str])
    vault_name: pulumi.Input[str]
    primary_fabric_id: pulumi.Input[str]
    recovery_fabric_id: pulumi.Input[str]
    boot_groups: Sequence[Sequence[str]]
    switch: SwitchPlan
    automation_account_name: str
    automation_account_id: str  # the resolved estate's ARM ID of that account
    # Drill VNet key -> ID (the keys are known before the IDs).
    drill_vnet_keys: Sequence[str] = ()
    drill_vnet_ids: pulumi.Input[Mapping[str, str]] | None = None
    # role ("source" | "target") -> circuit -> the key that role's connection to it redeems.
    authorization_keys: Mapping[str, Mapping[str, pulumi.Output[str]]] = field(
        default_factory=dict[str, Mapping[str, pulumi.Output[str]]]
    )
    tags: Mapping[str, str] = field(default_factory=dict[str, str])
    # What the plan waits for (the Site Recovery fabrics and containers its items live in).
    depends_on: Sequence[pulumi.Resource] = ()
    # What the role assignments wait for: this stack's own gateway and connections, which some
    # of them are scoped to (an assignment needs its scope to exist).
    assignments_depend_on: Sequence[pulumi.Resource] = ()


class RecoveryPlan(pulumi.ComponentResource):
    """Recovery plan, Automation account with its identity, the runbook, its variables and roles."""

    recovery_plan_id: pulumi.Output[str]
    recovery_plan_name: pulumi.Output[str]
    automation_account_name: pulumi.Output[str]
    runbook_id: pulumi.Output[str]
    principal_id: pulumi.Output[str]

    def __init__(self, name: str, args: RecoveryPlanArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("expressroute-dr:siterecovery:RecoveryPlan", name, None, opts)
        rg = args.resource_group_name
        child = pulumi.ResourceOptions(parent=self)

        self.account = automation.AutomationAccount(
            f"{name}-automation",
            automation_account_name=args.automation_account_name,
            resource_group_name=rg,
            location=args.location,
            sku={"name": "Basic"},
            identity={"type": automation.ResourceIdentityType.SYSTEM_ASSIGNED},
            public_network_access=True,
            tags=dict(args.tags),
            opts=child,
        )
        principal = self.account.identity.apply(lambda i: i.principal_id if i is not None else "")

        runbook, child = self._runbooks(name, args)
        variables = self._variables(name, args)
        assignments = self._roles(name, args, principal, child)

        first, *rest = args.boot_groups
        actions: list[recoveryservices.RecoveryPlanActionArgsDict] = [
            {
                "action_name": action,
                "failover_directions": list(directions),
                "failover_types": list(types),
                "custom_details": {
                    "instance_type": "AutomationRunbookActionDetails",
                    "runbook_id": runbook.id,
                    # The Automation account lives in the recovery (target) region.
                    "fabric_location": "Recovery",
                },
            }
            for action, directions, types in PLAN_ACTIONS
        ]
        groups: list[recoveryservices.RecoveryPlanGroupArgsDict] = [
            # Site Recovery answers every plan with a Shutdown and a Failover group ahead of the
            # Boot groups (ReplicationRecoveryPlans_Create example, 2024-10-01 spec). Sending the
            # same list keeps the stored inputs aligned with what Azure returns, so a refresh
            # maps any drift onto the right group and the next preview shows no change.
            *(
                {
                    "group_type": kind,
                    "replication_protected_items": [],
                    "start_group_actions": [],
                    "end_group_actions": [],
                }
                for kind in AZURE_FIXED_GROUPS
            ),
            {
                "group_type": "Boot",
                "replication_protected_items": [{"id": item} for item in first],
                "start_group_actions": actions,  # pre-boot: the network is switched first
                "end_group_actions": [],
            },
            *(
                {
                    "group_type": "Boot",
                    "replication_protected_items": [{"id": item} for item in group],
                    "start_group_actions": [],
                    "end_group_actions": [],
                }
                for group in rest
            ),
        ]
        self.plan = recoveryservices.ReplicationRecoveryPlan(
            f"{name}-plan",
            resource_name_=args.vault_name,
            resource_group_name=rg,
            recovery_plan_name=args.plan_name,
            properties={
                "primary_fabric_id": args.primary_fabric_id,
                "recovery_fabric_id": args.recovery_fabric_id,
                "failover_deployment_model": "ResourceManager",
                "provider_specific_input": [{"instance_type": "A2A"}],
                "groups": groups,
            },
            # The action must find a published runbook, its variables and its permissions.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*args.depends_on, runbook, child, *variables, *assignments]
            ),
        )

        self.recovery_plan_id = self.plan.id
        self.recovery_plan_name = self.plan.name
        self.automation_account_name = self.account.name
        self.runbook_id = runbook.id
        self.principal_id = principal
        self.register_outputs(
            {
                "recovery_plan_id": self.recovery_plan_id,
                "recovery_plan_name": self.recovery_plan_name,
                "automation_account_name": self.automation_account_name,
                "runbook_id": self.runbook_id,
                "principal_id": self.principal_id,
            }
        )

    def _runbooks(self, name: str, args: RecoveryPlanArgs) -> tuple[automation.Runbook, automation.Runbook]:
        """(the PowerShell action, the Python child), each in its runtime environment."""
        account = storage.StorageAccount(
            f"{name}-content",
            account_name=args.content_account_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind="StorageV2",
            sku={"name": "Standard_LRS"},
            allow_blob_public_access=False,
            # The service SAS below is signed with the account key.
            allow_shared_key_access=True,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        container = storage.BlobContainer(
            f"{name}-runbooks",
            account_name=account.name,
            resource_group_name=args.resource_group_name,
            container_name=CONTENT_CONTAINER,
            public_access=storage.PublicAccess.NONE,
            opts=pulumi.ResourceOptions(parent=self),
        )
        action, child = (self._runbook(name, args, source, account, container) for source in RUNBOOKS)
        return action, child

    def _runbook(
        self,
        name: str,
        args: RecoveryPlanArgs,
        source: RunbookSource,
        account: storage.StorageAccount,
        container: storage.BlobContainer,
    ) -> automation.Runbook:
        text, digest = runbook_content(source)
        key = source.name.removeprefix(VARIABLE_PREFIX)
        runtime = automation.RuntimeEnvironment(
            f"{name}-{key}-runtime",
            runtime_environment_name=source.runtime,
            automation_account_name=self.account.name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            language=source.language,
            version=source.version,
            description=f"{source.language} {source.version} for {source.name} (expressroute-dr)",
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        blob_name = f"{source.name}-{digest[:16].lower()}{source.file.suffix}"
        blob = storage.Blob(
            f"{name}-{key}-content",
            account_name=account.name,
            resource_group_name=args.resource_group_name,
            container_name=container.name,
            blob_name=blob_name,
            type=storage.BlobType.BLOCK,
            content_type=source.content_type,
            source=pulumi.StringAsset(text),
            opts=pulumi.ResourceOptions(parent=self),
        )
        sas = storage.list_storage_account_service_sas_output(
            account_name=account.name,
            resource_group_name=args.resource_group_name,
            canonicalized_resource=pulumi.Output.concat("/blob/", account.name, f"/{CONTENT_CONTAINER}/{blob_name}"),
            resource=storage.SignedResource.B,
            permissions=storage.Permissions.R,
            protocols=storage.HttpProtocol.HTTPS,
            shared_access_expiry_time=CONTENT_LINK_EXPIRY,
        ).service_sas_token
        uri = pulumi.Output.secret(
            pulumi.Output.concat(
                "https://", account.name, f".blob.core.windows.net/{CONTENT_CONTAINER}/{blob_name}?", sas
            )
        )
        return automation.Runbook(
            f"{name}-{key}-runbook",
            runbook_name=source.name,
            automation_account_name=self.account.name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            runbook_type=source.runbook_type,
            runtime_environment=source.runtime,
            description=f"ExpressRoute network switch for Site Recovery (expressroute-dr automation/{source.file.name})",
            log_progress=False,
            log_verbose=False,
            publish_content_link={"uri": uri, "content_hash": {"algorithm": "SHA256", "value": digest}},
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[blob, runtime]),
        )

    def _variables(self, name: str, args: RecoveryPlanArgs) -> list[automation.Variable]:
        values: dict[str, pulumi.Input[Any]] = dict(switch_variables(args.switch))
        if args.drill_vnet_ids is not None:
            values["drill-vnet-ids"] = args.drill_vnet_ids
        values[TIMEOUTS_VARIABLE] = DEFAULT_TIMEOUTS.variable()
        values[CHILD_VARIABLE] = {
            # The resolved estate's ID (model/identity.py): the action formats no ARM ID itself.
            "accountId": args.automation_account_id,
            "runbook": CHILD_RUNBOOK.name,
            "timeoutSeconds": CHILD_TIMEOUT_SECONDS,
            "pollSeconds": CHILD_POLL_SECONDS,
            "callSeconds": CHILD_CALL_SECONDS,
            "callRetries": CHILD_CALL_RETRIES,
        }
        out: list[automation.Variable] = []
        for key, value in values.items():
            out.append(
                automation.Variable(
                    f"{name}-var-{key}",
                    automation_account_name=self.account.name,
                    resource_group_name=args.resource_group_name,
                    variable_name=VARIABLE_PREFIX + key,
                    name=VARIABLE_PREFIX + key,
                    # Automation stores a variable's value as JSON text.
                    value=pulumi.Output.from_input(value).apply(json.dumps),
                    is_encrypted=False,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        # The operator's declaration of a source-region outage: created empty, then theirs. Pulumi
        # never resets it (ignore_changes), so a `pulumi up` during an outage keeps the declaration.
        out.append(
            automation.Variable(
                f"{name}-var-{OUTAGE_VARIABLE}",
                automation_account_name=self.account.name,
                resource_group_name=args.resource_group_name,
                variable_name=VARIABLE_PREFIX + OUTAGE_VARIABLE,
                name=VARIABLE_PREFIX + OUTAGE_VARIABLE,
                value=json.dumps(""),
                description=(
                    "Set to the source region's name only while it is down: an Unplanned failover may then "
                    "go on without it. Empty otherwise (docs/recovery-plan.md)."
                ),
                is_encrypted=False,
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["value"]),
            )
        )
        for role, keys in sorted(args.authorization_keys.items()):
            for circuit, key in sorted(keys.items()):
                variable = f"{VARIABLE_PREFIX}authorization-key-{role}-{circuit}"
                out.append(
                    automation.Variable(
                        f"{name}-var-authorization-key-{role}-{circuit}",
                        automation_account_name=self.account.name,
                        resource_group_name=args.resource_group_name,
                        variable_name=variable,
                        name=variable,
                        value=key.apply(json.dumps),
                        is_encrypted=True,
                        opts=pulumi.ResourceOptions(parent=self),
                    )
                )
        return out

    def _roles(
        self, name: str, args: RecoveryPlanArgs, principal: pulumi.Output[str], child: automation.Runbook
    ) -> list[authorization.RoleAssignment]:
        sub = args.subscription_id
        scopes: list[tuple[str, pulumi.Input[str], pulumi.Input[str]]] = []
        # Only the network roles are scoped to this stack's gateway and connections; the others
        # must not wait for the gateway (the bench's critical path: nothing needlessly waits on it).
        network_labels: set[str] = set()
        for spec in NETWORK_ROLES:
            where = list(args.switch_scopes.of(spec))
            if not where:  # no call of this kind in this estate: no role
                continue
            role = self._role_definition(name, args, spec, _groups_of(scope for _, scope in where))
            scopes += [(label, scope, role) for label, scope in where]
            network_labels.update(label for label, _ in where)
        # The account and its runbooks live in the dr stack's group.
        job_role = self._role_definition(name, args, JOB_ROLE, [args.resource_group_id])
        scopes.append(("automation-account", self.account.id, job_role))
        runbook_role = self._role_definition(name, args, CHILD_RUNBOOK_ROLE, [args.resource_group_id])
        scopes.append(("child-runbook", child.id, runbook_role))
        if args.drill_vnet_keys and args.drill_vnet_ids is not None:
            drill_ids = pulumi.Output.from_input(args.drill_vnet_ids)
            drill_role = self._role_definition(name, args, DRILL_ROLE, [args.resource_group_id])
            scopes += [
                (f"drill-{key}", drill_ids.apply(lambda ids, key=key: ids[key]), drill_role)
                for key in args.drill_vnet_keys
            ]
        return [
            authorization.RoleAssignment(
                f"{name}-{label}-access",
                # Assignment names are unique per tenant, whatever their scope: seeded with the
                # subscription, the scope and the principal, two stacks (or two subscriptions of
                # one tenant) never ask for the same name, and a new principal gets a new name.
                role_assignment_name=pulumi.Output.all(sub, scope, principal, role).apply(
                    lambda v: _guid("role-assignment", *v)
                ),
                principal_id=principal,
                # Skips the directory lookup that fails while a new identity replicates.
                principal_type="ServicePrincipal",
                role_definition_id=role,
                scope=scope,
                # principalId and scope force a replacement (azure-native's forceNewMap): the old
                # assignment goes first, so a replacement never holds two for one scope and role.
                opts=pulumi.ResourceOptions(
                    parent=self,
                    delete_before_replace=True,
                    depends_on=list(args.assignments_depend_on) if label in network_labels else [],
                ),
            )
            for label, scope, role in scopes
        ]

    def _role_definition(
        self, name: str, args: RecoveryPlanArgs, spec: RoleSpec, assignable_scopes: Sequence[pulumi.Input[str]]
    ) -> pulumi.Input[str]:
        """The ID of a custom role of this plan: the administrator's, if config names one, or one
        created here, named so that no other stack of the tenant can collide.

        Custom role names are unique per directory and role definition IDs per tenant, so both
        carry the subscription: the same plan name in two subscriptions of one tenant (two
        environments, two copies of this project) gives two roles.
        """
        given = args.role_definition_ids.get(spec.key)
        if given is not None:
            return given
        sub = args.subscription_id
        return authorization.RoleDefinition(
            f"{name}-{spec.key}-role",
            role_definition_id=_guid("role-definition", sub, args.plan_name, spec.kind),
            role_name=f"{NAMESPACE} {spec.kind} ({args.plan_name}, {sub})",
            description=spec.description,
            permissions=[{"actions": list(spec.actions), "not_actions": []}],
            assignable_scopes=list(assignable_scopes),
            scope=args.subscription_scope,
            opts=pulumi.ResourceOptions(parent=self),
        ).id
