"""What the linked-backend emulation does to a request's headers, and the key it signs platform tokens with."""
from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import jwt
from multidict import CIMultiDict

from localdev.linked_backend import platform_token
from localdev.linked_backend.keys import PlatformKey
from localdev.linked_backend.proxy import forwarded_headers, is_api_path, response_headers, site_principal

PLATFORM = "Bearer platform-token"


def incoming(**extra: str) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict({"Host": "localhost:4280", "Authorization": "Bearer user-token",
                                             "X-User-Authorization": "Bearer user-token", "Accept": "*/*",
                                             "Connection": "keep-alive, X-Hop", "X-Hop": "1", "Content-Length": "0"})
    headers.add("X-Custom", "one")
    headers.add("X-Custom", "two")
    headers.update(extra)
    return headers


def test_authorization_is_replaced_and_every_other_header_kept() -> None:
    out = forwarded_headers(incoming(), remote="127.0.0.1", scheme="http", path_qs="/api/get-profile?x=1",
                            backend_netloc="127.0.0.1:7071", platform_authorization=PLATFORM)
    assert out.getall("Authorization") == [PLATFORM]
    assert out["X-User-Authorization"] == "Bearer user-token"
    assert out.getall("X-Custom") == ["one", "two"] and out["Accept"] == "*/*"
    assert out["Host"] == "127.0.0.1:7071"
    assert out["X-Forwarded-Host"] == "localhost:4280" and out["X-Forwarded-Proto"] == "http"
    assert out["X-Forwarded-For"] == "127.0.0.1"
    assert out["X-MS-Original-URL"] == "http://localhost:4280/api/get-profile?x=1"
    # Hop-by-hop headers, and the ones Connection names, stop here.
    assert "Connection" not in out and "X-Hop" not in out and "Content-Length" not in out


def test_forwarding_headers_already_set_upstream_are_extended_not_replaced() -> None:
    out = forwarded_headers(incoming(**{"X-Forwarded-For": "10.0.0.1", "X-MS-Original-URL": "http://a/api/x"}),
                            remote="127.0.0.1", scheme="http", path_qs="/api/x", backend_netloc="b:1",
                            platform_authorization=PLATFORM)
    assert out["X-Forwarded-For"] == "10.0.0.1, 127.0.0.1"
    assert out["X-MS-Original-URL"] == "http://a/api/x"


def test_paths_outside_the_api_keep_their_authorization() -> None:
    assert is_api_path("/api/config") and is_api_path("/API/x") and not is_api_path("/admin/functions")
    out = forwarded_headers(incoming(), remote=None, scheme="http", path_qs="/admin/functions",
                            backend_netloc="b:1", platform_authorization=None)
    assert out["Authorization"] == "Bearer user-token" and "X-Forwarded-For" not in out


def test_response_headers_drop_hop_by_hop_fields() -> None:
    backend = CIMultiDict({"Content-Type": "application/json", "Transfer-Encoding": "chunked", "Content-Length": "3",
                           "Connection": "close"})
    backend.add("Set-Cookie", "a=1")
    backend.add("Set-Cookie", "b=2")
    out = response_headers(backend)
    assert dict(out) == {"Content-Type": "application/json", "Set-Cookie": "a=1"}
    assert out.getall("Set-Cookie") == ["a=1", "b=2"]


def test_the_site_principal_is_the_swa_cli_one_or_anonymous() -> None:
    signed_in = base64.b64encode(json.dumps({"userId": "u", "userRoles": ["authenticated"]}).encode()).decode()
    assert site_principal({"X-MS-CLIENT-PRINCIPAL": signed_in}) == signed_in
    anonymous = json.loads(base64.b64decode(site_principal({"X-MS-CLIENT-PRINCIPAL": "not base64!"})))
    assert anonymous["userRoles"] == ["anonymous"]


def test_the_platform_key_is_private_reused_and_published(tmp_path: Path) -> None:
    key = PlatformKey.load_or_create(tmp_path)
    assert stat.S_IMODE(key.private_key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.private_key_path.parent.stat().st_mode) == 0o700
    assert PlatformKey.load_or_create(tmp_path).kid == key.kid
    published = json.loads(key.jwks_path.read_text())["keys"]
    assert [(k["kid"], k["kty"], k["alg"]) for k in published] == [(key.kid, "RSA", "RS256")]
    assert "d" not in published[0] and "PRIVATE" not in key.jwks_path.read_text()


def test_platform_tokens_have_the_shape_seen_in_azure(tmp_path: Path) -> None:
    key = PlatformKey.load_or_create(tmp_path)
    value = platform_token.mint(key, platform_token.claims_for("localhost:4280", "http://127.0.0.1:7071",
                                                               platform_token.anonymous_principal(), now=1000))
    assert jwt.get_unverified_header(value) == {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
    claims = jwt.decode(value, options={"verify_signature": False})
    assert set(claims) == {"prn", "sub", "iss", "aud", "nbf", "iat", "exp"}
    assert claims["iss"] == "https://localhost:4280/.auth" and claims["aud"] == "http://127.0.0.1:7071"
    assert (claims["nbf"], claims["iat"], claims["exp"]) == (1000, 1000, 1300)
