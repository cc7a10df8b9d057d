// Entry point for `azd up` / `az deployment sub create`: one resource group holding the function app
// (Flex Consumption, Python 3.11), its storage, identity and telemetry, the Static Web App linked to it,
// the optional Redis token cache, and the Microsoft Entra app registrations that secure them.
targetScope = 'subscription'

@description('azd environment name; names, tags and app registrations derive from it.')
@minLength(1)
@maxLength(20)
param environmentName string

@description('Region of the function app and its resources (a region with Flex Consumption).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Region of the static web app (one of the regions Static Web Apps runs in).')
@allowed([
  'centralus'
  'eastasia'
  'eastus2'
  'westeurope'
  'westus2'
])
param staticWebAppLocation string = 'westeurope'

@description('Name of the resource group. Empty: rg-{environmentName}.')
param resourceGroupName string = ''

@description('Grant tenant-wide admin consent for the API\'s Microsoft Graph permissions and the SPA\'s access to the API. Needs Privileged Role Administrator (or Global Administrator).')
param grantAdminConsent bool = false

@description('Deploy Azure Managed Redis (Entra authentication) as the shared On-Behalf-Of token cache.')
param enableRedisTokenCache bool = false

@description('TOKEN_CACHE_KEYS for the Redis token cache (kid:base64key pairs, first one encrypts). Required when the Redis cache is on.')
@secure()
param tokenCacheKeys string = ''

@description('Delegated Microsoft Graph permissions the profile call uses (space separated).')
param graphScopes string = 'User.Read'

@description('Delegated Microsoft Graph permissions the report job uses (space separated).')
param reportGraphScopes string = 'User.Read User.ReadBasic.All GroupMember.Read.All'

@description('Serve /api/diagnostics in Azure (it never shows secrets, but it describes the deployment).')
param diagnosticsEnabled bool = false

@description('SPA redirect URIs for local development (the SWA CLI).')
param localRedirectUris array = [
  'http://localhost:4280/'
  'http://localhost:4280/redirect.html'
]

@description('Maximum number of function app instances.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var tenantId = tenant().tenantId
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'core/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'core/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    publisherPrincipalId: identity.outputs.principalId
  }
}

module storage 'core/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    functionIdentityPrincipalId: identity.outputs.principalId
  }
}

module web 'app/static-web-app.bicep' = {
  name: 'web'
  scope: rg
  params: {
    name: '${abbrs.webStaticSites}web-${resourceToken}'
    location: staticWebAppLocation
    tags: union(tags, {
      'azd-service-name': 'web'
    })
  }
}

module appRegistrations 'entra/app-registrations.bicep' = {
  name: 'app-registrations'
  scope: rg
  params: {
    environmentName: environmentName
    resourceToken: resourceToken
    staticWebAppHostname: web.outputs.defaultHostname
    localRedirectUris: localRedirectUris
    managedIdentityPrincipalId: identity.outputs.principalId
    grantAdminConsent: grantAdminConsent
  }
}

module apiExposure 'entra/api-exposure.bicep' = {
  name: 'api-exposure'
  scope: rg
  params: {
    uniqueName: appRegistrations.outputs.apiUniqueName
    displayName: appRegistrations.outputs.apiDisplayName
    appId: appRegistrations.outputs.apiAppId
    spaAppId: appRegistrations.outputs.spaAppId
    permissionScopes: appRegistrations.outputs.apiPermissionScopes
    requiredResourceAccess: appRegistrations.outputs.apiRequiredResourceAccess
  }
}

module redis 'app/redis.bicep' = if (enableRedisTokenCache) {
  name: 'redis'
  scope: rg
  params: {
    name: '${abbrs.cacheRedisEnterprise}${resourceToken}'
    location: location
    tags: tags
    clientPrincipalId: identity.outputs.principalId
  }
}

module api 'app/function-app.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}api-${resourceToken}'
    location: location
    tags: union(tags, {
      'azd-service-name': 'api'
    })
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    tenantId: tenantId
    apiClientId: appRegistrations.outputs.apiAppId
    spaClientId: appRegistrations.outputs.spaAppId
    staticWebAppHostname: web.outputs.defaultHostname
    graphScopes: graphScopes
    reportGraphScopes: reportGraphScopes
    diagnosticsEnabled: diagnosticsEnabled
    redisHostName: enableRedisTokenCache ? redis.outputs.hostName : ''
    redisPort: enableRedisTokenCache ? redis.outputs.port : 10000
    redisUserObjectId: enableRedisTokenCache ? identity.outputs.principalId : ''
    tokenCacheKeys: tokenCacheKeys
    maximumInstanceCount: maximumInstanceCount
  }
  dependsOn: [
    apiExposure
  ]
}

module linkedBackend 'app/linked-backend.bicep' = {
  name: 'linked-backend'
  scope: rg
  params: {
    staticWebAppName: web.outputs.name
    backendResourceId: api.outputs.id
    backendLocation: api.outputs.location
  }
}

// Non-secret values azd stores in .azure/<env>/.env and the hooks and docs use.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output API_CLIENT_ID string = appRegistrations.outputs.apiAppId
output API_IDENTIFIER_URI string = apiExposure.outputs.identifierUri
output API_SCOPE string = apiExposure.outputs.apiScope
output SPA_CLIENT_ID string = appRegistrations.outputs.spaAppId
output MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output FUNCTION_APP_NAME string = api.outputs.name
output FUNCTION_APP_URL string = api.outputs.url
output STATIC_WEB_APP_NAME string = web.outputs.name
output STATIC_WEB_APP_URL string = web.outputs.url
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output TOKEN_CACHE string = enableRedisTokenCache ? 'redis' : 'memory'
output ADMIN_CONSENT_GRANTED bool = appRegistrations.outputs.adminConsentGranted
output ADMIN_CONSENT_URL string = '${environment().authentication.loginEndpoint}${tenantId}/adminconsent?client_id=${appRegistrations.outputs.apiAppId}'
