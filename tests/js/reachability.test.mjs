// Telling an untrusted local certificate authority from a sign-in service that is down.
import assert from "node:assert/strict";
import { test } from "node:test";

import { describeAuthError } from "../../static_frontend/js/problems.js";
import { Finding, diagnoseUnreachableSignIn, localAuthorityOrigin, watchPolicyViolations } from "../../static_frontend/js/reachability.js";

const LOCAL = "https://localhost:9443/5f0c6a4e-0000-4000-8000-000000000001";
const ENTRA = "https://login.microsoftonline.com/5f0c6a4e-0000-4000-8000-000000000001";

/** A fetch where the authority's origin fails like a TLS error and the API answers `diagnostics`. */
function fakeFetch({ browserReachesAuthority = false, diagnostics = { jwks: { reachable: true } }, status = 200 } = {}) {
  const calls = [];
  const impl = async (url, options = {}) => {
    calls.push({ url, options });
    if (url.startsWith("https://localhost:9443/")) {
      if (!browserReachesAuthority) throw new TypeError("Failed to fetch");
      return { ok: false, status: 0, type: "opaque" };
    }
    if (url === "/api/diagnostics") {
      if (diagnostics instanceof Error) throw diagnostics;
      return { ok: status === 200, status, json: async () => diagnostics };
    }
    throw new Error(`unexpected ${url}`);
  };
  return { impl, calls };
}

test("only a loopback https authority is examined", () => {
  assert.equal(localAuthorityOrigin(LOCAL), "https://localhost:9443");
  assert.equal(localAuthorityOrigin("https://127.0.0.1:9443/t"), "https://127.0.0.1:9443");
  assert.equal(localAuthorityOrigin("https://[::1]:9443/t"), "https://[::1]:9443");
  assert.equal(localAuthorityOrigin(ENTRA), null);
  assert.equal(localAuthorityOrigin("http://localhost:9443/t"), null);
  assert.equal(localAuthorityOrigin("https://localhost.evil.example/t"), null);
  assert.equal(localAuthorityOrigin("not a url"), null);
});

test("the API reaching the authority while the browser cannot means an untrusted CA", async () => {
  const { impl, calls } = fakeFetch();
  assert.equal(await diagnoseUnreachableSignIn(LOCAL, { fetch: impl }), Finding.UNTRUSTED_CA);
  assert.equal(calls[0].url, `${LOCAL}/v2.0/.well-known/openid-configuration`);
  assert.equal(calls[0].options.mode, "no-cors");
  assert.equal(calls[0].options.credentials, "omit");
});

test("neither reaching it means the local service is down", async () => {
  const { impl } = fakeFetch({ diagnostics: { jwks: { reachable: false } } });
  assert.equal(await diagnoseUnreachableSignIn(LOCAL, { fetch: impl }), Finding.LOCAL_SERVICE_DOWN);
});

test("without diagnostics the page says what is most likely", async () => {
  for (const options of [{ status: 404, diagnostics: {} }, { diagnostics: new TypeError("down") }, { diagnostics: {} }]) {
    const { impl } = fakeFetch(options);
    assert.equal(await diagnoseUnreachableSignIn(LOCAL, { fetch: impl }), Finding.UNTRUSTED_CA_LIKELY);
  }
});

test("a browser that reaches the authority is not told about certificates", async () => {
  const { impl, calls } = fakeFetch({ browserReachesAuthority: true });
  assert.equal(await diagnoseUnreachableSignIn(LOCAL, { fetch: impl }), Finding.UNKNOWN);
  assert.equal(calls.length, 1);
});

test("Microsoft Entra ID itself is never probed", async () => {
  const { impl, calls } = fakeFetch();
  assert.equal(await diagnoseUnreachableSignIn(ENTRA, { fetch: impl }), Finding.UNKNOWN);
  assert.equal(calls.length, 0);
});

test("a connection the page's own policy refused is not blamed on the certificate", async () => {
  const page = new EventTarget();
  const policy = watchPolicyViolations(page);
  const violation = (blockedURI) => Object.assign(new Event("securitypolicyviolation"), { blockedURI });
  page.dispatchEvent(violation("inline"));
  page.dispatchEvent(violation("https://localhost:9999/other"));
  const { impl } = fakeFetch();
  assert.equal(await diagnoseUnreachableSignIn(LOCAL, { fetch: impl, policy }), Finding.UNTRUSTED_CA);
  // The probe's own refusal arrives as a later task, as in a browser.
  const refusing = async (url, options) => {
    if (url.startsWith("https://localhost:9443/")) setTimeout(() => page.dispatchEvent(violation(url)), 0);
    return impl(url, options);
  };
  assert.equal(await diagnoseUnreachableSignIn(LOCAL, { fetch: refusing, policy }), Finding.BLOCKED_BY_POLICY);
  const blocked = describeAuthError({ errorCode: "endpoints_resolution_error" },
    { finding: Finding.BLOCKED_BY_POLICY, authority: LOCAL });
  assert.equal(blocked.code, "sign_in_blocked_by_policy");
  assert.match(blocked.message, /Content Security Policy does not allow connecting to https:\/\/localhost:9443/);
  assert.doesNotMatch(blocked.message, /trust-ca/);
});

test("the messages name the fix", () => {
  const error = { errorCode: "endpoints_resolution_error", errorMessage: "Could not resolve endpoints" };
  const untrusted = describeAuthError(error, { finding: Finding.UNTRUSTED_CA, authority: LOCAL });
  assert.equal(untrusted.code, "untrusted_local_ca");
  assert.match(untrusted.message,
    /trust the local certificate authority: `make trust-ca`, or open https:\/\/localhost:9443 once/);
  assert.doesNotMatch(untrusted.message, /Check your connection/);
  assert.equal(untrusted.actions[0].kind, "signin");
  const likely = describeAuthError(error, { finding: Finding.UNTRUSTED_CA_LIKELY, authority: LOCAL });
  assert.match(likely.message, /make trust-ca/);
  const down = describeAuthError(error, { finding: Finding.LOCAL_SERVICE_DOWN, authority: LOCAL });
  assert.equal(down.code, "local_identity_down");
  assert.match(down.message, /make run/);
  assert.doesNotMatch(down.message, /trust-ca/);
  const remote = describeAuthError(error, { authority: ENTRA });
  assert.match(remote.message, /Microsoft Entra ID did not answer/);
});
