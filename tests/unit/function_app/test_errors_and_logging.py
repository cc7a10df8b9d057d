"""Problem responses and log redaction."""
from __future__ import annotations

import asyncio
import json
import logging

import azure.functions as func
import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from function_app.errors import (ConsentRequired, GraphThrottled, IdentityUnavailable, InsufficientScope,
                                 InteractionRequired, InvalidToken, MissingToken, http_handler, problem_response)
from function_app import redaction
from function_app.logging_setup import (correlation_scope, install_redaction, log_event, redact,
                                       request_correlation_id)
from tests.fixtures.logs import correlation_ids
from tests.unit.function_app.support import mint


def test_problem_shape_and_headers() -> None:
    response = problem_response(InvalidToken('bad "token"\nnext'), "cid-1")
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert json.loads(response.get_body()) == {
        "type": "https://errors.profile-api.local/invalid_token", "title": "Invalid token", "status": 401,
        "code": "invalid_token", "detail": 'bad "token"\nnext', "correlationId": "cid-1"}
    # header-safe: no quotes or control characters inside the quoted string
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token", error_description="bad tokennext"'
    assert response.headers["Cache-Control"] == "no-store"


def test_missing_token_challenge_has_no_error_code() -> None:
    assert problem_response(MissingToken(), "c").headers["WWW-Authenticate"] == "Bearer"


def test_insufficient_scope_names_the_scope() -> None:
    challenge = problem_response(InsufficientScope("x", scope="user_impersonation"), "c").headers["WWW-Authenticate"]
    assert challenge == 'Bearer error="insufficient_scope", error_description="x", scope="user_impersonation"'


def test_consent_required_is_403_with_url() -> None:
    response = problem_response(ConsentRequired("x", consent_url="https://idp/t/adminconsent?client_id=a"), "c")
    assert response.status_code == 403
    assert json.loads(response.get_body())["consentUrl"] == "https://idp/t/adminconsent?client_id=a"
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')


def test_interaction_required_without_claims() -> None:
    response = problem_response(InteractionRequired("sign in"), "c")
    assert response.headers["WWW-Authenticate"].startswith('Bearer error="interaction_required"')


@pytest.mark.parametrize(("error", "status", "retry_after"), [
    (IdentityUnavailable("x"), 503, "5"),
    (IdentityUnavailable("x", retry_after=0.2), 503, "1"),
    (IdentityUnavailable("x", retry_after=99999), 503, "3600"),
    (GraphThrottled("x", retry_after=12), 429, "12"),
])
def test_retry_after_is_always_present_and_sane(error, status: int, retry_after: str) -> None:
    response = problem_response(error, "c")
    assert response.status_code == status and response.headers["Retry-After"] == retry_after


@pytest.mark.parametrize("value", ["", "no pe", "a=b", "<script>", "id\u2028x", "3f2504e0-4f89-41d3-9a0c-0305e82c3301\n",
                                   "3f2504e0-4f89-41d3-9a0c-0305e82c3301\r\nX-Evil: 1", "1" * 200])
def test_correlation_id_rejects_garbage(value: str) -> None:
    cid = request_correlation_id({"x-correlation-id": value})
    assert cid != value and len(cid) == 36


def test_redaction() -> None:
    token = mint()
    text = (f"Authorization: Bearer {token} client_secret=abc123 "
            f'{{"refresh_token": "0.AAAA-refresh", "client_info": "eyJ1aWQiOiJ4In0"}} assertion={token}')
    cleaned = redact(text)
    assert token not in cleaned and "abc123" not in cleaned and "0.AAAA-refresh" not in cleaned
    assert "eyJ1aWQiOiJ4In0" not in cleaned


