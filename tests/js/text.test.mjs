// Bidi embedding, override and isolate controls are shown, not obeyed.
import assert from "node:assert/strict";
import { test } from "node:test";

import { revealBidiControls, withoutBidiControls } from "../../static_frontend/js/text.js";

test("every embedding, override and isolate control becomes a visible marker", () => {
  const controls = [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069];
  for (const code of controls) {
    const shown = revealBidiControls(`a${String.fromCodePoint(code)}b`);
    assert.equal(shown, `a[U+${code.toString(16).toUpperCase()}]b`);
  }
  assert.equal(revealBidiControls("Invoice \u202Efdp.exe"), "Invoice [U+202E]fdp.exe");
});

test("ordinary text, right-to-left text and directional marks are left alone", () => {
  for (const text of ["Mira Okafor", "Tomás Ruiz", "שלום עולם", "مرحبا\u200F 2024", "a\u200Eb", ""]) {
    assert.equal(revealBidiControls(text), text);
  }
  assert.equal(revealBidiControls(null), "");
  assert.equal(revealBidiControls(7), "7");
});

test("initials can drop the controls entirely", () => {
  assert.equal(withoutBidiControls("\u202EMira \u2067Okafor\u2069"), "Mira Okafor");
});
