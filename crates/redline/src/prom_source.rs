//! `--source prometheus=URL`: the live values read from a Prometheus that already holds
//! Claude Code's OpenTelemetry counters (SPEC "Data sources" §3). This module owns the
//! reading: metric-name discovery, the PromQL it sends, the 5-hour block placement over
//! what Prometheus holds, and a small cache so each poll asks only for the last minutes.
//! The daemon's polling thread, its backoff and the turn into `/usage` live elsewhere.
//!
//! Every amount is an increase per series, summed: `increase()` drops the first sample of
//! each new series, and every Claude Code session is a new series, so a series' increase
//! over a window is `last_over_time(x[w]) - x offset w`, or all of `last_over_time(x[w])`
//! when the series did not exist at the window's start. A difference below zero is a
//! counter reset (a collector that forgot a delta series after an idle spell starts it
//! again low), and then the value since the reset is what counts.
//!
//! Windows are 5-minute steps on the clock's grid (one `query_range` gives a step's
//! increase at each step end), plus one instant query at `now` for the part of the current
//! step that has passed. Summing steps instead of asking for "since midnight" in one
//! window keeps a reset from wiping out everything before it: only the step holding the
//! reset loses what came before the reset within it. Block starts and local midnights lie
//! on that grid, so the sums cover exactly the block or the day.

use std::collections::BTreeMap;
use std::io;
use std::time::Duration;

use jiff::tz::TimeZone;
use redline_core::TokenCounts;
use redline_engine::blocks::{BLOCK_MS, Block, BlockEntry, BlockWalk, max_completed_total};
use serde_json::Value;

use crate::client;

/// Every HTTP request's limit (connect, write, each read).
const TIMEOUT: Duration = Duration::from_secs(2);
/// The grid of the step sums. It divides the hour, so a block start (an hour) and a local
/// midnight (a whole quarter hour in every zone in use) are step ends.
const STEP_MS: i64 = 5 * 60 * 1000;
/// How far back blocks are walked and `budget_max` looks.
const HISTORY_MS: i64 = 30 * 24 * 3600 * 1000;
/// Steps that ended this long ago are settled: their samples are all in (a scrape lands a
/// few seconds after its timestamp) and they are not asked for again.
const SETTLE_MS: i64 = 10 * 60 * 1000;
/// Steps per `query_range` while the history loads: a day, so that each query stays
/// quick on a big Prometheus and far below its 11,000 points per series.
const CHUNK_STEPS: i64 = 288;
/// Re-discovery of the names, when the token metric has gone quiet, at most this often.
const REDISCOVER_MS: i64 = 60 * 1000;
/// The window of the model choice.
const MODEL_WINDOW_MS: i64 = 5 * 60 * 1000;
/// Settled steps' dollars are kept this long: a local day is at most 25 hours.
const COST_KEEP_MS: i64 = 26 * 3600 * 1000;

/// The token counter's names, preferred first: an OpenTelemetry collector's exporter, then
/// Claude Code's own exporter (which drops the unit).
const TOKEN_NAMES: [&str; 2] = [
    "claude_code_token_usage_tokens_total",
    "claude_code_token_usage_total",
];
const TOKEN_PREFIX: &str = "claude_code_token_usage";
/// The cost counter's names, likewise.
const COST_NAMES: [&str; 3] = [
    "claude_code_cost_usage_USD_total",
    "claude_code_cost_usage_total",
    "claude_code_cost_usage_usd_total",
];
const COST_PREFIX: &str = "claude_code_cost_usage";

/// What Prometheus says now: the values the live state takes from an external source.
pub use redline_engine::live::{External as PromReading, ExternalBlock as PromBlock};

/// A Prometheus to read from, the metric names found there and what was already read.
pub struct PromSource {
    /// `host:port`.
    authority: String,
    /// A path prefix such as `/prometheus`, or empty.
    prefix: String,
    names: Option<Names>,
    /// When the names were last asked for.
    discovered_ms: Option<i64>,
    /// The last reading found no sample of the token metric in the last 5 minutes.
    quiet: bool,
    history: History,
}

impl PromSource {
    /// `url` as given after `prometheus=` (http://host:port, optionally with a path prefix
    /// such as /prometheus).
    pub fn new(url: &str) -> Result<PromSource, String> {
        let (authority, prefix) = split_url(url)?;
        Ok(PromSource {
            authority,
            prefix,
            names: None,
            discovered_ms: None,
            quiet: false,
            history: History::new(),
        })
    }

    /// One reading at `now_ms`. Errors are one line saying what failed (unreachable, HTTP
    /// status, Prometheus error JSON, no claude_code metric found).
    pub fn read(
        &mut self,
        now_ms: i64,
        tz: &TimeZone,
        tach_window_s: u64,
    ) -> Result<PromReading, String> {
        let due = self
            .discovered_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= REDISCOVER_MS || now_ms < t);
        if self.names.is_none() || (self.quiet && due) {
            self.discover(now_ms)?;
        }
        let Some(names) = self.names.clone() else {
            return Err(self.no_metric(0));
        };

        let now_step = floor_step(now_ms);
        // A clock that went back past what was settled: start over rather than walk
        // blocks backwards.
        if self.history.settled_to.is_some_and(|t| t > now_step) {
            self.history = History::new();
        }
        let settle_limit = floor_step(now_ms.saturating_sub(SETTLE_MS));
        let mut start = self.history.settled_to.map_or_else(
            || floor_step(now_ms.saturating_sub(HISTORY_MS)),
            |t| t + STEP_MS,
        );
        let mut tail = Vec::new();
        while start <= now_step {
            let end = (start + (CHUNK_STEPS - 1) * STEP_MS).min(now_step);
            let path = format!(
                "/api/v1/query_range?query={}&start={}&end={}&step={}",
                encode(&steps_query(&names)),
                secs(start),
                secs(end),
                secs(STEP_MS)
            );
            let steps = steps_from(&self.query(&path, "matrix")?, start, end);
            self.history
                .advance(&steps, start, end, settle_limit, &mut tail);
            start = end + STEP_MS;
        }
        self.history.forget_before(now_ms);

