// Microsoft Entra app registrations, created with the Microsoft Graph Bicep extension in an order without
// circular references:
//   1. the SPA app (public client; redirect URIs of the static web app and the local SWA CLI),
//   2. the API app, which names the SPA in knownClientApplications and pre-authorizes it for
//      `user_impersonation` (a deterministic scope id), asks for the delegated Graph permissions main.bicep
//      derives from graphScopes and reportGraphScopes, issues v2 access tokens, and registers the SPA's
//      origins as web reply URLs so that the admin-consent endpoint can return there,
//   3. their service principals, and Microsoft Graph's existing one,
//   4. the federated identity credential that makes the function app's managed identity the API app's
//      credential (no client secret); skipped when no identity exists (entraOnly),
//   5. optionally, tenant-wide admin consent (oauth2PermissionGrants).
// The API app's identifier URI `api://{appId}` is added afterwards by api-exposure.bicep: the appId exists
// only once the app has been created. Both declarations carry the same `api`, `web` and
// `requiredResourceAccess`, so re-provisioning never drops the pre-authorization (see docs/deploy.md).

extension microsoftGraphV1

@description('azd environment name, part of the display names.')
param environmentName string

@description('Suffix that makes the unique names unique per subscription, environment and region.')
param resourceToken string

@description('Default host name of the static web app serving the SPA. Empty: no static web app (entraOnly).')
param staticWebAppHostname string = ''

@description('Additional SPA redirect URIs for local development (the SWA CLI on port 4280).')
param localRedirectUris array = [
  'http://localhost:4280/'
  'http://localhost:4280/redirect.html'
]

@description('Principal (object) id of the function app managed identity, the subject of the federated credential. Empty: no credential (entraOnly).')
param managedIdentityPrincipalId string = ''

@description('Grant tenant-wide admin consent to the delegated permissions below (needs Cloud Application Administrator, Application Administrator or a higher role).')
param grantAdminConsent bool = false

@description('Delegated Microsoft Graph permissions the API app requests and is granted: the union of GRAPH_SCOPES, REPORT_GRAPH_SCOPES and openid profile offline_access, derived in main.bicep.')
param apiGraphPermissions array

// Microsoft Graph's application id and the well-known ids of its delegated permissions (the same in every
// tenant). graph-permissions.json is the one list of permission names the deployment can request.
var graphAppId = '00000003-0000-0000-c000-000000000000'
var graphDelegatedPermissionIds = loadJsonContent('graph-permissions.json')
var spaGraphPermissions = [
  'openid'
  'profile'
  'offline_access'
]

var hostedSpaRedirectUris = empty(staticWebAppHostname) ? [] : [
  'https://${staticWebAppHostname}/'
  'https://${staticWebAppHostname}/redirect.html'
]
// The admin-consent endpoint returns to a web reply URL of the app consented to; Entra refuses a request
// whose redirect_uri is not registered (AADSTS500113). The SPA's origins (hosted and local) serve that.
var localSpaOrigins = filter(localRedirectUris, uri => endsWith(uri, '/'))
var adminConsentRedirectUris = concat(empty(staticWebAppHostname) ? [] : [
  'https://${staticWebAppHostname}/'
], localSpaOrigins)

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
      id: contains(graphDelegatedPermissionIds, permission) ? graphDelegatedPermissionIds[permission] : fail('No Microsoft Graph permission id is known for ${permission}: add it to infra/entra/graph-permissions.json.')
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
    redirectUris: concat(hostedSpaRedirectUris, localRedirectUris)
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

// The SPA's appId and the scope id are known before the API app exists, so the pre-authorization is part of
// this first declaration: a re-deployment never removes it, even for the moment before api-exposure.bicep.
var apiSection = {
  requestedAccessTokenVersion: 2
  oauth2PermissionScopes: apiPermissionScopes
  knownClientApplications: [
    spaApp.appId
  ]
  preAuthorizedApplications: [
    {
      appId: spaApp.appId
      delegatedPermissionIds: [
        userImpersonationScopeId
      ]
    }
  ]
}

resource apiApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: apiUniqueName
  displayName: 'Profile API (${environmentName})'
  signInAudience: 'AzureADMyOrg'
  api: apiSection
  web: {
    redirectUris: adminConsentRedirectUris
  }
  requiredResourceAccess: apiRequiredResourceAccess
}

resource apiServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: apiApp.appId
}

// The managed identity's token (audience api://AzureADTokenExchange) is the API app's client assertion.
resource apiFederatedCredential 'Microsoft.Graph/applications/federatedIdentityCredentials@v1.0' = if (!empty(managedIdentityPrincipalId)) {
  name: '${apiApp.uniqueName}/function-app-managed-identity'
  description: 'The profile function app managed identity signs the On-Behalf-Of exchange for this app.'
  audiences: [
    'api://AzureADTokenExchange'
  ]
  issuer: federatedCredentialIssuer
  subject: managedIdentityPrincipalId
}

// Tenant-wide admin consent, the tutorials' "Grant admin consent for Default Directory" step. Users cannot
// consent interactively to what the API asks of Graph during On-Behalf-Of (the SPA is pre-authorized, so no
// prompt ever shows the API's permissions), and GroupMember.Read.All needs an administrator anyway: without
// these grants, or an administrator consenting later, the API answers `consent_required`.
resource apiGraphConsent 'Microsoft.Graph/oauth2PermissionGrants@v1.0' = if (grantAdminConsent) {
  clientId: apiServicePrincipal.id
  consentType: 'AllPrincipals'
  resourceId: graphServicePrincipal.id
  scope: empty(apiGraphPermissions) ? fail('grantAdminConsent is true but apiGraphPermissions is empty: there is nothing to consent to.') : join(apiGraphPermissions, ' ')
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
output apiSection object = apiSection
output apiWebRedirectUris array = adminConsentRedirectUris
output apiRequiredResourceAccess array = apiRequiredResourceAccess
output adminConsentRedirectUri string = empty(adminConsentRedirectUris) ? '' : first(adminConsentRedirectUris)
output localAdminConsentRedirectUri string = empty(localSpaOrigins) ? '' : first(localSpaOrigins)
output federatedCredentialIssuer string = federatedCredentialIssuer
output adminConsentGranted bool = grantAdminConsent
