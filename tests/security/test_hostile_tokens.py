"""A corpus of hostile and malformed tokens and headers, through the real HTTP path.

The product app runs in the local Functions host (`python -m localdev host`) against the Entra ID and Graph
emulators. Every entry must be refused with 401/403 (400/413/431 for garbage) as `application/problem+json`
with the documented `code`: never a 2xx, never a 5xx.

Each token goes through three channels:
- `user-header`: App Service authentication on, a valid token in `Authorization` (as the SPA sends it) and
  the hostile one in `X-User-Authorization`, which the function reads first: the function's own validator
  decides.
- `authorization`: App Service authentication on, the hostile token alone in `Authorization`: the platform
  (or, if it lets the token through, the function) refuses it.
- `direct`: no App Service authentication in front (a direct caller of the function), the hostile token in
  `Authorization`: the function's validator decides again, for the header it falls back to.
"""
from __future__ import annotations

import base64
import json
import uuid
from typing import Any, Iterator

import pytest
import requests

from tests.fixtures.host import HostHandle, emulator_app_env, start_host
from tests.security.corpus import CASES as CLASSIC_CASES
from tests.security.corpus import EA_INVALID, STATUS_OF, Case, Ctx
from tests.security.corpus_parsing import CONTROL_SEPARATORS, PARSING_CASES, UNICODE_SEPARATORS
from tests.security.support import (MIRA, USER_HEADER, assert_problem, decode_part, emulator_signing_key,
                                    published_key, raw_request, session, spa_headers, user_token)

CASES = CLASSIC_CASES + PARSING_CASES

CHANNELS = ("user-header", "authorization", "direct")


# -- fixtures ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hosts(emulator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, HostHandle]]:
    emulator.reset()
    env = emulator_app_env(emulator)
    auth = start_host(env=env, state_dir=tmp_path_factory.mktemp("corpus-durable"))
    try:
        direct = start_host(env=env, auth=False, state_dir=tmp_path_factory.mktemp("corpus-direct-durable"))
    except Exception:
        auth.stop()
        raise
    yield {"auth": auth, "direct": direct}
    auth.stop()
    direct.stop()


@pytest.fixture(scope="module")
def ctx(emulator: Any, hosts: dict[str, HostHandle]) -> Ctx:
    valid = user_token(emulator, MIRA)
    return Ctx(emulator=emulator, valid=valid, claims=decode_part(valid, 1), header=decode_part(valid, 0),
               published=published_key(emulator), real_key=emulator_signing_key(valid))


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    s = session()
    yield s
    s.close()


def call(http: requests.Session, host: HostHandle, headers: dict[str, str], path: str = "get-profile",
         method: str = "GET") -> requests.Response:
    return http.request(method, host.api(path), headers=headers, timeout=30)


# -- the corpus ------------------------------------------------------------------------------------

def test_corpus_is_large_enough() -> None:
    assert len({case.id for case in CASES}) == len(CASES) >= 120


def test_valid_token_reaches_the_profile_on_every_channel(ctx: Ctx, hosts: dict[str, HostHandle],
                                                          http: requests.Session) -> None:
    """The control: the setup accepts a good token, so every refusal below is the token's doing."""
    for host, headers in ((hosts["auth"], spa_headers(ctx.valid)),
                          (hosts["auth"], {"Authorization": f"Bearer {ctx.valid}"}),
                          (hosts["direct"], {"Authorization": f"Bearer {ctx.valid}"})):
        response = call(http, host, headers)
        assert response.status_code == 200, response.text
        assert response.json()["userPrincipalName"] == MIRA


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hostile_token_is_refused(case: Case, channel: str, ctx: Ctx, hosts: dict[str, HostHandle],
                                  http: requests.Session) -> None:
    value = case.value(ctx)
    statuses = case.statuses or {STATUS_OF[case.code]}
    if channel == "user-header":
        response = call(http, hosts["auth"], {"Authorization": f"Bearer {ctx.valid}", USER_HEADER: value})
        body = assert_problem(response, statuses, case.code)
    elif channel == "direct":
        response = call(http, hosts["direct"], {"Authorization": value})
        body = assert_problem(response, statuses, case.code)
    else:
        response = call(http, hosts["auth"], {"Authorization": value})
        codes = {case.code} | case.platform | EA_INVALID
        body = assert_problem(response, {401, 403} | set(statuses), codes)
    assert "userPrincipalName" not in body and ctx.valid not in response.text
    if case.detail_names_header and channel == "direct":
        assert USER_HEADER in body["detail"], body["detail"]


