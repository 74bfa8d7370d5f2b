<#
.SYNOPSIS
    Site Recovery recovery-plan action: the ExpressRoute network switch of expressroute-dr.

.DESCRIPTION
    Site Recovery starts this runbook before the first boot group and passes the recovery plan
    context as the object parameter RecoveryPlanContext. Microsoft documents that hand-over for
    PowerShell runbooks only (https://learn.microsoft.com/azure/site-recovery/site-recovery-runbook-automation);
    Python runbooks take no named parameters, only positional string arguments, and no argument
    may contain a space (https://learn.microsoft.com/azure/automation/runbook-input-parameters).

    The network logic is the Python runbook named in the erdr-child-runbook variable
    (automation/network_switch.py, tested against fake ARM endpoints). This runbook hands it the
    context as one space-free argument, base64 of the context's JSON, starts it as a child job
    through the Automation REST API with the account's system-assigned identity, waits for it,
    writes the child's output into its own, and throws unless the child completed and reported
    success: a failed action stops the recovery plan before any VM boots onto an unswitched network.

    Every Automation API call has a timeout (Invoke-RestMethod's default is none) and is retried on
    429 (after Retry-After) and 5xx; the wait for the child has a deadline longer than the
    child's own, so the child reports its outcome first.

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

function ConvertTo-ContextArgument {
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
    $json = $Context | ConvertTo-Json -Depth 10 -Compress
    # A Python runbook gets its arguments split at spaces: base64 has none.
    return [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($json))
}

function Get-ArmToken {
    # The Automation sandbox's managed identity endpoint, as the Python runbook uses it.
    if (-not $env:IDENTITY_ENDPOINT -or -not $env:IDENTITY_HEADER) {
        throw 'network switch FAILED: no managed identity (IDENTITY_ENDPOINT/IDENTITY_HEADER not set)'
    }
    $uri = "$($env:IDENTITY_ENDPOINT)?resource=$ArmEndpoint/&api-version=2019-08-01"
    $headers = @{ 'X-IDENTITY-HEADER' = $env:IDENTITY_HEADER; 'Metadata' = 'true' }
    $answer = Invoke-RestMethod -Method Get -Uri $uri -Headers $headers -TimeoutSec $script:CallSeconds `
        -MaximumRetryCount $script:CallRetries -RetryIntervalSec 5
    return $answer.access_token
}

function Invoke-Arm {
    param([string]$Method, [string]$Path, [object]$Body = $null)
    # A token per call: the wait for the child can outlast one.
    $headers = @{ Authorization = "Bearer $(Get-ArmToken)" }
    $uri = "$ArmEndpoint$($Path)?api-version=$AutomationApiVersion"
    # Each call ends after TimeoutSec; 429 and 5xx are retried, a 429 after its Retry-After
    # (Invoke-RestMethod -RetryIntervalSec, PowerShell 7.4 reference).
    $call = @{
        Method            = $Method
        Uri               = $uri
        Headers           = $headers
        TimeoutSec        = $script:CallSeconds
        MaximumRetryCount = $script:CallRetries
        RetryIntervalSec  = 10
    }
    if ($null -ne $Body) {
        $call['ContentType'] = 'application/json'
        $call['Body'] = $Body | ConvertTo-Json -Depth 10 -Compress
    }
    return Invoke-RestMethod @call
}

function Get-ChildSettings {
    $raw = Get-AutomationVariable -Name 'erdr-child-runbook'
    if ($raw -is [string]) {
        return $raw | ConvertFrom-Json
    }
    return $raw
}

$contextArgument = ConvertTo-ContextArgument -Context $RecoveryPlanContext
$settings = Get-ChildSettings
$script:CallSeconds = [int]$settings.callSeconds
$script:CallRetries = [int]$settings.callRetries

# The account's ARM ID as the dr stack resolved it (model/identity.py); this runbook formats none.
$account = $settings.accountId
$jobName = [guid]::NewGuid().ToString()
$jobPath = "$account/jobs/$jobName"
$jobBody = @{
    properties = @{
        runbook    = @{ name = $settings.runbook }
        parameters = @{ RecoveryPlanContext = $contextArgument }
    }
}
$deadline = (Get-Date).AddSeconds([int]$settings.timeoutSeconds)
Invoke-Arm -Method 'Put' -Path $jobPath -Body $jobBody | Out-Null
Write-Output "started runbook $($settings.runbook) as job $jobName; waiting up to $($settings.timeoutSeconds) s"

$terminal = @('Completed', 'Failed', 'Stopped', 'Suspended')
$status = 'New'
$seen = $status
while (-not ($terminal -contains $status)) {
    if ((Get-Date) -gt $deadline) {
        throw "network switch FAILED: job $jobName still $status after $($settings.timeoutSeconds) s"
    }
    Start-Sleep -Seconds ([int]$settings.pollSeconds)
    try {
        $status = (Invoke-Arm -Method 'Get' -Path $jobPath).properties.status
    }
    catch {
        # One unanswered poll is not the child's outcome: say so and ask again, until the deadline.
        Write-Output "job $jobName status not read: $($_.Exception.Message); asking again"
    }
    if ($status -ne $seen) {
        Write-Output "job $jobName is $status"
        $seen = $status
    }
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
