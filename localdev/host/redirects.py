"""Where `/.auth/login/<provider>` and `/.auth/logout` may send the browser afterwards, as App Service decides.

App Service takes `post_login_redirect_uri` / `post_logout_redirect_uri` as a relative URL on the app, or as an
absolute URL on the app's own host or listed in the auth settings' `login.allowedExternalRedirectUrls` (whose
query strings are ignored); any other target is ignored and the default is used, with a warning in the log
(https://learn.microsoft.com/azure/app-service/configure-authentication-customize-sign-in-out, and the
authsettingsV2 `Login.allowedExternalRedirectUrls` reference).

A browser reading a `Location` header removes tabs and newlines anywhere in it, strips leading and trailing
control characters and spaces, and treats `\\` as `/` (WHATWG URL parsing), so `/%09/evil.example` becomes
`//evil.example`, another host. The value is therefore normalised first (percent-decoded until it no longer
changes) and refused outright when it then holds a control character or a backslash: `MalformedRedirect`, a
400 for the caller. Only what is left is checked against the same-origin and allow-list rules.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_DECODE_ROUNDS = 5


class MalformedRedirect(ValueError):
    """The redirect parameter holds characters a browser would reinterpret."""


def _normalised(value: str) -> str:
    decoded = value
    for _ in range(MAX_DECODE_ROUNDS):
        once = unquote(decoded)
        if once == decoded:
            return decoded
        decoded = once
    raise MalformedRedirect("the redirect target is encoded too many times")


@dataclass(frozen=True)
class RedirectPolicy:
    allowed_external: tuple[str, ...] = ()

    def check(self, value: str, *, scheme: str, host: str) -> bool:
        """True when the browser may be sent to `value`; raises `MalformedRedirect` for a malformed one.

        `scheme` and `host` (`host[:port]`) are the request's own: same-origin absolute URLs are allowed."""
        normalised = _normalised(value)
        if _CONTROL_RE.search(normalised) or "\\" in normalised:
            raise MalformedRedirect("the redirect target holds a control character or a backslash")
        parts = urlsplit(normalised)
        if not parts.scheme and not parts.netloc:
            # A path on this site. `//host` names another site (urlsplit reads `///host` as a path, a browser
            # as a host), so no path may start with two slashes once decoded.
            return normalised.startswith("/") and not normalised.startswith("//")
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc or parts.username is not None:
            return False
        if (parts.scheme.lower(), parts.netloc.lower()) == (scheme.lower(), host.lower()):
            return True
        return any(_matches(parts, allowed) for allowed in self.allowed_external)


def _matches(target: SplitResult, allowed: str) -> bool:
    """An allow-list entry admits URLs of its scheme and host (port included) at or below its path."""
    entry = urlsplit(allowed.strip())
    if (target.scheme.lower(), target.netloc.lower()) != (entry.scheme.lower(), entry.netloc.lower()):
        return False
    base = entry.path.rstrip("/")
    return not base or target.path == base or target.path.startswith(base + "/")
