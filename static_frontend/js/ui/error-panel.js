// The error panel (role="alert"): what happened, what to do, and the button or link that does it.
import { append, clear, el, untrusted } from "../dom.js";
import { formatSeconds } from "../problems.js";

/**
 * description: from problems.js (a consent action's href is already checked there).
 * handlers: { signin(), retry(), reload() }.
 * A retry the service asked to delay (Retry-After) stays disabled until the wait is over.
 */
export function showError(panel, description, handlers) {
  stopCountdown(panel);
  clear(panel);
  // aria-live off: the Retry countdown must not make screen readers re-announce the alert every second.
  const actions = el("div", { class: "actions", "aria-live": "off" });
  for (const action of description.actions) {
    if (action.kind === "consent") {
      actions.append(
        el("a", { class: "button secondary", href: action.href, target: "_blank", rel: "noopener noreferrer", "data-action": "admin-consent" },
          "Grant admin consent"),
      );
    } else if (action.kind === "signin") {
      actions.append(el("button", { type: "button", class: "button", onclick: handlers.signin }, action.label || "Sign in again"));
    } else if (action.kind === "reload") {
      actions.append(el("button", { type: "button", class: "button", onclick: handlers.reload }, "Reload"));
    } else if (action.kind === "retry") {
      actions.append(retryButton(panel, action.after, handlers.retry));
    }
  }
  append(panel,
    el("h2", { class: "error-title", text: description.title }),
    el("p", { text: description.message }),
    description.detail ? el("p", { class: "detail" }, untrusted(description.detail)) : null,
    el("p", { class: "code" }, "Error code: ", el("code", {}, untrusted(description.code)),
      description.reference ? [" · Reference: ", el("code", {}, untrusted(description.reference))] : null),
    actions.childElementCount ? actions : null,
  );
  panel.dataset.code = description.code;
  panel.hidden = false;
}

export function hideError(panel) {
  stopCountdown(panel);
  clear(panel);
  delete panel.dataset.code;
  panel.hidden = true;
}

function retryButton(panel, after, onRetry) {
  const button = el("button", { type: "button", class: "button secondary", onclick: onRetry }, "Retry");
  if (after && after > 0) {
    let remaining = after;
    button.disabled = true;
    button.textContent = `Retry in ${formatSeconds(remaining)}`;
    panel._countdown = setInterval(() => {
      remaining -= 1;
      if (remaining <= 0) {
        stopCountdown(panel);
        button.disabled = false;
        button.textContent = "Retry";
      } else {
        button.textContent = `Retry in ${formatSeconds(remaining)}`;
      }
    }, 1000);
  }
  return button;
}

function stopCountdown(panel) {
  if (panel._countdown) clearInterval(panel._countdown);
  panel._countdown = null;
}