        let rest_ms = now_ms - now_step;
        let tach_ms = i64::try_from(tach_window_s.max(1))
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        let midnight = local_midnight(now_ms, tz);
        // A midnight off the step grid (no zone in use has one) is asked for directly.
        let day_ms =
            (midnight.rem_euclid(STEP_MS) != 0 && midnight < now_ms).then_some(now_ms - midnight);
        let q = now_query(&names, rest_ms, tach_ms, day_ms);
        let path = format!("/api/v1/query?query={}&time={}", encode(&q), secs(now_ms));
        let now = NowValues::from(&self.query(&path, "vector")?);
        self.quiet = now.newest_ms.is_none();
        Ok(reading(
            &self.history,
            &tail,
            &now,
            now_ms,
            midnight,
            tach_ms,
        ))
    }

    /// Asks for every metric name and picks the token and cost counters. A change of names
    /// (another pipeline) drops what was read under the old ones.
    fn discover(&mut self, now_ms: i64) -> Result<(), String> {
        self.discovered_ms = Some(now_ms);
        let data = self.get("/api/v1/label/__name__/values")?;
        let list = data
            .as_array()
            .ok_or_else(|| self.fail("/api/v1/label/__name__/values", "data is not a list"))?;
        let all: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
        let found = choose_names(&all);
        if found != self.names {
            self.history = History::new();
        }
        self.names = found;
        if self.names.is_none() {
            return Err(self.no_metric(all.len()));
        }
        Ok(())
    }

    fn no_metric(&self, count: usize) -> String {
        format!(
            "prometheus at {}: no claude_code token metric among its {count} metric names \
             (looked for {}, {} or {TOKEN_PREFIX}*)",
            self.authority, TOKEN_NAMES[0], TOKEN_NAMES[1]
        )
    }

    fn fail(&self, path: &str, what: &str) -> String {
        let endpoint = path.split('?').next().unwrap_or(path);
        format!(
            "prometheus at {}{}{endpoint}: {what}",
            self.authority, self.prefix
        )
    }

    /// GET a query `path`: its `result`, a `want` (vector or matrix).
    fn query(&self, path: &str, want: &str) -> Result<Vec<Series>, String> {
        parse_result(&self.get(path)?, want).map_err(|e| self.fail(path, &e))
    }

    /// GET `path` under the prefix: the `data` of a success answer.
    fn get(&self, path: &str) -> Result<Value, String> {
        let full = format!("{}{path}", self.prefix);
        let (status, body) = client::get(&self.authority, &full, TIMEOUT).map_err(|e| {
            let text = one_line(&e.to_string());
            if e.kind() == io::ErrorKind::InvalidData {
                self.fail(path, &format!("bad HTTP answer: {text}"))
            } else {
                format!("prometheus at {} unreachable: {text}", self.authority)
            }
        })?;
        parse_answer(status, &body).map_err(|e| self.fail(path, &e))
    }
}

/// The discovered metric names.
#[derive(Clone, Debug, PartialEq)]
struct Names {
    tokens: String,
    /// Absent when the pipeline exports no cost counter: dollars then read 0.
    cost: Option<String>,
}

/// The token and cost counters among `all` (SPEC §3's order), or None without a token
/// counter.
fn choose_names(all: &[&str]) -> Option<Names> {
    Some(Names {
        tokens: choose(all, &TOKEN_NAMES, TOKEN_PREFIX)?,
        cost: choose(all, &COST_NAMES, COST_PREFIX),
    })
}

/// The first of `exact` present in `all`, else the first name (sorted) with `prefix`,
/// `_total` names before others. `_created` series (OpenMetrics creation times) and names
/// PromQL cannot write bare are never picked.
fn choose(all: &[&str], exact: &[&str], prefix: &str) -> Option<String> {
    if let Some(e) = exact.iter().find(|e| all.contains(e)) {
        return Some((*e).to_owned());
    }
    all.iter()
        .filter(|n| n.starts_with(prefix) && !n.ends_with("_created") && is_metric_name(n))
        .min_by_key(|n| (!n.ends_with("_total"), **n))
        .map(|n| (*n).to_owned())
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`: a name that can stand bare in PromQL.
fn is_metric_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `http://host[:port][/prefix][/]` to (`host:port`, `/prefix` or empty).
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url.trim().strip_prefix("http://").ok_or_else(|| {
        format!("prometheus URL {url:?}: give an http:// URL, like http://127.0.0.1:9090")
    })?;
    if rest.contains(['?', '#']) {
        return Err(format!(
            "prometheus URL {url:?}: no query or fragment, only http://host:port[/prefix]"
        ));
    }
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = client::authority(&format!("http://{host}"))
        .map_err(|_| format!("prometheus URL {url:?}: no host"))?;
    Ok((authority, path.trim_end_matches('/').to_owned()))
}

/// Percent-encoding of a query-string value: everything but RFC 3986's unreserved bytes.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Milliseconds as the seconds Prometheus takes (`1700000000.123`).
fn secs(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}

/// A PromQL duration of `ms` (> 0) in one unit, which every Prometheus 2 parses.
fn duration(ms: i64) -> String {
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Per series of `sel`, its increase over the `window_ms` before the evaluation time (see
/// the module comment).
fn increase(sel: &str, window_ms: i64) -> String {
    let w = duration(window_ms);
    format!("((last_over_time({sel}[{w}]) - {sel} offset {w}) >= 0) or last_over_time({sel}[{w}])")
}

/// `expr` with a label `q="tag"`, so several answers travel in one query (joined with `or`;
/// their label sets differ by `q`).
fn tagged(expr: &str, tag: &str) -> String {
    format!("label_replace({expr}, \"q\", \"{tag}\", \"__name__\", \".*\")")
}

/// The `query_range` expression: at each step end, the tokens and dollars of the step and
/// the newest token sample's time.
fn steps_query(n: &Names) -> String {
    let mut parts = vec![tagged(
        &format!("sum({})", increase(&n.tokens, STEP_MS)),
        "tokens",
    )];
    if let Some(c) = &n.cost {
        parts.push(tagged(&format!("sum({})", increase(c, STEP_MS)), "cost"));
    }
    parts.push(tagged(&format!("max(timestamp({}))", n.tokens), "newest"));
    parts.join(" or ")
}

/// The instant expression at `now`: the part of the current step that has passed
/// (`rest_ms`, skipped when 0), the tach window's tokens without cache reads, tokens by
/// model over 5 minutes, the newest token sample's time, and dollars over `day_ms` when
/// midnight is off the step grid.
fn now_query(n: &Names, rest_ms: i64, tach_ms: i64, day_ms: Option<i64>) -> String {
    let mut parts = Vec::new();
    if rest_ms > 0 {
        parts.push(tagged(
            &format!("sum({})", increase(&n.tokens, rest_ms)),
            "rest_tokens",
        ));
        if let Some(c) = &n.cost {
            parts.push(tagged(
                &format!("sum({})", increase(c, rest_ms)),
                "rest_cost",
            ));
        }
    }
    let tach_sel = format!("{}{{type!=\"cacheRead\"}}", n.tokens);
    parts.push(tagged(
        &format!("sum({})", increase(&tach_sel, tach_ms)),
        "tach",
    ));
    parts.push(tagged(
        &format!("sum by (model) ({})", increase(&n.tokens, MODEL_WINDOW_MS)),
        "model",
    ));
    parts.push(tagged(&format!("max(timestamp({}))", n.tokens), "newest"));
    if let (Some(day), Some(c)) = (day_ms, &n.cost) {
        parts.push(tagged(&format!("sum({})", increase(c, day)), "day_cost"));
    }
    parts.join(" or ")
}

/// A Prometheus HTTP answer to its `data`, or the reason it is not a success.
fn parse_answer(status: u16, body: &[u8]) -> Result<Value, String> {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) if (200..300).contains(&status) => {
            return Err(one_line(&format!("answer is not JSON: {e}")));
        }
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = one_line(&text);
            let text: String = text.chars().take(200).collect();
            return Err(if text.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {text}")
            });
        }
    };
    match v.get("status").and_then(Value::as_str) {
        Some("success") if (200..300).contains(&status) => v
            .get("data")
            .cloned()
            .ok_or_else(|| "a success answer without data".to_owned()),
        Some("error") | Some("success") => {
            let kind = v.get("errorType").and_then(Value::as_str).unwrap_or("");
            let error = v.get("error").and_then(Value::as_str).unwrap_or("");
            let error = one_line(error);
            Err(match (kind.is_empty(), error.is_empty()) {
                (true, true) => format!("HTTP {status}"),
                (true, false) => format!("HTTP {status}: {error}"),
                (false, true) => format!("HTTP {status}: {kind}"),
                (false, false) => format!("HTTP {status}: {kind}: {error}"),
            })
        }
        _ => Err(format!(
            "HTTP {status}: not a Prometheus API answer (no \"status\")"
        )),
    }
}

