// The attention explorer, drawn in the browser (anywidget ES module; no imports, no network).
//
// Python (course_lib/widgets/attention_view.py) sends the data once, as synced traits:
//   examples   [{title, queries, keys, causal, self_attention, note, offset}, ...]
//              tokens with whitespace made visible; offset: where the example starts in weights
//   weights    little-endian uint16 (weight * 65535), per example, layer, head: the rows of
//              one head; a causal example stores only row i's keys 0..i
//   n_layers, n_heads, colors (256 CSS colours, weight 0 -> max), scores, title, text_box
// Every interaction (query, head, layer, example, hover, shared scale, view) is handled here with
// no kernel round trip. A user's choice updates the DOM first, then the synced traits (query,
// layer, head, example, shared_scale, view) so Python can read it; a change made in Python
// redraws the view and is never sent back.
//
// Hovering a token, a heatmap row or a line label previews that query; clicking pins it (and
// syncs it); leaving restores the pinned one. Left/right arrow keys move the pinned query.
// Each redraw's duration is pushed to root._timings ({kind, ms, latency}) for the benchmarks.

const SVG = "http://www.w3.org/2000/svg";
const MASKED = [214, 214, 214]; // future (masked) positions: grey, not the colour of weight 0
const LABEL_PX = 13; // a 12 px label needs this many pixels of room along its axis
const PANEL_PX = 384; // the heatmap's longer side, at most

function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function s(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}

