// Every problem code has a title, a message and a next step; links only where they are safe.
import assert from "node:assert/strict";
import { test } from "node:test";

import { describeAuthError, describeProblem, formatSeconds } from "../../static_frontend/js/problems.js";

const AUTHORITY = "https://localhost:9443/tenant";

const cases = [
  ["consent_required", "consent"], ["token_expired", "signin"], ["interaction_required", "signin"],
  ["invalid_token", "signin"], ["missing_token", "signin"], ["insufficient_scope", "signin"],
  ["graph_throttled", "retry"], ["graph_unavailable", "retry"], ["identity_unavailable", "retry"],
  ["graph_something_new", "retry"], ["internal_error", "retry"], ["network_error", "retry"],
  ["api_timeout", "retry"], ["report_timeout", "retry"], ["report_failed", "retry"], ["config_unavailable", "reload"],
];

for (const [code, kind] of cases) {
  test(`${code} offers ${kind}`, () => {
    const described = describeProblem({ code, consentUrl: `${AUTHORITY}/adminconsent?client_id=1`, retryAfter: 30 },
      { authority: AUTHORITY });
    assert.ok(described.actions.some((action) => action.kind === kind), JSON.stringify(described.actions));
    assert.ok(described.title && described.message);
  });
}

test("the consent link is offered only on the configured authority", () => {
  const kinds = (problem, options) => describeProblem(problem, options).actions.map((a) => a.kind);
  const problem = { code: "consent_required", consentUrl: "javascript:alert(1)//adminconsent" };
  assert.deepEqual(kinds(problem, { authority: AUTHORITY }), ["retry"]);
  assert.deepEqual(kinds({ ...problem, consentUrl: `${AUTHORITY}/adminconsent` }), ["retry"], "no authority, no link");
  const [consent] = describeProblem({ ...problem, consentUrl: `${AUTHORITY}/adminconsent?client_id=1` }, { authority: AUTHORITY }).actions;
  assert.deepEqual(consent, { kind: "consent", href: `${AUTHORITY}/adminconsent?client_id=1` });
});

test("a retry the service delayed says how long and carries the wait", () => {
  const described = describeProblem({ code: "graph_throttled", retryAfter: 3 });
  assert.match(described.message, /asked to wait 3 seconds/);
  assert.deepEqual(described.actions, [{ kind: "retry", after: 3 }]);
  assert.match(describeProblem({ code: "graph_throttled", retryAfter: 3600 }).message, /60 minutes/);
});

test("codes that are not the table's own fall back to the generic entry", () => {
  for (const code of ["constructor", "__proto__", "toString", "", undefined, 42]) {
    const described = describeProblem({ code });
    assert.equal(described.title, code && String(code).startsWith("graph_") ? "Microsoft Graph is unavailable" : "Something went wrong", String(code));
  }
});

test("sign-in errors: declined consent, an unreachable provider, anything else", () => {
  assert.equal(describeAuthError({ errorCode: "access_denied" }).title, "Consent was declined");
  assert.equal(describeAuthError({ errorCode: "endpoints_resolution_error" }).actions[0].label, "Try again");
  assert.equal(describeAuthError({ errorCode: "other", errorMessage: "x" }).title, "Sign-in did not complete");
});

test("waits read as people say them", () => {
  assert.equal(formatSeconds(1), "1 second");
  assert.equal(formatSeconds(59), "59 seconds");
  assert.equal(formatSeconds(61), "2 minutes");
});
