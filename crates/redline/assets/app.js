// redline's page: the virtual cluster (live over /events) and the deep stats
// (/api/stats/*). No framework and no build step: the daemon embeds this file.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const SWEEP = 270; // degrees of dial, from -135 to +135
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

function el(name, attrs = {}, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function polar(cx, cy, r, fraction) {
  const a = ((-SWEEP / 2 + SWEEP * fraction) - 90) * Math.PI / 180;
  return [cx + r * Math.cos(a), cy + r * Math.sin(a)];
}

function arc(cx, cy, r, from, to) {
  const [x1, y1] = polar(cx, cy, r, from);
  const [x2, y2] = polar(cx, cy, r, to);
  const large = (to - from) * SWEEP > 180 ? 1 : 0;
  return `M ${x1} ${y1} A ${r} ${r} 0 ${large} 1 ${x2} ${y2}`;
}

// ---------------------------------------------------------------- gauges

/** One dial: face, ticks, labels, red zone and a needle that eases to its target. */
class Gauge {
  constructor(figure, scale) {
    this.figure = figure;
    this.shown = 0;      // fraction the needle shows now
    this.target = null;  // fraction it moves to; null = unknown (rests at zero)
    this.speed = 0;      // fractions per second
    const svg = el("svg", { viewBox: "0 0 200 200", role: "img", "aria-label": scale.name });
    figure.insertBefore(svg, figure.firstChild);
    el("circle", { class: "face", cx: 100, cy: 100, r: 92 }, svg);
    if (scale.zone) el("path", { class: "zone", d: arc(100, 100, 78, scale.zone[0], scale.zone[1]) }, svg);
    for (let i = 0; i <= 40; i++) {
      const f = i / 40, major = i % 4 === 0;
      const [x1, y1] = polar(100, 100, 84, f);
      const [x2, y2] = polar(100, 100, major ? 70 : 76, f);
      el("line", { class: major ? "tick" : "tick minor", x1, y1, x2, y2 }, svg);
    }
    scale.labels.forEach(([f, text]) => {
      const [x, y] = polar(100, 100, 56, f);
      el("text", { class: "label", x, y }, svg).textContent = text;
    });
    el("text", { class: "unit", x: 100, y: 172 }, svg).textContent = scale.unit;
    this.needle = el("g", {}, svg);
    el("path", { class: "needle", d: "M 97 104 L 100 24 L 103 104 Z" }, this.needle);
    el("circle", { class: "hub", cx: 100, cy: 100, r: 7 }, svg);
    this.draw();
  }

  set(fraction) {
    this.target = fraction === null || fraction === undefined ? null : Math.min(1, Math.max(0, fraction));
  }

  /** Moves the needle toward its target: accelerating, never faster than 1.5 sweeps a
   *  second, braking so it arrives without overshoot (the firmware's idea, on screen). */
  step(dt) {
    const goal = this.target === null ? 0 : this.target;
    const gap = goal - this.shown;
    if (reducedMotion.matches || Math.abs(gap) < 0.0005) {
      this.shown = goal;
      this.speed = 0;
    } else {
      const accel = 6, max = 1.5;
      const brake = Math.sqrt(2 * accel * Math.abs(gap));
      this.speed = Math.min(max, brake, Math.abs(this.speed) + accel * dt) * Math.sign(gap);
      const move = this.speed * dt;
      this.shown = Math.abs(move) >= Math.abs(gap) ? goal : this.shown + move;
    }
    this.draw();
  }

  draw() {
    this.needle.setAttribute("transform", `rotate(${-SWEEP / 2 + SWEEP * this.shown} 100 100)`);
    this.figure.dataset.value = this.target === null ? "" : this.shown.toFixed(4);
  }
}

function scales(cfg) {
  const full = cfg.tach_redline * 1.25;
  const k = v => v >= 1000 ? `${Math.round(v / 100) / 10}k` : `${Math.round(v)}`;
  const t = cfg.thresholds;
  return {
    tach: { name: "tach", unit: "tokens/min", zone: [cfg.tach_redline / full, 1],
            labels: [0, .2, .4, .6, .8, 1].map(f => [f, k(f * full)]) },
    fuel: { name: "fuel", unit: "block", zone: [0, t.fuel_low], labels: [[0, "E"], [.5, "½"], [1, "F"]] },
    cost: { name: "cost", unit: "USD today", zone: null,
            labels: [0, .25, .5, .75, 1].map(f => [f, `$${Math.round(f * cfg.cost_full_scale_usd)}`]) },
    temp: { name: "temp", unit: "context", zone: [t.hot, 1], labels: [[0, "C"], [.5, "½"], [t.hot, "AC"], [1, "H"]] },
  };
}

// ---------------------------------------------------------------- live data

const state = { gauges: {}, usage: null, connected: false };

function fmt(n) { return Math.round(n).toLocaleString("en-US"); }
function pct(f) { return f === null || f === undefined ? "–" : `${Math.round(f * 100)}%`; }

function show(usage) {
  state.usage = usage;
  for (const [name, g] of Object.entries(state.gauges)) g.set(usage.gauges[name]);
  for (const lamp of document.querySelectorAll("[data-lamp]")) {
    let s = usage.lamps[lamp.dataset.lamp] || "off";
    if (lamp.dataset.lamp === "check" && !state.connected) s = "blink";
    lamp.dataset.state = s;
  }
  const f = usage.fuel, c = usage.context;
  const put = (k, v) => { document.querySelector(`[data-readout="${k}"]`).textContent = v; };
  put("tach", `${fmt(usage.tach.tokens_per_min)} tokens/min (redline ${fmt(usage.tach.redline)})`);
  put("fuel", f.remaining === null ? "unknown" : `${pct(f.remaining)} left (${f.basis === "rate_limits" ? "plan" : "estimate"})`);
  put("cost", `$${usage.cost.today_usd.toFixed(2)} today`);
  put("context", c.used_tokens === null ? "–" : `${fmt(c.used_tokens)} of ${fmt(c.window_tokens)}`);
  put("model", usage.model.id || "–");
  document.title = `TACH ${pct(usage.gauges.tach)} · FUEL ${pct(usage.gauges.fuel)} — redline`;
}

function connection(ok) {
  state.connected = ok;
  const s = document.getElementById("status");
  s.dataset.connection = ok ? "live" : "lost";
  s.textContent = ok ? "live" : "daemon unreachable";
  const check = document.querySelector('[data-lamp="check"]');
  if (!ok) check.dataset.state = "blink";
  else if (state.usage) check.dataset.state = state.usage.lamps.check;
}

async function refresh() {
  try {
    const r = await fetch("/usage", { cache: "no-store" });
    if (!r.ok) throw new Error(r.status);
    connection(true);
    show(await r.json());
  } catch (e) {
    connection(false);
  }
}

function listen() {
  const es = new EventSource("/events");
  es.addEventListener("usage", ev => { connection(true); show(JSON.parse(ev.data)); });
  es.onopen = () => { connection(true); };
  es.onerror = () => {
    connection(false);
    // EventSource retries by itself while the daemon is merely gone; a closed one is
    // reopened here.
    if (es.readyState === EventSource.CLOSED) setTimeout(listen, 2000);
  };
}

function animate() {
  let last = performance.now();
  const frame = now => {
    const dt = Math.min(0.1, (now - last) / 1000);
    last = now;
    for (const g of Object.values(state.gauges)) g.step(dt);
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}

// ---------------------------------------------------------------- stats

const palette = () => getComputedStyle(document.documentElement).getPropertyValue("--series").split(",").map(s => s.trim());

function svgBox(container, w, h) {
  container.textContent = "";
  return el("svg", { viewBox: `0 0 ${w} ${h}` }, container);
}

function empty(container, text) {
  container.innerHTML = `<p class="empty">${text}</p>`;
  container.dataset.rendered = "true";
}

function legend(container, names, colors) {
  const d = document.createElement("div");
  d.className = "legend";
  names.forEach((n, i) => {
    const s = document.createElement("span");
    s.innerHTML = `<i style="background:${colors[i % colors.length]}"></i>`;
    s.append(n);
    d.appendChild(s);
  });
  container.appendChild(d);
}

function bars(container, labels, stacks, names, opts = {}) {
  const W = 360, H = 170, L = 40, B = 20, colors = palette();
  const totals = stacks.map(s => s.reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...totals, opts.line || 0);
  const svg = svgBox(container, W, H);
  const bw = (W - L) / Math.max(1, labels.length);
  el("line", { class: "axis", x1: L, y1: H - B, x2: W, y2: H - B }, svg);
  el("text", { x: 2, y: 12 }, svg).textContent = opts.format ? opts.format(max) : fmt(max);
  stacks.forEach((stack, i) => {
    let y = H - B;
    stack.forEach((v, j) => {
      const h = (v / max) * (H - B - 10);
      el("rect", { x: L + i * bw + 1, y: y - h, width: Math.max(1, bw - 2), height: h, fill: colors[j % colors.length] }, svg)
        .appendChild(el("title")).textContent = `${labels[i]} ${names[j] || ""}: ${opts.format ? opts.format(v) : fmt(v)}`;
      y -= h;
    });
    if (labels.length <= 14 || i % Math.ceil(labels.length / 10) === 0)
      el("text", { x: L + i * bw, y: H - 6 }, svg).textContent = labels[i].slice(5);
  });
  if (opts.line) {
    const y = H - B - (opts.line / max) * (H - B - 10);
    el("line", { class: "budget", x1: L, y1: y, x2: W, y2: y }, svg);
    el("text", { x: W - 60, y: y - 3 }, svg).textContent = "budget";
  }
  if (names.length > 1) legend(container, names, colors);
  container.dataset.rendered = "true";
}

const charts = {
  daily(d) {
    if (!d.rows.length) return empty(this.el, "No responses in this window.");
    const models = [...new Set(d.rows.flatMap(r => r.models.map(m => m.model)))];
    bars(this.el, d.rows.map(r => r.date),
      d.rows.map(r => models.map(m => (r.models.find(x => x.model === m) || { tokens: { total: 0 } }).tokens.total)), models);
  },
  cost(d) {
    if (!d.rows.length) return empty(this.el, "No responses in this window.");
    bars(this.el, d.rows.map(r => r.date), d.rows.map(r => [r.cost]), ["cost"], { format: v => `$${v.toFixed(2)}` });
  },
  blocks(d) {
    if (!d.rows.length) return empty(this.el, "No 5-hour blocks in this window.");
    bars(this.el, d.rows.map(r => r.start.slice(0, 16).replace("T", " ")), d.rows.map(r => [r.tokens]), ["tokens"],
      { line: d.budget_tokens || 0 });
  },
  projects(d) {
    if (!d.rows.length) return empty(this.el, "No projects in this window.");
    const W = 360, row = 18, svg = svgBox(this.el, W, row * d.rows.length + 4), max = Math.max(...d.rows.map(r => r.cost), 0.01);
    const colors = palette();
    d.rows.forEach((r, i) => {
      el("rect", { x: 150, y: i * row + 2, width: Math.max(1, (r.cost / max) * (W - 210)), height: row - 5, fill: colors[0] }, svg);
      el("text", { x: 0, y: i * row + 13 }, svg).textContent = r.project.length > 26 ? "…" + r.project.slice(-25) : r.project;
      el("text", { x: W - 55, y: i * row + 13 }, svg).textContent = `$${r.cost.toFixed(2)}`;
    });
    this.el.dataset.rendered = "true";
  },
  cache(d) {
    const rows = d.rows.filter(r => r.hit_ratio !== null);
    if (!rows.length) return empty(this.el, "No prompts in this window.");
    const W = 360, H = 150, L = 30, B = 20, svg = svgBox(this.el, W, H);
    const x = i => L + (i / Math.max(1, rows.length - 1)) * (W - L - 5), y = v => H - B - v * (H - B - 10);
    el("line", { class: "axis", x1: L, y1: H - B, x2: W, y2: H - B }, svg);
    [0, .5, 1].forEach(v => { el("text", { x: 0, y: y(v) + 3 }, svg).textContent = `${v * 100}%`; });
    el("polyline", { points: rows.map((r, i) => `${x(i)},${y(r.hit_ratio)}`).join(" "), fill: "none", stroke: palette()[0], "stroke-width": 2 }, svg);
    rows.forEach((r, i) => {
      el("circle", { cx: x(i), cy: y(r.hit_ratio), r: 2.5, fill: palette()[0] }, svg)
        .appendChild(el("title")).textContent = `${r.date}: ${pct(r.hit_ratio)}`;
    });
    el("text", { x: L + 4, y: 12 }, svg).textContent = `overall ${pct(d.hit_ratio)} of prompt tokens read from cache`;
    this.el.dataset.rendered = "true";
  },
  hours(d) {
    const W = 360, cell = 13, L = 30, svg = svgBox(this.el, W, 7 * cell + 18);
    const max = Math.max(1, ...d.tokens.flat());
    d.tokens.forEach((row, day) => {
      el("text", { x: 0, y: day * cell + 10 }, svg).textContent = d.weekdays[day];
      row.forEach((v, h) => {
        el("rect", { x: L + h * cell, y: day * cell, width: cell - 1, height: cell - 1, fill: palette()[1], "fill-opacity": 0.06 + 0.94 * v / max }, svg)
          .appendChild(el("title")).textContent = `${d.weekdays[day]} ${h}:00 — ${fmt(v)} tokens`;
      });
    });
    [0, 6, 12, 18, 23].forEach(h => { el("text", { x: L + h * cell, y: 7 * cell + 12 }, svg).textContent = `${h}h`; });
    this.el.dataset.rendered = "true";
  },
  sessions(d) {
    if (!d.rows.length) return empty(this.el, "No sessions in this window.");
    const t = document.createElement("table");
    t.innerHTML = "<thead><tr><th>session</th><th>project</th><th>last</th><th class=num>tokens</th><th class=num>cost</th></tr></thead>";
    const body = document.createElement("tbody");
    for (const r of d.rows) {
      const tr = document.createElement("tr");
      for (const [v, num] of [[r.session.slice(0, 8), 0], [r.project, 0], [r.last.replace("T", " ").slice(0, 16), 0], [fmt(r.tokens.total), 1], [`$${r.cost.toFixed(2)}`, 1]]) {
        const td = document.createElement("td");
        if (num) td.className = "num";
        td.textContent = v;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    t.appendChild(body);
    this.el.textContent = "";
    this.el.appendChild(t);
    this.el.dataset.rendered = "true";
  },
};

async function loadStats() {
  const days = document.getElementById("days").value;
  const get = async name => (await fetch(`/api/stats/${name}?days=${days}&limit=10`, { cache: "no-store" })).json();
  const [daily, blocks, projects, cache, sessions, hours] =
    await Promise.all(["daily", "blocks", "projects", "cache", "sessions", "hours"].map(get));
  const at = name => ({ el: document.querySelector(`[data-chart="${name}"]`) });
  charts.daily.call(at("daily"), daily);
  charts.cost.call(at("cost"), daily);
  charts.blocks.call(at("blocks"), blocks);
  charts.projects.call(at("projects"), projects);
  charts.cache.call(at("cache"), cache);
  charts.hours.call(at("hours"), hours);
  charts.sessions.call(at("sessions"), sessions);
}

// ---------------------------------------------------------------- views

function route() {
  const view = location.hash === "#stats" ? "stats" : "cluster";
  for (const s of document.querySelectorAll("[data-view]")) s.hidden = s.dataset.view !== view;
  for (const a of document.querySelectorAll("[data-view-link]"))
    a.setAttribute("aria-current", a.dataset.viewLink === view ? "page" : "false");
  if (view === "stats") loadStats();
}

async function main() {
  const cfg = await (await fetch("/api/config", { cache: "no-store" })).json();
  const sc = scales(cfg);
  for (const fig of document.querySelectorAll("[data-gauge]")) state.gauges[fig.dataset.gauge] = new Gauge(fig, sc[fig.dataset.gauge]);
  window.addEventListener("hashchange", route);
  document.getElementById("days").addEventListener("change", loadStats);
  route();
  animate();
  await refresh();
  listen();
}

main();
