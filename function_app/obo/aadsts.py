"""Token-endpoint errors (MSAL's OAuth error dicts and their AADSTS codes) mapped onto the API's errors.

Codes: https://learn.microsoft.com/entra/identity-platform/reference-error-codes. The mapping decides what the
caller is told to do: retry later (the identity provider is down), sign in again (a policy wants more),
ask an administrator (consent), or nothing at all because the operator must fix a setting (`misconfigured`,
never a retry or sign-in loop).
"""
from __future__ import annotations

import re
from typing import Any

from ..errors import ApiError, ConsentRequired, IdentityUnavailable, InteractionRequired, InvalidToken, Misconfigured, \
    TokenExpired
from ..settings import Settings
from ..credentials import credential_setting

_AADSTS_RE = re.compile(r"AADSTS(\d+)")

CONSENT_CODES = frozenset({65001, 65004})
INTERACTION_CODES = frozenset({50076, 50079, 50158, 50072, 50074, 50005, 53000, 53001, 53002, 53003, 70043, 700082,
                               50173, 50078, 50132, 50133})
EXPIRED_ASSERTION_CODES = frozenset({500133})
# The app's federated credential does not match what was presented (issuer, subject or audience of the managed
# identity's token): 70021 no matching federated identity record, 700211/700212/700213 no record for the
# assertion's issuer/audience/subject, 7002138 a mismatch reported for federated credentials as well.
FEDERATED_CREDENTIAL_CODES = frozenset({70021, 700211, 700212, 700213, 7002138})
# The user assertion failed the identity provider's signature or audience check. This API validated that token
# itself first, so the cause is configuration (API_CLIENT_ID, TENANT_ID, AUTHORITY_HOST), not the user.
ASSERTION_REJECTED_CODES = frozenset({50013})


def aadsts_codes(result: dict[str, Any]) -> list[int]:
    """AADSTS codes in an error response: `error_codes` first, then any named in the description."""
    codes = [int(c) for c in result.get("error_codes") or [] if str(c).isdigit()]
    codes += [int(c) for c in _AADSTS_RE.findall(str(result.get("error_description") or ""))]
    return list(dict.fromkeys(codes))


def map_msal_error(result: dict[str, Any], settings: Settings, *, status: int | None = None,
                   retry_after: float | None = None) -> ApiError:
    """Map an MSAL error dict (OAuth error response) onto the API's error hierarchy."""
    error = str(result.get("error") or "")
    suberror = str(result.get("suberror") or "")
    codes = set(aadsts_codes(result))
    first = aadsts_codes(result)[:1]
    code_text = f" (AADSTS{first[0]})" if first else ""
    if status == 429 or (status or 0) >= 500 or error in ("temporarily_unavailable", "server_error"):
        return IdentityUnavailable(f"The identity provider is unavailable{code_text}; retry later.",
                                   retry_after=retry_after)
    if FEDERATED_CREDENTIAL_CODES & codes:
        return Misconfigured(
            f"The identity provider found no federated credential on the API app matching the managed identity's "
            f"token{code_text}: check the app registration's federated credential (issuer, subject, audience "
            "api://AzureADTokenExchange) and MANAGED_IDENTITY_CLIENT_ID.", setting="MANAGED_IDENTITY_CLIENT_ID")
    if ASSERTION_REJECTED_CODES & codes:
        return Misconfigured(
            f"The identity provider refused the user's token as the exchange assertion{code_text}, although this "
            "API accepted it: API_CLIENT_ID must be the app whose credential the API uses, in TENANT_ID at "
            "AUTHORITY_HOST.", setting="API_CLIENT_ID")
    if error == "consent_required" or suberror == "consent_required" or CONSENT_CODES & codes:
        return ConsentRequired(
            f"The API app has no consent to call Microsoft Graph for this user{code_text}. An administrator "
            "can grant it at consentUrl.", consent_url=settings.admin_consent_url)
    if result.get("claims") or error == "interaction_required" or INTERACTION_CODES & codes:
        return InteractionRequired(f"The user must sign in again to satisfy a policy{code_text}.",
                                   claims=result.get("claims") or None)
    if error == "invalid_grant" and (EXPIRED_ASSERTION_CODES & codes or suberror == "token_expired"):
        return TokenExpired(f"The user's token expired before it could be exchanged{code_text}.")
    if error == "invalid_grant":
        if suberror in ("bad_token", "basic_action", "additional_action", "user_password_expired"):
            return InteractionRequired(f"The user must sign in again{code_text}.")
        return InvalidToken(f"The identity provider rejected the user's token for the exchange{code_text}.")
    if error in ("invalid_client", "unauthorized_client"):
        return Misconfigured(f"The identity provider rejected the API app's credential{code_text}.",
                             setting=credential_setting(settings))
    if error == "invalid_scope":
        return Misconfigured(f"The identity provider rejected the requested Graph scopes{code_text}.",
                             setting="GRAPH_SCOPES")
    return IdentityUnavailable(f"The token exchange failed ({error or 'unknown error'}{code_text}).",
                               retry_after=retry_after)
