// Copies the MSAL.js browser bundles from node_modules into static_frontend/vendor/.
// The SPA loads them with plain <script> tags (UMD), so no bundler is needed, and the files are
// not committed: `npm ci` pins the version and this script (or `make setup`) refreshes the copies.
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const frontend = join(dirname(fileURLToPath(import.meta.url)), "..");
const root = join(frontend, "..");
const msalLib = join(root, "node_modules", "@azure", "msal-browser", "lib");
const vendor = join(frontend, "vendor");

// The main library (global `msal`) and the v5 redirect bridge (global `msalRedirectBridge`) that
// redirect.html runs to hand silent-renewal responses back to the page.
const files = [
  ["msal-browser.min.js", "msal-browser.min.js"],
  [join("redirect-bridge", "msal-redirect-bridge.min.js"), "msal-redirect-bridge.min.js"],
];

mkdirSync(vendor, { recursive: true });
for (const [from, to] of files) {
  copyFileSync(join(msalLib, from), join(vendor, to));
}
const version = JSON.parse(readFileSync(join(msalLib, "..", "package.json"), "utf8")).version;
console.log(`vendor: @azure/msal-browser ${version} -> ${vendor}`);
