"""Microsoft Graph reads for the report, with errors sorted into transient and terminal.

Transient (`TransientGraphError`: HTTP 429, 5xx, timeouts, connection failures, identity provider
outages) are raised out of the activity so that Durable's `call_activity_with_retry` retries them.
Terminal ones (`TerminalGraphError`: no cached token any more, 401/403, other 4xx) will not get better
by retrying and end the job with a clear error code.

Each read is a single attempt on purpose (unlike `function_app.graph.GraphClient`, which retries inside
a request's budget): inside an activity the retry belongs to Durable, whose timers between attempts are
durable and visible in the history, and nesting two retry loops would multiply the attempts.
"""
from __future__ import annotations

from typing import Any, Sequence
from urllib.parse import urlsplit

import requests

from .. import services
from ..errors import ApiError, ConsentRequired, IdentityUnavailable, InteractionRequired, RetryableError
from ..settings import Settings

TIMEOUT = (3.05, 15.0)


class TransientGraphError(Exception):
    """Worth retrying: the message starts with the job error code (`graph_throttled`, ...)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code


class TerminalGraphError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def _token(session_id: str, scopes: Sequence[str]) -> str:
    try:
        return services.current().sessions.graph_token(session_id, scopes)
    except InteractionRequired:
        raise TerminalGraphError("interaction_required",
                                 "The sign-in that started this report has expired or was revoked; "
                                 "sign in again and start a new report.") from None
    except ConsentRequired:
        raise TerminalGraphError("consent_required",
                                 "The API is no longer allowed to read Microsoft Graph for this user; an "
                                 "administrator must grant consent.") from None
    except IdentityUnavailable:
        raise TransientGraphError("identity_unavailable", "The identity provider is unavailable.") from None
    except RetryableError as error:
        raise TransientGraphError(error.code, error.detail) from None
    except ApiError as error:
        # Misconfiguration or a rejected cached grant: retrying the activity cannot fix it.
        raise TerminalGraphError(error.code, error.detail) from None


class GraphReader:
    """GETs against Graph as the job's user; one instance per activity call."""

    def __init__(self, session_id: str, scopes: Sequence[str], settings: Settings | None = None,
                 http: requests.Session | None = None) -> None:
        svc = services.current() if settings is None or http is None else None
        self._settings = settings or svc.settings  # type: ignore[union-attr]
        self._http = http or svc.graph.session  # type: ignore[union-attr]
        self._session_id = session_id
        self._scopes = tuple(scopes)
        self.calls = 0

    def url(self, path: str) -> str:
        return f"{self._settings.graph_base_url.rstrip('/')}/{path.lstrip('/')}"

    def check_next_link(self, link: str) -> str:
        """Only follow @odata.nextLink within the configured Graph base: the user's token goes with it."""
        base = urlsplit(self._settings.graph_base_url)
        target = urlsplit(link)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc) or \
                not target.path.startswith(base.path.rstrip("/") + "/"):
            raise TerminalGraphError("report_failed", "Microsoft Graph returned a paging link outside Graph.")
        return link

    def get(self, url: str, *, allow_404: bool = False) -> dict[str, Any] | None:
        token = _token(self._session_id, self._scopes)
        self.calls += 1
        try:
            response = self._http.get(url, headers={"Authorization": f"Bearer {token}",
                                                       "Accept": "application/json"}, timeout=TIMEOUT)
        except requests.Timeout:
            raise TransientGraphError("graph_unavailable", "Microsoft Graph did not answer in time.") from None
        except requests.RequestException as exc:
            raise TransientGraphError("graph_unavailable",
                                      f"Microsoft Graph is unreachable ({type(exc).__name__}).") from None
        status = response.status_code
        if status == 404 and allow_404:
            return None
        if status == 429:
            raise TransientGraphError("graph_throttled", "Microsoft Graph is throttling requests.")
        if status >= 500:
            raise TransientGraphError("graph_unavailable", f"Microsoft Graph answered HTTP {status}.")
        if status == 401:
            raise TerminalGraphError("interaction_required",
                                     "Microsoft Graph rejected the user's token; sign in again.")
        if status == 403:
            raise TerminalGraphError("graph_forbidden",
                                     "Microsoft Graph denied access; the report needs the permissions "
                                     "User.ReadBasic.All and GroupMember.Read.All.")
        if status >= 400:
            raise TerminalGraphError("report_failed", f"Microsoft Graph answered HTTP {status}.")
        try:
            body = response.json()
        except ValueError:
            raise TransientGraphError("graph_unavailable", "Microsoft Graph returned an unreadable response.") from None
        if not isinstance(body, dict):
            raise TerminalGraphError("report_failed", "Microsoft Graph returned an unexpected response.")
        return body
