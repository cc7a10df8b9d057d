// Entry point for `azd up` / `az deployment sub create`: one resource group holding the function app
// (Flex Consumption or Elastic Premium, Python 3.11), its storage, identity and telemetry, the Static Web App
// linked to it, the optional Redis token cache, and the Microsoft Entra app registrations that secure them.
// With entraOnly=true only the app registrations (and the optional admin consent) are created: nothing billed.
targetScope = 'subscription'

@description('azd environment name; names, tags and app registrations derive from it.')
@minLength(1)
@maxLength(20)
param environmentName string

@description('Region of the function app and its resources (a region with the chosen hosting plan).')
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

@description('Create only the two app registrations (and the admin consent, if granted): no billable resource. For pointing the local stack at a real tenant.')
param entraOnly bool = false

@description('Hosting plan of the function app: FlexConsumption, or ElasticPremium (the plan Static Web Apps documents for linked backends).')
@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param functionPlan string = 'FlexConsumption'

@description('Grant tenant-wide admin consent to the permissions of the API app and the SPA app. Needs Cloud Application Administrator or Application Administrator (or a higher role).')
param grantAdminConsent bool = false

@description('Deploy Azure Managed Redis (Entra authentication) as the shared On-Behalf-Of token cache.')
param enableRedisTokenCache bool = false

@description('TOKEN_CACHE_KEYS for the Redis token cache: kid:base64key pairs separated by commas, the first one encrypts. Required when the Redis cache is on.')
@secure()
param tokenCacheKeys string = ''

@description('Delegated Microsoft Graph permissions the profile call uses (space separated). The API app requests and is granted exactly these plus reportGraphScopes.')
param graphScopes string = 'User.Read'

@description('Delegated Microsoft Graph permissions the report job uses (space separated).')
param reportGraphScopes string = 'User.Read User.ReadBasic.All GroupMember.Read.All'

@description('Serve /api/diagnostics in Azure. It is anonymous (excluded from App Service authentication) and never shows secrets, but it describes the deployment.')
param diagnosticsEnabled bool = false

@description('SPA redirect URIs for local development (the SWA CLI); those ending in / are also admin-consent reply URLs.')
param localRedirectUris array = [
  'http://localhost:4280/'
  'http://localhost:4280/redirect.html'
]

@description('Maximum function app instances; 0 picks one: 40 per scale group on Flex Consumption, and on Elastic Premium 1 without the Redis cache, 20 with it. Flex Consumption allows 1 to 1000, Elastic Premium 1 to 100.')
@minValue(0)
@maxValue(1000)
param maximumInstanceCount int = 0

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var tenantId = tenant().tenantId
var loginEndpoint = environment().authentication.loginEndpoint
var authorityHost = endsWith(loginEndpoint, '/') ? substring(loginEndpoint, 0, length(loginEndpoint) - 1) : loginEndpoint
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var deployPlatform = !entraOnly
var isFlex = functionPlan == 'FlexConsumption'
var useRedis = deployPlatform && enableRedisTokenCache

// ---------------------------------------------------------------------------------------------------------
// Provisioning checks: parameters that contradict each other stop the deployment before anything is created,
// with messages that name the parameters (docs/deploy.md, "What provisioning checks for you"). The resource
// group, the first resource every deployment writes, carries the check. Compound conditions are
// parenthesized throughout.

// One source of truth for delegated Graph permissions: the API app requests, and admin consent grants,
// exactly the scopes the app asks for at run time, plus the OpenID scopes MSAL adds itself.
var knownGraphPermissions = loadJsonContent('entra/graph-permissions.json')
var oidcScopes = [
  'openid'
  'profile'
  'offline_access'
]
var profileScopes = filter(split(graphScopes, ' '), scope => !empty(scope))
var reportScopes = filter(split(reportGraphScopes, ' '), scope => !empty(scope))
var runtimeScopes = union(profileScopes, reportScopes)
var apiGraphPermissions = union(runtimeScopes, oidcScopes)
var requestableScopes = filter(objectKeys(knownGraphPermissions), name => !contains(oidcScopes, name))
var reservedScopesListed = filter(runtimeScopes, scope => contains(oidcScopes, toLower(scope)))
var unknownScopes = filter(runtimeScopes, scope => !contains(knownGraphPermissions, scope))
var reservedScopesProblem = empty(reservedScopesListed) ? '' : 'graphScopes and reportGraphScopes must not list ${join(reservedScopesListed, ', ')}: MSAL adds openid, profile and offline_access itself.'
var unknownScopesProblem = empty(unknownScopes) ? '' : 'No Microsoft Graph permission id is known for ${join(unknownScopes, ', ')} (graphScopes / reportGraphScopes): add it to infra/entra/graph-permissions.json, or use one of ${join(requestableScopes, ', ')}.'
var graphScopeProblem = empty(profileScopes) ? 'graphScopes (GRAPH_SCOPES) is empty: name at least one delegated Microsoft Graph permission, for example User.Read.' : (empty(reportScopes) ? 'reportGraphScopes (REPORT_GRAPH_SCOPES) is empty: name the delegated Microsoft Graph permissions the report job uses.' : (empty(reservedScopesProblem) ? unknownScopesProblem : reservedScopesProblem))

