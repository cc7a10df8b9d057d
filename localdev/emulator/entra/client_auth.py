"""Client authentication at the token endpoint: none (public SPA), client secret (form or HTTP
Basic), a private_key_jwt client assertion signed with a certificate registered on the app (`iss` =
the client id), or any other assertion, which must match one of the app's federated credentials."""
from __future__ import annotations

import base64
import binascii
import hmac
import time
from dataclasses import dataclass
from urllib.parse import unquote_plus

import jwt
from multidict import MultiDictProxy

from localdev.emulator.entra.errors import OAuthError, missing_parameter
from localdev.emulator.entra.federated import verify_federated_assertion
from localdev.emulator.state import EmulatorState
from localdev.emulator.tenant import App

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class ClientAuth:
    app: App
    method: str  # none | secret | assertion


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError(9002313, "Invalid request. The Authorization header is malformed.")
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


def _assertion_issuer(assertion: str) -> str | None:
    try:
        return jwt.decode(assertion, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None


def authenticate_client(state: EmulatorState, form: MultiDictProxy[str], authorization: str | None) -> ClientAuth:
    basic = _basic_credentials(authorization)
    client_id = form.get("client_id") or (basic[0] if basic else None)
    assertion = form.get("client_assertion")
    if not client_id and assertion:
        client_id = _assertion_issuer(assertion)
    if not client_id:
        raise missing_parameter("client_id")
    app = state.tenant.find_app(client_id)
    if app is None or app.client_id != client_id.strip().lower():
        raise OAuthError(700016, f"Application with identifier '{client_id}' was not found in the directory "
                                 f"'{state.tenant.display_name}'. This can happen if the application has not been "
                                 "installed by the administrator of the tenant or consented to by any user in the "
                                 "tenant. You may have sent your authentication request to the wrong tenant.")
    secret = form.get("client_secret") or (basic[1] if basic else None)
    if app.is_public:
        if secret or assertion:
            raise OAuthError(700025)
        return ClientAuth(app, "none")
    if secret is not None:
        if app.client_secret and hmac.compare_digest(secret.encode(), app.client_secret.encode()):
            return ClientAuth(app, "secret")
        raise OAuthError(7000215, "Invalid client secret provided. Ensure the secret being sent in the request is "
                                  "the client secret value, not the client secret ID, for a secret added to app "
                                  f"'{app.client_id}'.")
    if assertion is not None:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise OAuthError(900144, "The request body must contain the following parameter: "
                                     f"'client_assertion_type' with value '{ASSERTION_TYPE}'.")
        if _assertion_issuer(assertion) == app.client_id:
            _verify_client_assertion(state, app, assertion)
        else:
            verify_federated_assertion(state, app, assertion)
        return ClientAuth(app, "assertion")
    raise OAuthError(7000218)


def _verify_client_assertion(state: EmulatorState, app: App, assertion: str) -> None:
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise OAuthError(50027, "JWT token is invalid or malformed. The client assertion could not be parsed.")
    thumbprint = header.get("x5t#S256") or header.get("x5t")
    registered = state.client_certificates.get(app.client_id)
    # Some clients pad or use the standard alphabet; compare the base64url value without padding.
    normalised = str(thumbprint or "").rstrip("=").replace("+", "-").replace("/", "_")
    if registered is None or normalised not in registered.header_thumbprints():
        raise OAuthError(700027, "Client assertion failed signature validation. [Reason - The key was not "
                                 f"found., Thumbprint of key used by client: '{thumbprint}'. Please visit the Azure "
                                 "Portal, Graph Explorer or directly use MS Graph to see configured keys for app "
                                 f"Id '{app.client_id}'.]")
    try:
        claims = jwt.decode(assertion, registered.public_key, algorithms=["RS256", "PS256"],
                            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                                     "verify_iat": False})
    except jwt.InvalidSignatureError:
        raise OAuthError(700027, "Client assertion failed signature validation. [Reason - The provided signature "
                                 "value did not match the expected signature value.]")
    except jwt.PyJWTError as exc:
        raise OAuthError(50027, f"JWT token is invalid or malformed. [Reason - {type(exc).__name__}]")
    now = time.time()
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < now or claims.get("nbf", now) > now + 300:
        raise OAuthError(700024, "Client assertion is not within its valid time range. "
                                 f"Current time: {int(now)}, assertion valid to: {claims.get('exp')}.")
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        raise OAuthError(700027, "Client assertion failed validation. [Reason - The 'iss' and 'sub' claims "
                                 "must both be the client id.]")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if not any(_is_token_endpoint(state, a) for a in audiences):
        raise OAuthError(700027, f"Client assertion audience claim does not match Realm issuer. Review the "
                                 f"documentation at https://learn.microsoft.com/entra/identity-platform/"
                                 f"certificate-credentials. [Reason - The audience '{audience}' is not this "
                                 "tenant's token endpoint.]")


def _is_token_endpoint(state: EmulatorState, audience: object) -> bool:
    if not isinstance(audience, str):
        return False
    base = state.entra_url.rstrip("/")
    aliases = (base, base.replace("://localhost:", "://127.0.0.1:"))
    for alias in aliases:
        if audience.startswith(alias + "/"):
            parts = audience[len(alias) + 1:].rstrip("/").split("/")
            if len(parts) >= 3 and state.tenant.knows_tenant(parts[0]) and parts[1] == "oauth2" \
                    and parts[-1] == "token":
                return True
    return False
