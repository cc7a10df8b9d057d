"""Property: no request header content makes an HTTP function answer 500 or leak a stack trace."""
from __future__ import annotations

import json

import azure.functions as func
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import function_app
from tests.unit.function_app.support import FakeIdentityProvider, Reply, Transport, install_services, mint, user_function

HEADERS = ["X-User-Authorization", "Authorization", "X-MS-TOKEN-AAD-ACCESS-TOKEN", "X-MS-CLIENT-PRINCIPAL",
           "x-correlation-id", "x-ms-client-request-id"]

header_values = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=300),
    st.builds(lambda s: f"Bearer {s}", st.text(max_size=200)),
    st.builds(lambda a, b: f"Bearer {a}.{b}.sig", st.text(max_size=40), st.text(max_size=40)),
    st.sampled_from(["Bearer", "bearer  ", "Bearer eyJ.eyJ.", "Bearer ...", "Bearer a,b", "Basic x", "\x00"]),
    st.builds(lambda c: f"Bearer {mint(**c)}", st.fixed_dictionaries({}, optional={
        "aud": st.sampled_from(["x", "api://x", None]), "tid": st.sampled_from(["", "common", None]),
        "scp": st.one_of(st.none(), st.text(max_size=20), st.integers()), "oid": st.one_of(st.none(), st.integers()),
        "exp": st.one_of(st.none(), st.integers(-10**12, 10**12), st.text(max_size=5)),
        "nbf": st.one_of(st.none(), st.text(max_size=5)), "iss": st.sampled_from(["", "https://x/", None]),
    })),
)


@pytest.fixture
def fake_keys(env):
    idp = FakeIdentityProvider()
    profile = Transport(lambda request: Reply(200, content=b"\x89PNG", headers={"Content-Type": "image/png"})
                        if "/photo/" in request.url else Reply(200, {"id": "1", "displayName": "Ana"}))
    install_services(idp.transport, profile)
    return idp


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(headers=st.dictionaries(st.sampled_from(HEADERS), header_values, max_size=4),
       route=st.sampled_from(["get-profile", "get-profile/photo", "diagnostics"]))
def test_arbitrary_headers_never_cause_a_500(fake_keys, env, headers: dict[str, str], route: str) -> None:
    env.setenv("DIAGNOSTICS_ENABLED", "true")
    request = func.HttpRequest("GET", f"http://localhost/api/{route}", headers=headers, body=b"")
    response = user_function(function_app.app, route)(request)
    text = response.get_body().decode("utf-8", "replace")
    assert response.status_code < 500, text
    assert "Traceback" not in text
    if response.status_code >= 400:
        assert json.loads(text)["code"] != "internal_error"