// The shared cache needs at least one well-formed key: TOKEN_CACHE=redis without keys answers every request
// with `misconfigured`. A message never carries key material, only how many entries are wrong.
var base64KeyLengths = [
  24
  32
  44
]
var tokenCacheKeyEntries = filter(split(tokenCacheKeys, ','), entry => !empty(trim(entry)))
var malformedTokenCacheKeys = filter(tokenCacheKeyEntries, entry => (length(split(trim(entry), ':')) != 2) || (empty(first(split(trim(entry), ':'))) || (!contains(base64KeyLengths, length(last(split(trim(entry), ':')))))))
var tokenCacheKeysProblem = empty(tokenCacheKeyEntries) ? 'enableRedisTokenCache is true but tokenCacheKeys (TOKEN_CACHE_KEYS) is empty: set it to kid:base64key, for example azd env set TOKEN_CACHE_KEYS "k1:$(openssl rand -base64 32)".' : (empty(malformedTokenCacheKeys) ? '' : 'tokenCacheKeys (TOKEN_CACHE_KEYS) must be kid:base64key entries with 128, 192 or 256-bit keys; entries that are not: ${length(malformedTokenCacheKeys)}.')
var tokenCacheProblem = enableRedisTokenCache ? (entraOnly ? 'enableRedisTokenCache and entraOnly contradict each other: entraOnly deploys neither a Redis cache nor a function app.' : tokenCacheKeysProblem) : ''

// Scale-out. Flex Consumption accepts a maximum of 1 to 1000 per scale group, Elastic Premium 1 to 100 for
// the app. With the in-memory token cache a report job needs its starter and its activities in one process:
// Elastic Premium then defaults to one instance. Flex Consumption cannot promise that (HTTP and Durable
// Functions triggers scale in separate groups), so reports there need the Redis cache (docs/deploy.md).
var defaultInstanceCount = isFlex ? 40 : (enableRedisTokenCache ? 20 : 1)
var instanceCount = (maximumInstanceCount == 0) ? defaultInstanceCount : maximumInstanceCount
var instanceCountProblem = ((!isFlex) && (instanceCount > 100)) ? 'maximumInstanceCount (FUNCTION_APP_MAXIMUM_INSTANCES) is ${instanceCount}, but Elastic Premium scales out to at most 100 instances.' : ''

// The API app's admin-consent reply URLs are the SPA origins: with entraOnly only the local ones exist.
var localOrigins = filter(localRedirectUris, uri => endsWith(uri, '/'))
var redirectProblem = empty(localOrigins) ? 'localRedirectUris has no SPA origin ending in /, which the admin-consent endpoint needs as reply URL: add http://localhost:4280/.' : ''

var provisioningProblems = filter([
  graphScopeProblem
  tokenCacheProblem
  instanceCountProblem
  redirectProblem
], problem => !empty(problem))
// ---------------------------------------------------------------------------------------------------------

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? '${abbrs.resourcesResourceGroups}${environmentName}' : resourceGroupName
  location: location
  // While a check fails, the first resource is not written, and so nothing else is.
  tags: empty(provisioningProblems) ? tags : fail('Provisioning stopped: ${join(provisioningProblems, ' ')}')
}

