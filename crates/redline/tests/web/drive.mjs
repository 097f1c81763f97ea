// Drives redline's web page in headless Chromium (playwright-core) against the real daemon:
// the dials carry the daemon's own printed faces (/faces/<dial>.svg) as /api/config
// describes them, every needle and lamp equals /usage (a settled needle at the face's
// zero angle + 315 degrees x its position), no label lies under a needle at rest, the
// cluster fits the screen at 390, 768, 1280 and 1920 px (photographed at each), a dial
// without a face still works, each lamp is driven through its states (and photographed),
// the page shows the daemon's loss and recovery (coming back with other needles, a COST
// dial among them whose figures are dial-friendly, and after hanging), the readout
// switch, the needle sweep's switch (every needle on one mark, then the values again),
// every stats chart renders over the whole of each range (7 days, all history) with its
// empty days, gridlines, and no label on another or on the data, the calibrate view
// shows /api/calibrate's six keys with their histograms and applies a proposal (asked
// first; the daemon then runs with it), Apply is off under `serve --demo`, the character
// view draws /api/character's em-dashes, phrases with sparklines and watch list, the
// thinking by model, commits beside tokens (/api/git, from a repository the test commits
// into during its sessions) and a timesheet CSV against cost (/api/correlate) at desk and
// phone width, and phone width works.
// Run by tests/web.rs, which passes everything through the environment:
//   REDLINE_BIN    the redline binary
//   CHROMIUM       the browser executable
//   PLAYWRIGHT     the playwright-core package directory
//   WORKDIR        an empty directory to work in
//   SCREENSHOTS    where to save the screenshots (cluster.png, lamp-*.png, ...)
// Exits non-zero with a message on the first expectation that fails.
import { spawn, execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const env = name => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const REDLINE = env("REDLINE_BIN"), WORK = env("WORKDIR"), SHOTS = env("SCREENSHOTS");
const { chromium } = createRequire(import.meta.url)(env("PLAYWRIGHT"));
const claude = path.join(WORK, "claude");
const sleep = ms => new Promise(r => setTimeout(r, ms));
const LAMPS = ["model", "hot", "warn", "stall", "idle"];
// SPEC: the MODEL lamp's colour by family (the test writes these three).
const FAMILY_COLOR = { opus: "#e0301e", sonnet: "#ff9f1c", haiku: "#2ec27e" };
const STALL_AFTER_S = 3;

let daemon = null, browser = null;
const others = [];   // daemons started besides the main one
function fail(msg) {
  console.error(`web test: ${msg}`);
  if (daemon) {
    daemon.child.kill("SIGCONT");
    daemon.child.kill("SIGTERM");
  }
  for (const d of others) d.child.kill("SIGTERM");
  if (browser) browser.close().catch(() => {});
  process.exit(1);
}
process.on("unhandledRejection", e => fail(`unexpected: ${e && e.stack || e}`));
// However the script ends (a top-level await that throws ends it without the above), no
// daemon it started is left running.
process.on("exit", () => {
  for (const d of [daemon, ...others]) if (d) try { d.child.kill("SIGKILL"); } catch (e) { /* gone already */ }
});

/** Polls `check` until it returns true; anything else it returns (or throws) is the
 *  reason it is not there yet, shown if time runs out. */
async function until(what, check, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await check();
      if (last === true) return;
    } catch (e) {
      last = e.message;
    }
    await sleep(100);
  }
  fail(`timed out waiting for ${what} (last: ${typeof last === "string" ? last : JSON.stringify(last)})`);
}

// ---------------------------------------------------------------- transcripts

const PROJECTS = ["-home-dev-code-atlas", "-home-dev-code-beacon", "-home-dev-scratch"];
const LIVE_SESSION = "web-test-session";
const livePath = path.join(claude, "projects", PROJECTS[0], `${LIVE_SESSION}.jsonl`);

/** One assistant line as Claude Code writes it, with a thinking block and visible text
 *  (their character shares split output_tokens: the thinking estimate). */
function assistant({ id, model, at = new Date(), session = LIVE_SESSION, input = 100, output = 200, create = 0, read = 40000,
                     thinking = 300, text = 700, signature = "", exact = null, cwd = "/home/dev/code" }) {
  const content = [];
  if (thinking) content.push({ type: "thinking", thinking: "t".repeat(thinking), signature });
  content.push({ type: "text", text: typeof text === "string" ? text : "x".repeat(text) });
  const usage = { input_tokens: input, output_tokens: output, cache_creation_input_tokens: create, cache_read_input_tokens: read };
  if (exact !== null) usage.output_tokens_details = { thinking_tokens: exact };
  return JSON.stringify({
    type: "assistant", isSidechain: false, sessionId: session, version: "2.1.90", cwd,
    requestId: `req_${id}`, timestamp: at.toISOString(), uuid: `u-${id}`,
    message: { id: `msg_${id}`, model, type: "message", role: "assistant", content, usage },
  }) + "\n";
}

/** An API error as Claude Code records it: a synthetic model and no usage. */
function apiError(id) {
  return JSON.stringify({
    type: "assistant", isSidechain: false, sessionId: LIVE_SESSION, version: "2.1.90", timestamp: new Date().toISOString(),
    isApiErrorMessage: true, uuid: `u-${id}`,
    message: { id: `msg_${id}`, model: "<synthetic>", type: "message", role: "assistant",
      content: [{ type: "text", text: "API Error: 529 {\"type\":\"overloaded_error\"}" }],
      usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } },
  }) + "\n";
}

/** The assistant's prose for the character view: sentences drawn from a few, some with
 *  em-dashes, some the phrases Claude is known for, about `len` characters. */
const SENTENCES = ["Let me check the build.", "Perfect!", "You're absolutely right \u2014 the test was wrong.",
  "Now let me run it again.", "The cache is warm \u2014 reads are cheap.", "Done.", "I need to look at the config first.",
  "Great question \u2014 and a short answer: yes."];
function prose(rnd, len) {
  let out = "";
  while (out.length < len) out += (out ? " " : "") + SENTENCES[Math.floor(rnd() ** 1.4 * SENTENCES.length)];
  return out;
}

/** Days of the history with no use at all (days ago): the charts must leave their slots
 *  empty, not close the gap. */
const DAYS_OFF = [3, 4, 11, 12, 13];

/** The repository the first project's sessions work in: a commit is made in it during
 *  each of them (the character view's commits). */
const REPO = path.join(WORK, "repo");
const commits = [];

/** A month of history ending a day ago, so the stats have something to draw (the demo
 *  corpus is dated in the past) without touching the live values: nothing in it is
 *  younger than STALE_AFTER. Seeded, so every run writes the same. */
function history() {
  let x = 0x2545f491;
  const rnd = () => ((x ^= x << 13, x ^= x >>> 17, x ^= x << 5) >>> 0) / 2 ** 32;
  const models = ["claude-opus-4-6", "claude-sonnet-4-5", "claude-haiku-4-5"];
  const day0 = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  let n = 0;
  for (let d = 30; d >= 1; d--) {
    PROJECTS.forEach((project, p) => {
      const responses = Math.floor(rnd() * 28) - 4;
      if (responses <= 0 || DAYS_OFF.includes(d)) return;
      const session = `hist-${d}-${p}`;
      const lines = [];
      let t = day0 - d * 86400000 + (8 + Math.floor(rnd() * 9)) * 3600000;
      const cwd = p === 0 ? REPO : "/home/dev/code";
      for (let i = 0; i < responses; i++, n++) {
        t += Math.floor(rnd() * 240000);
        if (p === 0 && i === 1) commits.push(new Date(t + 30000));
        const kind = rnd();
        const think = Math.floor(rnd() * 2400);
        lines.push(assistant({ id: `h${n}`, session, at: new Date(t), model: models[Math.floor(rnd() ** 1.6 * 3)],
          input: Math.floor(rnd() * 3000), output: 200 + Math.floor(rnd() * 3800), create: Math.floor(rnd() * 20000),
          read: Math.floor(rnd() * 150000), thinking: kind < .15 ? 0 : think, text: prose(rnd, 200 + Math.floor(rnd() * 1500)),
          // Some exact (the usage says), some estimated (text shares), some unknowable
          // (a redacted signature and no text).
          exact: kind > .85 ? Math.floor(think / 4) : null,
          signature: kind > .7 && kind <= .85 ? "[REDACTED_SIGNATURE]" : "", cwd }));
      }
      const dir = path.join(claude, "projects", project);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, `${session}.jsonl`), lines.join(""));
    });
  }
}

// ---------------------------------------------------------------- the daemon

