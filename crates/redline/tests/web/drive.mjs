// Drives redline's web page in headless Chromium (playwright-core), against the real
// daemon on a generated corpus. Run by tests/web.rs, which passes everything through the
// environment:
//   REDLINE_BIN    the redline binary
//   CHROMIUM       the browser executable
//   PLAYWRIGHT     the playwright-core package directory
//   WORKDIR        an empty directory to work in
//   SCREENSHOTS    where to save cluster.png and stats.png
// Exits non-zero with a message on the first expectation that fails.
import { spawn, execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, readdirSync } from "node:fs";
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

function fail(msg) {
  console.error(`web test: ${msg}`);
  process.exit(1);
}

async function until(what, check, ms = 8000) {
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
  fail(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

function line(id, model, tokens) {
  return JSON.stringify({
    type: "assistant", isSidechain: false, sessionId: "web-test", version: "2.1.90",
    requestId: `req_${id}`, timestamp: new Date().toISOString(),
    message: { id: `msg_${id}`, model, type: "message", role: "assistant", content: [{ type: "text", text: "ok" }],
      usage: { input_tokens: tokens, output_tokens: 100, cache_creation_input_tokens: 0, cache_read_input_tokens: 40000 } },
  }) + "\n";
}

function startDaemon(port) {
  return new Promise((resolve, reject) => {
    const child = spawn(REDLINE, ["serve", "--listen", `127.0.0.1:${port}`], {
      env: { ...process.env, CLAUDE_CONFIG_DIR: claude, XDG_CONFIG_HOME: path.join(WORK, "config"),
             XDG_STATE_HOME: path.join(WORK, "state"), REDLINE_TIMEZONE: "UTC" },
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

// A history to show: generated transcripts, then one response written now.
execFileSync(REDLINE, ["demo", "generate", "--out", claude, "--responses", "2000", "--seed", "5"], { stdio: "ignore" });
const project = readdirSync(path.join(claude, "projects"))[0];
const live = path.join(claude, "projects", project, "web-test-session.jsonl");
appendFileSync(live, line("first", "claude-sonnet-4-5", 30000));

let daemon = await startDaemon(0);
const base = `http://127.0.0.1:${daemon.port}`;
const usage = async () => (await fetch(`${base}/usage`)).json();

const browser = await chromium.launch({
  executablePath: env("CHROMIUM"),
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
page.on("pageerror", e => fail(`page error: ${e.message}`));
await page.goto(base + "/");

// Every needle and lamp shows what /usage says.
const shown = () => page.evaluate(() => ({
  gauges: Object.fromEntries([...document.querySelectorAll("[data-gauge]")].map(g => [g.dataset.gauge, g.dataset.value])),
  lamps: Object.fromEntries([...document.querySelectorAll("[data-lamp]")].map(l => [l.dataset.lamp, l.dataset.state])),
  title: document.title,
}));
const agrees = async () => {
  const [u, s] = [await usage(), await shown()];
  for (const [g, v] of Object.entries(u.gauges)) {
    const got = s.gauges[g];
    if (v === null ? got !== "" : (got === "" || Math.abs(Number(got) - v) > 0.002))
      return `gauge ${g}: page ${JSON.stringify(got)}, /usage ${v}`;
  }
  for (const [l, v] of Object.entries(u.lamps)) if (s.lamps[l] !== v) return `lamp ${l}: page ${s.lamps[l]}, /usage ${v}`;
  if (!s.title.startsWith("TACH ")) return `title ${s.title}`;
  return true;
};
await until("the page to agree with /usage", agrees);
const before = await shown();
if (before.lamps.model !== "off") fail(`MODEL should be off after a Sonnet response, is ${before.lamps.model}`);

// A lamp changes after an append: an Opus response lights MODEL.
appendFileSync(live, line("opus", "claude-opus-4-6", 30000));
await until("MODEL to light after an Opus response", async () => (await shown()).lamps.model === "on" || (await shown()).lamps.model);
await until("the page to agree with /usage again", agrees);
mkdirSync(SHOTS, { recursive: true });
await page.screenshot({ path: path.join(SHOTS, "cluster.png"), fullPage: true });

// The daemon goes away: CHECK lights; it comes back on the same port: CHECK goes out.
daemon.child.kill("SIGTERM");
await until("CHECK to light while the daemon is down", async () => {
  const s = await shown();
  return s.lamps.check === "blink" || s.lamps.check;
});
const status = await page.evaluate(() => document.getElementById("status").dataset.connection);
if (status !== "lost") fail(`status should say lost, says ${status}`);
daemon = await startDaemon(daemon.port);
await until("recovery after the restart", async () => (await shown()).lamps.check === "off" || (await shown()).lamps.check, 15000);
await until("the page to agree with /usage after the restart", agrees);

// Deep stats render every chart.
await page.goto(base + "/#stats");
await until("every chart to render", () => page.evaluate(() =>
  [...document.querySelectorAll("[data-chart]")].every(c => c.dataset.rendered === "true")
    || [...document.querySelectorAll("[data-chart]")].filter(c => c.dataset.rendered !== "true").map(c => c.dataset.chart).join(",")));
const sessions = await page.evaluate(() => document.querySelectorAll('[data-chart="sessions"] tbody tr').length);
if (sessions < 1) fail("the sessions table is empty");
await page.screenshot({ path: path.join(SHOTS, "stats.png"), fullPage: true });

// Phone width: no horizontal scrolling.
await page.setViewportSize({ width: 390, height: 800 });
await page.goto(base + "/");
await until("the page at phone width to agree", agrees);
const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
if (overflow > 2) fail(`the page scrolls sideways by ${overflow}px at phone width`);
await page.screenshot({ path: path.join(SHOTS, "phone.png"), fullPage: true });

await browser.close();
daemon.child.kill("SIGTERM");
console.log("web test: ok");