/// Newlines and runs of spaces folded, so an error stays one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One series of an answer: its `q` tag, its `model` label, its samples (ms, value).
#[derive(Clone, Debug, PartialEq)]
struct Series {
    q: String,
    model: Option<String>,
    points: Vec<(i64, f64)>,
}

/// The `result` of a `vector` or `matrix` answer's `data`.
fn parse_result(data: &Value, want: &str) -> Result<Vec<Series>, String> {
    let kind = data
        .get("resultType")
        .and_then(Value::as_str)
        .ok_or("answer without resultType")?;
    if kind != want {
        return Err(format!("answer is a {kind}, not a {want}"));
    }
    let list = data
        .get("result")
        .and_then(Value::as_array)
        .ok_or("answer without a result list")?;
    list.iter()
        .map(|r| {
            let metric = r
                .get("metric")
                .and_then(Value::as_object)
                .ok_or("a result without metric labels")?;
            let label = |k: &str| metric.get(k).and_then(Value::as_str).map(str::to_owned);
            let points = if want == "vector" {
                vec![point(r.get("value"))?]
            } else {
                r.get("values")
                    .and_then(Value::as_array)
                    .ok_or("a range result without values")?
                    .iter()
                    .map(|p| point(Some(p)))
                    .collect::<Result<_, _>>()?
            };
            Ok(Series {
                q: label("q").unwrap_or_default(),
                model: label("model"),
                points,
            })
        })
        .collect()
}

/// `[1700000000.123, "42"]` to (ms, value). Prometheus writes `NaN`, `+Inf`, `-Inf`.
fn point(p: Option<&Value>) -> Result<(i64, f64), String> {
    let bad = || {
        format!(
            "a sample is not [time, \"value\"]: {}",
            p.unwrap_or(&Value::Null)
        )
    };
    let pair = p
        .and_then(Value::as_array)
        .filter(|a| a.len() == 2)
        .ok_or_else(bad)?;
    let t = pair[0].as_f64().and_then(seconds_to_ms).ok_or_else(bad)?;
    let text = pair[1].as_str().ok_or_else(bad)?;
    let v = match text {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => text.parse().map_err(|_| bad())?,
    };
    Ok((t, v))
}

/// Seconds (float) to milliseconds, if finite and within ±300,000 years.
fn seconds_to_ms(s: f64) -> Option<i64> {
    (s.is_finite() && s.abs() < 1e13).then(|| (s * 1000.0).round() as i64)
}

/// An amount from Prometheus: non-finite or negative reads as nothing.
fn amount(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

/// One 5-minute step: what happened in (end - 5 min, end].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Step {
    end_ms: i64,
    tokens: f64,
    cost: f64,
    newest_ms: Option<i64>,
}

/// The steps of a `query_range` answer between `start` and `end` (step ends), in order;
/// a step without any series is absent (nothing happened, nothing existed).
fn steps_from(series: &[Series], start: i64, end: i64) -> Vec<Step> {
    let mut steps: BTreeMap<i64, Step> = BTreeMap::new();
    for s in series {
        for &(t, v) in &s.points {
            if t < start || t > end {
                continue;
            }
            let step = steps.entry(t).or_insert(Step {
                end_ms: t,
                ..Step::default()
            });
            match s.q.as_str() {
                "tokens" => step.tokens = amount(v),
                "cost" => step.cost = amount(v),
                "newest" => step.newest_ms = seconds_to_ms(v),
                _ => {}
            }
        }
    }
    steps.into_values().collect()
}

/// The instant query's answers.
#[derive(Clone, Debug, Default, PartialEq)]
struct NowValues {
    /// Tokens and dollars since the last step end.
    rest_tokens: f64,
    rest_cost: f64,
    /// Tach tokens over the tach window.
    tach: f64,
    /// Tokens by model over 5 minutes.
    models: Vec<(String, f64)>,
    newest_ms: Option<i64>,
    /// Dollars since midnight, when asked for directly.
    day_cost: Option<f64>,
}

impl NowValues {
    fn from(series: &[Series]) -> NowValues {
        let mut n = NowValues::default();
        for s in series {
            let Some(&(_, v)) = s.points.first() else {
                continue;
            };
            match s.q.as_str() {
                "rest_tokens" => n.rest_tokens = amount(v),
                "rest_cost" => n.rest_cost = amount(v),
                "tach" => n.tach = amount(v),
                "model" => {
                    if let Some(m) = s.model.as_ref().filter(|m| !m.is_empty()) {
                        n.models.push((m.clone(), amount(v)));
                    }
                }
                "newest" => n.newest_ms = seconds_to_ms(v),
                "day_cost" => n.day_cost = Some(amount(v)),
                _ => {}
            }
        }
        n
    }

    /// The model with the most tokens (ties: the first name in byte order); None when no
    /// model moved.
    fn top_model(&self) -> Option<String> {
        self.models
            .iter()
            .filter(|(_, v)| *v > 0.0)
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
            .map(|(m, _)| m.clone())
    }
}

/// The block walk's entry for the activity of a step `(end - 5 min, end]`, placed at
/// `from_ms` = `end - 5 min + 1 ms`, the earliest instant the step holds: the real activity
/// and `from_ms` then lie on the same side of every hour and every block end (both on the
/// grid), so the walk floors to the same hour and cuts blocks where exact times would.
/// (A sample stamped exactly on the hour, to the millisecond, lands an hour early.) None
/// when nothing happened.
fn entry(from_ms: i64, tokens: f64, cost: f64) -> Option<BlockEntry<'static>> {
    let tokens = tokens.round() as u64;
    (tokens > 0 || cost > 0.0).then_some(BlockEntry {
        ts_ms: from_ms,
        // Blocks need the total only; it travels as `input`.
        tokens: TokenCounts::new(tokens, 0, 0, 0),
        cost_usd: cost,
        model: None,
        limit_reset_s: None,
    })
}

/// What settled: the block walk over every settled step since the history began, the
/// completed blocks it closed, recent settled dollars by step end.
#[derive(Clone, Debug)]
struct History {
    walk: BlockWalk,
    /// Non-gap blocks the walk closed, the last 30 days.
    closed: Vec<Block>,
    /// The end of the last settled step.
    settled_to: Option<i64>,
    /// Settled steps' dollars by step end, the last 26 h.
    cost: BTreeMap<i64, f64>,
    newest_ms: Option<i64>,
}

impl History {
    fn new() -> History {
        History {
            walk: BlockWalk::new(BLOCK_MS),
            closed: Vec::new(),
            settled_to: None,
            cost: BTreeMap::new(),
            newest_ms: None,
        }
    }

