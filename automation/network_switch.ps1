<#
.SYNOPSIS
    Site Recovery recovery-plan action: the ExpressRoute network switch of expressroute-dr.

.DESCRIPTION
    Site Recovery starts this runbook before the first boot group and passes the recovery plan
    context as the object parameter RecoveryPlanContext. Microsoft documents that hand-over for
    PowerShell runbooks only (https://learn.microsoft.com/azure/site-recovery/site-recovery-runbook-automation);
    Python runbooks take positional string arguments only
    (https://learn.microsoft.com/azure/automation/runbook-input-parameters).

    The network logic is the Python runbook named in the erdr-child-runbook variable
    (automation/network_switch.py, tested against a fake ARM endpoint). This runbook passes it the
    context as JSON, starts it as a child job through the Automation REST API with the account's
    system-assigned identity, waits for it, and throws unless the child completed and reported
    success: a failed action stops the recovery plan before any VM boots onto an unswitched network.

    Runtime: PowerShell 7.4 (the runtime environment the dr stack creates). No modules are needed.
#>
param(
    [Parameter(Mandatory = $false)]
    [object]$RecoveryPlanContext
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3.0

# The line the Python runbook prints when the network reached its end state (SUCCESS_MARKER there).
$SuccessMarker = 'NETWORK SWITCH SUCCEEDED'
$AutomationApiVersion = '2024-10-23'
$ArmEndpoint = 'https://management.azure.com'

function ConvertTo-ContextJson {
    param([object]$Context)
    if ($null -eq $Context) {
        throw 'network switch FAILED: no RecoveryPlanContext; start this runbook from a recovery plan'
    }
    if ($Context -is [string]) {
        # A PowerShell 7 job may hand an object parameter over as its JSON text.
        $Context = $Context | ConvertFrom-Json
    }
    foreach ($name in @('FailoverType', 'FailoverDirection')) {
        if (-not ($Context.PSObject.Properties.Name -contains $name)) {
            throw "network switch FAILED: RecoveryPlanContext has no $name"
        }
    }
    # VmMap nests three levels (map, VM, fields): ConvertTo-Json's default depth of 2 would turn
    # the innermost objects into their type names.
    return $Context | ConvertTo-Json -Depth 10 -Compress
}

function Get-ArmToken {
    # The Automation sandbox's managed identity endpoint, as the Python runbook uses it.
    if (-not $env:IDENTITY_ENDPOINT -or -not $env:IDENTITY_HEADER) {
        throw 'network switch FAILED: no managed identity (IDENTITY_ENDPOINT/IDENTITY_HEADER not set)'
    }
    $uri = "$($env:IDENTITY_ENDPOINT)?resource=$ArmEndpoint/&api-version=2019-08-01"
    $answer = Invoke-RestMethod -Method Get -Uri $uri -Headers @{ 'X-IDENTITY-HEADER' = $env:IDENTITY_HEADER; 'Metadata' = 'true' }
    return $answer.access_token
}

function Invoke-Arm {
    param([string]$Method, [string]$Path, [object]$Body = $null)
    $headers = @{ Authorization = "Bearer $script:Token" }
    $uri = "$ArmEndpoint$($Path)?api-version=$AutomationApiVersion"
    if ($null -eq $Body) {
        return Invoke-RestMethod -Method $Method -Uri $uri -Headers $headers
    }
    $json = $Body | ConvertTo-Json -Depth 10 -Compress
    return Invoke-RestMethod -Method $Method -Uri $uri -Headers $headers -ContentType 'application/json' -Body $json
}

function Get-ChildSettings {
    $raw = Get-AutomationVariable -Name 'erdr-child-runbook'
    if ($raw -is [string]) {
        return $raw | ConvertFrom-Json
    }
    return $raw
}

$contextJson = ConvertTo-ContextJson -Context $RecoveryPlanContext
$settings = Get-ChildSettings
$script:Token = Get-ArmToken

$account = "/subscriptions/$($settings.subscriptionId)/resourceGroups/$($settings.resourceGroup)" +
    "/providers/Microsoft.Automation/automationAccounts/$($settings.automationAccount)"
$jobName = [guid]::NewGuid().ToString()
$jobPath = "$account/jobs/$jobName"
$jobBody = @{
    properties = @{
        runbook    = @{ name = $settings.runbook }
        parameters = @{ RecoveryPlanContext = $contextJson }
    }
}
Invoke-Arm -Method 'Put' -Path $jobPath -Body $jobBody | Out-Null
Write-Output "started runbook $($settings.runbook) as job $jobName"

$terminal = @('Completed', 'Failed', 'Stopped', 'Suspended')
$deadline = (Get-Date).AddSeconds([int]$settings.timeoutSeconds)
$status = 'New'
while (-not ($terminal -contains $status)) {
    if ((Get-Date) -gt $deadline) {
        throw "network switch FAILED: job $jobName still $status after $($settings.timeoutSeconds) s"
    }
    Start-Sleep -Seconds ([int]$settings.pollSeconds)
    $status = (Invoke-Arm -Method 'Get' -Path $jobPath).properties.status
}

$output = [string](Invoke-Arm -Method 'Get' -Path "$jobPath/output")
Write-Output $output
if ($status -ne 'Completed') {
    throw "network switch FAILED: job $jobName ended $status"
}
if (-not $output.Contains($SuccessMarker)) {
    throw "network switch FAILED: job $jobName completed without reporting '$SuccessMarker'"
}
Write-Output "$SuccessMarker (job $jobName)"
