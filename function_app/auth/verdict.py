"""PyJWT's signature and claim checks, with its verdict as one typed refusal that each caller words itself.

The product's validator and the local App Service authentication emulation both verify with `jwt.decode` and
tell the caller why a token was refused. PyJWT says why through a family of exception classes; this module
turns them into a `Refusal` (what failed, and the claim when one is missing), so the mapping from PyJWT's
classes is written once and every caller keeps its own messages and error types.
"""
from __future__ import annotations

import enum
from typing import Any, Mapping

import jwt


class Failure(enum.Enum):
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    AUDIENCE = "audience"
    ISSUER = "issuer"
    SIGNATURE = "signature"
    MISSING_CLAIM = "missing_claim"
    INVALID = "invalid"  # anything else PyJWT refuses


# None of these classes derives from another, so the first match is the only one.
_FAILURES: tuple[tuple[type[jwt.PyJWTError], Failure], ...] = (
    (jwt.ExpiredSignatureError, Failure.EXPIRED),
    (jwt.ImmatureSignatureError, Failure.NOT_YET_VALID),
    (jwt.InvalidAudienceError, Failure.AUDIENCE),
    (jwt.InvalidIssuerError, Failure.ISSUER),
    (jwt.InvalidSignatureError, Failure.SIGNATURE),
    (jwt.MissingRequiredClaimError, Failure.MISSING_CLAIM),
)


class Refusal(Exception):
    """PyJWT refused the token: `failure` says which check, `claim` names the missing claim (else None)."""

    def __init__(self, failure: Failure, claim: str | None = None) -> None:
        super().__init__(failure.value if claim is None else f"{failure.value}: {claim}")
        self.failure = failure
        self.claim = claim

    def worded(self, messages: Mapping[Failure, str], otherwise: str) -> str:
        """The caller's message for this failure (`{claim}` filled in), or `otherwise` when it has none."""
        return messages.get(self.failure, otherwise).replace("{claim}", self.claim or "")


def refusal_of(error: jwt.PyJWTError) -> Refusal:
    failure = next((f for cls, f in _FAILURES if isinstance(error, cls)), Failure.INVALID)
    return Refusal(failure, error.claim if isinstance(error, jwt.MissingRequiredClaimError) else None)


def decode_verified(token: str, key: Any, **checks: Any) -> dict[str, Any]:
    """`jwt.decode(token, key, **checks)`: the verified claims, or `Refusal`. `checks` go to PyJWT unchanged
    (algorithms, audience, issuer, leeway, options), so each caller keeps its own rules."""
    try:
        return jwt.decode(token, key, **checks)
    except jwt.PyJWTError as error:
        raise refusal_of(error) from None
