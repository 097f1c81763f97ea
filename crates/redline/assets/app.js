// redline's page: the cluster with the daemon's own printed faces (/faces/<dial>.svg,
// drawn from the scales it computes against), kept equal to /usage (live over /events),
// says so plainly when the daemon is gone, switches the needle sweep (/api/sweep), draws
// the deep stats (/api/stats/*), and shows and applies the calibration proposals
// (/api/calibrate). No framework and no build step: the daemon embeds this file as it is.
//
// Hooks for tests and scripts (documented in docs/web.md): each dial is a
// [data-gauge="<dial>"] with data-value (the position received, 0..1, empty when unknown)
// and data-shown (where the needle is now); each lamp is a [data-lamp="<name>"] with
// data-state (off, on, blink, pulse) and, for MODEL, data-color; each calibrate card is a
// [data-key="<key>"] with data-current, data-proposed (JSON) and data-state (proposal,
// same, none), its Apply a [data-apply="<key>"].
"use strict";

const SVG = "http://www.w3.org/2000/svg";
// The X27.168's sweep and where its zero stop sits (degrees clockwise from 12 o'clock),
// for a dial whose face could not be had; a face says its own (data-sweep, data-zero-angle).
const SWEEP = 315, ZERO_ANGLE = -157.5, FACE_DIAMETER = 52;
const BEZEL = 1.2;          // the dial's outer edge (the bezel's rim) in face radii
const BLINK_MS = 1000;      // SPEC: blink at 1 Hz
const PULSE_MS = 4000;      // IDLE's slow breath (must match style.css's `breathe`)
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

function el(name, attrs = {}, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

/** The point at radius r and angle a (degrees clockwise from 12 o'clock), centre (0, 0). */
function polar(r, a) {
  const t = a * Math.PI / 180;
  return [r * Math.sin(t), -r * Math.cos(t)];
}

const fix = v => Math.round(v * 1000) / 1000;

// ---------------------------------------------------------------- faces

/** Makes SVG markup from the daemon safe to inline, in place: no scripts, styles, frames
 *  or foreign objects, no event handlers, no links out of the document, no ids (several
 *  drawings share one page). */
function scrub(root) {
  for (const e of [...root.querySelectorAll("script, foreignObject, style, iframe")]) e.remove();
  for (const e of [root, ...root.querySelectorAll("*")])
    for (const a of [...e.attributes])
      if (/^on/i.test(a.name) || a.name === "id" || (/href$/i.test(a.name) && !a.value.startsWith("#"))) e.removeAttribute(a.name);
  return root;
}

/** A face as the daemon prints it (`GET /faces/<dial>.svg`), parsed and made safe to
 *  inline: its root's data-* (diameter, sweep, zero angle) and a <g> holding its drawing,
 *  with the root's presentation attributes so its text and strokes look as printed. */
function parseFace(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = doc.documentElement;
  if (doc.getElementsByTagName("parsererror").length || root.localName !== "svg" || root.namespaceURI !== SVG)
    throw new Error("not an SVG");
  const g = document.createElementNS(SVG, "g");
  g.setAttribute("class", "print");
  for (const a of root.attributes) {
    if (a.name.startsWith("data-")) g.setAttribute(a.name, a.value);
    else if (!/^(xmlns|width|height|viewBox|version|id|style|class|x|y|preserveAspectRatio|on)/i.test(a.name)) g.setAttribute(a.name, a.value);
  }
  for (const child of [...root.childNodes]) {
    if (child.nodeType !== Node.ELEMENT_NODE) continue;
    g.appendChild(document.importNode(child, true));
  }
  // Our own daemon drew it, but it is markup going into the page: nothing active, and no
  // ids (four faces share one document).
  scrub(g);
  const num = (name, dflt) => {
    const v = Number(root.getAttribute(name));
    return root.hasAttribute(name) && Number.isFinite(v) ? v : dflt;
  };
  const vb = (root.getAttribute("viewBox") || "").trim().split(/[\s,]+/).map(Number);
  const diameter = num("data-diameter", vb.length === 4 && vb[2] > 0 ? vb[2] : FACE_DIAMETER);
  return { g, diameter, sweep: num("data-sweep", SWEEP), zero: num("data-zero-angle", ZERO_ANGLE) };
}

/** The face of each dial in `names`, from the daemon; null for one it could not give
 *  (the dial then draws a plain face with its title, and says so in the console). */
async function fetchFaces(names) {
  return Promise.all(names.map(async name => {
    try {
      const r = await fetch(`/faces/${encodeURIComponent(name)}.svg`, { cache: "no-store" });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      return parseFace(await r.text());
    } catch (e) {
      console.warn(`redline: no face for ${name} from /faces/${name}.svg (${e.message}); drawing a plain one`);
      return null;
    }
  }));
}

let serial = 0;

/** One dial: the daemon's printed face set in a turned-aluminium bezel behind glass, the
 *  page's own needle over it (tapered, a counterweight behind the hub, a domed hub cap,
 *  and a shadow on the face whose light stays put while the needle turns), and a needle
 *  that eases to its target without overshoot. Everything is drawn in the face's own
 *  units (millimetres, the shaft at 0,0). */
class Gauge {
  constructor(name, dial, face) {
    this.name = name;
    this.shown = 0;      // position the needle shows now
    this.target = null;  // position it moves to; null = unknown (rests at the zero stop)
    this.speed = 0;      // positions per second
    this.sweep = face ? face.sweep : SWEEP;
    this.zero = face ? face.zero : ZERO_ANGLE;
    const R = (face ? face.diameter : FACE_DIAMETER) / 2, u = R / 26, B = R * BEZEL;
    const id = `rl${++serial}-`, url = n => `url(#${id}${n})`;
    const fig = this.figure = document.createElement("figure");
    fig.className = "gauge";
    fig.dataset.gauge = name;
    fig.dataset.value = "";
    fig.dataset.shown = "0.0000";
    const svg = el("svg", { viewBox: `${-B} ${-B} ${2 * B} ${2 * B}`, role: "img", "aria-label": `${dial.title}, ${dial.legend}` }, fig);
    const defs = el("defs", {}, svg);
    defs.innerHTML = `
      <linearGradient id="${id}lip" x1="0" y1="0" x2="0" y2="1">
        <stop offset="0" stop-color="#fff" stop-opacity=".95"/><stop offset=".45" stop-color="#fff" stop-opacity=".15"/>
        <stop offset=".6" stop-color="#000" stop-opacity=".08"/><stop offset="1" stop-color="#000" stop-opacity=".55"/></linearGradient>
      <linearGradient id="${id}chamfer" x1=".25" y1="0" x2=".75" y2="1">
        <stop offset="0" stop-color="#5d6267"/><stop offset=".35" stop-color="#9da2a7"/><stop offset=".7" stop-color="#e3e6e8"/>
        <stop offset="1" stop-color="#fbfcfc"/></linearGradient>
      <radialGradient id="${id}inset" cx=".5" cy=".57" r=".57">
        <stop offset=".7" stop-color="#2a1f08" stop-opacity="0"/><stop offset=".88" stop-color="#2a1f08" stop-opacity=".14"/>
        <stop offset="1" stop-color="#140e02" stop-opacity=".6"/></radialGradient>
      <radialGradient id="${id}paper" cx=".42" cy=".36" r=".7">
        <stop offset="0" stop-color="#fff8e6" stop-opacity=".35"/><stop offset=".6" stop-color="#fff8e6" stop-opacity="0"/>
        <stop offset="1" stop-color="#6b5526" stop-opacity=".10"/></radialGradient>
      <linearGradient id="${id}blade" x1="0" y1="0" x2="1" y2="0">
        <stop offset="0" stop-color="#ff8a55"/><stop offset=".49" stop-color="#f2541f"/>
        <stop offset=".51" stop-color="#c93a10"/><stop offset="1" stop-color="#a82d0b"/></linearGradient>
      <linearGradient id="${id}weight" x1="0" y1="0" x2="1" y2="0">
        <stop offset="0" stop-color="#d9471a"/><stop offset=".49" stop-color="#b8360f"/>
        <stop offset=".51" stop-color="#8f290a"/><stop offset="1" stop-color="#74210a"/></linearGradient>
      <radialGradient id="${id}cap" cx=".36" cy=".3" r=".8">
        <stop offset="0" stop-color="#9ea3a8"/><stop offset=".18" stop-color="#4b4f54"/><stop offset=".55" stop-color="#1b1c1e"/>
        <stop offset="1" stop-color="#050506"/></radialGradient>
      <linearGradient id="${id}glass" x1=".12" y1=".12" x2=".6" y2=".6">
        <stop offset="0" stop-color="#fff" stop-opacity=".8"/><stop offset=".35" stop-color="#fff" stop-opacity=".3"/>
        <stop offset="1" stop-color="#fff" stop-opacity=".03"/></linearGradient>
      <radialGradient id="${id}bounce" cx=".7" cy="1" r=".6">
        <stop offset="0" stop-color="#fff" stop-opacity=".16"/><stop offset="1" stop-color="#fff" stop-opacity="0"/></radialGradient>
      <filter id="${id}shadow" filterUnits="userSpaceOnUse" x="${-B}" y="${-B}" width="${2 * B}" height="${2 * B}">
        <feGaussianBlur in="SourceAlpha" stdDeviation="${fix(0.6 * u)}"/>
        <feOffset dx="${fix(0.8 * u)}" dy="${fix(1.7 * u)}" result="drop"/>
        <feComponentTransfer><feFuncA type="linear" slope=".42"/></feComponentTransfer>
        <feMerge><feMergeNode/><feMergeNode in="SourceGraphic"/></feMerge></filter>`;

    // The bezel: the figure's own background is the turned aluminium (style.css); here its
    // rolled outer lip catching the light from above, then the chamfer falling to the
    // glass, lit from below, and the black gap where the face sits.
    const bezel = el("g", { class: "bezel-ring" }, svg);
    el("circle", { r: fix(B - 0.35 * u), fill: "none", stroke: url("lip"), "stroke-width": fix(0.7 * u) }, bezel);
    el("circle", { r: fix(R * 1.095), fill: url("chamfer") }, bezel);
    el("circle", { r: fix(R * 1.095), fill: "none", stroke: "#000", "stroke-opacity": ".25", "stroke-width": fix(0.2 * u) }, bezel);
    el("circle", { class: "rim", r: fix(R * 1.03), fill: "#0c0c0d" }, bezel);

    // The printed face, or a plain one with the title when the daemon gave none.
    if (face) {
      svg.appendChild(face.g);
    } else {
      const g = el("g", { class: "print plain", "data-dial": name, "data-diameter": 2 * R, "data-sweep": SWEEP, "data-zero-angle": ZERO_ANGLE }, svg);
      el("circle", { class: "face", r: R, fill: "#f3ead2" }, g);
      el("text", { class: "title", y: fix(-0.36 * R), "font-size": fix(3.4 * u), "font-weight": 700, "text-anchor": "middle", fill: "#1b1a17",
                   "font-family": "sans-serif", "letter-spacing": fix(0.4 * u) }, g).textContent = dial.title;
      el("text", { class: "legend", y: fix(-0.24 * R), "font-size": fix(1.8 * u), "font-weight": 600, "text-anchor": "middle", fill: "#5a5344",
                   "font-family": "sans-serif" }, g).textContent = dial.legend;
    }
    // Depth on the face: the bezel's shadow falls on its upper edge, the paper is lit
    // from above.
    el("circle", { class: "depth", r: R, fill: url("paper"), "pointer-events": "none" }, svg);
    el("circle", { class: "depth", r: R, fill: url("inset"), "pointer-events": "none" }, svg);
    // An unknown value: the needle rests at its stop and a small word says so, low in the
    // 45-degree gap between the stops, where no needle ever is.
    el("text", { class: "unknown", y: fix(0.725 * R), "font-size": fix(1.9 * u), "font-weight": 700, "text-anchor": "middle",
                 "letter-spacing": fix(0.2 * u), fill: "#c42b1c" }, svg).textContent = "NO DATA";

    // The needle, drawn pointing up and turned to its angle. Its shadow (the filter on
    // the unturned group) keeps its direction whatever the needle's.
    const shadow = el("g", { class: "needle-shadow", filter: url("shadow") }, svg);
    this.needle = el("g", { class: "arm" }, shadow);
    const tip = R * 0.9, w0 = 1.45 * u, w1 = 0.42 * u, tw = 1.7 * u, tail = 0.182 * R;
    // The counterweight: the pointer's short, broad tail behind the shaft, rounded, kept
    // within a fifth of the radius so that it never reaches the face's words.
    el("path", { class: "counterweight", fill: url("weight"),
                 d: `M ${fix(-w0)} 0 L ${fix(-tw)} ${fix(tail - tw)} A ${fix(tw)} ${fix(tw)} 0 0 0 ${fix(tw)} ${fix(tail - tw)} L ${fix(w0)} 0 Z` },
       this.needle);
    el("path", { class: "needle", fill: url("blade"),
                 d: `M ${fix(-w0)} ${fix(0.04 * R)} L ${fix(-w1)} ${fix(-tip)} Q 0 ${fix(-tip - 1.1 * u)} ${fix(w1)} ${fix(-tip)} L ${fix(w0)} ${fix(0.04 * R)} Z` },
       this.needle);
    el("path", { class: "needle-ridge", d: `M 0 0 L 0 ${fix(-tip + 0.6 * u)}`, stroke: "#fff", "stroke-opacity": ".3",
                 "stroke-width": fix(0.14 * u), "stroke-linecap": "round" }, this.needle);
    // The hub cap: domed, black, lit from the upper left.
    const hub = el("g", { class: "hub" }, shadow);
    el("circle", { r: fix(0.105 * R), fill: url("cap") }, hub);
    el("circle", { r: fix(0.105 * R - 0.12 * u), fill: "none", stroke: "#fff", "stroke-opacity": ".16", "stroke-width": fix(0.18 * u) }, hub);
    el("ellipse", { cx: fix(-0.03 * R), cy: fix(-0.04 * R), rx: fix(0.035 * R), ry: fix(0.021 * R), fill: "#fff", "fill-opacity": ".3",
                    transform: "rotate(-35)" }, hub);

    // The glass: a reflection across the upper left, a thin bright edge where it meets
    // the bezel, a little light bounced up from the desk at the lower right.
    const glass = el("g", { class: "glass", "pointer-events": "none" }, svg);
    el("circle", { r: fix(R * 1.03), fill: url("bounce") }, glass);
    el("path", { d: crescent(R * 1.03, [0.22 * R, 0.34 * R], R * 1.08), fill: url("glass") }, glass);
    el("path", { d: arcPath(R * 0.99, -80, -8), fill: "none", stroke: "#fff", "stroke-opacity": ".6", "stroke-width": fix(0.3 * u),
                 "stroke-linecap": "round" }, glass);
    this.draw();
  }

  set(position) {
    const known = typeof position === "number" && Number.isFinite(position);
    this.target = known ? Math.min(1, Math.max(0, position)) : null;
    this.figure.dataset.value = known ? String(position) : "";
  }

  get settled() {
    return this.shown === (this.target === null ? 0 : this.target);
  }

  /** Moves toward the target the way the firmware drives the motors: accelerating, never
   *  faster than 1.5 sweeps a second, braking so it arrives without overshoot. */
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
    this.needle.setAttribute("transform", `rotate(${fix(this.zero + this.sweep * this.shown)})`);
    this.figure.dataset.shown = this.shown.toFixed(4);
  }
}

