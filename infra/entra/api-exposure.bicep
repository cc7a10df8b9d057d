// Second step for the API app registration: "Expose an API" and "Add a client application" from the
// tutorials. `api://{appId}` can only be written once the appId exists, so app-registrations.bicep creates
// the app and this module declares the same application again (same uniqueName, the extension's upsert key)
// with the full definition plus the identifier URI and the SPA as a pre-authorized client of
// `user_impersonation`. The SPA therefore gets API tokens without a consent prompt, and the audience the
// function accepts (`{appId}` and `api://{appId}`) matches the scope the SPA asks for.

extension microsoftGraphV1

@description('uniqueName of the API app created by app-registrations.bicep.')
param uniqueName string

@description('Display name of the API app (unchanged).')
param displayName string

@description('appId (client id) of the API app.')
param appId string

@description('appId of the SPA app, the pre-authorized client.')
param spaAppId string

@description('The API app\'s delegated permission scopes, as created.')
param permissionScopes array

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
  api: {
    requestedAccessTokenVersion: 2
    oauth2PermissionScopes: permissionScopes
    knownClientApplications: [
      spaAppId
    ]
    preAuthorizedApplications: [
      {
        appId: spaAppId
        delegatedPermissionIds: map(permissionScopes, permissionScope => permissionScope.id)
      }
    ]
  }
  requiredResourceAccess: requiredResourceAccess
}

output identifierUri string = identifierUri
output apiScope string = '${identifierUri}/user_impersonation'
