"""The Graph emulator's HTTP surface, driven in process: what a Graph client sees for each call."""
from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from localdev.emulator.graph.service import build_graph_app
from tests.unit.emulator.test_graph_support import FakeFault, FakeState, user

pytestmark = pytest.mark.asyncio

ALL_READS = "User.Read User.ReadBasic.All GroupMember.Read.All"
DEFAULT_PROPERTIES = {"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                      "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}


@pytest.fixture
def state() -> FakeState:
    return FakeState()


@pytest_asyncio.fixture
async def client(state: FakeState, tmp_path: Any) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(build_graph_app(state, photo_dir=tmp_path / "photos"))) as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def get(client: TestClient, path: str, token: str | None, **headers: str) -> tuple[int, Any, Any]:
    all_headers = {**(bearer(token) if token else {}), **headers}
    response = await client.get(path, headers=all_headers)
    body = await response.json() if "json" in response.headers.get("Content-Type", "") else await response.read()
    return response.status, body, response.headers


def assert_graph_error(status: int, body: Any, headers: Any, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert body["error"]["code"] == code
    inner = body["error"]["innerError"]
    assert inner["request-id"] == headers["request-id"]
    assert inner["client-request-id"] == headers["client-request-id"]
    assert inner["date"]


# --- /me ---------------------------------------------------------------------------------------------

async def test_me_returns_the_default_property_set(client: TestClient, state: FakeState) -> None:
    status, body, headers = await get(client, "/v1.0/me", state.token("tomas"))
    assert status == 200
    assert body.pop("@odata.context") == "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
    assert set(body) == DEFAULT_PROPERTIES
    seeded = user("tomas")
    assert body["id"] == seeded["id"] and body["displayName"] == "Tomás Ruiz"
    assert body["businessPhones"] == seeded["businessPhones"]
    assert headers["Content-Type"].startswith("application/json")


async def test_me_never_leaks_seed_only_fields(client: TestClient, state: FakeState) -> None:
    for path in ("/v1.0/me", "/v1.0/me/manager", "/v1.0/me/directReports", "/v1.0/users"):
        _, body, _ = await get(client, path, state.token("priya", ALL_READS))
        text = str(body)
        assert "local-only" not in text and "'photo'" not in text and "'manager'" not in text, path


async def test_select_returns_only_the_named_properties(client: TestClient, state: FakeState) -> None:
    status, body, _ = await get(client, "/v1.0/me?$select=displayName, Department,mail", state.token("lena"))
    assert status == 200
    assert body == {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(displayName,department,mail)/$entity",
        "displayName": "Lena Hoffmann", "department": "Security", "mail": "lena.hoffmann@larkspur.example",
    }


async def test_select_of_properties_the_seed_lacks_gives_graph_defaults(client: TestClient,
                                                                       state: FakeState) -> None:
    _, body, _ = await get(client, "/v1.0/me?$select=accountEnabled,otherMails,city,passwordProfile",
                           state.token("lena"))
    assert body["accountEnabled"] is True and body["otherMails"] == []
    assert body["city"] is None and body["passwordProfile"] is None


@pytest.mark.parametrize("name", ["password", "photo", "manager", "nonsense"])
async def test_select_of_unknown_property_is_a_bad_request(client: TestClient, state: FakeState,
                                                          name: str) -> None:
    status, body, headers = await get(client, f"/v1.0/me?$select=displayName,{name}", state.token("lena"))
    assert_graph_error(status, body, headers, 400, "BadRequest")
    assert body["error"]["message"] == f"Could not find a property named '{name}' on type 'microsoft.graph.user'."


async def test_me_with_an_app_token_is_a_bad_request(client: TestClient, state: FakeState) -> None:
    status, body, headers = await get(client, "/v1.0/me", state.token(None, None, roles=["User.Read.All"]))
    assert_graph_error(status, body, headers, 400, "BadRequest")
    assert body["error"]["message"] == "/me request is only valid with delegated authentication flow."


async def test_me_for_a_user_not_in_the_directory_is_not_found(client: TestClient, state: FakeState) -> None:
    ghost = str(uuid.uuid4())
    status, body, headers = await get(client, "/v1.0/me", state.token("mira", oid=ghost))
    assert_graph_error(status, body, headers, 404, "Request_ResourceNotFound")
    assert ghost in body["error"]["message"]


# --- token and permission failures --------------------------------------------------------------------

async def test_missing_token_is_401_with_graphs_challenge(client: TestClient) -> None:
    status, body, headers = await get(client, "/v1.0/me", None)
    assert_graph_error(status, body, headers, 401, "InvalidAuthenticationToken")
    assert headers["WWW-Authenticate"] == (
        'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
        'client_id="00000003-0000-0000-c000-000000000000"')


async def test_expired_token_is_401(client: TestClient, state: FakeState) -> None:
    expired = state.token("mira", exp=int(time.time()) - 3600, nbf=int(time.time()) - 7200)
    status, body, headers = await get(client, "/v1.0/me", expired)
    assert_graph_error(status, body, headers, 401, "InvalidAuthenticationToken")
    assert "expired" in body["error"]["message"]


async def test_token_without_a_graph_permission_is_403(client: TestClient, state: FakeState) -> None:
    status, body, headers = await get(client, "/v1.0/me", state.token("mira", "openid profile"))
    assert_graph_error(status, body, headers, 403, "Authorization_RequestDenied")
    assert body["error"]["message"] == "Insufficient privileges to complete the operation."


@pytest.mark.parametrize("path", ["/v1.0/users/daniel.reyes@larkspur.example", "/v1.0/me/manager",
                                  "/v1.0/me/directReports", "/v1.0/me/transitiveMemberOf", "/v1.0/users"])
async def test_user_read_alone_reaches_only_the_own_profile(client: TestClient, state: FakeState,
                                                           path: str) -> None:
    status, body, headers = await get(client, path, state.token("priya", "User.Read"))
    assert_graph_error(status, body, headers, 403, "Authorization_RequestDenied")


async def test_user_read_allows_the_own_profile_by_id_or_upn(client: TestClient, state: FakeState) -> None:
    token = state.token("priya", "User.Read")
    for key in (user("priya")["id"], "Priya.Natarajan@Larkspur.example"):
        status, body, _ = await get(client, f"/v1.0/users/{key}", token)
        assert status == 200 and body["displayName"] == "Priya Natarajan"


async def test_memberships_need_a_group_permission(client: TestClient, state: FakeState) -> None:
    status, _, _ = await get(client, "/v1.0/me/transitiveMemberOf", state.token("priya", "User.ReadBasic.All"))
    assert status == 403
    status, _, _ = await get(client, "/v1.0/me/transitiveMemberOf", state.token("priya", "Directory.Read.All"))
    assert status == 200


async def test_app_token_with_user_read_all_reads_users(client: TestClient, state: FakeState) -> None:
    token = state.token(None, None, roles=["User.Read.All"])
    status, body, _ = await get(client, "/v1.0/users/sam.whitfield@larkspur.example", token)
    assert status == 200 and body["id"] == user("sam")["id"]
    status, body, _ = await get(client, f"/v1.0/users/{user('sam')['id']}/manager", token)
    assert status == 200 and body["userPrincipalName"] == "priya.natarajan@larkspur.example"
    status, _, _ = await get(client, f"/v1.0/users/{user('sam')['id']}/transitiveMemberOf", token)
    assert status == 403
    status, _, _ = await get(client, "/v1.0/users/sam.whitfield@larkspur.example",
                             state.token(None, None, roles=[]))
    assert status == 403


# --- users, manager, direct reports -------------------------------------------------------------------

async def test_users_by_id_or_upn(client: TestClient, state: FakeState) -> None:
    token = state.token("mira", "User.ReadBasic.All")
    by_upn = await get(client, "/v1.0/users/DANIEL.REYES@larkspur.example", token)
    by_id = await get(client, f"/v1.0/users/{user('daniel')['id']}", token)
    assert by_upn[0] == by_id[0] == 200
    assert by_upn[1] == by_id[1]
    assert by_id[1]["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#users/$entity"


async def test_unknown_user_is_not_found_with_graphs_message(client: TestClient, state: FakeState) -> None:
    status, body, headers = await get(client, "/v1.0/users/nobody@larkspur.example",
                                      state.token("mira", "User.Read.All"))
    assert_graph_error(status, body, headers, 404, "Request_ResourceNotFound")
    assert body["error"]["message"] == ("Resource 'nobody@larkspur.example' does not exist or one of its "
                                        "queried reference-property objects are not present.")


async def test_manager_chain(client: TestClient, state: FakeState) -> None:
    status, body, _ = await get(client, "/v1.0/me/manager", state.token("sam", ALL_READS))
    assert status == 200
    assert body["@odata.type"] == "#microsoft.graph.user"
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#directoryObjects/$entity"
    assert body["displayName"] == "Priya Natarajan"
    status, body, _ = await get(client, f"/v1.0/users/{user('priya')['id']}/manager?$select=displayName",
                                state.token("sam", ALL_READS))
    assert status == 200 and body["displayName"] == "Daniel Reyes" and "mail" not in body


async def test_top_of_the_org_has_no_manager(client: TestClient, state: FakeState) -> None:
    status, body, headers = await get(client, "/v1.0/me/manager", state.token("mira", ALL_READS))
    assert_graph_error(status, body, headers, 404, "Request_ResourceNotFound")


async def test_direct_reports(client: TestClient, state: FakeState) -> None:
    status, body, _ = await get(client, "/v1.0/me/directReports", state.token("daniel", ALL_READS))
    assert status == 200
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#directoryObjects"
    assert sorted(r["displayName"] for r in body["value"]) == ["Priya Natarajan", "Tomás Ruiz"]
    assert all(r["@odata.type"] == "#microsoft.graph.user" for r in body["value"])
    _, body, _ = await get(client, "/v1.0/me/directReports", state.token("sam", ALL_READS))
    assert body["value"] == []


# --- transitiveMemberOf and paging --------------------------------------------------------------------

def expected_groups(upn: str) -> set[str]:
    from tests.unit.emulator.test_graph_support import SEED

    by_id = {g["id"]: g for g in SEED["groups"]}
    found = {g["id"] for g in SEED["groups"] if upn in g["members"]}
    pending = list(found)
    while pending:
        for parent in by_id[pending.pop()].get("memberOf", []):
            if parent not in found:
                found.add(parent)
                pending.append(parent)
    return found


async def test_transitive_member_of_follows_nested_groups(client: TestClient, state: FakeState) -> None:
    status, body, _ = await get(client, "/v1.0/me/transitiveMemberOf", state.token("tomas", ALL_READS))
    assert status == 200
    names = [g["displayName"] for g in body["value"]]
    # Tomás is not a direct member of Engineering, only through Platform.
    assert "Engineering" in names and "Platform" in names
    assert {g["id"] for g in body["value"]} == expected_groups("tomas.ruiz@larkspur.example")
    assert len(names) == len(set(names))
    group = next(g for g in body["value"] if g["displayName"] == "Platform")
    assert group["@odata.type"] == "#microsoft.graph.group"
    assert group["description"] == "Platform team" and group["mail"] == "platform@larkspur.example"
    assert group["securityEnabled"] is True and group["groupTypes"] == []
    assert "members" not in group and "memberOf" not in group
    assert "@odata.nextLink" not in body


async def test_direct_member_of_excludes_nesting(client: TestClient, state: FakeState) -> None:
    _, body, _ = await get(client, "/v1.0/me/memberOf", state.token("tomas", ALL_READS))
    assert "Engineering" not in [g["displayName"] for g in body["value"]]


async def follow_pages(client: TestClient, token: str, first: str) -> tuple[list[dict[str, Any]], list[str]]:
    items: list[dict[str, Any]] = []
    links: list[str] = []
    url = first
    while True:
        status, body, _ = await get(client, url, token)
        assert status == 200, body
        items += body["value"]
        link = body.get("@odata.nextLink")
        if not link:
            return items, links
        links.append(link)
        url = link.split("://", 1)[1].split("/", 1)[1]
        url = "/" + url


async def test_paging_with_top_walks_every_group_once(client: TestClient, state: FakeState) -> None:
    token = state.token("priya", ALL_READS)
    items, links = await follow_pages(client, token, "/v1.0/me/transitiveMemberOf?$top=4&$select=displayName")
    expected = expected_groups("priya.natarajan@larkspur.example")
    assert len(items) == len(expected) and len(links) == (len(expected) - 1) // 4
    assert all(set(item) == {"@odata.type", "displayName"} for item in items)
    first = links[0]
    assert first.startswith(f"http://{client.host}:{client.port}/v1.0/me/transitiveMemberOf?")
    assert "$top=4" in first and "$skiptoken=" in first and "$select=displayName" in first


async def test_default_page_size_is_one_hundred(client: TestClient, state: FakeState) -> None:
    for index in range(150):
        state.tenant.groups.append({"id": str(uuid.UUID(int=index)), "displayName": f"Extra {index}",
                                    "members": ["sam.whitfield@larkspur.example"]})
    token = state.token("sam", ALL_READS)
    _, body, _ = await get(client, "/v1.0/me/transitiveMemberOf", token)
    assert len(body["value"]) == 100 and "@odata.nextLink" in body
    items, _ = await follow_pages(client, token, "/v1.0/me/transitiveMemberOf")
    assert len(items) == len(expected_groups("sam.whitfield@larkspur.example")) + 150
    _, body, _ = await get(client, "/v1.0/me/transitiveMemberOf?$top=999", token)
    assert "@odata.nextLink" not in body


@pytest.mark.parametrize("top", ["0", "1000", "-1", "ten"])
async def test_out_of_range_top_is_a_bad_request(client: TestClient, state: FakeState, top: str) -> None:
    status, body, headers = await get(client, f"/v1.0/me/transitiveMemberOf?$top={top}",
                                      state.token("sam", ALL_READS))
    assert_graph_error(status, body, headers, 400, "BadRequest")


async def test_invalid_or_foreign_skiptoken_is_a_bad_request(client: TestClient, state: FakeState) -> None:
    priya = state.token("priya", ALL_READS)
    _, body, _ = await get(client, "/v1.0/me/transitiveMemberOf?$top=2", priya)
    skiptoken = body["@odata.nextLink"].split("$skiptoken=")[1]
    for bad in ("garbage", skiptoken[:-3] + "AAA", "eyJvIjotNX0." + skiptoken.split(".")[1]):
        status, body, _ = await get(client, f"/v1.0/me/transitiveMemberOf?$top=2&$skiptoken={bad}", priya)
        assert status == 400 and body["error"]["code"] in {"Request_BadRequest", "Directory_ExpiredPageToken"}
    # A link issued to Priya is no good to Sam, nor on another collection.
    sam = state.token("sam", ALL_READS)
    status, _, _ = await get(client, f"/v1.0/me/transitiveMemberOf?$top=2&$skiptoken={skiptoken}", sam)
    assert status == 400
    status, _, _ = await get(client, f"/v1.0/me/memberOf?$top=2&$skiptoken={skiptoken}", priya)
    assert status == 400


async def test_unsupported_query_options(client: TestClient, state: FakeState) -> None:
    token = state.token("sam", ALL_READS)
    status, body, _ = await get(client, "/v1.0/me/transitiveMemberOf?$filter=displayName eq 'x'", token)
    assert status == 400 and body["error"]["code"] == "Request_UnsupportedQuery"
    status, body, _ = await get(client, "/v1.0/me?$top=1", token)
    assert status == 400 and "not a collection" in body["error"]["message"]


# --- photos ----------------------------------------------------------------------------------------

async def test_photo_value_is_a_jpeg_of_the_user(client: TestClient, state: FakeState) -> None:
    status, body, headers = await get(client, "/v1.0/me/photo/$value", state.token("mira"))
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert body[:3] == b"\xff\xd8\xff" and headers["ETag"]
    again = await get(client, "/v1.0/me/photo/%24value", state.token("mira"))
    assert again[1] == body


async def test_photo_metadata(client: TestClient, state: FakeState) -> None:
    status, body, _ = await get(client, "/v1.0/me/photo", state.token("lena"))
    assert status == 200
    assert body["@odata.mediaContentType"] == "image/jpeg"
    assert body["width"] == body["height"] == 240 and body["id"] == "240X240"


async def test_user_without_photo_gets_image_not_found(client: TestClient, state: FakeState) -> None:
    for path in ("/v1.0/me/photo/$value", "/v1.0/me/photo"):
        status, body, headers = await get(client, path, state.token("sam"))
        assert_graph_error(status, body, headers, 404, "ImageNotFound")
        assert body["error"]["message"] == "The photo wasn't found."


async def test_another_users_photo_needs_read_basic_all(client: TestClient, state: FakeState) -> None:
    path = "/v1.0/users/mira.okafor@larkspur.example/photo/$value"
    assert (await get(client, path, state.token("sam", "User.Read")))[0] == 403
    status, body, _ = await get(client, path, state.token("sam", "User.ReadBasic.All"))
    assert status == 200 and body == (await get(client, "/v1.0/me/photo/$value", state.token("mira")))[1]


# --- URLs and methods ------------------------------------------------------------------------------

@pytest.mark.parametrize("path, segment", [("/v1.0/groups", "groups"), ("/v1.0/me/calendar", "calendar"),
                                           ("/v1.0/me/photo/raw", "raw"), ("/v1.0/me/manager/x", "x")])
async def test_unknown_segment_is_a_bad_request(client: TestClient, state: FakeState, path: str,
                                                segment: str) -> None:
    status, body, headers = await get(client, path, state.token("sam", ALL_READS))
    assert_graph_error(status, body, headers, 400, "BadRequest")
    assert body["error"]["message"] == f"Resource not found for the segment '{segment}'."


async def test_unknown_version(client: TestClient, state: FakeState) -> None:
    status, body, _ = await get(client, "/v2.0/me", state.token("sam"))
    assert status == 400 and body["error"]["message"] == "Invalid version: v2.0"


async def test_segments_are_case_insensitive(client: TestClient, state: FakeState) -> None:
    status, body, _ = await get(client, "/v1.0/ME/Manager", state.token("sam", ALL_READS))
    assert status == 200 and body["displayName"] == "Priya Natarajan"


async def test_writes_are_method_not_allowed(client: TestClient, state: FakeState) -> None:
    response = await client.patch("/v1.0/me", json={"jobTitle": "CEO"}, headers=bearer(state.token("sam")))
    body = await response.json()
    assert response.status == 405 and body["error"]["innerError"]["request-id"] == response.headers["request-id"]
    assert "GET" in response.headers["Allow"]


async def test_cors_preflight_and_exposed_headers(client: TestClient, state: FakeState) -> None:
    origin = "http://localhost:4280"
    response = await client.options("/v1.0/me", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
    assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == origin
    status, _, headers = await get(client, "/v1.0/me", state.token("sam"), Origin=origin)
    assert status == 200 and "request-id" in headers["Access-Control-Expose-Headers"]


# --- request ids, metrics, faults ----------------------------------------------------------------------

async def test_request_ids_on_every_response(client: TestClient, state: FakeState) -> None:
    _, _, headers = await get(client, "/v1.0/me", state.token("sam"), **{"client-request-id": "abc-123"})
    assert headers["client-request-id"] == "abc-123"
    uuid.UUID(headers["request-id"])
    _, body, headers = await get(client, "/v1.0/me", None)
    assert headers["client-request-id"] == headers["request-id"] == body["error"]["innerError"]["request-id"]
    other = await get(client, "/v1.0/me", None)
    assert other[2]["request-id"] != headers["request-id"]


async def test_every_request_is_counted_once_by_path(client: TestClient, state: FakeState) -> None:
    token = state.token("sam", ALL_READS)
    for path in ("/v1.0/me", "/v1.0/me", "/v1.0/me/photo/$value", "/v1.0/nope"):
        await get(client, path, token)
    await get(client, "/v1.0/me", None)
    assert state.metrics.graph == {"/v1.0/me": 3, "/v1.0/me/photo/$value": 1, "/v1.0/nope": 1}


async def test_throttling_fault(client: TestClient, state: FakeState) -> None:
    state.faults.add(FakeFault(status=429, retry_after=7), path="/v1.0/me")
    status, body, headers = await get(client, "/v1.0/me", state.token("sam"))
    assert_graph_error(status, body, headers, 429, "TooManyRequests")
    assert headers["Retry-After"] == "7"
    assert body["error"]["innerError"]["code"] == "activityLimitReached"
    assert (await get(client, "/v1.0/me", state.token("sam")))[0] == 200  # the fault is used up


async def test_unavailable_fault_applies_even_without_a_token(client: TestClient, state: FakeState) -> None:
    state.faults.add(FakeFault(status=503))
    status, body, headers = await get(client, "/v1.0/me", None)
    assert_graph_error(status, body, headers, 503, "serviceNotAvailable")
    assert "Retry-After" not in headers


async def test_latency_fault_delays_a_normal_answer(client: TestClient, state: FakeState) -> None:
    state.faults.add(FakeFault(latency_ms=300))
    started = time.monotonic()
    status, body, _ = await get(client, "/v1.0/me", state.token("sam"))
    assert status == 200 and body["displayName"] == "Sam Whitfield"
    assert time.monotonic() - started >= 0.3


async def test_malformed_body_fault(client: TestClient, state: FakeState) -> None:
    state.faults.add(FakeFault(status=200, body="malformed"))
    response = await client.get("/v1.0/me", headers=bearer(state.token("sam")))
    assert response.status == 200
    with pytest.raises(ValueError):
        await response.json()
