"""Local stand-in for the Azure Functions host: app loading, HTTP serving, App Service auth, durable wiring."""
