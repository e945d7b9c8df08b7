/* Agreement: /api/v1/projects/{id}/agreement drawn as it is served; pause and unpause through
 * /members/{id}/pause; re-aggregation as a job with its progress. */
(function () {
  "use strict";
  const { api, el, fmt } = Q;
  const cfg = Q.config("agreement-config");
  const P = cfg.project;
  const $ = (id) => document.getElementById(id);
  let pauseTarget = null;

  function quality(x) {
    if (x === null || x === undefined) return "";
    return x >= 0.8 ? "good" : x >= 0.667 ? "" : x >= 0.4 ? "warn" : "bad";
  }

  function render(r) {
    $("alpha").textContent = fmt.num(r.alpha, 3);
    // Krippendorff's own reading: >= 0.8 reliable, 0.667-0.8 tentative conclusions only.
    $("alpha").className = `value ${r.alpha === null ? "" : r.alpha >= 0.8 ? "good" : r.alpha >= 0.667 ? "warn" : "error"}`;
    $("alpha-ci").textContent = r.alpha_ci ? `95% CI ${fmt.num(r.alpha_ci[0], 3)} – ${fmt.num(r.alpha_ci[1], 3)}` : (r.alpha_note || "needs two annotators on an item");
    $("kappa").textContent = fmt.num(r.fleiss_kappa, 3);
    $("kappa-sub").textContent = r.fleiss_kappa === null ? "needs items with two answers" : r.fleiss_kappa >= 0.8 ? "almost perfect" : r.fleiss_kappa >= 0.6 ? "substantial" : r.fleiss_kappa >= 0.4 ? "moderate" : r.fleiss_kappa >= 0.2 ? "fair" : "slight";
    $("n-items").textContent = fmt.int(r.items);
    $("n-answers").textContent = `${fmt.int(r.answers)} answers · ${r.level}`;
    const people = r.annotators || [];
    $("n-annotators").textContent = fmt.int(people.filter((a) => a.answers > 0).length);
    const paused = people.filter((a) => a.paused).length;
    $("n-paused").textContent = paused ? `${paused} paused` : "none paused";

    Q.charts.histogram($("histogram"), r.histogram);
    const conf = r.confusion || { labels: [], matrix: [] };
    Q.charts.heatmap($("confusion"), conf.labels, conf.labels, conf.matrix, {
      format: (v) => fmt.int(v), hue: 243, cell: conf.labels.length > 8 ? 30 : conf.labels.length > 4 ? 44 : 56, title: "label confusion",
      empty: "Needs items with two or more answers.",
    });
    const pw = r.pairwise || { annotators: [], matrix: [] };
    Q.charts.heatmap($("pairwise"), pw.annotators, pw.annotators, pw.matrix, {
      min: 0, max: 1, format: (v) => fmt.num(v, 2), hue: 160, cell: pw.annotators.length > 14 ? 30 : 44, title: "pairwise agreement", numbered: true,
      empty: "Needs two annotators who answered the same items.",
    });
    renderTable(people);
  }

  function renderTable(rows) {
    const box = $("annotators");
    if (!rows.length) { box.replaceChildren(el("p", { class: "empty" }, "No annotators yet.")); return; }
    box.replaceChildren(el("table", { class: "table", id: "annotator-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "Annotator"), el("th", { class: "num" }, "Answers"),
        el("th", { class: "num" }, "Gold accuracy"), el("th", {}, "95% interval"), el("th", { class: "num", title: "Share of their answers that match the consensus" }, "Agreement"),
        el("th", { class: "num", title: "Accuracy estimated by the aggregation model" }, "Est. accuracy"), el("th", { class: "num" }, "Median"), el("th", {}, "Status"), el("th", {}, ""))),
      el("tbody", {}, rows.map((a) => el("tr", { dataset: { annotator: a.name } },
        el("td", { class: "clip", style: { maxWidth: "220px" } }, a.name, a.role === "lead" ? el("span", { class: "badge accent", style: { marginLeft: "6px" } }, "lead") : null),
        el("td", { class: "num" }, fmt.int(a.answers)),
        el("td", { class: "num" }, a.gold_accuracy === null ? el("span", { class: "muted" }, "–") : el("span", { class: `badge ${quality(a.gold_accuracy)}` }, fmt.pct(a.gold_accuracy)),
          a.gold_answers ? el("span", { class: "small muted" }, ` of ${a.gold_answers}`) : null),
        el("td", {}, a.gold_ci ? ciBar(a.gold_ci, a.gold_accuracy) : el("span", { class: "muted small" }, "–")),
        el("td", { class: "num" }, fmt.pct(a.agreement_with_consensus)),
        el("td", { class: "num" }, fmt.pct(a.estimated_accuracy)),
        el("td", { class: "num" }, fmt.secs(a.median_seconds)),
        el("td", {}, a.paused ? el("span", { class: "badge warn", title: a.paused_reason || "" }, "Paused") : el("span", { class: "badge good" }, "Active")),
        el("td", { class: "nowrap" }, a.member_id ? el("button", {
          type: "button", class: "btn small", dataset: { member: a.member_id },
          onclick: () => (a.paused ? setPaused(a, false, false, "") : openPause(a)),
        }, a.paused ? "Unpause" : "Pause") : el("span", { class: "small muted", title: "Crowd workers are managed on their platform" }, "crowd")))))));
  }

  function ciBar(ci, point) {
    const [lo, hi] = ci;
    const svg = el("svg:svg", { viewBox: "0 0 120 14", width: 120, height: 14, role: "img", "aria-label": `${fmt.pct(lo)} to ${fmt.pct(hi)}` },
      el("svg:rect", { x: 0, y: 6, width: 120, height: 2, rx: 1, fill: "#e5e7eb" }),
      el("svg:rect", { x: 120 * lo, y: 3, width: Math.max(2, 120 * (hi - lo)), height: 8, rx: 3, fill: "#c7cbfb" }),
      point !== null ? el("svg:circle", { cx: 120 * point, cy: 7, r: 3.5, fill: "#4f46e5" }) : null,
      el("svg:title", {}, `${fmt.pct(lo)} – ${fmt.pct(hi)}`));
    return el("span", { class: "nowrap", style: { display: "inline-flex", alignItems: "center", gap: "8px" } }, svg,
      el("span", { class: "small muted num" }, `${fmt.pct(lo)}–${fmt.pct(hi)}`));
  }

  function openPause(a) {
    pauseTarget = a;
    $("pause-who").textContent = `${a.name} gets no new items in this project until a lead unpauses them.`;
    $("pause-reason").value = a.gold_accuracy !== null ? `gold accuracy ${fmt.pct(a.gold_accuracy)}` : "";
    $("pause-exclude").checked = false;
    $("pause-dialog").hidden = false;
    $("pause-reason").focus();
  }

  async function setPaused(a, paused, exclude, reason) {
    try {
      await api("POST", `projects/${P.id}/members/${a.member_id}/pause`, { paused, exclude_answers: exclude, reason });
      Q.toast(`${a.name} is ${paused ? "paused" : "active again"}.`, "good");
      load();
    } catch (err) {
      Q.toast(`Cannot ${paused ? "pause" : "unpause"} ${a.name}: ${err.message}`, "bad");
    }
  }

  async function load() {
    try { render(await api("GET", `projects/${P.id}/agreement?level=${$("level").value}`)); } catch (err) { Q.toast(`Cannot load agreement: ${err.message}`, "bad"); }
  }

  async function reaggregate() {
    const btn = $("reaggregate-btn");
    btn.disabled = true;
    const box = $("job-box");
    box.hidden = false;
    try {
      const job = await api("POST", `projects/${P.id}/aggregate`);
      const done = await Q.pollJob(job.id, box, { title: `Re-aggregating every item (job #${job.id})` });
      box.appendChild(done.status === "succeeded"
        ? el("div", { class: "alert good", style: { marginTop: "10px" } }, "Done: every decision was recomputed from the stored answers. ", fmt.result(done.result))
        : el("div", { class: "alert bad", style: { marginTop: "10px" } }, `Failed: ${done.error || "no reason given"}`));
      load();
    } catch (err) {
      box.replaceChildren(el("div", { class: "alert bad" }, `Cannot start: ${err.message}`));
    } finally { btn.disabled = false; }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("level").addEventListener("change", load);
    $("reaggregate-btn").addEventListener("click", reaggregate);
    $("pause-cancel").addEventListener("click", () => { $("pause-dialog").hidden = true; });
    $("pause-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      $("pause-dialog").hidden = true;
      if (pauseTarget) setPaused(pauseTarget, true, $("pause-exclude").checked, $("pause-reason").value.trim());
    });
    document.addEventListener("keydown", (ev) => { if (ev.key === "Escape") $("pause-dialog").hidden = true; });
    load();
  });
})();