/** An arc of radius r from angle a0 to a1 (clockwise). */
function arcPath(r, a0, a1) {
  const [ax, ay] = polar(r, a0), [bx, by] = polar(r, a1);
  return `M ${fix(ax)} ${fix(ay)} A ${fix(r)} ${fix(r)} 0 ${a1 - a0 > 180 ? 1 : 0} 1 ${fix(bx)} ${fix(by)}`;
}

/** The part of the circle of radius r (at 0,0) outside the circle of radius r2 at c: the
 *  glass's reflection, a crescent on the side away from c. */
function crescent(r, [cx, cy], r2) {
  const d = Math.hypot(cx, cy), a = (r * r - r2 * r2 + d * d) / (2 * d), h = Math.sqrt(Math.max(0, r * r - a * a));
  const mx = a * cx / d, my = a * cy / d;
  const p = [mx + h * cy / d, my - h * cx / d], q = [mx - h * cy / d, my + h * cx / d];
  return `M ${fix(p[0])} ${fix(p[1])} A ${fix(r)} ${fix(r)} 0 1 0 ${fix(q[0])} ${fix(q[1])} A ${fix(r2)} ${fix(r2)} 0 0 1 ${fix(p[0])} ${fix(p[1])} Z`;
}

// ---------------------------------------------------------------- live data

const state = {
  config: null,
  gauges: new Map(),   // dial name -> Gauge, in the configured order
  usage: null,
  connected: false,
  lostSince: null,
  lastHeard: 0,        // when the daemon last sent the values, over /events or /usage (ms)
  moving: false,
  reloading: false,    // fetching /api/config and the faces again
  reloadedFor: null,   // the needles and scales of /usage that last made the page reload
};

const num = n => Math.round(n).toLocaleString("en-US");
const pct = f => (f === null || f === undefined ? "–" : `${Math.round(f * 100)}%`);
const kilo = n => (n >= 1e6 ? `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M` : n >= 1000 ? `${(n / 1000).toFixed(n >= 1e4 ? 0 : 1)}k` : `${Math.round(n)}`);
const clock = iso => (iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : null);

/** Sets the configured needles' dials, left to right, each with its face from the
 *  daemon. A dial that was already there keeps its needle where it was. */
function buildGauges(cfg, faces) {
  const box = document.getElementById("gauges");
  const before = new Map(state.gauges);
  box.textContent = "";
  state.gauges.clear();
  cfg.needles.forEach((name, i) => {
    const dial = cfg.dials[name] || { title: name.toUpperCase(), legend: "", low: "0", high: null, unit: "share", full_scale: 1, zones: [] };
    const g = new Gauge(name, dial, faces[i]);
    const old = before.get(name);
    if (old) {
      Object.assign(g, { shown: old.shown, target: old.target, speed: old.speed });
      g.figure.dataset.value = old.figure.dataset.value;
      g.draw();
    }
    state.gauges.set(name, g);
    box.appendChild(g.figure);
  });
  // Labels and colours of the lamps come from the configuration too.
  for (const l of cfg.lamps || []) {
    const lamp = document.querySelector(`[data-lamp="${l.name}"]`);
    if (!lamp) continue;
    lamp.querySelector("b").textContent = l.label;
    if (l.color) lamp.style.setProperty("--c", l.color);
  }
}

/** Reads /api/config and the faces it names, then redraws the dials (all at once, so an
 *  open page never shows half a cluster). */
