// Runs the durable profile report: POST starts it (202 `JobAccepted` {id, statusUrl}), then the status URL
// is polled (`JobStatus` {id, runtimeStatus, progress?, result?, error?}, function_app/openapi.json) until
// the job reaches a final state. Each poll asks for a token from MSAL's cache, so a long job survives
// token renewal.
//
// Polling always ends: an overall deadline, the caller's AbortSignal (the Cancel button), and a limit on
// consecutive transient failures. A 429/503 (or a network failure) on a poll waits (Retry-After when the
// API sent one) and polls the same job again. The job is kept in `store` while it runs, so Retry, or the
// return from a sign-in redirect, picks up the same job instead of starting another orchestration.
// Cancelling also tells the API (`POST /api/jobs/{id}/cancel`), which stops the orchestration and ends the
// job's session, so nothing more is read on the user's behalf. A Cancel while the start request is under
// way waits for its answer (the server may already run the job) and then cancels the job it names.
import { ApiProblem, sameOriginApiPath } from "./api.js";
import { formatSeconds } from "./problems.js";

const FINAL = new Set(["Completed", "Failed", "Terminated", "Canceled"]);
const TRANSIENT_STATUS = new Set([0, 429, 502, 503, 504]);
const JOB_ID = /^[A-Za-z0-9-]{1,128}$/;

export const POLLING = Object.freeze({
  deadlineMs: 10 * 60_000,
  intervalMs: 700,
  maxIntervalMs: 3000,
  maxWaitMs: 60_000,
  transientLimit: 6,
});

/** Starts a report job, or resumes the one in `store` when `resume` is set; resolves to its result. */
export async function runReport(api, { store = null, resume = false, action = "report", signal, ...polling } = {}) {
  let job = resume && store ? store.load() : null;
  if (!job) {
    let started;
    try {
      started = await api.json("/api/jobs/profile-report", { method: "POST", action, signal, startsWork: true });
    } catch (error) {
      throw signal?.aborted ? signal.reason : error; // cancelled, and nothing was started
    }
    job = { id: started.id, statusUrl: started.statusUrl };
    store?.save(job);
  }
  // Cancelled while starting: the first poll sees the aborted signal, and the job is cancelled below.
  try {
    const result = await pollReport(api, job, { action, signal, ...polling });
    store?.forget();
    return result;
  } catch (error) {
    // A job that ended, that is gone, or that the user cancelled is not resumed; anything else is.
    if (error?.name === "AbortError" || error?.jobEnded) store?.forget();
    if (error?.name === "AbortError") error.jobCancelled = await cancelJob(api, job, action);
    throw error;
  }
}

/**
 * Asks the API to stop `job`: true when it did, or when the job had already ended (409) or is gone (404);
 * false when the API could not be told (the page then says the job may still run).
 */
export async function cancelJob(api, job, action = "report") {
  try {
    await api.json(`/api/jobs/${encodeURIComponent(job.id)}/cancel`, { method: "POST", action });
    return true;
  } catch (error) {
    return error instanceof ApiProblem && (error.status === 409 || error.status === 404);
  }
}

/**
 * Polls `job` until it is final. onProgress(runtimeStatus, progress) after every answer; onWait(seconds,
 * problem) before waiting out a transient failure. `clock` and `sleep` are injectable for tests.
 */
export async function pollReport(api, job, {
  onProgress = () => {},
  onWait = () => {},
  signal,
  action = "report",
  clock = Date.now,
  sleep = abortableSleep,
  ...timing
} = {}) {
  const { deadlineMs, intervalMs, maxIntervalMs, maxWaitMs, transientLimit } = { ...POLLING, ...timing };
  const deadline = clock() + deadlineMs;
  let wait = intervalMs;
  let failures = 0;
  for (;;) {
    signal?.throwIfAborted();
    if (clock() >= deadline) throw timedOut(deadlineMs);
    let status;
    try {
      status = await api.json(job.statusUrl, { action, signal });
    } catch (error) {
      if (!(error instanceof ApiProblem) || !TRANSIENT_STATUS.has(error.status) || ++failures >= transientLimit) {
        if (error instanceof ApiProblem && error.status === 404) error.jobEnded = true;
        throw error;
      }
      const asked = error.retryAfter != null ? error.retryAfter * 1000 : wait;
      const pause = Math.max(0, Math.min(asked, maxWaitMs, deadline - clock()));
      onWait(Math.ceil(pause / 1000), error);
      await sleep(pause, signal);
      wait = Math.min(maxIntervalMs, Math.round(wait * 1.5));
      continue;
    }
    failures = 0;
    onProgress(status.runtimeStatus, status.progress ?? null);
    if (FINAL.has(status.runtimeStatus)) {
      if (status.runtimeStatus === "Completed") return status.result;
      throw jobProblem(status.runtimeStatus, status.error);
    }
    await sleep(Math.max(0, Math.min(wait, deadline - clock())), signal);
    wait = Math.min(maxIntervalMs, Math.round(wait * 1.3));
  }
}

/** Percentage 0-100 from a job's `progress` ({completed, total}), or null when unknown. */
export function progressPercent(progress) {
  if (!progress || typeof progress !== "object") return null;
  const { completed, total } = progress;
  if (!Number.isFinite(completed) || !Number.isFinite(total) || total <= 0) return null;
  return Math.max(0, Math.min(100, (completed / total) * 100));
}

/** The progress line: "Running · 50% · Reading groups page 3". */
export function progressText(runtimeStatus, progress) {
  const percent = progressPercent(progress);
  let stage = progress && typeof progress.stage === "string" ? progress.stage : "";
  if (stage && runtimeStatus && stage.toLowerCase() === runtimeStatus.toLowerCase()) stage = "";
  return [runtimeStatus, percent === null ? "" : `${Math.round(percent)}%`, stage].filter(Boolean).join(" · ");
}

/** The running job in `storage` (sessionStorage: per tab, like the tokens), validated when read back. */
export function jobStore(storage, key = "profile-app.report-job") {
  return {
    save(job) {
      storage.setItem(key, JSON.stringify({ id: job.id, statusUrl: job.statusUrl }));
    },
    load() {
      try {
        const job = JSON.parse(storage.getItem(key) || "null");
        if (!job || !JOB_ID.test(job.id) || typeof job.statusUrl !== "string") return null;
        if (!sameOriginApiPath(job.statusUrl, "https://origin.invalid").startsWith("/api/jobs/")) return null;
        return { id: job.id, statusUrl: job.statusUrl };
      } catch {
        return null;
      }
    },
    forget() {
      storage.removeItem(key);
    },
  };
}

function jobProblem(runtimeStatus, error) {
  const info = error && typeof error === "object" ? error : {};
  const problem = new ApiProblem({
    status: 200,
    code: typeof info.code === "string" && info.code ? info.code : "report_failed",
    title: typeof info.title === "string" && info.title ? info.title : `The report ${runtimeStatus.toLowerCase()}`,
    detail: typeof info.detail === "string" ? info.detail : "",
    consentUrl: typeof info.consentUrl === "string" ? info.consentUrl : null,
    body: info,
  });
  problem.jobEnded = true;
  return problem;
}

function timedOut(deadlineMs) {
  return new ApiProblem({
    status: 0,
    code: "report_timeout",
    title: "The report is taking too long",
    detail: `The page stopped waiting after ${formatSeconds(Math.round(deadlineMs / 1000))}; Retry checks on the same report.`,
  });
}

/** setTimeout as a promise that rejects with the signal's reason when it is aborted. */
export function abortableSleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
