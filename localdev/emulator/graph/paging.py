"""Server-driven paging as Graph does it for directory collections: `$top` and an opaque `$skiptoken`.

A skip token is bound (HMAC) to the collection and the caller it was issued for, so a token edited by hand,
replayed on another collection, or issued before a restart is refused with 400 like an expired Graph token.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any, Sequence

from localdev.emulator.graph.errors import GraphError, bad_request

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999


@dataclass(frozen=True, slots=True)
class Page:
    items: Sequence[Any]
    next_offset: int | None


def parse_top(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    try:
        top = int(raw.strip())
    except ValueError:
        raise bad_request(f"Invalid value '{raw}' for $top query option found.") from None
    if not 1 <= top <= MAX_PAGE_SIZE:
        raise bad_request(f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_PAGE_SIZE} inclusive.")
    return top


def page(items: Sequence[Any], offset: int, size: int) -> Page:
    chunk = items[offset:offset + size]
    following = offset + size
    return Page(chunk, following if following < len(items) else None)


class SkipTokens:
    """Issues and checks skip tokens for one running emulator (the key lives only in memory)."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def issue(self, scope: str, offset: int) -> str:
        payload = _b64encode(json.dumps({"o": offset}, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(scope, payload)}"

    def offset(self, token: str, scope: str) -> int:
        payload, dot, signature = token.partition(".")
        if not dot or not payload or not signature:
            raise _invalid()
        if not hmac.compare_digest(signature, self._sign(scope, payload)):
            raise _expired()
        try:
            offset = json.loads(_b64decode(payload))["o"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise _invalid() from None
        if not isinstance(offset, int) or offset < 0:
            raise _invalid()
        return offset

    def _sign(self, scope: str, payload: str) -> str:
        mac = hmac.new(self._key, f"{scope}\n{payload}".encode(), hashlib.sha256).digest()
        return _b64encode(mac[:18])


def _invalid() -> GraphError:
    return bad_request("The specified page token value is invalid.", code="Request_BadRequest")


def _expired() -> GraphError:
    return bad_request(
        "The specified page token value has expired and can no longer be included in your request.",
        code="Directory_ExpiredPageToken",
    )


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
