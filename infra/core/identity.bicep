// The user-assigned managed identity the function app runs as. It reads and writes the function app's
// storage, sends telemetry to Application Insights with Entra authentication, optionally signs in to
// the Redis token cache, and is the federated credential of the API app registration: its token is
// the client assertion MSAL sends in the On-Behalf-Of exchange, so no client secret exists in Azure.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region.')
param location string

@description('Tags applied to the identity.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
