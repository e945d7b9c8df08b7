/* Create / edit a project. The API validates (and says which field is wrong); the planner asks
 * /api/v1/plan what the rule being typed costs and delivers. Nothing is decided here. */
(function () {
  "use strict";
  const { api, el, fmt } = Q;
  const cfg = Q.config("form-config");
  const form = document.getElementById("project-form");
  const $ = (id) => document.getElementById(id);
  const field = (name) => form.elements[name];

  const NUMBERS = ["scale_min", "scale_max", "agree_k", "min_answers", "max_answers", "escalate_after", "escalate_k",
    "confidence_target", "gold_rate", "lease_seconds", "pause_below_accuracy", "pause_min_gold"];
  const SCHEMA_FIELDS = ["schema_kind", "choices", "scale_min", "scale_max"];

  function radio(name) { const c = form.querySelector(`input[name="${name}"]:checked`); return c ? c.value : null; }
  function num(name) {
    const raw = field(name).value.trim();
    if (raw === "") return null;
    const v = Number(raw);
    return Number.isFinite(v) ? v : raw;
  }

  function fill(p) {
    field("name").value = p.name || "";
    field("instructions").value = p.instructions || "";
    for (const name of ["schema_kind", "rule_kind"]) {
      const input = form.querySelector(`input[name="${name}"][value="${p[name]}"]`);
      if (input) input.checked = true;
    }
    field("choices").value = (p.choices || []).join("\n");
    for (const box of form.querySelectorAll('input[name="text_normalization"]')) box.checked = (p.text_normalization || []).includes(box.value);
    for (const name of NUMBERS) field(name).value = p[name] === null || p[name] === undefined ? "" : p[name];
    for (const name of ["consensus_method", "task_order", "workforce"]) if (p[name]) field(name).value = p[name];
    if (cfg.schema_frozen) {
      for (const name of SCHEMA_FIELDS) form.querySelectorAll(`[name="${name}"]`).forEach((n) => { n.disabled = true; });
    }
  }

  function payload() {
    const kind = radio("schema_kind");
    const rule = radio("rule_kind");
    const out = {
      name: field("name").value.trim(),
      instructions: field("instructions").value,
      schema_kind: kind,
      choices: kind === "single" || kind === "multi" ? field("choices").value.split("\n").map((s) => s.trim()).filter(Boolean) : [],
      scale_min: kind === "rating" ? num("scale_min") : null,
      scale_max: kind === "rating" ? num("scale_max") : null,
      text_normalization: kind === "text" ? [...form.querySelectorAll('input[name="text_normalization"]:checked')].map((b) => b.value) : [],
      rule_kind: rule,
      agree_k: num("agree_k"),
      min_answers: num("min_answers"),
      max_answers: num("max_answers"),
      escalate_after: rule === "escalate" ? num("escalate_after") : null,
      escalate_k: rule === "escalate" ? num("escalate_k") : null,
      confidence_target: rule === "confidence" ? num("confidence_target") : null,
      consensus_method: field("consensus_method").value,
      gold_rate: num("gold_rate"),
      task_order: field("task_order").value,
      lease_seconds: num("lease_seconds"),
      workforce: field("workforce").value,
      pause_below_accuracy: num("pause_below_accuracy"),
      pause_min_gold: num("pause_min_gold"),
    };
    if (out.agree_k === null) delete out.agree_k;
    if (cfg.schema_frozen) for (const name of SCHEMA_FIELDS) delete out[name];
    return out;
  }

  function toggleSections() {
    const kind = radio("schema_kind"), rule = radio("rule_kind");
    for (const node of form.querySelectorAll("[data-kinds]")) node.hidden = !node.dataset.kinds.split(" ").includes(kind);
    for (const node of form.querySelectorAll("[data-rules]")) node.hidden = !node.dataset.rules.split(" ").includes(rule);
  }

  /* --- planner --------------------------------------------------------------------------- */
  // The planner's query strings: the rule in the syntax /api/v1/plan reads, the label count.
  function ruleString(p) {
    const k = p.agree_k, n = p.max_answers;
    if (p.rule_kind === "escalate") return `escalate:${k}/${p.escalate_after}->${p.escalate_k}/${n}`;
    if (p.rule_kind === "confidence") return `confidence:${p.confidence_target}/${n}`;
    return p.min_answers === n ? `${k}/${n}` : `adaptive:${k}/${n}`;
  }
  function classes(p) {
    if (p.schema_kind === "single") return p.choices.length;
    if (p.schema_kind === "multi") return p.choices.length > 12 ? "open" : Math.pow(2, p.choices.length);
    if (p.schema_kind === "rating") return p.scale_max !== null && p.scale_min !== null ? p.scale_max - p.scale_min + 1 : null;
    return "open";
  }

  let planSeq = 0, planTimer = null;
  function schedulePlan() { clearTimeout(planTimer); planTimer = setTimeout(plan, 120); }
  async function plan() {
    const p = Object.assign({}, cfg.project, payload());
    if (cfg.schema_frozen) Object.assign(p, { schema_kind: cfg.project.schema_kind, choices: cfg.project.choices, scale_min: cfg.project.scale_min, scale_max: cfg.project.scale_max });
    const rule = ruleString(p), k = classes(p);
    const acc = $("plan-accuracy").value;
    $("plan-rule").textContent = rule;
    $("plan-classes").textContent = k === "open"
      ? "Free answers: two wrong answers never count as the same."
      : `${k} possible answers; a wrong answer is any of the other ${Number(k) - 1}.`;
    const errorBox = $("plan-error");
    if (k !== "open" && (!k || k < 2)) {
      errorBox.hidden = false; errorBox.textContent = "Add at least two choices to plan the rule.";
      return;
    }
    const seq = ++planSeq;
    const q = new URLSearchParams({ accuracy: acc, classes: String(k), rule });
    try {
      const r = await api("GET", `plan?${q}`);
      if (seq !== planSeq) return;
      errorBox.hidden = true;
      $("plan-correct").textContent = fmt.pct(r.p_correct_given_accept, 1);
      $("plan-answers").textContent = fmt.num(r.expected_answers, 2);
      $("plan-accept").textContent = fmt.pct(r.p_accept, 1);
      $("plan-review").textContent = fmt.pct(1 - r.p_accept, 1);
      if (Array.isArray(r.answers_pmf)) {
        const data = r.answers_pmf.map((v, n) => ({ label: String(n), value: v, title: `${fmt.pct(v, 1)} of items stop after ${n} answers` }))
          .filter((d, n) => n > 0);
        Q.charts.bars($("plan-pmf"), data, { width: 300, height: 110, yFormat: (v) => fmt.pct(v), title: "answers per item" });
      }
      $("planner").classList.remove("stale");
    } catch (err) {
      if (seq !== planSeq) return;
      for (const id of ["plan-correct", "plan-answers", "plan-accept", "plan-review"]) $(id).textContent = "–";
      $("plan-pmf").replaceChildren();
      errorBox.hidden = false;
      errorBox.textContent = err.message;
    }
  }

  /* --- save ------------------------------------------------------------------------------ */
  function clearErrors() {
    form.querySelectorAll(".field-error").forEach((n) => n.remove());
    form.querySelectorAll(".has-error").forEach((n) => n.classList.remove("has-error"));
    $("form-errors").hidden = true;
  }
  function showErrors(errors) {
    const loose = [];
    for (const e of errors) {
      const name = (e.field || "").split(".")[0];
      const box = name && form.querySelector(`[data-field="${name}"]`);
      if (box && !box.closest("[hidden]")) {
        box.classList.add("has-error");
        box.appendChild(el("div", { class: "field-error" }, e.message));
      } else loose.push(e);
    }
    if (loose.length) {
      const box = $("form-errors");
      box.hidden = false;
      box.replaceChildren(el("b", {}, "Please fix: "), Q.errorList(loose));
    }
    const first = form.querySelector(".has-error input, .has-error textarea, .has-error select, #form-errors:not([hidden])");
    if (first) first.scrollIntoView({ block: "center" });
  }

  async function save(ev) {
    ev.preventDefault();
    clearErrors();
    const btn = $("save-btn");
    btn.disabled = true;
    try {
      if (cfg.creating) {
        const p = await api("POST", "projects", payload());
        window.location.href = `/projects/${p.id}/import?created=1`;
        return;
      }
      const p = await api("PATCH", `projects/${cfg.project.id}`, payload());
      cfg.project = p;
      $("saved-note").textContent = "Saved.";
      Q.toast("Settings saved.", "good");
    } catch (err) {
      showErrors(err.errors);
    } finally {
      btn.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    fill(cfg.project);
    toggleSections();
    form.addEventListener("input", () => { toggleSections(); schedulePlan(); if (!cfg.creating) $("saved-note").textContent = ""; });
    form.addEventListener("change", () => { toggleSections(); schedulePlan(); });
    form.addEventListener("submit", save);
    plan();
  });
})();
