"""The Graph emulator through the real emulator process: HTTPS, tokens minted by the Entra emulator,
faults and metrics set through the admin API."""
from __future__ import annotations

import io
import time
from typing import Any

import pytest
import requests
from PIL import Image

from tests.fixtures.emulator import Emulator

GRAPH = "https://graph.microsoft.com"
READS = ["User.Read", "User.ReadBasic.All", "GroupMember.Read.All"]


def graph_token(emulator: Emulator, upn: str, scopes: list[str], **extra: Any) -> str:
    return emulator.mint(user=upn, client_id=emulator.app("api")["client_id"], audience=GRAPH, scopes=scopes,
                         **extra)


def call(emulator: Emulator, path: str, token: str | None, **headers: str) -> requests.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return emulator.session.get(f"{emulator.graph_url}{path}", headers=headers, timeout=30)


def test_me_over_https_with_a_minted_token(emulator: Emulator) -> None:
    token = graph_token(emulator, "priya.natarajan@larkspur.example", ["User.Read"])
    response = call(emulator, "/me", token, **{"client-request-id": "it-1"})
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
    assert body["id"] == emulator.user("priya.natarajan@larkspur.example")["oid"]
    assert body["displayName"] == "Priya Natarajan" and body["preferredLanguage"] == "en-GB"
    assert "password" not in body and "photo" not in body and "manager" not in body
    assert response.headers["client-request-id"] == "it-1" and response.headers["request-id"]


def test_select_through_https(emulator: Emulator) -> None:
    token = graph_token(emulator, "lena.hoffmann@larkspur.example", ["User.Read"])
    body = call(emulator, "/me?$select=displayName,jobTitle", token).json()
    assert body == {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(displayName,jobTitle)/$entity",
                    "displayName": "Lena Hoffmann", "jobTitle": "Security Engineer"}


def test_token_for_the_api_is_refused_by_graph(emulator: Emulator) -> None:
    api = emulator.app("api")
    token = emulator.mint(user="sam.whitfield@larkspur.example", client_id=emulator.app("spa")["client_id"],
                          audience=api["client_id"], scopes=["user_impersonation"])
    response = call(emulator, "/me", token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert 'client_id="00000003-0000-0000-c000-000000000000"' in response.headers["WWW-Authenticate"]


def test_expired_token_is_refused(emulator: Emulator) -> None:
    now = int(time.time())
    token = graph_token(emulator, "sam.whitfield@larkspur.example", ["User.Read"],
                        claims={"exp": now - 3600, "nbf": now - 7200, "iat": now - 7200})
    response = call(emulator, "/me", token)
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]


def test_missing_permission_is_403_and_app_only_me_is_400(emulator: Emulator) -> None:
    token = graph_token(emulator, "sam.whitfield@larkspur.example", ["User.Read"])
    response = call(emulator, "/me/transitiveMemberOf", token)
    assert response.status_code == 403 and response.json()["error"]["code"] == "Authorization_RequestDenied"
    app_only = graph_token(emulator, "sam.whitfield@larkspur.example", ["User.Read"],
                           claims={"scp": None, "roles": ["User.Read.All"]})
    response = call(emulator, "/me", app_only)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "/me request is only valid with delegated authentication flow."
    assert call(emulator, "/users/sam.whitfield@larkspur.example", app_only).status_code == 200


def test_photo_and_missing_photo(emulator: Emulator) -> None:
    mira = graph_token(emulator, "mira.okafor@larkspur.example", ["User.Read"])
    response = call(emulator, "/me/photo/$value", mira)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(response.content)).size == (240, 240)
    assert call(emulator, "/me/photo/$value", mira).content == response.content
    sam = graph_token(emulator, "sam.whitfield@larkspur.example", ["User.Read"])
    missing = call(emulator, "/me/photo/$value", sam)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "ImageNotFound"


def test_manager_and_direct_reports(emulator: Emulator) -> None:
    token = graph_token(emulator, "daniel.reyes@larkspur.example", READS)
    assert call(emulator, "/me/manager", token).json()["displayName"] == "Mira Okafor"
    reports = call(emulator, "/me/directReports", token).json()["value"]
    assert sorted(r["userPrincipalName"] for r in reports) == ["priya.natarajan@larkspur.example",
                                                               "tomas.ruiz@larkspur.example"]
    mira = emulator.user("mira.okafor@larkspur.example")["oid"]
    assert call(emulator, f"/users/{mira}/manager", token).status_code == 404


def test_transitive_member_of_pages_through_the_graph_listener(emulator: Emulator) -> None:
    token = graph_token(emulator, "priya.natarajan@larkspur.example", READS)
    url: str | None = f"{emulator.graph_url}/me/transitiveMemberOf?$top=5"
    names: list[str] = []
    while url:
        assert url.startswith(emulator.graph_url + "/me/transitiveMemberOf?")
        body = emulator.session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        assert len(body["value"]) <= 5
        names += [group["displayName"] for group in body["value"]]
        url = body.get("@odata.nextLink")
    assert len(names) == len(set(names)) > 5
    assert {"All Staff", "Engineering", "Platform", "Hackathon"} <= set(names)
    tampered = call(emulator, "/me/transitiveMemberOf?$top=5&$skiptoken=bogus", token)
    assert tampered.status_code == 400


def test_new_signing_key_is_accepted_right_after_rotation(fresh_emulator: Emulator) -> None:
    before = graph_token(fresh_emulator, "tomas.ruiz@larkspur.example", ["User.Read"])
    assert call(fresh_emulator, "/me", before).status_code == 200
    fresh_emulator.rotate_keys()
    after = graph_token(fresh_emulator, "tomas.ruiz@larkspur.example", ["User.Read"])
    assert after != before
    response = call(fresh_emulator, "/me", after)
    assert response.status_code == 200 and response.json()["displayName"] == "Tomás Ruiz"


def test_faults_and_metrics_through_the_admin_api(fresh_emulator: Emulator) -> None:
    token = graph_token(fresh_emulator, "lena.hoffmann@larkspur.example", ["User.Read"])
    fresh_emulator.fault(endpoint="graph", path="/v1.0/me", status=429, retry_after=2, count=1)
    throttled = call(fresh_emulator, "/me", token)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
    error = throttled.json()["error"]
    assert error["code"] == "TooManyRequests"
    assert error["innerError"]["request-id"] == throttled.headers["request-id"]
    assert call(fresh_emulator, "/me", token).status_code == 200

    fresh_emulator.fault(endpoint="graph", status=503, count=1)
    unavailable = call(fresh_emulator, "/me/photo/$value", token)
    assert unavailable.status_code == 503 and unavailable.json()["error"]["code"] == "serviceNotAvailable"

    fresh_emulator.fault(endpoint="graph", latency_ms=400, count=1)
    started = time.monotonic()
    assert call(fresh_emulator, "/me", token).status_code == 200
    assert time.monotonic() - started >= 0.4

    graph_counts = fresh_emulator.metrics()["graph"]
    assert graph_counts == {"/v1.0/me": 3, "/v1.0/me/photo/$value": 1}


@pytest.mark.parametrize("path, status", [("/nothing-here", 400), ("/me/drive", 400)])
def test_unknown_paths(emulator: Emulator, path: str, status: int) -> None:
    token = graph_token(emulator, "sam.whitfield@larkspur.example", ["User.Read"])
    response = call(emulator, path, token)
    assert response.status_code == status
    assert response.json()["error"]["message"].startswith("Resource not found for the segment")
