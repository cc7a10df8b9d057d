// The profile card: Graph /me fields the API returns, and the photo (or the person's initials).
import { clear, definitionList, el } from "../dom.js";

export function renderProfile(card, profile) {
  const phones = [
    ...(Array.isArray(profile.businessPhones) ? profile.businessPhones : []),
    profile.mobilePhone,
  ].filter(Boolean);
  const mail = profile.mail ? el("a", { href: `mailto:${profile.mail}`, text: profile.mail }) : null;
  clear(card.querySelector("[data-part=name]")).textContent = profile.displayName || "(no display name)";
  clear(card.querySelector("[data-part=upn]")).textContent = profile.userPrincipalName || "";
  clear(card.querySelector("[data-part=title]")).textContent = profile.jobTitle || "";
  const facts = definitionList([
    ["Email", mail],
    ["Office", profile.officeLocation],
    ["Phone", phones.join(", ")],
    ["Department", profile.department],
  ]);
  facts.dataset.part = "facts";
  card.querySelector("[data-part=facts]").replaceWith(facts);
  card.hidden = false;
}

export function initials(name) {
  const words = String(name || "").trim().split(/\s+/).filter(Boolean);
  if (!words.length) return "?";
  const letters = words.length === 1 ? words[0].slice(0, 2) : words[0][0] + words[words.length - 1][0];
  return letters.toUpperCase();
}

let currentObjectUrl = null;

/** Shows the photo blob, or the initials when there is none (404) or it could not be loaded. */
export function renderPhoto(container, blob, displayName) {
  if (currentObjectUrl) URL.revokeObjectURL(currentObjectUrl);
  currentObjectUrl = null;
  clear(container);
  if (blob) {
    currentObjectUrl = URL.createObjectURL(blob);
    container.append(el("img", { src: currentObjectUrl, alt: `Photo of ${displayName || "the signed-in user"}`, width: 96, height: 96 }));
    container.dataset.state = "photo";
  } else {
    container.append(el("span", { class: "initials", role: "img", "aria-label": `No photo: ${displayName || "user"}`, text: initials(displayName) }));
    container.dataset.state = "initials";
  }
}

export function resetPhoto(container) {
  if (currentObjectUrl) URL.revokeObjectURL(currentObjectUrl);
  currentObjectUrl = null;
  clear(container);
  container.dataset.state = "empty";
}
