// The static front end: Azure Static Web Apps on the Standard plan (linked backends need Standard).
// The site serves static_frontend/ only; its API is the function app, linked in linked-backend.bicep.
// Its default host name is both the SPA's redirect URI (entra/app-registrations.bicep) and the client id
// of the `azureStaticWebApps` provider in the function app's App Service authentication.

@description('Name of the static web app.')
param name string

@description('Region of the static web app (Static Web Apps runs in a few regions only).')
@allowed([
  'centralus'
  'eastasia'
  'eastus2'
  'westeurope'
  'westus2'
])
param location string

@description('Tags applied to the site; azd finds the `web` service by the azd-service-name tag.')
param tags object = {}

resource site 'Microsoft.Web/staticSites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    allowConfigFileUpdates: true
    stagingEnvironmentPolicy: 'Disabled'
    enterpriseGradeCdnStatus: 'Disabled'
    publicNetworkAccess: 'Enabled'
    provider: 'Custom'
  }
}

output name string = site.name
output id string = site.id
output defaultHostname string = site.properties.defaultHostname
output url string = 'https://${site.properties.defaultHostname}'
