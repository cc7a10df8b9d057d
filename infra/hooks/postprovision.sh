#!/bin/sh
# azd postprovision hook: records the deployment's public settings and says what is left to do.
# azd exports the environment's values (the outputs of infra/main.bicep) to this script. Nothing written
# here is a secret: client ids, URLs and the admin-consent state only. The static web app's deployment
# token is never fetched or written.
set -eu

out_dir=".azure/${AZURE_ENV_NAME:?AZURE_ENV_NAME is not set; run this through azd}"
mkdir -p "$out_dir"
out="$out_dir/deployment.json"

json_string() {
  # Prints its argument as a JSON string (the values are ids, names and URLs: no control characters).
  printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

json_bool() {
  [ "$1" = "true" ] && echo true || echo false
}

{
  printf '{\n'
  printf '  "tenantId": %s,\n' "$(json_string "${AZURE_TENANT_ID:-}")"
  printf '  "resourceGroup": %s,\n' "$(json_string "${AZURE_RESOURCE_GROUP:-}")"
  printf '  "entraOnly": %s,\n' "$(json_bool "${ENTRA_ONLY:-false}")"
  printf '  "functionPlan": %s,\n' "$(json_string "${FUNCTION_PLAN:-}")"
  printf '  "apiClientId": %s,\n' "$(json_string "${API_CLIENT_ID:-}")"
  printf '  "apiIdentifierUri": %s,\n' "$(json_string "${API_IDENTIFIER_URI:-}")"
  printf '  "apiScope": %s,\n' "$(json_string "${API_SCOPE:-}")"
  printf '  "spaClientId": %s,\n' "$(json_string "${SPA_CLIENT_ID:-}")"
  printf '  "functionAppName": %s,\n' "$(json_string "${FUNCTION_APP_NAME:-}")"
  printf '  "functionAppUrl": %s,\n' "$(json_string "${FUNCTION_APP_URL:-}")"
  printf '  "staticWebAppName": %s,\n' "$(json_string "${STATIC_WEB_APP_NAME:-}")"
  printf '  "staticWebAppUrl": %s,\n' "$(json_string "${STATIC_WEB_APP_URL:-}")"
  printf '  "tokenCache": %s,\n' "$(json_string "${TOKEN_CACHE:-memory}")"
  printf '  "adminConsentGranted": %s,\n' "$(json_bool "${ADMIN_CONSENT_GRANTED:-false}")"
  printf '  "adminConsentRedirectUri": %s,\n' "$(json_string "${ADMIN_CONSENT_REDIRECT_URI:-}")"
  printf '  "adminConsentUrl": %s\n' "$(json_string "${ADMIN_CONSENT_URL:-}")"
  printf '}\n'
} > "$out"

echo "Wrote $out"
if [ "${ENTRA_ONLY:-false}" = "true" ]; then
  echo "App registrations only (ENTRA_ONLY=true): nothing billable was deployed."
  echo "Write local.settings.json for the local stack against this tenant:"
  echo "  azd env get-values | .venv/bin/python scripts/real_tenant_settings.py"
else
  echo "Front end:  ${STATIC_WEB_APP_URL:-?}"
  echo "API:        ${FUNCTION_APP_URL:-?}/api (reached through the front end's /api)"
  if [ "${FUNCTION_PLAN:-}" = "ElasticPremium" ]; then
    echo ""
    echo "Elastic Premium runs the package blob ${FUNCTION_APP_PACKAGE_URL:-?}: publish the api service with the"
    echo "package steps of docs/deploy.md ('azd deploy api' does not apply to this plan); 'azd deploy web' does."
  fi
  if [ "${TOKEN_CACHE:-memory}" = "memory" ] && [ "${FUNCTION_PLAN:-}" = "FlexConsumption" ]; then
    echo ""
    echo "Note: with the in-memory token cache on Flex Consumption, profile reports can end with"
    echo "interaction_required (the report's activities run on other instances than the request that"
    echo "started them). Turn on ENABLE_REDIS_TOKEN_CACHE for reports; the profile call works either way."
  fi
fi
if [ "${ADMIN_CONSENT_GRANTED:-false}" != "true" ]; then
  echo ""
  echo "Admin consent was not granted by this deployment (GRANT_ADMIN_CONSENT=false)."
  echo "Until an administrator consents, profile requests answer consent_required. An administrator"
  echo "(Cloud Application Administrator, Application Administrator or higher) consents here:"
  echo "  ${ADMIN_CONSENT_URL:-}"
  echo "or with the Azure CLI, for both apps:"
  echo "  az ad app permission admin-consent --id ${API_CLIENT_ID:-<API_CLIENT_ID>}"
  echo "  az ad app permission admin-consent --id ${SPA_CLIENT_ID:-<SPA_CLIENT_ID>}"
  echo "or re-run 'azd provision' after 'azd env set GRANT_ADMIN_CONSENT true'."
fi
