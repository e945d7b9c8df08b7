/* Members (add, role, pause, remove) and API tokens (create: key shown once; revoke). */
(function () {
  "use strict";
  const { api, el, fmt } = Q;
  const cfg = Q.config("members-config");
  const P = cfg.project;
  const $ = (id) => document.getElementById(id);

  async function loadMembers() {
    const box = $("members");
    let rows = [];
    try {
      let url = `projects/${P.id}/members?page_size=500`;
      while (url) {
        const page = await api("GET", url);
        rows = rows.concat(page.results);
        url = page.next ? new URL(page.next).pathname + new URL(page.next).search : null;
      }
    } catch (err) { box.replaceChildren(el("p", { class: "error" }, err.message)); return; }
    if (!rows.length) { box.replaceChildren(el("p", { class: "empty" }, "No members yet.")); return; }
    box.replaceChildren(el("table", { class: "table", id: "member-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "Member"), el("th", {}, "Role"), el("th", {}, "Status"), el("th", {}, "Since"), el("th", {}, ""))),
      el("tbody", {}, rows.map((m) => {
        const name = m.username || `crowd worker #${m.annotator_id}`;
        const role = el("select", { "aria-label": `Role of ${name}`, style: { margin: 0, width: "auto" }, disabled: m.username ? null : true,
          onchange: (ev) => setRole(m, ev.target.value, ev.target) },
        el("option", { value: "annotator" }, "Annotator"), el("option", { value: "lead" }, "Lead"));
        role.value = m.role;
        return el("tr", { dataset: { member: m.id, username: m.username || "" } },
          el("td", {}, el("b", {}, name), m.username === cfg.me ? el("span", { class: "small muted" }, " (you)") : null),
          el("td", {}, role),
          el("td", {}, m.paused ? el("span", { class: "badge warn", title: m.paused_reason }, `Paused${m.paused_reason ? `: ${m.paused_reason}` : ""}`) : el("span", { class: "badge good" }, "Active")),
          el("td", { class: "small muted nowrap" }, new Date(m.created_at).toLocaleDateString()),
          el("td", { class: "nowrap", style: { textAlign: "right" } },
            el("button", { type: "button", class: "btn small", onclick: () => pause(m, !m.paused) }, m.paused ? "Unpause" : "Pause"), " ",
            el("button", { type: "button", class: "btn small danger", onclick: () => remove(m, name) }, "Remove")));
      }))));
  }

  async function setRole(m, role, select) {
    try { await api("PATCH", `projects/${P.id}/members/${m.id}`, { role }); Q.toast(`${m.username} is now ${role === "lead" ? "a lead" : "an annotator"}.`, "good"); }
    catch (err) { Q.toast(err.message, "bad"); select.value = m.role; }
    loadMembers();
  }
  async function pause(m, paused) {
    let reason = "";
    if (paused) {
      reason = window.prompt(`Why pause ${m.username || "this worker"}? They will see the reason.`, "");
      if (reason === null) return;
    }
    try { await api("POST", `projects/${P.id}/members/${m.id}/pause`, { paused, exclude_answers: false, reason }); }
    catch (err) { Q.toast(err.message, "bad"); }
    loadMembers();
  }
  async function remove(m, name) {
    if (!window.confirm(`Remove ${name} from this project? Their answers stay.`)) return;
    try { await api("DELETE", `projects/${P.id}/members/${m.id}`); Q.toast(`${name} removed.`, "good"); }
    catch (err) { Q.toast(err.message, "bad"); }
    loadMembers();
  }

  async function invite(ev) {
    ev.preventDefault();
    const box = $("invite-error");
    box.hidden = true;
    try {
      const m = await api("POST", `projects/${P.id}/members`, { username: $("invite-username").value.trim(), role: $("invite-role").value });
      Q.toast(`${m.username} added as ${m.role}.`, "good");
      $("invite-username").value = "";
      loadMembers();
    } catch (err) {
      box.hidden = false;
      box.textContent = err.errors.map((e) => e.message).join("; ");
    }
  }

  async function loadTokens() {
    const box = $("tokens");
    try {
      const page = await api("GET", "tokens?page_size=200");
      const rows = page.results.filter((t) => !t.revoked_at && (t.project === null || t.project === P.id));
      if (!rows.length) { box.replaceChildren(el("p", { class: "empty" }, "No tokens yet.")); return; }
      box.replaceChildren(el("table", { class: "table", id: "token-table" },
        el("thead", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "Kind"), el("th", {}, "Key"), el("th", {}, "Created"), el("th", {}, "Last used"), el("th", {}, ""))),
        el("tbody", {}, rows.map((t) => el("tr", {},
          el("td", {}, t.name || el("span", { class: "muted" }, "(unnamed)")),
          el("td", {}, el("span", { class: `badge ${t.kind === "pipeline" ? "accent" : ""}` }, t.kind === "pipeline" ? "Pipeline, read-only" : "Personal")),
          el("td", {}, el("code", {}, `${t.prefix}…`)),
          el("td", { class: "small muted nowrap" }, new Date(t.created_at).toLocaleDateString()),
          el("td", { class: "small muted nowrap" }, t.last_used_at ? new Date(t.last_used_at).toLocaleString() : "never"),
          el("td", { style: { textAlign: "right" } }, el("button", { type: "button", class: "btn small danger", onclick: () => revoke(t) }, "Revoke")))))));
    } catch (err) { box.replaceChildren(el("p", { class: "error" }, err.message)); }
  }

  async function createToken(ev) {
    ev.preventDefault();
    const kind = $("token-kind").value;
    try {
      const t = await api("POST", "tokens", { name: $("token-name").value.trim(), kind, project: kind === "pipeline" ? P.id : null });
      $("token-key").textContent = t.key;
      $("token-new").hidden = false;
      $("token-name").value = "";
      loadTokens();
    } catch (err) { Q.toast(err.message, "bad"); }
  }
  async function revoke(t) {
    if (!window.confirm(`Revoke ${t.prefix}…? Anything using it stops working.`)) return;
    try { await api("DELETE", `tokens/${t.id}`); } catch (err) { Q.toast(err.message, "bad"); }
    loadTokens();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("invite-form").addEventListener("submit", invite);
    $("token-form").addEventListener("submit", createToken);
    $("token-copy").addEventListener("click", async () => {
      try { await navigator.clipboard.writeText($("token-key").textContent); Q.toast("Copied.", "good"); }
      catch (_) { const r = document.createRange(); r.selectNodeContents($("token-key")); getSelection().removeAllRanges(); getSelection().addRange(r); }
    });
    loadMembers();
    loadTokens();
  });
})();
