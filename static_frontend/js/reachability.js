// Why MSAL.js could not reach the sign-in service, when the page can tell.
//
// A browser reports an untrusted certificate to a page exactly like a server that is down: the request
// fails with a network error and nothing more. For the local emulator (a loopback authority) the page can
// still tell them apart: it asks the API, whose server side trusts the local certificate authority, whether
// it reaches the same identity provider (`GET /api/diagnostics`, on in the local stack). If the API reaches
// it and the browser does not, the browser does not trust the local certificate authority.
//
// One more cause fails the same way: the page's own Content Security Policy (a production build allows only
// Microsoft Entra ID). The browser then fires a `securitypolicyviolation` event naming the blocked URL, which
// `watchPolicyViolations` records so the diagnosis does not blame the certificate.

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
const PROBE_TIMEOUT_MS = 5_000;

/** What was found: the page cannot tell, the browser distrusts the local CA, or the local service is down. */
export const Finding = Object.freeze({
  UNKNOWN: "unknown",
  UNTRUSTED_CA: "untrusted_ca",
  UNTRUSTED_CA_LIKELY: "untrusted_ca_likely",
  LOCAL_SERVICE_DOWN: "local_service_down",
  BLOCKED_BY_POLICY: "blocked_by_policy",
});

/**
 * Records the origins this page's Content Security Policy refused to connect to (from the moment it is
 * called: call it at start-up). `blocks(origin)` says whether `origin` was refused.
 */
export function watchPolicyViolations(target = globalThis.document) {
  const refused = new Set();
  target?.addEventListener?.("securitypolicyviolation", (event) => {
    try {
      refused.add(new URL(event.blockedURI).origin);
    } catch {
      // "inline", "eval" and the like name no origin.
    }
  });
  return { blocks: (origin) => refused.has(origin) };
}

// A violation event is queued as its own task; let any pending one arrive before reading the record.
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The authority's origin when it is a loopback https URL (the local emulator), else null. */
export function localAuthorityOrigin(authority) {
  let url;
  try {
    url = new URL(authority);
  } catch {
    return null;
  }
  return url.protocol === "https:" && LOOPBACK_HOSTS.has(url.hostname) ? url.origin : null;
}

async function browserReaches(url, fetchImpl) {
  try {
    // no-cors: any answer resolves (an opaque one included); only a failed connection or TLS rejects.
    await fetchImpl(url, { mode: "no-cors", cache: "no-store", credentials: "omit",
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return true;
  } catch {
    return false;
  }
}

async function apiReachesKeys(diagnosticsUrl, fetchImpl) {
  try {
    const response = await fetchImpl(diagnosticsUrl, { headers: { Accept: "application/json" }, cache: "no-store",
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    if (!response.ok) return null;
    const reachable = (await response.json())?.jwks?.reachable;
    return typeof reachable === "boolean" ? reachable : null;
  } catch {
    return null;
  }
}

/**
 * After MSAL.js reported the sign-in service unreachable: a `Finding`. Only a loopback authority is
 * examined; for Microsoft Entra ID itself the answer is always UNKNOWN (its certificate is public).
 * `policy` is a `watchPolicyViolations()` record.
 */
export async function diagnoseUnreachableSignIn(authority, {
  fetch: fetchImpl = globalThis.fetch?.bind(globalThis),
  diagnosticsUrl = "/api/diagnostics",
  policy = null,
} = {}) {
  const origin = localAuthorityOrigin(authority);
  if (!origin || !fetchImpl) return Finding.UNKNOWN;
  if (await browserReaches(`${authority.replace(/\/+$/, "")}/v2.0/.well-known/openid-configuration`, fetchImpl)) {
    return Finding.UNKNOWN;
  }
  await nextTask();
  if (policy?.blocks(origin)) return Finding.BLOCKED_BY_POLICY;
  const apiReaches = await apiReachesKeys(diagnosticsUrl, fetchImpl);
  if (apiReaches === true) return Finding.UNTRUSTED_CA;
  if (apiReaches === false) return Finding.LOCAL_SERVICE_DOWN;
  return Finding.UNTRUSTED_CA_LIKELY;
}
