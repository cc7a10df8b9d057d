// Renders the profile report job: its progress and its result (manager chain, direct reports, groups).
// The result is read defensively: missing parts render as "none" rather than breaking the page.
import { append, clear, el } from "../dom.js";

/** Percentage 0-100 from the forms a progress value can take, or null when unknown. */
export function progressPercent(progress) {
  if (progress === null || progress === undefined) return null;
  if (typeof progress === "number") return clamp(progress <= 1 && progress > 0 && !Number.isInteger(progress) ? progress * 100 : progress);
  if (typeof progress === "object") {
    for (const key of ["percent", "percentage", "pct"]) {
      if (typeof progress[key] === "number") return clamp(progress[key]);
    }
    const done = firstNumber(progress, ["completed", "done", "step", "current"]);
    const total = firstNumber(progress, ["total", "steps", "of"]);
    if (done !== null && total) return clamp((done / total) * 100);
  }
  return null;
}

export function progressLabel(progress) {
  if (progress && typeof progress === "object") {
    for (const key of ["message", "stage", "status", "phase", "label"]) {
      if (typeof progress[key] === "string" && progress[key]) return progress[key];
    }
  }
  return "";
}

export function setProgress(bar, label, status, progress) {
  const percent = progressPercent(progress);
  bar.hidden = false;
  if (percent === null) {
    bar.removeAttribute("value"); // indeterminate
  } else {
    bar.max = 100;
    bar.value = percent;
  }
  let stage = progressLabel(progress);
  if (stage && status && stage.toLowerCase() === status.toLowerCase()) stage = "";
  label.textContent = [status, percent === null ? "" : `${Math.round(percent)}%`, stage].filter(Boolean).join(" · ");
}

export function renderReport(container, result) {
  const data = result && typeof result === "object" ? result : {};
  const managers = asArray(pick(data, ["managerChain", "manager_chain", "managers"]));
  const reports = asArray(pick(data, ["directReports", "direct_reports", "reports"]));
  const groupsValue = pick(data, ["groups", "memberOf", "memberships"]);
  const groups = asArray(groupsValue && !Array.isArray(groupsValue) && typeof groupsValue === "object" ? pick(groupsValue, ["items", "value", "list"]) : groupsValue);
  let groupCount = pick(data, ["groupCount", "groupsCount", "group_count"]);
  if (typeof groupCount !== "number" && groupsValue && typeof groupsValue === "object" && typeof groupsValue.count === "number") {
    groupCount = groupsValue.count;
  }
  if (typeof groupCount !== "number") groupCount = groups.length;
  const generatedAt = pick(data, ["generatedAt", "generated_at", "completedAt"]);

  append(clear(container),
    el("h3", { text: "Report" }),
    generatedAt ? el("p", { class: "muted", text: `Generated ${formatDate(generatedAt)}` }) : null,
    section("Manager chain", managers, "No manager on record.", "ol"),
    section("Direct reports", reports, "No direct reports."),
    section(`Groups (${groupCount})`, groups, groupCount ? "" : "Not a member of any group."),
  );
  container.hidden = false;
}

// Long lists (people in many groups) show the first few and fold the rest into a disclosure.
const VISIBLE_ITEMS = 10;

function section(title, items, emptyText, listTag = "ul") {
  const list = (slice) => el(listTag, { class: "people" }, slice.map((item) => el("li", {}, personLine(item))));
  let body = emptyText ? el("p", { class: "muted", text: emptyText }) : null;
  if (items.length > VISIBLE_ITEMS + 2) {
    const rest = items.slice(VISIBLE_ITEMS);
    const more = list(rest);
    if (listTag === "ol") more.setAttribute("start", String(VISIBLE_ITEMS + 1));
    body = [list(items.slice(0, VISIBLE_ITEMS)),
      el("details", { class: "more" }, el("summary", { text: `Show ${rest.length} more` }), more)];
  } else if (items.length) {
    body = list(items);
  }
  return el("section", { class: "report-part" }, el("h4", { text: title }), body);
}

function personLine(item) {
  if (typeof item !== "object" || item === null) return String(item);
  const name = item.displayName || item.name || item.userPrincipalName || item.mail || item.id || "(unnamed)";
  const extra = [item.jobTitle, item.userPrincipalName && item.userPrincipalName !== name ? item.userPrincipalName : null]
    .filter(Boolean).join(" · ");
  return [el("span", { class: "name", text: name }), extra ? el("span", { class: "muted", text: ` — ${extra}` }) : null];
}

function pick(object, keys) {
  for (const key of keys) if (object && object[key] !== undefined) return object[key];
  return undefined;
}

function asArray(value) {
  return Array.isArray(value) ? value : value ? [value] : [];
}

function firstNumber(object, keys) {
  for (const key of keys) if (typeof object[key] === "number") return object[key];
  return null;
}

function clamp(n) {
  return Math.max(0, Math.min(100, n));
}

function formatDate(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}
