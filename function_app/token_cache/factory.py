"""Choose the token store from settings (`TOKEN_CACHE=memory|redis`)."""
from __future__ import annotations

from ..errors import Misconfigured
from ..credentials import ManagedIdentityClientAssertion, identity_session
from ..settings import ManagedIdentityAssertion, Settings
from .memory import MemoryTokenStore
from .store import TokenStore


def build_token_store(settings: Settings) -> TokenStore:
    if settings.token_cache != "redis":
        return MemoryTokenStore()
    # Imported lazily: the memory default must not pay for (or require) the redis client at import.
    from .entra_auth import REDIS_RESOURCE, EntraRedisCredentials, split_entra_user
    from .redis_store import RedisTokenStore

    assert settings.redis_url is not None  # enforced by settings
    url, entra_user = split_entra_user(settings.redis_url)
    credential_provider = None
    if entra_user is not None:
        credential = settings.credential
        if not isinstance(credential, ManagedIdentityAssertion):
            raise Misconfigured("REDIS_URL names a user without a password, which means Microsoft Entra "
                                "authentication; that needs MANAGED_IDENTITY_CLIENT_ID.", setting="REDIS_URL")
        credential_provider = EntraRedisCredentials(
            entra_user, ManagedIdentityClientAssertion(credential, identity_session(settings), resource=REDIS_RESOURCE))
    try:
        return RedisTokenStore(url, list(settings.token_cache_keys), credential_provider=credential_provider)
    except ValueError as exc:
        # A URL scheme redis-py does not know, or a key id the envelope cannot carry. The message names
        # neither the URL's secrets nor a key.
        raise Misconfigured(f"The Redis token cache settings are invalid ({type(exc).__name__}).",
                            setting="REDIS_URL or TOKEN_CACHE_KEYS") from None
