// Page controller: loads settings, finishes any sign-in redirect, and wires the buttons to the API.
//
// Actions (profile, report, diagnostics) run independently: each names itself to every API request, so an
// interactive sign-in one of them needs carries that action in its redirect state, and each owns the
// error it shows (actions.js). Nothing here is shared between two running actions.
import { Actions } from "./actions.js";
import { ApiClient, ApiProblem } from "./api.js";
import { Auth, NotSignedInError, RedirectingError, isMsalError } from "./auth.js";
import { ConfigError, loadConfig } from "./config.js";
import { isBusy, setBusy, untrusted } from "./dom.js";
import { describeAuthError, describeProblem, formatSeconds, isUnreachableSignIn } from "./problems.js";
import { diagnoseUnreachableSignIn, watchPolicyViolations } from "./reachability.js";
import { jobStore, progressPercent, runReport } from "./report-job.js";
import { revealBidiControls } from "./text.js";
import { renderDiagnostics } from "./ui/diagnostics.js";
import { hideError, showError } from "./ui/error-panel.js";
import { renderPhoto, renderProfile, resetPhoto } from "./ui/profile.js";
import { renderReport, setProgress } from "./ui/report.js";

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
  cancelReport: $("#cancel-report"),
  progressRow: $("#job-progress-row"),
  jobProgress: $("[data-testid=job-progress]"),
  jobStatus: $("#job-status"),
  report: $("[data-testid=report]"),
  loadDiagnostics: $("#load-diagnostics"),
  diagnostics: $("#diagnostics"),
};

// The page's Content Security Policy refusals, recorded from start-up for the sign-in diagnosis.
const policyViolations = watchPolicyViolations();

// A claims challenge answered less than this long ago is not answered again automatically, so a
// policy the user cannot satisfy shows an error instead of looping through the identity provider.
const CLAIMS_RETRY_WINDOW_MS = 60_000;
const CLAIMS_MARK = "profile-app.claims-challenge-at";

let config = null;
let auth = null;
let api = null;
let reportController = null;
const reportJobs = jobStore(sessionStorage);

const actions = new Actions({ profile: getProfile, report: buildReport, diagnostics: loadDiagnostics });
const actionButtons = { profile: ui.getProfile, report: ui.buildReport, diagnostics: ui.loadDiagnostics };

ui.signIn.addEventListener("click", () => redirectFrom(ui.signIn, () => auth.signIn()));
ui.signOut.addEventListener("click", () => redirectFrom(ui.signOut, () => {
  reportJobs.forget();
  return auth.signOut();
}));
ui.getProfile.addEventListener("click", () => getProfile());
ui.buildReport.addEventListener("click", () => buildReport());
ui.cancelReport.addEventListener("click", () => {
  // The Cancel button disappears with the job: keep keyboard focus on the button that starts one.
  ui.buildReport.focus();
  if (!reportController || reportController.signal.aborted) return;
  ui.jobStatus.textContent = "Cancelling…"; // a job still starting is cancelled once its start is answered
  reportController.abort();
});
ui.loadDiagnostics.addEventListener("click", () => loadDiagnostics());

boot();

async function boot() {
  setStatus("Loading…");
  try {
    config = await loadConfig();
    auth = new Auth(config);
  } catch (error) {
    setStatus("");
    ui.signIn.disabled = true;
    const detail = error instanceof ConfigError ? error.message : String(error.message || error);
    showProblem(describeProblem({ code: "config_unavailable", detail }), "");
    return;
  }
  api = new ApiClient((action) => auth.apiToken(action), config.userTokenHeader,
                      { sendsAuthorization: config.sendsAuthorization });
  let started = { state: "", returned: false };
  try {
    started = await auth.start();
  } catch (error) {
    reportError(error, "");
  }
  renderAccount();
  if (!ui.error.hidden) return;
  const account = auth.account;
  if (!account) {
    setStatus("You are signed out.");
    return;
  }
  setStatus("Signed in as ", untrusted(account.name || account.username), ".");
  if (!started.returned) return;
  // Back from a redirect: focus returns to the action the user started (or the first one after a plain
  // sign-in), and an interrupted action resumes, the report with the same job.
  const action = actions.has(started.state) ? started.state : "";
  (action ? actionButtons[action] : ui.getProfile).focus();
  if (action) await actions.handler(action)({ resume: true });
}

function renderAccount() {
  const account = auth && auth.account;
  ui.signIn.hidden = Boolean(account);
  ui.signIn.disabled = false;
  ui.signOut.hidden = !account;
  ui.account.replaceChildren(account ? untrusted(account.name || account.username) : "");
  ui.account.title = account ? revealBidiControls(account.username) : "";
  ui.welcome.hidden = Boolean(account);
  ui.signedIn.hidden = !account;
}

async function getProfile() {
  await run("profile", async () => {
    setStatus("Loading your profile…");
    const profile = await api.json("/api/get-profile", { action: "profile" });
    renderProfile(ui.profile, profile);
    resetPhoto(ui.photo);
    ui.photo.dataset.state = "loading";
    await loadPhoto(profile.displayName);
    setStatus("Profile loaded for ", untrusted(profile.displayName || profile.userPrincipalName), ".");
  });
}

async function loadPhoto(displayName) {
  try {
    const response = await api.request("/api/get-profile/photo", { accept: "image/*", action: "profile" });
    renderPhoto(ui.photo, await response.blob(), displayName);
  } catch (error) {
    if (error instanceof RedirectingError) throw error;
    // No photo (404) or it failed: the profile still stands, with initials in place of the picture.
    renderPhoto(ui.photo, null, displayName);
  }
}