function startDaemon(port, extra = {}, args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(REDLINE, ["serve", "--listen", `127.0.0.1:${port}`, ...args], {
      env: { ...process.env, CLAUDE_CONFIG_DIR: claude, XDG_CONFIG_HOME: path.join(WORK, "config"),
             XDG_STATE_HOME: path.join(WORK, "state"), XDG_CACHE_HOME: path.join(WORK, "cache"), REDLINE_TIMEZONE: "UTC",
             REDLINE_STALL_AFTER: String(STALL_AFTER_S), ...extra },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.on("data", d => {
      err += d;
      // Once it serves and its values are final (the store read back).
      const m = err.match(/serving http:\/\/[^:]+:(\d+)\//);
      if (m && err.includes("redline: final values after ")) resolve({ child, port: Number(m[1]) });
    });
    child.on("exit", code => reject(new Error(`daemon exited (${code}): ${err}`)));
  });
}

execFileSync(REDLINE, ["demo", "generate", "--out", claude, "--responses", "2000", "--seed", "5"], { stdio: "ignore" });
history();
// The commits, at their times, one line each.
{
  const git = (args, at) => execFileSync("git", ["-C", REPO, "-c", "commit.gpgsign=false", ...args], {
    stdio: "ignore", env: { ...process.env, ...(at ? { GIT_AUTHOR_DATE: at.toISOString(), GIT_COMMITTER_DATE: at.toISOString() } : {}) } });
  mkdirSync(REPO, { recursive: true });
  execFileSync("git", ["init", "-q", REPO]);
  git(["config", "user.email", "dev@example.com"]);
  git(["config", "user.name", "Dev"]);
  commits.forEach((at, i) => {
    appendFileSync(path.join(REPO, "notes.txt"), `line ${i}\n`);
    git(["add", "notes.txt"]);
    git(["commit", "-q", "-m", `change ${i}`], at);
  });
}
// A series of the user's own for the character view's correlation: hours worked on the
// days of the history, more on busier days, as a timesheet's CSV export.
{
  const hours = [["Date", "Hours"]];
  for (let d = 30; d >= 1; d--) {
    if (DAYS_OFF.includes(d)) continue;
    hours.push([new Date(Date.now() - d * 86400000).toISOString().slice(0, 10), String(2 + (d * 7) % 6)]);
  }
  writeFileSync(path.join(WORK, "hours.csv"), hours.map(r => r.join(",")).join("\n") + "\n");
  mkdirSync(path.join(WORK, "config", "redline"), { recursive: true });
  writeFileSync(path.join(WORK, "config", "redline", "config.toml"),
    `[[correlate]]\nname = "hours worked"\npath = ${JSON.stringify(path.join(WORK, "hours.csv"))}\ntime = "Date"\nvalue = "Hours"\n`);
}
mkdirSync(path.dirname(livePath), { recursive: true });
writeFileSync(livePath, "");

daemon = await startDaemon(0);
const base = `http://127.0.0.1:${daemon.port}`;
const get = async p => {
  const r = await fetch(base + p);
  if (!r.ok) throw new Error(`${p}: ${r.status}`);
  return r.json();
};
const usage = () => get("/usage");
async function post(p, body) {
  const r = await fetch(base + p, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!r.ok) fail(`POST ${p} ${JSON.stringify(body)}: ${r.status} ${await r.text()}`);
}

// ---------------------------------------------------------------- the page

browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 820 } });
page.on("pageerror", e => fail(`page error: ${e.message}`));
mkdirSync(SHOTS, { recursive: true });

/** What the page shows: each dial (in order) with its hooks, the angle its needle is
 *  drawn at and its face (the inlined print: its sweep and zero angle, words, zones,
 *  figures); each lamp with its hooks and its animation. */
