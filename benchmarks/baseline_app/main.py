"""The baseline for `make bench`: the original tutorial's On-Behalf-Of function, written as the tutorial does.

On every request it builds a new `ConfidentialClientApplication` (which fetches the authority's OpenID
configuration again), exchanges the caller's token with the On-Behalf-Of grant (MSAL Python never reads its
cache in `acquire_token_on_behalf_of`, so this is always a token endpoint call), then calls Graph `/me`
with `requests.get` (a new connection each time). Token validation is left to App Service authentication,
as in the tutorial. Served by the same local host as the product so both are measured over the same path.

Only the local stand-ins differ from the tutorial: the emulator's authority needs `instance_discovery=False`
and both it and the Graph emulator need the local CA (`CA_BUNDLE`).
"""
from __future__ import annotations

import json
import os

import azure.functions as func
import msal
import requests

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="get-profile", methods=["GET"])
def get_profile(req: func.HttpRequest) -> func.HttpResponse:
    auth_header = req.headers.get("Authorization", "")
    if not auth_header.lower().startswith("bearer "):
        return func.HttpResponse("missing bearer token", status_code=401)
    user_token = auth_header.split(" ", 1)[1]

    ca_bundle = os.environ.get("CA_BUNDLE") or True
    http_client = requests.Session()
    http_client.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override `verify`
    http_client.verify = ca_bundle
    cca = msal.ConfidentialClientApplication(
        os.environ["API_CLIENT_ID"],
        client_credential=os.environ["CLIENT_SECRET"],
        authority=f"{os.environ['AUTHORITY_HOST']}/{os.environ['TENANT_ID']}",
        http_client=http_client,
        instance_discovery=False,
    )
    result = cca.acquire_token_on_behalf_of(user_assertion=user_token, scopes=["User.Read"])
    if "access_token" not in result:
        return func.HttpResponse(json.dumps({"error": result.get("error")}), status_code=502,
                                 mimetype="application/json")

    graph = requests.get(
        f"{os.environ['GRAPH_BASE_URL']}/me",
        headers={"Authorization": "Bearer " + result["access_token"]},
        verify=ca_bundle,
        timeout=30,
    )
    return func.HttpResponse(graph.text, status_code=graph.status_code, mimetype="application/json")
