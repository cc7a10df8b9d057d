"""Find exactly one bearer token in the request headers.

Precedence (docs/architecture.md, "Token headers"): the user-token header (`X-User-Authorization` by
default), then `Authorization`, then App Service's token store header `X-MS-TOKEN-AAD-ACCESS-TOKEN`.
Static Web Apps replaces `Authorization` with its own platform token on proxied requests (docs/architecture.md,
"Platform facts": static-web-apps issues #34/#158/#275/#313), which is why the SPA's own header comes first.
The first header present decides: a malformed value there is an error, never a silent fall-through to
a header with lower precedence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from ..errors import HeaderTooLarge, InvalidToken, MissingToken

AUTHORIZATION = "Authorization"
TOKEN_STORE_HEADER = "X-MS-TOKEN-AAD-ACCESS-TOKEN"
CLIENT_PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL"
# Entra access tokens with many claims reach a few KB; 16 KiB leaves room and bounds parsing work.
MAX_TOKEN_HEADER_BYTES = 16 * 1024

# RFC 6750 b64token; JWTs use a subset of it. A comma means two values were folded into one header.
_B64TOKEN_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# RFC 9110 section 5.6.3 whitespace: SP and HTAB only. `str.split()` would also split on NBSP, U+2028, the
# information separators U+001C-U+001F and other Unicode spaces, which no HTTP parser treats as separators.
_OWS = " \t"
_SEPARATOR_RE = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class ExtractedToken:
    token: str
    header_name: str


def header_precedence(user_token_header: str) -> tuple[str, ...]:
    return (user_token_header, AUTHORIZATION, TOKEN_STORE_HEADER)


def _get(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value


def extract_token(headers: Mapping[str, str], user_token_header: str) -> ExtractedToken:
    for name in header_precedence(user_token_header):
        raw = _get(headers, name)
        if raw is None or not raw.strip(_OWS):
            continue
        if len(raw.encode("utf-8", "surrogateescape")) > MAX_TOKEN_HEADER_BYTES:
            raise HeaderTooLarge(f"The {name} header is larger than {MAX_TOKEN_HEADER_BYTES} bytes.")
        return ExtractedToken(_parse(raw, name, bearer_required=name != TOKEN_STORE_HEADER), name)

    if _get(headers, CLIENT_PRINCIPAL_HEADER):
        raise MissingToken(
            f"X-MS-CLIENT-PRINCIPAL alone does not identify a user for this API; send the user's access "
            f"token as '{user_token_header}: Bearer <token>'.")
    raise MissingToken(f"Send the user's access token as '{user_token_header}: Bearer <token>'.")


def _parse(raw: str, name: str, *, bearer_required: bool) -> str:
    parts = [part for part in _SEPARATOR_RE.split(raw.strip(_OWS)) if part]
    if parts and parts[0].lower() == "bearer":  # auth scheme is case-insensitive (RFC 9110 section 11.1)
        parts = parts[1:]
    elif bearer_required:
        raise InvalidToken(f"The {name} header must use the Bearer scheme.")
    if len(parts) != 1:
        raise InvalidToken(f"The {name} header must carry exactly one bearer token.")
    token = parts[0]
    if not _B64TOKEN_RE.fullmatch(token):
        raise InvalidToken(f"The {name} header must carry exactly one bearer token.")
    return token