module identity 'core/identity.bicep' = if (deployPlatform) {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'core/monitoring.bicep' = if (deployPlatform) {
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

module storage 'core/storage.bicep' = if (deployPlatform) {
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

module web 'app/static-web-app.bicep' = if (deployPlatform) {
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
    staticWebAppHostname: deployPlatform ? web.outputs.defaultHostname : ''
    localRedirectUris: localRedirectUris
    managedIdentityPrincipalId: deployPlatform ? identity.outputs.principalId : ''
    grantAdminConsent: grantAdminConsent
    apiGraphPermissions: apiGraphPermissions
  }
}

module apiExposure 'entra/api-exposure.bicep' = {
  name: 'api-exposure'
  scope: rg
  params: {
    uniqueName: appRegistrations.outputs.apiUniqueName
    displayName: appRegistrations.outputs.apiDisplayName
    appId: appRegistrations.outputs.apiAppId
    apiSection: appRegistrations.outputs.apiSection
    webRedirectUris: appRegistrations.outputs.apiWebRedirectUris
    requiredResourceAccess: appRegistrations.outputs.apiRequiredResourceAccess
  }
}

module redis 'app/redis.bicep' = if (useRedis) {
  name: 'redis'
  scope: rg
  params: {
    name: '${abbrs.cacheRedisEnterprise}${resourceToken}'
    location: location
    tags: tags
    clientPrincipalId: identity.outputs.principalId
  }
}

module api 'app/function-app.bicep' = if (deployPlatform) {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}api-${resourceToken}'
    hostingPlan: functionPlan
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
    adminConsentRedirectUri: appRegistrations.outputs.adminConsentRedirectUri
    graphScopes: join(profileScopes, ' ')
    reportGraphScopes: join(reportScopes, ' ')
    diagnosticsEnabled: diagnosticsEnabled
    redisHostName: useRedis ? redis.outputs.hostName : ''
    redisPort: useRedis ? redis.outputs.port : 10000
    redisUserObjectId: useRedis ? identity.outputs.principalId : ''
    tokenCacheKeys: tokenCacheKeys
    maximumInstanceCount: instanceCount
  }
  dependsOn: [
    apiExposure
  ]
}

module linkedBackend 'app/linked-backend.bicep' = if (deployPlatform) {
  name: 'linked-backend'
  scope: rg
  params: {
    staticWebAppName: web.outputs.name
    backendResourceId: api.outputs.id
    backendLocation: api.outputs.location
  }
}

// Non-secret values azd stores in .azure/<env>/.env; the hooks, scripts/real_tenant_settings.py and the docs
// use them. With entraOnly the platform outputs are empty.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output ENTRA_ONLY bool = entraOnly
output FUNCTION_PLAN string = deployPlatform ? functionPlan : ''
output AUTHORITY_HOST string = authorityHost
// Microsoft Graph v1.0 in the public cloud, the only cloud the Graph Bicep extension deploys to.
output GRAPH_BASE_URL string = 'https://graph.microsoft.com/v1.0'
output GRAPH_SCOPES string = join(profileScopes, ' ')
output REPORT_GRAPH_SCOPES string = join(reportScopes, ' ')
output API_CLIENT_ID string = appRegistrations.outputs.apiAppId
output API_IDENTIFIER_URI string = apiExposure.outputs.identifierUri
output API_SCOPE string = apiExposure.outputs.apiScope
output SPA_CLIENT_ID string = appRegistrations.outputs.spaAppId
output MANAGED_IDENTITY_CLIENT_ID string = deployPlatform ? identity.outputs.clientId : ''
output FUNCTION_APP_NAME string = deployPlatform ? api.outputs.name : ''
output FUNCTION_APP_URL string = deployPlatform ? api.outputs.url : ''
output FUNCTION_APP_PACKAGE_URL string = deployPlatform ? api.outputs.packageUrl : ''
output STORAGE_ACCOUNT_NAME string = deployPlatform ? storage.outputs.name : ''
output STATIC_WEB_APP_NAME string = deployPlatform ? web.outputs.name : ''
output STATIC_WEB_APP_URL string = deployPlatform ? web.outputs.url : ''
output APPLICATIONINSIGHTS_NAME string = deployPlatform ? monitoring.outputs.applicationInsightsName : ''
output TOKEN_CACHE string = useRedis ? 'redis' : 'memory'
output ADMIN_CONSENT_GRANTED bool = appRegistrations.outputs.adminConsentGranted
output ADMIN_CONSENT_REDIRECT_URI string = appRegistrations.outputs.adminConsentRedirectUri
output LOCAL_ADMIN_CONSENT_REDIRECT_URI string = appRegistrations.outputs.localAdminConsentRedirectUri
output ADMIN_CONSENT_URL string = '${loginEndpoint}${tenantId}/adminconsent?client_id=${appRegistrations.outputs.apiAppId}&redirect_uri=${uriComponent(appRegistrations.outputs.adminConsentRedirectUri)}'
