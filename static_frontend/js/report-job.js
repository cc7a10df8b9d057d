// Runs the durable profile report: POST starts it (202 {id, statusUrl}), then the status URL is polled
// until the orchestration reaches a final state. Each poll sends a fresh token from MSAL's cache, so a
// long job survives token renewal.
import { ApiProblem } from "./api.js";

const FINAL = new Set(["Completed", "Failed", "Terminated", "Canceled", "Cancelled"]);

export async function runReport(api, { onProgress, signal, intervalMs = 700, maxIntervalMs = 3000 } = {}) {
  const started = await api.json("/api/jobs/profile-report", { method: "POST" });
  const statusUrl = started.statusUrl || `/api/jobs/${encodeURIComponent(started.id)}`;
  let wait = intervalMs;
  for (;;) {
    if (signal && signal.aborted) throw new DOMException("Report cancelled", "AbortError");
    const status = await api.json(statusUrl);
    const runtimeStatus = status.runtimeStatus || "Pending";
    onProgress && onProgress(runtimeStatus, status.progress);
    if (FINAL.has(runtimeStatus)) {
      if (runtimeStatus === "Completed") return status.result;
      throw jobProblem(runtimeStatus, status.error);
    }
    await sleep(wait);
    wait = Math.min(maxIntervalMs, Math.round(wait * 1.3));
  }
}

function jobProblem(runtimeStatus, error) {
  const info = error && typeof error === "object" ? error : { detail: typeof error === "string" ? error : "" };
  return new ApiProblem({
    status: 200,
    code: info.code || "report_failed",
    title: info.title || `The report ${runtimeStatus.toLowerCase()}`,
    detail: info.detail || info.message || "",
    retryAfter: typeof info.retryAfter === "number" ? info.retryAfter : null,
    consentUrl: info.adminConsentUrl || info.consentUrl || null,
    body: info,
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
