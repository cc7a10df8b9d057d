"""The store behind the On-Behalf-Of token cache: memory or encrypted Redis (see store.py for the interface)."""
