"""The SPA's pure modules, run in Chromium as the page loads them (ES modules from the Static Web Apps CLI)."""
from __future__ import annotations

import base64
import json

import pytest

pytestmark = pytest.mark.e2e

CLAIMS = '{"access_token":{"capolids":{"essential":true,"values":["7d4b1c0e"]}}}'


@pytest.fixture
def modules(spa):
    spa.open()

    def call(module: str, expression: str, *args):
        script = f"async (args) => {{ const m = await import('/js/{module}'); return ({expression}); }}"
        return spa.page.evaluate(script, list(args))

    return call


def test_claims_challenge_is_decoded_to_the_json_msal_expects(modules):
    standard = base64.b64encode(CLAIMS.encode()).decode()
    url_safe = base64.urlsafe_b64encode(CLAIMS.encode()).decode().rstrip("=")
    for encoded in (standard, url_safe, CLAIMS):
        assert json.loads(modules("challenge.js", "m.decodeClaims(args[0])", encoded)) == json.loads(CLAIMS)
    assert modules("challenge.js", "m.decodeClaims(args[0])", "not base64 !!") is None


def test_www_authenticate_parameters_are_parsed(modules):
    header = f'Bearer realm="", error="insufficient_claims", error_description="MFA \\"required\\"", claims="{base64.b64encode(CLAIMS.encode()).decode()}"'
    parsed = modules("challenge.js", "m.parseChallenge(args[0])", header)
    assert parsed["scheme"] == "bearer"
    assert parsed["params"]["error"] == "insufficient_claims"
    assert parsed["params"]["error_description"] == 'MFA "required"'


def test_retry_after_accepts_seconds_and_dates(modules):
    assert modules("api.js", "m.parseRetryAfter(args[0])", "12") == 12
    in_a_minute = modules("api.js", "m.parseRetryAfter(new Date(Date.now() + 60000).toUTCString())")
    assert 55 <= in_a_minute <= 61
    assert modules("api.js", "m.parseRetryAfter(args[0])", "soon") is None


@pytest.mark.parametrize("code,action", [
    ("consent_required", "consent"), ("token_expired", "signin"), ("interaction_required", "signin"),
    ("invalid_token", "signin"), ("missing_token", "signin"), ("graph_throttled", "retry"),
    ("graph_unavailable", "retry"), ("identity_unavailable", "retry"), ("graph_something_new", "retry"),
])
def test_every_problem_code_offers_its_next_step(modules, code, action):
    problem = {"code": code, "consentUrl": "https://login.example/tenant/adminconsent", "retryAfter": 30}
    described = modules("problems.js", "m.describeProblem(args[0], {authority: args[1]})", problem,
                        "https://login.example/tenant")
    assert action in [a["kind"] for a in described["actions"]]
    assert described["title"] and described["message"]


def test_progress_is_read_in_the_shape_the_job_status_has(modules):
    # openapi.json `JobStatus.progress` is {completed, total, stage, graphCalls}; no other shape is sent.
    cases = [({"completed": 2, "total": 4}, 50), ({"completed": 4, "total": 4, "stage": "Done"}, 100), (None, None),
             (40, None), ({"percent": 75}, None)]
    for value, expected in cases:
        assert modules("report-job.js", "m.progressPercent(args[0])", value) == expected


def test_status_urls_stay_on_this_origin(modules):
    assert modules("api.js", "m.sameOriginApiPath(args[0])", "http://127.0.0.1:7071/api/jobs/abc?x=1") == "/api/jobs/abc?x=1"
    with pytest.raises(Exception, match="Not an API path"):
        modules("api.js", "m.sameOriginApiPath(args[0])", "https://evil.example/steal")


def test_the_token_goes_in_authorization_too_only_when_the_config_says_so(spa):
    """/api/config's `sendsAuthorization` reaches the page's API client: the token goes in X-User-Authorization
    only (what a Static Web App's linked backend needs) unless the setting says otherwise."""
    spa.open()
    script = """async () => {
        const config = await import('/js/config.js');
        const api = await import('/js/api.js');
        const seen = [];
        const settings = (extra) => async () => new Response(JSON.stringify({clientId: 'c',
            authority: 'https://login.microsoftonline.com/t', apiScope: 's', ...extra}),
            {status: 200, headers: {'Content-Type': 'application/json'}});
        const fetch = async (url, init) => {
            seen.push(Object.fromEntries(new Headers(init.headers)));
            return new Response('{}', {status: 200, headers: {'Content-Type': 'application/json'}});
        };
        for (const extra of [{}, {sendsAuthorization: true}, {sendsAuthorization: false}]) {
            const loaded = await config.loadConfig({fetch: settings(extra)});
            await new api.ApiClient(async () => 'tok', loaded.userTokenHeader,
                                    {fetch, sendsAuthorization: loaded.sendsAuthorization}).json('/api/x');
        }
        return seen;
    }"""
    default, asked, declined = spa.page.evaluate(script)
    assert default["x-user-authorization"] == "Bearer tok" and "authorization" not in default
    assert asked["authorization"] == "Bearer tok" == asked["x-user-authorization"]
    assert "authorization" not in declined
