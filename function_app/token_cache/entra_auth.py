"""Microsoft Entra authentication for the Redis token cache (Azure Managed Redis, no access keys).

Azure Managed Redis with Entra authentication takes the identity's object id as the user name and an
access token for `https://redis.azure.com/` as the password. infra/ deploys `REDIS_URL` as
`rediss://<object id>@<host>:10000/0` (no password), so when the app runs with a managed identity the
factory turns the URL's user name into this credential provider. redis-py asks the provider on every new
connection, and the token source caches the managed-identity token until shortly before it expires, so
reconnections always authenticate with a live token.
"""
from __future__ import annotations

from typing import Callable
from urllib.parse import urlsplit, urlunsplit

import redis

REDIS_RESOURCE = "https://redis.azure.com/"


class EntraRedisCredentials(redis.CredentialProvider):
    def __init__(self, username: str, token_source: Callable[[], str]) -> None:
        self._username = username
        self._token_source = token_source

    def get_credentials(self) -> tuple[str, str]:
        return self._username, self._token_source()


def split_entra_user(url: str) -> tuple[str, str | None]:
    """`(url without user info, user name)` when the URL names a user but no password, else `(url, None)`.

    redis-py refuses a user name in the URL together with a credential provider.
    """
    parts = urlsplit(url)
    if not parts.username or parts.password:
        return url, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), parts.username
