// The API client: the action reaches the token provider, every request has a deadline, problem+json
// fields are the documented ones, Retry-After is capped.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiClient, ApiProblem, MAX_RETRY_AFTER_SECONDS, parseRetryAfter, sameOriginApiPath } from "../../static_frontend/js/api.js";

const ORIGIN = "https://app.example";

function client(respond, options = {}) {
  const requests = [];
  const actions = [];
  const api = new ApiClient(async (action) => {
    actions.push(action);
    return "token-for-test";
  }, "X-User-Authorization", {
    origin: ORIGIN,
    fetch: async (url, init) => {
      requests.push({ url, init });
      return respond(url, init);
    },
    ...options,
  });
  return { api, requests, actions };
}

const json = (status, body, headers = {}) => new Response(JSON.stringify(body), {
  status, headers: { "Content-Type": status >= 400 ? "application/problem+json" : "application/json", ...headers },
});

test("each request names its action to the token provider and sends the token in X-User-Authorization only", async () => {
  const { api, requests, actions } = client(() => json(200, { id: "1" }));
  await api.json("/api/get-profile", { action: "profile" });
  await api.json(`${ORIGIN}/api/jobs/abc`, { action: "report" });
  assert.deepEqual(actions, ["profile", "report"]);
  assert.equal(requests[1].url, "/api/jobs/abc");
  const headers = requests[0].init.headers;
  assert.equal(headers.get("X-User-Authorization"), "Bearer token-for-test");
  assert.equal(headers.get("Authorization"), null);  // the Static Web App would replace it anyway
  assert.ok(requests[0].init.signal instanceof AbortSignal);
});

test("with sendsAuthorization the token goes in Authorization too", async () => {
  const { api, requests } = client(() => json(200, { id: "1" }), { sendsAuthorization: true });
  await api.json("/api/get-profile", { action: "profile" });
  assert.equal(requests[0].init.headers.get("Authorization"), "Bearer token-for-test");
});

test("a problem carries the documented fields only", async () => {
  const body = { code: "consent_required", title: "Consent required", detail: "d", correlationId: "c-1",
    consentUrl: "https://login.microsoftonline.com/t/adminconsent", adminConsentUrl: "https://evil.example/adminconsent",
    correlation_id: "other", retryAfter: 99 };
  const { api } = client(() => json(403, body));
  const problem = await api.json("/api/get-profile").catch((error) => error);
  assert.ok(problem instanceof ApiProblem);
  assert.equal(problem.consentUrl, "https://login.microsoftonline.com/t/adminconsent");
  assert.equal(problem.correlationId, "c-1");
  assert.equal(problem.retryAfter, null, "Retry-After comes from the header, not the body");
  const aliasOnly = await client(() => json(403, { code: "consent_required", admin_consent_url: "https://x/adminconsent" }))
    .api.json("/api/get-profile").catch((error) => error);
  assert.equal(aliasOnly.consentUrl, null);
});

test("a 429 reads Retry-After from its header", async () => {
  const { api } = client(() => json(429, { code: "graph_throttled", title: "t" }, { "Retry-After": "7" }));
  const problem = await api.json("/api/get-profile").catch((error) => error);
  assert.equal(problem.status, 429);
  assert.equal(problem.retryAfter, 7);
});

test("a request that does not answer ends at its timeout as api_timeout", async () => {
  const { api } = client((url, init) => new Promise((_, reject) => init.signal.addEventListener("abort", () => reject(init.signal.reason))),
    { timeoutMs: 30 });
  const keepAlive = setTimeout(() => {}, 5000);
  try {
    const problem = await api.json("/api/get-profile").catch((error) => error);
    assert.equal(problem.code, "api_timeout");
    assert.equal(problem.status, 0);
  } finally {
    clearTimeout(keepAlive);
  }
});

test("the caller's signal cancels a request with an AbortError, not a problem", async () => {
  const controller = new AbortController();
  const { api } = client((url, init) => new Promise((_, reject) => init.signal.addEventListener("abort", () => reject(init.signal.reason))));
  const pending = api.json("/api/jobs/x", { signal: controller.signal }).catch((error) => error);
  setTimeout(() => controller.abort(), 10);
  const error = await pending;
  assert.equal(error.name, "AbortError");
});

test("a request that starts work is cancelled only before it is sent, so its answer says what started", async () => {
  const before = new AbortController();
  before.abort();
  const { api, requests } = client(() => json(202, { id: "job-1", statusUrl: "/api/jobs/job-1" }));
  const early = await api.json("/api/jobs/profile-report", { method: "POST", signal: before.signal, startsWork: true })
    .catch((error) => error);
  assert.equal(early.name, "AbortError");
  assert.equal(requests.length, 0);  // nothing sent, nothing started

  const during = new AbortController();
  let answer;
  const slow = client((url, init) => new Promise((resolve, reject) => {
    init.signal.addEventListener("abort", () => reject(init.signal.reason));
    answer = () => resolve(json(202, { id: "job-2", statusUrl: "/api/jobs/job-2" }));
  }));
  const pending = slow.api.json("/api/jobs/profile-report", { method: "POST", signal: during.signal, startsWork: true });
  await new Promise((resolve) => setTimeout(resolve, 10));
  during.abort();
  answer();
  assert.deepEqual(await pending, { id: "job-2", statusUrl: "/api/jobs/job-2" });
});

test("a network failure is network_error", async () => {
  const { api } = client(() => { throw new TypeError("Failed to fetch"); });
  assert.equal((await api.json("/api/config").catch((error) => error)).code, "network_error");
});

test("Retry-After: seconds or a date, never more than an hour", () => {
  const now = Date.parse("2030-01-01T00:00:00Z");
  assert.equal(parseRetryAfter("12", now), 12);
  assert.equal(parseRetryAfter(new Date(now + 60_000).toUTCString(), now), 60);
  assert.equal(parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", now), MAX_RETRY_AFTER_SECONDS);
  assert.equal(parseRetryAfter("99999999999", now), MAX_RETRY_AFTER_SECONDS);
  assert.equal(parseRetryAfter(new Date(now - 60_000).toUTCString(), now), 0);
  assert.equal(parseRetryAfter("soon", now), null);
  assert.equal(parseRetryAfter(null, now), null);
});

test("status URLs stay on this origin", () => {
  assert.equal(sameOriginApiPath("http://127.0.0.1:7071/api/jobs/abc?x=1", ORIGIN), "/api/jobs/abc?x=1");
  assert.throws(() => sameOriginApiPath("https://evil.example/steal", ORIGIN), /Not an API path/);
});
