"""`authenticate(req)`: the one call an HTTP function makes to learn who is calling."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Mapping

import requests

from ..settings import Settings, get_settings
from .extract import extract_token
from .jwks import JwksCache, discovery_urls, requests_fetcher
from .validate import Principal, TokenValidator


@dataclass(frozen=True)
class AuthenticatedRequest:
    principal: Principal
    assertion: str = field(repr=False)  # the user's token: used only as the OBO assertion, never logged
    header_name: str


def tls_session(settings: Settings) -> requests.Session:
    """A session that trusts CA_BUNDLE even where REQUESTS_CA_BUNDLE is set globally (DESIGN.md section 2)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = settings.tls_verify
    return session


_lock = threading.Lock()
_validator: TokenValidator | None = None


def get_validator() -> TokenValidator:
    """The process-wide validator (its JWKS cache lives as long as the process)."""
    global _validator
    if _validator is None:
        settings = get_settings()
        with _lock:
            if _validator is None:
                jwks = JwksCache(discovery_urls(settings.authority_host, settings.tenant_id),
                                 requests_fetcher(tls_session(settings)))
                _validator = TokenValidator(settings, jwks)
    return _validator


def reset_validator() -> None:
    global _validator
    with _lock:
        _validator = None


def authenticate_headers(headers: Mapping[str, str]) -> AuthenticatedRequest:
    settings = get_settings()
    extracted = extract_token(headers, settings.user_token_header)
    principal = get_validator().validate(extracted.token, extracted.header_name)
    return AuthenticatedRequest(principal=principal, assertion=extracted.token, header_name=extracted.header_name)


def authenticate(req) -> AuthenticatedRequest:  # req: azure.functions.HttpRequest
    return authenticate_headers(req.headers)
