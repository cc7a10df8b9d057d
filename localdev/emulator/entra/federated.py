"""Federated identity credentials: a token from a trusted issuer (here: a managed identity's token from this
tenant, audience `api://AzureADTokenExchange`) presented as an app's `client_assertion`.

Entra looks for a credential on the app whose issuer, subject and audience all match the assertion, and
names the mismatch it found (docs/emulator.md, "Federated credentials"):

- no credential for the assertion's issuer, or subject and issuer match but the audience does not: 70021;
- issuer matches but the subject does not: 700213, or 7002138 when it matches only ignoring case;
- a user token from Entra as the assertion: 700229 (only app-only tokens can be federated credentials).
"""
from __future__ import annotations

import time
from typing import Any

import jwt

from localdev.emulator.entra.errors import OAuthError
from localdev.emulator.state import EmulatorState
from localdev.emulator.tenant import App, FederatedCredential

TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
DOCS = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation"


def credential_issuer(state: EmulatorState, credential: FederatedCredential) -> str:
    return credential.issuer.replace("{issuer_v2}", state.issuer_v2())


def verify_federated_assertion(state: EmulatorState, app: App, assertion: str) -> None:
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise OAuthError(50027, "JWT token is invalid or malformed. The client assertion could not be parsed.")
    issuer, subject, audience = unverified.get("iss"), unverified.get("sub"), unverified.get("aud")
    audiences = [a for a in (audience if isinstance(audience, list) else [audience]) if isinstance(a, str)]
    trusted = [c for c in app.federated_credentials if credential_issuer(state, c) == issuer]
    if not trusted:
        raise _no_record(issuer, subject, audience)
    claims = _verified(state, assertion)
    if "scp" in claims or claims.get("idtyp") == "user":
        raise OAuthError(700229, "Only app-only tokens can be used as Federated Identity Credentials for Microsoft "
                                 "Entra issuer. Use an app-only access token (generated during a client credentials "
                                 "flow) instead of a user-delegated access token.")
    same_subject = [c for c in trusted if c.subject == subject]
    if not same_subject:
        if any(isinstance(subject, str) and c.subject.lower() == subject.lower() for c in trusted):
            raise OAuthError(7002138, f"No matching federated identity record found for presented assertion subject "
                                      f"'{subject}'. The subject matches with case-insensitive comparison, but not "
                                      f"with case-sensitive comparison. {DOCS}")
        raise OAuthError(700213, f"No matching federated identity record found for presented assertion subject "
                                 f"'{subject}'. Please note that the matching is done using a case-sensitive "
                                 "comparison. Check your federated identity credential Subject, Audience and Issuer "
                                 f"against the presented assertion. {DOCS}")
    if not any(a in c.audiences for c in same_subject for a in audiences):
        raise _no_record(issuer, subject, audience)


def _no_record(issuer: Any, subject: Any, audience: Any) -> OAuthError:
    shown = audience[0] if isinstance(audience, list) and audience else audience
    return OAuthError(70021, f"No matching federated identity record found for presented assertion. Assertion "
                             f"Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{shown}'. "
                             f"{DOCS}")


def _verified(state: EmulatorState, assertion: str) -> dict[str, Any]:
    """Only this tenant's own tokens can be trusted here (the emulator fetches no outside JWKS)."""
    kid = str(jwt.get_unverified_header(assertion).get("kid"))
    key = next((public for key_id, public in state.public_keys() if key_id == kid), None)
    if key is None:
        raise OAuthError(700027, "Client assertion failed signature validation. [Reason - The key was not found., "
                                 f"Thumbprint of key used by client: '{kid}'.]")
    try:
        claims = jwt.decode(assertion, key, algorithms=["RS256"],
                            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                                     "verify_iat": False})
    except jwt.PyJWTError:
        raise OAuthError(700027, "Client assertion failed signature validation. [Reason - The provided signature "
                                 "value did not match the expected signature value.]")
    now = time.time()
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp < now:
        raise OAuthError(700024, "Client assertion is not within its valid time range. "
                                 f"Current time: {int(now)}, assertion valid to: {exp}.")
    return claims