/** resume: poll the job kept from an interrupted run (Retry, a sign-in redirect) instead of starting one. */
async function buildReport({ resume = false } = {}) {
  await run("report", async () => {
    const controller = new AbortController();
    reportController = controller;
    let announced = null;
    ui.report.hidden = true;
    ui.progressRow.hidden = false;
    ui.cancelReport.hidden = false;
    setProgress(ui.jobProgress, ui.jobStatus, "Starting", null);
    setStatus("Building your report…");
    try {
      const result = await runReport(api, {
        store: reportJobs,
        resume,
        signal: controller.signal,
        onProgress: (status, progress) => {
          setProgress(ui.jobProgress, ui.jobStatus, status, progress);
          // The progress line changes on every poll; the live region speaks only when the job moves on.
          const percent = progressPercent(progress);
          if (percent !== null && percent !== announced && percent < 100) {
            announced = percent;
            setStatus(`Building your report: ${Math.round(percent)}% done.`);
          }
        },
        onWait: (seconds) => {
          ui.jobStatus.textContent = `Waiting ${formatSeconds(seconds)} before checking again`;
        },
      });
      setProgress(ui.jobProgress, ui.jobStatus, "Completed", { completed: 1, total: 1 });
      renderReport(ui.report, result);
      setStatus("Your report is ready.");
    } catch (error) {
      if (error?.name !== "AbortError") throw error;
      ui.jobStatus.textContent = "Cancelled";
      setStatus(error.jobCancelled === false
        ? "Stopped waiting for the report; the API could not be told to cancel it, so it may still finish."
        : "Report cancelled.");
    } finally {
      ui.cancelReport.hidden = true;
      if (reportController === controller) reportController = null;
    }
  });
}

async function loadDiagnostics() {
  await run("diagnostics", async () => {
    setStatus("Loading diagnostics…");
    renderDiagnostics(ui.diagnostics, await api.json("/api/diagnostics", { action: "diagnostics" }));
    setStatus("Diagnostics loaded.");
  });
}

/** Runs one user action: busy state on its button, its errors into the panel, focus kept on it. */
async function run(action, work) {
  const button = actionButtons[action];
  if (!actions.begin(action)) return;
  // Retry in the error panel counts as this action's button: the panel goes, focus moves to the button.
  const fromPanel = ui.error.contains(document.activeElement);
  const hadFocus = fromPanel || document.activeElement === button;
  if (actions.clearsError(action)) clearError();
  if (fromPanel) button.focus();
  setBusy(button, true);
  try {
    await work();
  } catch (error) {
    reportError(error, action);
  } finally {
    actions.end(action);
    setBusy(button, false);
    if (hadFocus && focusLost()) button.focus();
  }
}

/** Sign-in and sign-out: one redirect, however often the button is clicked. */
async function redirectFrom(button, work) {
  if (!auth || isBusy(button)) return;
  if (actions.clearsError("")) clearError();
  setBusy(button, true);
  try {
    await work();
  } catch (error) {
    // RedirectingError: the page is leaving, so the button stays busy.
    if (!(error instanceof RedirectingError)) setBusy(button, false);
    reportError(error, "");
  }
}

async function guard(work, owner) {
  try {
    await work();
  } catch (error) {
    reportError(error, owner);
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
      guard(() => auth.reauthenticate({ claims: error.claims, state: action }), action);
      return;
    }
    setStatus("");
    showProblem(describeProblem(error, { authority: config && config.authority }), action, handlers(action, error.claims));
    return;
  }
  setStatus("");
  if (isMsalError(error)) {
    const authority = config && config.authority;
    if (isUnreachableSignIn(error) && authority) {
      // A network error alone cannot tell an untrusted certificate from a service that is down: find out.
      setStatus("Checking the sign-in service…");
      diagnoseUnreachableSignIn(authority, { policy: policyViolations }).then((finding) => {
        setStatus("");
        showProblem(describeAuthError(error, { finding, authority }), action);
      });
      return;
    }
    showProblem(describeAuthError(error), action);
    return;
  }
  console.error(error);
  showProblem(describeProblem({ code: "unexpected_error", detail: String(error?.message || error) }), action);
}

function showProblem(description, owner, handlerSet = handlers(owner)) {
  showError(ui.error, description, handlerSet);
  actions.errorShown(owner);
}

function clearError() {
  hideError(ui.error);
  actions.errorCleared();
}

function handlers(action, claims = null) {
  return {
    signin: () => guard(() => (auth.account ? auth.reauthenticate({ claims, state: action }) : auth.signIn(action)), action),
    retry: () => (actions.has(action) ? actions.handler(action)({ resume: true }) : window.location.reload()),
    reload: () => window.location.reload(),
  };
}

function focusLost() {
  return !document.activeElement || document.activeElement === document.body;
}

function claimsRecentlyAnswered() {
  const at = Number(sessionStorage.getItem(CLAIMS_MARK) || 0);
  return Date.now() - at < CLAIMS_RETRY_WINDOW_MS;
}

function markClaimsAnswered() {
  sessionStorage.setItem(CLAIMS_MARK, String(Date.now()));
}

/** Status line (the page's polite live region); untrusted parts come in as <bdi> nodes. */
function setStatus(...parts) {
  ui.status.replaceChildren(...parts);
}
