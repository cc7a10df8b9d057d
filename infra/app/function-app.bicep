// The back end: a Python 3.11 function app on Linux, on the Flex Consumption plan (FC1, the default) or the
// Elastic Premium plan (EP1, the plan Static Web Apps documents for linked backends), running as a
// user-assigned managed identity, with identity-based storage and telemetry, the app settings the code reads
// (docs/architecture.md), and App Service authentication built from infra/auth/authsettings.json, the same
// file the local host's authentication emulation loads.
//
// Both plans run without any storage key: Flex Consumption reads its package from the deployment container
// with the identity; Elastic Premium runs without the Azure Files content share (which only accepts a key)
// and mounts the package blob from the same container, also with the identity (docs/deploy.md).

@description('Name of the function app.')
param name string

@description('Name of the hosting plan.')
param planName string

@description('Hosting plan: FlexConsumption (FC1) or ElasticPremium (EP1).')
@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param hostingPlan string = 'FlexConsumption'

@description('Azure region.')
param location string

@description('Tags applied to the plan and the app; azd finds the `api` service by the azd-service-name tag.')
param tags object = {}

@description('Resource id of the user-assigned managed identity the app runs as.')
param identityId string

@description('Client id of that identity.')
param identityClientId string

@description('Name of the storage account (AzureWebJobsStorage, Durable Functions task hub).')
param storageAccountName string

@description('Blob endpoint of the storage account, for the deployment package.')
param storageBlobEndpoint string

@description('Blob container holding the deployment package.')
param deploymentContainerName string

@description('Elastic Premium only: name of the package blob in the deployment container that the app runs from.')
param packageBlobName string = 'api.zip'

@description('Application Insights connection string (not a secret: ingestion requires Entra authentication).')
param applicationInsightsConnectionString string

@description('Tenant id of the app registrations.')
param tenantId string

@description('Client id of the API app registration.')
param apiClientId string

@description('Client id of the SPA app registration.')
param spaClientId string

@description('Default host name of the linked static web app: the client id of the azureStaticWebApps provider.')
param staticWebAppHostname string

@description('Where the admin-consent endpoint returns to (a web reply URL of the API app): the SPA origin.')
param adminConsentRedirectUri string

@description('Delegated Microsoft Graph permissions for the profile call (space separated).')
param graphScopes string

@description('Delegated Microsoft Graph permissions for the report job (space separated).')
param reportGraphScopes string

@description('Serve /api/diagnostics.')
param diagnosticsEnabled bool = false

@description('Host name of the Redis token cache. Empty: the in-memory cache.')
param redisHostName string = ''

@description('TLS port of the Redis token cache.')
param redisPort int = 10000

@description('Object id the function app signs in to Redis with (Entra authentication).')
param redisUserObjectId string = ''

@description('TOKEN_CACHE_KEYS for the Redis token cache: kid1:base64key,kid2:base64key.')
@secure()
param tokenCacheKeys string = ''

