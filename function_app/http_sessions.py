"""HTTP sessions for outbound calls to Entra ID and Graph.

`trust_env = False` because requests lets the REQUESTS_CA_BUNDLE environment variable override
`Session.verify` (docs/architecture.md, "Platform facts"): the configured CA_BUNDLE (the local CA) or the
system store must decide, whatever the machine sets globally.
"""
from __future__ import annotations

import requests

from .settings import Settings


def tls_session(settings: Settings, *, pool_maxsize: int | None = None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = settings.tls_verify
    if pool_maxsize:
        session.mount("https://", requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize,
                                                                max_retries=0))
    return session
