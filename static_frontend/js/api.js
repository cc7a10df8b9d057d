// Calls the linked Functions API with the user's token.
//
// The token goes in the custom header (default `X-User-Authorization`, published by /api/config) only:
// the Static Web App replaces `Authorization` on requests it proxies to its linked API with a platform
// token of its own (static-web-apps issues #34, #158, #275, #313), and so does the local linked-backend
// emulation. /api/config's `sendsAuthorization` (SPA_SENDS_AUTHORIZATION) adds the token to
// `Authorization` too, for a proxy that forwards it unchanged.

import { claimsFromResponse } from "./challenge.js";
import { tokenHeaderPolicy } from "./config.js";

export class ApiProblem extends Error {
  constructor({ status, code, title, detail, retryAfter = null, consentUrl = null, correlationId = null, claims = null, body = {} }) {
    super(detail || title || code);
    this.name = "ApiProblem";
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.retryAfter = retryAfter;
    this.consentUrl = consentUrl;
    this.correlationId = correlationId;
    this.claims = claims;
    this.body = body;
  }
}

export class ApiClient {
  /** tokenProvider: async () => access token for the API. */
  constructor(tokenProvider, userTokenHeader = "X-User-Authorization",
              sendsAuthorization = tokenHeaderPolicy().sendsAuthorization) {
    this.tokenProvider = tokenProvider;
    this.userTokenHeader = userTokenHeader;
    this.sendsAuthorization = sendsAuthorization;
  }

  /** Fetches `path` (same origin, under /api/) and returns the Response, or throws ApiProblem. */
  async request(path, { method = "GET", accept = "application/json", body = undefined } = {}) {
    const token = await this.tokenProvider();
    const headers = new Headers({ Accept: accept });
    headers.set(this.userTokenHeader, `Bearer ${token}`);
    if (this.sendsAuthorization) headers.set("Authorization", `Bearer ${token}`);
    if (body !== undefined) headers.set("Content-Type", "application/json");
    let response;
    try {
      response = await fetch(sameOriginApiPath(path), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "same-origin",
      });
    } catch {
      throw new ApiProblem({
        status: 0,
        code: "network_error",
        title: "The API could not be reached",
        detail: "Check your connection and try again.",
      });
    }
    if (!response.ok) throw await problemFrom(response);
    return response;
  }

  async json(path, options) {
    const response = await this.request(path, options);
    return response.status === 204 ? null : response.json();
  }
}

/**
 * Keeps every call on this origin: status URLs from the API may be absolute (built from the host the
 * function saw), but only same-origin /api/ paths pass the Static Web App proxy and the page's CSP.
 */
export function sameOriginApiPath(pathOrUrl) {
  const url = new URL(pathOrUrl, window.location.origin);
  if (!url.pathname.startsWith("/api/")) throw new Error(`Not an API path: ${url.pathname}`);
  return url.pathname + url.search;
}

async function problemFrom(response) {
  let body = {};
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try {
      body = await response.json();
    } catch {
      body = {};
    }
  }
  return new ApiProblem({
    status: response.status,
    code: body.code || `http_${response.status}`,
    title: body.title || response.statusText || "Request failed",
    detail: body.detail || "",
    retryAfter: parseRetryAfter(response.headers.get("Retry-After")) ?? (Number.isInteger(body.retryAfter) ? body.retryAfter : null),
    consentUrl: firstString(body, ["consentUrl", "adminConsentUrl", "admin_consent_url", "consent_url"]),
    correlationId: firstString(body, ["correlationId", "correlation_id"]),
    claims: response.status === 401 ? claimsFromResponse(response) : null,
    body,
  });
}

function firstString(object, keys) {
  for (const key of keys) {
    if (typeof object[key] === "string" && object[key]) return object[key];
  }
  return null;
}

/** Seconds to wait, from either form of Retry-After (delta-seconds or an HTTP date). */
export function parseRetryAfter(value) {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const when = Date.parse(value);
  if (Number.isNaN(when)) return null;
  return Math.max(0, Math.ceil((when - Date.now()) / 1000));
}