const shown = (p = page) => p.evaluate(() => ({
  gauges: [...document.querySelectorAll("[data-gauge]")].map(g => {
    const face = g.querySelector(".print");
    const text = sel => (face && face.querySelector(sel) || { textContent: null }).textContent;
    return {
      name: g.dataset.gauge, value: g.dataset.value, shown: g.dataset.shown,
      angle: Number((g.querySelector(".arm").getAttribute("transform").match(/rotate\(([-\d.e]+)/) || [])[1]),
      printed: !!face && !face.classList.contains("plain"), dial: face && face.dataset.dial,
      sweep: face && Number(face.dataset.sweep), zero: face && Number(face.dataset.zeroAngle),
      title: text(".title"), legend: text(".legend"),
      zones: face ? [...face.querySelectorAll(".zone")].map(z => ({
        color: [...z.classList].find(c => c !== "zone"), from: Number(z.dataset.from), to: Number(z.dataset.to) })) : [],
      numerals: face ? [...face.querySelectorAll(".numeral")].map(t => ({ text: t.textContent, value: Number(t.dataset.value) })) : [],
      ticks: face ? face.querySelectorAll(".tick").length : 0,
    };
  }),
  lamps: [...document.querySelectorAll("[data-lamp]")].map(l => {
    const glow = getComputedStyle(l, "::before");
    return { name: l.dataset.lamp, state: l.dataset.state, color: l.dataset.color, label: l.textContent.trim(),
             c: getComputedStyle(l).getPropertyValue("--c").trim().toLowerCase(),
             animation: glow.animationName, duration: glow.animationDuration, opacity: Number(glow.opacity) };
  }),
  connection: document.getElementById("status").dataset.connection,
  lost: !document.getElementById("lost").hidden,
  title: document.title,
}));

/** The dials are the configured ones, in order, each with the daemon's own face
 *  (/faces/<dial>.svg) inlined: the X27.168's sweep, the words, zones and figures of
 *  /api/config, the print-only marks hidden, no id twice in the document. */
async function facesFollow(p = page) {
  const cfg = await get("/api/config"), s = await shown(p);
  const names = s.gauges.map(g => g.name);
  if (names.join() !== cfg.needles.join()) return `faces ${names} but needles ${cfg.needles}`;
  for (const g of s.gauges) {
    const d = cfg.dials[g.name];
    if (!g.printed || g.dial !== g.name) return `${g.name}: no printed face inlined (${g.dial})`;
    if (g.sweep !== 315 || g.zero !== -157.5) return `${g.name}: a face of ${g.sweep} degrees from ${g.zero}, the X27.168 sweeps 315 from -157.5`;
    if (g.title !== d.title || g.legend !== d.legend) return `${g.name}: face says ${g.title}/${g.legend}, config ${d.title}/${d.legend}`;
    const zone = z => `${z.color} ${z.from.toFixed(4)}-${z.to.toFixed(4)}`;
    if (g.zones.map(zone).sort().join() !== d.zones.map(zone).sort().join())
      return `${g.name}: zones ${g.zones.map(zone)}, config ${d.zones.map(zone)}`;
    const byValue = [...g.numerals].sort((a, b) => a.value - b.value);
    if (!byValue.length || byValue[0].text !== d.low) return `${g.name}: zero stop labelled ${byValue.length && byValue[0].text}, config ${d.low}`;
    if (d.high && !g.numerals.some(n => n.text === d.high)) return `${g.name}: no ${d.high} on the face (${g.numerals.map(n => n.text)})`;
    if (g.ticks < 5) return `${g.name}: ${g.ticks} ticks on the face`;
  }
  // The page shows what the daemon serves, and only the part of it that is not for print.
  const served = await p.evaluate(async () => {
    const bad = [];
    for (const g of document.querySelectorAll("[data-gauge]")) {
      const name = g.dataset.gauge;
      const doc = new DOMParser().parseFromString(await (await fetch(`/faces/${name}.svg`)).text(), "image/svg+xml");
      const words = root => [...root.querySelectorAll(".numeral, .title, .legend, .mult")].map(t => t.textContent).join("|");
      if (words(doc) !== words(g.querySelector(".print"))) bad.push(`${name}: the page shows ${words(g.querySelector(".print"))}, the daemon serves ${words(doc)}`);
      if (doc.querySelectorAll(".tick").length !== g.querySelectorAll(".print .tick").length) bad.push(`${name}: ticks differ from /faces/${name}.svg`);
      for (const e of g.querySelectorAll(".print-only")) if (e.getBoundingClientRect().width || getComputedStyle(e).display !== "none") { bad.push(`${name}: a print-only mark shows`); break; }
      for (const part of [".bezel-ring", ".glass", ".hub", ".counterweight", ".needle", ".needle-shadow[filter]"])
        if (!g.querySelector(part)) bad.push(`${name}: no ${part}`);
    }
    const ids = [...document.querySelectorAll("[id]")].map(e => e.id);
    const twice = ids.filter((x, i) => ids.indexOf(x) !== i);
    if (twice.length) bad.push(`ids used twice: ${[...new Set(twice)]}`);
    return bad;
  });
  if (served.length) return served.join("; ");
  const lamps = s.lamps.map(l => l.name);
  if (lamps.join() !== cfg.lamps.map(l => l.name).join()) return `lamps ${lamps}, config ${cfg.lamps.map(l => l.name)}`;
  for (const l of cfg.lamps) {
    const q = s.lamps.find(x => x.name === l.name);
    if (q.label !== l.label) return `lamp ${l.name} labelled ${q.label}, config ${l.label}`;
    if (l.color && q.c !== l.color.toLowerCase()) return `lamp ${l.name} coloured ${q.c}, config ${l.color}`;
  }
  return true;
}

/** No word on a face (figures, title, legend, multiplier, NO DATA) lies under a needle resting at
 *  either stop: its blade, counterweight or hub cap, by the shapes Chromium draws. */
const labelsClear = () => page.evaluate(() => {
  const bad = [];
  for (const g of document.querySelectorAll("[data-gauge]")) {
    const face = g.querySelector(".print"), arm = g.querySelector(".arm");
    const zero = Number(face.dataset.zeroAngle), sweep = Number(face.dataset.sweep);
    const parts = [["needle", arm.querySelector(".needle")], ["counterweight", arm.querySelector(".counterweight")]];
    const hub = g.querySelector(".hub circle");
    for (const t of g.querySelectorAll(".print .numeral, .print .title, .print .legend, .print .mult, .unknown")) {
      const b = t.getBBox();
      if (!b.width) continue;
      for (const [stop, a] of [["zero", zero], ["full scale", zero + sweep]]) {
        const r = -a * Math.PI / 180, c = Math.cos(r), s = Math.sin(r);
        let hit = null;
        // Points across the word's box, and the same turned into the needle's own frame
        // (drawn pointing up, then turned by the stop's angle).
        for (let i = 0; i <= 24 && !hit; i++)
          for (let j = 0; j <= 8 && !hit; j++) {
            const x = b.x + b.width * i / 24, y = b.y + b.height * j / 8;
            const local = new DOMPoint(x * c - y * s, x * s + y * c);
            hit = (parts.find(([, e]) => e.isPointInFill(local)) || [])[0]
              || (hub.isPointInFill(new DOMPoint(x, y)) ? "hub cap" : null);
          }
        if (hit) bad.push(`${g.dataset.gauge}: "${t.textContent}" lies under the ${hit} at the ${stop} stop`);
      }
    }
  }
  return bad.length ? bad.join("; ") : true;
});

/** A settled needle is drawn at its face's zero angle + 315 degrees x data-value (the
 *  zero stop when the value is unknown). */
const settledAngles = async (p = page) => {
  const s = await shown(p);
  for (const g of s.gauges) {
    const rest = g.value === "" ? 0 : Math.min(1, Math.max(0, Number(g.value)));
    if (Math.abs(Number(g.shown) - rest) > 1e-4) return `${g.name} still moving (${g.shown} of ${rest})`;
    if (Math.abs(g.angle - (g.zero + 315 * rest)) > 0.05) return `${g.name}: settled at ${g.angle} deg for ${g.value}, the face says ${g.zero} + 315 x ${rest}`;
  }
  return true;
};

/** Every needle and lamp equals /usage: the position received exactly, the needle settled
 *  within 0.002 of it and drawn at that angle, each lamp's state, MODEL's colour. */
async function agrees(p = page) {
  const u = await usage(), s = await shown(p);
  if (s.connection !== "live") return `status ${s.connection}`;
  const names = s.gauges.map(g => g.name);
  if (names.join() !== u.needles.join()) return `page dials ${names}, /usage needles ${u.needles}`;
  for (const g of s.gauges) {
    const v = u.gauges[g.name];
    if (v === null ? g.value !== "" : Math.abs(Number(g.value) - v) > 1e-9 || g.value === "")
      return `gauge ${g.name}: data-value ${JSON.stringify(g.value)}, /usage ${v}`;
    const rest = v === null ? 0 : v;
    if (Math.abs(Number(g.shown) - rest) > 0.002) return `gauge ${g.name}: needle at ${g.shown}, /usage ${v}`;
    if (Math.abs(g.angle - (g.zero + g.sweep * Number(g.shown))) > 0.05) return `gauge ${g.name}: drawn at ${g.angle} deg for ${g.shown}`;
  }
  if (s.lamps.map(l => l.name).join() !== LAMPS.join()) return `lamp order ${s.lamps.map(l => l.name)}`;
  for (const l of s.lamps) if (l.state !== u.lamps[l.name]) return `lamp ${l.name}: page ${l.state}, /usage ${u.lamps[l.name]}`;
  const model = s.lamps[0];
  if (model.color !== (u.model.color || "")) return `MODEL data-color ${model.color}, /usage ${u.model.color}`;
  if (u.model.color && model.c !== u.model.color.toLowerCase()) return `MODEL drawn in ${model.c}, /usage ${u.model.color}`;
  // The title: the dials' figures, left to right.
  const first = (await get("/api/config")).dials[u.needles[0]].title;
  if (!s.title.startsWith(`${first} `) || !s.title.endsWith(" — redline") || /offline|unreachable/.test(s.title)) return `title ${s.title}`;
  return true;
}

/** Lamp `name` is in `state` on /usage and the page agrees; returns the page's view. */
async function lampIs(name, state, ms = 15000) {
  await until(`${name.toUpperCase()} ${state} on /usage`, async () => {
    const u = await usage();
    return u.lamps[name] === state || `${name} is ${u.lamps[name]}`;
  }, ms);
  await until(`the page to agree with /usage (${name} ${state})`, agrees);
  const lamp = (await shown()).lamps.find(l => l.name === name);
  const anim = { off: "none", on: "none", blink: "blink", pulse: "breathe" }[state];
  if (lamp.animation !== anim) fail(`${name} ${state} animates ${lamp.animation}, expected ${anim}`);
  if (state === "blink" && lamp.duration !== "1s") fail(`${name} blinks every ${lamp.duration}, not 1 Hz`);
  return lamp;
}

/** A photograph of the object. Lit phases for blinking lamps (animations stopped at
 *  their start, which is lit); a pulsing lamp is caught near the top of its breath. */
async function shoot(name, { breathing = false } = {}) {
  const stage = page.locator(".stage");
  if (breathing) {
    // style.css's breathe is 4 s, peaking at 2 s; app.js locks its phase to the clock.
    while (Math.abs((Date.now() % 4000) - 1900) > 150) await sleep(20);
    await stage.screenshot({ path: path.join(SHOTS, name) });
  } else {
    await stage.screenshot({ path: path.join(SHOTS, name), animations: "disabled" });
  }
}

/** The page down to the end of the readout (the docs' picture), lamps lit. */
async function shootPage(name) {
  const bottom = await page.evaluate(() => Math.ceil(Math.max(...[".stage", "#readout-toggle", "#readout"]
    .map(q => document.querySelector(q).getBoundingClientRect().bottom)) + 24));
  await page.screenshot({ path: path.join(SHOTS, name), animations: "disabled", clip: { x: 0, y: 0, width: page.viewportSize().width, height: bottom } });
}

/** Samples a lamp's glow for `ms` and returns the lowest and highest opacity seen. */
async function glowRange(name, ms) {
  const seen = [];
  for (const end = Date.now() + ms; Date.now() < end; await sleep(60))
    seen.push(await page.evaluate(n => Number(getComputedStyle(document.querySelector(`[data-lamp="${n}"]`), "::before").opacity), name));
  return [Math.min(...seen), Math.max(...seen)];
}

/** The screens the cluster is checked and photographed at: a phone, an upright tablet,
 *  a laptop, a desk monitor. */
const SCREENS = [[390, 844], [768, 1024], [1280, 800], [1920, 1080]];

/** Where the cluster's parts lie on the page (CSS pixels from the top of the page). */
const layout = () => page.evaluate(() => {
  const box = e => {
    const b = e.getBoundingClientRect();
    return { left: b.left, right: b.right, top: b.top + scrollY, bottom: b.bottom + scrollY, width: b.width, height: b.height };
  };
  return {
    w: innerWidth, h: innerHeight, scrollWidth: document.documentElement.scrollWidth,
    dials: [...document.querySelectorAll("[data-gauge]")].map(g => ({ name: g.dataset.gauge, ...box(g) })),
    lamps: box(document.querySelector(".annunciator")), plate: box(document.querySelector(".bezel")),
  };
});

/** What is wrong with the cluster's layout for its screen: a desk screen (900 px and
 *  wider) has the four dials in one row across most of its width and the cluster filling
 *  more than half of the first screen; a phone or tablet has them two by two, as wide as
 *  it allows; the phone (the issue's test) shows every dial on its first screen, past it
 *  by no more than the lamp row, and here the whole plate fits. Nothing scrolls sideways,
 *  dials are round, equal and apart, the lamps under them. */
function layoutProblems({ w, h, scrollWidth, dials, lamps, plate }) {
  const bad = [], px = v => `${Math.round(v)}px`;
  if (dials.length !== 4) return [`${dials.length} dials`];
  if (scrollWidth - w > 2) bad.push(`the page scrolls sideways by ${px(scrollWidth - w)}`);
  const size = dials[0].width;
  for (const d of dials) {
    if (Math.abs(d.width - d.height) > 1 || Math.abs(d.width - size) > 1) bad.push(`${d.name} is ${px(d.width)} x ${px(d.height)}, ${dials[0].name} ${px(size)}`);
    if (d.bottom > lamps.top) bad.push(`${d.name} reaches under the lamp row`);
  }
  dials.forEach((a, i) => dials.slice(i + 1).forEach(b => {
    if (Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5)
      bad.push(`${a.name} overlaps ${b.name}`);
  }));
  const rows = [...new Set(dials.map(d => Math.round(d.top)))];
  if (w >= 900) {
    if (rows.length !== 1) bad.push(`${rows.length} rows of dials at ${w} px, not one`);
    const span = Math.max(...dials.map(d => d.right)) - Math.min(...dials.map(d => d.left));
    if (span < 0.8 * w) bad.push(`the dials span ${px(span)} of ${w}`);
    if (size < 0.18 * w) bad.push(`dials of ${px(size)} on a ${w} px screen`);
    if (plate.bottom < 0.5 * h) bad.push(`the cluster ends at ${px(plate.bottom)} of a ${h} px screen: half of it empty`);
  } else {
    const cols = [...new Set(dials.map(d => Math.round(d.left)))];
    if (rows.length !== 2 || cols.length !== 2) bad.push(`${rows.length} rows and ${cols.length} columns of dials at ${w} px, not two by two`);
    if (size < 0.4 * w) bad.push(`dials of ${px(size)} on a ${w} px screen`);
  }
  for (const d of dials) if (d.bottom > h + lamps.height) bad.push(`${d.name} ends at ${px(d.bottom)}, past the first screen (${h}) by more than the lamp row`);
  if (plate.bottom > h) bad.push(`the plate ends at ${px(plate.bottom)}, past the first screen (${h})`);
  return bad;
}

let ids = 0;
const append = line => appendFileSync(livePath, line);
const write = (model, extra = {}) => append(assistant({ id: `live${ids++}`, model, ...extra }));

// ---------------------------------------------------------------- the default cluster

await page.goto(base + "/");
await until("the faces to follow /api/config", facesFollow);
const defaults = (await get("/api/config")).needles;
if (defaults.join() !== "fuel,tach,temp,boost") fail(`default needles are ${defaults}`);
await until("the page to agree with /usage", agrees);

// Nothing has happened for months: IDLE breathes, MODEL is dark.
let lamp = await lampIs("idle", "pulse");
if ((await usage()).lamps.model !== "off") fail("MODEL should be off with nothing newer than STALE_AFTER");
const [low, high] = await glowRange("idle", 2500);
if (high - low < 0.3) fail(`IDLE does not breathe: glow from ${low} to ${high}`);
await shoot("lamp-idle-pulse.png", { breathing: true });
// Without motion the breath is a steady dim glow and a blink is a steady, marked light.
await page.emulateMedia({ reducedMotion: "reduce" });
lamp = (await shown()).lamps.find(l => l.name === "idle");
if (lamp.animation !== "none" || lamp.opacity < 0.2 || lamp.opacity > 0.6) fail(`reduced motion: IDLE ${lamp.animation} at ${lamp.opacity}`);
await page.emulateMedia({ reducedMotion: null });

// MODEL in its family's colour, after each append.
for (const [family, model] of [["sonnet", "claude-sonnet-4-5"], ["haiku", "claude-haiku-4-5"], ["opus", "claude-opus-4-6"]]) {
  write(model);
  await until(`/usage to say ${family}`, async () => (await usage()).model.family === family || (await usage()).model.family);
  const u = await usage();
  if (u.model.color !== FAMILY_COLOR[family]) fail(`/usage gives ${family} the colour ${u.model.color}, SPEC says ${FAMILY_COLOR[family]}`);
  lamp = await lampIs("model", "on");
  if (lamp.color !== FAMILY_COLOR[family]) fail(`MODEL shows ${lamp.color} for ${family}`);
  await shoot(`lamp-model-${family}.png`);
}

// WARN on at 80 % of the plan's 5-hour window used (the statusLine's real figure).
const resets = Math.floor(Date.now() / 1000) + 3600;
await post("/statusline", { session_id: "statusline-test", rate_limits: { five_hour: { used_percentage: 85, resets_at: resets } } });
await lampIs("warn", "on");
await shoot("lamp-warn-on.png");

// HOT on from the redline (20,000 tokens/min by default), blinking past full scale. The
// TACH needle's way there is traced: eased over many frames, never backwards, never past.
await page.evaluate(() => {
  const fig = document.querySelector('[data-gauge="tach"]');
  window.trace = [];
  new MutationObserver(() => window.trace.push(Number(fig.dataset.shown)))
    .observe(fig, { attributes: true, attributeFilter: ["data-shown"] });
});
write("claude-opus-4-6", { input: 20500 });
await lampIs("hot", "on");
const trace = await page.evaluate(() => window.trace);
const goal = Number((await shown()).gauges.find(g => g.name === "tach").value);
if (new Set(trace).size < 4) fail(`TACH jumped instead of easing: ${trace.join(" ")}`);
for (let i = 1; i < trace.length; i++)
  if (trace[i] < trace[i - 1] - 1e-9 || trace[i] > goal + 1e-4) fail(`TACH overshot or turned back on its way to ${goal}: ${trace.join(" ")}`);
await shoot("lamp-hot-on.png");
// The cluster as the docs show it: MODEL, HOT and WARN lit, every needle off its stop.
await shootPage("cluster.png");
// The same at a phone's, a tablet's and two desk screens' sizes: sized to the screen,
// two by two or four in a row, all of it on the first screen.
for (const [w, h] of SCREENS) {
  await page.setViewportSize({ width: w, height: h });
  await until(`the cluster laid out at ${w} px`, async () => {
    const bad = layoutProblems(await layout());
    return bad.length ? bad.join("; ") : true;
  }, 5000);
  await until(`the page to agree at ${w} px`, agrees);
  await page.screenshot({ path: path.join(SHOTS, `cluster-${w}.png`), animations: "disabled" });
}
await page.setViewportSize({ width: 1280, height: 820 });
await until("the needles to settle at their faces' angles", settledAngles);
await until("no word on a face under a resting needle", labelsClear);
write("claude-opus-4-6", { input: 8000 });
await lampIs("hot", "blink");
const [off, on] = await glowRange("hot", 1300);
if (off > 0.1 || on < 0.9) fail(`HOT does not blink: glow from ${off} to ${on}`);
await page.emulateMedia({ reducedMotion: "reduce" });
lamp = (await shown()).lamps.find(l => l.name === "hot");
if (lamp.animation !== "none" || lamp.opacity < 0.9) fail(`reduced motion: HOT blink shows ${lamp.animation} at ${lamp.opacity}`);
await page.emulateMedia({ reducedMotion: null });
await shoot("lamp-hot-blink.png");

// WARN blinks at 95 %.
await post("/statusline", { session_id: "statusline-test", rate_limits: { five_hour: { used_percentage: 96, resets_at: resets } } });
await lampIs("warn", "blink");
await shoot("lamp-warn-blink.png");

// STALL on: a prompt, then nothing from that session for longer than STALL_AFTER.
await post("/hook", { session_id: "stall-test", hook_event_name: "UserPromptSubmit" });
await lampIs("stall", "on", (STALL_AFTER_S + 15) * 1000);
await shoot("lamp-stall-on.png");
// A tool running is not a stall; the turn's Stop ends it.
await post("/hook", { session_id: "stall-test", hook_event_name: "PreToolUse", tool_name: "Bash" });
await lampIs("stall", "off");
await post("/hook", { session_id: "stall-test", hook_event_name: "Stop" });

// STALL blinks after an API error.
append(apiError(`err${ids++}`));
await lampIs("stall", "blink");
await shoot("lamp-stall-blink.png");

// ---------------------------------------------------------------- loss and recovery

// The daemon hangs (stopped, not gone): the stream stays open and says nothing, so only
// the page's own asking finds out. It must not go on showing the last figures as live.
const OFFLINE = "offline — redline";
process.kill(daemon.child.pid, "SIGSTOP");
await until("the page to notice a daemon that stopped answering", async () => {
  const s = await shown();
  return (s.connection === "lost" && s.lost && s.title === OFFLINE) || `status ${s.connection}, title ${s.title}`;
}, 20000);
process.kill(daemon.child.pid, "SIGCONT");
await until("the page to be live again after the daemon resumed", async () => (await shown()).connection === "live" || "still lost", 20000);
await until("the page to agree with /usage after the hang", agrees);

// The daemon goes away: the page says so, the needles rest, STALL blinks, the rest is
// dark, and the title keeps no old figures.
daemon.child.kill("SIGTERM");
await until("the page to show the daemon's loss", async () => {
  const s = await shown();
  if (s.connection !== "lost" || !s.lost) return `status ${s.connection}, notice ${s.lost}`;
  for (const g of s.gauges) if (g.value !== "" || Number(g.shown) !== 0) return `${g.name} at ${g.value}/${g.shown}`;
  for (const l of s.lamps) if (l.state !== (l.name === "stall" ? "blink" : "off")) return `${l.name} ${l.state}`;
  if (s.title !== OFFLINE) return `title ${s.title}`;
  return true;
});
await shootPage("lost.png");

// It comes back on the same port with other needles, a non-default dial among them: the
// open page redraws its faces and agrees again, and so does a fresh load.
const other = "cost,boost,context,tach";
daemon = await startDaemon(daemon.port, { REDLINE_NEEDLES: other });
await until("recovery with the new needles", async () => (await shown()).connection === "live" || "still lost", 20000);
await until("the faces to follow the new configuration", facesFollow);
if ((await get("/api/config")).needles.join() !== other) fail(`REDLINE_NEEDLES=${other} gave ${(await get("/api/config")).needles}`);
await until("the page to agree with /usage after the restart", agrees);
await page.reload();
await until("the faces to follow after a reload", facesFollow);
await until("the page to agree after a reload", agrees);
const alt = await shown();
for (const name of ["cost", "context"])
  if (alt.gauges.find(g => g.name === name).value === "") fail(`${name} has no value after a day of responses`);
await shootPage("cluster-alt.png");
await until("the alternative needles to settle at their faces' angles", settledAngles);
await until("no word on the alternative faces under a resting needle", labelsClear);

// COST's figures are dial-friendly: whole steps of 1, 2, 2.5 or 5 x 10^n from $0, none
// past full scale (the page's own drawing once printed $13 $25 $38 on a $50 scale).
{
  const full = (await get("/api/config")).dials.cost.full_scale;
  const figures = alt.gauges.find(g => g.name === "cost").numerals;
  const say = figures.map(n => n.text).join(" ");
  if (figures.length < 3 || figures.some(n => !/^\$\d+(\.\d+)?$/.test(n.text) || Math.abs(Number(n.text.slice(1)) - n.value) > 1e-9))
    fail(`COST's figures are ${say}`);
  const values = figures.map(n => n.value).sort((a, b) => a - b), step = values[1] - values[0];
  const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
  if (values[0] !== 0 || ![1, 2, 2.5, 5].some(m => Math.abs(m - mantissa) < 1e-6)
      || values.some((v, i) => Math.abs(v - i * step) > 1e-6 * full) || values[values.length - 1] > full * (1 + 1e-9))
    fail(`COST's figures ${say} on a $${full} scale are not steps of 1, 2, 2.5 or 5 x 10^n from $0`);
}

// A dial whose face the daemon cannot give still works: a plain face with its title, the
// needle following /usage, and a word in the console.
{
  const bare = await browser.newPage({ viewport: { width: 1280, height: 820 } });
  const warnings = [];
  bare.on("console", m => m.type() === "warning" && warnings.push(m.text()));
  bare.on("pageerror", e => fail(`page error with a face missing: ${e.message}`));
  await bare.route(/\/faces\/boost\.svg$/, r => r.fulfill({ status: 503, body: "" }));
  await bare.goto(base + "/");
  await until("a dial without its face to work", async () => {
    const s = await shown(bare), boost = s.gauges.find(g => g.name === "boost");
    if (!boost) return "no BOOST dial";
    if (boost.printed || boost.title !== "BOOST") return `BOOST: printed ${boost.printed}, title ${boost.title}`;
    if (s.gauges.some(g => g.name !== "boost" && !g.printed)) return "another dial lost its face";
    return agrees(bare);
  });
  if (!warnings.some(w => w.includes("boost"))) fail(`no word in the console about BOOST's face: ${warnings}`);
  await bare.close();
}

// ---------------------------------------------------------------- the needle sweep

// The switch under the plate starts the sweep (POST /api/sweep): every needle of /usage
// goes to the same mark of 0, 25, 50, 75 and 100 %, the page's with them, and a note
// says what is going on; the switch again stops it, and the needles show the values.
{
  const marks = [0, 0.25, 0.5, 0.75, 1];
  const sweepShown = () => page.evaluate(() => ({
    visible: !document.getElementById("sweep-toggle").hidden, pressed: document.getElementById("sweep-toggle").getAttribute("aria-pressed"),
    note: document.getElementById("sweep-note").hidden ? null : document.getElementById("sweep-note").textContent,
  }));
  if ((await get("/api/sweep")).sweep !== false) fail("the sweep is on before anyone started it");
  await until("the sweep switch to show, off", async () => {
    const s = await sweepShown();
    return (s.visible && s.pressed === "false" && s.note === null) || JSON.stringify(s);
  });
  await page.click("#sweep-toggle");
  await until("the sweep to be on", async () => {
    const s = await sweepShown();
    if ((await get("/api/sweep")).sweep !== true) return "GET /api/sweep says off";
    return (s.pressed === "true" && /0-25-50-75-100 %, 3 s a mark; turn off to see your values/.test(s.note || "")) || JSON.stringify(s);
  }, 5000);
  // Every needle on one mark past the zero stop (so they really moved there), the page's
  // needles settled on it.
  await until("every needle of /usage on one mark of the sweep, and the page's", async () => {
    const u = await usage(), values = u.needles.map(n => u.gauges[n]);
    if (values.some(v => v !== values[0]) || !marks.includes(values[0]) || values[0] === 0) return `/usage needles at ${values}`;
    const s = await shown();
    for (const g of s.gauges)
      if (Number(g.value) !== values[0] || Math.abs(Number(g.shown) - values[0]) > 0.002) return `${g.name} at ${g.value}/${g.shown}, /usage ${values[0]}`;
    return true;
  }, 15000);
  await shootPage("sweep.png");
  await page.click("#sweep-toggle");
  await until("the sweep to be off", async () => {
    const s = await sweepShown();
    if ((await get("/api/sweep")).sweep !== false) return "GET /api/sweep says on";
    return (s.pressed === "false" && s.note === null) || JSON.stringify(s);
  }, 5000);
  await until("the page to agree with /usage after the sweep", agrees);
}

// ---------------------------------------------------------------- deep stats

const dayOf = (iso, n = 0) => new Date(Date.parse(`${iso}T00:00:00Z`) + n * 86400000).toISOString().slice(0, 10);
const today = new Date().toISOString().slice(0, 10);

/** Chooses a range on the page and waits for every chart to be drawn for it. */
async function range(days) {
  await page.selectOption("#days", days);
  await until(`every chart to render for ${days}`, () => page.evaluate(r =>
    [...document.querySelectorAll("[data-chart]")].every(c => c.dataset.rendered === "true" && c.dataset.range === r)
      || [...document.querySelectorAll("[data-chart]")].filter(c => c.dataset.range !== r || c.dataset.rendered !== "true")
        .map(c => c.dataset.chart).join(","), days));
}

/** What is wrong with the stats view drawn for `days`, against the daemon's answers:
 *  charts without data; an axis that is not every day of the window; a bar, point or
 *  block off its own time; dates under the axis at the wrong day; no gridlines or dark
 *  ones; a label sticking out of its chart, on another label, or on the data. */
async function statsProblems(days) {
  const api = await get(`/api/stats/daily?days=${days}`);
  const blocks = await get(`/api/stats/blocks?days=${days}`);
  const bad = await page.evaluate(([api, blocks]) => {
    const bad = [];
    const box = e => e.getBoundingClientRect();
    // Overlapping by more than half a pixel both ways (touching is not overlapping).
    const meets = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
    for (const e of document.querySelectorAll("[data-chart] .empty")) bad.push(`${e.closest("[data-chart]").dataset.chart}: ${e.textContent}`);
    for (const c of document.querySelectorAll("[data-chart]")) {
      const name = c.dataset.chart, svg = c.querySelector("svg");
      if (!svg) continue;
      const sb = box(svg);
      const texts = [...svg.querySelectorAll("text")].filter(t => t.textContent.trim()).map(t => [t, box(t)]);
      const marks = [...svg.querySelectorAll(".mark")].map(m => [m, box(m)]);
      // A line's points, on screen.
      const points = [...svg.querySelectorAll("polyline")].flatMap(l => [...l.points].map(p => new DOMPoint(p.x, p.y).matrixTransform(l.getScreenCTM())));
      texts.forEach(([t, a], i) => {
        const say = `${name}: "${t.textContent}"`;
        if (a.left < sb.left - 0.5 || a.right > sb.right + 0.5 || a.top < sb.top - 0.5 || a.bottom > sb.bottom + 0.5) bad.push(`${say} sticks out of the chart`);
        for (const [u, b] of texts.slice(i + 1)) if (meets(a, b)) bad.push(`${say} overlaps "${u.textContent}"`);
        const hit = marks.find(([, b]) => meets(a, b));
        if (hit) bad.push(`${say} covers a ${hit[0].tagName} ${hit[0].dataset.date || hit[0].dataset.start || ""}`);
        const p = points.find(p => p.x > a.left && p.x < a.right && p.y > a.top && p.y < a.bottom);
        if (p) bad.push(`${say} covers a point of the line at ${p.x},${p.y}`);
      });
    }
    const since = Date.parse(`${api.since}T00:00:00Z`);
    const slot = date => Math.round((Date.parse(`${date}T00:00:00Z`) - since) / 86400000);
    for (const name of ["daily", "cost", "cache", "thinking", "blocks"]) {
      const svg = document.querySelector(`[data-chart="${name}"] svg`);
      if (!svg) { bad.push(`${name}: no chart`); continue; }
      const n = Number(svg.dataset.days), x0 = Number(svg.dataset.x0), x1 = Number(svg.dataset.x1), dw = (x1 - x0) / n;
      if (n !== api.days || svg.dataset.since !== api.since)
        bad.push(`${name}: an axis of ${n} days from ${svg.dataset.since}, the window is ${api.days} from ${api.since}`);
      for (const m of svg.querySelectorAll(".mark[data-date]")) {
        const at = m.tagName === "circle" ? Number(m.getAttribute("cx")) : Number(m.getAttribute("x")) + Number(m.getAttribute("width")) / 2;
        const want = x0 + (slot(m.dataset.date) + 0.5) * dw;
        if (Math.abs(at - want) > 0.5) bad.push(`${name}: ${m.dataset.date} drawn at ${at.toFixed(1)}, its day is at ${want.toFixed(1)}`);
      }
      const dates = [...svg.querySelectorAll("text.xlabel")];
      if (dates.length < 2) bad.push(`${name}: ${dates.length} dates under the axis`);
      for (const t of dates) {
        const i = slot(t.dataset.date), at = Number(t.getAttribute("x"));
        if (i < 0 || i >= n || !t.dataset.date.includes(t.textContent)) bad.push(`${name}: the date "${t.textContent}" (${t.dataset.date}) is not a day of the window`);
        else if (Math.abs(at - (x0 + (i + 0.5) * dw)) > 0.01) bad.push(`${name}: "${t.textContent}" is not under its day`);
      }
      const grid = [...svg.querySelectorAll("line.gridline")];
      const across = grid.filter(g => g.getAttribute("y1") === g.getAttribute("y2")).length;
      if (across < 2 || grid.length - across < 1) bad.push(`${name}: ${across} gridlines across and ${grid.length - across} up`);
      for (const g of grid) {
        const stroke = getComputedStyle(g).stroke, alpha = Number((stroke.match(/\/\s*([\d.]+)\)$/) || stroke.match(/rgba\([^)]*,\s*([\d.]+)\)$/) || [0, 1])[1]);
        if (stroke === "none" || !(alpha < 0.3)) { bad.push(`${name}: a gridline stroked ${stroke}, not light`); break; }
      }
      if (name === "blocks") {
        const from = Date.parse(blocks.from), to = Date.parse(blocks.to);
        const drawn = [...svg.querySelectorAll(".mark[data-start]")];
        if (drawn.length !== blocks.rows.filter(r => r.tokens > 0).length) bad.push(`blocks: ${drawn.length} drawn of ${blocks.rows.length}`);
        for (const m of drawn) {
          const start = Date.parse(m.dataset.start);
          if (start < from) continue;
          const want = x0 + ((start - from) / (to - from)) * (x1 - x0), at = Number(m.getAttribute("x"));
          if (Math.abs(at - want) > 1) bad.push(`blocks: the block of ${m.dataset.start} at ${at.toFixed(1)}, its time is at ${want.toFixed(1)}`);
        }
      }
    }
    // The days with use have their bars, and only they.
    const used = api.rows.filter(r => r.tokens.total > 0).map(r => r.date).sort().join();
    const barred = [...new Set([...document.querySelectorAll('[data-chart="daily"] .mark[data-date]')].map(m => m.dataset.date))].sort().join();
    if (used !== barred) bad.push(`daily: bars on ${barred}, use on ${used}`);
    return bad;
  }, [api, blocks]);
  return { api, bad };
}

