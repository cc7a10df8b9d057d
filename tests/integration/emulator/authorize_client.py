"""Drive the emulator's sign-in pages with plain HTTP, the way a browser would (no JavaScript needed)."""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from tests.fixtures.emulator import Emulator


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class Step:
    response: requests.Response

    @property
    def is_page(self) -> bool:
        return self.response.status_code == 200 and "text/html" in self.response.headers.get("Content-Type", "")

    @property
    def heading(self) -> str:
        match = re.search(r"<h1>(.*?)</h1>", self.response.text)
        return match.group(1) if match else ""

    @property
    def ctx(self) -> str:
        return re.search(r'name="ctx" value="([^"]+)"', self.response.text).group(1)  # type: ignore[union-attr]

    @property
    def action(self) -> str:
        return re.search(r'<form method="post" action="([^"]+)"', self.response.text).group(1)  # type: ignore

    @property
    def redirect_params(self) -> dict[str, str]:
        location = self.response.headers["Location"]
        parts = urlsplit(location)
        raw = parts.fragment or parts.query
        return {k: v[0] for k, v in parse_qs(raw).items()}


@dataclass
class Browser:
    """A cookie-keeping client for the authorize endpoint."""
    emulator: Emulator
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.trust_env = False
        self.session.verify = self.emulator.ca_bundle

    def authorize(self, **params: str) -> Step:
        url = f"{self.emulator.authority}/oauth2/v2.0/authorize?{urlencode(params)}"
        return Step(self.session.get(url, allow_redirects=False))

    def submit(self, step: Step, **fields: str) -> Step:
        url = self.emulator.entra_url + step.action
        return Step(self.session.post(url, data={"ctx": step.ctx, **fields}, allow_redirects=False))

    def pick(self, step: Step, upn: str) -> Step:
        return self.submit(step, action="signin", user=self.emulator.user(upn)["oid"])


def spa_params(emulator: Emulator, challenge: str, scope: str | None = None, **extra: str) -> dict[str, str]:
    params = {"client_id": emulator.app("spa")["client_id"], "response_type": "code",
              "redirect_uri": "http://localhost:4280/", "scope": scope or f"{emulator.api_scope} openid profile "
              "offline_access", "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
              "code_challenge": challenge, "code_challenge_method": "S256", "client_info": "1"}
    params.update(extra)
    return params


def redeem(emulator: Emulator, code: str, verifier: str, redirect_uri: str = "http://localhost:4280/",
           origin: str | None = "http://localhost:4280", scope: str | None = None) -> requests.Response:
    headers = {"Origin": origin} if origin else {}
    return emulator.session.post(emulator.token_endpoint, headers=headers, data={
        "client_id": emulator.app("spa")["client_id"], "grant_type": "authorization_code", "code": code,
        "redirect_uri": redirect_uri, "code_verifier": verifier, "client_info": "1",
        "scope": scope or f"{emulator.api_scope} openid profile offline_access"})


def sign_in_with_consent(emulator: Emulator, browser: Browser, upn: str, **extra: str) -> tuple[dict, str]:
    verifier, challenge = pkce_pair()
    params = spa_params(emulator, challenge, **extra)
    page = browser.authorize(**params)
    assert page.is_page and page.heading == "Pick an account"
    step = browser.pick(page, upn)
    if step.is_page and step.heading == "Permissions requested":
        step = browser.submit(step, action="accept")
    assert step.response.status_code == 302, step.response.text[:500]
    result = step.redirect_params
    assert result["state"] == params["state"]
    return result, verifier
