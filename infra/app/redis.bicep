// Optional shared token cache: Azure Cache for Redis with Microsoft Entra authentication only (access keys
// disabled, TLS 1.2, no plaintext port). The function app's managed identity gets the built-in
// "Data Contributor" access policy; it signs in with its object id as user name and an Entra token as
// password. Each user's MSAL cache partition is encrypted by the app (TOKEN_CACHE_KEYS) before it is stored.

@description('Name of the cache.')
param name string

@description('Azure region.')
param location string

@description('Tags applied to the cache.')
param tags object = {}

@description('Object (principal) id of the identity allowed to read and write the cache.')
param clientPrincipalId string

@description('Cache size: Basic C0 is enough for a token cache; use Standard for a replicated cache.')
@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param skuName string = 'Basic'

@description('Cache capacity within the SKU family.')
@minValue(0)
@maxValue(6)
param capacity int = 0

resource cache 'Microsoft.Cache/redis@2024-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: {
      name: skuName
      family: skuName == 'Premium' ? 'P' : 'C'
      capacity: capacity
    }
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    disableAccessKeyAuthentication: true
    redisConfiguration: {
      'aad-enabled': 'true'
    }
  }
}

resource functionAccess 'Microsoft.Cache/redis/accessPolicyAssignments@2024-11-01' = {
  parent: cache
  name: 'functionapp'
  properties: {
    accessPolicyName: 'Data Contributor'
    objectId: clientPrincipalId
    objectIdAlias: 'function-app-identity'
  }
}

output name string = cache.name
output hostName string = cache.properties.hostName
output sslPort int = cache.properties.sslPort
