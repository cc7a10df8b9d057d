"""Graph client: retries inside a time budget, Retry-After, error mapping, client-request-id."""
from __future__ import annotations

import logging
from typing import Any

import pytest
import requests

from function_app.errors import ConsentRequired, GraphThrottled, GraphUnavailable, InteractionRequired, PhotoNotFound
from function_app.graph import PROFILE_FIELDS, GraphClient, GraphTokenRejected
from function_app.settings import load_settings
from tests.unit.function_app.support import GRAPH, Reply, Transport, base_env, session_with

PROFILE = {"@odata.context": "x", "id": "1", "displayName": "Ana Souza", "userPrincipalName": "ana@larkspur.example"}


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client_for(replies: list[Reply | Exception], budget: float = 8.0) -> tuple[GraphClient, Transport, FakeTime]:
    queue = list(replies)
    transport = Transport(lambda request: queue.pop(0) if len(queue) > 1 else queue[0])
    fake = FakeTime()
    client = GraphClient(load_settings(base_env()), session=session_with(transport), budget_seconds=budget,
                         sleep=fake.sleep, clock=fake.clock)
    return client, transport, fake


def test_profile_with_select_and_headers() -> None:
    client, transport, _ = client_for([Reply(200, PROFILE)])
    assert client.me("graph-token") == {k: v for k, v in PROFILE.items() if k != "@odata.context"}
    request = transport.requests[0]
    assert request.url.startswith(f"{GRAPH}/me?%24select=")
    assert all(field in requests.utils.unquote(request.url) for field in PROFILE_FIELDS)
    assert request.headers["Authorization"] == "Bearer graph-token"
    assert len(request.headers["client-request-id"]) == 36
    assert transport.timeouts[0][0] > 0 and transport.timeouts[0][1] > 0


def test_client_request_id_is_new_per_attempt_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="function_app")
    client, transport, _ = client_for([Reply(503, {}), Reply(200, PROFILE)])
    client.me("graph-token")
    ids = [r.headers["client-request-id"] for r in transport.requests]
    assert len(set(ids)) == 2
    assert all(f"client_request_id={i}" in caplog.text for i in ids)
    assert "graph-token" not in caplog.text


def test_retries_429_honouring_retry_after() -> None:
    client, transport, fake = client_for([Reply(429, {}, {"Retry-After": "2"}), Reply(200, PROFILE)])
    assert client.me("t")["displayName"] == "Ana Souza"
    assert fake.sleeps == [2.0]
    assert len(transport.requests) == 2


@pytest.mark.parametrize("status", [503, 504])
def test_retries_transient_server_errors(status: int) -> None:
    client, transport, fake = client_for([Reply(status, {}), Reply(status, {}), Reply(200, PROFILE)])
    client.me("t")
    assert len(transport.requests) == 3
    assert fake.sleeps == [0.25, 0.5]


def test_throttling_beyond_the_budget_is_graph_throttled() -> None:
    client, transport, fake = client_for([Reply(429, {}, {"Retry-After": "3"})])
    with pytest.raises(GraphThrottled) as caught:
        client.me("t")
    assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "3"
    assert fake.now <= 8.0  # never waits past the budget
    assert len(transport.requests) == 3  # 0 s, 3 s, 6 s; a wait to 9 s would exceed the budget


def test_retry_after_longer_than_budget_fails_fast() -> None:
    client, transport, fake = client_for([Reply(429, {}, {"Retry-After": "30"})])
    with pytest.raises(GraphThrottled) as caught:
        client.me("t")
    assert caught.value.headers["Retry-After"] == "30"
    assert len(transport.requests) == 1 and fake.sleeps == []


def test_persistent_503_is_graph_unavailable_with_retry_after() -> None:
    client, transport, _ = client_for([Reply(503, {})])
    with pytest.raises(GraphUnavailable) as caught:
        client.me("t")
    assert caught.value.status == 503 and int(caught.value.headers["Retry-After"]) >= 1
    assert len(transport.requests) == 4


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 500, 502])
def test_no_retry_on_other_statuses(status: int) -> None:
    client, transport, _ = client_for([Reply(status, {"error": {"code": "x"}})])
    with pytest.raises(Exception):
        client.me("t")
    assert len(transport.requests) == 1


def test_timeouts_are_retried_then_unavailable() -> None:
    client, transport, _ = client_for([requests.ReadTimeout("slow")])
    with pytest.raises(GraphUnavailable):
        client.me("t")
    assert len(transport.requests) == 4


def test_malformed_json_is_graph_unavailable() -> None:
    client, _, _ = client_for([Reply(200, content=b"<html>oops</html>")])
    with pytest.raises(GraphUnavailable):
        client.me("t")
    client, _, _ = client_for([Reply(200, ["not", "an", "object"])])
    with pytest.raises(GraphUnavailable):
        client.me("t")


