"""The test/admin API of the emulator (docs/emulator.md, "Test and admin API")."""
from __future__ import annotations

import time

import jwt
import pytest

from tests.fixtures.emulator import Emulator
from tests.integration.emulator.msal_helpers import daemon_app

GRAPH = "https://graph.microsoft.com"


def verified(emulator: Emulator, token: str, audience: str, issuer: str, **options: bool) -> dict:
    jwks = emulator.session.get(f"{emulator.authority}/discovery/v2.0/keys").json()
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid)).key
    return jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=issuer, options=options)


def test_config_lists_users_apps_and_local_credentials(emulator: Emulator) -> None:
    config = emulator.config
    assert config["tenant_id"] == "51699e8e-eeb2-486e-94da-600eb1357656"
    assert config["authority"] == emulator.authority == f"{emulator.entra_url}/{config['tenant_id']}"
    assert config["graph_base_url"] == emulator.graph_url and config["graph_base_url"].endswith("/v1.0")
    assert config["ca_bundle"] == emulator.ca_bundle
    names = {a["name"]: a for a in config["apps"]}
    assert {"spa", "api", "daemon"} <= set(names)
    assert names["spa"]["kind"] == "spa" and "client_secret" not in names["spa"]
    api = names["api"]
    assert api["client_id"] == "ca7a86f5-36ed-459f-b0e6-3acb0993c979"
    assert api["identifier_uri"] == "api://ca7a86f5-36ed-459f-b0e6-3acb0993c979"
    assert api["scopes"] == ["user_impersonation"] and api["client_secret"]
    assert len(api["certificate"]["thumbprint"]) == 40
    assert {"oid", "upn", "displayName", "tenant_id"} == set(config["users"][0])
    assert any(u["displayName"] == "Mira Okafor" for u in config["users"])


def test_minted_api_token_is_a_correctly_signed_v2_token(emulator: Emulator) -> None:
    api_id = emulator.app("api")["client_id"]
    token = emulator.mint(user="priya.natarajan@larkspur.example", client_id=emulator.app("spa")["client_id"],
                          audience=api_id, scopes=["user_impersonation"])
    claims = verified(emulator, token, api_id, f"{emulator.authority}/v2.0")
    assert claims["ver"] == "2.0" and claims["scp"] == "user_impersonation"
    assert claims["azp"] == emulator.app("spa")["client_id"] and claims["azpacr"] == "0"
    assert claims["preferred_username"] == "priya.natarajan@larkspur.example"
    for name in ("aio", "name", "oid", "rh", "sub", "tid", "uti", "iat", "nbf", "exp"):
        assert name in claims
    assert 3600 <= claims["exp"] - claims["iat"] <= 5400


def test_minted_token_by_identifier_uri_and_v1(emulator: Emulator) -> None:
    api = emulator.app("api")
    token = emulator.mint(user="sam.whitfield@larkspur.example", client_id=emulator.app("spa")["client_id"],
                          audience=api["identifier_uri"], version="1.0")
    claims = verified(emulator, token, api["identifier_uri"], f"https://sts.windows.net/{emulator.tenant_id}/")
    assert claims["ver"] == "1.0" and claims["upn"] == "sam.whitfield@larkspur.example"
    assert claims["appid"] == emulator.app("spa")["client_id"]


def test_claim_overrides_and_null_removes(emulator: Emulator) -> None:
    api_id = emulator.app("api")["client_id"]
    token = emulator.mint(user="mira.okafor@larkspur.example", client_id=emulator.app("spa")["client_id"],
                          audience=api_id, claims={"scp": None, "aud": "api://someone-else", "custom": 7})
    claims = jwt.decode(token, options={"verify_signature": False})
    assert "scp" not in claims and claims["aud"] == "api://someone-else" and claims["custom"] == 7


