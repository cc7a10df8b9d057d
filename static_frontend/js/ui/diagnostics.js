// Renders /api/diagnostics: settings present (never values of secrets), the token header found, the
// validated token's non-secret claims and reachability checks. Unknown keys still show, as nested lists.
import { clear, el } from "../dom.js";

export function renderDiagnostics(container, data) {
  clear(container).append(valueNode(data));
  container.hidden = false;
}

function valueNode(value) {
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
      list.append(el("div", { class: "fact" }, el("dt", { text: humanise(key) }), el("dd", {}, valueNode(inner))));
    }
    return list;
  }
  return el("span", { text: String(value) });
}

function humanise(key) {
  // Claim names (aud, iss, scp, ...) and setting names (API_CLIENT_ID) are shown as they are.
  if (/^[a-z]{2,4}$/.test(key) || /^[A-Z0-9_]+$/.test(key)) return key;
  return key.replace(/[_-]+/g, " ").replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase());
}
