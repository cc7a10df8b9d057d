"""`authenticate_headers`: find the one bearer token of a request and validate it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..settings import Settings
from .extract import extract_token
from .validate import Principal, TokenValidator


@dataclass(frozen=True)
class AuthenticatedRequest:
    principal: Principal
    assertion: str = field(repr=False)  # the user's token: used only as the OBO assertion, never logged
    header_name: str


def authenticate_headers(headers: Mapping[str, str], settings: Settings,
                         validator: TokenValidator) -> AuthenticatedRequest:
    extracted = extract_token(headers, settings.user_token_header)
    principal = validator.validate(extracted.token, extracted.header_name)
    return AuthenticatedRequest(principal=principal, assertion=extracted.token, header_name=extracted.header_name)
