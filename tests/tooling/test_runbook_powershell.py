"""Every Az PowerShell cmdlet and parameter the runbooks use exists in the Az version their
prerequisites name (issue #20).

The table below is the SYNTAX of each cmdlet's reference page for Az 12.0.0 (Az.Accounts 3.0.0,
Az.RecoveryServices 7.0.0, "Azure PowerShell release notes" 12.0.0, May 2024), one entry per
parameter set: ``-P`` a parameter the set requires, ``[-P]`` one it allows; the common parameters
(-DefaultProfile, -WhatIf, -Confirm, -ErrorAction, ...) are allowed everywhere. It was read from
MicrosoftDocs/azure-docs-powershell (``azps-12.0.0/<module>/<cmdlet>.md``, commit 019ee3ee, the
last one before that version's pages were archived); each entry cites the page on Microsoft Learn.
The same pages for Az 16.2.0 (that repository's HEAD, 94a1a083) differ only by two optional
parameters added to Update-AzRecoveryServicesAsrProtectionDirection's A2A sets, so "12.0.0 or later"
holds for every call here.
Every cmdlet a runbook's PowerShell block calls (outside the function it defines itself) must be in
the table, and its parameters, aliases resolved, must fit one parameter set that they complete; a
value the page lists "Accepted values" for (-Direction) must be one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from erdr import dr_runbook
from tests import azcli
from tests import runbooks as runbooks_


@dataclass(frozen=True)
class Cmdlet:
    url: str  # the cmdlet reference on Microsoft Learn
    aliases: dict[str, str] = field(default_factory=dict[str, str])
    sets: tuple[str, ...] = ()
    values: dict[str, tuple[str, ...]] = field(
        default_factory=dict[str, tuple[str, ...]]
    )  # "Accepted values"  # "<set name>: -Required [-Optional] ..."; empty for built-ins

    def parameter_sets(self) -> dict[str, tuple[set[str], set[str]]]:
        """set name -> (required, allowed), lower-case."""
        out: dict[str, tuple[set[str], set[str]]] = {}
        for entry in self.sets:
            name, _, params = entry.partition(": ")
            tokens = params.split()
            required = {t[1:].lower() for t in tokens if not t.startswith("[")}
            out[name] = (required, required | {t[2:-1].lower() for t in tokens if t.startswith("[")})
        return out


AZ = {
    "Set-AzContext": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.accounts/set-azcontext?view=azps-12.0.0",
        aliases={
            "SubscriptionId": "Subscription",
            "SubscriptionName": "Subscription",
            "Domain": "Tenant",
            "TenantId": "Tenant",
        },
        sets=(
            "Context: -Context [-ExtendedProperty] [-Name] [-Force] [-Scope]",
            "TenantObject: -TenantObject [-ExtendedProperty] [-Name] [-Force] [-Scope]",
            "SubscriptionObject: -SubscriptionObject [-ExtendedProperty] [-Name] [-Force] [-Scope]",
            "Subscription: [-Tenant] -Subscription [-ExtendedProperty] [-Name] [-Force] [-Scope]",
            "TenantNameOnly: -Tenant [-ExtendedProperty] [-Name] [-Force] [-Scope]",
        ),
    ),
    "Get-AzRecoveryServicesVault": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.recoveryservices/get-azrecoveryservicesvault?view=azps-12.0.0",
        aliases={},
        sets=(
            "ByTagNameValueParameterSet: [-ResourceGroupName] [-Name] [-TagName] [-TagValue]",
            "ByTagObjectParameterSet: [-ResourceGroupName] [-Name] -Tag",
        ),
    ),
    "Set-AzRecoveryServicesAsrVaultContext": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.recoveryservices/set-azrecoveryservicesasrvaultcontext?view=azps-12.0.0",
        aliases={},
        sets=("(one): -Vault",),
    ),
    "Get-AzRecoveryServicesAsrJob": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.recoveryservices/get-azrecoveryservicesasrjob?view=azps-12.0.0",
        aliases={},
        sets=(
            "ByParam: [-StartTime] [-EndTime] [-TargetObjectId] [-State]",
            "ByName: -Name",
            "ByObject: -Job",
        ),
    ),
    "Resume-AzRecoveryServicesAsrJob": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.recoveryservices/resume-azrecoveryservicesasrjob?view=azps-12.0.0",
        aliases={"Comments": "Comment", "Job": "InputObject"},
        sets=(
            "ByObject: -InputObject [-Comment]",
            "ByName: -Name [-Comment]",
        ),
    ),
    "Get-AzRecoveryServicesAsrFabric": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.recoveryservices/get-azrecoveryservicesasrfabric?view=azps-12.0.0",
        aliases={},
        sets=(
            "Default: ",
            "ByName: -Name",
            "ByFriendlyName: -FriendlyName",
        ),
    ),
    "Get-AzRecoveryServicesAsrProtectionContainer": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.recoveryservices/get-azrecoveryservicesasrprotectioncontainer?view=azps-12.0.0",
        aliases={},
        sets=(
            "ByFabricObject: -Fabric",
            "ByObjectWithName: -Name -Fabric",
            "ByObjectWithFriendlyName: -FriendlyName -Fabric",
        ),
    ),
    "Get-AzRecoveryServicesAsrProtectionContainerMapping": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.recoveryservices/get-azrecoveryservicesasrprotectioncontainermapping?view=azps-12.0.0",
        aliases={},
        sets=(
            "ByObject: -ProtectionContainer",
            "ByObjectWithName: -Name -ProtectionContainer",
        ),
    ),
    "Get-AzRecoveryServicesAsrReplicationProtectedItem": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.recoveryservices/get-azrecoveryservicesasrreplicationprotecteditem?view=azps-12.0.0",
        aliases={},
        sets=(
            "ByObject: -ProtectionContainer",
            "ByObjectWithName: -Name -ProtectionContainer",
            "ByObjectWithFriendlyName: -FriendlyName -ProtectionContainer",
            "ByProtectableItemObject: -ProtectableItem",
        ),
    ),
    "Get-AzRecoveryServicesAsrRecoveryPlan": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.recoveryservices/get-azrecoveryservicesasrrecoveryplan?view=azps-12.0.0",
        aliases={},
        sets=(
            "Default: ",
            "ByName: -Name [-Path]",
            "ByFriendlyName: -FriendlyName [-Path]",
        ),
    ),
    "Start-AzRecoveryServicesAsrUnplannedFailoverJob": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.recoveryservices/start-azrecoveryservicesasrunplannedfailoverjob?view=azps-12.0.0",
        aliases={"PerformSourceSideActions": "PerformSourceSideAction"},
        values={"Direction": ("PrimaryToRecovery", "RecoveryToPrimary")},
        sets=(
            "ByRPIObject: -ReplicationProtectedItem -Direction [-PerformSourceSideAction] [-DataEncryptionPrimaryCertFile] [-DataEncryptionSecondaryCertFile] [-RecoveryPoint]",
            "ByRPObject: -RecoveryPlan -Direction [-PerformSourceSideAction] [-DataEncryptionPrimaryCertFile] [-DataEncryptionSecondaryCertFile] [-RecoveryTag] [-MultiVmSyncPoint]",
            "ByRPIObjectWithRecoveryTag: -ReplicationProtectedItem -Direction [-PerformSourceSideAction] [-DataEncryptionPrimaryCertFile] [-DataEncryptionSecondaryCertFile] -RecoveryTag",
        ),
    ),
    "Start-AzRecoveryServicesAsrCommitFailoverJob": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.recoveryservices/start-azrecoveryservicesasrcommitfailoverjob?view=azps-12.0.0",
        aliases={},
        sets=(
            "ByRPIObject: -ReplicationProtectedItem",
            "ByRPObject: -RecoveryPlan",
        ),
    ),
    "Start-AzRecoveryServicesAsrTestFailoverJob": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.recoveryservices/start-azrecoveryservicesasrtestfailoverjob?view=azps-12.0.0",
        aliases={},
        values={"Direction": ("PrimaryToRecovery", "RecoveryToPrimary")},
        sets=(
            "ByRPIObject: -ReplicationProtectedItem -Direction [-CloudServiceCreationOption] [-DataEncryptionPrimaryCertFile] [-DataEncryptionSecondaryCertFile] [-RecoveryPoint]",
            "ByRPObject: -RecoveryPlan -Direction [-CloudServiceCreationOption] [-DataEncryptionPrimaryCertFile] [-DataEncryptionSecondaryCertFile] [-RecoveryTag] [-MultiVmSyncPoint]",
            "ByRPObjectWithVMNetwork: -RecoveryPlan -Direction -VMNetwork [-DataEncryptionPrimaryCertFile] [-DataEncryptionSecondaryCertFile] [-RecoveryTag]",
            "ByRPObjectWithAzureVMNetworkId: -RecoveryPlan -Direction -AzureVMNetworkId [-CloudServiceCreationOption] [-DataEncryptionPrimaryCertFile] [-DataEncryptionSecondaryCertFile] [-RecoveryTag]",
            "ByRPIObjectWithVMNetwork: -ReplicationProtectedItem -Direction -VMNetwork [-DataEncryptionPrimaryCertFile] [-DataEncryptionSecondaryCertFile] [-RecoveryPoint]",
            "ByRPIObjectWithAzureVMNetworkId: -ReplicationProtectedItem -Direction -AzureVMNetworkId [-CloudServiceCreationOption] [-DataEncryptionPrimaryCertFile] [-DataEncryptionSecondaryCertFile] [-RecoveryPoint]",
        ),
    ),
    "Start-AzRecoveryServicesAsrTestFailoverCleanupJob": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.recoveryservices/start-azrecoveryservicesasrtestfailovercleanupjob?view=azps-12.0.0",
        aliases={},
        sets=(
            "ByRPIObject: -ReplicationProtectedItem [-Comment]",
            "ByResourceId: -ResourceId [-Comment]",
            "ByRPObject: -RecoveryPlan [-Comment]",
        ),
    ),
    "Update-AzRecoveryServicesAsrProtectionDirection": Cmdlet(
        "https://learn.microsoft.com/powershell/module/az.recoveryservices/update-azrecoveryservicesasrprotectiondirection?view=azps-12.0.0",
        aliases={},
        values={"Direction": ("PrimaryToRecovery", "RecoveryToPrimary")},
        sets=(
            "ByRPIObject: -ReplicationProtectedItem -Direction",
            "AzureToVMware: [-AzureToVMware] [-Account] -DataStore [-MasterTarget] -ProcessServer -ProtectionContainerMapping -ReplicationProtectedItem -Direction -RetentionVolume",
            "VMwareToAzure: [-VMwareToAzure] -Account [-MasterTarget] -ProcessServer -ProtectionContainerMapping [-LogStorageAccountId] [-RecoveryAzureStorageAccountId] -ReplicationProtectedItem -Direction",
            "ReplicateAzureToVMware: [-ReplicateAzureToVMware] -ProtectionContainerMapping -DataStoreName -ApplianceName -Fabric -LogStorageAccountId -ReplicationProtectedItem -Direction",
            "ReplicateVMwareToAzure: [-ReplicateVMwareToAzure] -SiteId -CredentialsToAccessVm -ProtectionContainerMapping -ApplianceName -Fabric -ReplicationProtectedItem -Direction",
            "HyperVToAzure: [-HyperVToAzure] [-LogStorageAccountId] [-RecoveryAzureStorageAccountId] -ReplicationProtectedItem -Direction",
            "EnterpriseToEnterprise: [-VmmToVmm] -ReplicationProtectedItem -Direction",
            "AzureToAzure: [-AzureToAzure] -ProtectionContainerMapping -LogStorageAccountId [-RecoveryAzureStorageAccountId] -ReplicationProtectedItem [-RecoveryResourceGroupId] [-RecoveryCloudServiceId] [-RecoveryAvailabilitySetId] [-RecoveryProximityPlacementGroupId] [-RecoveryVirtualMachineScaleSetId] [-RecoveryCapacityReservationGroupId] [-RecoveryBootDiagStorageAccountId] [-DiskEncryptionVaultId] [-DiskEncryptionSecretUrl] [-KeyEncryptionKeyUrl] [-KeyEncryptionVaultId]",
            "AzureToAzureWithMultipleStorageAccount: [-AzureToAzure] -ProtectionContainerMapping -AzureToAzureDiskReplicationConfiguration -ReplicationProtectedItem [-RecoveryResourceGroupId] [-RecoveryCloudServiceId] [-RecoveryAvailabilitySetId] [-RecoveryProximityPlacementGroupId] [-RecoveryVirtualMachineScaleSetId] [-RecoveryCapacityReservationGroupId] [-RecoveryBootDiagStorageAccountId] [-DiskEncryptionVaultId] [-DiskEncryptionSecretUrl] [-KeyEncryptionKeyUrl] [-KeyEncryptionVaultId]",
            "ByRPObject: -RecoveryPlan -Direction",
            "ByPEObject: -Direction",
        ),
    ),
}
# Built-in cmdlets (PowerShell 7's Microsoft.PowerShell.* modules): the named parameters the runbook uses.
BUILTIN = {
    "ConvertFrom-Json": "https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/convertfrom-json",
    "ConvertTo-Json": "https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/convertto-json",
    "ForEach-Object": "https://learn.microsoft.com/powershell/module/microsoft.powershell.core/foreach-object",
    "Format-Table": "https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/format-table",
    "Get-Content": "https://learn.microsoft.com/powershell/module/microsoft.powershell.management/get-content",
    "Select-Object": "https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/select-object",
    "Set-Content": "https://learn.microsoft.com/powershell/module/microsoft.powershell.management/set-content",
    "Start-Sleep": "https://learn.microsoft.com/powershell/module/microsoft.powershell.utility/start-sleep",
    "Where-Object": "https://learn.microsoft.com/powershell/module/microsoft.powershell.core/where-object",
}
BUILTIN_PARAMETERS = {"Start-Sleep": {"seconds"}}
COMMON = {"defaultprofile", "whatif", "confirm", "erroraction", "warningaction", "verbose", "debug"}
OPERATORS = {"eq", "ne", "in", "notin", "not", "split", "join", "and", "or", "lt", "gt", "le", "ge", "like", "match"}
# Tokens of a PowerShell statement: a cmdlet name, a -parameter, or what starts or ends a command.
TOKEN = re.compile(
    r"\b([A-Z][A-Za-z]+-[A-Z][A-Za-z]+)\b"  # a cmdlet
    r"|(?<![\w.-])-([A-Za-z]+)\b(?:[ \t]+([A-Za-z]\w*)(?![\w(.-]))?"  # a -parameter, and a bare word given to it
    r"|(\$\(|@\(|[(){}|;])"
)


@dataclass(frozen=True)
class Call:
    cmdlet: str
    parameters: tuple[str, ...]
    where: str
    values: tuple[tuple[str, str], ...] = ()  # (parameter, bare-word value)


_Open = tuple[str, list[str], list[tuple[str, str]]]


def _statement_calls(line: str) -> list[_Open]:
    """(cmdlet, -parameters, (parameter, bare-word value) pairs) of each call in one logical line. A
    parenthesis, brace or $( ) opens a nested command; a pipe or semicolon ends one."""
    stack: list[_Open | None] = [None]
    found: list[_Open] = []

    def close() -> None:
        if stack[-1] is not None:
            found.append(stack[-1])

    for m in TOKEN.finditer(line):
        name, parameter, value, mark = m[1], m[2], m[3], m[4]
        current = stack[-1]
        if name:
            close()
            stack[-1] = (name, [], [])
        elif parameter and current is not None and parameter.lower() not in OPERATORS:
            current[1].append(parameter)
            if value:
                current[2].append((parameter, value))
        elif mark in ("(", "{", "$(", "@("):
            stack.append(None)
        elif mark in (")", "}"):
            close()
            if len(stack) > 1:
                stack.pop()
        elif mark in ("|", ";"):
            close()
            stack[-1] = None
    while stack:
        close()
        stack.pop()
    return found


def calls(runbook: str) -> Iterator[Call]:
    """Every cmdlet call of the runbook's PowerShell blocks, with the -parameters it passes."""
    for first, lang, body in azcli.blocks(runbook):
        if lang == "powershell":
            for n, line in azcli.joined(body, first):
                for cmdlet, parameters, values in _statement_calls(line):
                    yield Call(cmdlet, tuple(parameters), f"line {n}", tuple(values))


