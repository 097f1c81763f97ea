// Drives redline's web page in headless Chromium (playwright-core) against the real daemon:
// the faces follow /api/config, every needle and lamp equals /usage, each lamp is driven
// through its states (and photographed), the page shows the daemon's loss and recovery
// (coming back with other needles), every stats chart renders, phone width works.
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
function fail(msg) {
  console.error(`web test: ${msg}`);
  if (daemon) daemon.child.kill("SIGTERM");
  if (browser) browser.close().catch(() => {});
  process.exit(1);
}
process.on("unhandledRejection", e => fail(`unexpected: ${e && e.stack || e}`));

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
                     thinking = 300, text = 700, signature = "", exact = null }) {
  const content = [];
  if (thinking) content.push({ type: "thinking", thinking: "t".repeat(thinking), signature });
  content.push({ type: "text", text: "x".repeat(text) });
  const usage = { input_tokens: input, output_tokens: output, cache_creation_input_tokens: create, cache_read_input_tokens: read };
  if (exact !== null) usage.output_tokens_details = { thinking_tokens: exact };
  return JSON.stringify({
    type: "assistant", isSidechain: false, sessionId: session, version: "2.1.90", cwd: "/home/dev/code",
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
      if (responses <= 0) return;
      const session = `hist-${d}-${p}`;
      const lines = [];
      let t = day0 - d * 86400000 + (8 + Math.floor(rnd() * 9)) * 3600000;
      for (let i = 0; i < responses; i++, n++) {
        t += Math.floor(rnd() * 240000);
        const kind = rnd();
        const think = Math.floor(rnd() * 2400);
        lines.push(assistant({ id: `h${n}`, session, at: new Date(t), model: models[Math.floor(rnd() ** 1.6 * 3)],
          input: Math.floor(rnd() * 3000), output: 200 + Math.floor(rnd() * 3800), create: Math.floor(rnd() * 20000),
          read: Math.floor(rnd() * 150000), thinking: kind < .15 ? 0 : think, text: 200 + Math.floor(rnd() * 1500),
          // Some exact (the usage says), some estimated (text shares), some unknowable
          // (a redacted signature and no text).
          exact: kind > .85 ? Math.floor(think / 4) : null,
          signature: kind > .7 && kind <= .85 ? "[REDACTED_SIGNATURE]" : "" }));
      }
      const dir = path.join(claude, "projects", project);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, `${session}.jsonl`), lines.join(""));
    });
  }
}

// ---------------------------------------------------------------- the daemon