@pytest.mark.parametrize("text", [
    "event=graph_call path=/v1.0/me status=200", "BEARER abc.def", "x CLIENT_SECRET: 's3cr3t'",
    "Refresh_Token=1.AQ", "Password=hunter2", "id_token:eyJhbGciOi.eyJzdWIiOi.sig", "client_Info=eyJ1aWQi",
    "Client_Assertion='x'", "ſecret=long-s", "paſſword=x", "bearer\tabc", "secret = spaced",
    "rediss://user:pw@cache", "TOKEN_CACHE_KEYS=k1:abc", "X-IDENTITY-HEADER: h", "AccountKey=abc==", "sig=abc",
    "code_verifier=xyz", "pwd=1", "SharedAccessKey=k", "azurewebjobsstorage=UseDevelopmentStorage",
])
def test_redaction_shortcut_never_keeps_what_the_patterns_remove(text: str) -> None:
    assert redact(text) == redaction._apply_patterns(text)


@hypothesis_settings(max_examples=500)
@given(st.text(alphabet=st.sampled_from(list("abcdeghijklnoprstuwyABEIJKRSTY_=:/@'\" \t.-ſıKİ0123")), max_size=60))
def test_redaction_shortcut_agrees_with_the_patterns_on_any_text(text: str) -> None:
    assert redact(text) == redaction._apply_patterns(text)


def test_redaction_applies_to_every_logger_and_exception(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction()
    caplog.set_level(logging.DEBUG)
    token = mint()
    logging.getLogger("some.library").debug("sending %s", token)
    try:
        raise ValueError(f"bad token {token}")
    except ValueError:
        logging.getLogger("other").exception("failed")
    assert caplog.records
    assert token not in caplog.text
    assert "[redacted]" in caplog.text


# -- correlation ids hold for one invocation -----------------------------------------------------------------

def _request(correlation_id: str) -> func.HttpRequest:
    return func.HttpRequest("GET", "http://localhost/api/x", headers={"x-correlation-id": correlation_id}, body=b"")


def _ids(caplog: pytest.LogCaptureFixture, event: str) -> list[str]:
    return correlation_ids((r.getMessage() for r in caplog.records), event)


def test_a_sync_request_s_id_is_gone_once_it_has_answered(caplog: pytest.LogCaptureFixture) -> None:
    @http_handler("probe")
    def probe(req: func.HttpRequest) -> func.HttpResponse:
        log_event("inside")
        return func.HttpResponse("ok")

    with caplog.at_level(logging.INFO, logger="function_app"):
        assert probe(_request("req-sync-1")).headers["X-Correlation-Id"] == "req-sync-1"
        log_event("afterwards")  # what an activity or the warmup logs next on this thread
    assert _ids(caplog, "inside") == ["req-sync-1"]
    assert _ids(caplog, "afterwards") != ["req-sync-1"] and len(_ids(caplog, "afterwards")[0]) == 36


def test_an_async_request_s_id_is_gone_once_it_has_answered(caplog: pytest.LogCaptureFixture) -> None:
    @http_handler("probe")
    async def probe(req: func.HttpRequest) -> func.HttpResponse:
        log_event("inside")
        return func.HttpResponse("ok")

    async def two_calls() -> None:
        await probe(_request("req-async-1"))
        log_event("afterwards")

    with caplog.at_level(logging.INFO, logger="function_app"):
        asyncio.run(two_calls())
    assert _ids(caplog, "inside") == ["req-async-1"] and _ids(caplog, "afterwards") != ["req-async-1"]


def test_a_failing_request_also_leaves_no_id_behind(caplog: pytest.LogCaptureFixture) -> None:
    @http_handler("probe")
    def probe(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("boom")

    with caplog.at_level(logging.INFO, logger="function_app"):
        assert probe(_request("req-fail-1")).status_code == 500
        log_event("afterwards")
    assert _ids(caplog, "afterwards") != ["req-fail-1"]


def test_a_scope_gives_its_lines_one_id_and_restores_the_one_before(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="function_app"):
        with correlation_scope("outer-1"):
            with correlation_scope() as inner:
                log_event("inner")
                log_event("inner")
            log_event("outer")
        log_event("outside")
        log_event("outside")
    assert _ids(caplog, "inner") == [inner, inner] and inner != "outer-1"
    assert _ids(caplog, "outer") == ["outer-1"]
    first, second = _ids(caplog, "outside")  # no invocation: each line its own id, never one left behind
    assert first != second and "outer-1" not in (first, second)
