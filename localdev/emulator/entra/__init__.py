"""The Entra ID emulator: OpenID discovery and keys, /authorize, /token, admin consent. (README.md maps endpoints to modules.)"""