def test_expired_token_via_expires_in(emulator: Emulator) -> None:
    api_id = emulator.app("api")["client_id"]
    token = emulator.mint(user="mira.okafor@larkspur.example", audience=api_id, expires_in=-120)
    with pytest.raises(jwt.ExpiredSignatureError):
        verified(emulator, token, api_id, f"{emulator.authority}/v2.0")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] < time.time() - 100


def test_graph_token_minting(emulator: Emulator) -> None:
    token = emulator.mint(user="mira.okafor@larkspur.example", client_id=emulator.app("api")["client_id"],
                          audience=GRAPH, scopes=["User.Read", "User.ReadBasic.All"])
    claims = verified(emulator, token, GRAPH, f"https://sts.windows.net/{emulator.tenant_id}/")
    assert claims["scp"] == "User.Read User.ReadBasic.All" and claims["appidacr"] == "1"


def test_bad_admin_requests_are_400(emulator: Emulator) -> None:
    assert emulator.admin_response("POST", "/_emulator/token", {"user": "nobody@x"}).status_code == 400
    assert emulator.admin_response("POST", "/_emulator/token", {"user": "mira.okafor@larkspur.example",
                                                                "audience": "api://nope"}).status_code == 400
    assert emulator.admin_response("POST", "/_emulator/faults", {"endpoint": "nowhere"}).status_code == 400


def test_faults_hit_count_times_with_status_and_retry_after(fresh_emulator: Emulator) -> None:
    fresh_emulator.fault(endpoint="token", status=503, retry_after=7, count=2)
    daemon = fresh_emulator.app("daemon")
    form = {"grant_type": "client_credentials", "client_id": daemon["client_id"],
            "client_secret": daemon["client_secret"], "scope": f"{GRAPH}/.default"}
    for _ in range(2):
        failed = fresh_emulator.session.post(fresh_emulator.token_endpoint, data=form)
        assert failed.status_code == 503 and failed.headers["Retry-After"] == "7"
        assert failed.json()["error"] == "temporarily_unavailable" and failed.json()["error_codes"] == [90033]
    assert "access_token" in daemon_app(fresh_emulator).acquire_token_for_client([f"{GRAPH}/.default"])
    fresh_emulator.fault(endpoint="token", status=429, retry_after=3)
    throttled = fresh_emulator.session.post(fresh_emulator.token_endpoint, data=form)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    assert fresh_emulator.metrics()["token"] == {"client_credentials": 4}


def test_fault_with_aadsts_code_uses_entra_envelope(fresh_emulator: Emulator) -> None:
    fresh_emulator.fault(endpoint="token", aadsts=50079)
    response = fresh_emulator.session.post(fresh_emulator.token_endpoint, data={"grant_type": "client_credentials"})
    body = response.json()
    assert response.status_code == 400
    assert body["error"] == "interaction_required" and body["error_codes"] == [50079]
    assert body["error_description"].startswith("AADSTS50079: ")


def test_fault_path_filter_and_latency(fresh_emulator: Emulator) -> None:
    fresh_emulator.fault(endpoint="jwks", path="/discovery/keys", status=500, count=None)
    fresh_emulator.fault(endpoint="discovery", latency_ms=300)
    v2 = fresh_emulator.session.get(f"{fresh_emulator.authority}/discovery/v2.0/keys")
    v1 = fresh_emulator.session.get(f"{fresh_emulator.authority}/discovery/keys")
    assert v2.status_code == 200 and v1.status_code == 500
    assert fresh_emulator.session.get(f"{fresh_emulator.authority}/discovery/keys").status_code == 500  # unlimited
    started = time.monotonic()
    assert fresh_emulator.session.get(
        f"{fresh_emulator.authority}/v2.0/.well-known/openid-configuration").status_code == 200
    assert time.monotonic() - started >= 0.29
    listed = fresh_emulator.admin("GET", "/_emulator/faults")["faults"]
    assert [f["endpoint"] for f in listed] == ["jwks"]
    fresh_emulator.admin("DELETE", "/_emulator/faults")
    assert fresh_emulator.session.get(f"{fresh_emulator.authority}/discovery/keys").status_code == 200


