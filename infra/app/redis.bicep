// Optional shared token cache: Azure Managed Redis with Microsoft Entra authentication only (access keys
// disabled, TLS only, TLS 1.2). The function app's managed identity gets the database's "default" access
// policy; it signs in with its object id as user name and an Entra token for https://redis.azure.com/ as
// password. The app encrypts each user's MSAL cache partition (TOKEN_CACHE_KEYS) before storing it.

@description('Name of the cache.')
param name string

@description('Azure region.')
param location string

@description('Tags applied to the cache.')
param tags object = {}

@description('Object (principal) id of the identity allowed to read and write the cache.')
param clientPrincipalId string

@description('Azure Managed Redis SKU: Balanced_B0 is plenty for a token cache.')
param skuName string = 'Balanced_B0'

@description('Replicate the cache (higher availability, twice the cost).')
param highAvailability bool = false

resource cluster 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    highAvailability: highAvailability ? 'Enabled' : 'Disabled'
  }
}

// EnterpriseCluster gives one endpoint, so a plain (non-cluster) Redis client works.
resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: cluster
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: 'EnterpriseCluster'
    evictionPolicy: 'VolatileLRU'
    accessKeysAuthentication: 'Disabled'
  }
}

resource functionAccess 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = {
  parent: database
  name: 'functionapp'
  properties: {
    accessPolicyName: 'default'
    user: {
      objectId: clientPrincipalId
    }
  }
}

output name string = cluster.name
output hostName string = cluster.properties.hostName
output port int = database.properties.port