def _defined(runbook: str) -> set[str]:
    return set(re.findall(r"\bfunction ([A-Za-z]+-[A-Za-z]+)", runbook))


def problems(call: Call) -> str:
    """Why the call does not fit the table ("" when it does)."""
    if call.cmdlet in BUILTIN:
        extra = {p.lower() for p in call.parameters} - BUILTIN_PARAMETERS.get(call.cmdlet, set()) - COMMON
        return f"{call.cmdlet}: parameters not in the table: {sorted(extra)}" if extra else ""
    spec = AZ.get(call.cmdlet)
    if spec is None:
        return f"{call.cmdlet}: not in the table (add it, with its reference page, for the Az version named)"
    aliases = {k.lower(): v.lower() for k, v in spec.aliases.items()}
    used = {aliases.get(p.lower(), p.lower()) for p in call.parameters} - COMMON
    fits = [name for name, (required, allowed) in spec.parameter_sets().items() if used <= allowed and required <= used]
    if not fits:
        return f"{call.cmdlet} {' '.join('-' + p for p in call.parameters)}: fits no parameter set of {spec.url}"
    accepted = {k.lower(): v for k, v in spec.values.items()}
    for parameter, value in call.values:
        allowed = accepted.get(aliases.get(parameter.lower(), parameter.lower()))
        if allowed is not None and value.lower() not in {a.lower() for a in allowed}:
            return f"{call.cmdlet} -{parameter} {value}: accepted values are {', '.join(allowed)} ({spec.url})"
    return ""


