// Loads the SPA's public settings from the API (`GET /api/config`) so that one build of the front end
// runs unchanged against the local emulators and any Azure environment.

export class ConfigError extends Error {
  constructor(message, { status = 0 } = {}) {
    super(message);
    this.name = "ConfigError";
    this.status = status;
  }
}

const REQUIRED = ["clientId", "authority", "apiScope"];

// Where the API client puts the user's token, as the last /api/config published it (read by api.js).
let tokenHeaders = Object.freeze({ userTokenHeader: "X-User-Authorization", sendsAuthorization: false });

export function tokenHeaderPolicy() {
  return tokenHeaders;
}

export async function loadConfig(fetchImpl = window.fetch.bind(window)) {
  let response;
  try {
    response = await fetchImpl("/api/config", { headers: { Accept: "application/json" }, cache: "no-store" });
  } catch (error) {
    throw new ConfigError("The API could not be reached to load the sign-in settings.");
  }
  if (!response.ok) {
    throw new ConfigError(`The API answered ${response.status} when asked for the sign-in settings.`, {
      status: response.status,
    });
  }
  const raw = await response.json();
  const missing = REQUIRED.filter((key) => typeof raw[key] !== "string" || raw[key] === "");
  if (missing.length) {
    throw new ConfigError(`The sign-in settings are incomplete (missing ${missing.join(", ")}).`);
  }
  const authority = raw.authority.replace(/\/+$/, "");
  tokenHeaders = Object.freeze({
    userTokenHeader: raw.userTokenHeader || "X-User-Authorization",
    sendsAuthorization: raw.sendsAuthorization === true,
  });
  return Object.freeze({
    clientId: raw.clientId,
    authority,
    apiScope: raw.apiScope,
    // MSAL.js only trusts authorities it knows; a non-Microsoft host (the local emulator) must be listed.
    knownAuthorities: Array.isArray(raw.knownAuthorities) && raw.knownAuthorities.length
      ? [...raw.knownAuthorities]
      : [new URL(authority).host],
    userTokenHeader: tokenHeaders.userTokenHeader,
    sendsAuthorization: tokenHeaders.sendsAuthorization,
  });
}
