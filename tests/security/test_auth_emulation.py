"""Where the App Service authentication emulation draws its lines: the durable webhook exemption (an exact
path segment) and the redirect targets of `/.auth/login/aad` and `/.auth/logout` (localdev/host/redirects.py).

The local host serves the durable sample app behind the deployed auth settings (infra/auth/authsettings.json)
with one allowed external redirect URL added, and a local issuer signs its tokens."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.fixtures.host import AUTH_SETTINGS, HostHandle, start_host
from tests.integration.host.issuer import LocalIssuer

APPS = Path(__file__).resolve().parents[1] / "integration" / "host" / "apps"
EXTERNAL = "https://portal.contoso.test/signed-out"


@pytest.fixture(scope="module")
def host(issuer: LocalIssuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostHandle]:
    """The durable sample app behind the deployed auth settings, plus one allowed external redirect URL."""
    document = json.loads(AUTH_SETTINGS.read_text())
    document.setdefault("login", {})["allowedExternalRedirectUrls"] = [EXTERNAL + "?ignored=query"]
    folder = tmp_path_factory.mktemp("auth-boundaries")
    settings = folder / "authsettings.json"
    settings.write_text(json.dumps(document))
    handle = start_host(APPS / "durable", env=issuer.env(), auth_settings=settings, state_dir=folder / "durable")
    yield handle
    handle.stop()


def problem(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == code


# -- the durable webhook exemption -----------------------------------------------------------------------

def test_the_durable_webhooks_need_no_token(host: HostHandle, http: requests.Session) -> None:
    response = http.get(f"{host.url}/runtime/webhooks/durabletask/instances", timeout=10)
    assert response.status_code == 200 and isinstance(response.json(), list)


@pytest.mark.parametrize("path", ["/runtime/webhooks/durabletaskX", "/runtime/webhooks/durabletaskX/instances",
                                  "/runtime/webhooks/durabletask-evil/instances", "/runtime/webhooks/durabletask.x",
                                  "/RUNTIME/webhooks/DurableTaskX/anything"])
def test_paths_that_only_start_like_the_webhooks_need_authentication(path: str, host: HostHandle,
                                                                    http: requests.Session) -> None:
    problem(http.get(host.url + path, timeout=10), 401, "missing_token")


# -- redirects -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["/", "/index.html", "/a/b?c=d", "/%2e%2e/x", EXTERNAL, EXTERNAL + "/again",
                                    EXTERNAL + "?other=query"])
def test_allowed_logout_targets_are_followed(target: str, host: HostHandle, http: requests.Session) -> None:
    response = http.get(f"{host.url}/.auth/logout", params={"post_logout_redirect_uri": target},
                        allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert response.headers["Location"] == requests.utils.requote_uri(target)


def test_same_origin_absolute_urls_are_allowed(host: HostHandle, http: requests.Session) -> None:
    target = f"{host.url}/done"
    response = http.get(f"{host.url}/.auth/logout", params={"post_logout_redirect_uri": target},
                        allow_redirects=False, timeout=10)
    assert response.status_code == 302 and response.headers["Location"] == target


@pytest.mark.parametrize("raw_query", ["/%09/evil.example", "/%0A/evil.example", "/%0D%0A/evil.example",
                                       "/%5Cevil.example", "%5C%5Cevil.example", "/%2509/evil.example",
                                       "/%00/evil.example", "/%E2%80%A8/evil.example", "https:%5C%5Cevil.example"])
def test_control_characters_and_backslashes_are_refused(raw_query: str, host: HostHandle,
                                                        http: requests.Session) -> None:
    for endpoint, parameter in (("/.auth/logout", "post_logout_redirect_uri"),
                                ("/.auth/login/aad", "post_login_redirect_uri")):
        response = http.get(f"{host.url}{endpoint}?{parameter}={raw_query}", allow_redirects=False, timeout=10)
        problem(response, 400, "bad_request")
        assert "evil" not in response.headers.get("Location", "")


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "http://evil.example",
                                    "/%2F/evil.example", "%2F%2Fevil.example", "evil.example",
                                    "javascript:alert(1)", "https:evil.example", "https://portal.contoso.test.evil/",
                                    "https://portal.contoso.test/signed-out-not", "http://portal.contoso.test/signed-out",
                                    f"https://user@{EXTERNAL[8:]}"])
def test_other_sites_are_ignored_like_app_service_does(target: str, host: HostHandle,
                                                       http: requests.Session) -> None:
    """App Service ignores a target it does not allow and uses its default; so does the emulation."""
    response = http.get(f"{host.url}/.auth/logout", params={"post_logout_redirect_uri": target},
                        allow_redirects=False, timeout=10)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_login_redirect_parameter_is_checked_the_same_way(host: HostHandle, http: requests.Session,
                                                         issuer: LocalIssuer) -> None:
    for target, kept in (("/reports?x=1", True), ("//evil.example/", False), ("https://evil.example/", False)):
        response = http.get(f"{host.url}/.auth/login/aad", params={"post_login_redirect_uri": target},
                            allow_redirects=False, timeout=10)
        assert response.status_code == 302
        location = response.headers["Location"]
        assert location.startswith(f"{issuer.authority_host}/{issuer.tenant_id}/oauth2/v2.0/authorize?")
        state = requests.utils.unquote(location.split("state=")[1].split("&")[0])
        assert state == (f"redir={target}" if kept else "redir=/")
