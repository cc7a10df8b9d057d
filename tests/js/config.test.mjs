// /api/config is checked before the page trusts it: Microsoft sign-in hosts, loopback only on loopback.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ConfigError, loadConfig, trustedIdentityHost } from "../../static_frontend/js/config.js";

const AZURE_PAGE = "https://gentle-river-0123.azurestaticapps.net/";
const LOCAL_PAGE = "http://localhost:4280/";

function answering(body, { status = 200 } = {}) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    return { ok: status >= 200 && status < 300, status, json: async () => body };
  };
  return { fetch, calls };
}

const settings = (overrides = {}) => ({
  clientId: "22222222-2222-2222-2222-222222222222",
  authority: "https://login.microsoftonline.com/33333333-3333-3333-3333-333333333333",
  apiScope: "api://1111/user_impersonation",
  knownAuthorities: ["login.microsoftonline.com"],
  userTokenHeader: "X-User-Authorization",
  ...overrides,
});

test("the Azure settings load as published", async () => {
  const { fetch, calls } = answering(settings());
  const config = await loadConfig({ fetch, pageUrl: AZURE_PAGE });
  assert.equal(config.authority, "https://login.microsoftonline.com/33333333-3333-3333-3333-333333333333");
  assert.deepEqual(config.knownAuthorities, ["login.microsoftonline.com"]);
  assert.equal(calls[0].url, "/api/config");
  assert.ok(calls[0].init.signal instanceof AbortSignal, "the request has a timeout");
  assert.ok(Object.isFrozen(config));
});

test("the local emulator is accepted only from a page on loopback", async () => {
  const local = settings({ authority: "https://localhost:9443/tenant-id/", knownAuthorities: ["localhost:9443"] });
  const config = await loadConfig({ ...answering(local), pageUrl: LOCAL_PAGE });
  assert.equal(config.authority, "https://localhost:9443/tenant-id");
  assert.deepEqual(config.knownAuthorities, ["localhost:9443"]);
  await assert.rejects(loadConfig({ ...answering(local), pageUrl: AZURE_PAGE }), /does not trust \(localhost:9443\)/);
});

test("an authority on any other host, or not https, is refused", async () => {
  for (const authority of [
    "https://evil.example/tenant",
    "https://login.microsoftonline.com.evil.example/tenant",
    "https://login.microsoftonline.com:8443/tenant",
    "http://login.microsoftonline.com/tenant",
    "https://user@login.microsoftonline.com/tenant",
    "https://login.microsoftonline.com/",
    "https://login.microsoftonline.com/tenant?x=1",
    "javascript:alert(1)",
    "not a url",
  ]) {
    await assert.rejects(loadConfig({ ...answering(settings({ authority })), pageUrl: AZURE_PAGE }), ConfigError, authority);
  }
});

test("every known authority must be trusted too", async () => {
  for (const knownAuthorities of [["evil.example"], ["login.microsoftonline.com", "evil.example"],
    ["login.microsoftonline.com/path"], ["user@login.microsoftonline.com"], "login.microsoftonline.com", [7]]) {
    await assert.rejects(loadConfig({ ...answering(settings({ knownAuthorities })), pageUrl: AZURE_PAGE }), ConfigError,
      JSON.stringify(knownAuthorities));
  }
  const none = await loadConfig({ ...answering(settings({ knownAuthorities: [] })), pageUrl: AZURE_PAGE });
  assert.deepEqual(none.knownAuthorities, ["login.microsoftonline.com"]);
});

test("national clouds are Microsoft sign-in hosts", () => {
  for (const host of ["login.microsoftonline.com", "login.microsoftonline.us", "login.partner.microsoftonline.cn"]) {
    assert.equal(trustedIdentityHost(host, "app.example"), true, host);
  }
  assert.equal(trustedIdentityHost("localhost:9443", "app.example"), false);
  assert.equal(trustedIdentityHost("127.0.0.1:9443", "127.0.0.1"), true);
});

test("missing settings, a failed answer and an unreachable API are reported", async () => {
  await assert.rejects(loadConfig({ ...answering({ clientId: "x" }), pageUrl: AZURE_PAGE }), /missing authority, apiScope/);
  await assert.rejects(loadConfig({ ...answering({}, { status: 503 }), pageUrl: AZURE_PAGE }),
    (error) => error instanceof ConfigError && error.status === 503);
  await assert.rejects(loadConfig({ fetch: async () => { throw new TypeError("offline"); }, pageUrl: AZURE_PAGE }),
    /could not be reached/);
  await assert.rejects(loadConfig({ ...answering(null), pageUrl: AZURE_PAGE }), /not a JSON object/);
});

test("a config request that hangs ends at its timeout", async () => {
  const hanging = (url, init) => new Promise((_, reject) => init.signal.addEventListener("abort", () => reject(init.signal.reason)));
  const started = Date.now();
  const keepAlive = setTimeout(() => {}, 5000); // AbortSignal.timeout's timer does not hold the event loop
  try {
    await assert.rejects(loadConfig({ fetch: hanging, pageUrl: AZURE_PAGE, timeoutMs: 50 }), /could not be reached/);
  } finally {
    clearTimeout(keepAlive);
  }
  assert.ok(Date.now() - started < 2000);
});
