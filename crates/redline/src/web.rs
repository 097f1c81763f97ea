//! The web page and what only it reads: the embedded assets (no build step, no CDN), the
//! scales it draws (`/api/config`), the deep stats (`/api/stats/*`) and the git
//! correlation (`/api/git`). All behind the token when the daemon is bound beyond
//! loopback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use redline_core::gauges::{Dial, TACH_FULL_SCALE, zones};
use redline_core::wire::Lamp;
use redline_engine::live::Settings;
use redline_engine::stats::{ALL_DAYS, Stat};
use serde::Deserialize;
use serde_json::{Value, json};

use redline_engine::calibrate::Calibration;

use crate::cmd::calibrate::{self, Options};
use crate::cmd::stats_git;
use crate::config::Config;
use crate::http::{AppState, json};
use crate::hub::{self, Input, Unanswered};

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const CHARACTER_JS: &str = include_str!("../assets/character.js");
const STYLE: &str = include_str!("../assets/style.css");

/// `GET /`.
pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

/// `GET /assets/{file}`.
pub async fn assets(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "app.js" => asset("text/javascript; charset=utf-8", APP_JS),
        "character.js" => asset("text/javascript; charset=utf-8", CHARACTER_JS),
        "style.css" => asset("text/css; charset=utf-8", STYLE),
        _ => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// What the page is drawn from, made at start and again when the config file changes:
/// `/api/config`, the faces (`/faces/<dial>.svg`) and the resolved configuration
/// (`/api/status`).
#[derive(Debug)]
pub struct Page {
    /// The configuration in force.
    pub cfg: Arc<Config>,
    /// `/api/config`.
    pub config: Value,
    /// Every dial's face as SVG, by name.
    pub faces: Vec<(&'static str, String)>,
    /// The resolved configuration with each value's origin.
    pub status: Value,
}

impl Page {
    /// The page for this configuration; `status` is its resolved values with origins.
    pub fn new(cfg: &Config, status: Value) -> Page {
        Page {
            cfg: Arc::new(cfg.clone()),
            config: page_config(&cfg.settings),
            faces: crate::faces::web_faces(&cfg.settings.scales),
            status,
        }
    }
}

/// What the page draws its dials against: the mounted needles, every dial's face (labels,
/// full scale, zones as needle positions, straight from `redline_core::gauges`), the
/// lamps in panel order with their lens colours, and the thresholds.
pub fn page_config(s: &Settings) -> Value {
    let sc = &s.scales;
    let dials: serde_json::Map<String, Value> = Dial::ALL
        .iter()
        .map(|&d| {
            let face = d.face();
            let (unit, full_scale) = match d {
                Dial::Tach => ("tokens/min", sc.tach_redline * TACH_FULL_SCALE),
                Dial::Cost => ("usd", sc.cost_full_scale_usd),
                _ => ("share", 1.0),
            };
            let zones: Vec<Value> = zones(d, sc)
                .iter()
                .flatten()
                .map(|z| json!({"from": round(z.from), "to": round(z.to), "color": z.color.name()}))
                .collect();
            let dial = json!({
                "title": face.title, "legend": face.legend, "low": face.low, "high": face.high,
                "unit": unit, "full_scale": full_scale, "zones": zones,
            });
            (d.name().to_owned(), dial)
        })
        .collect();
    let lamps: Vec<Value> = Lamp::ALL
        .iter()
        .map(|&l| {
            let color = (l != Lamp::Model).then(|| l.color().to_string());
            json!({"name": l.name(), "label": l.name().to_ascii_uppercase(), "color": color})
        })
        .collect();
    let t = &s.thresholds;
    json!({
        "version": redline_core::wire::USAGE_VERSION,
        "needles": s.needles.map(Dial::name),
        "dials": dials,
        "lamps": lamps,
        "tach_redline": s.tach_redline(),
        "tach_window_s": s.tach_window_s,
        "ratio_window_s": s.ratio_window_s,
        "cost_full_scale_usd": sc.cost_full_scale_usd,
        "thresholds": {
            "warn_used": t.warn_used, "warn_blink_used": t.warn_blink_used,
            "cache_floor": t.cache_floor, "stall_after_s": t.stall_after_ms / 1000,
            "stale_after_s": t.stale_after_ms / 1000,
        },
    })
}

/// A needle position to four places (an `f32` printed in full is noise).
fn round(v: f32) -> f64 {
    redline_engine::usage::round_share(f64::from(v))
}

/// `GET /api/config`: what the page draws its dials against.
pub async fn config(State(s): State<AppState>) -> Response {
    let page = s.page.borrow().clone();
    json(page.config.to_string())
}

/// `GET /faces/{dial}.svg`: the printed face of a dial, as `redline faces` draws it with
/// the daemon's scales; the page inlines it under its needle.
pub async fn face(State(s): State<AppState>, Path(file): Path<String>) -> Response {
    let page = s.page.borrow().clone();
    let svg = file
        .strip_suffix(".svg")
        .and_then(|name| page.faces.iter().find(|(n, _)| *n == name));
    match svg {
        Some((_, body)) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body.clone(),
        )
            .into_response(),
        None => {
            let names: Vec<String> = page.faces.iter().map(|(n, _)| format!("{n}.svg")).collect();
            (
                StatusCode::NOT_FOUND,
                format!("no face {file:?}; there are {}\n", names.join(", ")),
            )
                .into_response()
        }
    }
}

/// Query of a stat: `days` is a count of days ending today (1 to 366, default 30) or
/// `all`, every day from the first with a response.
#[derive(Debug, Deserialize)]
pub struct StatQuery {
    days: Option<String>,
    limit: Option<usize>,
}

/// `?days=`: 30 when absent, [`ALL_DAYS`] for `all`, else a number from 1 to `max`;
/// `None` when out of range or not a number.
pub fn days(q: Option<&str>, max: u32) -> Option<u32> {
    match q {
        None => Some(30),
        Some("all") => Some(ALL_DAYS),
        Some(n) => n.parse().ok().filter(|d| (1..=max).contains(d)),
    }
}

/// `GET /api/stats`: the stats there are.
pub async fn stats_index() -> Response {
    json(serde_json::json!({ "stats": Stat::NAMES }).to_string())
}

/// `GET /api/stats/{name}?days=30&limit=10` (or `days=all`).
pub async fn stat(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<StatQuery>,
) -> Response {
    let Some(which) = Stat::from_name(&name) else {
        return (
            StatusCode::NOT_FOUND,
            format!("no stat {name:?}; there are {}\n", Stat::NAMES.join(", ")),
        )
            .into_response();
    };
    let Some(days) = days(q.days.as_deref(), 366) else {
        return (StatusCode::BAD_REQUEST, "days must be 1 to 366, or all\n").into_response();
    };
    let limit = q.limit.unwrap_or(10).clamp(1, 1000);
    let ask = |tx| Input::Stat(which, days, limit, tx);
    match hub::ask(&s.inputs, Duration::from_secs(10), ask).await {
        Ok(v) => json(v.to_string()),
        Err(Unanswered::Closed) => {
            (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the stats took too long\n").into_response(),
    }
}

/// `/api/character?days=30&top=15`.
#[derive(Debug, Deserialize)]
pub struct CharacterQuery {
    days: Option<String>,
    top: Option<usize>,
}

/// The answer of the last text pass: for which range and number of phrases, when the
/// pass started, and the JSON.
#[derive(Debug)]
pub struct CharacterAnswer {
    days: Option<u32>,
    top: usize,
    started: Instant,
    json: String,
}

/// `GET /api/character?days=30&top=15` (or `days=all`): `redline stats character --json`
/// for the daemon's transcripts and configuration, read off the async threads, one pass
/// at a time (requests wait their turn; those that waited for a pass of the same range
/// that started after they came take its answer). With the text statistics off
/// (`--no-text`, `[text] enabled = false`): `{"enabled": false, "reason": ...}`.
pub async fn character(State(s): State<AppState>, Query(q): Query<CharacterQuery>) -> Response {
    let asked = Instant::now();
    let Some(days) = days(q.days.as_deref(), 3650) else {
        return (StatusCode::BAD_REQUEST, "days must be 1 to 3650, or all\n").into_response();
    };
    let days = (days != ALL_DAYS).then_some(days);
    let top = q.top.unwrap_or(15).clamp(1, 200);
    let cfg = s.page.borrow().cfg.clone();
    if !cfg.text.enabled {
        let reason = "the text statistics are off (--no-text or [text] enabled = false)";
        return json(json!({ "enabled": false, "reason": reason }).to_string());
    }
    let mut last = s.character.lock().await;
    if let Some(a) = last.as_ref()
        && a.days == days
        && a.top == top
        && a.started >= asked
    {
        return json(a.json.clone());
    }
    let roots = s.roots.clone();
    let started = Instant::now();
    let read = move || {
        let read = crate::character::read(&roots, &cfg, days, jiff::Timestamp::now())?;
        let mut v = crate::character::to_json(&read, top);
        v["enabled"] = Value::Bool(true);
        anyhow::Ok(v.to_string())
    };
    match tokio::task::spawn_blocking(read).await {
        Ok(Ok(text)) => {
            *last = Some(CharacterAnswer {
                days,
                top,
                started,
                json: text.clone(),
            });
            json(text)
        }
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the text: {e:#}\n"),
        )
            .into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
    }
}

/// Why the page may not write the config file, if it may not.
fn not_applicable(s: &AppState) -> Option<&'static str> {
    s.demo.then_some(
        "serve --demo reads a made-up history and keeps its own settings: run redline serve to apply proposals",
    )
}

/// `/api/calibrate?days=30`.
#[derive(Debug, Deserialize)]
pub struct CalibrateQuery {
    days: Option<u32>,
}

/// Runs a calibration of the last `days` days off the async threads, one at a time.
async fn calibration(
    s: &AppState,
    days: u32,
) -> Result<(calibrate::Computed, Arc<Page>), Response> {
    if !(1..=3650).contains(&days) {
        return Err((StatusCode::BAD_REQUEST, "days must be 1 to 3650\n").into_response());
    }
    let Ok(_one) = s.calibrating.clone().try_acquire_owned() else {
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            "a calibration is running already; try again when it is done\n",
        )
            .into_response());
    };
    let page = s.page.borrow().clone();
    let env = s.env.clone();
    let cfg = page.cfg.clone();
    let o = Options {
        days,
        quiet: true,
        ..Options::default()
    };
    match tokio::task::spawn_blocking(move || calibrate::compute(&o, &cfg, &env)).await {
        Ok(Ok(c)) => Ok((c, page)),
        Ok(Err(e)) => Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot calibrate: {e:#}\n"),
        )
            .into_response()),
        Err(_) => Err((StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()),
    }
}