@pytest.fixture(scope="module")
def runbooks() -> list[runbooks_.Runbook]:
    return runbooks_.rendered()


def test_every_cmdlet_and_parameter_exists_in_the_az_version_named(runbooks: list[runbooks_.Runbook]) -> None:
    seen: set[str] = set()
    for rb in runbooks:
        own = _defined(rb.text)
        bad = [f"{c.where}: {why}" for c in calls(rb.text) if c.cmdlet not in own and (why := problems(c))]
        assert not bad, f"{rb.name}:\n" + "\n".join(bad)
        seen |= {c.cmdlet for c in calls(rb.text)}
    # Every Az entry is one a runbook uses (the table stays the runbook's, not a catalogue).
    assert set(AZ) <= seen, sorted(set(AZ) - seen)


def test_the_prerequisites_name_that_az_version() -> None:
    assert dr_runbook.AZ_POWERSHELL == "Az 12.0.0"
    text = runbooks_.rendered()[0].text
    prerequisites = text[text.index("## Before you need it") :].split("\n## ", 1)[0]
    assert "Az PowerShell module 12.0.0 or later" in prerequisites
    assert "Az.RecoveryServices 7.0.0" in prerequisites and "Az.Accounts 3.0.0" in prerequisites
    assert all(c.url.endswith("?view=azps-12.0.0") for c in AZ.values())


