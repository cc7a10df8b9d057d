// Copies the MSAL.js browser bundles from node_modules into static_frontend/vendor/ for the local stack.
// The SPA loads them with plain <script> tags (UMD), so no bundler is needed, and the files are not
// committed: `npm ci` installs the locked version and this script (or `make setup`) refreshes the copies.
//
// It first checks that package.json, package-lock.json and node_modules agree on the version, then
// writes each bundle's sha384 into the integrity attribute of the page that loads it (index.html,
// redirect.html), so the browser runs only the bytes vendored here. A new MSAL.js version changes those
// two attributes: commit them with the version bump.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import {
  MSAL_BUNDLES, MSAL_PACKAGE, SupplyChainError, checkedMsalVersion, msalLib, sha384, withIntegrity,
} from "./supply-chain.mjs";

const frontend = join(dirname(fileURLToPath(import.meta.url)), "..");
const root = join(frontend, "..");
const modules = join(root, "node_modules");
const vendor = join(frontend, "vendor");

try {
  const version = checkedMsalVersion(root, modules);
  mkdirSync(vendor, { recursive: true });
  for (const [from, to, page] of MSAL_BUNDLES) {
    const target = join(vendor, to);
    copyFileSync(join(msalLib(modules), from), target);
    const pagePath = join(frontend, page);
    const html = readFileSync(pagePath, "utf8");
    const protectedHtml = withIntegrity(html, `/vendor/${to}`, sha384(readFileSync(target)));
    if (protectedHtml !== html) writeFileSync(pagePath, protectedHtml);
  }
  console.log(`vendor: ${MSAL_PACKAGE} ${version} -> ${vendor} (integrity written to index.html, redirect.html)`);
} catch (error) {
  if (!(error instanceof SupplyChainError)) throw error;
  console.error(`vendor: ${error.message}`);
  process.exit(1);
}
