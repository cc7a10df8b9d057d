// Page controller: loads settings, finishes any sign-in redirect, and wires the buttons to the API.
import { ApiClient, ApiProblem } from "./api.js";
import { Auth, NotSignedInError, RedirectingError, isMsalError } from "./auth.js";
import { ConfigError, loadConfig } from "./config.js";
import { describeAuthError, describeProblem } from "./problems.js";
import { renderDiagnostics } from "./ui/diagnostics.js";
import { hideError, showError } from "./ui/error-panel.js";
import { renderPhoto, renderProfile, resetPhoto } from "./ui/profile.js";
import { renderReport, setProgress } from "./ui/report.js";
import { runReport } from "./report-job.js";

const $ = (selector) => document.querySelector(selector);
const ui = {
  status: $("#status"),
  error: $("[data-testid=error]"),
  account: $("#account-name"),
  signIn: $("#sign-in"),
  signOut: $("#sign-out"),
  welcome: $("#welcome"),
  signedIn: $("#signed-in"),
  getProfile: $("#get-profile"),
  profile: $("[data-testid=profile]"),
  photo: $("[data-testid=profile-photo]"),
  buildReport: $("#build-report"),
  progressRow: $("#job-progress-row"),
  jobProgress: $("[data-testid=job-progress]"),
  jobStatus: $("#job-status"),
  report: $("[data-testid=report]"),
  loadDiagnostics: $("#load-diagnostics"),
  diagnostics: $("#diagnostics"),
};

// A claims challenge answered less than this long ago is not answered again automatically, so a
// policy the user cannot satisfy shows an error instead of looping through the identity provider.
const CLAIMS_RETRY_WINDOW_MS = 60_000;
const CLAIMS_MARK = "profile-app.claims-challenge-at";

let auth = null;
let api = null;
let currentAction = "";

const actions = { profile: getProfile, report: buildReport, diagnostics: loadDiagnostics };

ui.signIn.addEventListener("click", () => auth && guard(() => auth.signIn()));
ui.signOut.addEventListener("click", () => auth && guard(() => auth.signOut()));
ui.getProfile.addEventListener("click", () => getProfile());
ui.buildReport.addEventListener("click", () => buildReport());
ui.loadDiagnostics.addEventListener("click", () => loadDiagnostics());

boot();

async function boot() {
  setStatus("Loading…");
  let config;
  try {
    config = await loadConfig();
    auth = new Auth(config);
  } catch (error) {
    setStatus("");
    ui.signIn.disabled = true;
    const detail = error instanceof ConfigError ? error.message : String(error.message || error);
    showError(ui.error, describeProblem({ code: "config_unavailable", detail }), handlers(""));
    return;
  }
  api = new ApiClient(() => auth.apiToken(currentAction), config.userTokenHeader);
  let state = "";
  try {
    ({ state } = await auth.start());
  } catch (error) {
    reportError(error, "");
  }
  renderAccount();
  if (!ui.error.hidden) return;
  setStatus(auth.account ? `Signed in as ${auth.account.name || auth.account.username}.` : "You are signed out.");
  if (auth.account && actions[state]) await actions[state]();
}

function renderAccount() {
  const account = auth && auth.account;
  ui.signIn.hidden = Boolean(account);
  ui.signIn.disabled = false;
  ui.signOut.hidden = !account;
  ui.account.textContent = account ? account.name || account.username : "";
  ui.account.title = account ? account.username : "";
  ui.welcome.hidden = Boolean(account);
  ui.signedIn.hidden = !account;
}

async function getProfile() {
  await run("profile", ui.getProfile, async () => {
    setStatus("Loading your profile…");
    const profile = await api.json("/api/get-profile");
    renderProfile(ui.profile, profile);
    resetPhoto(ui.photo);
    ui.photo.dataset.state = "loading";
    await loadPhoto(profile.displayName);
    setStatus(`Profile loaded for ${profile.displayName || profile.userPrincipalName}.`);
  });
}

async function loadPhoto(displayName) {
  try {
    const response = await api.request("/api/get-profile/photo", { accept: "image/*" });
    renderPhoto(ui.photo, await response.blob(), displayName);
  } catch (error) {
    if (error instanceof RedirectingError) throw error;
    // No photo (404) or it failed: the profile still stands, with initials in place of the picture.
    renderPhoto(ui.photo, null, displayName);
  }
}

async function buildReport() {
  await run("report", ui.buildReport, async () => {
    ui.report.hidden = true;
    ui.progressRow.hidden = false;
    setProgress(ui.jobProgress, ui.jobStatus, "Starting", null);
    setStatus("Building your report…");
    const result = await runReport(api, {
      onProgress: (status, progress) => setProgress(ui.jobProgress, ui.jobStatus, status, progress),
    });
    setProgress(ui.jobProgress, ui.jobStatus, "Completed", 100);
    renderReport(ui.report, result);
    setStatus("Your report is ready.");
  });
}

async function loadDiagnostics() {
  await run("diagnostics", ui.loadDiagnostics, async () => {
    setStatus("Loading diagnostics…");
    renderDiagnostics(ui.diagnostics, await api.json("/api/diagnostics"));
    setStatus("Diagnostics loaded.");
  });
}

/** Runs one user action: busy state on its button, errors into the panel. */
async function run(action, button, work) {
  hideError(ui.error);
  currentAction = action;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    await work();
  } catch (error) {
    reportError(error, action);
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    currentAction = "";
  }
}

async function guard(work) {
  hideError(ui.error);
  try {
    await work();
  } catch (error) {
    reportError(error, "");
  }
}

function reportError(error, action) {
  if (error instanceof RedirectingError) {
    setStatus("Redirecting to sign in…");
    return;
  }
  if (error instanceof NotSignedInError) {
    renderAccount();
    setStatus("Sign in first.");
    return;
  }
  if (error instanceof ApiProblem) {
    if (error.claims && !claimsRecentlyAnswered()) {
      // Entra ID needs more from the user (for example MFA): ask for exactly the claims it named.
      markClaimsAnswered();
      guard(() => auth.reauthenticate({ claims: error.claims, state: action }));
      return;
    }
    setStatus("");
    showError(ui.error, describeProblem(error), handlers(action, error.claims));
    return;
  }
  setStatus("");
  if (isMsalError(error)) {
    showError(ui.error, describeAuthError(error), handlers(action));
    return;
  }
  console.error(error);
  showError(ui.error, describeProblem({ code: "unexpected_error", detail: String(error.message || error) }), handlers(action));
}

function handlers(action, claims = null) {
  return {
    signin: () => guard(() => (auth.account ? auth.reauthenticate({ claims, state: action }) : auth.signIn(action))),
    retry: () => (actions[action] ? actions[action]() : window.location.reload()),
    reload: () => window.location.reload(),
  };
}

function claimsRecentlyAnswered() {
  const at = Number(sessionStorage.getItem(CLAIMS_MARK) || 0);
  return Date.now() - at < CLAIMS_RETRY_WINDOW_MS;
}

function markClaimsAnswered() {
  sessionStorage.setItem(CLAIMS_MARK, String(Date.now()));
}

function setStatus(text) {
  ui.status.textContent = text;
}