@pytest.mark.parametrize("size", [20_000, 40_000])
def test_huge_token_is_refused_as_too_large(size: int, ctx: Ctx, hosts: dict[str, HostHandle],
                                            http: requests.Session) -> None:
    """Over the function's 16 KiB limit: 431 `header_too_large` (App Service auth may refuse it first)."""
    huge = "Bearer " + ctx.valid + "A" * size
    assert_problem(call(http, hosts["auth"], {"Authorization": f"Bearer {ctx.valid}", USER_HEADER: huge}),
                   {431}, "header_too_large")
    assert_problem(call(http, hosts["direct"], {"Authorization": huge}), {431}, "header_too_large")
    assert_problem(call(http, hosts["auth"], {"Authorization": huge}), {401, 431}, {"invalid_token", "header_too_large"})


# -- headers a client must not be able to use ---------------------------------------------------------

def _client_principal(emulator: Any) -> dict[str, str]:
    user = emulator.user(MIRA)
    principal = {"auth_typ": "aad", "name_typ": "name", "role_typ": "roles", "claims": [
        {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": user["oid"]},
        {"typ": "http://schemas.microsoft.com/identity/claims/tenantid", "val": emulator.tenant_id},
        {"typ": "http://schemas.microsoft.com/identity/claims/scope", "val": "user_impersonation"},
        {"typ": "name", "val": MIRA}]}
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(principal).encode()).decode(),
            "X-MS-CLIENT-PRINCIPAL-ID": user["oid"], "X-MS-CLIENT-PRINCIPAL-NAME": MIRA,
            "X-MS-CLIENT-PRINCIPAL-IDP": "aad"}


@pytest.mark.parametrize("host_name", ["auth", "direct"])
def test_forged_client_principal_alone_is_refused(host_name: str, ctx: Ctx, hosts: dict[str, HostHandle],
                                                  http: requests.Session) -> None:
    response = call(http, hosts[host_name], _client_principal(ctx.emulator))
    body = assert_problem(response, {401}, "missing_token")
    if host_name == "direct":  # the function says which header it wants (App Service names Authorization)
        assert USER_HEADER in body["detail"], body["detail"]


@pytest.mark.parametrize("host_name", ["auth", "direct"])
def test_forged_client_principal_does_not_upgrade_a_bad_token(host_name: str, ctx: Ctx,
                                                              hosts: dict[str, HostHandle],
                                                              http: requests.Session) -> None:
    headers = {**_client_principal(ctx.emulator), USER_HEADER: "Bearer not-a-jwt", "Authorization": "Bearer x.y.z"}
    assert_problem(call(http, hosts[host_name], headers), {401}, "invalid_token")


def test_client_supplied_token_store_header_is_stripped_by_the_platform(ctx: Ctx, hosts: dict[str, HostHandle],
                                                                        http: requests.Session) -> None:
    """Only App Service may set X-MS-TOKEN-AAD-ACCESS-TOKEN; behind it, a client's copy is removed."""
    response = call(http, hosts["auth"], {"X-MS-TOKEN-AAD-ACCESS-TOKEN": ctx.valid})
    assert_problem(response, {401}, "missing_token")


def test_swa_platform_token_in_authorization_with_the_user_token_in_its_own_header(
        ctx: Ctx, hosts: dict[str, HostHandle], http: requests.Session) -> None:
    """The Azure shape (docs/architecture.md, "Platform facts"): SWA's token in Authorization, the user's in X-User-Authorization."""
    swa = CASES[[c.id for c in CASES].index("swa-platform-token")].value(ctx)
    response = call(http, hosts["direct"], {"Authorization": swa, USER_HEADER: f"Bearer {ctx.valid}"})
    assert response.status_code == 200, response.text
    assert response.json()["userPrincipalName"] == MIRA


