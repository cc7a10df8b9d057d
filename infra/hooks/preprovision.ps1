# azd preprovision hook (Windows): stops before anything is deployed when the tools are too old for these
# templates. The Microsoft Graph Bicep extension (microsoftgraph/v1.0:1.0.0) needs Bicep 0.36.1 or later;
# azd bundles its own Bicep, and azd 1.17.0 is the first release that bundles 0.36.1 (docs/deploy.md,
# "Before you start"). This hook also covers AZD_BICEP_TOOL_PATH, which makes azd use another Bicep binary.
$ErrorActionPreference = 'Stop'

$minAzd = [version]'1.17.0'
$minBicep = [version]'0.36.1'

function Get-FirstVersion([string]$text) {
  $match = [regex]::Match($text, '\d+\.\d+\.\d+')
  if ($match.Success) { return [version]$match.Value }
  return $null
}

$failed = $false

try {
  $azdOutput = (& azd version 2>$null) -join ' '
} catch {
  $azdOutput = ''
}
$azdVersion = Get-FirstVersion $azdOutput
if (-not $azdVersion) {
  Write-Error "preprovision: could not read the azd version ('$azdOutput'); azd $minAzd or later is needed." -ErrorAction Continue
  $failed = $true
} elseif ($azdVersion -lt $minAzd) {
  Write-Error ("preprovision: azd $azdVersion is too old: its Bicep cannot load the Microsoft Graph extension " +
    "microsoftgraph/v1.0:1.0.0. Install azd $minAzd or later (https://aka.ms/azd-install).") -ErrorAction Continue
  $failed = $true
}

if ($env:AZD_BICEP_TOOL_PATH) {
  try {
    $bicepOutput = (& $env:AZD_BICEP_TOOL_PATH --version 2>$null) -join ' '
  } catch {
    $bicepOutput = ''
  }
  $bicepVersion = Get-FirstVersion $bicepOutput
  if (-not $bicepVersion -or $bicepVersion -lt $minBicep) {
    Write-Error ("preprovision: AZD_BICEP_TOOL_PATH=$env:AZD_BICEP_TOOL_PATH is Bicep $bicepVersion; the Microsoft " +
      "Graph extension needs Bicep $minBicep or later. Update it, or unset AZD_BICEP_TOOL_PATH.") -ErrorAction Continue
    $failed = $true
  }
}

if ($failed) { exit 1 }
Write-Host "preprovision: azd $azdVersion can deploy the Microsoft Graph extension resources."
