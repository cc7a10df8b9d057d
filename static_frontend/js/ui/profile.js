// The profile card: Graph /me fields the API returns, and the photo (or the person's initials).
// Every Graph string is untrusted text (dom.js `untrusted`); the mail link is built only from a valid address.
import { clear, definitionList, el, untrusted } from "../dom.js";
import { mailtoLink } from "../links.js";
import { revealBidiControls, withoutBidiControls } from "../text.js";

export function renderProfile(card, profile) {
  const phones = [
    ...(Array.isArray(profile.businessPhones) ? profile.businessPhones : []),
    profile.mobilePhone,
  ].filter((phone) => typeof phone === "string" && phone);
  const href = mailtoLink(profile.mail);
  const mail = href ? el("a", { href }, untrusted(profile.mail)) : profile.mail ? untrusted(profile.mail) : null;
  setText(card.querySelector("[data-part=name]"), profile.displayName || "(no display name)");
  setText(card.querySelector("[data-part=upn]"), profile.userPrincipalName);
  setText(card.querySelector("[data-part=title]"), profile.jobTitle);
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

function setText(node, value) {
  clear(node);
  if (value) node.append(untrusted(value));
}

export function initials(name) {
  const words = withoutBidiControls(name).trim().split(/\s+/).filter(Boolean);
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
  const name = displayName ? revealBidiControls(displayName) : "";
  if (blob) {
    currentObjectUrl = URL.createObjectURL(blob);
    container.append(el("img", { src: currentObjectUrl, alt: `Photo of ${name || "the signed-in user"}`, width: 96, height: 96 }));
    container.dataset.state = "photo";
  } else {
    container.append(el("span", { class: "initials", role: "img", "aria-label": `No photo: ${name || "user"}`, text: initials(displayName) }));
    container.dataset.state = "initials";
  }
}

export function resetPhoto(container) {
  if (currentObjectUrl) URL.revokeObjectURL(currentObjectUrl);
  currentObjectUrl = null;
  clear(container);
  container.dataset.state = "empty";
}