@pytest.mark.parametrize("query", ["access_token={t}", "token={t}", "code={t}", "Authorization=Bearer%20{t}"])
@pytest.mark.parametrize("host_name", ["auth", "direct"])
def test_token_in_the_query_string_is_ignored(query: str, host_name: str, ctx: Ctx, hosts: dict[str, HostHandle],
                                              http: requests.Session) -> None:
    response = call(http, hosts[host_name], {}, path="get-profile?" + query.format(t=ctx.valid))
    assert_problem(response, {401}, "missing_token")


@pytest.mark.parametrize("header", [USER_HEADER, "Authorization"])
@pytest.mark.parametrize("host_name", ["auth", "direct"])
def test_nul_bytes_in_the_token_header(header: str, host_name: str, ctx: Ctx, hosts: dict[str, HostHandle]) -> None:
    head, rest = ctx.valid[:20], ctx.valid[20:]
    lines = [f"{header}: Bearer {head}".encode() + b"\x00" + rest.encode()]
    if header == USER_HEADER:
        lines.append(f"Authorization: Bearer {ctx.valid}".encode())
    response = raw_request(hosts[host_name].api("get-profile"), lines)
    assert_problem(response, {400}, "bad_request")


@pytest.mark.parametrize("line", [b"X-User-Authorization: Bearer \xa0", b"Authorization: Bearer \xe9t\xe9",
                                  b"X-Anything: caf\xe9"], ids=["user-header", "authorization", "other-header"])
@pytest.mark.parametrize("route", ["get-profile", "config", "diagnostics"])
@pytest.mark.parametrize("host_name", ["auth", "direct"])
def test_header_bytes_that_are_not_utf8(line: bytes, route: str, host_name: str, hosts: dict[str, HostHandle]) -> None:
    """RFC 9110 obs-text (0x80-0xFF) that is not UTF-8: refused as the platform does (400), never a 500."""
    response = raw_request(hosts[host_name].api(route), [line])
    assert_problem(response, {400}, "bad_request")


@pytest.mark.parametrize("path", ["jobs/a%0Ab", "get-profile%0A", "anything%0Aelse"])
@pytest.mark.parametrize("host_name", ["auth", "direct"])
def test_encoded_newline_in_the_path_is_a_problem_404(path: str, host_name: str, ctx: Ctx,
                                                      hosts: dict[str, HostHandle], http: requests.Session) -> None:
    response = call(http, hosts[host_name], {"Authorization": f"Bearer {ctx.valid}"}, path=path)
    assert_problem(response, {404}, "not_found")


@pytest.mark.parametrize("header", [USER_HEADER, "Authorization"])
@pytest.mark.parametrize("host_name", ["auth", "direct"])
def test_two_header_lines_with_two_tokens(header: str, host_name: str, ctx: Ctx, hosts: dict[str, HostHandle]) -> None:
    sam = user_token(ctx.emulator, "sam.whitfield@larkspur.example")
    lines = [f"{header}: Bearer {ctx.valid}".encode(), f"{header}: Bearer {sam}".encode()]
    if header == USER_HEADER:
        lines.append(f"Authorization: Bearer {ctx.valid}".encode())
    response = raw_request(hosts[host_name].api("get-profile"), lines)
    assert_problem(response, {400, 401}, {"invalid_token", "bad_request"})


