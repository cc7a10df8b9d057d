"""The Microsoft Graph emulator: /v1.0 for the seeded directory, access-token checks, CAE. (README.md maps endpoints to modules.)"""
