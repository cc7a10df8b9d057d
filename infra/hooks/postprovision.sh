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

{
  printf '{\n'
  printf '  "tenantId": %s,\n' "$(json_string "${AZURE_TENANT_ID:-}")"
  printf '  "resourceGroup": %s,\n' "$(json_string "${AZURE_RESOURCE_GROUP:-}")"
  printf '  "apiClientId": %s,\n' "$(json_string "${API_CLIENT_ID:-}")"
  printf '  "apiIdentifierUri": %s,\n' "$(json_string "${API_IDENTIFIER_URI:-}")"
  printf '  "apiScope": %s,\n' "$(json_string "${API_SCOPE:-}")"
  printf '  "spaClientId": %s,\n' "$(json_string "${SPA_CLIENT_ID:-}")"
  printf '  "functionAppName": %s,\n' "$(json_string "${FUNCTION_APP_NAME:-}")"
  printf '  "functionAppUrl": %s,\n' "$(json_string "${FUNCTION_APP_URL:-}")"
  printf '  "staticWebAppName": %s,\n' "$(json_string "${STATIC_WEB_APP_NAME:-}")"
  printf '  "staticWebAppUrl": %s,\n' "$(json_string "${STATIC_WEB_APP_URL:-}")"
  printf '  "tokenCache": %s,\n' "$(json_string "${TOKEN_CACHE:-memory}")"
  printf '  "adminConsentGranted": %s,\n' "$( [ "${ADMIN_CONSENT_GRANTED:-false}" = "true" ] && echo true || echo false)"
  printf '  "adminConsentUrl": %s\n' "$(json_string "${ADMIN_CONSENT_URL:-}")"
  printf '}\n'
} > "$out"

echo "Wrote $out"
echo "Front end:  ${STATIC_WEB_APP_URL:-?}"
echo "API:        ${FUNCTION_APP_URL:-?}/api (reached through the front end's /api)"
if [ "${ADMIN_CONSENT_GRANTED:-false}" != "true" ]; then
  echo ""
  echo "Admin consent was not granted by this deployment (GRANT_ADMIN_CONSENT=false)."
  echo "Until an administrator consents, profile requests answer consent_required. Consent here:"
  echo "  ${ADMIN_CONSENT_URL:-}"
  echo "or re-run 'azd provision' with 'azd env set GRANT_ADMIN_CONSENT true' as a Privileged Role Administrator."
fi
