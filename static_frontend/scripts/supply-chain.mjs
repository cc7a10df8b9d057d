// What vendor.mjs and build.mjs share: the MSAL.js bundles and the version they must come from, their
// Subresource Integrity hashes in the pages, and the production form of staticwebapp.config.json.
// Node only (never served: the deployable dist/ holds runtime files only).
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { MICROSOFT_LOGIN_HOSTS } from "../js/config.js";

export const MSAL_PACKAGE = "@azure/msal-browser";

// [file in the package's lib/, file in vendor/, the page that loads it]
export const MSAL_BUNDLES = Object.freeze([
  ["msal-browser.min.js", "msal-browser.min.js", "index.html"],
  [join("redirect-bridge", "msal-redirect-bridge.min.js"), "msal-redirect-bridge.min.js", "redirect.html"],
]);

export class SupplyChainError extends Error {
  constructor(message) {
    super(message);
    this.name = "SupplyChainError";
  }
}

const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));

/**
 * The MSAL.js version, after checking that package.json pins it exactly, package-lock.json locks that
 * version, and `modulesDir` holds that version. Throws SupplyChainError naming the disagreement.
 */
export function checkedMsalVersion(root, modulesDir) {
  const pinned = readJson(join(root, "package.json")).dependencies?.[MSAL_PACKAGE];
  if (!/^\d+\.\d+\.\d+$/.test(pinned || "")) {
    throw new SupplyChainError(`package.json must pin ${MSAL_PACKAGE} to an exact version (it has ${pinned}).`);
  }
  const locked = readJson(join(root, "package-lock.json")).packages?.[`node_modules/${MSAL_PACKAGE}`]?.version;
  if (locked !== pinned) {
    throw new SupplyChainError(`package-lock.json locks ${MSAL_PACKAGE} ${locked}, package.json pins ${pinned}: run npm install.`);
  }
  const manifest = join(modulesDir, MSAL_PACKAGE, "package.json");
  const installed = existsSync(manifest) ? readJson(manifest).version : null;
  if (installed !== locked) {
    throw new SupplyChainError(`${modulesDir} holds ${MSAL_PACKAGE} ${installed}, package-lock.json locks ${locked}: run npm ci.`);
  }
  return locked;
}

export function msalLib(modulesDir) {
  return join(modulesDir, MSAL_PACKAGE, "lib");
}

/** The Subresource Integrity value of `bytes`: "sha384-" and the base64 digest. */
export function sha384(bytes) {
  return `sha384-${createHash("sha384").update(bytes).digest("base64")}`;
}

function scriptTag(src) {
  const escaped = src.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`<script\\b[^>]*\\bsrc="${escaped}"[^>]*>`);
}

/** The integrity attribute of the <script> whose src is `src`, or null. */
export function integrityOf(html, src) {
  const tag = scriptTag(src).exec(html);
  const attribute = tag && /\sintegrity="([^"]*)"/.exec(tag[0]);
  return attribute ? attribute[1] : null;
}

/** `html` with the <script src="`src`"> carrying integrity="`integrity`". Throws if there is no such tag. */
export function withIntegrity(html, src, integrity) {
  const pattern = scriptTag(src);
  const tag = pattern.exec(html);
  if (!tag) throw new SupplyChainError(`no <script src="${src}"> to protect`);
  const updated = /\sintegrity="[^"]*"/.test(tag[0])
    ? tag[0].replace(/\sintegrity="[^"]*"/, ` integrity="${integrity}"`)
    : tag[0].replace(`src="${src}"`, `src="${src}" integrity="${integrity}"`);
  return html.replace(pattern, updated);
}

/**
 * Pages in `siteDir` whose MSAL.js integrity hash disagrees with the bundle in `siteDir/vendor/`:
 * [{page, src, expected, actual}], empty when every hash matches.
 */