def test_the_check_catches_an_unknown_parameter_a_missing_one_and_an_unknown_cmdlet() -> None:
    """Control: statements the table must refuse, next to their good forms."""
    good = [
        "$job = foreach ($item in $items) { Start-AzRecoveryServicesAsrTestFailoverJob -ReplicationProtectedItem "
        "$item -Direction PrimaryToRecovery -AzureVMNetworkId $n }",
        "Resume-AzRecoveryServicesAsrJob -Job (Get-AzRecoveryServicesAsrJob -Name $($j.Name))",
        "$groups[$i] = (($x -split '/')[0..4] -join '/'); Start-Sleep -Seconds 30",
    ]
    bad = {
        "Start-AzRecoveryServicesAsrTestFailoverJob -ReplicationProtectedItem $i -Direction PrimaryToRecovery "
        "-AzureVmNetwork $n": "fits no parameter set",
        "Start-AzRecoveryServicesAsrTestFailoverJob -ReplicationProtectedItem $i -AzureVMNetworkId $n": "fits no",
        "Start-AzRecoveryServicesAsrCommitFailoverJob -ReplicationProtectedItem $i -RecoveryPlan $p": "fits no",
        "Resume-AzRecoveryServicesAsrJob -JobName x": "fits no parameter set",
        "Start-AzRecoveryServicesAsrFailoverJob -RecoveryPlan $p": "not in the table",
        "Start-Sleep -Second 30": "not in the table: ['second']",
        "Start-AzRecoveryServicesAsrUnplannedFailoverJob -RecoveryPlan $p -Direction SourceToTarget": "accepted values",
    }

    def check(statement: str) -> list[str]:
        text = f"```powershell\n{statement}\n```\n"
        return [why for c in calls(text) if (why := problems(c))]

    for statement in good:
        assert check(statement) == [], statement
    for statement, expected in bad.items():
        found = check(statement)
        assert found and expected in found[0], (statement, found)
