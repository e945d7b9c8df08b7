/* The annotator's page: one item at a time, every action on a key, the next item already leased.
 *
 * Flow: POST next-task for the first item, then at once again in the background (the prefetch),
 * so that Submit shows the prefetched item without waiting for the server. The answer itself is
 * posted in the background (optimistic): the page only speaks up if the server refuses it. The
 * answer asks for the next task too (`next: true`), which becomes the new prefetch: one request
 * per answer, not two. When nothing was prefetched (a fast annotator, a slow network), the page
 * waits for that answer's `next` instead of asking next-task separately.
 *
 * Server decisions are never re-made here: what counts as a valid answer, whether an item still
 * needs one, whether I am paused, all come from the API's answers (400, 409 not_needed,
 * 403 paused, state no_work).
 */
(function () {
  "use strict";
  const { api, el, toast, fmt, renderItem, uuid } = Q;
  const cfg = Q.config("annotate-config");
  const P = cfg.project;
  const $ = (id) => document.getElementById(id);

  const metrics = (window.quorumMetrics = { switches: [], shown: 0 });
  const state = {
    current: null, // {lease, item, deadline, shownAt}
    next: null, // a fetched task or {kind: "no_work"|"paused", ...}
    nextPromise: null,
    selection: null,
    screen: "loading",
    waiting: false,
    me: null,
    inFlight: new Set(), // leases whose answer or skip is on its way: not to be handed back
  };

  // Leases this page holds or is closing; next-task must not give any of them back.
  function heldLeases() {
    const ids = new Set(state.inFlight);
    if (state.current) ids.add(state.current.lease.id);
    if (state.next && state.next.kind === "task") ids.add(state.next.lease.id);
    return [...ids];
  }

  /* --- server calls ---------------------------------------------------------------------- */
  // A next-task body (or an answer's `next`) as the page's task; null for "too many open tasks"
  // (answers still on their way hold their leases: ask next-task again later). `date`: the
  // response's Date header; `sent`: when we asked, by our clock.
  function taskFrom(res, date, sent) {
    if (res.state === "task") {
      // The lease's length by the server's clock, counted on ours from when we asked.
      const serverNow = date ? Date.parse(date) : NaN;
      const length = Number.isFinite(serverNow)
        ? Date.parse(res.lease.expires_at) - serverNow
        : (cfg.lease_seconds || 600) * 1000;
      return { kind: "task", lease: res.lease, item: res.item, deadline: sent + length };
    }
    if (res.state === "paused") return { kind: "paused", message: res.message };
    if (res.state === "too_many_leases") return null;
    return { kind: "no_work", message: res.message };
  }

  async function fetchTask(attempt) {
    attempt = attempt || 0;
    const sent = Date.now();
    try {
      const res = await api("POST", `projects/${P.id}/next-task`, { exclude_leases: heldLeases() });
      return taskFrom(res, res.__date, sent);
    } catch (err) {
      if (err.status === 403 && err.code === "paused") return { kind: "paused", message: err.message };
      if (err.status === 409 && err.code === "too_many_leases" && attempt < 8) {
        // answers still on their way hold their leases; ask again once they land
        await new Promise((r) => setTimeout(r, 150 * (attempt + 1)));
        return fetchTask(attempt + 1);
      }
      throw err;
    }
  }

  // `source`: a promise of a task (default: a next-task call) that becomes the prefetch.
  function prefetch(source) {
    if (state.next || state.nextPromise) return;
    state.nextPromise = (source || fetchTask())
      .then((t) => {
        if (t && t.kind === "task" && state.current && t.item.id === state.current.item.id) t = null; // same item: fetch after submit
        state.next = t;
      })
      .catch(() => { state.next = null; })
      .finally(() => { state.nextPromise = null; markPrefetch(); });
    return state.nextPromise;
  }

  async function refreshMe() {
    try {
      const me = await api("GET", `projects/${P.id}/me`);
      state.me = me;
      renderCounters();
    } catch (_) { /* counters are a convenience */ }
  }
  let meTimer = null;
  function refreshMeSoon() { clearTimeout(meTimer); meTimer = setTimeout(refreshMe, 250); }

  /* --- switching items ------------------------------------------------------------------- */
  // For people reading the page's state (and the browser tests): is the next item already here?
  function markPrefetch() { document.body.dataset.prefetched = state.next ? "1" : "0"; }

  // A prefetched task is used while its lease has time left; "no work" and "paused" are asked
  // again (work may have come back since), which costs one request at the end of the queue.
  function usable(t) {
    return t && t.kind === "task" && t.deadline - Date.now() > 3000;
  }

  // t0: when the annotator asked to move on (Submit/Skip); the switch time is measured from it.
  // `then`: what fetches the following task once this one shows (default: prefetch by next-task;
  // Submit passes its answer, which brings it back). Runs synchronously up to showTask when a
  // prefetched task is ready.
  async function advance(t0, then) {
    let t = state.next;
    state.next = null;
    markPrefetch();
    if (!usable(t)) {
      state.waiting = true;
      try {
        let fresh = false;
        if (state.nextPromise) { await state.nextPromise; t = state.next; state.next = null; fresh = true; }
        // "No work" or "paused" just now stands; a task about to expire (or none) is asked again.
        if (!usable(t) && !(fresh && t && t.kind !== "task")) t = await fetchTask();
      } catch (err) {
        state.waiting = false;
        showMessage("error", { title: "Cannot fetch the next item", text: err.message,
          actions: [["Try again", () => advance(), "Enter"]] });
        return;
      }
      state.waiting = false;
    }
    if (t && t.kind === "task") {
      showTask(t, t0);
      if (then) then(); else prefetch();
    } else if (!t) {
      state.waiting = true;
      setScreen("loading");
      setTimeout(() => { state.waiting = false; advance(t0, then); }, 300); // answers on their way hold leases
    } else if (t.kind === "paused") {
      showPaused(t.message);
    } else {
      showNoWork(t.message);
    }
  }

  function showTask(t, t0) {
    state.current = Object.assign(t, { shownAt: performance.now() });
    state.selection = P.schema_kind === "multi" ? new Set() : null;
    renderItem($("item"), t.item.data);
    const ref = $("item-ref");
    ref.textContent = `Item #${t.item.id}`;
    ref.dataset.itemId = t.item.id;
    renderInput();
    setScreen("task");
    tickTimer();
    metrics.shown += 1;
    if (t0 !== undefined) metrics.switches.push(performance.now() - t0);
    document.body.dataset.itemId = t.item.id;
    if (P.schema_kind === "text") { const box = $("text-answer"); if (box) box.focus(); }
  }

  /* --- answer inputs --------------------------------------------------------------------- */
  function ratingValues() {
    const out = [];
    for (let v = P.scale_min; v <= P.scale_max; v++) out.push(v);
    return out;
  }
  function ratingKey(v, i) {
    if (P.scale_min >= 0 && P.scale_max <= 9) return String(v);
    return i < 9 ? String(i + 1) : "";
  }

  function renderInput() {
    const box = $("answer-input");
    box.replaceChildren();
    const kind = P.schema_kind;
    if (kind === "single" || kind === "multi") {
      $("answer-title").textContent = kind === "multi" ? "Pick all that apply" : "Pick one";
      const list = el("div", { class: "choices", role: kind === "multi" ? "group" : "radiogroup" });
      P.choices.forEach((c, i) => {
        list.appendChild(el("button", {
          type: "button", class: "choice", "aria-pressed": "false", dataset: { index: i, value: c },
          onclick: () => pick(i),
        }, el("span", { class: "key" }, i < 9 ? String(i + 1) : "·"), el("span", { class: "label" }, c),
        kind === "multi" ? el("span", { class: "tick", "aria-hidden": "true" }) : null));
      });
      box.appendChild(list);
    } else if (kind === "rating") {
      $("answer-title").textContent = "Rate it";
      const values = ratingValues();
      const grid = el("div", { class: "choices rating", role: "radiogroup" });
      values.forEach((v, i) => grid.appendChild(el("button", {
        type: "button", class: "choice", "aria-pressed": "false", dataset: { index: i, value: v }, onclick: () => pick(i),
      }, el("span", { class: "label" }, String(v)), el("span", { class: "key" }, ratingKey(v, i) ? `key ${ratingKey(v, i)}` : ""))));
      box.append(grid, el("div", { class: "scale-ends" }, el("span", {}, `${P.scale_min} = lowest`), el("span", {}, `${P.scale_max} = highest`)));
    } else {
      $("answer-title").textContent = "Your answer";
      box.appendChild(el("div", { class: "text-answer" }, el("textarea", {
        id: "text-answer", rows: 3, maxlength: 2000, autocomplete: "off", spellcheck: "false",
        placeholder: "Type the answer. Enter submits; Shift+Enter adds a line.", "aria-label": "Your answer",
      })));
    }
    updateSubmitLabel();
  }

  function pick(index) {
    if (state.screen !== "task") return;
    const buttons = $("answer-input").querySelectorAll(".choice");
    if (index < 0 || index >= buttons.length) return;
    if (P.schema_kind === "multi") {
      const value = P.choices[index];
      if (state.selection.has(value)) state.selection.delete(value); else state.selection.add(value);
      buttons[index].setAttribute("aria-pressed", String(state.selection.has(value)));
    } else {
      state.selection = P.schema_kind === "rating" ? ratingValues()[index] : P.choices[index];
      buttons.forEach((b, i) => b.setAttribute("aria-pressed", String(i === index)));
    }
    updateSubmitLabel();
  }

  function updateSubmitLabel() {
    const btn = $("submit-btn");
    const none = P.schema_kind === "multi" && state.selection && state.selection.size === 0;
    btn.firstChild.textContent = none ? "None apply " : "Submit ";
  }

  function currentValue() {
    const kind = P.schema_kind;
    if (kind === "multi") return [...state.selection];
    if (kind === "text") {
      const v = $("text-answer").value;
      return v.trim() ? v : null;
    }
    return state.selection;
  }

  /* --- submit and skip ------------------------------------------------------------------- */
  function submit() {
    if (state.screen !== "task" || state.waiting || !state.current) return;
    const t0 = performance.now();
    const value = currentValue();
    if (value === null) {
      toast(P.schema_kind === "text" ? "Type an answer first." : `Pick a label first (keys 1–${Math.min(9, P.schema_kind === "rating" ? ratingValues().length : P.choices.length)}).`, "warn", 2500);
      return;
    }
    const task = state.current;
    const body = {
      item: task.item.id, lease: task.lease.id, value,
      seconds: Math.round((performance.now() - task.shownAt) / 100) / 10,
      client_request_id: uuid(),
    };
    state.current = null;
    state.inFlight.add(task.lease.id);
    bump(+1);
    // The answer brings the task after the next one back with it (`next`), unless a next-task
    // call is already on its way. The leases this page holds are left out, once the prefetched
    // task is on screen.
    const send = (withNext) => {
      if (withNext) Object.assign(body, { next: true, exclude_leases: heldLeases() });
      const sent = Date.now();
      const answered = postAnswer(task, body, 0).finally(() => state.inFlight.delete(task.lease.id));
      if (!withNext) return answered;
      return answered.then((res) => (res && res.next ? taskFrom(res.next, res.__date, sent) : null))
        .then((t) => t || fetchTask());
    };
    if (state.nextPromise) {
      send(false);
      advance(t0);
    } else if (usable(state.next)) {
      advance(t0, () => prefetch(send(true)));
    } else {
      state.next = null;
      prefetch(send(true));
      advance(t0);
    }
  }

  function bump(delta) {
    if (!state.me) return;
    state.me.answered_today += delta;
    state.me.answered_total += delta;
    state.me.remaining -= delta; // until the server's count arrives (refreshMeSoon)
    renderCounters();
  }

  // The server's answer (with `next` when asked), or null when it was refused (told here).
  async function postAnswer(task, body, attempt) {
    try {
      const res = await api("POST", `projects/${P.id}/answers`, body, { keepalive: true });
      refreshMeSoon();
      return res;
    } catch (err) {
      const ref = `item #${task.item.id}`;
      if ((err.network || err.status >= 500) && attempt < 3) {
        await new Promise((r) => setTimeout(r, [600, 1500, 4000][attempt]));
        return postAnswer(task, body, attempt + 1);
      }
      bump(-1);
      refreshMeSoon();
      if (err.status === 403 && err.code === "paused") { showPaused(err.message); return; }
      if (err.status === 409 && err.code === "not_needed") {
        toast(`Your time on ${ref} ran out and it no longer needs an answer, so that answer was not counted.`, "warn", 7000);
      } else if (err.status === 409 && err.code === "already_answered") {
        toast(`You had already answered ${ref}; your first answer stands.`, "", 5000);
      } else {
        toast(`Your answer to ${ref} was not saved: ${err.message}`, "bad", 10000);
      }
      return null;
    }
  }

  function skip() {
    if (state.screen !== "task" || state.waiting || !state.current) return;
    const t0 = performance.now();
    const task = state.current;
    state.current = null;
    state.inFlight.add(task.lease.id);
    api("POST", `leases/${task.lease.id}/skip`).catch((err) => {
      if (err.status === 403 && err.code === "paused") showPaused(err.message);
      else if (err.status !== 409) toast(`Could not skip item #${task.item.id}: ${err.message}`, "bad");
    }).finally(() => state.inFlight.delete(task.lease.id));
    advance(t0);
  }

  /* --- screens --------------------------------------------------------------------------- */
  function setScreen(name) {
    state.screen = name === "task" ? "task" : name;
    document.body.dataset.screen = name;
    $("screen-task").hidden = name !== "task";
    $("screen-loading").hidden = name !== "loading";
    $("screen-message").hidden = ["task", "loading"].includes(name);
    $("timer").hidden = name !== "task";
  }

  function showMessage(kind, { title, text, reason, actions }) {
    state.current = null;
    const box = $("screen-message");
    box.className = `screen ${kind}`;
    $("msg-icon").replaceChildren(screenIcon(kind));
    $("msg-title").textContent = title;
    $("msg-text").textContent = text || "";
    $("msg-reason").hidden = !reason;
    $("msg-reason").textContent = reason || "";
    $("msg-actions").replaceChildren(...(actions || []).map(([label, fn, key], i) => (typeof fn === "function"
      ? el("button", { type: "button", class: `btn ${i === 0 ? "primary" : ""}`, onclick: fn }, `${label} `, key ? el("kbd", {}, key) : null)
      : el("a", { class: `btn ${i === 0 ? "primary" : ""}`, href: fn }, label))));
    state.messageAction = (actions && actions[0] && typeof actions[0][1] === "function") ? actions[0][1] : null;
    setScreen(kind);
    const first = $("msg-actions").querySelector("button");
    if (first) first.focus({ preventScroll: true });
  }

  // Drawn, not typed: emoji and symbol glyphs are missing from many system fonts.
  function screenIcon(kind) {
    const S = (tag, attrs) => el(`svg:${tag}`, attrs);
    const svg = el("svg:svg", { viewBox: "0 0 24 24", width: 28, height: 28, fill: "none", stroke: "currentColor",
      "stroke-width": 2.2, "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true" });
    const parts = {
      no_work: [S("polyline", { points: "5 12.5 10 17 19 7.5" })],
      paused: [S("line", { x1: 9, y1: 6, x2: 9, y2: 18 }), S("line", { x1: 15, y1: 6, x2: 15, y2: 18 })],
      expired: [S("circle", { cx: 12, cy: 13, r: 8 }), S("polyline", { points: "12 9 12 13 15 15" }), S("line", { x1: 10, y1: 2.5, x2: 14, y2: 2.5 })],
      error: [S("line", { x1: 12, y1: 6, x2: 12, y2: 13.5 }), S("line", { x1: 12, y1: 18, x2: 12, y2: 18.01 })],
    }[kind] || [];
    parts.forEach((node) => svg.appendChild(node));
    return svg;
  }

  function showNoWork(message) {
    refreshMe();
    showMessage("no_work", {
      title: "All done for now",
      text: `${(message || "There is nothing left for you to label in this project.").replace(/\.?$/, ".")} New items show up here as soon as they are imported.`,
      actions: [["Check again", () => advance(), "Enter"], ["Back to my projects", "/"]],
    });
  }

  function showPaused(message) {
    state.next = null;
    const reason = (message || "").replace(/^you are paused in this project:?\s*/i, "").trim();
    showMessage("paused", {
      title: "You are paused in this project",
      text: "A lead or the gold-item check has paused your work here, so no new items are handed to you. Your earlier answers are kept. Ask a project lead if you think this is a mistake.",
      reason: reason ? `Reason: ${reason}` : "No reason was given.",
      actions: [["Back to my projects", "/"]],
    });
  }

  function showExpired(task) {
    showMessage("expired", {
      title: "Time ran out on this item",
      text: `You held item #${task.item.id} longer than its lease, so it went back to the queue for someone else. Nothing was saved for it.`,
      actions: [["Next item", () => advance(), "Enter"]],
    });
  }

  /* --- counters and timer ---------------------------------------------------------------- */
  function renderCounters() {
    const me = state.me;
    if (!me) return;
    for (const node of document.querySelectorAll("[data-counter]")) {
      const key = node.dataset.counter;
      const b = node.querySelector("b");
      if (key === "gold_accuracy") {
        node.hidden = me.gold_accuracy === null || me.gold_accuracy === undefined;
        b.textContent = `${fmt.pct(me.gold_accuracy)}`;
        node.title = `${me.gold_answers} gold item${me.gold_answers === 1 ? "" : "s"} checked`;
        node.classList.toggle("warn", me.gold_accuracy !== null && me.gold_accuracy < 0.7);
      } else b.textContent = fmt.int(Math.max(0, me[key]));
    }
  }

  function tickTimer() {
    const timer = $("timer");
    const t = state.current;
    if (state.screen !== "task" || !t) { timer.textContent = "–:––"; timer.classList.remove("expiring"); return; }
    const left = (t.deadline - Date.now()) / 1000;
    if (left <= 0) { showExpired(t); return; }
    const spent = (performance.now() - t.shownAt) / 1000;
    if (left < 60) {
      timer.textContent = `${fmt.clock(spent)} · ${Math.ceil(left)} s left`;
      timer.classList.add("expiring");
    } else {
      timer.textContent = fmt.clock(spent);
      timer.classList.remove("expiring");
    }
  }

  /* --- keyboard -------------------------------------------------------------------------- */
  function toggleHelp(open) {
    const help = $("help");
    help.hidden = open === undefined ? !help.hidden : !open;
    if (!help.hidden) $("help-close").focus();
  }

  function onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
    const help = $("help");
    if (!help.hidden) {
      if (ev.key === "Escape" || ev.key === "?") { ev.preventDefault(); toggleHelp(false); }
      return;
    }
    const target = ev.target;
    const typing = target && (target.tagName === "TEXTAREA" || (target.tagName === "INPUT" && target.type !== "checkbox"));
    if (typing) {
      if (ev.key === "Enter" && !ev.shiftKey && target.id === "text-answer") { ev.preventDefault(); submit(); }
      else if (ev.key === "Escape") target.blur();
      return;
    }
    if (ev.key === "?") { ev.preventDefault(); toggleHelp(true); return; }
    if (ev.key === "Enter") {
      if (target && target.tagName === "A") return;
      ev.preventDefault();
      if (state.screen === "task") submit();
      else if (state.messageAction && ["no_work", "expired", "error"].includes(state.screen)) state.messageAction();
      return;
    }
    if (ev.key === "s" || ev.key === "S") { ev.preventDefault(); skip(); return; }
    if (ev.key === "i" || ev.key === "I") {
      const d = $("instructions");
      if (d) { d.open = !d.open; ev.preventDefault(); }
      return;
    }
    if (/^[0-9]$/.test(ev.key) && state.screen === "task") {
      ev.preventDefault();
      const digit = Number(ev.key);
      if (P.schema_kind === "rating") {
        const values = ratingValues();
        const idx = values.findIndex((v, i) => ratingKey(v, i) === ev.key);
        if (idx >= 0) pick(idx);
      } else if (P.schema_kind !== "text" && digit >= 1) pick(digit - 1);
      else if (P.schema_kind === "text") { const box = $("text-answer"); if (box) box.focus(); }
    }
  }

  /* --- start ----------------------------------------------------------------------------- */
  function init() {
    document.addEventListener("keydown", onKey);
    $("submit-btn").addEventListener("click", submit);
    $("skip-btn").addEventListener("click", skip);
    $("help-btn").addEventListener("click", () => toggleHelp(true));
    $("help-close").addEventListener("click", () => toggleHelp(false));
    $("help").addEventListener("click", (ev) => { if (ev.target === $("help")) toggleHelp(false); });
    const kind = P.schema_kind;
    $("help-digits").textContent = kind === "multi" ? "Tick or untick a choice" : kind === "rating" ? "Pick a rating" : kind === "text" ? "Jump to the answer box" : "Pick a choice";
    const hint = $("shortcut-hint");
    const digits = kind === "text" ? null : el("span", {}, el("kbd", {}, "1"), "–", el("kbd", {}, String(Math.min(9, kind === "rating" ? ratingValues().length : P.choices.length))), kind === "multi" ? " tick" : " pick");
    hint.append(digits || "", el("span", {}, el("kbd", {}, "Enter"), " submit"), el("span", {}, el("kbd", {}, "S"), " skip"), el("span", {}, el("kbd", {}, "?"), " help"));
    if (kind === "text") hint.append(el("span", {}, el("kbd", {}, "Esc"), " leave the box"));

    const details = $("instructions");
    if (details) {
      const key = `quorum.instructions.${P.id}`;
      if (localStorage.getItem(key) === "closed") details.open = false;
      details.addEventListener("toggle", () => localStorage.setItem(key, details.open ? "open" : "closed"));
    }
    setInterval(() => {
      tickTimer();
      if (state.next && state.next.kind === "task" && !usable(state.next)) { state.next = null; prefetch(); }
    }, 500);
    refreshMe();
    advance();
  }
  document.addEventListener("DOMContentLoaded", init);
})();