    /// Takes the `steps` of a query over step ends `start..=end`: those ending at or before
    /// `settle_limit` settle, in order, and the rest go to `tail` (asked for again next
    /// time).
    fn advance(
        &mut self,
        steps: &[Step],
        start: i64,
        end: i64,
        settle_limit: i64,
        tail: &mut Vec<Step>,
    ) {
        let limit = end.min(settle_limit);
        for s in steps {
            if s.end_ms > limit {
                tail.push(*s);
                continue;
            }
            if let Some(e) = entry(s.end_ms - STEP_MS + 1, s.tokens, s.cost) {
                let closed = &mut self.closed;
                self.walk.push(&e, |b| {
                    if !b.is_gap {
                        closed.push(b);
                    }
                });
            }
            if s.cost > 0.0 {
                self.cost.insert(s.end_ms, s.cost);
            }
            self.newest_ms = self.newest_ms.max(s.newest_ms);
        }
        if limit >= start {
            self.settled_to = Some(limit);
        }
    }

    /// Drops closed blocks past 30 days and dollars past 26 h.
    fn forget_before(&mut self, now_ms: i64) {
        let oldest = now_ms.saturating_sub(HISTORY_MS);
        self.closed.retain(|b| b.end_ms > oldest);
        let keep = now_ms.saturating_sub(COST_KEEP_MS);
        self.cost = self.cost.split_off(&keep);
    }
}

/// The reading from the settled history, this poll's unsettled steps and the instant
/// answers.
fn reading(
    h: &History,
    tail: &[Step],
    now: &NowValues,
    now_ms: i64,
    midnight_ms: i64,
    tach_ms: i64,
) -> PromReading {
    let now_step = floor_step(now_ms);
    let mut walk = h.walk.clone();
    let mut closed = Vec::new();
    let pending = tail
        .iter()
        .map(|s| (s.end_ms - STEP_MS + 1, s.tokens, s.cost))
        .chain(std::iter::once((
            now_step + 1,
            now.rest_tokens,
            now.rest_cost,
        )));
    for (from, tokens, cost) in pending {
        if let Some(e) = entry(from, tokens, cost) {
            walk.push(&e, |b| closed.push(b));
        }
    }
    let current = walk.into_current();
    let block = current
        .as_ref()
        .filter(|b| b.is_active(now_ms))
        .map(|b| PromBlock {
            start_ms: b.start_ms,
            end_ms: b.end_ms,
            tokens: b.tokens.total(),
            cost_usd: b.cost_usd,
        });
    closed.extend(current);
    let budget_max =
        max_completed_total(&h.closed, now_ms).max(max_completed_total(&closed, now_ms));
    let cost_today_usd = now.day_cost.unwrap_or_else(|| {
        let settled: f64 = h.cost.range(midnight_ms + 1..).map(|(_, c)| c).sum();
        let recent: f64 = tail
            .iter()
            .filter(|s| s.end_ms > midnight_ms)
            .map(|s| s.cost)
            .sum();
        settled + recent + now.rest_cost
    });
    PromReading {
        tokens_per_min: now.tach * 60_000.0 / tach_ms as f64,
        block,
        budget_max,
        cost_today_usd,
        model: now.top_model(),
        newest_sample_ms: now
            .newest_ms
            .max(h.newest_ms)
            .max(tail.iter().filter_map(|s| s.newest_ms).max()),
    }
}

/// The step end at or before `ms`.
fn floor_step(ms: i64) -> i64 {
    ms.div_euclid(STEP_MS) * STEP_MS
}