/// `GET /api/calibrate?days=30`: `redline calibrate --json` for the daemon's history and
/// configuration, with the plot (`plot`), whether the page may apply proposals
/// (`applicable`, else `why`) and the file they go to (`config_file`).
pub async fn calibrate(State(s): State<AppState>, Query(q): Query<CalibrateQuery>) -> Response {
    let (c, page) = match calibration(&s, q.days.unwrap_or(30)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut doc = serde_json::to_value(calibrate::document(&c)).unwrap_or_default();
    doc["plot"] = Value::String(calibrate::plot(&c));
    doc["applicable"] = Value::Bool(not_applicable(&s).is_none());
    if let Some(why) = not_applicable(&s) {
        doc["why"] = Value::String(why.to_owned());
    }
    doc["config_file"] = Value::String(
        calibrate::config_path(&page.cfg, &s.env)
            .display()
            .to_string(),
    );
    json(doc.to_string())
}

/// `/api/git?days=7&slack=15`.
#[derive(Debug, Deserialize)]
pub struct GitQuery {
    days: Option<u32>,
    slack: Option<u32>,
}

/// `GET /api/git?days=N[&slack=MIN]`: `redline stats git --json` for the daemon's
/// configuration (every day without `days`), with `otel` filled from what OpenTelemetry
/// senders reported since the daemon started. It reads the whole history and the
/// repositories, off the async threads; one at a time with calibrations, which do too.
pub async fn git(State(s): State<AppState>, Query(q): Query<GitQuery>) -> Response {
    if q.days.is_some_and(|d| !(1..=3650).contains(&d)) {
        return (StatusCode::BAD_REQUEST, "days must be 1 to 3650\n").into_response();
    }
    if q.slack
        .is_some_and(|m| m > crate::config::MAX_SLACK_MINUTES)
    {
        return (
            StatusCode::BAD_REQUEST,
            format!(
                "slack must be 0 to {} minutes\n",
                crate::config::MAX_SLACK_MINUTES
            ),
        )
            .into_response();
    }
    // One history read at a time with the calibrations: this one waits its turn.
    let Ok(_one) = s.calibrating.clone().acquire_owned().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    };
    let page = s.page.borrow().clone();
    let (env, cfg) = (s.env.clone(), page.cfg.clone());
    let o = stats_git::Options {
        days: q.days,
        slack_minutes: q.slack.unwrap_or(cfg.git.slack_minutes),
    };
    let otel = s.snapshots.borrow().git.otel_json();
    let done = tokio::task::spawn_blocking(move || {
        stats_git::compute(&o, &cfg, &env, jiff::Timestamp::now())
    })
    .await;
    match done {
        Ok(Ok(c)) => {
            let mut doc = stats_git::document(&c);
            doc["otel"] = otel;
            json(doc.to_string())
        }
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the history: {e:#}\n"),
        )
            .into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
    }
}

