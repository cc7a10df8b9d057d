"""Per-user token cache partitions for MSAL (see store.py for the interface)."""