def test_401_and_403_mapping() -> None:
    client, _, _ = client_for([Reply(401, {"error": {"code": "InvalidAuthenticationToken"}})])
    with pytest.raises(GraphTokenRejected):
        client.me("t")
    challenge = ('Bearer realm="", error="insufficient_claims", '
                 'claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZX19fQ=="')
    client, _, _ = client_for([Reply(401, {}, {"WWW-Authenticate": challenge})])
    with pytest.raises(InteractionRequired) as caught:
        client.me("t")
    assert caught.value.claims == '{"access_token":{"nbf":{"essential":true}}}'
    client, _, _ = client_for([Reply(403, {"error": {"code": "Authorization_RequestDenied"}})])
    with pytest.raises(ConsentRequired) as consent:
        client.me("t")
    assert "adminconsent?client_id=" in consent.value.extra["consentUrl"]


def test_photo_bytes_and_404() -> None:
    client, _, _ = client_for([Reply(200, content=b"\x89PNG....", headers={"Content-Type": "image/png"})])
    photo = client.photo("t")
    assert photo.content.startswith(b"\x89PNG") and photo.content_type == "image/png"
    client, _, _ = client_for([Reply(404, {"error": {"code": "ImageNotFound"}})])
    with pytest.raises(PhotoNotFound) as caught:
        client.photo("t")
    assert caught.value.status == 404
    client, _, _ = client_for([Reply(200, content=b"<html/>", headers={"Content-Type": "text/html"})])
    with pytest.raises(GraphUnavailable):
        client.photo("t")


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/png", "image/gif", "image/webp", "IMAGE/PNG; q=1"])
def test_photo_raster_types_pass(content_type: str) -> None:
    client, _, _ = client_for([Reply(200, content=b"bytes", headers={"Content-Type": content_type})])
    assert client.photo("t").content_type == content_type.split(";")[0].lower()


@pytest.mark.parametrize("content_type", ["image/svg+xml", "image/x-icon", "image/bmp", "image/", "text/html"])
def test_photo_types_outside_the_allow_list_answer_like_a_malformed_graph_answer(content_type: str) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    client, _, _ = client_for([Reply(200, content=svg, headers={"Content-Type": content_type})])
    with pytest.raises(GraphUnavailable) as caught:
        client.photo("t")
    assert caught.value.status == 503 and caught.value.detail == "Microsoft Graph returned a malformed response."


def test_paging_follows_next_links_on_the_graph_host_only() -> None:
    pages: list[Reply | Exception] = [
        Reply(200, {"value": [{"id": "a"}], "@odata.nextLink": f"{GRAPH}/me/transitiveMemberOf?$skiptoken=2"}),
        Reply(200, {"value": [{"id": "b"}]}),
    ]
    client, transport, _ = client_for(pages)
    assert [item["id"] for item in client.iter_pages("t", "/me/transitiveMemberOf")] == ["a", "b"]
    client, transport, _ = client_for([Reply(200, {"value": [], "@odata.nextLink": "https://evil.example/x"})])
    with pytest.raises(GraphUnavailable):
        list(client.iter_pages("t", "/me/transitiveMemberOf"))
    assert len(transport.requests) == 1


def test_logged_paths_carry_no_user_names(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="function_app")
    client, _, _ = client_for([Reply(200, {"id": "m"})])
    client.get_json("t", "/users/ana.souza@larkspur.example/manager")
    assert "ana.souza" not in caplog.text and "path=/v1.0/users/{id}/manager" in caplog.text


# -- request URLs and headers -------------------------------------------------------------------------------------

def test_each_call_carries_its_callers_token_and_a_new_request_id() -> None:
    client, transport, _ = client_for([Reply(200, PROFILE)])
    for token in ("token-a", "token-b", "token-a"):
        client.me(token)
    assert [r.headers["Authorization"] for r in transport.requests] == ["Bearer token-a", "Bearer token-b",
                                                                        "Bearer token-a"]
    assert len({r.headers["client-request-id"] for r in transport.requests}) == 3
    first = transport.requests[0]
    assert all(r.url == first.url and r.headers["Accept"] == "application/json"
               and r.headers["return-client-request-id"] == "true" for r in transport.requests)


def test_encoded_urls_are_kept_once_and_stay_bounded() -> None:
    client, transport, _ = client_for([Reply(200, {"value": []})])
    client.get_json("t", "/users/a", params={"$select": "id"})
    client.get_json("t", "/users/a", params={"$select": "id"})
    assert transport.requests[0].url == transport.requests[1].url == f"{GRAPH}/users/a?%24select=id"
    for i in range(200):
        client.get_json("t", f"/users/u{i}")
    assert len(client._targets) <= 64


def test_list_params_are_encoded_per_call() -> None:
    client, transport, _ = client_for([Reply(200, {"value": []})])
    client.get_json("t", "/me", params={"$select": ["id", "mail"]})  # type: ignore[dict-item]
    assert "%24select=id&%24select=mail" in transport.requests[-1].url
    assert client._targets == {}


def test_a_redirect_is_not_followed_with_the_users_token() -> None:
    client, transport, _ = client_for([Reply(302, {}, {"Location": "https://elsewhere.example/me"})])
    with pytest.raises(GraphUnavailable):
        client.me("t")
    assert [r.url.split("?")[0] for r in transport.requests] == [f"{GRAPH}/me"]
