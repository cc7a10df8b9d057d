// The admin-consent link and the mailto: link only for URLs/addresses of the expected shape.
import assert from "node:assert/strict";
import { test } from "node:test";

import { consentLink, mailtoLink } from "../../static_frontend/js/links.js";

const AUTHORITY = "https://login.microsoftonline.com/contoso.onmicrosoft.com";
const GOOD = "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=1111";

test("an https admin-consent URL on the authority's host is kept", () => {
  assert.equal(consentLink(GOOD, AUTHORITY), GOOD);
  assert.equal(consentLink("https://localhost:9443/t/adminconsent?client_id=1", "https://localhost:9443/t"),
    "https://localhost:9443/t/adminconsent?client_id=1");
});

test("any other consent URL gets no link", () => {
  for (const href of [
    "javascript:alert(document.domain)//login.microsoftonline.com/adminconsent",
    "data:text/html,<script>alert(1)</script>/adminconsent",
    "http://login.microsoftonline.com/contoso/adminconsent",
    "https://login.microsoftonline.com.evil.example/contoso/adminconsent",
    "https://evil.example/contoso/adminconsent",
    "https://login.microsoftonline.com@evil.example/adminconsent",
    "https://user:pw@login.microsoftonline.com/contoso/adminconsent",
    "https://login.microsoftonline.com/contoso/adminconsent/../oauth2/authorize",
    "https://login.microsoftonline.com/contoso/consent",
    "https://localhost:9444/t/adminconsent",
    "/contoso/adminconsent",
    "",
    null,
    42,
  ]) {
    assert.equal(consentLink(href, href === "https://localhost:9444/t/adminconsent" ? "https://localhost:9443/t" : AUTHORITY), null, String(href));
  }
  assert.equal(consentLink(GOOD, null), null, "no configured authority, no link");
  assert.equal(consentLink(GOOD, "not a url"), null);
});

test("a valid address becomes a mailto: URL with its local part encoded", () => {
  assert.equal(mailtoLink("mira.okafor@larkspur.example"), "mailto:mira.okafor@larkspur.example");
  assert.equal(mailtoLink("o'brien+ops@larkspur.example"), "mailto:o'brien%2Bops@larkspur.example");
  // `?`, `&` and `=` are legal in a local part; encoded, they cannot start a header list.
  assert.equal(mailtoLink("a?bcc=eve&x@larkspur.example"), "mailto:a%3Fbcc%3Deve%26x@larkspur.example");
});

test("anything that is not exactly one address gets no mailto: link", () => {
  for (const value of [
    "mira@larkspur.example?bcc=eve@evil.example&body=hello",
    "mira@larkspur.example,eve@evil.example",
    "mira okafor@larkspur.example",
    "mira@larkspur.example\nbcc: eve@evil.example",
    "mira@localhost",
    "@larkspur.example",
    "mira@",
    ".mira@larkspur.example",
    "mira..okafor@larkspur.example",
    "mira@larkspur..example",
    "mira@-larkspur.example",
    "mira@larkspur.example/",
    `${"a".repeat(65)}@larkspur.example`,
    "",
    null,
    undefined,
    {},
  ]) {
    assert.equal(mailtoLink(value), null, JSON.stringify(value));
  }
});
