"""Graph calls On-Behalf-Of a user, and what Graph's answer means for the token that was used.

One rule, in one place, for the interactive requests (`CallerTokens`: a Graph token bound to the caller's
token) and the report's activities (`SessionTokens`: the job's long-running session):
- Graph answers 401 without a claims challenge (`GraphTokenRejected`): the token is unusable; forget it and
  try once more with a fresh one (a new exchange for the same caller token, or a refresh from the session).
- Graph answers 401 with `error="insufficient_claims"` (continuous access evaluation: the user's session was
  revoked, or policy now wants more): answer `interaction_required` with Graph's claims, and keep the challenge
  in the token's place, so every request with the same caller token (or the same session) gets it too. The
  caller signs in again with the claims and arrives with a new token, which gets a new exchange.
- Graph answers 403 (`ConsentRequired`): consent was revoked while a token was cached; forget it so the next
  request asks the identity provider.
"""
from __future__ import annotations

from typing import Callable, Protocol, Sequence, TypeVar

from .auth.request import AuthenticatedRequest
from .errors import ConsentRequired, InteractionRequired
from .graph import GraphTokenRejected
from .obo.client import OboClient
from .obo.sessions import LongRunningSessions

T = TypeVar("T")


class TokenSource(Protocol):
    def token(self) -> str:
        """A Graph token for the user (raises the API's errors when none can be had)."""

    def forget(self) -> None:
        """Graph refused the token `token()` returned last: never hand it out again."""

    def challenged(self, claims: str) -> None:
        """Graph answered the token `token()` returned last with a claims challenge."""


class CallerTokens:
    """Graph tokens for an interactive request: bound to the caller's token (one exchange per caller token)."""

    def __init__(self, obo: OboClient, caller: AuthenticatedRequest, scopes: Sequence[str] | None = None) -> None:
        self._obo, self._caller, self._scopes = obo, caller, scopes

    def token(self) -> str:
        return self._obo.graph_token(self._caller.principal, self._caller.assertion, self._scopes)

    def forget(self) -> None:
        self._obo.forget(self._caller.assertion, self._scopes)

    def challenged(self, claims: str) -> None:
        self._obo.challenged(self._caller.principal, self._caller.assertion, self._scopes, claims)


class SessionTokens:
    """Graph tokens for a report job's step: from its long-running session only."""

    def __init__(self, sessions: LongRunningSessions, session_id: str, scopes: Sequence[str]) -> None:
        self._sessions, self._session_id, self._scopes = sessions, session_id, scopes

    def token(self) -> str:
        return self._sessions.graph_token(self._session_id, self._scopes)

    def forget(self) -> None:
        # Kept in the session itself: the next step of the job (any instance) refreshes instead of reusing it.
        self._sessions.forget_access_tokens(self._session_id)

    def challenged(self, claims: str) -> None:
        # The job fails with the challenge (it cannot sign the user in); the next step refreshes, and is refused.
        self.forget()


class DelegatedGraph:
    def call(self, tokens: TokenSource, request: Callable[[str], T]) -> T:
        """Run `request(token)` (a Graph call) with a Graph token from `tokens`, applying the rule above."""
        try:
            return self._once(tokens, request)
        except GraphTokenRejected:
            return self._once(tokens, request)

    @staticmethod
    def _once(tokens: TokenSource, request: Callable[[str], T]) -> T:
        token = tokens.token()
        try:
            return request(token)
        except InteractionRequired as challenge:
            if challenge.claims:
                tokens.challenged(challenge.claims)
            else:
                tokens.forget()
            raise
        except (GraphTokenRejected, ConsentRequired):
            tokens.forget()
            raise
