"""Graph calls On-Behalf-Of the caller, and what Graph's answer means for the token that was used.

One rule, in one place:
- Graph answers 401 without a claims challenge (`GraphTokenRejected`): the cached token is unusable; forget
  it and try once more with a fresh exchange for the same caller token.
- Graph answers 401 with `error="insufficient_claims"` (continuous access evaluation: the user's session was
  revoked, or policy now wants more): forget the cached token and answer 401 `interaction_required` with
  Graph's claims. The caller signs in again with them and arrives with a new token, which gets a new exchange.
- Graph answers 403 (`ConsentRequired`): consent was revoked while a token was cached; forget it so the next
  request asks the identity provider.
"""
from __future__ import annotations

from typing import Callable, Sequence, TypeVar

from .auth.request import AuthenticatedRequest
from .errors import ConsentRequired, InteractionRequired
from .graph import GraphTokenRejected
from .obo.client import OboClient

T = TypeVar("T")


class DelegatedGraph:
    def __init__(self, obo: OboClient) -> None:
        self._obo = obo

    def call(self, caller: AuthenticatedRequest, request: Callable[[str], T],
             scopes: Sequence[str] | None = None) -> T:
        """Run `request(token)` (a Graph call) with a Graph token for the caller, applying the rule above."""
        try:
            return self._once(caller, request, scopes)
        except GraphTokenRejected:
            return self._once(caller, request, scopes)

    def _once(self, caller: AuthenticatedRequest, request: Callable[[str], T], scopes: Sequence[str] | None) -> T:
        token = self._obo.graph_token(caller.principal, caller.assertion, scopes)
        try:
            return request(token)
        except (GraphTokenRejected, InteractionRequired, ConsentRequired):
            self._obo.forget(caller.assertion, scopes)
            raise