async function loadConfig() {
  const r = await fetch("/api/config", { cache: "no-store" });
  if (!r.ok) throw new Error(`/api/config: ${r.status}`);
  const cfg = await r.json();
  const faces = await fetchFaces(cfg.needles);
  state.config = cfg;
  buildGauges(cfg, faces);
  if (state.moving === false) wake();
}

/** Reloads the configuration and faces once (a second call meanwhile waits for it), then
 *  shows the latest values against them. */
let reload = null;
function reloadConfig() {
  if (!reload) {
    state.reloading = true;
    reload = loadConfig().then(() => 0, () => 2000).then(wait => {
      // A failed reload is tried again on the next values, not at once.
      setTimeout(() => {
        reload = null;
        state.reloading = false;
        if (state.connected && state.usage) show(state.usage);
      }, wait);
    });
  }
  return reload;
}

/** What a face is drawn from that /usage also says: a dial moved, or a scale changed
 *  (a restarted daemon, an edited configuration). */
const faceKey = (needles, redline, cost) => JSON.stringify([needles, redline, cost]);

/** Sets a lamp, keeping every blinking lamp in phase with the wall clock's seconds (as
 *  one LED chain would) rather than with the moment each one lit. */
function setLamp(lamp, s, color) {
  if (color !== undefined) {
    lamp.dataset.color = color || "";
    if (color) lamp.style.setProperty("--c", color);
  }
  if (lamp.dataset.state === s) return;
  const period = s === "blink" ? BLINK_MS : s === "pulse" ? PULSE_MS : 0;
  if (period) lamp.style.setProperty("--phase", `${-(Date.now() % period) / 1000}s`);
  lamp.dataset.state = s;
}

/** A dial's value for the tab's title, short. */
function brief(name, u) {
  const v = u.gauges[name];
  switch (name) {
    case "tach": return u.tach.tokens_per_min === null ? "–" : kilo(u.tach.tokens_per_min);
    case "cost": return u.cost.today_usd === null ? "–" : `$${u.cost.today_usd.toFixed(2)}`;
    case "temp": return u.thinking.ratio === null ? "–" : u.thinking.ratio.toFixed(2);
    default: return pct(v);
  }
}

function readout(u) {
  const put = (k, v) => { document.querySelector(`[data-readout="${k}"]`).textContent = v; };
  const t = u.tach, f = u.fuel, th = u.thinking, c = u.context;
  put("tach", t.tokens_per_min === null ? "–" : `${num(t.tokens_per_min)} tokens/min (redline ${num(t.redline)})`);
  let fuel = "unknown";
  if (u.window_5h_pct !== null) {
    // The plan's own figure, or the estimate from this block's tokens (whose end is the
    // block's, not the plan's: say which).
    const how = f.basis === "rate_limits" ? "plan" : `estimate, ${kilo(f.block_tokens || 0)} of ${kilo(f.budget_tokens || 0)} tokens`;
    const limit = clock(f.limit_reset_at), end = f.basis === "rate_limits" ? null : clock(f.block_end);
    fuel = `${pct(u.window_5h_pct)} used (${how})${limit ? `, limit resets ${limit}` : end ? `, block ends ${end}` : ""}`;
  }
  if (f.weekly_used !== null && f.weekly_used !== undefined) fuel += ` · week ${pct(f.weekly_used)} used`;
  put("fuel", fuel);
  put("thinking", th.ratio === null ? (th.basis === "unknown" ? "unknown (no readable thinking)" : "–")
    : `${th.ratio.toFixed(2)} of output (${th.basis})`);
  put("cache", u.cache.hit_rate === null ? "–" : `${pct(u.cache.hit_rate)} hit of ${kilo(u.cache.prompt_tokens || 0)} prompt tokens`);
  put("cost", u.cost.today_usd === null ? "–" : `$${u.cost.today_usd.toFixed(2)} today`);
  put("context", c.used_tokens === null ? "–" : `${kilo(c.used_tokens)} of ${kilo(c.window_tokens)} (${pct(c.used_tokens / c.window_tokens)})`);
  put("model", u.model.id || "–");
}

function show(u) {
  state.usage = u;
  // A daemon restarted with other needles: draw the new faces first.
  const drawn = [...state.gauges.keys()].join();
  if (Array.isArray(u.needles) && u.needles.join() !== drawn) {
    if (!state.reloading) reloadConfig();
    return;
  }
  // The same needles on other scales: new faces, once for each change.
  const cfg = state.config;
  if (cfg && u.tach && u.cost) {
    const now = faceKey(u.needles, u.tach.redline, u.cost.full_scale_usd);
    if (now !== faceKey(cfg.needles, cfg.tach_redline, cfg.cost_full_scale_usd) && now !== state.reloadedFor && !state.reloading) {
      state.reloadedFor = now;
      reloadConfig();
    }
  }
  for (const [name, g] of state.gauges) g.set(u.gauges[name]);
  wake();
  if (typeof u.sweep === "boolean" && u.sweep !== sweep.on && !sweep.busy) showSweep(u.sweep);
  for (const lamp of document.querySelectorAll("[data-lamp]")) {
    const name = lamp.dataset.lamp;
    setLamp(lamp, u.lamps[name] || "off", name === "model" ? u.model.color : undefined);
  }
  readout(u);
  document.title = `${[...state.gauges.keys()].map(n => `${(state.config.dials[n] || { title: n }).title} ${brief(n, u)}`).join(" · ")} — redline`;
}

/** The tab's title while the daemon cannot be reached: no figures, which would pass for
 *  live ones in a background tab. */
const OFFLINE_TITLE = "offline — redline";

/** The daemon answers or not. Lost: needles to rest, STALL blinking and the rest dark (as
 *  the firmware does after 5 s without an answer), no old figures left in sight. */
function connection(ok) {
  // Called on every event: only a change (or the first loss) redraws anything.
  const showingLoss = state.lostSince !== null;
  if (ok === state.connected && showingLoss === !ok) return;
  state.connected = ok;
  const s = document.getElementById("status"), lost = document.getElementById("lost");
  s.dataset.connection = ok ? "live" : "lost";
  s.textContent = ok ? "live" : "daemon unreachable";
  document.body.classList.toggle("lost-link", !ok);
  if (ok) {
    // Back from a loss: the daemon may have come back with another configuration, and
    // with the sweep on or off.
    if (showingLoss && state.config) reloadConfig();
    if (showingLoss) sweepState();
    state.lostSince = null;
    lost.hidden = true;
    return;
  }
  state.lostSince = state.lostSince || new Date();
  lost.hidden = false;
  lost.textContent = `The daemon at ${location.host} is not answering (since ${state.lostSince.toLocaleTimeString()}). ` +
    "The needles are at rest and STALL blinks until it is back; the page reconnects by itself.";
  for (const g of state.gauges.values()) g.set(null);
  wake();
  for (const lamp of document.querySelectorAll("[data-lamp]")) setLamp(lamp, lamp.dataset.lamp === "stall" ? "blink" : "off");
  for (const d of document.querySelectorAll("[data-readout]")) d.textContent = "–";
  document.title = OFFLINE_TITLE;
}

let source = null;
function listen() {
  const es = source = new EventSource("/events");
  es.addEventListener("usage", ev => {
    if (source !== es) return;
    state.lastHeard = Date.now();
    connection(true);
    show(JSON.parse(ev.data));
  });
  // The daemon's configuration changed while it runs (its config file edited): other
  // faces, zones or needles. Draw them again.
  es.addEventListener("config", () => {
    if (source !== es) return;
    if (!state.reloading) reloadConfig();
    calibrateConfigChanged();
  });
  es.onerror = () => {
    if (source !== es) return;
    connection(false);
    // EventSource retries by itself after a dropped connection; one the browser gave up
    // on (an HTTP error) is reopened here.
    if (es.readyState === EventSource.CLOSED) setTimeout(() => source === es && listen(), 2000);
  };
}

/** A stream can stay open with nobody answering at the other end (a daemon stopped or
 *  hung, a laptop back from sleep), and /events only speaks when a value changes. So
 *  when it has been quiet for PROBE_MS the page asks /usage itself: no answer within
 *  PROBE_TIMEOUT_MS is a loss; an answer shows its values, and while lost brings the
 *  page back and opens a fresh stream. */
const PROBE_MS = 5000, PROBE_TIMEOUT_MS = 4000, RETRY_MS = 2000;
let probing = false, lastProbe = 0;
async function probe() {
  const now = Date.now();
  if (probing || !source || now - state.lastHeard < PROBE_MS || now - lastProbe < RETRY_MS) return;
  probing = true;
  lastProbe = now;
  const abort = new AbortController(), timer = setTimeout(() => abort.abort(), PROBE_TIMEOUT_MS);
  try {
    const r = await fetch("/usage", { cache: "no-store", signal: abort.signal });
    if (!r.ok) throw new Error(`/usage: ${r.status}`);
    const u = await r.json();
    // An event that came in meanwhile is newer than this answer.
    const heard = state.lastHeard >= now;
    state.lastHeard = Date.now();
    if (!state.connected) {
      source.close();
      listen();
      connection(true);
    }
    if (!heard) show(u);
  } catch (e) {
    connection(false);
  } finally {
    clearTimeout(timer);
    probing = false;
  }
}

/** Runs the needles while any of them moves, then sleeps: a tab left open all day should
 *  not draw sixty frames a second of nothing. */
