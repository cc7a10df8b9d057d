// WWW-Authenticate challenges and the claims request MSAL.js expects.
import assert from "node:assert/strict";
import { test } from "node:test";

import { claimsFromResponse, decodeClaims, parseChallenge } from "../../static_frontend/js/challenge.js";

const CLAIMS = '{"access_token":{"capolids":{"essential":true,"values":["7d4b1c0e"]}}}';
const base64 = Buffer.from(CLAIMS).toString("base64");

test("claims arrive as base64, base64url or JSON and leave as the JSON string", () => {
  const urlSafe = Buffer.from(CLAIMS).toString("base64url");
  for (const encoded of [base64, urlSafe, CLAIMS]) assert.deepEqual(JSON.parse(decodeClaims(encoded)), JSON.parse(CLAIMS));
  assert.equal(decodeClaims("not base64 !!"), null);
  assert.equal(decodeClaims(Buffer.from("not json").toString("base64")), null);
  assert.equal(decodeClaims(""), null);
});

test("challenge parameters, quoted and escaped", () => {
  const parsed = parseChallenge(`Bearer realm="", error="insufficient_claims", error_description="MFA \\"required\\"", claims="${base64}"`);
  assert.equal(parsed.scheme, "bearer");
  assert.equal(parsed.params.error, "insufficient_claims");
  assert.equal(parsed.params.error_description, 'MFA "required"');
  assert.equal(parseChallenge(""), null);
});

test("only an insufficient_claims Bearer challenge yields claims", () => {
  const response = (header) => ({ headers: new Headers(header ? { "WWW-Authenticate": header } : {}) });
  assert.equal(claimsFromResponse(response(`Bearer error="insufficient_claims", claims="${base64}"`)), CLAIMS);
  assert.equal(claimsFromResponse(response(`Bearer error="invalid_token", claims="${base64}"`)), null);
  assert.equal(claimsFromResponse(response(`Basic error="insufficient_claims", claims="${base64}"`)), null);
  assert.equal(claimsFromResponse(response(null)), null);
});
