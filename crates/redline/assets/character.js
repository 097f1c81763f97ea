// redline's Character view: how the assistant writes, beside what it costs.
//
// Drawn from the daemon's answers: /api/character (`redline stats character --json` for
// the range: em-dashes per 1,000 words by day and model, the most repeated phrases with a
// sparkline each, the watch list by day), /api/stats/thinking (thinking over output by
// model), /api/git (commits made while sessions ran, beside their tokens) and
// /api/correlate (the user's own series beside cost and tokens, with Pearson and
// Spearman). Each panel stands alone: one answer failing or missing leaves a note in its
// own box. Loaded after app.js, whose chart helpers (el, svgBox, timeFrame, valueTicks,
// legend, caption, empty, palette, num, kilo) it uses.

/** The window of an answer as the charts' frames take it: `since` and `until`. */
function characterWindow(c) {
  if (c.spark) {
    const last = new Date(Date.parse(`${c.spark.first}T00:00:00Z`) + (c.spark.days - 1) * DAY_MS);
    return { since: c.spark.first, until: last.toISOString().slice(0, 10) };
  }
  const days = c.by_day.map(r => r.date).sort();
  const today = new Date().toISOString().slice(0, 10);
  return { since: days[0] || today, until: days[days.length - 1] || today };
}

/** Several series over the days of `w`: a line each, broken where a day has none. */
function dayLines(container, w, series, { format, title }) {
  const colors = palette();
  const max = Math.max(0, ...series.flatMap(s => s.points.map(p => p.v)));
  const f = timeFrame(container, w, { ticks: valueTicks(max), tickLabel: format });
  const r = Math.max(1, Math.min(2.5, f.dw / 2.5));
  series.forEach((s, j) => {
    const color = colors[j % colors.length];
    const pts = s.points
      .filter(p => f.x(p.date) !== null)
      .map(p => ({ p, i: f.index.get(p.date), x: f.x(p.date) + f.dw / 2, y: f.y(p.v) }))
      .sort((a, b) => a.i - b.i);
    let run = [];
    const flush = () => {
      if (run.length > 1)
        el("polyline", { class: "line", points: run.map(q => `${q.x},${q.y}`).join(" "), stroke: color, "data-series": s.name }, f.svg);
      run = [];
    };
    pts.forEach((q, k) => {
      if (k && q.i !== pts[k - 1].i + 1) flush();
      run.push(q);
    });
    flush();
    for (const q of pts)
      el("circle", { class: "mark", "data-date": q.p.date, "data-series": s.name, cx: q.x, cy: q.y, r, fill: color }, f.svg)
        .appendChild(el("title")).textContent = title(s, q.p);
  });
  legend(container, series.map(s => s.name), colors);
  container.dataset.rendered = "true";
}