await page.goto(base + "/#stats");
const choices = await page.$$eval("#days option", os => os.map(o => o.value));
if (choices.join() !== "7,30,90,all") fail(`the range choices are ${choices}`);
await until("every chart to render", () => page.evaluate(() =>
  [...document.querySelectorAll("[data-chart]")].every(c => c.dataset.rendered === "true")
    || [...document.querySelectorAll("[data-chart]")].filter(c => c.dataset.rendered !== "true").map(c => c.dataset.chart).join(",")));
const stats = await page.evaluate(() => ({
  sessions: document.querySelectorAll('[data-chart="sessions"] tbody tr').length,
  thinkingBars: document.querySelectorAll('[data-chart="thinking"] svg rect.mark').length,
  thinkingText: document.querySelector('[data-chart="thinking"]').textContent,
}));
if (stats.sessions < 1) fail("the sessions table is empty");
const thinking = await get("/api/stats/thinking?days=30");
if (!thinking.rows.length) fail("/api/stats/thinking has no rows after a month of history");
if (stats.thinkingBars < 1) fail("the thinking chart draws no bars");
if (thinking.overall.basis && !stats.thinkingText.includes(`(${thinking.overall.basis})`))
  fail(`the thinking chart does not say its basis ${thinking.overall.basis}: ${stats.thinkingText}`);

