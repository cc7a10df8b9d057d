// Turns an API problem (application/problem+json `code`) or a sign-in error into text a person can act
// on. One table, so every code the API documents has a message and a next step.
import { consentLink } from "./links.js";
import { Finding, localAuthorityOrigin } from "./reachability.js";

const GENERIC = {
  title: "Something went wrong",
  message: "The request did not succeed.",
  actions: ["retry"],
};

const BY_CODE = {
  missing_token: {
    title: "You are not signed in",
    message: "The API did not receive your sign-in token. Sign in again.",
    actions: ["signin"],
  },
  invalid_token: {
    title: "Your sign-in was not accepted",
    message: "The API could not validate your token. Sign in again; if it keeps happening, the app's settings may not match its registration.",
    actions: ["signin"],
  },
  token_expired: {
    title: "Your session expired",
    message: "Sign in again to continue.",
    actions: ["signin"],
  },
  interaction_required: {
    title: "Your organisation needs you to sign in again",
    message: "An extra check (such as multi-factor authentication) is required before your profile can be read.",
    actions: ["signin"],
  },
  insufficient_scope: {
    title: "This app lacks a permission",
    message: "Your token does not carry the permission the API requires. Sign in again; if it persists, ask an administrator to check the app registration.",
    actions: ["signin"],
  },
  consent_required: {
    title: "An administrator must approve this app",
    message: "The API is not allowed to read Microsoft Graph on your behalf yet. An administrator can grant consent with the link below; then try again.",
    actions: ["consent", "retry"],
  },
  graph_throttled: {
    title: "Microsoft Graph is busy",
    message: "Too many requests were made. Try again later.",
    actions: ["retry"],
  },
  graph_unavailable: {
    title: "Microsoft Graph is unavailable",
    message: "Microsoft Graph did not answer. Try again later.",
    actions: ["retry"],
  },
  graph_forbidden: {
    title: "Microsoft Graph refused access",
    message: "This app or your account lacks the permission to read that information. An administrator can check the app's Microsoft Graph permissions.",
    actions: ["retry"],
  },
  identity_unavailable: {
    title: "Sign-in service is unavailable",
    message: "Microsoft Entra ID did not answer. Try again later.",
    actions: ["retry"],
  },
  misconfigured: {
    title: "The API is not configured",
    message: "The API is missing required settings. Ask the person who runs this app to check its configuration.",
    actions: [],
  },
  internal_error: {
    title: "The API ran into a problem",
    message: "The request failed on the server. Try again; if it keeps failing, quote the reference below.",
    actions: ["retry"],
  },
  not_found: {
    title: "Not found",
    message: "The requested item does not exist or belongs to someone else.",
    actions: [],
  },
  report_failed: {
    title: "The report could not be built",
    message: "The background job stopped before it finished. Try again.",
    actions: ["retry"],
  },
  report_timeout: {
    title: "The report is taking too long",
    message: "The page stopped waiting for the report. Retry checks on the same report again.",
    actions: ["retry"],
  },
  network_error: {
    title: "The API could not be reached",
    message: "Check your connection and try again.",
    actions: ["retry"],
  },
  api_timeout: {
    title: "The API did not answer in time",
    message: "The request took too long and was stopped. Try again.",
    actions: ["retry"],
  },
  config_unavailable: {
    title: "The app could not start",
    message: "The sign-in settings could not be loaded from the API. Check that the API is running, then try again.",
    actions: ["reload"],
  },
  sign_in_failed: {
    title: "Sign-in did not complete",
    message: "The identity provider returned an error.",
    actions: ["signin"],
  },
};

/**
 * { title, message, detail, code, actions: [{kind, ...}] } for the error panel.
 * kinds: "signin", "retry" (with `after` seconds), "consent" (with `href`), "reload".
 * The consent link is offered only when it points at the configured `authority` (links.js).
 */
