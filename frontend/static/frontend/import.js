/* Import items: upload with a progress bar; the API's answer is shown as it comes: the items
 * created, every bad line, or (for big files) the import job's progress and result. */
(function () {
  "use strict";
  const { api, el, fmt } = Q;
  const cfg = Q.config("import-config");
  const P = cfg.project;
  const $ = (id) => document.getElementById(id);

  function showResult(kind, title, errors) {
    const box = $("import-result");
    box.replaceChildren(el("div", { class: `alert ${kind}`, role: kind === "bad" ? "alert" : "status" },
      el("b", {}, title), errors && errors.length ? errorsTable(errors) : null));
  }

  function errorsTable(errors) {
    return el("div", { class: "table-wrap", style: { marginTop: "8px", maxHeight: "320px", overflowY: "auto" } },
      el("table", { class: "table import-errors" },
        el("thead", {}, el("tr", {}, el("th", {}, "Line"), el("th", {}, "Field"), el("th", {}, "Problem"))),
        el("tbody", {}, errors.map((e) => el("tr", { dataset: { line: e.line || "" } },
          el("td", { class: "num" }, e.line ? String(e.line) : "–"), el("td", {}, e.field || ""), el("td", {}, e.message))))));
  }

  async function refreshCount() {
    try {
      const stats = await api("GET", `projects/${P.id}/stats`);
      $("item-count").textContent = fmt.int(Object.values(stats.items).reduce((a, b) => a + b, 0));
    } catch (_) { /* keep the old number */ }
  }

  async function loadJobs() {
    const box = $("jobs");
    try {
      const page = await api("GET", `jobs?project=${P.id}&kind=import`);
      const jobs = page.results || [];
      if (!jobs.length) { box.replaceChildren(el("p", { class: "small muted" }, "No background imports yet.")); return; }
      box.replaceChildren(el("table", { class: "table" },
        el("thead", {}, el("tr", {}, el("th", {}, "Job"), el("th", {}, "Status"), el("th", {}, "Result"), el("th", {}, "Started"))),
        el("tbody", {}, jobs.slice(0, 8).map((j) => el("tr", {},
          el("td", {}, `#${j.id}`),
          el("td", {}, el("span", { class: `badge ${j.status === "succeeded" ? "good" : j.status === "failed" ? "bad" : "warn"}` }, j.status)),
          el("td", { class: "clip" }, j.status === "failed" ? j.error : j.result ? `${fmt.int(j.result.created)} items` : j.progress !== null ? fmt.pct(j.progress) : ""),
          el("td", { class: "small muted nowrap" }, j.created_at ? new Date(j.created_at).toLocaleString() : ""))))));
    } catch (err) {
      box.replaceChildren(el("p", { class: "small error" }, err.message));
    }
  }

  async function submit(ev) {
    ev.preventDefault();
    const file = $("import-file").files[0];
    if (!file) { showResult("bad", "Choose a file first."); return; }
    const data = new FormData();
    data.append("file", file);
    if ($("import-format").value) data.append("format", $("import-format").value);
    data.append("run_as_job", $("import-job").checked ? "true" : "false");
    data.append("allow_formulas", $("import-formulas").checked ? "true" : "false");
    $("import-result").replaceChildren();
    $("import-job-box").replaceChildren();
    $("import-progress").hidden = false;
    $("upload-label").textContent = `Uploading ${file.name} (${fmt.int(Math.ceil(file.size / 1024))} KB)…`;
    $("upload-bar").style.width = "0%";
    $("import-btn").disabled = true;
    try {
      const res = await Q.upload(`projects/${P.id}/items/import`, data, (p) => {
        $("upload-bar").style.width = `${Math.round(p * 100)}%`;
        if (p >= 1) $("upload-label").textContent = `Checking ${file.name}…`;
      });
      if (res.status === 202) {
        const job = await Q.pollJob(res.data.id, $("import-job-box"), { title: `Importing ${file.name} (job #${res.data.id})` });
        if (job.status === "succeeded") showResult("good", `Imported ${fmt.int(job.result.created)} items (${fmt.int(job.result.gold)} gold).`);
        else showResult("bad", `The import failed: nothing was stored. ${job.result && job.result.errors ? "" : job.error}`, job.result && job.result.errors);
        loadJobs();
      } else {
        showResult("good", `Imported ${fmt.int(res.data.created)} items (${fmt.int(res.data.gold)} gold).`);
      }
      refreshCount();
    } catch (err) {
      const lines = err.errors.filter((e) => e.line).length;
      showResult("bad", lines ? `Nothing was imported: ${lines === 1 ? "1 line needs" : `${lines} lines need`} fixing.` : `Nothing was imported: ${err.message}`,
        lines ? err.errors : null);
    } finally {
      $("upload-bar").style.width = "100%";
      $("upload-label").textContent = `Checked ${file.name}.`;
      $("import-btn").disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("import-form").addEventListener("submit", submit);
    loadJobs();
  });
})();
