// Builds the deployable front end: `dist/` at the repository root with the runtime files only (pages,
// stylesheet, icon, js/, the MSAL.js bundles) and the production staticwebapp.config.json, which has
// no localhost sources and no deny rules for files that are simply not there (README.md, scripts/).
//
//   node static_frontend/scripts/build.mjs [--out DIR] [--node-modules DIR] [--clean-install]
//
// --clean-install (what `azd package` runs) installs the runtime dependencies into a temporary directory
// with `npm ci --omit=dev --ignore-scripts` and takes MSAL.js from there, not from the developer's tree.
// dist/ lives outside static_frontend/ on purpose: the Static Web Apps CLI finds staticwebapp.config.json
// by searching the folder it is given, so a second copy under static_frontend/ would compete with the
// local one that `make run` uses.
import { spawnSync } from "node:child_process";
import {
  copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import {
  MSAL_BUNDLES, MSAL_PACKAGE, SupplyChainError, checkedMsalVersion, integrityMismatches, msalLib, productionConfig,
  sha384, withIntegrity,
} from "./supply-chain.mjs";

const frontend = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const root = resolve(frontend, "..");

export const RUNTIME_FILES = Object.freeze(["index.html", "redirect.html", "styles.css", "favicon.svg"]);
export const NPM_CI_ARGS = Object.freeze(["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]);

/** `npm ci --omit=dev --ignore-scripts` of the locked dependencies in a fresh directory; its node_modules. */
export function cleanInstall({ run = spawnSync, projectRoot = root } = {}) {
  const staging = mkdtempSync(join(tmpdir(), "frontend-deps-"));
  for (const name of ["package.json", "package-lock.json"]) copyFileSync(join(projectRoot, name), join(staging, name));
  const windows = process.platform === "win32";
  const result = run(windows ? "npm.cmd" : "npm", [...NPM_CI_ARGS], { cwd: staging, stdio: "inherit", shell: windows });
  if (result.status !== 0) throw new SupplyChainError(`npm ${NPM_CI_ARGS.join(" ")} failed (exit ${result.status})`);
  return join(staging, "node_modules");
}

/** Writes the deployable site to `out` from static_frontend/ and MSAL.js in `modulesDir`. */
export function build({ out = join(root, "dist"), modulesDir = join(root, "node_modules"), projectRoot = root } = {}) {
  const source = join(projectRoot, "static_frontend");
  const version = checkedMsalVersion(projectRoot, modulesDir);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, "vendor"), { recursive: true });
  for (const name of RUNTIME_FILES) copyFileSync(join(source, name), join(out, name));
  cpSync(join(source, "js"), join(out, "js"), { recursive: true, filter: (path) => statSync(path).isDirectory() || path.endsWith(".js") });
  for (const [from, to, page] of MSAL_BUNDLES) {
    copyFileSync(join(msalLib(modulesDir), from), join(out, "vendor", to));
    const pagePath = join(out, page);
    const html = readFileSync(pagePath, "utf8");
    writeFileSync(pagePath, withIntegrity(html, `/vendor/${to}`, sha384(readFileSync(join(out, "vendor", to)))));
  }
  const local = JSON.parse(readFileSync(join(source, "staticwebapp.config.json"), "utf8"));
  writeFileSync(join(out, "staticwebapp.config.json"), `${JSON.stringify(productionConfig(local), null, 2)}\n`);
  const mismatches = integrityMismatches(out);
  if (mismatches.length) throw new SupplyChainError(`integrity mismatch in ${mismatches.map((m) => m.page).join(", ")}`);
  return { out, version, files: listFiles(out) };
}

function listFiles(dir, prefix = "") {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => entry.isDirectory()
    ? listFiles(join(dir, entry.name), `${prefix}${entry.name}/`)
    : [`${prefix}${entry.name}`]).sort();
}

function parseArgs(argv) {
  const options = { out: join(root, "dist"), modulesDir: null, cleanInstall: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--clean-install") options.cleanInstall = true;
    else if (arg === "--out") options.out = resolve(argv[++i]);
    else if (arg === "--node-modules") options.modulesDir = resolve(argv[++i]);
    else throw new SupplyChainError(`unknown argument ${arg} (use --out DIR, --node-modules DIR, --clean-install)`);
  }
  return options;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const options = parseArgs(process.argv.slice(2));
    const modulesDir = options.modulesDir || (options.cleanInstall ? cleanInstall() : join(root, "node_modules"));
    try {
      const { out, version, files } = build({ out: options.out, modulesDir });
      console.log(`build: ${files.length} files (${MSAL_PACKAGE} ${version}) -> ${out}`);
    } finally {
      if (options.cleanInstall && !options.modulesDir) rmSync(dirname(modulesDir), { recursive: true, force: true });
    }
  } catch (error) {
    if (!(error instanceof SupplyChainError)) throw error;
    console.error(`build: ${error.message}`);
    process.exit(1);
  }
}
