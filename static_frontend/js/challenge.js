// Reads `WWW-Authenticate` challenges. When Entra ID needs more from the user (MFA, a Conditional Access
// policy) the API answers 401 with
//   WWW-Authenticate: Bearer error="insufficient_claims", claims="<base64 of a JSON claims request>"
// MSAL.js wants the claims request as the JSON *string* (request.claims), so the base64 is decoded here.

export function parseChallenge(header) {
  if (!header) return null;
  const match = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!match) return null;
  const params = {};
  // auth-param = token "=" ( token / quoted-string ), separated by commas.
  const paramPattern = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?/g;
  let param;
  while ((param = paramPattern.exec(match[2])) !== null) {
    const value = param[2] !== undefined ? param[2].replace(/\\(.)/g, "$1") : param[3];
    params[param[1].toLowerCase()] = value;
  }
  return { scheme: match[1].toLowerCase(), params };
}

export function decodeClaims(value) {
  if (!value) return null;
  const trimmed = value.trim();
  // Some servers send the JSON itself rather than base64 of it; accept both.
  if (trimmed.startsWith("{")) return validJson(trimmed);
  let base64 = trimmed.replace(/-/g, "+").replace(/_/g, "/");
  base64 += "=".repeat((4 - (base64.length % 4)) % 4);
  try {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return validJson(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

function validJson(text) {
  try {
    JSON.parse(text);
    return text;
  } catch {
    return null;
  }
}

/** The claims request (JSON string) of an insufficient_claims challenge, or null. */
export function claimsFromResponse(response) {
  const challenge = parseChallenge(response.headers.get("WWW-Authenticate"));
  if (!challenge || challenge.scheme !== "bearer") return null;
  if (challenge.params.error !== "insufficient_claims") return null;
  return decodeClaims(challenge.params.claims);
}
