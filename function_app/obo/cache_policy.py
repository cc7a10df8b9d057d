"""What each cached token is bound to, and for how long (docs/architecture.md, "The token cache contract").

Interactive requests
    A Graph access token obtained On-Behalf-Of a caller is cached under the SHA-256 of the caller's validated
    token plus the scopes, never under the user. Another token, even of the same user, is a different key: it
    gets its own exchange, so Entra ID evaluates consent and Conditional Access for that token (a password-only
    token can't reuse what an MFA sign-in earned). This is how MSAL.NET and Microsoft.Identity.Web key OBO
    results. An entry lives until the earlier of the Graph token's expiry (less a margin, so a token handed out
    still outlives the Graph call) and the caller's token's expiry. No refresh token is ever kept for them.

Long-running sessions (the profile report)
    Starting a job performs a fresh exchange with the caller's token and keeps the result, refresh token
    included, under a random session id that nothing about the user can derive; its lifetime is the job's
    maximum run time, and the job deletes it when it ends (MSAL.NET's InitiateLongRunningProcessInWebApi /
    AcquireTokenInLongRunningProcess).

Claims challenges
    When Graph answers a cached token with a claims challenge (continuous access evaluation: the user's
    sessions were revoked, or policy now wants more), the caller's token can no longer get Graph access: Entra
    ID refuses to exchange it again. The entry is replaced by the challenge itself, until the caller's token
    expires, so every request that still carries that token (a concurrent photo request, another instance)
    gets the same challenge and the client signs in again with its claims, instead of a futile exchange and a
    challenge-less refusal. A new caller token is a new key, untouched.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Sequence

ASSERTION_NAMESPACE = "obo:"
SESSION_NAMESPACE = "session:"
# A token handed out must outlive the Graph call it is for (retries included, about 20 s at most).
GRAPH_TOKEN_MARGIN_SECONDS = 120
SESSION_ID_RE = re.compile(r"[A-Za-z0-9_-]{43}")


def assertion_key(assertion: str, scopes: Sequence[str]) -> str:
    """The cache key of a Graph token obtained with `assertion` for `scopes` (scopes in canonical order)."""
    digest = hashlib.sha256()
    digest.update(assertion.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(" ".join(scopes).encode("utf-8"))
    return ASSERTION_NAMESPACE + digest.hexdigest()


def interactive_ttl(graph_expires_on: float, caller_expires_at: float, now: float | None = None) -> int:
    """Seconds an exchanged Graph token may be served from the cache; <= 0 means don't cache it."""
    now = time.time() if now is None else now
    return int(min(graph_expires_on - GRAPH_TOKEN_MARGIN_SECONDS, caller_expires_at) - now)


@dataclass(frozen=True)
class CachedGraphToken:
    access_token: str
    expires_on: float

    def serialize(self) -> str:
        return json.dumps({"access_token": self.access_token, "expires_on": self.expires_on},
                          separators=(",", ":"))

    @classmethod
    def parse(cls, text: str) -> "CachedGraphToken | None":
        try:
            data = json.loads(text)
            token, expires_on = data["access_token"], float(data["expires_on"])
        except (ValueError, KeyError, TypeError):
            return None
        return cls(token, expires_on) if isinstance(token, str) and token else None

    def usable(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return self.expires_on - GRAPH_TOKEN_MARGIN_SECONDS > now


@dataclass(frozen=True)
class ClaimsChallenge:
    """What Graph answered the caller's token with: the claims the client must satisfy with a new sign-in."""

    claims: str

    def serialize(self) -> str:
        return json.dumps({"claims_challenge": self.claims}, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str) -> "ClaimsChallenge | None":
        try:
            claims = json.loads(text).get("claims_challenge")
        except (ValueError, AttributeError):
            return None
        return cls(claims) if isinstance(claims, str) and claims else None


def new_session_id() -> str:
    """256 random bits, URL-safe: unguessable and unrelated to the user."""
    return secrets.token_urlsafe(32)


def session_key(session_id: str) -> str:
    if not SESSION_ID_RE.fullmatch(session_id):
        raise ValueError("not a session id")
    return SESSION_NAMESPACE + session_id


@dataclass(frozen=True)
class SessionRecord:
    """A long-running session at rest: the MSAL token cache (refresh token included) and its deadline."""

    msal_cache: str
    deadline: float

    def serialize(self) -> str:
        return json.dumps({"v": 1, "deadline": self.deadline, "msal": self.msal_cache}, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str) -> "SessionRecord | None":
        try:
            data = json.loads(text)
            if data.get("v") != 1:
                return None
            return cls(msal_cache=str(data["msal"]), deadline=float(data["deadline"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def ttl(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return int(self.deadline - now)
