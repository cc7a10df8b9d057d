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
$entraOnly = $env:ENTRA_ONLY -eq 'true'
$tokenCache = $(if ($env:TOKEN_CACHE) { "$env:TOKEN_CACHE" } else { 'memory' })
[ordered]@{
  tenantId                = "$env:AZURE_TENANT_ID"
  resourceGroup           = "$env:AZURE_RESOURCE_GROUP"
  entraOnly               = $entraOnly
  functionPlan            = "$env:FUNCTION_PLAN"
  apiClientId             = "$env:API_CLIENT_ID"
  apiIdentifierUri        = "$env:API_IDENTIFIER_URI"
  apiScope                = "$env:API_SCOPE"
  spaClientId             = "$env:SPA_CLIENT_ID"
  functionAppName         = "$env:FUNCTION_APP_NAME"
  functionAppUrl          = "$env:FUNCTION_APP_URL"
  staticWebAppName        = "$env:STATIC_WEB_APP_NAME"
  staticWebAppUrl         = "$env:STATIC_WEB_APP_URL"
  tokenCache              = $tokenCache
  adminConsentGranted     = $granted
  adminConsentRedirectUri = "$env:ADMIN_CONSENT_REDIRECT_URI"
  adminConsentUrl         = "$env:ADMIN_CONSENT_URL"
} | ConvertTo-Json | Set-Content -Encoding utf8 -Path $out

Write-Host "Wrote $out"
if ($entraOnly) {
  Write-Host 'App registrations only (ENTRA_ONLY=true): nothing billable was deployed.'
  Write-Host 'Write local.settings.json for the local stack against this tenant (from WSL or Git Bash):'
  Write-Host '  azd env get-values | .venv/bin/python scripts/real_tenant_settings.py'
} else {
  Write-Host "Front end:  $env:STATIC_WEB_APP_URL"
  Write-Host "API:        $env:FUNCTION_APP_URL/api (reached through the front end's /api)"
  if ($env:FUNCTION_PLAN -eq 'ElasticPremium') {
    Write-Host ''
    Write-Host "Elastic Premium runs the package blob $($env:FUNCTION_APP_PACKAGE_URL): publish the api service with the"
    Write-Host "package steps of docs/deploy.md ('azd deploy api' does not apply to this plan); 'azd deploy web' does."
  }
  if ($tokenCache -eq 'memory' -and $env:FUNCTION_PLAN -eq 'FlexConsumption') {
    Write-Host ''
    Write-Host 'Note: with the in-memory token cache on Flex Consumption, profile reports can end with'
    Write-Host 'interaction_required (the report''s activities run on other instances than the request that'
    Write-Host 'started them). Turn on ENABLE_REDIS_TOKEN_CACHE for reports; the profile call works either way.'
  }
}
if (-not $granted) {
  Write-Host ''
  Write-Host 'Admin consent was not granted by this deployment (GRANT_ADMIN_CONSENT=false).'
  Write-Host 'Until an administrator consents, profile requests answer consent_required. An administrator'
  Write-Host '(Cloud Application Administrator, Application Administrator or higher) consents here:'
  Write-Host "  $env:ADMIN_CONSENT_URL"
  Write-Host 'or with the Azure CLI, for both apps:'
  Write-Host "  az ad app permission admin-consent --id $env:API_CLIENT_ID"
  Write-Host "  az ad app permission admin-consent --id $env:SPA_CLIENT_ID"
  Write-Host "or re-run 'azd provision' after 'azd env set GRANT_ADMIN_CONSENT true'."
}