/// The start of the local day holding `now_ms` in `tz` (a midnight that does not exist is
/// the first instant after it).
fn local_midnight(now_ms: i64, tz: &TimeZone) -> i64 {
    let Ok(ts) = jiff::Timestamp::from_millisecond(now_ms) else {
        return now_ms;
    };
    let date = tz.to_datetime(ts).date();
    redline_engine::days::start_ms(date, tz).map_or(now_ms, |ms| ms.min(now_ms))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use serde_json::json;

    use super::*;

    const MIN: i64 = 60 * 1000;
    const HOUR: i64 = 60 * MIN;
    /// 2026-02-10T00:00:00Z.
    const DAY0: i64 = 1_770_681_600_000;

    fn names(tokens: &str, cost: Option<&str>) -> Names {
        Names {
            tokens: tokens.to_owned(),
            cost: cost.map(str::to_owned),
        }
    }

    #[test]
    fn names_in_spec_order() {
        let all = [
            "up",
            "claude_code_cost_usage_total",
            "claude_code_token_usage_total",
            "claude_code_cost_usage_USD_total",
            "claude_code_token_usage_tokens_total",
            "claude_code_session_count_total",
        ];
        assert_eq!(
            choose_names(&all),
            Some(names(
                "claude_code_token_usage_tokens_total",
                Some("claude_code_cost_usage_USD_total")
            ))
        );
        // Claude Code's own exporter drops the unit.
        let own = [
            "claude_code_cost_usage_total",
            "claude_code_token_usage_total",
        ];
        assert_eq!(
            choose_names(&own),
            Some(names(
                "claude_code_token_usage_total",
                Some("claude_code_cost_usage_total")
            ))
        );
        let lower = [
            "claude_code_cost_usage_usd_total",
            "claude_code_cost_usage_dollars",
            "claude_code_token_usage_tokens_total",
        ];
        assert_eq!(
            choose_names(&lower).unwrap().cost.as_deref(),
            Some("claude_code_cost_usage_usd_total")
        );
        // Any other name with the prefix: `_total` first, `_created` and names PromQL
        // cannot write bare never.
        let odd = [
            "claude_code_token_usage_tokens_created",
            "claude_code_token_usage_zz",
            "claude_code_token_usage_tokens_count_total",
            "claude_code_token_usage.tokens_total",
        ];
        assert_eq!(
            choose_names(&odd),
            Some(names("claude_code_token_usage_tokens_count_total", None))
        );
        assert_eq!(
            choose(&odd[..2], &TOKEN_NAMES, TOKEN_PREFIX).as_deref(),
            Some("claude_code_token_usage_zz")
        );
        // No token counter: nothing, even with a cost counter.
        assert_eq!(
            choose_names(&["up", "claude_code_cost_usage_USD_total"]),
            None
        );
        assert_eq!(choose_names(&[]), None);
        assert!(is_metric_name("a:b_c9") && is_metric_name("_x"));
        assert!(!is_metric_name("9a") && !is_metric_name("") && !is_metric_name("a-b"));
    }

    #[test]
    fn urls_with_and_without_prefix() {
        let ok = |u: &str| split_url(u).unwrap();
        assert_eq!(
            ok("http://127.0.0.1:9090"),
            ("127.0.0.1:9090".into(), "".into())
        );
        assert_eq!(
            ok("http://127.0.0.1:9090/"),
            ("127.0.0.1:9090".into(), "".into())
        );
        assert_eq!(
            ok(" http://mon.lan:9090/prometheus/ "),
            ("mon.lan:9090".into(), "/prometheus".into())
        );
        assert_eq!(ok("http://mon/a/b"), ("mon:80".into(), "/a/b".into()));
        for bad in [
            "https://mon:9090",
            "mon:9090",
            "http://",
            "http:///prometheus",
            "http://mon:9090/?x=1",
            "http://mon:9090#top",
        ] {
            let e = split_url(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
        assert!(PromSource::new("http://127.0.0.1:9090/prometheus").is_ok());
    }

    #[test]
    fn promql_text() {
        assert_eq!(duration(300_000), "300s");
        assert_eq!(duration(1_234), "1234ms");
        assert_eq!(
            increase("x", 60_000),
            "((last_over_time(x[60s]) - x offset 60s) >= 0) or last_over_time(x[60s])"
        );
        let n = names(
            "claude_code_token_usage_tokens_total",
            Some("claude_code_cost_usage_USD_total"),
        );
        let t = "claude_code_token_usage_tokens_total";
        let c = "claude_code_cost_usage_USD_total";
        assert_eq!(
            steps_query(&n),
            format!(
                "label_replace(sum(((last_over_time({t}[300s]) - {t} offset 300s) >= 0) or \
                 last_over_time({t}[300s])), \"q\", \"tokens\", \"__name__\", \".*\") or \
                 label_replace(sum(((last_over_time({c}[300s]) - {c} offset 300s) >= 0) or \
                 last_over_time({c}[300s])), \"q\", \"cost\", \"__name__\", \".*\") or \
                 label_replace(max(timestamp({t})), \"q\", \"newest\", \"__name__\", \".*\")"
            )
        );
        // No cost counter: no cost part.
        let q = steps_query(&names(t, None));
        assert!(!q.contains("cost") && q.contains("\"tokens\"") && q.contains("\"newest\""));

        let ts = format!("{t}{{type!=\"cacheRead\"}}");
        assert_eq!(
            now_query(&n, 0, 60_000, None),
            format!(
                "label_replace(sum(((last_over_time({ts}[60s]) - {ts} offset 60s) >= 0) or \
                 last_over_time({ts}[60s])), \"q\", \"tach\", \"__name__\", \".*\") or \
                 label_replace(sum by (model) (((last_over_time({t}[300s]) - {t} offset 300s) \
                 >= 0) or last_over_time({t}[300s])), \"q\", \"model\", \"__name__\", \".*\") or \
                 label_replace(max(timestamp({t})), \"q\", \"newest\", \"__name__\", \".*\")"
            )
        );
        let q = now_query(&n, 61_500, 30_000, Some(3_600_000));
        for part in [
            format!("sum(((last_over_time({t}[61500ms]) - {t} offset 61500ms) >= 0)"),
            "\"rest_tokens\"".to_owned(),
            format!("sum(((last_over_time({c}[61500ms]) - {c} offset 61500ms) >= 0)"),
            "\"rest_cost\"".to_owned(),
            format!("last_over_time({ts}[30s])"),
            format!("sum(((last_over_time({c}[3600s]) - {c} offset 3600s) >= 0)"),
            "\"day_cost\"".to_owned(),
        ] {
            assert!(q.contains(&part), "{part} not in {q}");
        }
        // Without a cost counter, no dollar parts at all.
        let q = now_query(&names(t, None), 61_500, 30_000, Some(3_600_000));
        assert!(!q.contains("rest_cost") && !q.contains("day_cost") && q.contains("rest_tokens"));
    }

    #[test]
    fn query_strings_are_percent_encoded() {
        assert_eq!(
            encode("sum(x{type!=\"cacheRead\"}[60s]) or y"),
            "sum%28x%7Btype%21%3D%22cacheRead%22%7D%5B60s%5D%29%20or%20y"
        );
        assert_eq!(encode("a-b.c_d~9"), "a-b.c_d~9");
        assert_eq!(encode("+&=?#%/é"), "%2B%26%3D%3F%23%25%2F%C3%A9");
        assert_eq!(secs(1_770_681_600_123), "1770681600.123");
        assert_eq!(secs(300_000), "300.000");
        assert_eq!(secs(-1), "-0.001");
        // Every byte of a real query survives a decode.
        let q = now_query(&names("m", Some("c")), 1, 60_000, Some(5));
        let e = encode(&q);
        assert!(
            e.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b))
        );
        let mut back = Vec::new();
        let mut bytes = e.bytes();
        while let Some(b) = bytes.next() {
            if b == b'%' {
                let hex: String = [bytes.next().unwrap(), bytes.next().unwrap()]
                    .iter()
                    .map(|&c| c as char)
                    .collect();
                back.push(u8::from_str_radix(&hex, 16).unwrap());
            } else {
                back.push(b);
            }
        }
        assert_eq!(String::from_utf8(back).unwrap(), q);
    }

    #[test]
    fn prometheus_answers() {
        let ok = br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(
            parse_answer(200, ok).unwrap(),
            json!({"resultType":"vector","result":[]})
        );
        let err = br#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error:\nunclosed left parenthesis"}"#;
        assert_eq!(
            parse_answer(400, err).unwrap_err(),
            "HTTP 400: bad_data: invalid parameter \"query\": 1:5: parse error: unclosed left \
             parenthesis"
        );
        assert_eq!(
            parse_answer(503, br#"{"status":"error","errorType":"unavailable"}"#).unwrap_err(),
            "HTTP 503: unavailable"
        );
        assert_eq!(
            parse_answer(404, b"404 page not found\n").unwrap_err(),
            "HTTP 404: 404 page not found"
        );
        assert_eq!(parse_answer(502, b"").unwrap_err(), "HTTP 502");
        // A success status on an HTTP error is still an error.
        assert_eq!(
            parse_answer(500, br#"{"status":"success","data":1}"#).unwrap_err(),
            "HTTP 500"
        );
        assert!(
            parse_answer(200, b"<html>")
                .unwrap_err()
                .starts_with("answer is not JSON")
        );
        assert!(
            parse_answer(200, br#"{"data":[]}"#)
                .unwrap_err()
                .contains("no \"status\"")
        );
        assert_eq!(
            parse_answer(200, br#"{"status":"success"}"#).unwrap_err(),
            "a success answer without data"
        );
        // A long HTML error page is cut, and stays on one line.
        let page = format!("<html>\n{}</html>", "x".repeat(1000));
        let e = parse_answer(502, page.as_bytes()).unwrap_err();
        assert!(e.len() < 220 && !e.contains('\n'), "{e}");
    }

    #[test]
    fn vectors_and_matrices() {
        let v = json!({"resultType":"vector","result":[
            {"metric":{"q":"model","model":"claude-opus-4-6"},"value":[1770681600.5,"12"]},
            {"metric":{"q":"newest"},"value":[1770681600,"1770681599.25"]},
            {"metric":{"q":"tach"},"value":[1770681600,"NaN"]}
        ]});
        let s = parse_result(&v, "vector").unwrap();
        assert_eq!(
            s[0],
            Series {
                q: "model".into(),
                model: Some("claude-opus-4-6".into()),
                points: vec![(1_770_681_600_500, 12.0)]
            }
        );
        assert!(s[2].points[0].1.is_nan());
        let now = NowValues::from(&s);
        assert_eq!(now.newest_ms, Some(1_770_681_599_250));
        assert_eq!(now.tach, 0.0, "NaN reads as nothing");
        assert_eq!(now.top_model().as_deref(), Some("claude-opus-4-6"));

        let m = json!({"resultType":"matrix","result":[
            {"metric":{"q":"tokens"},"values":[[1770681600,"5"],[1770681900,"+Inf"],[1770682200,"7"]]},
            {"metric":{"q":"cost"},"values":[[1770681900,"0.25"],[1770682500,"-1"]]},
            {"metric":{"q":"newest"},"values":[[1770681600,"1770681590"]]}
        ]});
        let steps = steps_from(
            &parse_result(&m, "matrix").unwrap(),
            1_770_681_600_000,
            1_770_682_200_000,
        );
        let t = |s: i64| 1_770_681_600_000 + s * 1000;
        assert_eq!(
            steps,
            [
                Step {
                    end_ms: t(0),
                    tokens: 5.0,
                    cost: 0.0,
                    newest_ms: Some(1_770_681_590_000)
                },
                Step {
                    end_ms: t(300),
                    tokens: 0.0,
                    cost: 0.25,
                    newest_ms: None
                },
                Step {
                    end_ms: t(600),
                    tokens: 7.0,
                    cost: 0.0,
                    newest_ms: None
                },
            ],
            "+Inf reads as nothing; a point past `end` is not taken"
        );

        for (data, want) in [
            (json!({"result":[]}), "answer without resultType"),
            (
                json!({"resultType":"scalar","result":[1,"1"]}),
                "answer is a scalar, not a vector",
            ),
            (
                json!({"resultType":"vector"}),
                "answer without a result list",
            ),
            (
                json!({"resultType":"vector","result":[{"value":[1,"1"]}]}),
                "a result without metric labels",
            ),
            (
                json!({"resultType":"vector","result":[{"metric":{},"value":[1,1]}]}),
                "a sample is not [time, \"value\"]: [1,1]",
            ),
            (
                json!({"resultType":"vector","result":[{"metric":{},"value":["1","1"]}]}),
                "a sample is not",
            ),
            (
                json!({"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}),
                "a sample is not",
            ),
            (
                json!({"resultType":"vector","result":[{"metric":{},"value":[1e300,"1"]}]}),
                "a sample is not",
            ),
            (
                json!({"resultType":"vector","result":[{"metric":{}}]}),
                "a sample is not [time, \"value\"]: null",
            ),
        ] {
            let e = parse_result(&data, "vector").unwrap_err();
            assert!(e.starts_with(want), "{e} / {want}");
        }
        let e = parse_result(
            &json!({"resultType":"matrix","result":[{"metric":{}}]}),
            "matrix",
        )
        .unwrap_err();
        assert_eq!(e, "a range result without values");
    }

    #[test]
    fn model_ties_and_silence() {
        let now = |models: &[(&str, f64)]| NowValues {
            models: models.iter().map(|(m, v)| ((*m).to_owned(), *v)).collect(),
            ..NowValues::default()
        };
        assert_eq!(now(&[]).top_model(), None);
        assert_eq!(now(&[("a", 0.0)]).top_model(), None);
        assert_eq!(
            now(&[("b", 5.0), ("a", 5.0), ("c", 1.0)])
                .top_model()
                .as_deref(),
            Some("a")
        );
        assert_eq!(
            now(&[("a", 5.0), ("b", 9.0)]).top_model().as_deref(),
            Some("b")
        );
    }

    /// Raw samples of one series: (ms, counter value).
    type Raw = Vec<(i64, f64)>;

    /// What Prometheus 2 answers for `sum(increase-expression)` over `window` at `t`: a
    /// model of the PromQL sent (ranges closed at both ends, 5-minute lookback for the
    /// offset sample, no staleness markers), checked against Prometheus 2.42 by hand.
    fn prom_increase(series: &[Raw], t: i64, window: i64) -> f64 {
        series
            .iter()
            .filter_map(|s| {
                let last = s
                    .iter()
                    .rev()
                    .find(|(ts, _)| *ts <= t && *ts >= t - window)?
                    .1;
                let before = s
                    .iter()
                    .rev()
                    .find(|(ts, _)| *ts <= t - window && *ts > t - window - 5 * MIN)
                    .map(|p| p.1);
                Some(match before {
                    Some(b) if last - b >= 0.0 => last - b,
                    _ => last,
                })
            })
            .sum()
    }

    /// The steps Prometheus would answer for `series` between step ends `from..=to`.
    fn steps_of(tokens: &[Raw], cost: &[Raw], from: i64, to: i64) -> Vec<Step> {
        (0..)
            .map(|k| from + k * STEP_MS)
            .take_while(|&t| t <= to)
            .filter_map(|t| {
                let exists = |all: &[Raw]| {
                    all.iter()
                        .any(|s| s.iter().any(|(ts, _)| *ts <= t && *ts > t - 5 * MIN))
                };
                exists(tokens).then(|| Step {
                    end_ms: t,
                    tokens: prom_increase(tokens, t, STEP_MS),
                    cost: if exists(cost) {
                        prom_increase(cost, t, STEP_MS)
                    } else {
                        0.0
                    },
                    newest_ms: tokens
                        .iter()
                        .filter_map(|s| s.iter().rev().find(|(ts, _)| *ts <= t).map(|p| p.0))
                        .filter(|&ts| ts > t - 5 * MIN)
                        .max(),
                })
            })
            .collect()
    }

    /// A counter scraped every 15 s (at :07, :22, ...) from `from` to `to`, valued `f(ms)`.
    fn scraped(from: i64, to: i64, f: impl Fn(i64) -> f64) -> Raw {
        let first = from.div_euclid(15_000) * 15_000 + 7_000;
        (0..)
            .map(|k| first + k * 15_000)
            .skip_while(|&t| t < from)
            .take_while(|&t| t <= to)
            .map(|t| (t, f(t)))
            .collect()
    }

    /// 2026-02-10, UTC. Session A from 10:07, +100 tokens a minute, its counter reset at
    /// 10:42 (a collector that forgot it), gone after 11:05; session B (a new series) from
    /// 12:31 with 5000 tokens at once, gone after 13:00; nothing for five hours; session C
    /// from 18:10 with 700 and +10 a minute.
    fn day() -> (Vec<Raw>, Vec<Raw>) {
        let t = |h: i64, m: i64| DAY0 + h * HOUR + m * MIN;
        let a = scraped(t(10, 7), t(11, 5), |ms| {
            if ms < t(10, 42) {
                1000.0 + 100.0 * ((ms - t(10, 7)) / MIN) as f64
            } else {
                50.0 + 100.0 * ((ms.min(t(11, 0)) - t(10, 42)) / MIN) as f64
            }
        });
        let b = scraped(t(12, 31), t(13, 0), |_| 5000.0);
        let c = scraped(t(18, 10), t(20, 0), |ms| {
            700.0 + 10.0 * ((ms - t(18, 10)) / MIN) as f64
        });
        // Dollars: A's session only, $1 a minute from 10:07 to 10:30.
        let dollars = scraped(t(10, 7), t(11, 5), |ms| {
            ((ms.min(t(10, 30)) - t(10, 7)) / MIN) as f64
        });
        (vec![a, b, c], vec![dollars])
    }

    /// The reading at `now` from the settled history up to `settle_limit` plus the rest,
    /// as `read` puts them together.
    fn read_at(tokens: &[Raw], cost: &[Raw], now: i64, settle_limit: i64) -> PromReading {
        let mut h = History::new();
        let now_step = floor_step(now);
        let start = floor_step(now - HISTORY_MS);
        let mut tail = Vec::new();
        let steps = steps_of(tokens, cost, start, now_step);
        h.advance(
            &steps,
            start,
            now_step,
            settle_limit.min(now_step),
            &mut tail,
        );
        h.forget_before(now);
        let rest = now - now_step;
        let at_now = |all: &[Raw], w: i64| {
            if w > 0 {
                prom_increase(all, now, w)
            } else {
                0.0
            }
        };
        let values = NowValues {
            rest_tokens: at_now(tokens, rest),
            rest_cost: at_now(cost, rest),
            tach: at_now(tokens, 60_000),
            models: vec![("m".into(), at_now(tokens, MODEL_WINDOW_MS))],
            newest_ms: None,
            day_cost: None,
        };
        reading(&h, &tail, &values, now, DAY0, 60_000)
    }

    #[test]
    fn blocks_from_scraped_counters_with_a_reset_and_a_new_series() {
        let (tokens, cost) = day();
        let t = |h: i64, m: i64| DAY0 + h * HOUR + m * MIN;
        // At 12:45, one block since 10:00. A: 1000 at its first sample, +100 a minute to
        // 4400 at 10:41:52; the reset at 10:42 leaves its step (10:40, 10:45] with only the
        // 250 since the reset (the 200 before it within the step are lost: the price of
        // per-series last-minus-offset); then +100 a minute to 1850 at 11:00. B: all 5000
        // at once. Summed over one window since 10:00 instead of by steps, A would count
        // 1850 alone.
        let r = read_at(&tokens, &cost, t(12, 45), t(12, 35));
        let b = r.block.clone().expect("a block is open");
        assert_eq!((b.start_ms, b.end_ms), (t(10, 0), t(15, 0)));
        assert_eq!(b.tokens, 1000 + 3400 + 50 + 1800 + 5000 - 200);
        assert_eq!(b.cost_usd, 23.0);
        assert_eq!(r.cost_today_usd, 23.0);
        assert_eq!(r.budget_max, None, "no block has completed");
        assert_eq!(r.tokens_per_min, 0.0);
        assert_eq!(r.newest_sample_ms, Some(t(12, 44) + 52_000));

        // 15:30: past the block's end, nothing since 12:31: no open block, and the one
        // that ended is the budget.
        let r = read_at(&tokens, &cost, t(15, 30), t(15, 20));
        assert_eq!(r.block, None);
        assert_eq!(r.budget_max, Some(11_050));
        assert_eq!(r.cost_today_usd, 23.0);

        // 18:20: C is a new series after a gap of more than 5 h: a new block at 18:00.
        // 700 at its first sample, +10 a minute from 18:10 to 18:19.
        let r = read_at(&tokens, &cost, t(18, 20) + 30_000, t(18, 10));
        let b = r.block.clone().unwrap();
        assert_eq!(
            (b.start_ms, b.tokens, b.cost_usd),
            (t(18, 0), 700 + 100, 0.0)
        );
        assert_eq!(r.budget_max, Some(11_050));
        // The tach over the last minute: +10 (18:19:22 -> 18:20:22 samples).
        assert_eq!(r.tokens_per_min, 10.0);
        assert_eq!(r.model.as_deref(), Some("m"));
    }

    #[test]
    fn settling_does_not_change_the_reading() {
        // Whatever was settled in earlier polls and whatever is still asked for again,
        // the reading is the same.
        let (tokens, cost) = day();
        let now = DAY0 + 18 * HOUR + 33 * MIN + 11_000;
        let all_tail = read_at(&tokens, &cost, now, DAY0 - 40 * 24 * HOUR);
        for settle in [
            DAY0,
            DAY0 + 10 * HOUR + 35 * MIN,
            DAY0 + 15 * HOUR,
            now - SETTLE_MS,
            now,
        ] {
            assert_eq!(
                read_at(&tokens, &cost, now, settle),
                all_tail,
                "settled to {settle}"
            );
        }
        // Settling in several polls, as `read` does, gives the same walk as one.
        let mut h = History::new();
        let mut tail = Vec::new();
        let start = floor_step(now - HISTORY_MS);
        let now_step = floor_step(now);
        let steps = steps_of(&tokens, &cost, start, now_step);
        let mut from = start;
        while from <= now_step {
            let end = (from + 7 * STEP_MS).min(now_step);
            let chunk: Vec<Step> = steps
                .iter()
                .filter(|s| s.end_ms >= from && s.end_ms <= end)
                .copied()
                .collect();
            h.advance(&chunk, from, end, floor_step(now - SETTLE_MS), &mut tail);
            from = end + STEP_MS;
        }
        assert_eq!(h.settled_to, Some(floor_step(now - SETTLE_MS)));
        assert_eq!(tail.len(), 2, "{tail:?}");
        assert_eq!(h.closed.len(), 1);
        assert_eq!(h.closed[0].start_ms, DAY0 + 10 * HOUR);
    }

    #[test]
    fn step_attribution_keeps_the_hour_and_the_block_edge() {
        // Activity in (10:55, 11:00] belongs to the 10:00 hour; in (15:00, 15:05] it is
        // past a 10:00 block's end; in (14:55, 15:00] it is not.
        let walk_of = |ends: &[i64]| {
            let mut w = BlockWalk::new(BLOCK_MS);
            let mut starts = Vec::new();
            for &e in ends {
                let entry = entry(e - STEP_MS + 1, 10.0, 0.0).unwrap();
                w.push(&entry, |b| starts.push(b.start_ms));
            }
            starts.extend(w.current().map(|b| b.start_ms));
            starts
        };
        let t = |h: i64, m: i64| DAY0 + h * HOUR + m * MIN;
        assert_eq!(walk_of(&[t(11, 0)]), [t(10, 0)]);
        assert_eq!(walk_of(&[t(11, 0), t(15, 0)]), [t(10, 0)]);
        assert_eq!(walk_of(&[t(11, 0), t(15, 5)]), [t(10, 0), t(15, 0)]);
        // Nothing happened: no entry.
        assert!(entry(0, 0.4, 0.0).is_none());
        assert!(entry(0, 0.0, 0.01).is_some());
    }

    #[test]
    fn midnight_in_zones() {
        let at = DAY0 + 20 * HOUR + 7 * MIN; // 2026-02-10T20:07Z
        assert_eq!(local_midnight(at, &TimeZone::UTC), DAY0);
        let kolkata = TimeZone::fixed(jiff::tz::Offset::from_seconds(5 * 3600 + 1800).unwrap());
        // 01:37 on the 11th in +05:30: midnight was 18:30Z, on the step grid.
        let m = local_midnight(at, &kolkata);
        assert_eq!(m, DAY0 + 18 * HOUR + 30 * MIN);
        assert_eq!(m.rem_euclid(STEP_MS), 0);
        let odd = TimeZone::fixed(jiff::tz::Offset::from_seconds(17 * 60 + 30).unwrap());
        assert_ne!(local_midnight(at, &odd).rem_euclid(STEP_MS), 0);
    }

    #[test]
    fn cost_today_counts_from_midnight() {
        let mut h = History::new();
        let steps: Vec<Step> = (0..4)
            .map(|k| Step {
                end_ms: DAY0 - STEP_MS + k * STEP_MS,
                tokens: 1.0,
                cost: 1.0,
                newest_ms: None,
            })
            .collect();
        // Steps ending 23:55 (yesterday), 00:00 (yesterday's last), 00:05, 00:10.
        let mut tail = Vec::new();
        h.advance(
            &steps[..3],
            DAY0 - STEP_MS,
            DAY0 + STEP_MS,
            DAY0 + STEP_MS,
            &mut tail,
        );
        assert!(tail.is_empty());
        let now = DAY0 + 2 * STEP_MS + 1_000;
        let values = NowValues {
            rest_cost: 0.5,
            ..NowValues::default()
        };
        let r = reading(&h, &steps[3..], &values, now, DAY0, 60_000);
        assert_eq!(r.cost_today_usd, 2.5);
        // Asked for directly when midnight is off the grid.
        let values = NowValues {
            day_cost: Some(7.0),
            ..values
        };
        assert_eq!(
            reading(&h, &steps[3..], &values, now, DAY0, 60_000).cost_today_usd,
            7.0
        );
        // Old dollars are forgotten after 26 h, closed blocks after 30 days.
        h.forget_before(DAY0 + 27 * HOUR);
        assert!(h.cost.is_empty());
    }

    /// A fake Prometheus on port 0 answering each request by the first of `routes` whose
    /// path prefix matches; it records the paths asked for.
    fn fake(
        routes: Vec<(&'static str, u16, String)>,
    ) -> (String, std::sync::mpsc::Receiver<String>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for s in l.incoming().take(64) {
                let Ok(mut s) = s else { return };
                let mut req = Vec::new();
                let mut buf = [0u8; 8192];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&req)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                let path = line.split(' ').nth(1).unwrap_or("").to_owned();
                let (status, body) = routes
                    .iter()
                    .find(|(p, _, _)| path.starts_with(p))
                    .map_or((404, "404 page not found".to_owned()), |(_, st, b)| {
                        (*st, b.clone())
                    });
                // Chunked, as Go's net/http sends anything past a few KB.
                let mut answer = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                )
                .into_bytes();
                for piece in body.as_bytes().chunks(7) {
                    answer.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    answer.extend_from_slice(piece);
                    answer.extend_from_slice(b"\r\n");
                }
                answer.extend_from_slice(b"0\r\n\r\n");
                let _ = s.write_all(&answer);
                let _ = tx.send(path);
            }
        });
        (url, rx)
    }

    #[test]
    fn read_through_a_fake_prometheus() {
        let names = json!({"status":"success","data":["up","claude_code_token_usage_total"]});
        let t = |s: i64| (DAY0 + s * 1000) as f64 / 1000.0;
        let range = json!({"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"q":"tokens"},"values":[[t(10 * 3600 + 300), "500"]]}
        ]}});
        let now = json!({"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"q":"tach"},"value":[t(0), "30"]},
            {"metric":{"q":"model","model":"claude-sonnet-4-6"},"value":[t(0), "9"]},
            {"metric":{"q":"newest"},"value":[t(0), format!("{}", t(10 * 3600 + 290))]}
        ]}});
        let (url, asked) = fake(vec![
            ("/prom/api/v1/label/__name__/values", 200, names.to_string()),
            ("/prom/api/v1/query_range?", 200, range.to_string()),
            ("/prom/api/v1/query?", 200, now.to_string()),
        ]);
        let mut p = PromSource::new(&format!("{url}/prom/")).unwrap();
        let at = DAY0 + 10 * HOUR + 6 * MIN;
        let r = p.read(at, &TimeZone::UTC, 30).unwrap();
        assert_eq!(
            r,
            PromReading {
                tokens_per_min: 60.0,
                block: Some(PromBlock {
                    start_ms: DAY0 + 10 * HOUR,
                    end_ms: DAY0 + 15 * HOUR,
                    tokens: 500,
                    cost_usd: 0.0
                }),
                budget_max: None,
                cost_today_usd: 0.0,
                model: Some("claude-sonnet-4-6".into()),
                newest_sample_ms: Some(DAY0 + 10 * HOUR + 290_000),
            }
        );
        let paths: Vec<String> = asked.try_iter().collect();
        assert_eq!(paths[0], "/prom/api/v1/label/__name__/values");
        // 30 days in one-day queries, then the instant one.
        assert_eq!(paths.len(), 1 + 31 + 1, "{paths:#?}");
        let last_range = &paths[paths.len() - 2];
        assert!(
            last_range.contains("&end=1770717900.000&step=300.000"),
            "{last_range}"
        );
        assert!(paths[1].starts_with(&format!(
            "/prom/api/v1/query_range?query={}&start=",
            encode(&steps_query(&super::Names {
                tokens: "claude_code_token_usage_total".into(),
                cost: None
            }))
        )));
        assert_eq!(
            paths.last().unwrap(),
            &format!(
                "/prom/api/v1/query?query={}&time={}",
                encode(&now_query(
                    &super::Names {
                        tokens: "claude_code_token_usage_total".into(),
                        cost: None
                    },
                    MIN,
                    30_000,
                    None
                )),
                secs(at)
            )
        );
        // The next poll asks only for the unsettled steps, and the names are kept.
        p.read(at + 5_000, &TimeZone::UTC, 30).unwrap();
        let paths: Vec<String> = asked.try_iter().collect();
        assert_eq!(paths.len(), 2, "{paths:#?}");
        assert!(paths[0].contains(&format!("&start={}&", secs(DAY0 + 10 * HOUR))));
    }

    #[test]
    fn read_errors_are_one_line() {
        let (url, _) = fake(vec![(
            "/api/v1/label/__name__/values",
            200,
            json!({"status":"success","data":["up","claude_code_cost_usage_USD_total"]})
                .to_string(),
        )]);
        let e = PromSource::new(&url)
            .unwrap()
            .read(DAY0, &TimeZone::UTC, 60)
            .unwrap_err();
        assert!(
            e.contains("no claude_code token metric among its 2 metric names"),
            "{e}"
        );

        let (url, _) = fake(vec![
            (
                "/api/v1/label/__name__/values",
                200,
                json!({"status":"success","data":["claude_code_token_usage_tokens_total"]}).to_string(),
            ),
            (
                "/api/v1/query_range",
                422,
                json!({"status":"error","errorType":"execution","error":"query timed out\nin query execution"}).to_string(),
            ),
        ]);
        let e = PromSource::new(&url)
            .unwrap()
            .read(DAY0, &TimeZone::UTC, 60)
            .unwrap_err();
        assert_eq!(
            e,
            format!(
                "prometheus at {}/api/v1/query_range: HTTP 422: execution: query timed out in \
                 query execution",
                url.trim_start_matches("http://")
            )
        );

        let (url, _) = fake(vec![]);
        let e = PromSource::new(&format!("{url}/x"))
            .unwrap()
            .read(DAY0, &TimeZone::UTC, 60)
            .unwrap_err();
        assert!(
            e.ends_with("/x/api/v1/label/__name__/values: HTTP 404: 404 page not found"),
            "{e}"
        );

        // Nothing listening.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = PromSource::new(&format!("http://127.0.0.1:{port}"))
            .unwrap()
            .read(DAY0, &TimeZone::UTC, 60)
            .unwrap_err();
        assert!(
            e.starts_with(&format!("prometheus at 127.0.0.1:{port} unreachable: ")),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }
}
