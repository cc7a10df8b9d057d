// Tiny DOM helpers. Text is always set with textContent: API data never becomes markup.
import { revealBidiControls } from "./text.js";

/** Appends children, skipping null/undefined/false (Node.append would insert the text "null"). */
export function append(node, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  return append(node, children);
}

/**
 * Text the page did not write (Graph fields, group names, server messages) in its own <bdi>: a
 * bidirectional isolate, so it cannot reorder the text around it, with its bidi controls made visible.
 */
export function untrusted(value) {
  const node = document.createElement("bdi");
  node.textContent = revealBidiControls(value);
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function show(node, visible = true) {
  node.hidden = !visible;
}

/** A <dl> of label/value pairs, skipping empty values; string values are untrusted text. */
export function definitionList(pairs, className = "facts") {
  const list = el("dl", { class: className });
  for (const [label, value] of pairs) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) continue;
    list.append(el("div", { class: "fact" }, el("dt", { text: label }), el("dd", {}, value instanceof Node ? value : untrusted(value))));
  }
  return list;
}

/**
 * Marks a button busy without `disabled`: a disabled button drops keyboard focus (to the page), an
 * aria-disabled one keeps it and still reads as unavailable. Click handlers check `isBusy`.
 */
export function setBusy(button, busy) {
  if (busy) {
    button.setAttribute("aria-disabled", "true");
    button.setAttribute("aria-busy", "true");
  } else {
    button.removeAttribute("aria-disabled");
    button.removeAttribute("aria-busy");
  }
}

export function isBusy(button) {
  return button.getAttribute("aria-disabled") === "true";
}