export function describeProblem(problem, { authority = null } = {}) {
  const code = typeof problem.code === "string" && problem.code ? problem.code : "unknown";
  const entry = (Object.hasOwn(BY_CODE, code) && BY_CODE[code]) || (code.startsWith("graph_") ? BY_CODE.graph_unavailable : GENERIC);
  const actions = [];
  for (const kind of entry.actions) {
    if (kind === "consent") {
      const href = consentLink(problem.consentUrl, authority);
      if (href) actions.push({ kind, href });
    } else if (kind === "retry") {
      actions.push({ kind, after: problem.retryAfter ?? null });
    } else {
      actions.push({ kind });
    }
  }
  let message = entry.message;
  if (problem.retryAfter != null && actions.some((a) => a.kind === "retry")) {
    message += ` The service asked to wait ${formatSeconds(problem.retryAfter)}.`;
  }
  return { code, title: entry.title, message, detail: problem.detail || "", reference: problem.correlationId || "", actions };
}

// MSAL.js error codes meaning the identity provider could not be reached at all.
const UNREACHABLE = new Set([
  "endpoints_resolution_error",
  "no_network_connectivity",
  "post_request_failed",
  "get_request_failed",
  "failed_to_parse_response",
  "timed_out",
]);

/** Whether an MSAL.js error code means the sign-in service could not be reached at all. */
export function isUnreachableSignIn(error) {
  return UNREACHABLE.has(error?.errorCode);
}

function describeUnreachable(code, detail, finding, authority) {
  const origin = localAuthorityOrigin(authority) || "the local sign-in service";
  const trust = `trust the local certificate authority: \`make trust-ca\`, or open ${origin} once and accept the warning`;
  const retry = [{ kind: "signin", label: "Try again" }];
  if (finding === Finding.UNTRUSTED_CA) {
    return {
      code: "untrusted_local_ca",
      title: "This browser does not trust the local certificate authority",
      message: `The local sign-in service at ${origin} is running, but this browser rejects its certificate. To fix it, ${trust}. Then try again.`,
      detail, actions: retry,
    };
  }
  if (finding === Finding.UNTRUSTED_CA_LIKELY) {
    return {
      code: "untrusted_local_ca",
      title: "The local sign-in service could not be reached",
      message: `This browser could not open ${origin}. If \`make run\` is running, the browser most likely does not trust the local certificate authority: ${trust}. Then try again.`,
      detail, actions: retry,
    };
  }
  if (finding === Finding.BLOCKED_BY_POLICY) {
    return {
      code: "sign_in_blocked_by_policy",
      title: "The sign-in service could not be reached from this page",
      message: `This page's Content Security Policy does not allow connecting to ${origin}. A production build signs in with Microsoft Entra ID only; run the local stack from \`make run\`, which serves the local policy.`,
      detail, actions: retry,
    };
  }
  if (finding === Finding.LOCAL_SERVICE_DOWN) {
    return {
      code: "local_identity_down",
      title: "The local sign-in service is not running",
      message: `Neither this browser nor the API reaches ${origin}. Check that \`make run\` is still running, then try again.`,
      detail, actions: retry,
    };
  }
  return {
    code,
    title: "The sign-in service could not be reached",
    message: "Microsoft Entra ID did not answer. Check your connection and try again.",
    detail, actions: retry,
  };
}

/**
 * Sign-in errors from MSAL.js (AuthError: errorCode, errorMessage). For an unreachable sign-in service,
 * `finding` (reachability.js) says why when the page could tell, and `authority` names the service.
 */
export function describeAuthError(error, { finding = Finding.UNKNOWN, authority = null } = {}) {
  const code = error.errorCode || "sign_in_failed";
  const detail = error.errorMessage || error.message || "";
  if (code === "access_denied" || code === "consent_required" || /AADSTS65004/.test(detail)) {
    return {
      code,
      title: "Consent was declined",
      message: "The app cannot read your profile without your consent. Sign in again and choose Accept.",
      detail: "",
      actions: [{ kind: "signin" }],
    };
  }
  if (UNREACHABLE.has(code)) return describeUnreachable(code, detail, finding, authority);
  const base = BY_CODE.sign_in_failed;
  return { code, title: base.title, message: base.message, detail, actions: [{ kind: "signin" }] };
}

export function formatSeconds(seconds) {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}