/** Checks the view for `days` and returns the daemon's window for it. */
async function statsHold(days, label) {
  await range(days);
  const { api, bad } = await statsProblems(days);
  if (bad.length) fail(`stats, ${label}, ${days}: ${bad.slice(0, 12).join("; ")}${bad.length > 12 ? ` (and ${bad.length - 12} more)` : ""}`);
  const span = await page.textContent("#span");
  if (!span.includes(api.since) || !span.includes(`${api.days} day`)) fail(`the range says "${span}" for ${api.since}, ${api.days} days`);
  return api;
}

const month = await statsHold("30", "desk");
if (month.days !== 30 || month.until !== today) fail(`30 days: ${month.since} to ${month.until}, ${month.days} days`);
await page.screenshot({ path: path.join(SHOTS, "stats.png"), fullPage: true });
const week = await statsHold("7", "desk");
// The week holds days without use: their slots are there, empty.
const daysOff = DAYS_OFF.map(n => dayOf(today, -n)).filter(d => d >= week.since);
if (week.days !== 7 || week.since !== dayOf(today, -6) || daysOff.length < 2 || daysOff.some(d => week.rows.some(r => r.date === d)))
  fail(`7 days: ${week.since} to ${week.until} (${week.days}), days off ${daysOff}, rows ${week.rows.map(r => r.date)}`);
