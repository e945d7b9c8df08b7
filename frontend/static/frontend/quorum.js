/* Quorum pages: shared helpers. Plain JS, no build step, no dependencies.
 *
 * Q.api     fetch() against /api/v1 with the session cookie and the CSRF token; rejects with
 *           an ApiError that carries the status, the API's error list and its code.
 * Q.el      builds DOM nodes; text always goes in through textContent, never innerHTML, so
 *           nothing from the data (items, answers, names) can become markup.
 * Q.renderItem  an item's data: text blocks, images by http(s) URL, key/value fields.
 * Q.pollJob     follows /api/v1/jobs/{id} until it succeeds or fails.
 * Q.charts      inline SVG plots (bars, histogram, heatmap) drawn from API data.
 */
(function () {
  "use strict";

  const API = "/api/v1";

  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (m) return decodeURIComponent(m[1]);
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  class ApiError extends Error {
    constructor(status, body) {
      const errors = (body && body.errors) || [{ field: null, message: `request failed (HTTP ${status})` }];
      super(errors.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join("; "));
      this.status = status;
      this.errors = errors;
      this.code = body && body.code;
      this.body = body;
    }
  }

  async function api(method, path, body, opts) {
    const url = path.startsWith("/") ? path : `${API}/${path}`;
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin", keepalive: opts && opts.keepalive };
    if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(url, init);
    } catch (err) {
      const e = new ApiError(0, { errors: [{ field: null, message: "cannot reach the server; check your connection" }], code: "network" });
      e.network = true;
      throw e;
    }
    if (res.status === 204) return null;
    let data = null;
    const type = res.headers.get("Content-Type") || "";
    if (type.includes("json")) data = await res.json();
    if (data && typeof data === "object") Object.defineProperty(data, "__date", { value: res.headers.get("Date"), enumerable: false });
    if (!res.ok) {
      if (res.status === 401 || (res.status === 403 && data && /credentials/i.test(JSON.stringify(data)))) {
        window.location.href = `/login/?next=${encodeURIComponent(location.pathname)}`;
      }
      throw new ApiError(res.status, data);
    }
    return data;
  }

  /* Upload with progress (fetch cannot report upload progress). */
  function upload(path, formData, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `${API}/${path}`);
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (ev) => { if (ev.lengthComputable && onProgress) onProgress(ev.loaded / ev.total); };
      xhr.onload = () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
        if (xhr.status >= 200 && xhr.status < 300) resolve({ status: xhr.status, data });
        else reject(new ApiError(xhr.status, data));
      };
      xhr.onerror = () => reject(new ApiError(0, { errors: [{ field: null, message: "the upload failed; check your connection" }] }));
      xhr.send(formData);
    });
  }

  /* el("div", {class: "x", onclick: fn, dataset: {...}}, "text", child, [children]) */
  function el(tag, attrs, ...children) {
    const node = document.createElementNS(tag.startsWith("svg:") ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml",
      tag.replace(/^svg:/, ""));
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
        else if (k === "dataset") Object.assign(node.dataset, v);
        else if (k === "text") node.textContent = v;
        else if (k === "style" && typeof v === "object") Object.assign(node.style, v);
        else node.setAttribute(k, v === true ? "" : String(v));
      }
    }
    append(node, children);
    return node;
  }
  function append(node, children) {
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      if (Array.isArray(c)) append(node, c);
      else node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function toast(message, kind, ms) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const t = el("div", { class: `toast ${kind || ""}`, role: kind === "bad" ? "alert" : "status" }, message);
    box.appendChild(t);
    setTimeout(() => t.remove(), ms || (kind === "bad" ? 8000 : 4000));
  }

  /* --- formatting ------------------------------------------------------------------------ */
  const fmt = {
    pct: (x, d) => (x === null || x === undefined || Number.isNaN(x) ? "–" : `${(x * 100).toFixed(d === undefined ? 0 : d)}%`),
    num: (x, d) => (x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toFixed(d === undefined ? 2 : d)),
    int: (x) => (x === null || x === undefined ? "–" : Number(x).toLocaleString("en-US")),
    secs: (s) => {
      if (s === null || s === undefined) return "–";
      if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
      const m = Math.floor(s / 60);
      return `${m}:${String(Math.round(s % 60)).padStart(2, "0")} min`;
    },
    clock: (s) => `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`,
    value: (v) => {
      if (v === null || v === undefined) return "–";
      if (Array.isArray(v)) return v.length ? v.join(", ") : "(none)";
      if (typeof v === "object") return JSON.stringify(v);
      return String(v);
    },
    // A job's result, flattened one level: "items 30 · changed 2 · method majority".
    result: (r) => {
      const parts = [];
      const walk = (obj) => {
        for (const [k, v] of Object.entries(obj || {})) {
          if (v === null || v === undefined || k === "note") continue;
          if (typeof v === "object" && !Array.isArray(v)) walk(v);
          else if (!Array.isArray(v)) parts.push(`${k.replace(/_/g, " ")} ${typeof v === "number" ? v.toLocaleString("en-US") : v}`);
        }
      };
      walk(r);
      return parts.join(" · ");
    },
    money: (x, cur) => (x === null || x === undefined ? "–" : new Intl.NumberFormat("en-US", { style: "currency", currency: cur || "USD" }).format(x)),
  };

  const STATUS_LABELS = { open: "Open", in_progress: "In progress", accepted: "Accepted", no_consensus: "No consensus", reviewed: "Reviewed" };

  /* --- item data ------------------------------------------------------------------------- */
  const IMAGE_KEYS = /^(image|img|image_url|picture|photo|thumbnail)$/i;
  const IMAGE_URL = /^https?:\/\/[^\s]+\.(png|jpe?g|gif|webp|avif|svg|bmp)(\?[^\s]*)?$/i;
  const TEXT_KEYS = /^(text|body|content|sentence|review|question|comment|message|title|prompt)$/i;

  function isHttpUrl(v) {
    try { const u = new URL(v); return u.protocol === "http:" || u.protocol === "https:"; } catch (_) { return false; }
  }

  function renderItem(container, data) {
    container.replaceChildren();
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      container.appendChild(el("div", { class: "item-text" }, fmt.value(data)));
      return;
    }
    const images = [], texts = [], fields = [];
    for (const [key, value] of Object.entries(data)) {
      if (typeof value === "string" && isHttpUrl(value) && (IMAGE_KEYS.test(key) || IMAGE_URL.test(value))) images.push([key, value]);
      else if (typeof value === "string" && (TEXT_KEYS.test(key) || value.length > 90)) texts.push([key, value]);
      else fields.push([key, value]);
    }
    for (const [key, url] of images) {
      container.appendChild(el("figure", { class: "item-figure" },
        el("img", { src: url, alt: key, loading: "eager", referrerpolicy: "no-referrer" }),
        el("figcaption", {}, key)));
    }
    const labelTexts = texts.length > 1 || fields.length > 0;
    for (const [key, value] of texts) {
      container.appendChild(el("div", { class: "item-text" }, labelTexts ? el("span", { class: "key" }, key) : null, value));
    }
    if (fields.length) {
      const dl = el("dl", { class: "item-fields" });
      for (const [key, value] of fields) {
        dl.appendChild(el("dt", {}, key));
        dl.appendChild(el("dd", {}, value !== null && typeof value === "object"
          ? el("pre", {}, JSON.stringify(value, null, 2)) : fmt.value(value)));
      }
      container.appendChild(dl);
    }
    if (!images.length && !texts.length && !fields.length) container.appendChild(el("div", { class: "muted" }, "(empty item)"));
  }

  /* --- jobs ------------------------------------------------------------------------------ */
  /* Renders a job's progress into `box` and resolves with the finished job. */
  function pollJob(jobId, box, labels) {
    labels = labels || {};
    const bar = el("span", { style: { width: "0%" } });
    const barBox = el("div", { class: "bar lg indeterminate" }, bar);
    const text = el("div", { class: "small muted", style: { marginTop: "6px" } }, "Queued…");
    box.replaceChildren(el("div", { class: "job", dataset: { job: jobId } }, el("div", { class: "small", style: { marginBottom: "6px", fontWeight: 600 } },
      labels.title || `Job #${jobId}`), barBox, text));
    return new Promise((resolve) => {
      let delay = 300;
      const tick = async () => {
        let job;
        try { job = await api("GET", `jobs/${jobId}`); } catch (err) {
          text.textContent = `Cannot read the job: ${err.message}; retrying…`;
          setTimeout(tick, 2000); return;
        }
        const p = job.progress;
        if (p !== null && p !== undefined) { barBox.classList.remove("indeterminate"); bar.style.width = `${Math.round(p * 100)}%`; }
        const counts = job.progress_total ? `${fmt.int(job.progress_done)} of ${fmt.int(job.progress_total)}`
          : (job.progress_done ? `${fmt.int(job.progress_done)} done` : "");
        text.textContent = `${job.status[0].toUpperCase()}${job.status.slice(1)}${counts ? ` · ${counts}` : ""}`;
        if (job.status === "succeeded" || job.status === "failed") {
          barBox.classList.remove("indeterminate");
          bar.style.width = "100%";
          if (job.status === "failed") bar.style.background = "var(--bad)";
          else bar.style.background = "var(--good)";
          resolve(job);
          return;
        }
        delay = Math.min(delay * 1.4, 2000);
        setTimeout(tick, delay);
      };
      tick();
    });
  }

  function errorList(errors) {
    return el("ul", { class: "error-list" }, errors.map((e) => el("li", {},
      e.line ? el("b", {}, `Line ${e.line}: `) : null, e.field && !e.line ? el("b", {}, `${e.field}: `) : null, e.message)));
  }

  /* --- charts (inline SVG) --------------------------------------------------------------- */
  const S = (tag, attrs, ...kids) => el(`svg:${tag}`, attrs, ...kids);

  // Four gridlines at round steps (whole numbers for counts).
  function niceScale(v, integer) {
    const raw = Math.max(v, integer ? 1 : 1e-9) / 4;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = [1, 2, 2.5, 3, 4, 5, 6, 8, 10].map((m) => m * p).find((x) => x >= raw && (!integer || Number.isInteger(x)));
    if (!step) step = 10 * p;
    if (integer) step = Math.max(1, Math.ceil(step));
    return { step, max: step * 4 };
  }

  /* Vertical bars: [{label, value, title}] */
  function bars(container, data, opts) {
    opts = Object.assign({ width: 560, height: 200, color: "var(--accent)", yFormat: (v) => fmt.int(v), empty: "No data yet." }, opts);
    container.replaceChildren();
    container._redraw = () => bars(container, data, opts);
    if (!data.length) { container.appendChild(el("div", { class: "empty" }, opts.empty)); return; }
    // Drawn at the container's own width, so text keeps its size on a phone.
    const W = Math.max(240, container.clientWidth || opts.width), H = opts.height, L = 38, R = 8, T = 10, B = 26;
    const { max } = niceScale(Math.max(...data.map((d) => d.value)), opts.integer !== false && data.every((d) => Number.isInteger(d.value)));
    const iw = W - L - R, ih = H - T - B, bw = iw / data.length;
    const svg = S("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": opts.title || "bar chart" });
    for (let i = 0; i <= 4; i++) {
      const y = T + ih - (ih * i) / 4;
      svg.appendChild(S("line", { x1: L, x2: W - R, y1: y, y2: y, class: i ? "gridline" : "axis" }));
      svg.appendChild(S("text", { x: L - 6, y: y + 3.5, "text-anchor": "end" }, opts.yFormat((max * i) / 4)));
    }
    const every = Math.ceil(data.length / Math.max(1, Math.floor(iw / 46)));
    data.forEach((d, i) => {
      const h = (ih * d.value) / max;
      const x = L + i * bw + Math.min(3, bw * 0.15);
      const rect = S("rect", { x, y: T + ih - h, width: Math.max(1, bw - 2 * Math.min(3, bw * 0.15)), height: Math.max(0, h), rx: 2, fill: d.color || opts.color },
        S("title", {}, d.title || `${d.label}: ${opts.yFormat(d.value)}`));
      svg.appendChild(rect);
      if (i % every === 0) svg.appendChild(S("text", { x: L + i * bw + bw / 2, y: H - 8, "text-anchor": "middle" }, d.short !== undefined ? d.short : d.label));
    });
    container.appendChild(svg);
  }

  /* Histogram from {bins: edges (n+1), counts (n)} */
  function histogram(container, hist, opts) {
    const bins = (hist && hist.bins) || [], counts = (hist && hist.counts) || [];
    const data = counts.map((c, i) => ({
      value: c, label: `${fmt.num(bins[i], 2)}–${fmt.num(bins[i + 1], 2)}`, short: `${fmt.num(bins[i], 1)}–${fmt.num(Math.min(1, bins[i + 1]), 1)}`,
      title: `${c} item${c === 1 ? "" : "s"} with agreement ${fmt.num(bins[i], 2)}–${fmt.num(bins[i + 1], 2)}`,
      color: `hsl(${Math.round(10 + 140 * ((bins[i] + bins[i + 1]) / 2))} 62% 50%)`,
    }));
    bars(container, counts.some((c) => c > 0) ? data : [], Object.assign({ title: "agreement histogram", empty: "No items with two or more answers yet." }, opts));
  }

  /* Heatmap: rows x cols matrix of numbers (or null). */
  function heatmap(container, rowLabels, colLabels, matrix, opts) {
    opts = Object.assign({ cell: 40, format: (v) => fmt.num(v, 2), min: 0, max: null, hue: 243, rowTitle: "", colTitle: "", empty: "No data yet." }, opts);
    container.replaceChildren();
    if (!rowLabels.length || !colLabels.length) { container.appendChild(el("div", { class: "empty" }, opts.empty)); return; }
    const values = matrix.flat().filter((v) => v !== null && v !== undefined);
    const max = opts.max !== null ? opts.max : Math.max(1e-9, ...values);
    const trunc = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
    // Long names (annotators) go on the rows; columns then carry their row numbers.
    const rowText = opts.numbered ? rowLabels.map((s, i) => `${i + 1}  ${s}`) : rowLabels.map(String);
    const colText = opts.numbered ? colLabels.map((s, i) => String(i + 1)) : colLabels.map(String);
    const longest = Math.max(...rowText.map((s) => Math.min(s.length, 24)));
    const colLong = Math.max(...colText.map((s) => Math.min(s.length, 14)));
    const L = 14 + longest * 6.2, T = opts.numbered ? 22 : 22 + colLong * 5.2;
    const c = opts.cell, R = opts.numbered ? 4 : colLong * 5.4, W = L + colLabels.length * c + R, H = T + rowLabels.length * c + 4;
    const svg = S("svg", { viewBox: `0 0 ${W} ${H}`, width: W, role: "img", "aria-label": opts.title || "matrix" });
    colText.forEach((lab, j) => {
      const x = L + j * c + c / 2, y = T - 6;
      svg.appendChild(opts.numbered
        ? S("text", { x, y, "text-anchor": "middle" }, lab, S("title", {}, String(colLabels[j])))
        : S("text", { x, y, transform: `rotate(-40 ${x} ${y})`, "text-anchor": "start" }, trunc(lab, 14), S("title", {}, String(colLabels[j]))));
    });
    if (opts.colTitle) svg.appendChild(S("text", { x: L, y: 11, style: "font-weight:600" }, opts.colTitle));
    rowLabels.forEach((lab, i) => {
      svg.appendChild(S("text", { x: L - 6, y: T + i * c + c / 2 + 4, "text-anchor": "end" }, trunc(rowText[i], 24), S("title", {}, String(lab))));
      (matrix[i] || []).forEach((v, j) => {
        const has = v !== null && v !== undefined;
        const t = has ? Math.max(0, Math.min(1, (v - opts.min) / (max - opts.min || 1))) : 0;
        const fill = has ? `hsl(${opts.hue} ${35 + 45 * t}% ${96 - 52 * t}%)` : "#f3f4f6";
        const g = S("g", {});
        g.appendChild(S("rect", { x: L + j * c + 1, y: T + i * c + 1, width: c - 2, height: c - 2, rx: 3, fill },
          S("title", {}, `${rowLabels[i]} × ${colLabels[j]}: ${has ? opts.format(v) : "no shared items"}`)));
        if (has && c >= 28) {
          g.appendChild(S("text", { x: L + j * c + c / 2, y: T + i * c + c / 2 + 4, "text-anchor": "middle", class: "cell-label",
            style: `fill:${t > 0.55 ? "#fff" : "#1f2937"}` }, opts.format(v)));
        }
        svg.appendChild(g);
      });
    });
    container.appendChild(svg);
  }

  /* Horizontal stacked bar of item statuses. */
  function statusBar(container, counts) {
    container.replaceChildren();
    const order = ["accepted", "reviewed", "no_consensus", "in_progress", "open"];
    const total = order.reduce((s, k) => s + (counts[k] || 0), 0);
    const bar = el("div", { class: "bar lg" });
    for (const k of order) {
      if (!counts[k]) continue;
      bar.appendChild(el("span", { style: { width: `${(100 * counts[k]) / total}%`, background: `var(--st-${k})` }, title: `${STATUS_LABELS[k]}: ${counts[k]}` }));
    }
    const legend = el("div", { class: "legend" }, order.map((k) => el("span", { dataset: { status: k } },
      el("i", { class: "status-dot", style: { background: `var(--st-${k})` } }), `${STATUS_LABELS[k]} `, el("b", {}, fmt.int(counts[k] || 0)))));
    container.append(bar, legend);
  }

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => document.querySelectorAll(".plot").forEach((p) => p._redraw && p._redraw()), 60);
  });

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return `r${Date.now().toString(36)}${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  }

  function config(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : {};
  }

  window.Q = { api, upload, ApiError, el, toast, fmt, renderItem, pollJob, errorList, uuid, config, STATUS_LABELS,
    charts: { bars, histogram, heatmap, statusBar } };
})();
