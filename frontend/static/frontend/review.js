/* Review queue: disputed items with every answer side by side; one key or click resolves one
 * through POST /items/{id}/review. The options offered are the project's labels (or, for text
 * and multi-choice, the distinct answers given); the API checks the label. */
(function () {
  "use strict";
  const { api, el, fmt } = Q;
  const cfg = Q.config("review-config");
  const P = cfg.project;
  const $ = (id) => document.getElementById(id);
  let cards = [], active = -1, next = null, count = 0;

  function options(entry) {
    const votes = entry.votes || {};
    const n = (key) => votes[key] || 0;
    if (P.schema_kind === "single") return P.choices.map((c) => ({ value: c, key: c, votes: n(c) }));
    if (P.schema_kind === "rating") {
      const out = [];
      for (let v = P.scale_min; v <= P.scale_max; v++) out.push({ value: v, key: String(v), votes: n(String(v)) });
      return out;
    }
    // text and multi: the answers given, as the votes count them (most votes first)
    return Object.entries(votes).sort((a, b) => b[1] - a[1]).map(([key, v]) => ({
      value: P.schema_kind === "multi" ? (key === "" ? [] : key.split("|")) : key, key, votes: v,
    }));
  }

  function sameLabel(a, b) { return JSON.stringify(a) === JSON.stringify(b) || String(a) === String(b); }

  function card(entry) {
    const opts = options(entry);
    const body = el("div", {});
    Q.renderItem(body, entry.item.data);
    const suggested = entry.suggested;
    const node = el("article", { class: "review-card", tabindex: "-1", dataset: { item: entry.item.id } },
      el("div", { class: "rc-head" },
        el("div", {}, el("b", {}, entry.item.external_id), el("span", { class: "small muted" }, ` · item #${entry.item.id} · ${entry.answers.length} answers`)),
        el("div", { class: "small muted" }, suggested !== null && suggested !== undefined ? ["Suggested: ", el("b", {}, fmt.value(suggested)),
          entry.confidence !== null && entry.confidence !== undefined ? ` (${fmt.pct(entry.confidence)})` : ""] : "No suggestion")),
      el("div", { class: "rc-body" },
        body,
        el("div", { class: "answers-grid" }, entry.answers.map((a) => el("div", { class: "answer-chip" },
          el("span", { class: "who", title: a.annotator }, a.annotator),
          el("div", { class: "val" }, fmt.value(a.value)),
          el("div", { class: "secs" }, a.seconds !== null && a.seconds !== undefined ? fmt.secs(a.seconds) : ""))))),
      el("div", { class: "resolve-row" },
        opts.map((o, i) => el("button", {
          type: "button", class: `choice ${suggested !== null && sameLabel(o.value, suggested) ? "suggested" : ""}`,
          dataset: { option: i }, onclick: () => resolve(node, entry, o.value),
        }, el("span", { class: "key" }, i < 9 ? String(i + 1) : "·"), el("span", { class: "label" }, fmt.value(o.value)),
        el("span", { class: "votes" }, `${o.votes} vote${o.votes === 1 ? "" : "s"}`))),
        P.schema_kind === "text" ? el("form", { class: "inline", style: { display: "flex", gap: "6px" }, onsubmit: (ev) => {
          ev.preventDefault();
          const v = ev.target.elements.other.value;
          if (v.trim()) resolve(node, entry, v);
        } }, el("input", { name: "other", placeholder: "Another answer…", "aria-label": "Another answer" }), el("button", { class: "btn small", type: "submit" }, "Use")) : null));
    node._entry = entry;
    node._options = opts;
    node.addEventListener("click", () => setActive(cards.indexOf(node), false));
    return node;
  }

  async function resolve(node, entry, value) {
    if (node.classList.contains("resolved") || node.dataset.busy) return;
    node.dataset.busy = "1";
    try {
      const res = await api("POST", `projects/${P.id}/items/${entry.item.id}/review`, { label: value });
      node.classList.add("resolved");
      const label = res.consensus ? res.consensus.label : value;
      node.querySelector(".rc-head > div:last-child").replaceChildren(el("span", { class: "badge accent" }, "Reviewed"), " ", el("b", {}, fmt.value(label)));
      count = Math.max(0, count - 1);
      $("review-count").textContent = String(count);
      const tab = document.querySelector('.tabs a[aria-current="page"] .count');
      if (tab) { tab.textContent = String(count); if (!count) tab.remove(); }
      const nextIndex = cards.findIndex((c, i) => i > cards.indexOf(node) && !c.classList.contains("resolved"));
      const any = nextIndex >= 0 ? nextIndex : cards.findIndex((c) => !c.classList.contains("resolved"));
      if (any >= 0) setActive(any, true);
      else if (next) loadMore();
      else showDone();
    } catch (err) {
      Q.toast(`Item ${entry.item.external_id}: ${err.message}`, "bad");
    } finally {
      delete node.dataset.busy;
    }
  }

  function showDone() {
    active = -1;
    cards.forEach((c) => c.classList.remove("active"));
    $("review-list").appendChild(el("section", { class: "screen", id: "review-done" }, el("div", { class: "icon", "aria-hidden": "true" }, "\u2713"),
      el("h1", {}, "Queue cleared"), el("p", {}, "Every disputed item has a label. New ones appear here when items run out of answers without agreement.")));
  }

  function setActive(i, scroll) {
    if (i < 0 || i >= cards.length) return;
    cards.forEach((c, j) => c.classList.toggle("active", j === i));
    active = i;
    if (scroll) cards[i].scrollIntoView({ block: "nearest", behavior: "instant" in document.documentElement.style ? "instant" : "auto" });
  }

  async function loadMore() {
    const url = next || `projects/${P.id}/review?page_size=20`;
    try {
      const page = await api("GET", url.startsWith("http") ? new URL(url).pathname + new URL(url).search : url);
      if (!next) $("review-list").replaceChildren();
      count = page.count !== undefined ? page.count : count + page.results.length;
      $("review-count").textContent = String(count);
      next = page.next;
      $("more-btn").hidden = !next;
      for (const entry of page.results) {
        const node = card(entry);
        cards.push(node);
        $("review-list").appendChild(node);
      }
      if (!cards.length) {
        $("review-list").replaceChildren(el("section", { class: "screen", id: "review-done" }, el("div", { class: "icon", "aria-hidden": "true" }, "\u2713"),
          el("h1", {}, "Nothing to review"), el("p", {}, "Every decided item met the quorum rule. Items that run out of answers without agreement land here.")));
        return;
      }
      if (active < 0 || cards[active].classList.contains("resolved")) {
        const first = cards.findIndex((c) => !c.classList.contains("resolved"));
        setActive(first, false);
      }
    } catch (err) {
      Q.toast(`Cannot load the review queue: ${err.message}`, "bad");
    }
  }

  function onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const t = ev.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) return;
    if (active < 0) return;
    const node = cards[active];
    if (/^[1-9]$/.test(ev.key)) {
      const o = node._options[Number(ev.key) - 1];
      if (o) { ev.preventDefault(); resolve(node, node._entry, o.value); }
    } else if (ev.key === "Enter") {
      if (t && t.tagName === "BUTTON") return;
      const s = node._entry.suggested;
      if (s !== null && s !== undefined) { ev.preventDefault(); resolve(node, node._entry, s); }
    } else if (ev.key === "j" || ev.key === "ArrowDown") {
      const i = cards.findIndex((c, j) => j > active && !c.classList.contains("resolved"));
      if (i >= 0) { ev.preventDefault(); setActive(i, true); }
    } else if (ev.key === "k" || ev.key === "ArrowUp") {
      for (let j = active - 1; j >= 0; j--) if (!cards[j].classList.contains("resolved")) { ev.preventDefault(); setActive(j, true); break; }
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    count = Number($("review-count").textContent) || 0;
    $("more-btn").addEventListener("click", loadMore);
    document.addEventListener("keydown", onKey);
    loadMore();
  });
})();
