// The page's action table and which error an action may clear.
import assert from "node:assert/strict";
import { test } from "node:test";

import { Actions } from "../../static_frontend/js/actions.js";

const table = () => new Actions({ profile: async () => "p", report: async () => "r" });

test("only the table's own names are actions", () => {
  const actions = table();
  assert.equal(actions.has("profile"), true);
  for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "", null, undefined, 1]) {
    assert.equal(actions.has(name), false, String(name));
    assert.equal(actions.handler(name), null, String(name));
  }
});

test("an action cannot start twice while it runs; others can", () => {
  const actions = table();
  assert.equal(actions.begin("report"), true);
  assert.equal(actions.begin("report"), false);
  assert.equal(actions.begin("profile"), true);
  actions.end("report");
  assert.equal(actions.isRunning("report"), false);
  assert.equal(actions.begin("report"), true);
});

test("starting an action clears its own error or the page's, never another action's", () => {
  const actions = table();
  assert.equal(actions.clearsError("profile"), false, "nothing shown");
  actions.errorShown("report");
  assert.equal(actions.clearsError("profile"), false);
  assert.equal(actions.clearsError("report"), true);
  actions.errorShown("");
  assert.equal(actions.clearsError("profile"), true);
  actions.errorCleared();
  assert.equal(actions.clearsError(""), false);
});
