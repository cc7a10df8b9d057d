// Renders the profile report job: its progress and its result (manager chain, direct reports, groups),
// in the shape the orchestrator returns (function_app/report/orchestrator.py): {generatedAt, user,
// managerChain, directReports, groups, groupCount}. Missing parts render as "none".
//
// Long lists stay cheap: the first few items are rendered, the rest only when their disclosure is opened,
// and never more than MAX_ITEMS per list (a "first N of M" line says so). A person in 50,000 groups gets
// a page with a few dozen elements, not 50,000.
import { append, clear, el, untrusted } from "../dom.js";
import { progressPercent, progressText } from "../report-job.js";

export const VISIBLE_ITEMS = 10;
export const MAX_ITEMS = 1000;

export function setProgress(bar, label, status, progress) {
  const percent = progressPercent(progress);
  bar.hidden = false;
  if (percent === null) {
    bar.removeAttribute("value"); // indeterminate
  } else {
    bar.max = 100;
    bar.value = percent;
  }
  label.textContent = progressText(status, progress);
}

export function renderReport(container, result) {
  const data = result && typeof result === "object" ? result : {};
  const groups = asArray(data.groups);
  const groupCount = Number.isInteger(data.groupCount) ? data.groupCount : groups.length;
  append(clear(container),
    el("h3", { text: "Report" }),
    data.generatedAt ? el("p", { class: "muted", text: `Generated ${formatDate(data.generatedAt)}` }) : null,
    section("Manager chain", asArray(data.managerChain), "No manager on record.", "ol"),
    section("Direct reports", asArray(data.directReports), "No direct reports."),
    section(`Groups (${groupCount.toLocaleString()})`, groups, groupCount ? "" : "Not a member of any group."),
  );
  container.hidden = false;
}

function section(title, items, emptyText, listTag = "ul") {
  let body = emptyText ? el("p", { class: "muted", text: emptyText }) : null;
  if (items.length > VISIBLE_ITEMS + 2) {
    const shown = Math.min(items.length, MAX_ITEMS);
    body = [
      list(listTag, items, 0, VISIBLE_ITEMS),
      folded(listTag, items, VISIBLE_ITEMS, shown),
      shown < items.length
        ? el("p", { class: "muted cap", text: `Showing the first ${shown.toLocaleString()} of ${items.length.toLocaleString()}.` })
        : null,
    ];
  } else if (items.length) {
    body = list(listTag, items, 0, items.length);
  }
  return el("section", { class: "report-part" }, el("h4", { text: title }), body);
}

function list(listTag, items, from, to) {
  const node = el(listTag, { class: "people" });
  if (listTag === "ol" && from > 0) node.setAttribute("start", String(from + 1));
  for (let index = from; index < to; index += 1) node.append(el("li", {}, personLine(items[index])));
  return node;
}

/** A disclosure whose items are built the first time it opens. */
function folded(listTag, items, from, to) {
  const details = el("details", { class: "more" }, el("summary", { text: `Show ${(to - from).toLocaleString()} more` }));
  details.addEventListener("toggle", () => {
    if (!details.open || details.dataset.rendered) return;
    details.dataset.rendered = "true";
    details.append(list(listTag, items, from, to));
  });
  return details;
}

function personLine(item) {
  if (typeof item !== "object" || item === null) return untrusted(item);
  const name = item.displayName || item.userPrincipalName || item.mail || item.id || "(unnamed)";
  const extra = [item.jobTitle, item.userPrincipalName && item.userPrincipalName !== name ? item.userPrincipalName : null]
    .filter(Boolean);
  return [
    el("span", { class: "name" }, untrusted(name)),
    extra.length ? el("span", { class: "muted" }, " — ", extra.map((part, i) => [i ? " · " : "", untrusted(part)])) : null,
  ];
}

function asArray(value) {
  return Array.isArray(value) ? value : [];
}

function formatDate(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}