function wake() {
  if (state.moving) return;
  state.moving = true;
  let last = performance.now();
  const frame = now => {
    const dt = Math.min(0.1, (now - last) / 1000);
    last = now;
    let moving = false;
    for (const g of state.gauges.values()) {
      g.step(dt);
      moving = moving || !g.settled;
    }
    if (moving) requestAnimationFrame(frame);
    else state.moving = false;
  };
  requestAnimationFrame(frame);
}

// ---------------------------------------------------------------- stats
//
// A chart over time spans the whole window the daemon answered for (`since` to `until`,
// the days without use included), so the spacing of days is true time: a day with
// nothing is an empty slot, never skipped. Values read against light gridlines labelled
// in the left margin, dates sit under the axis, thinned until none touches the next, and
// figures about a whole chart are a caption above it: no label is inside the plot, so none
// can cover a bar or a point.

const palette = () => getComputedStyle(document.documentElement).getPropertyValue("--series").split(",").map(s => s.trim());
const DAY_MS = 86400000;
const CHART_W = 360;   // every chart's viewBox width
const CHAR_W = 6.2;    // a generous character width at the charts' 10px, where nothing is laid out yet
const LABEL_GAP = 6;   // the least room between two labels side by side

function svgBox(container, w, h) {
  container.textContent = "";
  return el("svg", { viewBox: `0 0 ${w} ${h}` }, container);
}

function empty(container, text) {
  container.innerHTML = `<p class="empty">${text}</p>`;
  container.dataset.rendered = "true";
}

/** Swatches under a chart: `colors[i]` is a CSS background, `classes[i]` an optional
 *  class for the swatch instead (a dashed line, a dashed box). */
function legend(container, names, colors, classes = []) {
  const d = document.createElement("div");
  d.className = "legend";
  names.forEach((n, i) => {
    const s = document.createElement("span");
    const swatch = document.createElement("i");
    if (classes[i]) swatch.className = classes[i];
    else swatch.style.background = colors[i % colors.length];
    s.append(swatch, n);
    d.appendChild(s);
  });
  container.appendChild(d);
}

/** Words above a chart: figures about the whole of it. */
function caption(container, text) {
  const p = document.createElement("p");
  p.className = "caption";
  p.textContent = text;
  container.prepend(p);
}

/** How wide a label is drawn, in its chart's units (estimated while it is not laid out). */
function width(t) {
  let w = 0;
  try { w = t.getBBox().width; } catch (e) { /* not rendered */ }
  return w > 0 ? w : t.textContent.length * CHAR_W;
}

/** Every date of an answer's window, oldest first: `since` to `until`, each day once. */
function windowDates(d) {
  const out = [];
  const end = Date.parse(`${d.until}T00:00:00Z`);
  for (let t = Date.parse(`${d.since}T00:00:00Z`); t <= end && out.length < 20000; t += DAY_MS)
    out.push(new Date(t).toISOString().slice(0, 10));
  return out.length ? out : [d.until || new Date().toISOString().slice(0, 10)];
}

/** Gridline values from 0 to at least `max`: about four steps of 1, 2, 2.5 or 5 x 10^k. */
function valueTicks(max) {
  const raw = (max > 0 ? max : 1) / 4, p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map(m => m * p).find(s => s >= raw * (1 - 1e-9));
  const n = Math.max(1, Math.ceil((max > 0 ? max : 1) / step - 1e-9));
  return Array.from({ length: n + 1 }, (_, i) => Math.round(i * step * 1e6) / 1e6);
}

/** The room between two days' bars: a fifth of a day, none once days are thin lines. */
const barGap = dw => (dw > 4 ? Math.max(1, dw * 0.2) : 0);

/** A figure on an axis of tokens: 5M rather than 5.0M. */
const tokensTick = v => kilo(v).replace(/\.0(?=[kM])/, "");

const dollars = v => `$${v >= 100 || Number.isInteger(v) ? Math.round(v).toLocaleString("en-US") : v.toFixed(v < 1 ? 2 : 1)}`;
const percent = v => `${Math.round(v * 100)}%`;

/** The frame of a chart over the days of `d`'s window: light gridlines at `ticks`
 *  (labelled in the left margin, outside the plot) and at each labelled day, the axis, and
 *  the dates under it, as many as fit without touching. Returns the scales: `x(date)` is
 *  a day's left edge (null outside the window), `dw` a day's width, `y(v)` a value's
 *  height, `under` a layer beneath the gridlines. The svg carries `data-days`,
 *  `data-since`, `data-x0` and `data-x1` (the plot's left and right) for tests. */
function timeFrame(container, d, { H = 170, ticks, tickLabel }) {
  const svg = svgBox(container, CHART_W, H);
  const dates = windowDates(d), n = dates.length, T = 8, B = 22, R = 4;
  const top = ticks[ticks.length - 1] || 1;
  const under = el("g", {}, svg), grid = el("g", { class: "grid" }, svg);
  // The value labels first: the widest sets the margin.
  const ylabels = ticks.map(v => {
    const t = el("text", { class: "ylabel", "text-anchor": "end", "dominant-baseline": "middle" }, svg);
    t.textContent = tickLabel(v);
    return t;
  });
  const L = Math.ceil(Math.max(14, ...ylabels.map(width))) + 10, x1 = CHART_W - R;
  const dw = (x1 - L) / n;
  const y = v => H - B - (v / top) * (H - B - T);
  let lastY = Infinity;
  ticks.forEach((v, i) => {
    el("line", { class: v === 0 ? "axis" : "gridline", x1: L, x2: x1, y1: y(v), y2: y(v) }, grid);
    const t = ylabels[i];
    t.setAttribute("x", L - 6);
    t.setAttribute("y", y(v));
    if (lastY - y(v) < 13) t.remove();
    else lastY = y(v);
  });
  // Dates: day by day (or every 2nd day, or Mondays, every 2nd or 4th) while the window
  // is short, months beyond a quarter of a year.
  const marks = [];
  if (n <= 92) {
    const need = (5 * CHAR_W + LABEL_GAP) / dw;
    const step = [1, 2, 7, 14, 28].find(s => s >= need) || 28 * Math.ceil(need / 28);
    if (step < 7) {
      for (let i = n - 1; i >= 0; i -= step) marks.unshift([i, dates[i].slice(5)]);
    } else {
      const mondays = dates.flatMap((x, i) => (new Date(`${x}T00:00:00Z`).getUTCDay() === 1 ? [i] : []));
      mondays.forEach((i, j) => { if ((mondays.length - 1 - j) % (step / 7) === 0) marks.push([i, dates[i].slice(5)]); });
    }
  } else {
    const need = (7 * CHAR_W + LABEL_GAP) / (dw * 30.4);
    const step = [1, 2, 3, 6, 12].find(s => s >= need) || 12 * Math.ceil(need / 12);
    dates.forEach((x, i) => {
      if (x.endsWith("-01") && (Number(x.slice(5, 7)) - 1) % step === 0) marks.push([i, x.slice(0, 7)]);
    });
  }
  let right = -Infinity;
  for (const [i, text] of marks) {
    const cx = L + (i + 0.5) * dw;
    const t = el("text", { class: "xlabel", x: cx, y: H - 5, "text-anchor": "middle", "data-date": dates[i] }, svg);
    t.textContent = text;
    const half = width(t) / 2;
    // Whole, clear of the value labels and of the previous date, or not at all.
    if (cx - half < L - 2 || cx + half > CHART_W || cx - half < right + LABEL_GAP) {
      t.remove();
      continue;
    }
    right = cx + half;
    el("line", { class: "gridline", x1: cx, x2: cx, y1: T, y2: H - B }, grid);
  }
  const index = new Map(dates.map((x, i) => [x, i]));
  Object.assign(svg.dataset, { days: n, since: dates[0], x0: L, x1 });
  return { svg, under, L, x1, T, B, H, dw, n, index, top, y, x: date => (index.has(date) ? L + index.get(date) * dw : null) };
}

/** Bars per day over the whole window, stacked by series; a day without use is an empty
 *  slot. `stack(row)` gives a row's values, one per name. */
function dayBars(container, d, stack, names, format = tokensTick, title = num) {
  const colors = palette();
  const rows = d.rows.map(r => [r.date, stack(r)]);
  const max = Math.max(0, ...rows.map(([, s]) => s.reduce((a, b) => a + b, 0)));
  const f = timeFrame(container, d, { ticks: valueTicks(max), tickLabel: format });
  const gap = barGap(f.dw);
  for (const [date, values] of rows) {
    const x = f.x(date);
    if (x === null) continue;
    let top = f.y(0);
    values.forEach((v, j) => {
      if (!(v > 0)) return;
      const h = f.y(0) - f.y(v);
      el("rect", { class: "mark", "data-date": date, x: x + gap / 2, y: top - h, width: Math.max(0.8, f.dw - gap), height: h,
                   fill: colors[j % colors.length] }, f.svg)
        .appendChild(el("title")).textContent = `${date} ${names[j] || ""}: ${title(v)}`;
      top -= h;
    });
  }
  if (names.length > 1) legend(container, names, colors);
  container.dataset.rendered = "true";
}

/** A share (0..1) by day: a dot per day with a figure, a line through consecutive days,
 *  broken where a day has none. */
