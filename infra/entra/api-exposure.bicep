// Second step for the API app registration: "Expose an API" from the tutorials. `api://{appId}` can only be
// written once the appId exists, so app-registrations.bicep creates the app and this module declares the
// same application again (same uniqueName, the extension's upsert key) with the identical `api`, `web` and
// `requiredResourceAccess` it was created with, plus the identifier URI. The Graph extension updates an
// existing application with PATCH semantics (properties a declaration leaves out stay as they are), so the
// first step, which leaves identifierUris out, never removes the URI on a re-deployment, and the
// pre-authorization of the SPA is in both declarations (docs/deploy.md, "Why the identifier URI is a second
// step"). The audience the function accepts (`{appId}` and `api://{appId}`) matches the scope the SPA asks for.

extension microsoftGraphV1

@description('uniqueName of the API app created by app-registrations.bicep.')
param uniqueName string

@description('Display name of the API app (unchanged).')
param displayName string

@description('appId (client id) of the API app.')
param appId string

@description('The API app\'s `api` section as created (scopes, known client, pre-authorized SPA).')
param apiSection object

@description('The API app\'s web reply URLs as created (the admin-consent redirect URIs).')
param webRedirectUris array

@description('The API app\'s required resource access, as created.')
param requiredResourceAccess array

var identifierUri = 'api://${appId}'

resource apiApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  identifierUris: [
    identifierUri
  ]
  api: apiSection
  web: {
    redirectUris: webRedirectUris
  }
  requiredResourceAccess: requiredResourceAccess
}

output identifierUri string = identifierUri
output apiScope string = '${identifierUri}/user_impersonation'