/** A sparkline: one bar per value, scaled to the largest. */
function sparkline(values, label) {
  const W = 92, H = 18, n = Math.max(1, values.length), max = Math.max(1, ...values);
  const svg = el("svg", { class: "spark", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": label });
  const bw = W / n, gap = bw > 3 ? 1 : 0, color = palette()[0];
  values.forEach((v, i) => {
    const h = v > 0 ? Math.max(1.5, (v / max) * (H - 2)) : 0.6;
    const bar = { x: i * bw + gap / 2, y: H - h, width: Math.max(0.5, bw - gap), height: h, class: v > 0 ? "bar" : "none" };
    if (v > 0) bar.fill = color;
    el("rect", bar, svg);
  });
  return svg;
}

/** A table with `head` (names; a trailing `#` makes a figure column) and `rows` (cells:
 *  text, or a node). */
function characterTable(container, head, rows) {
  const t = document.createElement("table");
  const hr = t.createTHead().insertRow();
  for (const h of head) {
    const th = document.createElement("th");
    th.textContent = h.replace(/#$/, "");
    if (h.endsWith("#")) th.className = "num";
    hr.appendChild(th);
  }
  const body = t.createTBody();
  for (const cells of rows) {
    const tr = body.insertRow();
    cells.forEach((c, i) => {
      const td = tr.insertCell();
      if (head[i].endsWith("#")) td.className = "num";
      if (c instanceof Node) td.appendChild(c);
      else td.textContent = c;
    });
  }
  const wrap = document.createElement("div");
  wrap.className = "table-scroll";
  wrap.appendChild(t);
  container.appendChild(wrap);
}

/** The watch list's counts by day as bars over the window (a bar per day, or per few days
 *  past SPARK_MAX_BARS, as the phrases' sparklines are). */
function watchBars(c, index) {
  const spark = c.spark;
  if (!spark) return null;
  const bars = new Array(spark.bars).fill(0);
  const first = Date.parse(`${spark.first}T00:00:00Z`);
  for (const r of c.watch_by_day) {
    const offset = Math.round((Date.parse(`${r.date}T00:00:00Z`) - first) / DAY_MS);
    if (offset < 0 || offset >= spark.days) continue;
    bars[Math.floor((offset * spark.bars) / spark.days)] += r.counts[index] || 0;
  }
  return bars;
}

const per1k = v => (v >= 10 ? v.toFixed(0) : v.toFixed(1));

const characterCharts = {
  /** Em-dashes per 1,000 words of the assistant's text, a line per model. */
  emdash(c) {
    const w = characterWindow(c);
    const models = [...new Set(c.by_day_model.map(r => r.model))].sort();
    if (!models.length) return empty(this.el, "No assistant text in this window.");
    const series = models.map(m => ({
      name: m || "(none)",
      points: c.by_day_model.filter(r => r.model === m && r.words > 0)
        .map(r => ({ date: r.date, v: (1000 * r.em_dashes) / r.words, r })),
    }));
    dayLines(this.el, w, series, {
      format: v => String(Math.round(v * 10) / 10),
      title: (s, p) => `${p.date} ${s.name}: ${per1k(p.v)} per 1k words (${num(p.r.em_dashes)} in ${num(p.r.words)} words)`,
    });
    const a = c.totals, u = c.user;
    caption(this.el, `Assistant ${a.em_dashes_per_1k_words.toFixed(2)} per 1k words (${num(a.em_dashes)} em-dashes in ${num(a.words)} words); ` +
      `your prompts ${u.em_dashes_per_1k_words.toFixed(2)} (${num(u.em_dashes)} in ${num(u.words)}).`);
  },
  /** The most repeated phrases, each with its sparkline over the window. */
  phrases(c) {
    if (!c.phrases.length) return empty(this.el, "No phrases in this window.");
    this.el.textContent = "";
    characterTable(this.el, ["phrase", "count#", c.spark ? "trend" : ""],
      c.phrases.map(p => [p.phrase, `${p.error > 0 ? "~" : ""}${num(p.count)}`,
        p.bars ? sparkline(p.bars, `${p.phrase}: ${p.bars.join(", ")}`) : ""]));
    const note = document.createElement("p");
    note.className = "note";
    note.textContent = `Sentence openers and short sentences, from ${num(c.phrases_seen)} seen; ~ marks a count that may hold up to its error of displaced phrases.`;
    this.el.appendChild(note);
    this.el.dataset.rendered = "true";
  },
  /** The watch list, counted exactly, with its days. */
  watch(c) {
    if (!c.watch.length) return empty(this.el, "The watch list is empty ([text] watch in config.toml).");
    this.el.textContent = "";
    characterTable(this.el, ["phrase", "count#", c.spark ? "trend" : ""],
      c.watch.map((p, i) => {
        const bars = watchBars(c, i);
        return [p.phrase, num(p.count), bars ? sparkline(bars, `${p.phrase}: ${bars.join(", ")}`) : ""];
      }));
    this.el.dataset.rendered = "true";
  },
  /** Thinking over output by model: a bar each, solid when exact, hatched when estimated. */
  thinking(t) {
    const rows = (t.by_model || []).filter(r => r.output_tokens > 0);
    if (!rows.length) return empty(this.el, "No responses in this window.");
    const row = 18, NAME_W = 150, svg = svgBox(this.el, CHART_W, row * rows.length + 4), color = palette()[0];
    const pattern = el("pattern", { id: "rl-hatch-model", width: 4, height: 4, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
      el("defs", {}, svg));
    el("rect", { width: 4, height: 4, fill: color, "fill-opacity": .3 }, pattern);
    el("rect", { width: 2, height: 4, fill: color }, pattern);
    const room = CHART_W - NAME_W - 8 - 40;
    rows.forEach((r, i) => {
      const y = i * row;
      el("text", { class: "name", x: 0, y: y + 13 }, svg).textContent = r.model;
      const known = typeof r.ratio === "number" && r.basis !== "unknown";
      const wdt = known ? Math.max(1, Math.min(1, r.ratio) * room) : 0;
      if (known)
        el("rect", { class: "mark", "data-model": r.model, x: NAME_W + 8, y: y + 2, width: wdt, height: row - 5,
                     fill: r.basis === "estimate" ? "url(#rl-hatch-model)" : color }, svg)
          .appendChild(el("title")).textContent = `${r.model}: ${r.ratio.toFixed(2)} (${r.basis}; ${num(r.thinking_tokens || 0)} of ${num(r.output_tokens)} output tokens)`;
      el("text", { class: "value", x: NAME_W + 12 + wdt, y: y + 13 }, svg).textContent = known ? percent(r.ratio) : "?";
    });
    legend(this.el, ["exact", "estimate"], [color, `repeating-linear-gradient(45deg, ${color} 0 2px, transparent 2px 4px)`]);
    this.el.dataset.rendered = "true";
  },
};

/** Draws the Character view for the chosen range. A newer choice made while one loads
 *  wins; each panel carries `data-range` once drawn for it. */
let characterRun = 0;
async function loadCharacter() {
  const run = ++characterRun;
  const days = document.getElementById("char-days").value;
  const said = document.getElementById("char-state");
  const at = name => ({ el: document.querySelector(`[data-character="${name}"]`) });
  const get = async url => {
    const r = await fetch(url, { cache: "no-store" });
    if (!r.ok) throw new Error(`${url.split("?")[0]}: ${r.status} ${(await r.text()).trim()}`);
    return r.json();
  };
  const draw = (names, d, err) => {
    if (run !== characterRun) return;
    for (const n of names) {
      const c = at(n);
      try {
        if (err) throw err;
        (characterCharts[n] || extraCharts[n]).call(c, d);
      } catch (e) {
        empty(c.el, `Could not load: ${e.message}`);
      }
      c.el.dataset.range = days;
    }
  };
  said.hidden = false;
  said.textContent = "Reading the transcripts' text…";
  const text = get(`/api/character?days=${days}&top=15`).then(c => {
    if (run !== characterRun) return;
    if (c.enabled === false) {
      said.textContent = `Text statistics are off: ${c.reason}.`;
      for (const n of ["emdash", "phrases", "watch"]) empty(at(n).el, "Text statistics are off.");
      return;
    }
    const w = characterWindow(c);
    said.textContent = `${w.since} to ${w.until}: ${num(c.read.pieces)} pieces of text in ${num(c.read.files)} files.`;
    draw(["emdash", "phrases", "watch"], c, null);
  }, e => {
    said.textContent = "";
    said.hidden = true;
    draw(["emdash", "phrases", "watch"], null, e);
  });
  const thinking = get(`/api/stats/thinking?days=${days}`).then(t => draw(["thinking"], t, null), e => draw(["thinking"], null, e));
  await Promise.all([text, thinking, ...Object.keys(extraCharts).map(n =>
    get(extraCharts[n].url(days)).then(d => draw([n], d, null), e => draw([n], null, e)))]);
}

/** Panels drawn from other answers than the text's: each a function of the answer, with
 *  `url(days)` saying where it is asked. */
const extraCharts = {};

/** A scatter of days: `x` and `y` per point, each axis from 0 with its own figures. */
function scatter(container, points, { xLabel, yLabel, xFormat, yFormat, title }) {
  const H = 190, T = 8, B = 30, R = 6;
  const svg = el("svg", { viewBox: `0 0 ${CHART_W} ${H}` }, container);
  const xt = valueTicks(Math.max(0, ...points.map(p => p.x))), yt = valueTicks(Math.max(0, ...points.map(p => p.y)));
  const grid = el("g", { class: "grid" }, svg);
  const ylabels = yt.map(v => {
    const t = el("text", { class: "ylabel", "text-anchor": "end", "dominant-baseline": "middle" }, svg);
    t.textContent = yFormat(v);
    return t;
  });
  const L = Math.ceil(Math.max(14, ...ylabels.map(width))) + 10, x1 = CHART_W - R;
  const X = v => L + (v / xt[xt.length - 1]) * (x1 - L), Y = v => H - B - (v / yt[yt.length - 1]) * (H - B - T);
  yt.forEach((v, i) => {
    el("line", { class: v === 0 ? "axis" : "gridline", x1: L, x2: x1, y1: Y(v), y2: Y(v) }, grid);
    ylabels[i].setAttribute("x", L - 6);
    ylabels[i].setAttribute("y", Y(v));
  });
  let right = -Infinity;
  xt.forEach(v => {
    el("line", { class: v === 0 ? "axis" : "gridline", x1: X(v), x2: X(v), y1: T, y2: H - B }, grid);
    const t = el("text", { class: "xlabel", x: X(v), y: H - B + 12, "text-anchor": "middle" }, svg);
    t.textContent = xFormat(v);
    const half = width(t) / 2;
    if (X(v) - half < right + LABEL_GAP || X(v) + half > CHART_W) t.remove();
    else right = X(v) + half;
  });
  el("text", { class: "xlabel", x: (L + x1) / 2, y: H - 3, "text-anchor": "middle" }, svg).textContent = xLabel;
  el("text", { class: "ylabel", x: L + 4, y: T + 8 }, svg).textContent = yLabel;
  const color = palette()[0];
  for (const p of points)
    el("circle", { class: "mark", "data-date": p.date, cx: X(p.x), cy: Y(p.y), r: 3, fill: color, "fill-opacity": .75 }, svg)
      .appendChild(el("title")).textContent = title(p);
}

/** Each [[correlate]] source against Claude's cost (or tokens): a dot per day that has
 *  both, and the reading. */
extraCharts.correlate = function (d) {
  if (!d.sources.length) return empty(this.el, "No [[correlate]] sources in config.toml (see docs/stats.md, Correlate).");
  this.el.textContent = "";
  const usage = new Map(d.usage.daily.map(u => [u.date, u]));
  for (const s of d.sources) {
    const box = document.createElement("div");
    box.className = "series";
    box.dataset.source = s.name;
    const h = document.createElement("h3");
    h.textContent = s.name;
    box.appendChild(h);
    this.el.appendChild(box);
    if (s.error) {
      const p = document.createElement("p");
      p.className = "note error";
      p.textContent = s.error;
      box.appendChild(p);
    }
    const against = s.against.includes("cost") ? "cost" : "tokens";
    const points = s.daily.filter(x => typeof x.value === "number" && usage.has(x.date)).map(x => {
      const u = usage.get(x.date);
      return { date: x.date, x: against === "cost" ? u.cost_usd : u.tokens, y: x.value };
    });
    if (!points.length) {
      const p = document.createElement("p");
      p.className = "empty";
      p.textContent = "No days with figures in this window.";
      box.appendChild(p);
      continue;
    }
    scatter(box, points, {
      xLabel: against === "cost" ? "Claude cost per day" : "Claude tokens per day", yLabel: s.name,
      xFormat: against === "cost" ? dollars : tokensTick, yFormat: v => kilo(v),
      title: p => `${p.date}: ${against === "cost" ? `$${p.x.toFixed(2)}` : `${num(p.x)} tokens`}, ${s.name} ${p.y}`,
    });
    const c = s.correlations.find(x => x.against === against) || s.correlations[0];
    if (c) {
      const p = document.createElement("p");
      p.className = "caption reading";
      p.textContent = c.reading;
      box.appendChild(p);
    }
  }
  this.el.dataset.rendered = "true";
};
extraCharts.correlate.url = days => `/api/correlate?days=${days}`;

/** Commits made while sessions ran, day by day: the day's tokens as a bar, its commits as
 *  a figure in a disc above it. */
extraCharts.git = function (g) {
  const t = g.totals || {};
  const skipped = (g.skipped || []).length;
  if (!g.by_day.length) {
    return empty(this.el, skipped ? `No repository to read: ${g.skipped.map(x => x.reason).filter((r, i, a) => a.indexOf(r) === i).join("; ")}.`
      : "No sessions in a git repository in this window.");
  }
  const today = new Date().toISOString().slice(0, 10);
  const w = { since: g.since || g.by_day[0].date, until: today };
  const f = timeFrame(this.el, w, { H: 180, ticks: valueTicks(Math.max(0, ...g.by_day.map(d => d.tokens))), tickLabel: tokensTick });
  const colors = palette(), gap = barGap(f.dw);
  for (const d of g.by_day) {
    const x = f.x(d.date);
    if (x === null) continue;
    const h = f.y(0) - f.y(d.tokens);
    el("rect", { class: "mark", "data-date": d.date, x: x + gap / 2, y: f.y(0) - h, width: Math.max(0.8, f.dw - gap), height: h, fill: colors[0] }, f.svg)
      .appendChild(el("title")).textContent = `${d.date}: ${num(d.tokens)} tokens, $${d.cost_usd.toFixed(2)}, ${d.commits} commit${d.commits === 1 ? "" : "s"}`;
    if (!d.commits) continue;
    const r = Math.max(3, Math.min(7, f.dw / 2)), cx = x + f.dw / 2, cy = Math.max(f.T + r, f.y(d.tokens) - r - 2);
    const g2 = el("g", { class: "commits", "data-date": d.date, "data-commits": d.commits }, f.svg);
    el("circle", { cx, cy, r, fill: colors[1] }, g2);
    if (r >= 5) el("text", { class: "commit-count", x: cx, y: cy + 0.5, "text-anchor": "middle", "dominant-baseline": "middle" }, g2).textContent = d.commits;
    g2.appendChild(el("title")).textContent = `${d.date}: ${d.commits} commit${d.commits === 1 ? "" : "s"}, +${d.lines_added} -${d.lines_removed} lines`;
  }
  legend(this.el, ["tokens of sessions in a repository", "commits"], colors);
  const per = v => (v === null || v === undefined ? "–" : kilo(v));
  caption(this.el, `${num(t.commits)} commits, +${num(t.lines_added)} -${num(t.lines_removed)} lines; ` +
    `${per(t.tokens_per_commit)} tokens and ${t.cost_per_commit === null ? "–" : `$${t.cost_per_commit.toFixed(2)}`} a commit, ` +
    `${per(t.tokens_per_line)} tokens a changed line.`);
  const notes = [];
  if (g.otel && (g.otel.commits || g.otel.lines_added || g.otel.lines_removed)) notes.push(`Claude Code reported ${num(g.otel.commits)} commits and +${num(g.otel.lines_added)} -${num(g.otel.lines_removed)} lines (OpenTelemetry, since the daemon started).`);
  if (skipped) notes.push(`${skipped} director${skipped === 1 ? "y" : "ies"} passed over (not a repository, or gone).`);
  for (const n of notes) {
    const p = document.createElement("p");
    p.className = "note";
    p.textContent = n;
    this.el.appendChild(p);
  }
  this.el.dataset.rendered = "true";
};
extraCharts.git.url = days => (days === "all" ? "/api/git" : `/api/git?days=${days}`);