function dayLine(container, d, rows, key, opts, title) {
  const f = timeFrame(container, d, opts);
  const color = palette()[0];
  const pts = rows
    .filter(r => typeof r[key] === "number" && f.x(r.date) !== null)
    .map(r => ({ r, i: f.index.get(r.date), x: f.x(r.date) + f.dw / 2, y: f.y(Math.min(f.top, r[key])) }))
    .sort((a, b) => a.i - b.i);
  let run = [];
  const flush = () => {
    if (run.length > 1)
      el("polyline", { class: "line", points: run.map(p => `${p.x},${p.y}`).join(" "), stroke: color }, f.svg);
    run = [];
  };
  pts.forEach((p, k) => {
    if (k && p.i !== pts[k - 1].i + 1) flush();
    run.push(p);
  });
  flush();
  const r = Math.max(1, Math.min(2.5, f.dw / 2.5));
  for (const p of pts)
    el("circle", { class: "mark", "data-date": p.r.date, cx: p.x, cy: p.y, r, fill: color }, f.svg)
      .appendChild(el("title")).textContent = title(p.r);
  container.dataset.rendered = "true";
}

const charts = {
  daily(d) {
    if (!d.rows.length) return empty(this.el, "No responses in this window.");
    const models = [...new Set(d.rows.flatMap(r => r.models.map(m => m.model)))];
    dayBars(this.el, d, r => models.map(m => (r.models.find(x => x.model === m) || { tokens: { total: 0 } }).tokens.total), models);
  },
  cost(d) {
    if (!d.rows.length) return empty(this.el, "No responses in this window.");
    dayBars(this.el, d, r => [r.cost], ["cost"], dollars, v => `$${v.toFixed(2)}`);
  },
  /** Each 5-hour block where it lay in time, on the same days as the other charts. */
  blocks(d) {
    if (!d.rows.length) return empty(this.el, "No 5-hour blocks in this window.");
    const budget = d.budget_tokens || 0, colors = palette();
    const f = timeFrame(this.el, d, { ticks: valueTicks(Math.max(budget, ...d.rows.map(r => r.tokens))), tickLabel: tokensTick });
    const from = Date.parse(d.from), to = Date.parse(d.to);
    const at = ms => f.L + ((ms - from) / (to - from)) * (f.x1 - f.L);
    for (const r of d.rows) {
      const x0 = Math.max(f.L, at(Date.parse(r.start))), x1 = Math.min(f.x1, at(Date.parse(r.end)));
      if (!(x1 > x0) || !(r.tokens > 0)) continue;
      const gap = x1 - x0 > 4 ? 1 : 0, h = f.y(0) - f.y(r.tokens);
      el("rect", { class: "mark", "data-start": r.start, x: x0 + gap / 2, y: f.y(0) - h, width: Math.max(0.8, x1 - x0 - gap), height: h,
                   fill: colors[0] }, f.svg)
        .appendChild(el("title")).textContent = `${r.start.slice(0, 16).replace("T", " ")} UTC: ${num(r.tokens)} tokens${r.limit_hit ? " (limit hit)" : ""}`;
    }
    const names = ["tokens per block"], classes = [""];
    if (budget) {
      el("line", { class: "budget", x1: f.L, y1: f.y(budget), x2: f.x1, y2: f.y(budget) }, f.svg);
      names.push(`budget ${kilo(budget)}`);
      classes.push("budget");
    }
    legend(this.el, names, colors, classes);
    this.el.dataset.rendered = "true";
  },
  /** Cost by project: names in their own column (shortened from the left to fit), each
   *  figure just past its bar. */
  projects(d) {
    if (!d.rows.length) return empty(this.el, "No projects in this window.");
    const row = 18, NAME_W = 140, svg = svgBox(this.el, CHART_W, row * d.rows.length + 4);
    const colors = palette(), max = Math.max(...d.rows.map(r => r.cost), 0.01);
    const figures = d.rows.map((r, i) => {
      const t = el("text", { class: "value", y: i * row + 13 }, svg);
      t.textContent = `$${r.cost.toFixed(2)}`;
      return t;
    });
    const barX = NAME_W + 8, room = CHART_W - barX - Math.max(...figures.map(width)) - 8;
    d.rows.forEach((r, i) => {
      const w = Math.max(1, (r.cost / max) * room);
      el("rect", { class: "mark", x: barX, y: i * row + 2, width: w, height: row - 5, fill: colors[0] }, svg)
        .appendChild(el("title")).textContent = `${r.project}: $${r.cost.toFixed(2)}, ${num(r.tokens.total)} tokens`;
      figures[i].setAttribute("x", barX + w + 4);
      const name = el("text", { class: "name", x: 0, y: i * row + 13 }, svg);
      name.textContent = r.project;
      for (let s = r.project; width(name) > NAME_W && s.length > 1;) {
        s = s.slice(1);
        name.textContent = `…${s}`;
      }
      name.appendChild(el("title")).textContent = r.project;
    });
    this.el.dataset.rendered = "true";
  },
  cache(d) {
    if (!d.rows.some(r => r.hit_ratio !== null)) return empty(this.el, "No prompts in this window.");
    dayLine(this.el, d, d.rows, "hit_ratio", { H: 150, ticks: [0, 0.25, 0.5, 0.75, 1], tickLabel: percent },
      r => `${r.date}: ${pct(r.hit_ratio)} of ${num(r.tokens.total)} tokens`);
    caption(this.el, `Overall ${pct(d.hit_ratio)} of prompt tokens read from cache.`);
  },
  /** Thinking over output by day, over TEMP's own colour bands. How sure each day is
   *  shows in its bar: solid for exact, hatched for an estimate, a "?" where unknown. */
  thinking(d) {
    if (!d.rows.length) return empty(this.el, "No responses in this window.");
    const color = palette()[0];
    const zones = ((state.config && state.config.dials.temp) || { zones: [] }).zones;
    const edges = [...new Set([0, 1, ...zones.flatMap(z => [z.from, z.to])])].filter(v => v >= 0 && v <= 1).sort((a, b) => a - b);
    const f = timeFrame(this.el, d, { H: 160, ticks: edges, tickLabel: v => String(Math.round(v * 100) / 100) });
    const pattern = el("pattern", { id: "rl-hatch", width: 4, height: 4, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
      el("defs", {}, f.svg));
    el("rect", { width: 4, height: 4, fill: color, "fill-opacity": .3 }, pattern);
    el("rect", { width: 2, height: 4, fill: color }, pattern);
    for (const z of zones)
      el("rect", { x: f.L, y: f.y(z.to), width: f.x1 - f.L, height: f.y(z.from) - f.y(z.to), fill: `var(--zone-${z.color})`,
                   "fill-opacity": z.color === "white" ? 0 : .13 }, f.under);
    const gap = barGap(f.dw), w = Math.max(0.8, f.dw - gap);
    for (const r of d.rows) {
      const x = f.x(r.date);
      if (x === null) continue;
      if (r.ratio === null || r.basis === "unknown") {
        // Responses, but none whose thinking could be counted.
        if (f.dw >= 8) el("text", { class: "unknown-day", x: x + f.dw / 2, y: f.y(0) - 4, "text-anchor": "middle", "data-date": r.date }, f.svg).textContent = "?";
        else el("circle", { class: "unknown-day", cx: x + f.dw / 2, cy: f.y(0) - 3, r: Math.max(0.6, f.dw / 3) }, f.svg);
        continue;
      }
      const top = f.y(Math.min(1, r.ratio));
      el("rect", { class: "mark", "data-date": r.date, x: x + gap / 2, y: top, width: w, height: Math.max(0.5, f.y(0) - top),
                   fill: r.basis === "estimate" ? "url(#rl-hatch)" : color }, f.svg)
        .appendChild(el("title")).textContent = `${r.date}: ${r.ratio.toFixed(2)} (${r.basis}; ${num(r.thinking_tokens || 0)} of ${num(r.output_tokens)} output tokens)`;
    }
    const o = d.overall || {};
    caption(this.el, o.ratio === null || o.ratio === undefined
      ? `Overall unknown (${o.basis || "no thinking seen"}).` : `Overall ${o.ratio.toFixed(2)} of output tokens (${o.basis}).`);
    legend(this.el, ["exact", "estimate", "unknown (?)"], [color, `repeating-linear-gradient(45deg, ${color} 0 2px, transparent 2px 4px)`],
      ["", "", "unknown"]);
    const note = document.createElement("p");
    note.className = "note";
    note.textContent = "Thinking tokens over output tokens. Bands: TEMP's zones (cool, normal, hot).";
    this.el.appendChild(note);
    this.el.dataset.rendered = "true";
  },
  hours(d) {
    const cell = 13, L = 34, svg = svgBox(this.el, CHART_W, 7 * cell + 18);
    const max = Math.max(1, ...d.tokens.flat());
    d.tokens.forEach((row, day) => {
      el("text", { x: L - 6, y: day * cell + 10, "text-anchor": "end" }, svg).textContent = d.weekdays[day];
      row.forEach((v, h) => {
        el("rect", { class: "mark", x: L + h * cell, y: day * cell, width: cell - 1, height: cell - 1, fill: palette()[1], "fill-opacity": 0.06 + 0.94 * v / max }, svg)
          .appendChild(el("title")).textContent = `${d.weekdays[day]} ${h}:00 — ${num(v)} tokens`;
      });
    });
    [0, 6, 12, 18, 23].forEach(h => {
      el("text", { x: L + h * cell + cell / 2, y: 7 * cell + 12, "text-anchor": "middle" }, svg).textContent = `${h}h`;
    });
    this.el.dataset.rendered = "true";
  },
  sessions(d) {
    if (!d.rows.length) return empty(this.el, "No sessions in this window.");
    const t = document.createElement("table");
    t.innerHTML = "<thead><tr><th>session</th><th>project</th><th>last</th><th class=num>tokens</th>" +
      "<th class=num>thinking</th><th class=num>cache hit</th><th class=num>cost</th></tr></thead>";
    const body = document.createElement("tbody");
    for (const r of d.rows) {
      const tr = document.createElement("tr");
      const ratio = r.thinking_ratio === null || r.thinking_ratio === undefined ? "–" : r.thinking_ratio.toFixed(2);
      for (const [v, isNum] of [[r.session.slice(0, 8), 0], [r.project, 0], [r.last.replace("T", " ").slice(0, 16), 0],
        [num(r.tokens.total), 1], [ratio, 1], [pct(r.cache_hit_rate), 1], [`$${r.cost.toFixed(2)}`, 1]]) {
        const td = document.createElement("td");
        if (isNum) td.className = "num";
        td.textContent = v;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    t.appendChild(body);
    this.el.textContent = "";
    const wrap = document.createElement("div");
    wrap.className = "table-scroll";
    wrap.appendChild(t);
    this.el.appendChild(wrap);
    this.el.dataset.rendered = "true";
  },
};

/** Draws every chart for the chosen range (`7`, `30`, `90` or `all`). A newer choice
 *  made while one loads wins; each chart carries `data-range` once drawn for it. */
let statsRun = 0;
async function loadStats() {
  const run = ++statsRun;
  const days = document.getElementById("days").value;
  const get = async name => {
    const r = await fetch(`/api/stats/${name}?days=${days}&limit=10`, { cache: "no-store" });
    if (!r.ok) throw new Error(`/api/stats/${name}: ${r.status}`);
    return r.json();
  };
  const at = name => ({ el: document.querySelector(`[data-chart="${name}"]`) });
  // Each chart stands alone: one stat failing leaves a message in its own box only.
  const draw = async (stat, ...names) => {
    let d = null, err = null;
    try {
      d = await get(stat);
    } catch (e) {
      err = e;
    }
    if (run !== statsRun) return;
    if (stat === "daily") {
      document.getElementById("span").textContent = d ? `${d.since} to ${d.until}, ${d.days} day${d.days === 1 ? "" : "s"}` : "";
    }
    for (const n of names) {
      const c = at(n);
      try {
        if (err) throw err;
        charts[n].call(c, d);
      } catch (e) {
        empty(c.el, `Could not load: ${e.message}`);
      }
      c.el.dataset.range = days;
    }
  };
  await Promise.all([draw("daily", "daily", "cost"), draw("blocks", "blocks"), draw("projects", "projects"),
    draw("cache", "cache"), draw("thinking", "thinking"), draw("hours", "hours"), draw("sessions", "sessions")]);
}

// ---------------------------------------------------------------- calibrate
//
// What `redline calibrate` proposes from this history (GET /api/calibrate?days=N: its
// --json, the --plot SVG, whether the daemon may write its config file): a card per
// config key with the value in force, the proposal, the key's histogram cut from the
// plot, the figures behind it and the rule. Apply writes one proposal into the daemon's
// config file (POST /api/calibrate/apply) once confirmed in the card; the daemon follows
// its file within a couple of seconds and says so over /events (`event: config`), and the
// view reads the proposals again then, so "now" shows the value written.

/** The keys, in the order `redline calibrate` prints them. */
const CAL_KEYS = ["tach_redline", "block_budget", "tach_window", "stall_after", "cache_floor", "temp_zones"];
const dash = v => (v === null || v === undefined ? "–" : null);
const share2 = v => dash(v) || v.toFixed(2);
const share1 = v => dash(v) || `${(v * 100).toFixed(1)}%`;
const secs = v => dash(v) || `${Number.isInteger(v) ? num(v) : v.toFixed(1)} s`;
const count = v => dash(v) || num(v);
/** A share as the config file has it: 0.5, 0.75, 0.0. */
const zoneText = v => dash(v) || (Number.isInteger(v) ? v.toFixed(1) : String(v));

/** Per key: what it does, how its values read, and the figures that matter (percentiles,
 *  and what the value in force and the proposal would have done over these days). */
const CAL = {
  tach_redline: {
    what: "Where TACH's red zone starts and HOT lights.",
    unit: "tokens/min",
    value: v => count(v),
    pcts: f => [["P50", f.p50], ["P90", f.p90], ["P95", f.p95], ["P99", f.p99], ["max", f.max]].map(([k, v]) => [k, count(v)]),
    basis: f => `${count(f.active_minutes)} active minutes, a ${count(f.window_s)} s window`,
    effect: f => [["HOT lit, min per active hour", dash(f.hot_per_active_hour_current) || f.hot_per_active_hour_current.toFixed(1),
      dash(f.hot_per_active_hour_proposed) || f.hot_per_active_hour_proposed.toFixed(1)]],
  },
  block_budget: {
    what: "What one 5-hour window holds: FUEL reads E there.",
    unit: "tokens",
    value: (v, f) => (v === "max" ? `max (${count(f.current_tokens)})` : count(v)),
    pcts: f => [["P50", f.p50], ["P90", f.p90], ["max", f.max]].map(([k, v]) => [k, count(v)]),
    basis: f => `${count(f.completed_blocks)} completed 5-hour blocks`,
    effect: f => [["blocks that lit WARN", share1(f.warn_share_current), share1(f.warn_share_proposed)],
      ["blocks that reached E", share1(f.empty_share_current), share1(f.empty_share_proposed)]],
    more: f => (f.measured_budget !== null && f.measured_budget !== undefined
      ? `${count(f.readings)} statusLine readings, ${count(f.readings_used)} measuring: the plan holds ${count(f.measured_budget)} tokens a window (${count(f.implied_min)} to ${count(f.implied_max)}).`
      : f.readings ? `${count(f.readings)} statusLine readings, none measuring (each needs 10% used and tokens in its window).`
        : "No statusLine readings: the plan's size is not measured, only the largest block seen."),
  },
  tach_window: {
    what: "How far back TACH counts tokens.",
    unit: "s",
    value: v => count(v),
    pcts: f => [["P50", f.p50_s], ["P90", f.p90_s], ["P99", f.p99_s], ["max", f.max_s]].map(([k, v]) => [k, secs(v)]),
    basis: f => `${count(f.gaps)} gaps between responses inside turns`,
    effect: f => [["gaps the window spans", share1(f.spanned_current), share1(f.spanned_proposed)]],
  },
  stall_after: {
    what: "How long a wait for the model lights STALL.",
    unit: "s",
    value: v => count(v),
    pcts: f => [["P50", f.p50_s], ["P90", f.p90_s], ["P99", f.p99_s], ["max", f.max_s]].map(([k, v]) => [k, secs(v)]),
    basis: f => `${count(f.waits)} waits for the model`,
    effect: f => [["waits that lit STALL", count(f.over_current), count(f.over_proposed)]],
  },
  cache_floor: {
    what: "The cache hit rate under which BOOST reads red and WARN lights.",
    unit: "hit rate",
    value: v => zoneText(v),
    pcts: f => [["P10", f.p10], ["P25", f.p25], ["P50", f.p50]].map(([k, v]) => [k, share2(v)]),
    basis: f => `${count(f.minutes)} active minutes with enough prompt tokens`,
    effect: f => [["minutes under the floor", share1(f.under_current), share1(f.under_proposed)]],
  },
  temp_zones: {
    what: "Where TEMP's blue band ends and its red band starts.",
    unit: "cool / hot",
    value: z => (z && typeof z === "object" ? `${zoneText(z.temp_cool)} / ${zoneText(z.temp_hot)}` : "–"),
    pcts: f => [["P10", f.p10], ["P25", f.p25], ["P50", f.p50], ["P75", f.p75], ["P90", f.p90]].map(([k, v]) => [k, share2(v)]),
    basis: f => `${count(f.minutes)} active minutes`,
    effect: f => [["TEMP blue", share1(f.blue_current), share1(f.blue_proposed)], ["TEMP red", share1(f.red_current), share1(f.red_proposed)]],
  },
};

/** Words as the command prints them, `code` in backticks made code. */
function ticked(text) {
  return text.split("`").map((part, i) => (i % 2 ? Object.assign(document.createElement("code"), { textContent: part }) : part));
}

/** The same value, whatever the order of an object's keys. */
function sameValue(a, b) {
  if (a && b && typeof a === "object" && typeof b === "object")
    return Object.keys(a).length === Object.keys(b).length && Object.keys(a).every(k => sameValue(a[k], b[k]));
  return a === b;
}

/** What a failed request said: the daemon's `{"error": ...}`, its plain text, or the status. */
async function failure(r) {
  const text = (await r.text().catch(() => "")).trim();
  try {
    const j = JSON.parse(text);
    if (j && typeof j.error === "string") return j.error;
  } catch (e) { /* plain text */ }
  return text || `HTTP ${r.status}`;
}

/** Anchor point of a top-level drawing element of the plot: where it sits. */
function anchor(e) {
  const a = n => Number(e.getAttribute(n));
  switch (e.localName) {
    case "line": return [a("x1"), a("y1")];
    case "circle": case "ellipse": return [a("cx"), a("cy")];
    case "rect": case "text": case "image": case "use": return [a("x"), a("y")];
    default: return null;
  }
}

/** The plot `redline calibrate --plot` draws (a panel per key, in CAL_KEYS order), made
 *  safe and cut into one drawing per key: a group carrying `data-key` where the plot has
 *  them, else the elements lying within each panel's frame. The words at the top of each
 *  panel (its title, what it counts, how many values lie beyond its axis) come out as
 *  `words`: the card says them in its own type. Returns null for a plot that is not cut
 *  that way; `whole` is then the plot, safe, in one piece. */
function plotPanels(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = doc.documentElement;
  if (doc.getElementsByTagName("parsererror").length || root.localName !== "svg" || root.namespaceURI !== SVG)
    throw new Error("not an SVG");
  const whole = scrub(document.importNode(root, true));
  const fresh = () => el("svg", { class: "cal-svg", role: "img", preserveAspectRatio: "xMidYMid meet" });
  const frameOf = g => [...g.children].find(e => e.localName === "rect" && (e.getAttribute("stroke") || "none") !== "none");
  const panels = new Map();
  const groups = [...whole.querySelectorAll("[data-key]")];
  let parts;
  if (groups.length) {
    // The group's own children: the page's [data-key] hooks are the cards, not these.
    parts = groups.map(g => ({ key: g.dataset.key, frame: frameOf(g), nodes: [...g.children] }));
  } else {
    const frames = [...whole.children].filter(e => e.localName === "rect" && (e.getAttribute("stroke") || "none") !== "none");
    if (frames.length !== CAL_KEYS.length) return { panels: null, whole };
    parts = frames.map((frame, i) => {
      const x = Number(frame.getAttribute("x")), y = Number(frame.getAttribute("y"));
      const w = Number(frame.getAttribute("width")), h = Number(frame.getAttribute("height"));
      const nodes = [...whole.children].filter(e => {
        const p = anchor(e);
        return p && p[0] >= x && p[0] <= x + w && p[1] >= y && p[1] <= y + h;
      });
      return { key: CAL_KEYS[i], frame, nodes };
    });
  }
  for (const { key, frame, nodes } of parts) {
    if (!frame) continue;
    const x = Number(frame.getAttribute("x")), y = Number(frame.getAttribute("y"));
    const w = Number(frame.getAttribute("width")), h = Number(frame.getAttribute("height"));
    const svg = fresh();
    for (const n of nodes) svg.appendChild(n.cloneNode(true));
    // The panel's head: words above its highest mark label (the first 36 units).
    const words = [];
    for (const t of [...svg.querySelectorAll("text")]) {
      if (Number(t.getAttribute("y")) < y + 36) {
        words.push({ text: t.textContent, size: Number(t.getAttribute("font-size")) || 0, end: t.getAttribute("text-anchor") === "end" });
        t.remove();
      }
    }
    const head = words.length ? 32 : 0;
    svg.querySelector("rect").classList.add("frame");
    svg.setAttribute("viewBox", `${x} ${y + head} ${w} ${h - head}`);
    svg.setAttribute("aria-label", `${key}: histogram with the value in force and the proposal marked`);
    panels.set(key, { svg, words });
  }
  return { panels, whole };
}

const cal = {
  data: null,
  days: null,
  plot: null,           // { panels, whole } of the last answer
  said: new Map(),      // key -> { ok, lines }: what the last Apply of it said
  confirming: null,     // the key whose Apply asks for confirmation
  writing: null,        // the key being written
  pending: null,        // { key, value, tries }: waiting for the daemon to follow its file
  timer: null,
};
let calRun = 0, calFetch = Promise.resolve();

/** GET /api/calibrate, one at a time (the daemon reads history for one at a time and
 *  answers 503 to a second meanwhile), trying again a few times while it is busy. */
function fetchCalibrate(days, run, busy) {
  const go = async () => {
    for (let attempt = 0; ; attempt++) {
      if (run !== calRun) return null;
      const r = await fetch(`/api/calibrate?days=${days}`, { cache: "no-store" });
      if (r.ok) return r.json();
      const why = await failure(r);
      if (r.status !== 503 || attempt >= 4) throw new Error(why);
      busy(why);
      await new Promise(k => setTimeout(k, 1000 + 500 * attempt));
    }
  };
  const p = calFetch.then(go, go);
  calFetch = p.catch(() => null);
  return p;
}

/** Reads the proposals for the chosen range and draws them. A newer choice made while
 *  one loads wins; `#calibrate` carries `data-days` and `data-rendered` once drawn. */
async function loadCalibrate() {
  const run = ++calRun, days = document.getElementById("cal-days").value;
  clearTimeout(cal.timer);
  const view = document.getElementById("calibrate"), note = document.getElementById("cal-state");
  view.setAttribute("aria-busy", "true");
  view.dataset.loading = "true";
  note.hidden = false;
  note.className = "cal-state loading";
  note.textContent = days === "3650" ? "Reading all of history…" : `Reading the last ${days} days of history…`;
  let d;
  try {
    d = await fetchCalibrate(days, run, why => {
      if (run === calRun) note.textContent = `${why.replace(/\.?\s*$/, "")}: trying again…`;
    });
    if (d === null) return;
  } catch (e) {
    if (run !== calRun) return;
    view.removeAttribute("aria-busy");
    delete view.dataset.loading;
    note.className = "cal-state error";
    note.textContent = `Could not read the proposals: ${e.message}`;
    view.dataset.rendered = "error";
    return;
  }
  if (run !== calRun) return;
  if (cal.days !== days) cal.said.clear();
  cal.data = d;
  cal.days = days;
  try {
    cal.plot = typeof d.plot === "string" && d.plot ? plotPanels(d.plot) : null;
  } catch (e) {
    console.warn(`redline: the calibration plot could not be read (${e.message})`);
    cal.plot = null;
  }
  view.removeAttribute("aria-busy");
  delete view.dataset.loading;
  renderCalibrate();
  // Applied: once the daemon follows its file, "now" is the value written. It may take a
  // read or two (and a key a REDLINE_* variable sets never changes: the answer said so).
  const p = cal.pending;
  if (p) {
    const current = d[p.key] && d[p.key].current;
    if (sameValue(current, p.value) || ++p.tries >= 3) cal.pending = null;
    else cal.timer = setTimeout(loadCalibrate, 2500);
  }
}

function renderCalibrate() {
  const d = cal.data, h = d.history || {};
  const view = document.getElementById("calibrate"), note = document.getElementById("cal-state");
  const span = document.getElementById("cal-span");
  const days = h.since && h.until ? Math.round((Date.parse(h.until) - Date.parse(h.since)) / DAY_MS) + 1 : null;
  span.textContent = h.since ? `${h.since} to ${h.until}${days ? `, ${num(days)} day${days === 1 ? "" : "s"}` : ""}` +
    ` · ${count(h.responses)} responses in ${count(h.sessions)} sessions${h.time_zone ? ` · ${h.time_zone}` : ""}` : "";
  const notes = [];
  if (!h.responses) notes.push("No responses in these days: nothing to go by. Choose a longer range.");
  if (d.applicable === false) notes.push(`Apply is off: ${d.why || "this daemon cannot write its config file"}.`.replace(/\.\.$/, "."));
  note.hidden = !notes.length;
  note.className = `cal-state${d.applicable === false ? " off" : ""}`;
  note.textContent = notes.join(" ");
  document.getElementById("cal-legend").hidden = false;
  const box = document.getElementById("cal-cards");
  box.textContent = "";
  const plot = cal.plot;
  for (const key of CAL_KEYS) {
    if (d[key]) box.appendChild(calCard(key, d[key], plot && plot.panels && plot.panels.get(key)));
  }
  // A plot that could not be cut per key: the whole of it, under the cards.
  if (plot && !plot.panels) {
    const art = document.createElement("article");
    art.className = "cal-card cal-whole";
    const fig = document.createElement("figure");
    fig.className = "cal-plot";
    fig.dataset.plot = "whole";
    plot.whole.removeAttribute("width");
    plot.whole.removeAttribute("height");
    fig.appendChild(plot.whole.cloneNode(true));
    art.append(Object.assign(document.createElement("h2"), { textContent: "Histograms" }), fig);
    box.appendChild(art);
  }
  view.dataset.days = cal.days;
  view.dataset.rendered = "true";
}

/** One key's card. */
function calCard(key, k, panel) {
  const spec = CAL[key], d = cal.data, f = k.figures || {};
  const has = k.proposed !== null && k.proposed !== undefined;
  const same = has && sameValue(k.current, k.proposed);
  const art = document.createElement("article");
  art.className = "cal-card";
  Object.assign(art.dataset, { key, current: JSON.stringify(k.current), proposed: JSON.stringify(k.proposed ?? null),
    state: !has ? "none" : same ? "same" : "proposal" });
  const add = (parent, tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  };
  const head = add(art, "header");
  add(head, "h2", "", key);
  add(head, "p", "cal-what", spec.what);

  const values = add(art, "p", "cal-values");
  add(values, "span", "cal-now", spec.value(k.current, f)).title = "in force";
  if (has && !same) {
    add(values, "span", "cal-arrow", "→").setAttribute("aria-label", "proposed:");
    add(values, "span", "cal-new", spec.value(k.proposed, f)).title = "proposed";
  }
  add(values, "span", "cal-unit", spec.unit);
  if (same) add(values, "span", "cal-tag", "proposal: as now");
  if (!has) {
    add(values, "span", "cal-tag none", "no proposal");
    add(art, "p", "cal-why").append(...ticked(`${(k.note || "these days say nothing about it").replace(/^./, c => c.toUpperCase())}.`.replace(/\.\.$/, ".")));
  }

  const fig = add(art, "figure", "cal-plot");
  if (panel) {
    fig.dataset.plot = "panel";
    fig.appendChild(panel.svg.cloneNode(true));
    const said = panel.words.filter(w => w.size < Math.max(...panel.words.map(x => x.size)) || panel.words.length === 1);
    if (said.length) add(fig, "figcaption", "", said.map(w => w.text).join(" · "));
  } else {
    fig.remove();
  }

  // The figures, where these days have any.
  const figures = spec.pcts(f), effects = spec.effect(f);
  const pcts = add(art, "dl", "cal-pcts");
  for (const [name, v] of figures) {
    const div = add(pcts, "div");
    add(div, "dt", "", name);
    add(div, "dd", "", v);
  }
  if (figures.every(([, v]) => v === "–")) pcts.remove();
  // What the figures are of: the histogram's caption says it, else a line here.
  if (!art.querySelector("figcaption")) add(art, "p", "cal-basis", spec.basis(f));
  const t = add(art, "table", "cal-effect");
  t.innerHTML = "<thead><tr><th></th><th class=num>now</th><th class=num>proposed</th></tr></thead>";
  const body = add(t, "tbody");
  for (const [name, now, proposed] of effects) {
    const tr = add(body, "tr");
    add(tr, "th", "", name);
    add(tr, "td", "num", now);
    add(tr, "td", "num", has ? proposed : "–");
  }
  if (effects.every(([, now, proposed]) => now === "–" && (!has || proposed === "–"))) t.remove();
  if (spec.more) add(art, "p", "cal-more", spec.more(f));
  const rule = add(art, "p", "cal-rule");
  add(rule, "b", "", "Rule ");
  rule.append(...ticked(k.rule || "–"));

  const actions = add(art, "div", "cal-actions");
  calActions(actions, key, k, has, same, d);
  return art;
}

/** The card's foot: Apply, or its confirmation, and what the last Apply said. */
function calActions(box, key, k, has, same, d) {
  box.textContent = "";
  const button = (text, cls, onclick) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = cls;
    b.textContent = text;
    b.addEventListener("click", onclick);
    return b;
  };
  const redraw = () => calActions(box, key, cal.data[key], has, same, cal.data);
  if (cal.confirming === key && cal.writing !== key) {
    const ask = document.createElement("div");
    ask.className = "cal-confirm";
    ask.setAttribute("role", "group");
    const q = document.createElement("p");
    const file = d.config_file || "the config file";
    q.append("Write ", Object.assign(document.createElement("code"), { textContent: calAssignment(key, k.proposed) }), " into ",
      Object.assign(document.createElement("code"), { textContent: file }), "?");
    ask.append(q,
      button("Confirm", "cal-button primary", () => applyProposal(key, redraw)),
      button("Cancel", "cal-button", () => { cal.confirming = null; redraw(); }));
    box.appendChild(ask);
    ask.querySelector(".primary").focus();
  } else {
    const apply = button(cal.writing === key ? "Writing…" : "Apply", "cal-button primary cal-apply", () => {
      cal.confirming = key;
      redraw();
    });
    apply.dataset.apply = key;
    const why = d.applicable === false ? (d.why || "this daemon cannot write its config file")
      : !has ? "no proposal for these days" : same ? "the proposal is the value in force" : cal.writing === key ? "writing" : "";
    apply.disabled = !!why;
    apply.title = why || `write ${calAssignment(key, k.proposed)} into ${d.config_file || "the config file"}`;
    box.appendChild(apply);
  }
  const said = cal.said.get(key);
  if (said) {
    const out = document.createElement("div");
    out.className = `cal-said ${said.ok ? "ok" : "failed"}`;
    out.setAttribute("role", "status");
    for (const line of said.lines) out.appendChild(document.createElement("p")).textContent = line;
    box.appendChild(out);
  }
}

/** A proposal as the config file will read: `tach_redline = 25000`. */
function calAssignment(key, v) {
  if (key === "temp_zones" && v && typeof v === "object") return `temp_cool = ${zoneText(v.temp_cool)}, temp_hot = ${zoneText(v.temp_hot)}`;
  return `${key} = ${key === "cache_floor" ? zoneText(v) : v}`;
}

/** Writes `key`'s proposal into the daemon's config file, then reads the view again once
 *  the daemon follows the file (its `config` event, or 2.5 s at the latest). */
async function applyProposal(key, redraw) {
  cal.writing = key;
  cal.confirming = null;
  redraw();
  let said;
  try {
    const r = await fetch("/api/calibrate/apply", {
      method: "POST", cache: "no-store", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ key, days: Number(cal.days) }),
    });
    if (!r.ok) throw new Error(await failure(r));
    const a = await r.json();
    said = { ok: true, lines: Array.isArray(a.said) && a.said.length ? a.said : [`wrote ${calAssignment(key, a.value)}`] };
    cal.pending = { key, value: a.value, tries: 0 };
    clearTimeout(cal.timer);
    cal.timer = setTimeout(loadCalibrate, 2500);
  } catch (e) {
    said = { ok: false, lines: [`Not written: ${e.message}`] };
  }
  cal.said.set(key, said);
  cal.writing = null;
  redraw();
}

