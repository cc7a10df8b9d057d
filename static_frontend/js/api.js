// Calls the linked Functions API with the user's token.
//
// The token goes in the custom header (default `X-User-Authorization`, published by /api/config) only:
// the Static Web App replaces `Authorization` on requests it proxies to its linked API with a platform
// token of its own (static-web-apps issues #34, #158, #275, #313), and so does the local linked-backend
// emulation. /api/config's `sendsAuthorization` (SPA_SENDS_AUTHORIZATION) adds the token to
// `Authorization` too, for a proxy that forwards it unchanged.
//
// Every request has a deadline (AbortSignal.timeout) and can be cancelled by the caller's signal, except
// one that starts work on the server (`startsWork`): once sent, it is awaited, so the caller learns what it
// started and can stop that. The problem fields read are the ones function_app/openapi.json documents
// (`Problem`), nothing else.

import { claimsFromResponse } from "./challenge.js";

export const REQUEST_TIMEOUT_MS = 30_000;
// The API never asks for more than an hour (openapi.json `RetryAfter`); a far-future HTTP date must not
// turn into a wait of years.
export const MAX_RETRY_AFTER_SECONDS = 3600;

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

/** The caller's signal, if it may still stop the request once sent: not for one that starts work. */
function cancellingSignal({ signal, startsWork = false }) {
  return startsWork ? undefined : signal;
}

export class ApiClient {
  /**
   * tokenProvider: async (action) => access token for the API; `action` is the user action the request
   * belongs to, so an interactive sign-in it needs comes back to that action.
   */
  constructor(tokenProvider, userTokenHeader = "X-User-Authorization", {
    fetch: fetchImpl = globalThis.fetch?.bind(globalThis),
    origin = globalThis.location?.origin,
    timeoutMs = REQUEST_TIMEOUT_MS,
    sendsAuthorization = false,
  } = {}) {
    this.tokenProvider = tokenProvider;
    this.userTokenHeader = userTokenHeader;
    this.fetch = fetchImpl;
    this.origin = origin;
    this.timeoutMs = timeoutMs;
    this.sendsAuthorization = sendsAuthorization;
  }

  /** Fetches `path` (same origin, under /api/) and returns the Response, or throws ApiProblem. */
  async request(path, { method = "GET", accept = "application/json", body = undefined, action = "", signal = undefined,
    startsWork = false } = {}) {
    const url = sameOriginApiPath(path, this.origin);
    const token = await this.tokenProvider(action);
    signal?.throwIfAborted();
    const cancels = cancellingSignal({ signal, startsWork });
    const headers = new Headers({ Accept: accept });
    headers.set(this.userTokenHeader, `Bearer ${token}`);
    if (this.sendsAuthorization) headers.set("Authorization", `Bearer ${token}`);
    if (body !== undefined) headers.set("Content-Type", "application/json");
    let response;
    try {
      response = await this.fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "same-origin",
        signal: this.deadline(cancels),
      });
    } catch (error) {
      throw transportProblem(error, cancels);
    }
    if (!response.ok) throw await problemFrom(response);
    return response;
  }

  async json(path, options = {}) {
    const response = await this.request(path, options);
    if (response.status === 204) return null;
    try {
      return await response.json();
    } catch (error) {
      throw transportProblem(error, cancellingSignal(options));
    }
  }

  /** The caller's signal (if any) combined with this request's timeout. */
  deadline(signal) {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    return signal ? AbortSignal.any([signal, timeout]) : timeout;
  }
}

function transportProblem(error, signal) {
  if (signal?.aborted) return signal.reason;
  if (error && error.name === "TimeoutError") {
    return new ApiProblem({
      status: 0,
      code: "api_timeout",
      title: "The API did not answer in time",
      detail: "",
    });
  }
  return new ApiProblem({
    status: 0,
    code: "network_error",
    title: "The API could not be reached",
    detail: "Check your connection and try again.",
  });
}

/**
 * Keeps every call on this origin: status URLs from the API may be absolute (built from the host the
 * function saw), but only same-origin /api/ paths pass the Static Web App proxy and the page's CSP.
 */
export function sameOriginApiPath(pathOrUrl, origin = globalThis.location?.origin) {
  const url = new URL(pathOrUrl, origin);
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
  if (!body || typeof body !== "object") body = {};
  return new ApiProblem({
    status: response.status,
    code: stringField(body, "code") || `http_${response.status}`,
    title: stringField(body, "title") || response.statusText || "Request failed",
    detail: stringField(body, "detail") || "",
    retryAfter: parseRetryAfter(response.headers.get("Retry-After")),
    consentUrl: stringField(body, "consentUrl"),
    correlationId: stringField(body, "correlationId"),
    claims: response.status === 401 ? claimsFromResponse(response) : null,
    body,
  });
}

function stringField(object, key) {
  return typeof object[key] === "string" && object[key] ? object[key] : null;
}

/** Seconds to wait, from either form of Retry-After (delta-seconds or an HTTP date), at most an hour. */
export function parseRetryAfter(value, now = Date.now()) {
  if (!value) return null;
  const text = value.trim();
  let seconds;
  if (/^\d+$/.test(text)) {
    seconds = Number(text);
  } else {
    const when = Date.parse(text);
    if (Number.isNaN(when)) return null;
    seconds = Math.ceil((when - now) / 1000);
  }
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(0, seconds));
}