/// `POST /api/calibrate/apply`: `{"key": "tach_redline", "days": 30}`.
#[derive(Debug, Deserialize)]
pub struct Apply {
    key: String,
    days: Option<u32>,
}

/// `POST /api/calibrate/apply`: recalibrates and writes that key's proposal into the
/// config file (after a backup); the daemon, following the file, applies it.
pub async fn apply(State(s): State<AppState>, body: Bytes) -> Response {
    let a: Apply = match body_json(&body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let refuse = |why: String| {
        (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "error": why }).to_string(),
        )
            .into_response()
    };
    if !Calibration::KEYS.contains(&a.key.as_str()) {
        return (
            StatusCode::BAD_REQUEST,
            format!(
                "no calibration key {:?}; the keys are {}\n",
                a.key,
                Calibration::KEYS.join(", ")
            ),
        )
            .into_response();
    }
    if let Some(why) = not_applicable(&s) {
        return refuse(why.to_owned());
    }
    let (c, page) = match calibration(&s, a.days.unwrap_or(30)).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let doc = serde_json::to_value(calibrate::document(&c)).unwrap_or_default();
    let value = doc[a.key.as_str()]["proposed"].clone();
    if value.is_null() {
        return refuse(format!("{} has no proposal from these days", a.key));
    }
    let (env, cfg, key) = (s.env.clone(), page.cfg.clone(), a.key.clone());
    let written = tokio::task::spawn_blocking(move || {
        calibrate::write_config(&c.cal, &cfg, &env, Some(&key))
    })
    .await;
    match written {
        Ok(Ok(said)) => json(json!({ "key": a.key, "value": value, "said": said }).to_string()),
        Ok(Err(e)) => refuse(format!("{e:#}")),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
    }
}

/// A JSON body read into `T`, or 400 saying what is wrong with it.
#[allow(clippy::result_large_err)]
fn body_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("the body is not what this takes: {e}\n"),
        )
            .into_response()
    })
}

/// `GET /api/sweep`: whether the needles sweep.
pub async fn sweep(State(s): State<AppState>) -> Response {
    json(json!({ "sweep": s.sweep.on() }).to_string())
}

/// `POST /api/sweep`: `{"on": true}` starts the needle sweep, `{"on": false}` stops it.
#[derive(Debug, Deserialize)]
pub struct SetSweep {
    on: bool,
}

/// `POST /api/sweep`.
pub async fn set_sweep(State(s): State<AppState>, body: Bytes) -> Response {
    let b: SetSweep = match body_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    s.sweep.set(b.on);
    // Recompute now rather than at the next second.
    let _ = s.inputs.send(Input::Tick);
    json(json!({ "sweep": s.sweep.on() }).to_string())
}
