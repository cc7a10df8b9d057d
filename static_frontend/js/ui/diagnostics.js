// Renders /api/diagnostics: settings present (never values of secrets), the token header found, the
// validated token's non-secret claims and reachability checks. Unknown keys still show, as nested lists.
import { clear, el, untrusted } from "../dom.js";

export function renderDiagnostics(container, data) {
  clear(container).append(valueNode(data));
  container.hidden = false;
}

// JWT time claims are seconds since the epoch; show them as times people can read.
const TIME_CLAIMS = new Set(["exp", "nbf", "iat", "auth_time"]);

function valueNode(value, key = "") {
  if (TIME_CLAIMS.has(key) && typeof value === "number") {
    // Outside the range a Date can hold (about 275,000 years either side of 1970), toISOString throws:
    // show the number as it came instead.
    const date = new Date(value * 1000);
    if (Number.isFinite(date.getTime())) return el("time", { datetime: date.toISOString(), text: date.toLocaleString() });
    return el("span", { text: String(value) });
  }
  if (value === null || value === undefined) return el("span", { class: "muted", text: "—" });
  if (typeof value === "boolean") {
    return el("span", { class: value ? "badge ok" : "badge bad", text: value ? "yes" : "no" });
  }
  if (Array.isArray(value)) {
    if (!value.length) return el("span", { class: "muted", text: "none" });
    if (value.every((item) => typeof item !== "object" || item === null)) return untrusted(value.join(", "));
    return el("ul", { class: "plain" }, value.map((item) => el("li", {}, valueNode(item))));
  }
  if (typeof value === "object") {
    const list = el("dl", { class: "facts nested" });
    for (const [key, inner] of Object.entries(value)) {
      list.append(el("div", { class: "fact" }, el("dt", {}, untrusted(humanise(key))), el("dd", {}, valueNode(inner, key))));
    }
    return list;
  }
  return untrusted(value);
}

function humanise(key) {
  // Claim names (aud, iss, scp), setting names (API_CLIENT_ID) and header names (X-User-Authorization)
  // are shown exactly as the API and the platform spell them.
  if (/^[a-z]{2,4}$/.test(key) || /^[A-Z0-9_]+$/.test(key) || /^[A-Za-z0-9]+(-[A-Za-z0-9]+)+$/.test(key)) return key;
  return key.replace(/[_-]+/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase());
}