function hexToRgb(c) {
  const n = parseInt(c.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function fmt(x) {
  return x.toFixed(2);
}

// --- data: decoding the weights once per head -----------------------------------------------

class Data {
  constructor(model) {
    this.examples = model.get("examples") || [];
    this.L = model.get("n_layers");
    this.H = model.get("n_heads");
    const buf = model.get("weights") || new ArrayBuffer(0); // a DataView from ipywidgets
    this.raw = ArrayBuffer.isView(buf)
      ? new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
      : new DataView(buf);
    this.scores = model.get("scores") || [];
    this.colors = (model.get("colors") || []).map(hexToRgb);
    this.cache = new Map();
    this.maxCache = new Map();
  }
  shape(e) {
    const ex = this.examples[e];
    return [ex.queries.length, ex.keys.length];
  }
  // (T_q * T_k) Float32Array, NaN where masked (a future position of a causal example)
  head(e, l, h) {
    const key = `${e}/${l}/${h}`;
    let w = this.cache.get(key);
    if (w) return w;
    const ex = this.examples[e];
    const [Tq, Tk] = this.shape(e);
    const per = ex.causal ? (Tq * (Tq + 1)) / 2 : Tq * Tk;
    let p = ex.offset + (l * this.H + h) * per;
    w = new Float32Array(Tq * Tk);
    for (let i = 0; i < Tq; i++) {
      const n = ex.causal ? i + 1 : Tk;
      for (let j = 0; j < Tk; j++) {
        if (j < n) w[i * Tk + j] = this.raw.getUint16(2 * p++, true) / 65535;
        else w[i * Tk + j] = NaN;
      }
    }
    this.cache.set(key, w);
    return w;
  }
  // the weight drawn brightest: this head's largest (shared: every head's of this example),
  // leaving out a causal text's first query, which can only read itself (always 1.0)
  vmax(e, l, h, shared) {
    const key = shared ? `${e}` : `${e}/${l}/${h}`;
    if (this.maxCache.has(key)) return this.maxCache.get(key);
    let top = 1e-6;
    const [Tq, Tk] = this.shape(e);
    const first = this.examples[e].causal && Tq > 1 ? 1 : 0;
    const heads = shared ? [...Array(this.L * this.H).keys()] : [l * this.H + h];
    for (const k of heads) {
      const w = this.head(e, Math.floor(k / this.H), k % this.H);
      for (let i = first * Tk; i < w.length; i++) if (w[i] > top) top = w[i];
    }
    this.maxCache.set(key, top);
    return top;
  }
  rgb(v, vmax) {
    if (Number.isNaN(v)) return MASKED;
    const n = this.colors.length;
    return this.colors[Math.max(0, Math.min(n - 1, Math.floor((v / vmax) * n)))];
  }
}

// --- the view ---------------------------------------------------------------------------------

function render({ model, el }) {
  let data = new Data(model);
  const st = {
    ex: model.get("example"),
    layer: model.get("layer"),
    head: model.get("head"),
    query: model.get("query"), // the pinned query (synced)
    preview: null, // a hovered query, shown until the mouse leaves
    shared: model.get("shared_scale"),
    view: model.get("view"),
  };

  const root = h("div", "attn-view");
  root.tabIndex = 0;
  root._timings = [];
  el.appendChild(root);

  // header: the title; then the example and the text box, the shared-scale box and the view
  const title = h("div", "attn-title");
  const options = h("div", "attn-options");
  const controls = h("div", "attn-controls");
  const exLabel = h("label", "attn-example", "example ");
  const exSelect = h("select");
  exLabel.appendChild(exSelect);
  const sharedLabel = h("label", "attn-shared");
  const sharedBox = h("input");
  sharedBox.type = "checkbox";
  sharedLabel.append(sharedBox, " same scale for all heads");
  const viewBox = h("span", "attn-viewtoggle");
  const viewButtons = {};
  for (const v of ["heatmap", "lines"]) {
    const b = h("button", `attn-view-${v}`, v);
    b.type = "button";
    b.addEventListener("click", (ev) => act("view", ev, () => setView(v), { view: v }));
    viewButtons[v] = b;
    viewBox.appendChild(b);
  }
  const legend = h("span", "attn-legend");
  const legendBar = h("canvas", "attn-legend-bar");
  legendBar.width = 128;
  legendBar.height = 1;
  const legendLo = h("span", "attn-legend-lo", "0");
  const legendHi = h("span", "attn-legend-hi");
  const legendMasked = h("span", "attn-legend-masked", "future (masked)");
  legend.append(legendLo, legendBar, legendHi, legendMasked);
  // the text box (the one interaction that asks the kernel)
  const textRow = h("span", "attn-textrow");
  const textInput = h("input", "attn-text");
  textInput.type = "text";
  textInput.placeholder = "type a text, press Enter";
  const textStatus = h("span", "attn-text-status");
  textRow.append(textInput);
  options.append(sharedLabel, viewBox);
  controls.append(exLabel, textRow, options);

  // a line for the text box's answer and the example's note (e.g. what was cut)
  const noteLine = h("div", "attn-note");
  const noteText = h("span", "attn-note-text");
  noteLine.append(textStatus, noteText);
  const sentence = h("div", "attn-sentence");
  const strips = h("div", "attn-strips");

  // main: one head (heatmap or lines) beside the layers x heads grid
  const main = h("div", "attn-main");
  const panel = h("div", "attn-panel");
  const panelTitle = h("div", "attn-panel-title");
  const hmBox = h("div", "attn-heatmap");
  const hmCanvas = h("canvas", "attn-hm-canvas");
  const hmOverlay = s("svg", { class: "attn-hm-overlay" });
  const hmQueryBox = s("rect", { class: "attn-hm-query" });
  const hmHover = s("rect", { class: "attn-hm-hover" });
  hmOverlay.append(hmQueryBox, hmHover);
  const yLabels = h("div", "attn-ylabels");
  const xLabels = h("div", "attn-xlabels");
  const yTitle = h("div", "attn-axis attn-ytitle");
  const xTitle = h("div", "attn-axis attn-xtitle");
  const hmPlot = h("div", "attn-hm-plot");
  hmPlot.append(hmCanvas, hmOverlay);
  hmBox.append(yTitle, yLabels, hmPlot, xLabels, xTitle);
  const linesBox = h("div", "attn-lines");
  const linesSvg = s("svg", { class: "attn-lines-svg" });
  linesBox.appendChild(linesSvg);
  const readout = h("div", "attn-readout");
  panel.append(panelTitle, hmBox, linesBox);
  const grid = h("div", "attn-grid");
  const side = h("div", "attn-side");
  side.append(grid, legend, readout);
  main.append(panel, side);
  root.append(title, controls, noteLine, sentence, strips, main);

  // --- small helpers ----------------------------------------------------------------------
  const ex = () => data.examples[st.ex];
  const shownQuery = () => (st.preview === null ? st.query : st.preview);
  const clampQuery = (q, e = st.ex) => Math.max(0, Math.min(q, data.shape(e)[0] - 1));

  function timed(kind, ev, fn) {
    const t0 = performance.now();
    fn();
    const t1 = performance.now();
    const rec = { kind, ms: t1 - t0 };
    if (ev && ev.timeStamp) rec.latency = t1 - ev.timeStamp;
    root._timings.push(rec);
    if (root._timings.length > 1000) root._timings.splice(0, 500);
  }
  // a user's action: the DOM first, then the synced traits (never in reply to Python)
  function act(kind, ev, fn, sync) {
    timed(kind, ev, fn);
    if (sync) {
      model.set(sync); // all at once: one message, one change event each
      model.save_changes();
    }
  }

  // --- building the parts of one example ------------------------------------------------------
  let tokSpans = []; // strip spans of the keys (the text, coloured by the query's weights)
  let qSpans = []; // strip spans of the queries (the same as tokSpans for self-attention)
  let yLab = [];
  let xLab = [];
  let cell = 8;
  let thumbs = []; // [layer][head] -> {box, canvas, scores}
  let linesLeft = [];
  let linesRight = [];
  let linesG = null;
  let geom = { rowQ: 1, rowK: 1, xq: 0, xk: 0 };

  function buildControls() {
    title.textContent = model.get("title") || "";
    title.style.display = title.textContent ? "" : "none";
    exSelect.innerHTML = "";
    data.examples.forEach((e, i) => {
      const o = h("option", "", `${i}: ${e.title}`);
      o.value = String(i);
      exSelect.appendChild(o);
    });
    exLabel.style.display = data.examples.length > 1 ? "" : "none";
    sharedLabel.style.display = data.L * data.H > 1 ? "" : "none";
    textRow.style.display = model.get("text_box") ? "" : "none";
    buildGrid();
  }

  function buildStrip(tokens, cls, label) {
    const row = h("div", `attn-strip ${cls}`);
    if (label) row.appendChild(h("span", "attn-strip-label", label));
    const spans = tokens.map((t, i) => {
      const sp = h("span", "attn-tok", t);
      sp.dataset.i = String(i);
      row.appendChild(sp);
      return sp;
    });
    strips.appendChild(row);
    return spans;
  }

  function buildExample() {
    const e = ex();
    const [Tq, Tk] = data.shape(st.ex);
    exSelect.value = String(st.ex);
    noteText.textContent = e.note ? `${e.title}: ${e.note}` : "";
    showNote();
    legendMasked.style.display = e.causal ? "" : "none";
    strips.innerHTML = "";
    // one head: no grid of thumbnails, so the text goes beside the heatmap (less to scroll)
    if (data.L * data.H === 1) side.prepend(strips);
    else root.insertBefore(strips, main);
    if (e.self_attention) {
      tokSpans = buildStrip(e.keys, "attn-strip-self", "");
      qSpans = tokSpans;
    } else {
      qSpans = buildStrip(e.queries, "attn-strip-queries", e.query_name || "queries");
      tokSpans = buildStrip(e.keys, "attn-strip-keys", e.key_name || "keys");
    }
    // the heatmap: cells as large as fit, labels every `step` cells (12 px need 13 px of room)
    cell = Math.max(3, Math.min(24, Math.floor(PANEL_PX / Math.max(Tq, Tk))));
    hmCanvas.width = Tk;
    hmCanvas.height = Tq;
    const W = cell * Tk;
    const H = cell * Tq;
    hmCanvas.style.width = `${W}px`;
    hmCanvas.style.height = `${H}px`;
    hmOverlay.setAttribute("width", W);
    hmOverlay.setAttribute("height", H);
    hmPlot.style.width = `${W}px`;
    hmPlot.style.height = `${H}px`;
    const upright = e.keys.every((t) => [...t].length === 1);
    hmBox.classList.toggle("attn-words", !upright);
    yLabels.innerHTML = "";
    xLabels.innerHTML = "";
    yLabels.style.height = `${H}px`;
    xLabels.style.width = `${W}px`;
    yLab = e.queries.map((t, i) => {
      const d = h("div", "attn-lab", t);
      d.style.top = `${(i + 0.5) * cell}px`;
      yLabels.appendChild(d);
      return d;
    });
    xLab = e.keys.map((t, j) => {
      const d = h("div", "attn-lab", t);
      d.style.left = `${(j + 0.5) * cell}px`;
      xLabels.appendChild(d);
      return d;
    });
    const step = Math.ceil(LABEL_PX / cell);
    yTitle.textContent = `${e.query_name || "queries"}: attending${step > 1 ? ` (every ${step})` : ""}`;
    xTitle.textContent = `${e.key_name || "keys"}: attended to${step > 1 ? ` (every ${step})` : ""}`;
    hmBox.dataset.step = String(step);
    buildLines();
  }

  function buildLines() {
    const e = ex();
    const [Tq, Tk] = data.shape(st.ex);
    const H = cell * Math.max(Tq, Tk);
    const W = Math.max(260, Math.min(420, cell * Tk + 160));
    linesSvg.setAttribute("width", W);
    linesSvg.setAttribute("height", H + 8);
    linesSvg.innerHTML = "";
    linesG = s("g", { class: "attn-lines-g" });
    linesSvg.appendChild(linesG);
    const rowQ = H / Tq;
    const rowK = H / Tk;
    const xq = 70;
    const xk = W - 70;
    linesLeft = e.queries.map((t, i) => {
      const tx = s("text", { x: xq - 6, y: (i + 0.5) * rowQ + 4, class: "attn-ll", "text-anchor": "end" });
      tx.textContent = t;
      linesSvg.appendChild(tx);
      return tx;
    });
    linesRight = e.keys.map((t, j) => {
      const tx = s("text", { x: xk + 6, y: (j + 0.5) * rowK + 4, class: "attn-lr" });
      tx.textContent = t;
      linesSvg.appendChild(tx);
      return tx;
    });
    geom = { rowQ, rowK, xq, xk };
  }

  function buildGrid() {
    grid.innerHTML = "";
    thumbs = [];
    const n = data.L * data.H;
    grid.style.display = n > 1 ? "" : "none";
    if (n <= 1) return;
    const px = data.H <= 4 ? 80 : data.H <= 8 ? 60 : 44;
    grid.style.gridTemplateColumns = `auto repeat(${data.H}, ${px + 6}px)`;
    grid.appendChild(h("div", "attn-grid-corner", ""));
    for (let hd = 0; hd < data.H; hd++) grid.appendChild(h("div", "attn-grid-col", `head ${hd}`));
    for (let l = 0; l < data.L; l++) {
      grid.appendChild(h("div", "attn-grid-row", `layer ${l}`));
      const row = [];
      for (let hd = 0; hd < data.H; hd++) {
        const box = h("div", "attn-thumb");
        box.dataset.layer = String(l);
        box.dataset.head = String(hd);
        const c = h("canvas");
        c.style.width = `${px}px`;
        c.style.height = `${px}px`;
        const sc = h("div", "attn-thumb-scores");
        box.append(c, sc);
        box.addEventListener("click", (ev) =>
          act("thumbnail", ev, () => selectHead(l, hd), { layer: l, head: hd }),
        );
        grid.appendChild(box);
        row.push({ box, canvas: c, scores: sc });
      }
      thumbs.push(row);
    }
  }

  // --- drawing ------------------------------------------------------------------------------
  function paint(canvas, w, Tq, Tk, vmax) {
    if (canvas.width !== Tk) canvas.width = Tk;
    if (canvas.height !== Tq) canvas.height = Tq;
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(Tk, Tq);
    for (let k = 0; k < w.length; k++) {
      const [r, g, b] = data.rgb(w[k], vmax);
      img.data[4 * k] = r;
      img.data[4 * k + 1] = g;
      img.data[4 * k + 2] = b;
      img.data[4 * k + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  function scoreText(l, hd, all) {
    const out = [];
    for (const sc of data.scores) {
      if (!all && !sc.show) continue;
      const v = sc.values && sc.values[st.ex] ? sc.values[st.ex][l][hd] : null;
      if (v === null || v === undefined || Number.isNaN(v)) continue;
      if (all) {
        const c = sc.chance && sc.chance[st.ex] != null ? ` (chance ${fmt(sc.chance[st.ex])})` : "";
        out.push(`${sc.label} ${fmt(v)}${c}: ${sc.help}`);
      } else out.push([sc.label, fmt(v)]);
    }
    return out;
  }

  function drawThumbs() {
    if (!thumbs.length) return;
    const [Tq, Tk] = data.shape(st.ex);
    for (let l = 0; l < data.L; l++) {
      for (let hd = 0; hd < data.H; hd++) {
        const t = thumbs[l][hd];
        paint(t.canvas, data.head(st.ex, l, hd), Tq, Tk, data.vmax(st.ex, l, hd, st.shared));
        t.scores.innerHTML = "";
        for (const [name, v] of scoreText(l, hd, false)) {
          const r = h("div", "attn-score");
          r.append(h("span", "attn-score-name", name), h("span", "attn-score-value", v));
          t.scores.appendChild(r);
        }
        t.box.title = [`layer ${l}, head ${hd}`, ...scoreText(l, hd, true)].join("\n");
      }
    }
  }

  function markThumb() {
    for (const row of thumbs)
      for (const t of row)
        t.box.classList.toggle(
          "attn-selected",
          Number(t.box.dataset.layer) === st.layer && Number(t.box.dataset.head) === st.head,
        );
  }

  function drawHead() {
    const [Tq, Tk] = data.shape(st.ex);
    const vmax = data.vmax(st.ex, st.layer, st.head, st.shared);
    paint(hmCanvas, data.head(st.ex, st.layer, st.head), Tq, Tk, vmax);
    const scores = scoreText(st.layer, st.head, false)
      .map(([n, v]) => `${n} ${v}`)
      .join(" · ");
    const many = data.L * data.H > 1;
    panelTitle.textContent = many
      ? `layer ${st.layer}, head ${st.head}${scores ? `: ${scores}` : ""}`
      : "";
    panelTitle.style.display = many ? "" : "none";
    legendHi.textContent = fmt(vmax);
    legend.title = st.shared
      ? "one colour scale for every head of this example"
      : "each head scaled to its own largest weight";
    markThumb();
    drawQuery();
  }

  function drawLegend() {
    const ctx = legendBar.getContext("2d");
    const img = ctx.createImageData(128, 1);
    for (let x = 0; x < 128; x++) {
      const [r, g, b] = data.rgb((x + 0.5) / 128, 1);
      img.data.set([r, g, b, 255], 4 * x);
    }
    ctx.putImageData(img, 0, 0);
  }

  function topKeys(w, q, Tk, k) {
    const row = [];
    for (let j = 0; j < Tk; j++) {
      const v = w[q * Tk + j];
      if (!Number.isNaN(v)) row.push([v, j]);
    }
    row.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    return row.slice(0, k);
  }

  function describe(q, best) {
    const e = ex();
    const quote = (t) => `'${t}'`;
    if (!best.length || best[0][0] <= 0) {
      return `${e.query_name || "query"} ${q} ${quote(e.queries[q])} attends to nothing (every key is masked)`;
    }
    const part = ([v, j]) => {
      if (!e.self_attention) return `${j} ${quote(e.keys[j])} (${fmt(v)})`;
      const back = q - j;
      const where = back === 0 ? "itself" : back > 0 ? `${back} back` : `${-back} ahead`;
      return `${j} ${quote(e.keys[j])} (${where}, ${fmt(v)})`;
    };
    const qn = e.self_attention ? "position" : e.query_name || "query";
    const kn = e.self_attention ? "position" : e.key_name || "key";
    let text = `${qn} ${q} ${quote(e.queries[q])} attends most to ${kn} ${part(best[0])}`;
    const rest = best.slice(1).filter(([v]) => v > 0);
    if (rest.length === 1) text += `, then ${part(rest[0])}`;
    if (rest.length === 2) text += `, then ${part(rest[0])} and ${part(rest[1])}`;
    return `${text}.`;
  }

  function drawQuery() {
    const e = ex();
    const [Tq, Tk] = data.shape(st.ex);
    const q = clampQuery(shownQuery());
    const w = data.head(st.ex, st.layer, st.head);
    const vmax = data.vmax(st.ex, st.layer, st.head, st.shared);
    const best = topKeys(w, q, Tk, 3);
    sentence.textContent = describe(q, best);
    sentence.title = sentence.textContent;
    root.dataset.query = String(q);
    root.dataset.pinned = String(st.query);
    // the text, coloured by the query's weights (the heatmap's row, same colours)
    for (let j = 0; j < Tk; j++) {
      const v = w[q * Tk + j];
      const sp = tokSpans[j];
      if (Number.isNaN(v)) {
        sp.className = "attn-tok attn-masked";
        sp.style.background = "";
        sp.style.color = "";
        sp.title = `${j}: future position (masked)`;
      } else {
        const [r, g, b] = data.rgb(v, vmax);
        sp.className = "attn-tok";
        sp.style.background = `rgb(${r},${g},${b})`;
        sp.style.color = 0.299 * r + 0.587 * g + 0.114 * b > 140 ? "#000" : "#fff";
        sp.title = `${j}: weight ${v.toFixed(3)}`;
      }
    }
    for (const sp of qSpans) sp.classList.remove("attn-query", "attn-pinned");
    qSpans[q].classList.add("attn-query");
    if (st.preview !== null && st.preview !== st.query && qSpans[st.query])
      qSpans[st.query].classList.add("attn-pinned");
    // heatmap: outline the query's row; label the query and its top keys
    hmQueryBox.setAttribute("x", 1);
    hmQueryBox.setAttribute("y", q * cell + 1);
    hmQueryBox.setAttribute("width", Tk * cell - 2);
    hmQueryBox.setAttribute("height", Math.max(cell - 2, 1));
    const step = Number(hmBox.dataset.step);
    showLabels(yLab, [q], step);
    showLabels(xLab, best.map(([, j]) => j), step);
    if (st.view === "lines") drawLines(w, q, best, vmax);
  }

  // label the strong positions (in order, none on top of another), then every step-th where
  // there is room
  function showLabels(labels, strong, step, base = "attn-lab", extra = () => "") {
    const shown = [];
    const cls = new Array(labels.length).fill(`${base} attn-off`);
    for (const k of strong) {
      if (shown.every((o) => Math.abs(o - k) >= step)) {
        shown.push(k);
        cls[k] = `${base} attn-strong`;
      }
    }
    for (let i = 0; i < labels.length; i += step) {
      if (shown.every((o) => Math.abs(o - i) >= step)) cls[i] = base;
    }
    labels.forEach((d, i) => {
      const c = cls[i] + extra(i);
      if (d.getAttribute("class") !== c) d.setAttribute("class", c);
    });
  }

  function drawLines(w, q, best, vmax) {
    const e = ex();
    const [Tq, Tk] = data.shape(st.ex);
    const { rowQ, rowK, xq, xk } = geom;
    linesG.innerHTML = "";
    const y0 = (q + 0.5) * rowQ;
    for (let j = 0; j < Tk; j++) {
      const v = w[q * Tk + j];
      if (Number.isNaN(v) || v <= 0) continue;
      const a = Math.min(1, v / vmax);
      if (a < 0.02) continue;
      linesG.appendChild(
        s("line", {
          x1: xq,
          y1: y0,
          x2: xk,
          y2: (j + 0.5) * rowK,
          class: "attn-line",
          "stroke-opacity": (0.25 + 0.75 * a).toFixed(3),
          "stroke-width": (0.5 + 4 * a).toFixed(2),
        }),
      );
    }
    showLabels(linesLeft, [q], Math.ceil(LABEL_PX / rowQ), "attn-ll");
    const masked = (j) => (Number.isNaN(w[q * Tk + j]) ? " attn-masked" : "");
    const keys = best.map(([, j]) => j);
    showLabels(linesRight, keys, Math.ceil(LABEL_PX / rowK), "attn-lr", masked);
  }

  // the text box's answer, unless it is the note of the example shown (the typed one)
  function showNote() {
    const e = ex();
    const status = textStatus.textContent;
    textStatus.style.display = status && status !== e.note ? "" : "none";
    noteLine.style.display = noteText.textContent || textStatus.style.display === "" ? "" : "none";
  }

  function drawAll() {
    timed("draw-all", null, () => {
      st.query = clampQuery(st.query);
      buildExample();
      drawLegend();
      drawThumbs();
      setViewClasses();
      sharedBox.checked = st.shared;
      drawHead();
    });
  }

  function setViewClasses() {
    for (const v in viewButtons) viewButtons[v].classList.toggle("attn-on", v === st.view);
    hmBox.style.display = st.view === "heatmap" ? "" : "none";
    linesBox.style.display = st.view === "lines" ? "" : "none";
  }

  // --- what a user does ---------------------------------------------------------------------
  function selectHead(l, hd) {
    st.layer = l;
    st.head = hd;
    drawHead();
  }
  function setView(v) {
    st.view = v;
    setViewClasses();
    drawQuery();
  }
  function preview(q) {
    if (q === st.preview) return;
    st.preview = q;
    drawQuery();
  }
  function pin(q, ev) {
    act("pin", ev, () => {
      st.query = clampQuery(q);
      st.preview = null;
      drawQuery();
    }, { query: clampQuery(q) });
  }

  function tokenIndex(ev) {
    const t = ev.target.closest ? ev.target.closest(".attn-tok") : null;
    return t && t.dataset.i !== undefined ? Number(t.dataset.i) : null;
  }
  const queryStrip = () => (ex().self_attention ? ".attn-strip-self" : ".attn-strip-queries");
  strips.addEventListener("mouseover", (ev) => {
    const i = tokenIndex(ev);
    if (i !== null && ev.target.closest(queryStrip())) timed("hover", ev, () => preview(i));
  });
  strips.addEventListener("mouseleave", (ev) => timed("leave", ev, () => preview(null)));
  strips.addEventListener("click", (ev) => {
    const i = tokenIndex(ev);
    if (i !== null && ev.target.closest(queryStrip())) pin(i, ev);
  });

  function hmCell(ev) {
    const r = hmOverlay.getBoundingClientRect();
    const [Tq, Tk] = data.shape(st.ex);
    const i = Math.floor((ev.clientY - r.top) / cell);
    const j = Math.floor((ev.clientX - r.left) / cell);
    return i >= 0 && i < Tq && j >= 0 && j < Tk ? [i, j] : null;
  }
  hmOverlay.addEventListener("mousemove", (ev) => {
    const ij = hmCell(ev);
    if (!ij) return;
    const [i, j] = ij;
    timed("hover-heatmap", ev, () => {
      const e = ex();
      const [, Tk] = data.shape(st.ex);
      const v = data.head(st.ex, st.layer, st.head)[i * Tk + j];
      hmHover.setAttribute("x", j * cell);
      hmHover.setAttribute("y", i * cell);
      hmHover.setAttribute("width", cell);
      hmHover.setAttribute("height", cell);
      readout.textContent = `${i} '${e.queries[i]}' → ${j} '${e.keys[j]}': ${
        Number.isNaN(v) ? "masked (future)" : v.toFixed(3)
      }`;
      preview(i);
    });
  });
  hmOverlay.addEventListener("mouseleave", (ev) =>
    timed("leave", ev, () => {
      hmHover.setAttribute("width", 0);
      readout.textContent = "";
      preview(null);
    }),
  );
  hmOverlay.addEventListener("click", (ev) => {
    const ij = hmCell(ev);
    if (ij) pin(ij[0], ev);
  });
  linesSvg.addEventListener("mousemove", (ev) => {
    const { rowQ, xq } = geom;
    const r = linesSvg.getBoundingClientRect();
    if (ev.clientX - r.left > xq + 20) return;
    const i = Math.floor((ev.clientY - r.top) / rowQ);
    if (i >= 0 && i < data.shape(st.ex)[0]) timed("hover-lines", ev, () => preview(i));
  });
  linesSvg.addEventListener("mouseleave", (ev) => timed("leave", ev, () => preview(null)));
  linesSvg.addEventListener("click", () => {
    if (st.preview !== null) pin(st.preview, null);
  });

  exSelect.addEventListener("change", (ev) => {
    const e = Number(exSelect.value);
    const q = clampQuery(st.query, e);
    act("example", ev, () => {
      st.ex = e;
      st.query = q;
      st.preview = null;
      drawAll();
    }, { example: e, query: q });
  });
  sharedBox.addEventListener("change", (ev) => {
    act("shared", ev, () => {
      st.shared = sharedBox.checked;
      drawThumbs();
      drawHead();
    }, { shared_scale: sharedBox.checked });
  });
  root.addEventListener("keydown", (ev) => {
    if (ev.target === textInput) return;
    const [Tq] = data.shape(st.ex);
    const to = { ArrowLeft: st.query - 1, ArrowRight: st.query + 1, Home: 0, End: Tq - 1 }[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    pin(to, ev);
  });
  textInput.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    ev.preventDefault();
    textStatus.textContent = "waiting for the kernel…";
    textStatus.className = "attn-text-status attn-waiting";
    showNote();
    model.set("text", textInput.value);
    model.set("text_submits", (model.get("text_submits") || 0) + 1);
    model.save_changes();
  });

  // --- changes made in Python: redraw, never send back --------------------------------------
  const onModel = {
    "change:example": () => {
      const e = Math.min(model.get("example"), data.examples.length - 1);
      if (e === st.ex) return; // our own change, already drawn
      st.ex = e;
      st.query = clampQuery(model.get("query"));
      st.preview = null;
      drawAll();
    },
    "change:query": () => {
      const q = clampQuery(model.get("query"));
      if (q === st.query) return;
      st.query = q;
      st.preview = null;
      timed("py-query", null, drawQuery);
    },
    "change:layer change:head": () => {
      if (model.get("layer") === st.layer && model.get("head") === st.head) return;
      st.layer = model.get("layer");
      st.head = model.get("head");
      timed("py-head", null, drawHead);
    },
    "change:shared_scale": () => {
      if (model.get("shared_scale") === st.shared) return;
      st.shared = model.get("shared_scale");
      sharedBox.checked = st.shared;
      drawThumbs();
      drawHead();
    },
    "change:view": () => {
      if (model.get("view") === st.view) return;
      st.view = model.get("view");
      setViewClasses();
      drawQuery();
    },
    "change:text_status": () => {
      const msg = model.get("text_status");
      textStatus.textContent = msg;
      textStatus.title = msg;
      textStatus.className = "attn-text-status";
      showNote();
    },
    "change:text": () => {
      if (document.activeElement !== textInput) textInput.value = model.get("text");
    },
    "change:examples change:weights change:scores change:n_layers change:n_heads change:colors change:title change:text_box":
      () => reload(),
  };
  let reloading = false;
  function reload() {
    if (reloading) return;
    reloading = true;
    queueMicrotask(() => {
      reloading = false;
      data = new Data(model);
      st.ex = Math.min(model.get("example"), data.examples.length - 1);
      st.layer = model.get("layer");
      st.head = model.get("head");
      st.query = model.get("query");
      buildControls();
      drawAll();
    });
  }
  for (const ev in onModel) model.on(ev, onModel[ev]);

  buildControls();
  textInput.value = model.get("text") || "";
  drawAll();
  return () => {
    for (const ev in onModel) model.off(ev, onModel[ev]);
  };
}

export default { render };
