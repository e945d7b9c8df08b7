/* Lead dashboard: /api/v1/projects/{id}/progress drawn as it is served. */
(function () {
  "use strict";
  const { api, el, fmt } = Q;
  const cfg = Q.config("dashboard-config");
  const P = cfg.project;
  const $ = (id) => document.getElementById(id);
  const stat = (name, text) => { const n = document.querySelector(`[data-stat="${name}"]`); if (n) n.textContent = text; };

  function render(report) {
    const items = report.items;
    const total = Object.values(items).reduce((a, b) => a + b, 0);
    const decided = (items.accepted || 0) + (items.reviewed || 0);
    const answers = report.answers_per_day.reduce((a, d) => a + d.answers, 0);
    stat("items", fmt.int(total));
    stat("items_sub", `${fmt.int(items.open || 0)} open · ${fmt.int(items.in_progress || 0)} in progress`);
    stat("decided", fmt.int(decided));
    stat("decided_sub", total ? `${fmt.pct(decided / total)} of items · ${fmt.int(items.reviewed || 0)} by review` : "no items yet");
    stat("answers", fmt.int(answers));
    const today = report.answers_per_day.length ? report.answers_per_day[report.answers_per_day.length - 1] : null;
    const isToday = today && today.day === new Date().toISOString().slice(0, 10);
    stat("answers_sub", `last 30 days${today ? ` · ${fmt.int(today.answers)} ${isToday ? "today" : `on ${today.day}`}` : ""}`);
    if (report.cost) {
      stat("cost_label", "Cost so far");
      stat("cost", fmt.money(report.cost.spent, report.cost.currency));
      stat("cost_sub", report.cost.per_item !== undefined ? `${fmt.money(report.cost.per_item, report.cost.currency)} per decided item` : "paid workforce");
    } else {
      stat("cost", fmt.int(items.no_consensus || 0));
      stat("cost_sub", items.no_consensus ? "no consensus: a lead decides" : "nothing disputed");
    }
    Q.charts.statusBar($("status-bar"), items);
    Q.charts.bars($("per-day"), fillDays(report.answers_per_day), { height: 230, title: "answers per day", empty: "No answers in the last 30 days." });
    renderThroughput(report.throughput);
  }

  // Days without answers are drawn as empty bars, so the axis is time.
  function fillDays(rows) {
    if (!rows.length) return [];
    const byDay = new Map(rows.map((r) => [r.day, r.answers]));
    const out = [];
    const start = new Date(`${rows[0].day}T00:00:00Z`), end = new Date(`${rows[rows.length - 1].day}T00:00:00Z`);
    const from = new Date(Math.min(start, end - 13 * 86400000));
    for (let d = from; d <= end; d = new Date(d.getTime() + 86400000)) {
      const day = d.toISOString().slice(0, 10);
      out.push({ label: day, short: day.slice(5), value: byDay.get(day) || 0 });
    }
    return out;
  }

  function renderThroughput(rows) {
    const box = $("throughput");
    if (!rows.length) { box.replaceChildren(el("p", { class: "empty" }, "No answers yet.")); return; }
    const max = Math.max(...rows.map((r) => r.answers));
    box.replaceChildren(el("table", { class: "table" },
      el("thead", {}, el("tr", {}, el("th", {}, "Annotator"), el("th", { class: "num" }, "Answers"), el("th", {}, ""),
        el("th", { class: "num" }, "Per hour"), el("th", { class: "num" }, "Median time"))),
      el("tbody", {}, rows.slice().sort((a, b) => b.answers - a.answers).slice(0, 12).map((r) => el("tr", {},
        el("td", { class: "clip", style: { maxWidth: "180px" } }, r.annotator),
        el("td", { class: "num" }, fmt.int(r.answers)),
        el("td", { style: { width: "30%" } }, el("div", { class: "bar" }, el("span", { style: { width: `${(100 * r.answers) / max}%` } }))),
        el("td", { class: "num" }, r.answers_per_hour === null ? "–" : fmt.num(r.answers_per_hour, 1)),
        el("td", { class: "num" }, fmt.secs(r.median_seconds)))))));
  }

  async function load() {
    try { render(await api("GET", `projects/${P.id}/progress`)); } catch (err) { Q.toast(`Cannot load progress: ${err.message}`, "bad"); }
  }

  async function reaggregate() {
    const btn = $("reaggregate-btn");
    btn.disabled = true;
    const box = $("job-box");
    box.hidden = false;
    try {
      const job = await api("POST", `projects/${P.id}/aggregate`);
      const done = await Q.pollJob(job.id, box, { title: `Re-aggregating every item (job #${job.id})` });
      const msg = done.status === "succeeded"
        ? el("div", { class: "alert good", style: { marginTop: "10px" } }, "Done: every decision was recomputed from the stored answers. ", fmt.result(done.result))
        : el("div", { class: "alert bad", style: { marginTop: "10px" } }, `Failed: ${done.error || "no reason given"}`);
      box.appendChild(msg);
      load();
    } catch (err) {
      box.replaceChildren(el("div", { class: "alert bad" }, `Cannot start: ${err.message}`));
    } finally {
      btn.disabled = false;
    }
  }
  document.addEventListener("DOMContentLoaded", () => {
    $("reaggregate-btn").addEventListener("click", reaggregate);
    load();
  });
})();
