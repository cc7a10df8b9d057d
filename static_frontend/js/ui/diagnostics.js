// Renders /api/diagnostics: settings present (never values of secrets), the token header found, the
// validated token's non-secret claims and reachability checks. Unknown keys still show, as nested lists.
import { clear, el } from "../dom.js";

export function renderDiagnostics(container, data) {
  clear(container).append(valueNode(data));
  container.hidden = false;
}

// JWT time claims are seconds since the epoch; show them as times people can read.
const TIME_CLAIMS = new Set(["exp", "nbf", "iat", "auth_time"]);

function valueNode(value, key = "") {
  if (TIME_CLAIMS.has(key) && typeof value === "number") {
    return el("time", { datetime: new Date(value * 1000).toISOString(), text: new Date(value * 1000).toLocaleString() });
  }
  if (value === null || value === undefined) return el("span", { class: "muted", text: "—" });
  if (typeof value === "boolean") {
    return el("span", { class: value ? "badge ok" : "badge bad", text: value ? "yes" : "no" });
  }
  if (Array.isArray(value)) {
    if (!value.length) return el("span", { class: "muted", text: "none" });
    if (value.every((item) => typeof item !== "object" || item === null)) return el("span", { text: value.join(", ") });
    return el("ul", { class: "plain" }, value.map((item) => el("li", {}, valueNode(item))));
  }
  if (typeof value === "object") {
    const list = el("dl", { class: "facts nested" });
    for (const [key, inner] of Object.entries(value)) {
      list.append(el("div", { class: "fact" }, el("dt", { text: humanise(key) }), el("dd", {}, valueNode(inner, key))));
    }
    return list;
  }
  return el("span", { text: String(value) });
}

function humanise(key) {
  // Claim names (aud, iss, scp), setting names (API_CLIENT_ID) and header names (X-User-Authorization)
  // are shown exactly as the API and the platform spell them.
  if (/^[a-z]{2,4}$/.test(key) || /^[A-Z0-9_]+$/.test(key) || /^[A-Za-z0-9]+(-[A-Za-z0-9]+)+$/.test(key)) return key;
  return key.replace(/[_-]+/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase());
}
