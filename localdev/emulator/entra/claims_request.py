"""The OpenID Connect `claims` request parameter, as the token endpoint and /authorize read it.

Shapes the emulator understands (all under `access_token`; see docs/emulator.md for sources):

- `{"xms_cc": {"values": ["CP1"]}}`: the client declares capabilities (MSAL adds it when the app is
  built with `client_capabilities`, merged into any claims challenge). Only `cp1` is a known value
  (case-insensitive); the token's `xms_cc` lists the known values as the client spelled them.
- `capolids` / `polids` with values, or `amr` with `mfa` among its values: MFA is required.
- `{"nbf": {"essential": true, "value": "<epoch>"}}`: a token issued at or after that time, which is
  what Graph's revocation challenge asks for. Any freshly issued token meets it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from localdev.emulator.entra.errors import OAuthError

KNOWN_CAPABILITIES = frozenset({"cp1"})


@dataclass(frozen=True)
class ClaimsRequest:
    capabilities: tuple[str, ...] = ()
    mfa: bool = False
    not_before: int | None = None

    @property
    def cae_capable(self) -> bool:
        return any(c.lower() == "cp1" for c in self.capabilities)


NO_CLAIMS = ClaimsRequest()


def _invalid(reason: str) -> OAuthError:
    # The error reference lists 90100 (InvalidRequestParameter) for a parameter that is empty or not valid.
    return OAuthError(90100, f"The 'claims' parameter is not valid: {reason}. It must be a JSON object as defined "
                             "by OpenID Connect Core section 5.5.", error="invalid_request")


def _values(entry: Any) -> list[str]:
    if not isinstance(entry, dict):
        return []
    values = entry.get("values")
    if isinstance(values, str):
        return [values]
    if isinstance(values, list):
        return [v for v in values if isinstance(v, str)]
    value = entry.get("value")
    return [value] if isinstance(value, str) else []


def _not_before(entry: Any) -> int | None:
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise _invalid("'nbf' must be an object with a 'value'")
    value = entry.get("value")
    if isinstance(value, bool):
        raise _invalid("'nbf' value must be a number of seconds since the epoch")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise _invalid("'nbf' value must be a number of seconds since the epoch")


def parse_claims(raw: str | None) -> ClaimsRequest:
    """Strict parse for the token endpoint: malformed claims are an `invalid_request` (AADSTS90100)."""
    if raw is None or not raw.strip():
        return NO_CLAIMS
    try:
        document = json.loads(raw)
    except ValueError:
        raise _invalid("not JSON") from None
    if not isinstance(document, dict):
        raise _invalid("not a JSON object")
    access = document.get("access_token", {})
    if access is None:
        access = {}
    if not isinstance(access, dict):
        raise _invalid("'access_token' must be an object")
    capabilities = tuple(v for v in _values(access.get("xms_cc")) if v.lower() in KNOWN_CAPABILITIES)
    mfa = bool(access.get("capolids") or access.get("polids")
               or "mfa" in [v.lower() for v in _values(access.get("amr"))])
    return ClaimsRequest(capabilities=capabilities, mfa=mfa, not_before=_not_before(access.get("nbf")))


def parse_claims_lenient(raw: str | None) -> ClaimsRequest:
    """For /authorize, where a bad parameter must not break the sign-in page: unreadable claims ask nothing."""
    try:
        return parse_claims(raw)
    except OAuthError:
        return NO_CLAIMS
