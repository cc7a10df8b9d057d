// Report polling ends: deadline, cancel, bounded transient failures; Retry-After honoured; the same job kept.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiProblem } from "../../static_frontend/js/api.js";
import { cancelJob, jobStore, pollReport, progressPercent, progressText, runReport } from "../../static_frontend/js/report-job.js";

/** A fake API answering POST with a job and each GET from `answers` (the last one repeats). */
function fakeApi(answers) {
  const calls = [];
  return {
    calls,
    async json(path, options = {}) {
      calls.push({ path, ...options });
      if (options.method === "POST") return { id: "job-1", statusUrl: "/api/jobs/job-1" };
      const answer = answers.length > 1 ? answers.shift() : answers[0];
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

/** A clock that only moves when the poller sleeps. */
function fakeTime() {
  const time = { now: 0, sleeps: [] };
  time.clock = () => time.now;
  time.sleep = async (ms, signal) => {
    signal?.throwIfAborted();
    time.sleeps.push(ms);
    time.now += ms;
  };
  return time;
}

const running = { id: "job-1", runtimeStatus: "Running", progress: { completed: 1, total: 4, stage: "Reading" } };
const done = { id: "job-1", runtimeStatus: "Completed", progress: { completed: 4, total: 4 }, result: { groups: [] } };
const throttled = (seconds) => new ApiProblem({ status: 429, code: "graph_throttled", title: "t", retryAfter: seconds });

function memoryStorage() {
  const items = new Map();
  return { getItem: (k) => (items.has(k) ? items.get(k) : null), setItem: (k, v) => items.set(k, String(v)), removeItem: (k) => items.delete(k), items };
}

test("polls until Completed and returns the result", async () => {
  const api = fakeApi([running, running, done]);
  const time = fakeTime();
  const progress = [];
  const result = await runReport(api, { ...time, onProgress: (status) => progress.push(status) });
  assert.deepEqual(result, { groups: [] });
  assert.deepEqual(progress, ["Running", "Running", "Completed"]);
  assert.deepEqual(api.calls.map((c) => c.action), ["report", "report", "report", "report"]);
});

test("statuses that never end (Suspended, ContinuedAsNew) stop at the deadline", async () => {
  const api = fakeApi([{ id: "job-1", runtimeStatus: "Suspended" }, { id: "job-1", runtimeStatus: "ContinuedAsNew" }]);
  const time = fakeTime();
  const error = await pollReport(api, { id: "job-1", statusUrl: "/api/jobs/job-1" }, { ...time, deadlineMs: 60_000 })
    .catch((e) => e);
  assert.equal(error.code, "report_timeout");
  assert.ok(api.calls.length < 40, `${api.calls.length} polls`);
  assert.ok(time.now <= 60_000);
});

test("a 429 mid-poll waits for its Retry-After and polls the same job again", async () => {
  const api = fakeApi([running, throttled(3), done]);
  const time = fakeTime();
  const waits = [];
  const result = await runReport(api, { ...time, onWait: (seconds) => waits.push(seconds) });
  assert.deepEqual(result, { groups: [] });
  assert.deepEqual(waits, [3]);
  assert.ok(time.sleeps.includes(3000));
  assert.equal(api.calls.filter((c) => c.method === "POST").length, 1, "one job only");
  assert.ok(api.calls.filter((c) => !c.method).every((c) => c.path === "/api/jobs/job-1"));
});

test("a huge Retry-After is capped per wait and by the deadline", async () => {
  const api = fakeApi([throttled(3600), done]);
  const time = fakeTime();
  await pollReport(api, { statusUrl: "/api/jobs/job-1" }, { ...time, maxWaitMs: 60_000 });
  assert.deepEqual(time.sleeps, [60_000]);
  const near = fakeTime();
  const error = await pollReport(fakeApi([throttled(3600)]), { statusUrl: "/api/jobs/job-1" }, { ...near, deadlineMs: 5000 })
    .catch((e) => e);
  assert.equal(error.code, "report_timeout");
  assert.ok(near.now <= 5000);
});

test("transient failures in a row give up after the limit; other failures at once", async () => {
  const unavailable = new ApiProblem({ status: 503, code: "graph_unavailable", title: "u", retryAfter: 1 });
  const error = await pollReport(fakeApi([unavailable]), { statusUrl: "/api/jobs/job-1" }, { ...fakeTime(), transientLimit: 3 })
    .catch((e) => e);
  assert.equal(error.code, "graph_unavailable");
  const forbidden = new ApiProblem({ status: 403, code: "insufficient_scope", title: "f" });
  const api = fakeApi([forbidden]);
  assert.equal((await pollReport(api, { statusUrl: "/api/jobs/job-1" }, fakeTime()).catch((e) => e)).code, "insufficient_scope");
  assert.equal(api.calls.length, 1);
});

test("cancel stops polling with an AbortError and forgets the job", async () => {
  const api = fakeApi([running]);
  const store = jobStore(memoryStorage());
  const controller = new AbortController();
  const time = fakeTime();
  const sleep = async (ms, signal) => {
    if (api.calls.length >= 3) controller.abort();
    return time.sleep(ms, signal);
  };
  const error = await runReport(api, { store, signal: controller.signal, clock: time.clock, sleep }).catch((e) => e);
  assert.equal(error.name, "AbortError");
  assert.equal(api.calls.length, 4);
  assert.equal(store.load(), null);
  // The API is told, so the orchestration stops reading Graph as the user.
  assert.deepEqual(api.calls[3], { path: "/api/jobs/job-1/cancel", method: "POST", action: "report" });
  assert.equal(error.jobCancelled, true);
});

test("a cancel while the start is under way waits for its answer and cancels the job it started", async () => {
  const controller = new AbortController();
  const calls = [];
  const api = {
    async json(path, options = {}) {
      calls.push({ path, method: options.method, startsWork: options.startsWork ?? false });
      if (path === "/api/jobs/profile-report") {
        controller.abort();  // Cancel pressed while the start request is on its way
        return { id: "job-7", statusUrl: "/api/jobs/job-7" };
      }
      return null;  // the cancel's 202
    },
  };
  const store = jobStore(memoryStorage());
  const error = await runReport(api, { store, signal: controller.signal, ...fakeTime() }).catch((e) => e);
  assert.equal(error.name, "AbortError");
  assert.equal(error.jobCancelled, true);
  assert.deepEqual(calls, [
    { path: "/api/jobs/profile-report", method: "POST", startsWork: true },
    { path: "/api/jobs/job-7/cancel", method: "POST", startsWork: false },  // no poll in between
  ]);
  assert.equal(store.load(), null);
});

test("a start that fails after a cancel is a cancel: nothing was started", async () => {
  const controller = new AbortController();
  const api = {
    async json() {
      controller.abort();
      throw new ApiProblem({ status: 503, code: "identity_unavailable", title: "u" });
    },
  };
  const error = await runReport(api, { signal: controller.signal, ...fakeTime() }).catch((e) => e);
  assert.equal(error.name, "AbortError");
  assert.equal(error.jobCancelled, undefined);
});

test("a cancel the API could not take is reported as such; an ended or unknown job counts as cancelled", async () => {
  const answering = (error) => ({ async json() { throw error; } });
  const job = { id: "job-1", statusUrl: "/api/jobs/job-1" };
  assert.equal(await cancelJob(answering(new ApiProblem({ status: 409, code: "conflict", title: "c" })), job), true);
  assert.equal(await cancelJob(answering(new ApiProblem({ status: 404, code: "not_found", title: "n" })), job), true);
  assert.equal(await cancelJob(answering(new ApiProblem({ status: 0, code: "network_error", title: "n" })), job), false);
  assert.equal(await cancelJob(answering(new ApiProblem({ status: 503, code: "identity_unavailable", title: "u" })), job), false);
  assert.equal(await cancelJob(answering(new Error("redirecting")), job), false);
  const odd = { id: "a/b?c", statusUrl: "/api/jobs/x" };
  const calls = [];
  await cancelJob({ async json(path, options) { calls.push(path); } }, odd);
  assert.deepEqual(calls, ["/api/jobs/a%2Fb%3Fc/cancel"]);
});

test("an interrupted job is kept, and resume polls it instead of starting another", async () => {
  const storage = memoryStorage();
  const store = jobStore(storage);
  const first = fakeApi([new ApiProblem({ status: 0, code: "network_error", title: "n" })]);
  await runReport(first, { store, ...fakeTime(), transientLimit: 1 }).catch(() => {});
  assert.deepEqual(store.load(), { id: "job-1", statusUrl: "/api/jobs/job-1" });
  const second = fakeApi([done]);
  assert.deepEqual(await runReport(second, { store, resume: true, ...fakeTime() }), { groups: [] });
  assert.equal(second.calls.filter((c) => c.method === "POST").length, 0);
  assert.equal(store.load(), null, "a finished job is forgotten");
});

test("a job that failed, or that is gone, is not resumed", async () => {
  const store = jobStore(memoryStorage());
  const failed = { id: "job-1", runtimeStatus: "Failed", error: { code: "graph_forbidden", title: "Refused", detail: "d" } };
  const error = await runReport(fakeApi([failed]), { store, ...fakeTime() }).catch((e) => e);
  assert.equal(error.code, "graph_forbidden");
  assert.equal(error.title, "Refused");
  assert.equal(store.load(), null);
  store.save({ id: "job-1", statusUrl: "/api/jobs/job-1" });
  const gone = new ApiProblem({ status: 404, code: "not_found", title: "n" });
  await runReport(fakeApi([gone]), { store, resume: true, ...fakeTime() }).catch(() => {});
  assert.equal(store.load(), null);
});

test("a stored job that is not a job status path is ignored", () => {
  const storage = memoryStorage();
  const store = jobStore(storage);
  for (const value of ['{"id":"x","statusUrl":"/api/get-profile"}', '{"id":"../x","statusUrl":"/api/jobs/x"}', "not json", "null"]) {
    storage.setItem("profile-app.report-job", value);
    assert.equal(store.load(), null, value);
  }
});

test("progress is the job's {completed, total}; other shapes are unknown", () => {
  assert.equal(progressPercent({ completed: 2, total: 4 }), 50);
  assert.equal(progressPercent({ completed: 9, total: 4 }), 100);
  for (const other of [40, 0.5, { percent: 75 }, { done: 1, of: 2 }, { completed: 1, total: 0 }, null]) {
    assert.equal(progressPercent(other), null, JSON.stringify(other));
  }
  assert.equal(progressText("Running", { completed: 1, total: 4, stage: "Reading groups page 2" }), "Running · 25% · Reading groups page 2");
  assert.equal(progressText("Failed", { completed: 1, total: 4, stage: "Failed" }), "Failed · 25%");
});