export function integrityMismatches(siteDir) {
  const mismatches = [];
  for (const [, vendored, page] of MSAL_BUNDLES) {
    const src = `/vendor/${vendored}`;
    const actual = integrityOf(readFileSync(join(siteDir, page), "utf8"), src);
    const expected = sha384(readFileSync(join(siteDir, "vendor", vendored)));
    if (actual !== expected) mismatches.push({ page, src, expected, actual });
  }
  return mismatches;
}

// Files the local stack serves from static_frontend/ but the deployment never contains: their deny
// routes have nothing to hide in production.
const LOCAL_ONLY_PATHS = new Set(["/scripts/*", "/README.md"]);
const LOOPBACK_SOURCE = /^(https?|wss?):\/\/(localhost|127\.0\.0\.1|\[::1\])(:[0-9*]+)?(\/.*)?$/i;

/** A policy's directives, each as [name, ...sources], in order (empty directives dropped). */
function directivesOf(policy) {
  return policy.split(";").map((directive) => directive.trim().split(/\s+/)).filter(([name]) => name);
}

/** A Content-Security-Policy without loopback sources (the local emulators). */
export function withoutLoopbackSources(policy) {
  return directivesOf(policy)
    .map((tokens) => tokens.filter((token) => !LOOPBACK_SOURCE.test(token)).join(" "))
    .join("; ");
}

// The directives MSAL.js needs the sign-in service in: discovery and tokens (connect), silent renewal (frame).
const SIGN_IN_DIRECTIVES = Object.freeze(["connect-src", "frame-src"]);

/**
 * Where `policy` disagrees with the sign-in hosts the page accepts (js/config.js `MICROSOFT_LOGIN_HOSTS`):
 * one message per directive whose https sources, loopback aside, are not exactly those hosts. A host the
 * page accepts but the policy blocks fails at sign-in; one the policy allows but the page refuses is unused.
 */
export function signInSourceMismatches(policy, hosts = MICROSOFT_LOGIN_HOSTS) {
  const expected = [...hosts].map((host) => `https://${host}`).sort();
  const directives = new Map(directivesOf(policy).map(([name, ...sources]) => [name, sources]));
  return SIGN_IN_DIRECTIVES.flatMap((name) => {
    const sources = (directives.get(name) || [])
      .filter((source) => source.startsWith("https://") && !LOOPBACK_SOURCE.test(source)).sort();
    return JSON.stringify(sources) === JSON.stringify(expected) ? []
      : [`${name} allows ${sources.join(" ") || "no sign-in host"}, js/config.js accepts ${expected.join(" ")}`];
  });
}

/** staticwebapp.config.json for Azure, from the local one: no localhost, no rules for files not deployed. */
export function productionConfig(local) {
  const config = structuredClone(local);
  const policy = "Content-Security-Policy";
  if (config.globalHeaders?.[policy]) config.globalHeaders[policy] = withoutLoopbackSources(config.globalHeaders[policy]);
  config.routes = (config.routes || []).filter((route) => !LOCAL_ONLY_PATHS.has(route.route));
  for (const route of config.routes) {
    if (route.headers?.[policy]) route.headers[policy] = withoutLoopbackSources(route.headers[policy]);
  }
  if (config.navigationFallback?.exclude) {
    config.navigationFallback.exclude = config.navigationFallback.exclude.filter((path) => !LOCAL_ONLY_PATHS.has(path));
  }
  // The pages' policy (the redirect bridge has its own, which reaches no one but the site).
  const mismatches = signInSourceMismatches(config.globalHeaders?.[policy] || "");
  if (mismatches.length) {
    throw new SupplyChainError(`the Content-Security-Policy and the page disagree on sign-in hosts: ${mismatches.join("; ")}`);
  }
  const text = JSON.stringify(config);
  if (/localhost|127\.0\.0\.1|\[::1\]/i.test(text)) {
    throw new SupplyChainError("the production staticwebapp.config.json still names a loopback host");
  }
  return config;
}