@description('Maximum number of instances: per scale group on Flex Consumption (1-1000), for the whole app on Elastic Premium (1-100).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Flex Consumption only: memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

// How many get-profile requests one instance takes at once, and the Python worker's threads for them (one
// thread per request in flight, so none waits for a thread). Chosen with `make bench-sweep`
// (benchmarks/results/sweep.json, docs/performance.md "Concurrency sweep"): on one worker process, the largest
// concurrency whose p50 stayed within 5 ms of the Graph floor measured at the same concurrency was 32 in each of
// six sweeps (64 was 9-18 ms over). Without it Flex Consumption gives a Python app 1 request per instance, so
// every concurrent request waits for an instance of its own and pays a cold start. PYTHON_THREADPOOL_THREAD_COUNT
// allows at most 32, which is also this parameter's limit.
@description('Concurrent HTTP requests per instance, and Python worker threads to run them (1-32).')
@minValue(1)
@maxValue(32)
param httpPerInstanceConcurrency int = 32

var loginEndpoint = environment().authentication.loginEndpoint
var authorityHost = endsWith(loginEndpoint, '/') ? substring(loginEndpoint, 0, length(loginEndpoint) - 1) : loginEndpoint
var issuer = '${authorityHost}/${tenantId}/v2.0'
var useRedis = !empty(redisHostName)
var isFlex = hostingPlan == 'FlexConsumption'

// The App Service authentication settings are the file the local host emulates, with its placeholders
// filled in: one source of truth for which tokens, audiences and client applications are accepted.
var authSettingsTemplate = loadTextContent('../auth/authsettings.json')
var authSettings = json(replace(replace(replace(replace(authSettingsTemplate, '{{API_CLIENT_ID}}', apiClientId), '{{SPA_CLIENT_ID}}', spaClientId), '{{ISSUER}}', issuer), '{{SWA_CLIENT_ID}}', staticWebAppHostname))

var baseAppSettings = {
  // Identity-based host storage (the account has no shared keys).
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Telemetry authenticated with the managed identity (local auth is disabled on the component).
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The code lives in the function_app/ package; the worker loads main.py.
  PYTHON_SCRIPT_FILE_NAME: 'main.py'
  TENANT_ID: tenantId
  AUTHORITY_HOST: authorityHost
  // GRAPH_BASE_URL stays unset: the code's default is Microsoft Graph v1.0 (the `graph` entry of environment() is the retired
  // Azure AD Graph, so it must not be used here).
  API_CLIENT_ID: apiClientId
  API_SCOPE: 'user_impersonation'
  SPA_CLIENT_ID: spaClientId
  // The managed identity's token is the federated client assertion for the On-Behalf-Of exchange.
  MANAGED_IDENTITY_CLIENT_ID: identityClientId
  GRAPH_SCOPES: graphScopes
  REPORT_GRAPH_SCOPES: reportGraphScopes
  ALLOWED_TENANTS: tenantId
  ALLOWED_CLIENT_APPS: spaClientId
  DIAGNOSTICS_ENABLED: diagnosticsEnabled ? 'true' : 'false'
  TOKEN_CACHE: useRedis ? 'redis' : 'memory'
  ADMIN_CONSENT_REDIRECT_URI: adminConsentRedirectUri
  // Both plans accept it (it is not among Flex Consumption's deprecated settings); see httpPerInstanceConcurrency.
  PYTHON_THREADPOOL_THREAD_COUNT: string(httpPerInstanceConcurrency)
  // The warmup function opens one connection to Entra ID and one to Graph per request the instance takes at
  // once, so a new instance's first requests skip the TLS handshakes (docs/performance.md, "First calls").
  WARM_CONNECTIONS: string(httpPerInstanceConcurrency)
}

// Flex Consumption sets the runtime in functionAppConfig and rejects these settings; Elastic Premium needs
// them, and runs from the package blob (read with the identity) instead of an Azure Files content share.
// Elastic Premium has no per-instance HTTP concurrency setting: the host's own limit on HTTP functions run at
// once (host.json extensions.http.maxConcurrentRequests, overridden by this app setting) plays its part, set
// to the sweep's value like the thread count. FUNCTIONS_WORKER_PROCESS_COUNT stays at its default of 1: an
// EP1 instance has one core, which one worker process already uses (Flex Consumption refuses the setting).
var planAppSettings = isFlex ? {} : {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'python'
  WEBSITE_RUN_FROM_PACKAGE: '${storageBlobEndpoint}${deploymentContainerName}/${packageBlobName}'
  WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: identityId
  AzureFunctionsJobHost__extensions__http__maxConcurrentRequests: string(httpPerInstanceConcurrency)
}

// Entra authentication to Redis: the user name is the identity's object id and the password is a token the
// app gets for https://redis.azure.com/ with its managed identity, so the URL carries no secret.
var redisAppSettings = useRedis ? {
  REDIS_URL: 'rediss://${redisUserObjectId}@${redisHostName}:${redisPort}/0'
  TOKEN_CACHE_KEYS: tokenCacheKeys
} : {}

var flexPlanSku = {
  name: 'FC1'
  tier: 'FlexConsumption'
}
var premiumPlanSku = {
  name: 'EP1'
  tier: 'ElasticPremium'
}
var premiumPlanProperties = {
  reserved: true
  maximumElasticWorkerCount: maximumInstanceCount
}

var commonSiteConfig = {
  minTlsVersion: '1.2'
  scmMinTlsVersion: '1.2'
  ftpsState: 'Disabled'
}
// Elastic Premium: the Linux image, and the app's own scale-out limit (functionAppScaleLimit).
var premiumSiteConfig = union(commonSiteConfig, {
  linuxFxVersion: 'Python|3.11'
  functionAppScaleLimit: maximumInstanceCount
  minimumElasticInstanceCount: 1
})

var flexFunctionAppConfig = {
  deployment: {
    storage: {
      type: 'blobContainer'
      value: '${storageBlobEndpoint}${deploymentContainerName}'
      authentication: {
        type: 'UserAssignedIdentity'
        userAssignedIdentityResourceId: identityId
      }
    }
  }
  scaleAndConcurrency: {
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    triggers: {
      http: {
        perInstanceConcurrency: httpPerInstanceConcurrency
      }
    }
  }
  runtime: {
    name: 'python'
    version: '3.11'
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: isFlex ? 'functionapp' : 'elastic'
  sku: isFlex ? flexPlanSku : premiumPlanSku
  properties: isFlex ? {
    reserved: true
  } : premiumPlanProperties
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    reserved: true
    siteConfig: isFlex ? commonSiteConfig : premiumSiteConfig
    functionAppConfig: isFlex ? flexFunctionAppConfig : null
  }
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(baseAppSettings, planAppSettings, redisAppSettings)
}

resource authSettingsV2 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'authsettingsV2'
  properties: authSettings
  dependsOn: [
    appSettings
  ]
}

// No publishing with user names and passwords: deployments use Microsoft Entra ID.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = functionApp.name
output id string = functionApp.id
output location string = functionApp.location
output defaultHostname string = functionApp.properties.defaultHostName
output url string = 'https://${functionApp.properties.defaultHostName}'
output packageUrl string = isFlex ? '' : '${storageBlobEndpoint}${deploymentContainerName}/${packageBlobName}'