/** The configuration changed (an Apply, or the file edited): the proposals' "now" too. */
function calibrateConfigChanged() {
  if (!document.getElementById("calibrate").hidden && cal.data) loadCalibrate();
}

// ---------------------------------------------------------------- the needle sweep
//
// `redline serve --sweep`, or this switch: every needle through 0, 25, 50, 75 and 100 %
// and back, 3 s a mark, so the printed faces can be checked against the needles. The
// switch shows once the daemon answers GET /api/sweep, and follows it.

const sweep = { on: null, busy: false };

function showSweep(on) {
  const button = document.getElementById("sweep-toggle"), note = document.getElementById("sweep-note");
  sweep.on = on;
  button.hidden = false;
  button.setAttribute("aria-pressed", String(on));
  button.title = on ? "stop the sweep: the needles show your values again" : "drive every needle through 0, 25, 50, 75 and 100 % to check the faces";
  note.hidden = !on;
  note.classList.remove("failed");
  note.textContent = "Sweep: every needle goes 0-25-50-75-100 %, 3 s a mark; turn off to see your values";
  document.getElementById("cluster").dataset.sweep = on ? "on" : "off";
}

async function sweepState() {
  if (sweep.busy) return;
  try {
    const r = await fetch("/api/sweep", { cache: "no-store" });
    if (!r.ok) {
      // A daemon without the sweep: no switch.
      if (r.status === 404) document.getElementById("sweep-toggle").hidden = true;
      return;
    }
    const s = await r.json();
    if (!sweep.busy && typeof s.sweep === "boolean") showSweep(s.sweep);
  } catch (e) { /* the daemon is away: connection() says so */ }
}

