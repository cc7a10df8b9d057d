// Microsoft Entra app registrations, created with the Microsoft Graph Bicep extension in an order without
// circular references:
//   1. the SPA app (public client; redirect URIs of the static web app and the local SWA CLI),
//   2. the API app, which names the SPA in knownClientApplications, exposes `user_impersonation` with a
//      deterministic scope id, asks for the delegated Graph permissions of the profile call and the report
//      job, and issues v2 access tokens,
//   3. their service principals, and Microsoft Graph's existing one,
//   4. the federated identity credential that makes the function app's managed identity the API app's
//      credential (no client secret),
//   5. optionally, tenant-wide admin consent (oauth2PermissionGrants), which needs a privileged role.
// The API app's identifier URI `api://{appId}` and its preAuthorizedApplications are set afterwards by
// api-exposure.bicep: the appId exists only once the app has been created (see docs/deploy.md).

extension microsoftGraphV1

@description('azd environment name, part of the display names.')
param environmentName string

@description('Suffix that makes the unique names unique per subscription, environment and region.')
param resourceToken string

@description('Default host name of the static web app serving the SPA.')
param staticWebAppHostname string

@description('Additional SPA redirect URIs for local development (the SWA CLI on port 4280).')
param localRedirectUris array = [
  'http://localhost:4280/'
  'http://localhost:4280/redirect.html'
]

@description('Principal (object) id of the function app managed identity: the subject of the federated credential.')
param managedIdentityPrincipalId string

@description('Grant tenant-wide admin consent (needs Privileged Role Administrator or Global Administrator).')
param grantAdminConsent bool = false

@description('Delegated Microsoft Graph permissions the API app requests (profile call and report job).')
param apiGraphPermissions array = [
  'User.Read'
  'User.ReadBasic.All'
  'GroupMember.Read.All'
  'offline_access'
  'openid'
  'profile'
]

// Microsoft Graph's application id and the well-known ids of its delegated permissions (the same in every tenant).
var graphAppId = '00000003-0000-0000-c000-000000000000'
var graphDelegatedPermissionIds = {
  'User.Read': 'e1fe6dd8-ba31-4d61-89e7-88639da4683d'
  'User.ReadBasic.All': 'b340eb25-3456-403f-be2f-af7a0d370277'
  'GroupMember.Read.All': 'bc024368-1153-4739-b217-4326f2e966d0'
  offline_access: '7427e0e9-2fba-42fe-b0c0-848c9e6a8182'
  openid: '37f7f235-527c-4136-accd-4a02d197296e'
  profile: '14dad69e-099b-42c9-810b-d002981feec1'
}
var spaGraphPermissions = [
  'openid'
  'profile'
  'offline_access'
]

var spaUniqueName = 'profile-spa-${environmentName}-${resourceToken}'
var apiUniqueName = 'profile-api-${environmentName}-${resourceToken}'

// A scope id must never change once published, so it is derived from values that do not change.
var userImpersonationScopeId = guid(tenant().tenantId, apiUniqueName, 'user_impersonation')
var apiPermissionScopes = [
  {
    id: userImpersonationScopeId
    value: 'user_impersonation'
    type: 'User'
    isEnabled: true
    adminConsentDisplayName: 'Read your Microsoft Graph profile through the profile API'
    adminConsentDescription: 'Allows the profile API to call Microsoft Graph as the signed-in user to read their profile and build their profile report.'
    userConsentDisplayName: 'Read your profile through the profile API'
    userConsentDescription: 'Allows the profile API to read your Microsoft Graph profile on your behalf.'
  }
]
var apiRequiredResourceAccess = [
  {
    resourceAppId: graphAppId
    resourceAccess: map(apiGraphPermissions, permission => {
      id: graphDelegatedPermissionIds[permission]
      type: 'Scope'
    })
  }
]
var federatedCredentialIssuer = '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'

resource graphServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: graphAppId
}

resource spaApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: spaUniqueName
  displayName: 'Profile SPA (${environmentName})'
  signInAudience: 'AzureADMyOrg'
  spa: {
    redirectUris: concat([
      'https://${staticWebAppHostname}/'
      'https://${staticWebAppHostname}/redirect.html'
    ], localRedirectUris)
  }
  requiredResourceAccess: [
    {
      resourceAppId: graphAppId
      resourceAccess: map(spaGraphPermissions, permission => {
        id: graphDelegatedPermissionIds[permission]
        type: 'Scope'
      })
    }
  ]
}

resource spaServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: spaApp.appId
}

resource apiApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: apiUniqueName
  displayName: 'Profile API (${environmentName})'
  signInAudience: 'AzureADMyOrg'
  api: {
    requestedAccessTokenVersion: 2
    oauth2PermissionScopes: apiPermissionScopes
    knownClientApplications: [
      spaApp.appId
    ]
  }
  requiredResourceAccess: apiRequiredResourceAccess
}

resource apiServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: apiApp.appId
}

// The managed identity's token (audience api://AzureADTokenExchange) is the API app's client assertion.
resource apiFederatedCredential 'Microsoft.Graph/applications/federatedIdentityCredentials@v1.0' = {
  name: '${apiApp.uniqueName}/function-app-managed-identity'
  description: 'The profile function app managed identity signs the On-Behalf-Of exchange for this app.'
  audiences: [
    'api://AzureADTokenExchange'
  ]
  issuer: federatedCredentialIssuer
  subject: managedIdentityPrincipalId
}

// Tenant-wide admin consent, the tutorials' "Grant admin consent for Default Directory" step. Users cannot
// consent interactively to what the API asks of Graph during On-Behalf-Of, so without these grants (or an
// administrator consenting later) the API answers `consent_required` with the admin-consent URL.
resource apiGraphConsent 'Microsoft.Graph/oauth2PermissionGrants@v1.0' = if (grantAdminConsent) {
  clientId: apiServicePrincipal.id
  consentType: 'AllPrincipals'
  resourceId: graphServicePrincipal.id
  scope: join(apiGraphPermissions, ' ')
}

resource spaApiConsent 'Microsoft.Graph/oauth2PermissionGrants@v1.0' = if (grantAdminConsent) {
  clientId: spaServicePrincipal.id
  consentType: 'AllPrincipals'
  resourceId: apiServicePrincipal.id
  scope: 'user_impersonation'
}

resource spaGraphConsent 'Microsoft.Graph/oauth2PermissionGrants@v1.0' = if (grantAdminConsent) {
  clientId: spaServicePrincipal.id
  consentType: 'AllPrincipals'
  resourceId: graphServicePrincipal.id
  scope: join(spaGraphPermissions, ' ')
}

output spaAppId string = spaApp.appId
output spaUniqueName string = spaApp.uniqueName
output apiAppId string = apiApp.appId
output apiUniqueName string = apiApp.uniqueName
output apiDisplayName string = apiApp.displayName
output apiPermissionScopes array = apiPermissionScopes
output apiRequiredResourceAccess array = apiRequiredResourceAccess
output federatedCredentialIssuer string = federatedCredentialIssuer
output adminConsentGranted bool = grantAdminConsent
