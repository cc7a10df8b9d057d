// MSAL.js comes from the locked version and runs only with a matching integrity hash; the deployable
// dist/ holds runtime files only, with a production staticwebapp.config.json that names no localhost.
import assert from "node:assert/strict";
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, test } from "node:test";

import { NPM_CI_ARGS, RUNTIME_FILES, build, cleanInstall } from "../../static_frontend/scripts/build.mjs";
import {
  MSAL_BUNDLES, SupplyChainError, checkedMsalVersion, integrityMismatches, integrityOf, msalLib, productionConfig, sha384,
  signInSourceMismatches, withIntegrity, withoutLoopbackSources,
} from "../../static_frontend/scripts/supply-chain.mjs";

const ROOT = resolve(import.meta.dirname, "..", "..");
const MODULES = join(ROOT, "node_modules");
const FRONTEND = join(ROOT, "static_frontend");
const scratch = mkdtempSync(join(tmpdir(), "supply-chain-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

test("the committed pages carry the sha384 of the locked MSAL.js bundles", () => {
  for (const [from, to, page] of MSAL_BUNDLES) {
    const expected = sha384(readFileSync(join(msalLib(MODULES), from)));
    assert.equal(integrityOf(readFileSync(join(FRONTEND, page), "utf8"), `/vendor/${to}`), expected,
      `${page}: run \`npm run vendor\` and commit the new integrity attribute`);
  }
});

test("a bundle that differs from its hash is reported", () => {
  const out = join(scratch, "tampered");
  build({ out, modulesDir: MODULES });
  assert.deepEqual(integrityMismatches(out), []);
  appendFileSync(join(out, "vendor", "msal-browser.min.js"), "\n;window.stolen=1;");
  const [mismatch, ...rest] = integrityMismatches(out);
  assert.equal(rest.length, 0);
  assert.equal(mismatch.page, "index.html");
  assert.notEqual(mismatch.actual, mismatch.expected);
});

test("integrity attributes are added or replaced on exactly the named script", () => {
  const html = '<script src="/vendor/a.js" defer></script><script src="/vendor/b.js" integrity="sha384-old"></script>';
  const added = withIntegrity(html, "/vendor/a.js", "sha384-new");
  assert.equal(integrityOf(added, "/vendor/a.js"), "sha384-new");
  assert.equal(integrityOf(added, "/vendor/b.js"), "sha384-old");
  assert.equal(integrityOf(withIntegrity(html, "/vendor/b.js", "sha384-x"), "/vendor/b.js"), "sha384-x");
  assert.throws(() => withIntegrity(html, "/vendor/c.js", "sha384-x"), SupplyChainError);
  assert.match(sha384(Buffer.from("abc")), /^sha384-[A-Za-z0-9+/]{64}$/);
});

function project(name, { pinned = "5.29.0", locked = "5.29.0", installed = "5.29.0" } = {}) {
  const dir = join(scratch, name);
  const modules = join(dir, "node_modules");
  const manifest = join(modules, "@azure", "msal-browser");
  cpSync(join(MODULES, "@azure", "msal-browser", "package.json"), join(manifest, "package.json"));
  writeFileSync(join(manifest, "package.json"), JSON.stringify({ name: "@azure/msal-browser", version: installed }));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ dependencies: { "@azure/msal-browser": pinned } }));
  writeFileSync(join(dir, "package-lock.json"), JSON.stringify({ packages: { "node_modules/@azure/msal-browser": { version: locked } } }));
  return { dir, modules };
}

test("the MSAL.js version must be pinned, locked and installed alike", () => {
  const good = project("good");
  assert.equal(checkedMsalVersion(good.dir, good.modules), "5.29.0");
  const cases = [
    [{ pinned: "^5.29.0" }, /exact version/],
    [{ locked: "5.28.0" }, /package-lock.json locks @azure\/msal-browser 5.28.0, package.json pins 5.29.0/],
    [{ installed: "5.30.0" }, /holds @azure\/msal-browser 5.30.0, package-lock.json locks 5.29.0/],
  ];
  cases.forEach(([versions, message], index) => {
    const bad = project(`bad-${index}`, versions);
    assert.throws(() => checkedMsalVersion(bad.dir, bad.modules), message);
  });
  assert.equal(checkedMsalVersion(ROOT, MODULES), JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).dependencies["@azure/msal-browser"]);
});

