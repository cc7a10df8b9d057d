"""MSAL Python apps pointed at the emulator, trusting only the local CA."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import msal
import requests

from tests.fixtures.emulator import Emulator


def http_client(emulator: Emulator) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override `verify`
    session.verify = emulator.ca_bundle
    return session


def api_app(emulator: Emulator, credential: Any = None, **kwargs: Any) -> msal.ConfidentialClientApplication:
    api = emulator.app("api")
    return msal.ConfidentialClientApplication(
        api["client_id"], client_credential=credential if credential is not None else api["client_secret"],
        authority=emulator.authority, instance_discovery=False, http_client=http_client(emulator), **kwargs)


def daemon_app(emulator: Emulator, **kwargs: Any) -> msal.ConfidentialClientApplication:
    daemon = emulator.app("daemon")
    return msal.ConfidentialClientApplication(
        daemon["client_id"], client_credential=daemon["client_secret"], authority=emulator.authority,
        instance_discovery=False, http_client=http_client(emulator), **kwargs)


def certificate_credential(emulator: Emulator) -> dict[str, str]:
    cert = emulator.app("api")["certificate"]
    return {"private_key": Path(cert["key_path"]).read_text(), "thumbprint": cert["thumbprint"]}


def user_assertion(emulator: Emulator, user: str = "mira.okafor@larkspur.example", **body: Any) -> str:
    """What the SPA would send the API: a v2 token for the api's user_impersonation scope."""
    body.setdefault("client_id", emulator.app("spa")["client_id"])
    body.setdefault("audience", emulator.app("api")["client_id"])
    body.setdefault("scopes", ["user_impersonation"])
    return emulator.mint(user=user, **body)
