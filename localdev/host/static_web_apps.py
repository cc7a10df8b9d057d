"""App Service authentication's `azureStaticWebApps` provider, emulated: the linked Static Web App's platform token.

A Static Web App signs every request it proxies to its linked backend with a token of its own, in
`Authorization`, and App Service authentication on the backend accepts it through this provider, whose only
setting is `registration.clientId` (the site's host name). The checks, which no document spells out
(docs/emulator.md, "The linked-backend hop", separates what is documented from what is chosen here):

- RS256 with a `kid` of the linked-backend emulation's key, read from the JWKS file named by
  LOCALDEV_SWA_PLATFORM_KEYS (default `.localdev/linked-backend/platform-jwks.json` under the app root) and
  re-read when that file changes;
- `iss` = `https://{clientId}/.auth`: only a token with that issuer is given to this provider, every other one
  to the Microsoft provider;
- `aud` = the site's own URL: `http(s)://{WEBSITE_HOSTNAME}` (App Service's primary host name, which the local
  host sets to `localhost:<port>`), with `127.0.0.1` accepted for `localhost`;
- `exp`/`nbf` with the Microsoft provider's leeway.

A valid platform token makes the caller the Static Web App (`X-MS-CLIENT-PRINCIPAL-IDP: azureStaticWebApps`),
not a user: the function still needs the user's token in `X-User-Authorization`.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

import jwt
from jwt import PyJWK

from function_app.auth.verdict import Failure
from localdev.settings import local_settings
from localdev.host.authsettings import AuthSettings
from localdev.host.principal import STATIC_WEB_APPS_AUTH_TYPE
from localdev.host.token_validation import Validated, ValidatedTokens, invalid_token, token_digest, verify_rs256
from localdev.linked_backend.keys import JWKS_ENV, JWKS_FILE, KEY_DIR
from localdev.linked_backend.platform_token import issuer_for

log = logging.getLogger("localdev.host.easyauth")

DEFAULT_JWKS = Path(".localdev") / KEY_DIR / JWKS_FILE
# What the provider says when PyJWT refuses a platform token.
_REFUSALS = {
    Failure.EXPIRED: "The platform token has expired.",
    Failure.AUDIENCE: "The platform token was not issued for this site (audience).",
    Failure.SIGNATURE: "The platform token signature is not valid.",
}


def site_audiences(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The URLs of this site, which a platform token for it names as its audience."""
    host = environ.get("WEBSITE_HOSTNAME", "").strip().lower()
    if not host:
        return ()
    hosts = [host]
    name, _, port = host.partition(":")
    if name in ("localhost", "127.0.0.1"):
        twin = "127.0.0.1" if name == "localhost" else "localhost"
        hosts.append(f"{twin}:{port}" if port else twin)
    return tuple(f"{scheme}://{h}" for h in hosts for scheme in ("http", "https"))


class PlatformKeys:
    """The platform's public keys from a JWKS file, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, PyJWK] = {}

    def get(self, kid: str) -> PyJWK | None:
        try:
            stat = self.path.stat()
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._keys = self._read()
            self._stamp = stamp
        return self._keys.get(kid)

    def _read(self) -> dict[str, PyJWK]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("cannot read the Static Web Apps platform keys %s: %s", self.path, exc)
            return {}
        keys: dict[str, PyJWK] = {}
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            try:
                keys[entry["kid"]] = PyJWK(entry)
            except (jwt.PyJWTError, KeyError, TypeError):
                continue
        return keys


class PlatformTokenValidator:
    def __init__(self, client_id: str, audiences: tuple[str, ...], keys: PlatformKeys,
                 cache: ValidatedTokens | None = None) -> None:
        self.issuer = issuer_for(client_id)
        self.audiences = audiences
        self.keys = keys
        self.cache = cache if cache is not None else ValidatedTokens(provider=STATIC_WEB_APPS_AUTH_TYPE)

    @classmethod
    def from_environment(cls, settings: AuthSettings, environ: Mapping[str, str]) -> "PlatformTokenValidator":
        path = local_settings(environ).swa_platform_keys or DEFAULT_JWKS
        return cls(settings.swa_client_id, site_audiences(environ), PlatformKeys(path.resolve()))

    def handles(self, token: str) -> bool:
        """Whether the token names this provider's issuer (read without verifying: it only picks the provider)."""
        try:
            return jwt.decode(token, options={"verify_signature": False}).get("iss") == self.issuer
        except jwt.PyJWTError:
            return False

    def validated(self, token: str) -> Validated:
        digest = token_digest(token)
        entry = self.cache.get(digest)
        if entry is not None:
            return entry
        return self.cache.put(digest, self._validate(token))

    def _validate(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if header.get("alg") != "RS256" or not isinstance(kid, str):
            raise invalid_token("The platform token is not signed with RS256 and a key id.")
        key = self.keys.get(kid)
        if key is None:
            raise invalid_token("The platform token is not signed by the linked Static Web App's key.")
        if not self.audiences:
            raise invalid_token("This site has no host name (WEBSITE_HOSTNAME) to accept platform tokens for.")
        return verify_rs256(token, key.key, audiences=self.audiences, issuers=(self.issuer,),
                            messages=_REFUSALS, otherwise="The platform token could not be validated.")
