// Untrusted text: Graph fields, group names (any group owner can set them) and server messages. They are
// only ever shown as text (textContent), each in its own bidirectional isolate (see dom.js `untrusted`),
// so a right-to-left name cannot reorder the words around it. The embedding, override and isolate
// controls are also made visible: inside one string they can still make "exe.txt" read as "txt.exe".
// The directional marks (LRM, RLM, ALM) stay: names in Arabic or Hebrew use them legitimately, and an
// isolate confines what they do.

const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

/** `value` as a string with every bidi embedding/override/isolate control shown as `[U+202E]`. */
export function revealBidiControls(value) {
  return String(value ?? "").replace(BIDI_CONTROLS, (control) =>
    `[U+${control.codePointAt(0).toString(16).toUpperCase()}]`);
}

/** `value` without those controls, where a visible marker makes no sense (initials). */
export function withoutBidiControls(value) {
  return String(value ?? "").replace(BIDI_CONTROLS, "");
}
