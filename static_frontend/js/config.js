// Loads the SPA's public settings from the API (`GET /api/config`) so that one build of the front end
// runs unchanged against the local emulators and any Azure environment.
//
// The answer is not trusted blindly: the page sends users to the authority it names, so the authority and
// every known authority must be a Microsoft Entra sign-in host (global service, US Government, China;
// https://learn.microsoft.com/entra/identity-platform/authentication-national-cloud), or a loopback
// host when the page itself runs on one (the local emulator).

export class ConfigError extends Error {
  constructor(message, { status = 0 } = {}) {
    super(message);
    this.name = "ConfigError";
    this.status = status;
  }
}

export const MICROSOFT_LOGIN_HOSTS = Object.freeze([
  "login.microsoftonline.com",
  "login.microsoftonline.us",
  "login.partner.microsoftonline.cn",
]);
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
export const CONFIG_TIMEOUT_MS = 10_000;

const REQUIRED = ["clientId", "authority", "apiScope"];

/**
 * Whether `host` (host[:port], as MSAL.js lists known authorities) may be used for sign-in by a page
 * served from `pageHostname`.
 */
export function trustedIdentityHost(host, pageHostname) {
  if (typeof host !== "string" || !host) return false;
  let url;
  try {
    url = new URL(`https://${host}/`);
  } catch {
    return false;
  }
  // Anything beyond host[:port] (user info, a path) changes what the URL means: refuse it.
  if (url.host !== host.toLowerCase()) return false;
  if (MICROSOFT_LOGIN_HOSTS.includes(url.hostname)) return url.port === "";
  return LOOPBACK_HOSTS.has(url.hostname) && LOOPBACK_HOSTS.has(String(pageHostname || "").toLowerCase());
}

export async function loadConfig({
  fetch: fetchImpl = globalThis.fetch?.bind(globalThis),
  pageUrl = globalThis.location?.href,
  timeoutMs = CONFIG_TIMEOUT_MS,
} = {}) {
  let response;
  let raw;
  try {
    response = await fetchImpl("/api/config", {
      headers: { Accept: "application/json" },
      cache: "no-store",
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.ok) raw = await response.json();
  } catch {
    throw new ConfigError("The API could not be reached to load the sign-in settings.");
  }
  if (!response.ok) {
    throw new ConfigError(`The API answered ${response.status} when asked for the sign-in settings.`, {
      status: response.status,
    });
  }
  if (!raw || typeof raw !== "object") throw new ConfigError("The sign-in settings are not a JSON object.");
  const missing = REQUIRED.filter((key) => typeof raw[key] !== "string" || raw[key] === "");
  if (missing.length) {
    throw new ConfigError(`The sign-in settings are incomplete (missing ${missing.join(", ")}).`);
  }
  const pageHostname = new URL(pageUrl).hostname;
  const authority = checkedAuthority(raw.authority, pageHostname);
  return Object.freeze({
    clientId: raw.clientId,
    authority,
    apiScope: raw.apiScope,
    // MSAL.js only trusts authorities it knows; a non-Microsoft host (the local emulator) must be listed.
    knownAuthorities: checkedKnownAuthorities(raw.knownAuthorities, authority, pageHostname),
    userTokenHeader: raw.userTokenHeader || "X-User-Authorization",
    sendsAuthorization: raw.sendsAuthorization === true,
  });
}

function checkedAuthority(value, pageHostname) {
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError("The sign-in settings' authority is not a URL.");
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (url.protocol !== "https:" || url.username || url.password || url.search || url.hash || !path) {
    throw new ConfigError("The sign-in settings' authority must be an https URL naming a tenant.");
  }
  if (!trustedIdentityHost(url.host, pageHostname)) {
    throw new ConfigError(`The sign-in settings name an identity provider this page does not trust (${url.host}).`);
  }
  return url.origin + path;
}

function checkedKnownAuthorities(value, authority, pageHostname) {
  if (value === undefined || (Array.isArray(value) && !value.length)) return [new URL(authority).host];
  if (!Array.isArray(value) || !value.every((host) => typeof host === "string")) {
    throw new ConfigError("The sign-in settings' knownAuthorities is not a list of host names.");
  }
  const untrusted = value.find((host) => !trustedIdentityHost(host, pageHostname));
  if (untrusted !== undefined) {
    throw new ConfigError(`The sign-in settings name an identity provider this page does not trust (${untrusted}).`);
  }
  return [...value];
}
