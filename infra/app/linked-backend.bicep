// Links the function app to the static web app as its API ("bring your own functions"): the site proxies
// /api/* to the function app and signs each proxied request with its own token, which the function app's
// App Service authentication accepts through the `azureStaticWebApps` identity provider. Deployed after
// the function app's authentication settings, which already name that provider, so re-deployments keep it.

@description('Name of the existing static web app.')
param staticWebAppName string

@description('Resource id of the function app.')
param backendResourceId string

@description('Region of the function app.')
param backendLocation string

resource site 'Microsoft.Web/staticSites@2024-04-01' existing = {
  name: staticWebAppName
}

resource backend 'Microsoft.Web/staticSites/linkedBackends@2024-04-01' = {
  parent: site
  name: 'api'
  properties: {
    backendResourceId: backendResourceId
    region: backendLocation
  }
}

output name string = backend.name