def test_metrics_shape_and_counts(fresh_emulator: Emulator) -> None:
    assert fresh_emulator.metrics() == {"token": {}, "authorize": 0, "jwks": 0, "discovery": 0, "revoke": 0,
                                        "graph": {}}
    daemon_app(fresh_emulator).acquire_token_for_client(["https://graph.microsoft.com/.default"])
    fresh_emulator.session.get(f"{fresh_emulator.authority}/discovery/v2.0/keys")
    metrics = fresh_emulator.metrics()
    assert metrics["token"] == {"client_credentials": 1}
    assert metrics["discovery"] == 1 and metrics["jwks"] == 1  # MSAL read the openid configuration once
    graph = fresh_emulator.session.get(f"{fresh_emulator.graph_url}/me",
                                       headers={"Authorization": "Bearer " + fresh_emulator.mint(
                                           user="mira.okafor@larkspur.example", audience=GRAPH,
                                           client_id=fresh_emulator.app("api")["client_id"])})
    assert graph.status_code == 200
    assert fresh_emulator.metrics()["graph"] == {"/v1.0/me": 1}


def test_reset_restores_consent_faults_and_keys(emulator: Emulator) -> None:
    original = emulator.admin("GET", "/_emulator/keys")["current"]
    emulator.rotate_keys()
    emulator.fault(endpoint="token", status=500, count=None)
    emulator.consent(client_id="api", resource=GRAPH, granted=False)
    emulator.reset()
    assert emulator.admin("GET", "/_emulator/keys") == {"current": original, "published": [original]}
    assert emulator.admin("GET", "/_emulator/faults") == {"faults": []}
    assert "access_token" in daemon_app(emulator).acquire_token_for_client([f"{GRAPH}/.default"])


def test_admin_api_accepts_loopback_callers_only() -> None:
    from localdev.emulator.admin import _is_loopback
    assert _is_loopback("127.0.0.1") and _is_loopback("::1")
    assert not _is_loopback("10.0.0.5") and not _is_loopback(None)


def test_application_permissions_can_be_revoked_and_granted(fresh_emulator: Emulator) -> None:
    daemon = fresh_emulator.app("daemon")["client_id"]
    revoked = fresh_emulator.consent(client_id=daemon, resource=GRAPH, roles=["User.Read.All"], granted=False)
    assert revoked["roles"] == []
    token = daemon_app(fresh_emulator).acquire_token_for_client([f"{GRAPH}/.default"])["access_token"]
    assert "roles" not in jwt.decode(token, options={"verify_signature": False})
    granted = fresh_emulator.consent(client_id=daemon, resource=GRAPH, roles=["Directory.Read.All"])
    assert granted["roles"] == ["Directory.Read.All"]
    fresh_token = daemon_app(fresh_emulator).acquire_token_for_client([f"{GRAPH}/.default"])["access_token"]
    assert jwt.decode(fresh_token, options={"verify_signature": False})["roles"] == ["Directory.Read.All"]
    bad = fresh_emulator.admin_response("POST", "/_emulator/consent", {"client_id": daemon, "resource": GRAPH,
                                                                       "roles": ["Not.A.Role"]})
    assert bad.status_code == 400


def test_authorize_fault_redirects_the_error_to_the_app(fresh_emulator: Emulator) -> None:
    from tests.integration.emulator.authorize_client import Browser, pkce_pair, spa_params
    fresh_emulator.fault(endpoint="authorize", aadsts=50079)
    _, challenge = pkce_pair()
    browser = Browser(fresh_emulator)
    step = browser.authorize(**spa_params(fresh_emulator, challenge))
    assert step.response.status_code == 302
    assert step.redirect_params["error"] == "interaction_required"
    assert step.redirect_params["error_description"].startswith("AADSTS50079:")
    assert browser.authorize(**spa_params(fresh_emulator, challenge)).heading == "Pick an account"  # used up
    assert fresh_emulator.metrics()["authorize"] == 2