await page.screenshot({ path: path.join(SHOTS, "stats-7d.png"), fullPage: true });
const all = await statsHold("all", "desk");
// All of history: from the first day with a response (the demo corpus's, months ago) to
// today, every day between.
const firstDay = all.rows.map(r => r.date).sort()[0];
if (all.since !== firstDay || all.until !== today || all.days !== Math.round((Date.parse(today) - Date.parse(firstDay)) / 86400000) + 1 || all.days < 200)
  fail(`all: ${all.since} to ${all.until}, ${all.days} days, first row ${firstDay}`);
await page.screenshot({ path: path.join(SHOTS, "stats-all.png"), fullPage: true });
const quarter = await statsHold("90", "desk");
if (quarter.days !== 90) fail(`90 days: ${quarter.days}`);

// ---------------------------------------------------------------- calibrate

const CAL_KEYS = ["tach_redline", "block_budget", "tach_window", "stall_after", "cache_floor", "temp_zones"];
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b)
  || (a && b && typeof a === "object" && typeof b === "object" && Object.keys(a).length === Object.keys(b).length && Object.keys(a).every(k => same(a[k], b[k])));

/** GET /api/calibrate as the page reads it (the daemon reads for one request at a time:
 *  a 503 while the page's own is running is asked again). */
async function calibration(days) {
  for (let i = 0; ; i++) {
    const r = await fetch(`${base}/api/calibrate?days=${days}`);
    if (r.ok) return r.json();
    if (r.status !== 503 || i > 20) fail(`/api/calibrate?days=${days}: ${r.status} ${await r.text()}`);
    await sleep(500);
  }
}

/** What the calibrate view shows, card by card. */
const calShown = () => page.evaluate(() => {
  const view = document.getElementById("calibrate");
  const text = (e, q) => (e.querySelector(q) || { textContent: null }).textContent;
  return {
    days: view.dataset.days, rendered: view.dataset.rendered, span: document.getElementById("cal-span").textContent,
    state: document.getElementById("cal-state").hidden ? null : document.getElementById("cal-state").textContent,
    cards: [...document.querySelectorAll("#cal-cards [data-key]")].map(c => {
      const apply = c.querySelector("[data-apply]"), svg = c.querySelector(".cal-plot svg");
      const b = c.getBoundingClientRect(), s = svg && svg.getBoundingClientRect();
      return {
        key: c.dataset.key, current: JSON.parse(c.dataset.current), proposed: JSON.parse(c.dataset.proposed), state: c.dataset.state,
        now: text(c, ".cal-now"), new: text(c, ".cal-new"), tag: text(c, ".cal-tag"), rule: text(c, ".cal-rule"), why: text(c, ".cal-why"),
        figures: [...c.querySelectorAll(".cal-pcts dd")].map(d => d.textContent),
        plot: svg ? { kind: svg.parentNode.dataset.plot, bars: svg.querySelectorAll("rect").length, lines: svg.querySelectorAll("line").length,
                      inside: s.left >= b.left - 0.5 && s.right <= b.right + 0.5 && s.width > 0.8 * (b.width - 40), height: s.height } : null,
        apply: apply && { disabled: apply.disabled, title: apply.title, text: apply.textContent },
        box: { left: b.left, right: b.right, top: b.top, bottom: b.bottom },
      };
    }),
    // Nothing active came in with the plot.
    unsafe: [...view.querySelectorAll("script, foreignObject, iframe, style")].length
      + [...view.querySelectorAll("*")].filter(e => [...e.attributes].some(a => /^on/i.test(a.name) || (/href$/i.test(a.name) && !a.value.startsWith("#")))).length,
    scroll: document.documentElement.scrollWidth - innerWidth,
  };
});

/** Chooses a range on the calibrate view and waits for its cards. */
async function calRange(days) {
  await page.selectOption("#cal-days", days);
  await until(`the calibrate view to render for ${days} days`, async () => {
    const s = await calShown();
    return (s.rendered === "true" && s.days === days && s.cards.length > 0) || `${s.rendered} ${s.days} ${s.state}`;
  }, 30000);
}