@pytest.mark.parametrize("place", ["instead-of-space", "after-space", "after-token"])
@pytest.mark.parametrize("separator", list(UNICODE_SEPARATORS.values()), ids=list(UNICODE_SEPARATORS))
@pytest.mark.parametrize("header", [USER_HEADER, "Authorization"])
@pytest.mark.parametrize("host_name", ["auth", "direct"])
def test_unicode_spaces_do_not_separate_the_bearer_scheme(place: str, separator: str, header: str, host_name: str,
                                                          ctx: Ctx, hosts: dict[str, HostHandle]) -> None:
    """`Bearer\u00a0<jwt>` and friends, sent as UTF-8 (the local host takes UTF-8 header values): 401."""
    value = {"instead-of-space": f"Bearer{separator}{ctx.valid}", "after-space": f"Bearer {separator}{ctx.valid}",
             "after-token": f"Bearer {ctx.valid}{separator}"}[place]
    lines = [f"{header}: ".encode() + value.encode("utf-8")]
    if header == USER_HEADER:
        lines.append(f"Authorization: Bearer {ctx.valid}".encode())
    codes = {"invalid_token"} | ({"missing_token"} if host_name == "auth" and header == "Authorization" else set())
    response = raw_request(hosts[host_name].api("get-profile"), lines)
    assert_problem(response, {401}, codes)
    assert MIRA not in response.text


@pytest.mark.parametrize("separator", list(CONTROL_SEPARATORS.values()), ids=list(CONTROL_SEPARATORS))
@pytest.mark.parametrize("host_name", ["auth", "direct"])
def test_control_characters_as_separators_are_bad_requests(separator: str, host_name: str, ctx: Ctx,
                                                           hosts: dict[str, HostHandle]) -> None:
    lines = [f"{USER_HEADER}: Bearer{separator}{ctx.valid}".encode(), f"Authorization: Bearer {ctx.valid}".encode()]
    assert_problem(raw_request(hosts[host_name].api("get-profile"), lines), {400}, "bad_request")


@pytest.mark.parametrize("value", ["x" * 65, "a b", "a=b", '"quoted"', "a\\b", "<script>", "id;drop", "caf\u00e9",
                                   "id\u2028x", "{3f2504e0-4f89-41d3-9a0c-0305e82c3301}"])
@pytest.mark.parametrize("host_name", ["auth", "direct"])
def test_hostile_correlation_ids_are_replaced(value: str, host_name: str, hosts: dict[str, HostHandle]) -> None:
    response = raw_request(hosts[host_name].api("config"), [b"X-Correlation-Id: " + value.encode("utf-8")])
    assert response.status_code == 200, response.text
    echoed = response.headers["X-Correlation-Id"]
    assert echoed != value and str(uuid.UUID(echoed)) == echoed


@pytest.mark.parametrize("value", ["req-42.a_b", "3F2504E0-4F89-41D3-9A0C-0305E82C3301"])
def test_guid_or_short_safe_correlation_ids_are_kept(value: str, hosts: dict[str, HostHandle]) -> None:
    response = raw_request(hosts["direct"].api("config"), [b"X-Correlation-Id: " + value.encode()])
    assert response.headers["X-Correlation-Id"] in (value, value.lower())


@pytest.mark.parametrize("host_name", ["auth", "direct"])
def test_non_ascii_token_header(host_name: str, ctx: Ctx, hosts: dict[str, HostHandle]) -> None:
    lines = [f"Authorization: Bearer {ctx.valid}".encode(), f"{USER_HEADER}: Bearer ".encode() + "é✓".encode()
             + ctx.valid.encode()]
    response = raw_request(hosts[host_name].api("get-profile"), lines)
    assert_problem(response, {400, 401}, {"invalid_token", "bad_request"})


@pytest.mark.parametrize(("path", "method"), [("get-profile/photo", "GET"), ("jobs/profile-report", "POST"),
                                              ("jobs/0123456789abcdef", "GET"),
                                              ("jobs/0123456789abcdef/cancel", "POST")])
@pytest.mark.parametrize("case_id", ["alg-none", "expired", "no-scp", "app-only-allowed-client",
                                     "foreign-key-real-kid"])
def test_other_authenticated_routes_refuse_too(path: str, method: str, case_id: str, ctx: Ctx,
                                               hosts: dict[str, HostHandle], http: requests.Session) -> None:
    case = CASES[[c.id for c in CASES].index(case_id)]
    response = call(http, hosts["direct"], {"Authorization": case.value(ctx)}, path=path, method=method)
    assert_problem(response, case.statuses or {STATUS_OF[case.code]}, case.code)