test("the production config has no loopback source and no rules for files it does not ship", () => {
  const local = JSON.parse(readFileSync(join(FRONTEND, "staticwebapp.config.json"), "utf8"));
  assert.match(local.globalHeaders["Content-Security-Policy"], /https:\/\/localhost:\*/, "make run keeps the emulator");
  const production = productionConfig(local);
  const text = JSON.stringify(production);
  assert.doesNotMatch(text, /localhost|127\.0\.0\.1/);
  const csp = production.globalHeaders["Content-Security-Policy"];
  const signIn = "https://login.microsoftonline.com https://login.microsoftonline.us https://login.partner.microsoftonline.cn";
  assert.ok(csp.includes(`connect-src 'self' ${signIn};`), csp);
  assert.ok(csp.includes(`frame-src 'self' ${signIn};`), csp);
  assert.match(csp, /require-trusted-types-for 'script'/);
  assert.doesNotMatch(csp, /data:/);
  assert.ok(!production.routes.some((route) => ["/scripts/*", "/README.md"].includes(route.route)));
  assert.ok(!production.navigationFallback.exclude.includes("/scripts/*"));
  assert.deepEqual(production.globalHeaders["X-Content-Type-Options"], "nosniff");
  assert.equal(withoutLoopbackSources("connect-src 'self' http://127.0.0.1:7071 wss://localhost https://[::1]:1; img-src 'self'"),
    "connect-src 'self'; img-src 'self'");
});

test("the policy allows exactly the sign-in hosts the page accepts, and a build refuses one that does not", () => {
  const local = JSON.parse(readFileSync(join(FRONTEND, "staticwebapp.config.json"), "utf8"));
  assert.deepEqual(signInSourceMismatches(local.globalHeaders["Content-Security-Policy"]), []);
  const hosts = ["login.microsoftonline.com", "login.microsoftonline.us"];
  assert.deepEqual(signInSourceMismatches("connect-src 'self' https://login.microsoftonline.us https://login.microsoftonline.com https://localhost:*; frame-src 'self' https://login.microsoftonline.com https://login.microsoftonline.us", hosts), []);
  const missing = signInSourceMismatches("connect-src 'self' https://login.microsoftonline.com; frame-src 'self' https://login.microsoftonline.com https://login.microsoftonline.us", hosts);
  assert.equal(missing.length, 1);
  assert.match(missing[0], /^connect-src allows https:\/\/login\.microsoftonline\.com, js\/config\.js accepts/);
  assert.equal(signInSourceMismatches("default-src 'self'", hosts).length, 2);
  const narrowed = structuredClone(local);
  narrowed.globalHeaders["Content-Security-Policy"] = narrowed.globalHeaders["Content-Security-Policy"]
    .replace(" https://login.microsoftonline.us", "");
  assert.throws(() => productionConfig(narrowed), /disagree on sign-in hosts: connect-src allows/);
});

test("dist/ holds the runtime files, vendored MSAL.js with matching hashes and the production config", () => {
  const out = join(scratch, "dist");
  const { files, version } = build({ out, modulesDir: MODULES });
  assert.equal(version, "5.29.0");
  for (const name of [...RUNTIME_FILES, "staticwebapp.config.json", "js/main.js", "js/ui/report.js",
    "vendor/msal-browser.min.js", "vendor/msal-redirect-bridge.min.js"]) {
    assert.ok(files.includes(name), name);
  }
  assert.deepEqual(files.filter((name) => !/^(js\/.*\.js|vendor\/msal-[a-z-]+\.min\.js)$/.test(name)).sort(),
    [...RUNTIME_FILES, "staticwebapp.config.json"].sort());
  assert.ok(!existsSync(join(out, "README.md")) && !existsSync(join(out, "scripts")));
  assert.doesNotMatch(readFileSync(join(out, "staticwebapp.config.json"), "utf8"), /localhost/);
  assert.deepEqual(integrityMismatches(out), []);
});

test("the clean install is npm ci without dev dependencies and without install scripts, in a fresh directory", () => {
  let seen;
  const modules = cleanInstall({ run: (command, args, options) => {
    seen = { command, args, options };
    return { status: 0 };
  } });
  try {
    assert.match(seen.command, /^npm(\.cmd)?$/);
    assert.deepEqual(seen.args, [...NPM_CI_ARGS]);
    assert.ok(seen.args.includes("--omit=dev") && seen.args.includes("--ignore-scripts"));
    assert.equal(modules, join(seen.options.cwd, "node_modules"));
    assert.deepEqual(JSON.parse(readFileSync(join(seen.options.cwd, "package-lock.json"), "utf8")),
      JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")));
  } finally {
    rmSync(seen.options.cwd, { recursive: true, force: true });
  }
  assert.throws(() => cleanInstall({ run: (command, args, options) => {
    rmSync(options.cwd, { recursive: true, force: true });
    return { status: 1 };
  } }), /npm ci --omit=dev --ignore-scripts .* failed/);
});
