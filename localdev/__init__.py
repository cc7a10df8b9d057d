"""Local stand-ins for the Azure pieces this project needs: Entra ID and Microsoft Graph emulators, a local
certificate authority, and a Functions host with App Service authentication emulation and a Durable runner."""
