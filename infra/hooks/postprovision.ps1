# azd postprovision hook (Windows): records the deployment's public settings and says what is left to do.
# azd exports the environment's values (the outputs of infra/main.bicep) to this script. Nothing written
# here is a secret: client ids, URLs and the admin-consent state only. The static web app's deployment
# token is never fetched or written.
$ErrorActionPreference = 'Stop'

if (-not $env:AZURE_ENV_NAME) { throw 'AZURE_ENV_NAME is not set; run this through azd.' }
$outDir = Join-Path '.azure' $env:AZURE_ENV_NAME
New-Item -ItemType Directory -Force -Path $outDir | Out-Null
$out = Join-Path $outDir 'deployment.json'

$granted = $env:ADMIN_CONSENT_GRANTED -eq 'true'
[ordered]@{
  tenantId           = "$env:AZURE_TENANT_ID"
  resourceGroup      = "$env:AZURE_RESOURCE_GROUP"
  apiClientId        = "$env:API_CLIENT_ID"
  apiIdentifierUri   = "$env:API_IDENTIFIER_URI"
  apiScope           = "$env:API_SCOPE"
  spaClientId        = "$env:SPA_CLIENT_ID"
  functionAppName    = "$env:FUNCTION_APP_NAME"
  functionAppUrl     = "$env:FUNCTION_APP_URL"
  staticWebAppName   = "$env:STATIC_WEB_APP_NAME"
  staticWebAppUrl    = "$env:STATIC_WEB_APP_URL"
  tokenCache         = $(if ($env:TOKEN_CACHE) { "$env:TOKEN_CACHE" } else { 'memory' })
  adminConsentGranted = $granted
  adminConsentUrl    = "$env:ADMIN_CONSENT_URL"
} | ConvertTo-Json | Set-Content -Encoding utf8 -Path $out

Write-Host "Wrote $out"
Write-Host "Front end:  $env:STATIC_WEB_APP_URL"
Write-Host "API:        $env:FUNCTION_APP_URL/api (reached through the front end's /api)"
if (-not $granted) {
  Write-Host ''
  Write-Host 'Admin consent was not granted by this deployment (GRANT_ADMIN_CONSENT=false).'
  Write-Host 'Until an administrator consents, profile requests answer consent_required. Consent here:'
  Write-Host "  $env:ADMIN_CONSENT_URL"
  Write-Host "or re-run 'azd provision' with 'azd env set GRANT_ADMIN_CONSENT true' as a Privileged Role Administrator."
}