async function toggleSweep() {
  if (sweep.busy) return;
  sweep.busy = true;
  const button = document.getElementById("sweep-toggle");
  button.disabled = true;
  try {
    const r = await fetch("/api/sweep", { method: "POST", cache: "no-store", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ on: !sweep.on }) });
    if (!r.ok) throw new Error(await failure(r));
    showSweep((await r.json()).sweep === true);
  } catch (e) {
    const note = document.getElementById("sweep-note");
    note.hidden = false;
    note.classList.add("failed");
    note.textContent = `The sweep could not be ${sweep.on ? "stopped" : "started"}: ${e.message}`;
  } finally {
    sweep.busy = false;
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- views

/** The values in words under the cluster, shown or hidden by a small switch and
 *  remembered in this browser. Until the switch is used they are shown (style.css makes
 *  them a compact list on a phone). */
function readoutToggle() {
  const root = document.documentElement, button = document.getElementById("readout-toggle");
  const list = document.getElementById("readout");
  let saved = null;
  try { saved = localStorage.getItem("redline.readout"); } catch (e) { /* no storage: the default */ }
  if (saved === "shown" || saved === "hidden") root.dataset.readout = saved;
  const label = () => {
    const shown = getComputedStyle(list).display !== "none";
    button.setAttribute("aria-expanded", String(shown));
    button.textContent = shown ? "hide values" : "show values";
  };
  button.addEventListener("click", () => {
    const next = getComputedStyle(list).display !== "none" ? "hidden" : "shown";
    root.dataset.readout = next;
    try { localStorage.setItem("redline.readout", next); } catch (e) { /* kept for this page only */ }
    label();
  });
  window.addEventListener("resize", label);
  label();
}

function route() {
  const view = { "#stats": "stats", "#character": "character", "#calibrate": "calibrate" }[location.hash] || "cluster";
  for (const s of document.querySelectorAll("[data-view]")) s.hidden = s.dataset.view !== view;
  for (const a of document.querySelectorAll("[data-view-link]"))
    a.setAttribute("aria-current", a.dataset.viewLink === view ? "page" : "false");
  if (view === "stats") loadStats();
  if (view === "calibrate") loadCalibrate();
  if (view === "character") loadCharacter();
  if (view === "cluster") sweepState();
}

async function main() {
  readoutToggle();
  window.addEventListener("hashchange", route);
  document.getElementById("days").addEventListener("change", loadStats);
  document.getElementById("cal-days").addEventListener("change", loadCalibrate);
  // character.js runs after this file: its loader is looked up when the range changes.
  document.getElementById("char-days").addEventListener("change", () => loadCharacter());
  document.getElementById("sweep-toggle").addEventListener("click", toggleSweep);
  // The faces need the configuration; without the daemon there is nothing to draw yet.
  for (;;) {
    try {
      await loadConfig();
      break;
    } catch (e) {
      connection(false);
      await new Promise(r => setTimeout(r, 2000));
    }
  }
  route();
  listen();
  setInterval(probe, 1000);
  // The sweep may be started elsewhere (`serve --sweep`, another page): look now and then.
  setInterval(() => { if (state.connected && !document.getElementById("cluster").hidden) sweepState(); }, 10000);
}

main();