/** What is wrong with the calibrate view against /api/calibrate for `days`. */
async function calProblems(days) {
  const api = await calibration(days), s = await calShown(), bad = [];
  if (s.cards.map(c => c.key).join() !== CAL_KEYS.join()) bad.push(`cards ${s.cards.map(c => c.key)}, not ${CAL_KEYS}`);
  const h = api.history;
  if (!s.span.includes(h.since) || !s.span.includes(h.until) || !s.span.includes(`${h.responses.toLocaleString("en-US")} responses`)
      || !s.span.includes(`${h.sessions.toLocaleString("en-US")} sessions`))
    bad.push(`the history line says "${s.span}" for ${h.since} to ${h.until}, ${h.responses} responses, ${h.sessions} sessions`);
  if (s.unsafe) bad.push(`${s.unsafe} active elements or attributes in the view`);
  if (s.scroll > 2) bad.push(`the view scrolls sideways by ${s.scroll}px`);
  for (const c of s.cards) {
    const k = api[c.key];
    if (!k) { bad.push(`${c.key}: not in /api/calibrate`); continue; }
    const has = k.proposed !== null;
    if (!same(c.current, k.current) || !same(c.proposed, k.proposed)) bad.push(`${c.key}: the card says ${JSON.stringify(c.current)} -> ${JSON.stringify(c.proposed)}, /api/calibrate ${JSON.stringify(k.current)} -> ${JSON.stringify(k.proposed)}`);
    if (!c.rule || !c.rule.replace(/\s+/g, " ").includes(k.rule.replace(/`/g, "").replace(/\s+/g, " "))) bad.push(`${c.key}: the rule is not /api/calibrate's`);
    const state = !has ? "none" : same(k.current, k.proposed) ? "same" : "proposal";
    if (c.state !== state) bad.push(`${c.key}: shown as ${c.state}, /api/calibrate makes it ${state}`);
    if (!has && c.tag !== "no proposal") bad.push(`${c.key}: no proposal, and the card does not say so (${c.tag})`);
    if (!has && !c.why) bad.push(`${c.key}: no proposal, and no word why`);
    if (!c.plot || c.plot.kind !== "panel" || c.plot.lines < 2 || !c.plot.inside || c.plot.height < 80)
      bad.push(`${c.key}: its histogram is not inlined in the card (${JSON.stringify(c.plot)})`);
    else if (has && c.plot.bars < 2 && k.figures && (k.figures.active_minutes || k.figures.completed_blocks || k.figures.gaps || k.figures.waits || k.figures.minutes))
      bad.push(`${c.key}: ${c.plot.bars} bars in its histogram`);
    // Apply: off without a proposal, with one equal to the value in force, or when the
    // daemon cannot write its config file (the reason as its title).
    const off = !has || same(k.current, k.proposed) || api.applicable === false;
    if (!c.apply || c.apply.disabled !== off) bad.push(`${c.key}: Apply ${c.apply && c.apply.disabled ? "disabled" : "enabled"}, want ${off ? "disabled" : "enabled"}`);
    else if (api.applicable === false && c.apply.title !== api.why) bad.push(`${c.key}: Apply's title is "${c.apply.title}", not why: ${api.why}`);
  }
  // The figures are /api/calibrate's: the tach's percentiles as the card writes them.
  const tach = s.cards.find(c => c.key === "tach_redline"), f = api.tach_redline.figures;
  const fmt = v => (v === null ? "–" : Math.round(v).toLocaleString("en-US"));
  if (tach && tach.figures.join() !== [f.p50, f.p90, f.p95, f.p99, f.max].map(fmt).join()) bad.push(`tach_redline's figures ${tach.figures}, /api/calibrate ${[f.p50, f.p90, f.p95, f.p99, f.max]}`);
  if (tach && tach.now !== api.tach_redline.current.toLocaleString("en-US")) bad.push(`tach_redline now "${tach.now}", /api/calibrate ${api.tach_redline.current}`);
  return { api, s, bad };
}

await page.goto(base + "/#calibrate");
const calChoices = await page.$$eval("#cal-days option", os => os.map(o => o.value));
if (calChoices.join() !== "7,30,90,3650") fail(`the calibrate range choices are ${calChoices}`);
{
  // The daemon busy once (another calibration reading history): the page says so and
  // asks again by itself.
  let refused = 0;
  await page.route(/\/api\/calibrate\?/, r => (refused++ ? r.continue() : r.fulfill({ status: 503, contentType: "application/json",
    body: JSON.stringify({ error: "the daemon is busy with another calibration" }) })));
  await page.reload();
  await until("the page to say the daemon is busy", async () => /busy.*trying again/.test((await calShown()).state || "") || (await calShown()).state, 3000);
  await until("the calibrate view to render after a busy daemon", async () => (await calShown()).rendered === "true" || (await calShown()).state);
  await page.unroute(/\/api\/calibrate\?/);
  if (refused < 2) fail(`the page did not ask again after a 503 (${refused} requests)`);
}
for (const days of ["30", "3650"]) {
  await calRange(days);
  const { bad } = await calProblems(days);
  if (bad.length) fail(`calibrate, ${days} days: ${bad.join("; ")}`);
}
// At a desk: a grid of cards, three to a row.
{
  const s = await calShown(), lefts = new Set(s.cards.map(c => Math.round(c.box.left)));
  if (lefts.size !== 3) fail(`calibrate at 1280 px: cards in ${lefts.size} columns`);
}
await page.screenshot({ path: path.join(SHOTS, "calibrate.png"), fullPage: true });
// On a phone: the cards one under the other, nothing sideways; the picture is the first
// screen and the first card.
{
  await page.setViewportSize({ width: 390, height: 844 });
  await until("the calibrate cards to stack at 390 px", async () => {
    const { bad, s } = await calProblems("3650"), lefts = new Set(s.cards.map(c => Math.round(c.box.left)));
    if (lefts.size !== 1) bad.push(`cards in ${lefts.size} columns`);
    return bad.length ? bad.join("; ") : true;
  }, 5000);
  const bottom = (await calShown()).cards[0].box.bottom + await page.evaluate(() => scrollY);
  await page.screenshot({ path: path.join(SHOTS, "phone-calibrate.png"), fullPage: true, clip: { x: 0, y: 0, width: 390, height: Math.ceil(bottom + 16) } });
  await page.setViewportSize({ width: 1280, height: 820 });
}

// Apply, on a daemon that writes its config file: asks first, in the page; cancelled,
// nothing is written; confirmed, the POST's answer names the key and the value, the daemon
// follows its file within seconds, and the card shows the value in force.
{
  const api = await calibration("3650"), configFile = api.config_file;
  const key = "tach_redline", want = api[key].proposed;
  if (api.applicable === false) fail(`the test daemon serves a corpus and a config file, yet Apply is off: ${api.why}`);
  if (!configFile) fail("/api/calibrate names no config_file");
  if (want === null || want === api[key].current) fail(`${key}: no proposal to apply (${api[key].current} -> ${want})`);
  await page.click(`[data-apply="${key}"]`);
  const ask = await page.textContent(`[data-key="${key}"] .cal-confirm`);
  if (!ask.includes(`Write ${key} = ${want} into ${configFile}?`)) fail(`Apply asks "${ask}"`);
  await page.click(`[data-key="${key}"] .cal-confirm button:not(.primary)`);
  if (await page.$(`[data-key="${key}"] .cal-confirm`)) fail("Cancel left the confirmation open");
  if ((await get("/api/config")).tach_redline !== api[key].current) fail("Cancel wrote the proposal anyway");
  await page.click(`[data-apply="${key}"]`);
  const [answer] = await Promise.all([
    page.waitForResponse(r => r.url().endsWith("/api/calibrate/apply") && r.request().method() === "POST"),
    page.click(`[data-key="${key}"] .cal-confirm button.primary`),
  ]);
  const sent = JSON.parse(answer.request().postData() || "{}");
  if (sent.key !== key || sent.days !== 3650 || !/application\/json/.test(answer.request().headers()["content-type"] || ""))
    fail(`Apply sent ${answer.request().postData()} as ${answer.request().headers()["content-type"]}`);
  const a = await answer.json();
  if (answer.status() !== 200 || a.key !== key || a.value !== want || !Array.isArray(a.said) || !a.said.some(l => l.includes(configFile)))
    fail(`POST /api/calibrate/apply answered ${answer.status()} ${JSON.stringify(a)}`);
  await until("the card to show what the daemon said", async () => {
    const said = await page.textContent(`[data-key="${key}"] .cal-said`).catch(() => "");
    return said.includes(a.said[0].trim()) || said;
  }, 3000);
  await until(`/api/config's ${key} to become ${want}`, async () => (await get("/api/config")).tach_redline === want || (await get("/api/config")).tach_redline, 5000);
  await until(`the card to show ${want} in force`, async () => {
    const c = (await calShown()).cards.find(x => x.key === key);
    return (c.current === want && c.state === "same" && c.apply.disabled && c.apply.title === "the proposal is the value in force") || JSON.stringify(c);
  }, 8000);
  if ((await calShown()).rendered !== "true") fail("the view did not draw again after Apply");
}

// `serve --demo` keeps its own settings: the view shows its proposals (none, for its
// made-up history), says why Apply is off, and every Apply is disabled with that reason.
{
  const demo = await startDaemon(0, { XDG_CONFIG_HOME: path.join(WORK, "demo-config"), XDG_STATE_HOME: path.join(WORK, "demo-state") }, ["--demo"]);
  others.push(demo);
  try {
    const demoBase = `http://127.0.0.1:${demo.port}`;
    const api = await (await fetch(`${demoBase}/api/calibrate?days=30`)).json();
    if (api.applicable !== false || !api.why) fail(`serve --demo: /api/calibrate says applicable ${api.applicable}, why ${api.why}`);
    const p = await browser.newPage({ viewport: { width: 1280, height: 820 } });
    p.on("pageerror", e => fail(`page error on the demo daemon: ${e.message}`));
    await p.goto(`${demoBase}/#calibrate`);
    await until("the calibrate view of serve --demo", async () => {
      const s = await p.evaluate(() => ({
        rendered: document.getElementById("calibrate").dataset.rendered, state: document.getElementById("cal-state").textContent,
        apply: [...document.querySelectorAll("[data-apply]")].map(b => ({ key: b.dataset.apply, disabled: b.disabled, title: b.title })),
      }));
      if (s.rendered !== "true") return `rendered ${s.rendered}`;
      if (!s.state.includes(`Apply is off: ${api.why}`)) return `the view says "${s.state}"`;
      if (s.apply.map(a => a.key).join() !== CAL_KEYS.join()) return `Apply buttons for ${s.apply.map(a => a.key)}`;
      const on = s.apply.find(a => !a.disabled || a.title !== api.why);
      return on ? `${on.key}: Apply disabled ${on.disabled}, title "${on.title}"` : true;
    });
    await p.close();
  } finally {
    demo.child.kill("SIGTERM");
  }
}

// ---------------------------------------------------------------- character

const num = n => Math.round(n).toLocaleString("en-US");

/** What the character view shows, panel by panel. */
const charShown = () => page.evaluate(() => {
  const box = n => document.querySelector(`[data-character="${n}"]`);
  const rows = n => [...box(n).querySelectorAll("tbody tr")].map(tr => ({
    cells: [...tr.cells].map(td => td.textContent),
    spark: tr.querySelector("svg.spark") && tr.querySelector("svg.spark").getAttribute("aria-label"),
    sparkBars: tr.querySelector("svg.spark") ? tr.querySelectorAll("svg.spark rect").length : 0,
  }));
  return {
    rendered: Object.fromEntries(["emdash", "phrases", "watch", "thinking", "git", "correlate"].map(n => [n, box(n).dataset.rendered === "true" && box(n).dataset.range])),
    caption: (box("emdash").querySelector(".caption") || {}).textContent,
    points: [...box("emdash").querySelectorAll("circle.mark")].map(c => `${c.dataset.date} ${c.dataset.series}`).sort(),
    lines: box("emdash").querySelectorAll("polyline.line").length,
    legend: [...box("emdash").querySelectorAll(".legend span")].map(x => x.textContent),
    phrases: rows("phrases"),
    watch: rows("watch"),
    thinking: [...box("thinking").querySelectorAll("rect.mark")].map(r => r.dataset.model),
    git: [...box("git").querySelectorAll("g.commits")].map(c => `${c.dataset.date} ${c.dataset.commits}`).sort(),
    gitBars: box("git").querySelectorAll("rect.mark").length,
    gitCaption: (box("git").querySelector(".caption") || {}).textContent,
    correlate: [...box("correlate").querySelectorAll(".series")].map(x => ({
      name: x.dataset.source, dots: [...x.querySelectorAll("circle.mark")].map(c => c.dataset.date).sort(),
      reading: (x.querySelector(".reading") || {}).textContent,
    })),
    empty: [...document.querySelectorAll("#character .empty")].map(e => e.textContent),
    scroll: document.documentElement.scrollWidth - innerWidth,
  };
});

/** What is wrong with the character view against /api/character for `days`. */
async function charProblems(days) {
  const api = await get(`/api/character?days=${days}&top=15`), th = await get(`/api/stats/thinking?days=${days}`);
  const s = await charShown(), bad = [];
  for (const [n, r] of Object.entries(s.rendered)) if (r !== days) bad.push(`${n} not drawn for ${days} (${r})`);
  if (s.empty.length) bad.push(`empty panels: ${s.empty.join("; ")}`);
  const f = v => v.toFixed(2);
  if (!s.caption || !s.caption.includes(`Assistant ${f(api.totals.em_dashes_per_1k_words)} per 1k words (${num(api.totals.em_dashes)} em-dashes`))
    bad.push(`the caption "${s.caption}" is not /api/character's totals ${JSON.stringify(api.totals)}`);
  const want = api.by_day_model.filter(r => r.words > 0).map(r => `${r.date} ${r.model}`).sort();
  if (s.points.join() !== want.join()) bad.push(`em-dash points ${s.points.length}, /api/character has ${want.length} days x models`);
  const models = [...new Set(api.by_day_model.map(r => r.model))].sort();
  if (s.legend.join() !== models.join()) bad.push(`legend ${s.legend}, models ${models}`);
  if (s.lines < 1) bad.push("no em-dash line drawn");
  if (s.phrases.length !== api.phrases.length) bad.push(`${s.phrases.length} phrases shown, ${api.phrases.length} answered`);
  api.phrases.forEach((p, i) => {
    const r = s.phrases[i];
    if (!r) return;
    if (r.cells[0] !== p.phrase || r.cells[1].replace(/[~,]/g, "") !== String(p.count)) bad.push(`phrase ${i}: ${r.cells}, not ${p.phrase} ${p.count}`);
    if (days !== "all" && (r.sparkBars !== api.spark.bars || !r.spark.endsWith(p.bars.join(", ")))) bad.push(`phrase ${p.phrase}: sparkline ${r.spark} (${r.sparkBars} bars), not ${p.bars}`);
  });
  if (s.watch.map(r => `${r.cells[0]} ${r.cells[1].replace(/,/g, "")}`).join() !== api.watch.map(w => `${w.phrase} ${w.count}`).join())
    bad.push(`watch list ${s.watch.map(r => r.cells.slice(0, 2))}, not ${api.watch.map(w => [w.phrase, w.count])}`);
  // Each watched phrase's bars add up to its count within the range.
  s.watch.forEach((r, i) => {
    if (days === "all") return;
    const sum = r.spark.split(": ")[1].split(", ").map(Number).reduce((a, b) => a + b, 0);
    if (sum !== api.watch[i].count) bad.push(`watch ${api.watch[i].phrase}: bars add to ${sum}, count ${api.watch[i].count}`);
  });
  const known = th.by_model.filter(r => r.output_tokens > 0 && typeof r.ratio === "number" && r.basis !== "unknown").map(r => r.model);
  if (s.thinking.join() !== known.join()) bad.push(`thinking bars for ${s.thinking}, not ${known}`);
  // Commits: a disc with the day's count on each day /api/git has commits, a bar per day
  // with tokens, and the totals.
  const git = await get(days === "all" ? "/api/git" : `/api/git?days=${days}`);
  const wantGit = git.by_day.filter(d => d.commits > 0).map(d => `${d.date} ${d.commits}`).sort();
  if (s.git.join() !== wantGit.join()) bad.push(`commit discs ${s.git}, /api/git ${wantGit}`);
  if (s.gitBars !== git.by_day.filter(d => d.tokens > 0).length) bad.push(`${s.gitBars} token bars, /api/git has ${git.by_day.length} days`);
  if (!s.gitCaption || !s.gitCaption.startsWith(`${num(git.totals.commits)} commits`)) bad.push(`git caption "${s.gitCaption}", ${git.totals.commits} commits`);
  // The user's own series: a dot per day with both figures, and the daemon's reading.
  const corr = await get(`/api/correlate?days=${days}`);
  if (s.correlate.map(c => c.name).join() !== corr.sources.map(c => c.name).join()) bad.push(`series ${s.correlate.map(c => c.name)}, /api/correlate ${corr.sources.map(c => c.name)}`);
  corr.sources.forEach((src, i) => {
    const shown = s.correlate[i];
    if (!shown) return;
    const want = src.daily.filter(x => typeof x.value === "number").map(x => x.date).sort();
    if (shown.dots.join() !== want.join()) bad.push(`${src.name}: ${shown.dots.length} dots, ${want.length} days with figures`);
    const c = src.correlations.find(x => x.against === "cost");
    if (!c || shown.reading !== c.reading) bad.push(`${src.name}: the reading "${shown.reading}", not /api/correlate's "${c && c.reading}"`);
  });
  if (s.scroll > 2) bad.push(`the view scrolls sideways by ${s.scroll}px`);
  return { api, bad };
}

async function charHold(days, label) {
  await page.selectOption("#char-days", days);
  await until(`the character view to draw ${days} days (${label})`, async () => {
    const s = await charShown();
    return Object.values(s.rendered).every(r => r === days) || JSON.stringify(s.rendered);
  }, 30000);
  const { api, bad } = await charProblems(days);
  if (bad.length) fail(`character, ${label}, ${days}: ${bad.slice(0, 12).join("; ")}`);
  return api;
}

await page.goto(base + "/#character");
{
  const month = await charHold("30", "desk");
  const gitMonth = await get("/api/git?days=30");
  if (gitMonth.totals.commits < 15 || gitMonth.totals.commits > commits.length)
    fail(`the month's sessions in ${REPO} made ${commits.length} commits, /api/git finds ${gitMonth.totals.commits}`);
  const corr = await get("/api/correlate?days=30");
  if (corr.sources.length !== 1 || corr.sources[0].correlations[0].n < 20 || typeof corr.sources[0].correlations[0].pearson !== "number")
    fail(`the hours worked should correlate over the month: ${JSON.stringify(corr.sources.map(x => x.correlations))}`);
  if (month.totals.em_dashes < 10 || month.phrases.length < 5 || !month.watch.some(w => w.count > 0))
    fail(`the month's history should give em-dashes, phrases and watched phrases: ${JSON.stringify(month.totals)}, ${month.phrases.length} phrases`);
  await page.screenshot({ path: path.join(SHOTS, "character.png"), fullPage: true });
  await charHold("7", "desk");
  await charHold("all", "desk");
  await page.setViewportSize({ width: 390, height: 844 });
  await charHold("30", "phone");
  await page.screenshot({ path: path.join(SHOTS, "phone-character.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 820 });
}

// ---------------------------------------------------------------- phone width

await page.setViewportSize({ width: 390, height: 844 });
await page.goto(base + "/");
await until("the page at phone width to agree", agrees);
const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
if (overflow > 2) fail(`the page scrolls sideways by ${overflow}px at phone width`);
await page.screenshot({ path: path.join(SHOTS, "phone.png"), fullPage: true, animations: "disabled" });
// The values in words: a compact list on a phone by default, and a switch that hides and
// shows them, remembered across a reload.
const readout = () => page.evaluate(() => ({
  shown: getComputedStyle(document.getElementById("readout")).display !== "none",
  expanded: document.getElementById("readout-toggle").getAttribute("aria-expanded"),
}));
for (const [click, want] of [[false, true], [true, false], [true, true]]) {
  if (click) {
    await page.click("#readout-toggle");
    await page.reload();
    await until("the page to agree after a reload", agrees);
  }
  const r = await readout();
  if (r.shown !== want || r.expanded !== String(want)) fail(`the readout ${click ? "after the switch and a reload" : "by default"}: shown ${r.shown}, aria-expanded ${r.expanded}, want ${want}`);
}
{
  const bad = layoutProblems(await layout());
  if (bad.length) fail(`phone, with the readout: ${bad.join("; ")}`);
}
await page.goto(base + "/#stats");
for (const [days, shot] of [["7", "phone-stats-7d.png"], ["all", "phone-stats-all.png"]]) {
  await statsHold(days, "phone");
  const statsOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (statsOverflow > 2) fail(`the stats (${days}) scroll sideways by ${statsOverflow}px at phone width`);
  await page.screenshot({ path: path.join(SHOTS, shot), fullPage: true });
}

await browser.close();
daemon.child.kill("SIGTERM");
console.log("web test: ok");
