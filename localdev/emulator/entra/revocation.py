"""Per-user session revocation, as Graph's `revokeSignInSessions` sets it: every refresh token, browser
session, authorization code and (for CAE-capable clients) access token issued before the user's cutoff
stops working; anything issued at or after it works.

The cutoff is a whole second strictly later than every token issued before the call (`floor(now) + 1`),
and `POST /_emulator/revoke` answers only once the clock has passed it. Tokens carry whole-second
`iat` values, so a token issued right after the call is never revoked and one issued right before it
always is.
"""
from __future__ import annotations

import datetime as dt
import math
import threading
import time
from typing import Callable

from localdev.emulator.entra.errors import OAuthError


class Revocations:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._cutoffs: dict[str, int] = {}

    def revoke(self, user_oid: str) -> int:
        """Record a cutoff for the user and return it (epoch seconds)."""
        cutoff = math.floor(self._clock()) + 1
        with self._lock:
            key = user_oid.lower()
            self._cutoffs[key] = max(cutoff, self._cutoffs.get(key, 0))
            return self._cutoffs[key]

    def cutoff(self, user_oid: str | None) -> int | None:
        if not user_oid or not self._cutoffs:  # hot path: nothing revoked
            return None
        with self._lock:
            return self._cutoffs.get(user_oid.lower())

    def revoked(self, user_oid: str | None, issued_at: float | None) -> bool:
        """Was something issued at `issued_at` for this user issued before the user's cutoff?"""
        cutoff = self.cutoff(user_oid)
        return cutoff is not None and (issued_at is None or issued_at < cutoff)

    def clear(self) -> None:
        with self._lock:
            self._cutoffs.clear()
    

def _entra_time(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def revoked_grant(issued_at: float, cutoff: int) -> OAuthError:
    """AADSTS50173 (FreshTokenNeeded), in Entra's words."""
    return OAuthError(50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. "
                             "The user might have changed or reset their password. The grant was issued on "
                             f"'{_entra_time(issued_at)}' and the TokensValidFrom date (before which tokens are not "
                             f"valid) for this user is '{_entra_time(cutoff)}'.")