function startDaemon(port, extra = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(REDLINE, ["serve", "--listen", `127.0.0.1:${port}`], {
      env: { ...process.env, CLAUDE_CONFIG_DIR: claude, XDG_CONFIG_HOME: path.join(WORK, "config"),
             XDG_STATE_HOME: path.join(WORK, "state"), REDLINE_TIMEZONE: "UTC",
             REDLINE_STALL_AFTER: String(STALL_AFTER_S), ...extra },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.on("data", d => {
      err += d;
      const m = err.match(/serving http:\/\/[^:]+:(\d+)\//);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on("exit", code => reject(new Error(`daemon exited (${code}): ${err}`)));
  });
}

execFileSync(REDLINE, ["demo", "generate", "--out", claude, "--responses", "2000", "--seed", "5"], { stdio: "ignore" });
history();
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
 *  drawn at and its face's words; each lamp with its hooks and its animation. */
const shown = () => page.evaluate(() => ({
  gauges: [...document.querySelectorAll("[data-gauge]")].map(g => ({
    name: g.dataset.gauge, value: g.dataset.value, shown: g.dataset.shown,
    angle: Number((g.querySelector(".arm").getAttribute("transform").match(/rotate\(([-\d.e]+)/) || [])[1]),
    title: g.querySelector(".title").textContent, legend: g.querySelector(".legend").textContent,
    zones: [...g.querySelectorAll(".zone")].map(z => z.getAttribute("class").replace("zone ", "")),
    labels: [...g.querySelectorAll(".num")].map(t => t.textContent),
  })),
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

/** The faces are the configured dials, in order, drawn as /api/config describes them. */
async function facesFollow() {
  const cfg = await get("/api/config"), s = await shown();
  const names = s.gauges.map(g => g.name);
  if (names.join() !== cfg.needles.join()) return `faces ${names} but needles ${cfg.needles}`;
  for (const g of s.gauges) {
    const d = cfg.dials[g.name];
    if (g.title !== d.title || g.legend !== d.legend) return `${g.name}: face says ${g.title}/${g.legend}, config ${d.title}/${d.legend}`;
    if (g.zones.join() !== d.zones.map(z => z.color).join()) return `${g.name}: zones ${g.zones}, config ${d.zones.map(z => z.color)}`;
    if (g.labels[0] !== d.low) return `${g.name}: zero stop labelled ${g.labels[0]}, config ${d.low}`;
    if (d.high && !g.labels.includes(d.high)) return `${g.name}: no ${d.high} on the face (${g.labels})`;
  }
  const lamps = s.lamps.map(l => l.name);
  if (lamps.join() !== cfg.lamps.map(l => l.name).join()) return `lamps ${lamps}, config ${cfg.lamps.map(l => l.name)}`;
  for (const l of cfg.lamps) {
    const p = s.lamps.find(x => x.name === l.name);
    if (p.label !== l.label) return `lamp ${l.name} labelled ${p.label}, config ${l.label}`;
    if (l.color && p.c !== l.color.toLowerCase()) return `lamp ${l.name} coloured ${p.c}, config ${l.color}`;
  }
  return true;
}

/** Every needle and lamp equals /usage: the position received exactly, the needle settled
 *  within 0.002 of it and drawn at that angle, each lamp's state, MODEL's colour. */
async function agrees() {
  const u = await usage(), s = await shown();
  if (s.connection !== "live") return `status ${s.connection}`;
  const names = s.gauges.map(g => g.name);
  if (names.join() !== u.needles.join()) return `page dials ${names}, /usage needles ${u.needles}`;
  for (const g of s.gauges) {
    const v = u.gauges[g.name];
    if (v === null ? g.value !== "" : Math.abs(Number(g.value) - v) > 1e-9 || g.value === "")
      return `gauge ${g.name}: data-value ${JSON.stringify(g.value)}, /usage ${v}`;
    const rest = v === null ? 0 : v;
    if (Math.abs(Number(g.shown) - rest) > 0.002) return `gauge ${g.name}: needle at ${g.shown}, /usage ${v}`;
    if (Math.abs(g.angle - (-135 + 270 * Number(g.shown))) > 0.5) return `gauge ${g.name}: drawn at ${g.angle} deg for ${g.shown}`;
  }
  if (s.lamps.map(l => l.name).join() !== LAMPS.join()) return `lamp order ${s.lamps.map(l => l.name)}`;
  for (const l of s.lamps) if (l.state !== u.lamps[l.name]) return `lamp ${l.name}: page ${l.state}, /usage ${u.lamps[l.name]}`;
  const model = s.lamps[0];
  if (model.color !== (u.model.color || "")) return `MODEL data-color ${model.color}, /usage ${u.model.color}`;
  if (u.model.color && model.c !== u.model.color.toLowerCase()) return `MODEL drawn in ${model.c}, /usage ${u.model.color}`;
  if (/unreachable/.test(s.title) || !s.title.endsWith("— redline")) return `title ${s.title}`;
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
  const bottom = await page.evaluate(() => Math.ceil(document.querySelector(".readout").getBoundingClientRect().bottom + 24));
  await page.screenshot({ path: path.join(SHOTS, name), animations: "disabled", clip: { x: 0, y: 0, width: page.viewportSize().width, height: bottom } });
}

/** Samples a lamp's glow for `ms` and returns the lowest and highest opacity seen. */
async function glowRange(name, ms) {
  const seen = [];
  for (const end = Date.now() + ms; Date.now() < end; await sleep(60))
    seen.push(await page.evaluate(n => Number(getComputedStyle(document.querySelector(`[data-lamp="${n}"]`), "::before").opacity), name));
  return [Math.min(...seen), Math.max(...seen)];
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

// The daemon goes away: the page says so, the needles rest, STALL blinks, the rest is
// dark, and the title keeps no old figures.
daemon.child.kill("SIGTERM");
await until("the page to show the daemon's loss", async () => {
  const s = await shown();
  if (s.connection !== "lost" || !s.lost) return `status ${s.connection}, notice ${s.lost}`;
  for (const g of s.gauges) if (g.value !== "" || Number(g.shown) !== 0) return `${g.name} at ${g.value}/${g.shown}`;
  for (const l of s.lamps) if (l.state !== (l.name === "stall" ? "blink" : "off")) return `${l.name} ${l.state}`;
  if (/\d/.test(s.title)) return `title ${s.title}`;
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

// ---------------------------------------------------------------- deep stats

await page.goto(base + "/#stats");
await until("every chart to render", () => page.evaluate(() =>
  [...document.querySelectorAll("[data-chart]")].every(c => c.dataset.rendered === "true")
    || [...document.querySelectorAll("[data-chart]")].filter(c => c.dataset.rendered !== "true").map(c => c.dataset.chart).join(",")));
const stats = await page.evaluate(() => ({
  failed: [...document.querySelectorAll("[data-chart] .empty")].map(e => `${e.closest("[data-chart]").dataset.chart}: ${e.textContent}`),
  sessions: document.querySelectorAll('[data-chart="sessions"] tbody tr').length,
  thinkingBars: document.querySelectorAll('[data-chart="thinking"] svg rect[fill="url(#rl-hatch)"], [data-chart="thinking"] svg rect[fill^="#"]').length,
  thinkingText: [...document.querySelectorAll('[data-chart="thinking"] svg text')].map(t => t.textContent).join(" "),
}));
if (stats.failed.length) fail(`charts without data: ${stats.failed.join("; ")}`);
if (stats.sessions < 1) fail("the sessions table is empty");
const thinking = await get("/api/stats/thinking?days=30");
if (!thinking.rows.length) fail("/api/stats/thinking has no rows after a month of history");
if (stats.thinkingBars < 1) fail("the thinking chart draws no bars");
if (thinking.overall.basis && !stats.thinkingText.includes(`(${thinking.overall.basis})`))
  fail(`the thinking chart does not say its basis ${thinking.overall.basis}: ${stats.thinkingText}`);
await page.screenshot({ path: path.join(SHOTS, "stats.png"), fullPage: true });

// ---------------------------------------------------------------- phone width

await page.setViewportSize({ width: 390, height: 844 });
await page.goto(base + "/");
await until("the page at phone width to agree", agrees);
const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
if (overflow > 2) fail(`the page scrolls sideways by ${overflow}px at phone width`);
await page.screenshot({ path: path.join(SHOTS, "phone.png"), fullPage: true, animations: "disabled" });
await page.goto(base + "/#stats");
await until("the charts at phone width", () => page.evaluate(() =>
  [...document.querySelectorAll("[data-chart]")].every(c => c.dataset.rendered === "true")));
const statsOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
if (statsOverflow > 2) fail(`the stats scroll sideways by ${statsOverflow}px at phone width`);

await browser.close();
daemon.child.kill("SIGTERM");
console.log("web test: ok");
