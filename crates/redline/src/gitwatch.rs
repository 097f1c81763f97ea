//! The daemon's git counters: `redline_git_commits_total{project}`, the commits
//! attributed to sessions (as `redline stats git` attributes them) and authored since the
//! daemon started, and beside it what Claude Code's OpenTelemetry said of its commits
//! and lines (`claude_code.commit.count`, `claude_code.lines_of_code.count`).
//!
//! A thread of its own asks the hub, every [`EVERY`] (a minute), for the sessions with a
//! response in the last slack plus two intervals; with none, that is all it does, so an
//! idle daemon runs no git. Otherwise it reads those sessions' new transcript lines for
//! their directories, lists their repositories' commits (see [`crate::git`]) and counts
//! each newly attributed commit once, by hash. Like every counter of `/metrics` it starts
//! at zero with the daemon: the history is `redline stats git`'s.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use redline_engine::cwds::Places;
use redline_engine::git::{Options, Session, attribute};
use redline_engine::otlp::{CodeKind, CodePoint, Temporality};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::hub::{Input, now_ms};

/// How often the repositories of active sessions are read, unless `REDLINE_GIT_EVERY`
/// (seconds) says otherwise (the tests read them each second).
pub const EVERY: Duration = Duration::from_secs(60);
/// How far back a session's responses are asked for: its span is taken from them.
const LOOKBACK_MS: i64 = 2 * 24 * 3600 * 1000;

/// What the hub asks of the live state for the counter: the sessions with a response
/// after the second time, with their responses after the first.
pub type SessionsReply = oneshot::Sender<Vec<(Session, Vec<PathBuf>)>>;

/// The counters, shared by the hub (OpenTelemetry), the git thread and `/metrics`.
#[derive(Debug)]
pub struct Counters {
    /// When the daemon started, in milliseconds: commits authored before are not counted.
    pub started_ms: i64,
    commits: Mutex<BTreeMap<String, u64>>,
    otel: Mutex<OtelCode>,
}

/// What Claude Code's OpenTelemetry reported of commits and lines since the daemon started.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OtelTotals {
    /// `claude_code.commit.count`.
    pub commits: f64,
    /// `claude_code.lines_of_code.count{type="added"}`.
    pub lines_added: f64,
    /// `claude_code.lines_of_code.count{type="removed"}`.
    pub lines_removed: f64,
    /// Whether any such point arrived.
    pub seen: bool,
}

#[derive(Debug, Default)]
struct OtelCode {
    totals: OtelTotals,
    /// Cumulative series: start, time and value of the last point.
    series: HashMap<u64, (u64, u64, f64)>,
}

impl Counters {
    /// Counters starting now (`started_ms`).
    pub fn new(started_ms: i64) -> Arc<Counters> {
        Arc::new(Counters {
            started_ms,
            commits: Mutex::default(),
            otel: Mutex::default(),
        })
    }

    /// Commits counted, by project.
    pub fn commits(&self) -> BTreeMap<String, u64> {
        self.commits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// What OpenTelemetry senders reported.
    pub fn otel(&self) -> OtelTotals {
        self.otel.lock().unwrap_or_else(|p| p.into_inner()).totals
    }

    /// `otel` of `/api/git`: the OpenTelemetry counts since the daemon started.
    pub fn otel_json(&self) -> Value {
        let t = self.otel();
        json!({
            "commits": t.commits.round() as u64,
            "lines_added": t.lines_added.round() as u64,
            "lines_removed": t.lines_removed.round() as u64,
            "since": redline_engine::timestamp::format_ms(self.started_ms),
        })
    }

    /// Adds an export's commit and line points. Deltas add up; a cumulative series adds
    /// what it grew by, counts whole after a restart of its sender (a new start time, or
    /// a value below the last), adds nothing for a point no newer than the last, and
    /// counts a series first seen whole only when it started after the daemon (else its
    /// first point is where it stood when the daemon started).
    pub fn take_otel(&self, points: &[CodePoint]) {
        if points.is_empty() {
            return;
        }
        let started_ns = u64::try_from(self.started_ms).unwrap_or(0) * 1_000_000;
        let mut o = self.otel.lock().unwrap_or_else(|p| p.into_inner());
        for p in points {
            let add = match p.temporality {
                Temporality::Delta => p.value,
                Temporality::Cumulative => {
                    let add = match o.series.get(&p.series) {
                        Some(&(start, time, _)) if start == p.start_ns && p.time_ns <= time => {
                            continue;
                        }
                        Some(&(start, _, v)) if start == p.start_ns && p.value >= v => p.value - v,
                        Some(_) => p.value,
                        None if p.start_ns >= started_ns => p.value,
                        None => 0.0,
                    };
                    o.series.insert(p.series, (p.start_ns, p.time_ns, p.value));
                    add
                }
            };
            let t = &mut o.totals;
            t.seen = true;
            match p.kind {
                CodeKind::Commits => t.commits += add,
                CodeKind::LinesAdded => t.lines_added += add,
                CodeKind::LinesRemoved => t.lines_removed += add,
            }
        }
    }

    fn count(&self, project: &str) {
        *self
            .commits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(project.to_owned())
            .or_default() += 1;
    }
}

/// `REDLINE_GIT_EVERY` seconds when set to a positive number, else [`EVERY`].
fn every() -> Duration {
    std::env::var("REDLINE_GIT_EVERY")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map_or(EVERY, Duration::from_secs)
}

/// Starts the git thread; it ends when the hub is gone.
pub fn start(
    hub: mpsc::Sender<Input>,
    counters: Arc<Counters>,
    slack_minutes: u32,
) -> std::io::Result<()> {
    let mut w = Watch {
        hub,
        counters,
        slack_ms: i64::from(slack_minutes) * 60_000,
        every: every(),
        places: HashMap::new(),
        counted: HashSet::new(),
        said: BTreeSet::new(),
    };
    std::thread::Builder::new()
        .name("redline-git".into())
        .spawn(move || {
            loop {
                std::thread::sleep(w.every);
                if w.check().is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}

struct Watch {
    hub: mpsc::Sender<Input>,
    counters: Arc<Counters>,
    slack_ms: i64,
    every: Duration,
    /// The active sessions' files, read up to where they were last time.
    places: HashMap<PathBuf, Places>,
    /// Commits counted, by hash.
    counted: HashSet<String>,
    /// Notes logged, each once.
    said: BTreeSet<String>,
}

/// The hub is gone.
struct Gone;

impl Watch {
    fn check(&mut self) -> Result<(), Gone> {
        let now = now_ms();
        let every_ms = i64::try_from(self.every.as_millis()).unwrap_or(i64::MAX);
        let active_since = now - self.slack_ms - 2 * every_ms;
        let (tx, rx) = oneshot::channel();
        self.hub
            .send(Input::GitSessions(now - LOOKBACK_MS, active_since, tx))
            .map_err(|_| Gone)?;
        let found = rx.blocking_recv().map_err(|_| Gone)?;
        if found.is_empty() {
            self.places.clear();
            return Ok(());
        }
        let mut sessions = Vec::with_capacity(found.len());
        let mut places = Vec::with_capacity(found.len());
        let mut kept = HashMap::new();
        for (s, files) in found {
            let mut list = Vec::new();
            for f in files {
                let mut p = self.places.remove(&f).unwrap_or_default();
                // A file that cannot be read now is read from where it stood next time.
                let _ = p.read(&f);
                list.push(p.clone());
                kept.insert(f, p);
            }
            sessions.push(s);
            places.push(list);
        }
        self.places = kept;
        let repos = crate::git::read(&mut sessions, &places, self.slack_ms);
        for s in &repos.skipped {
            // Once per place and reason, whatever the count of sessions.
            if self.said.insert(format!("{:?} {}", s.cwd, s.reason)) {
                let note = s.to_string();
                eprintln!("redline: git: skipped {}", crate::config::printable(&note));
            }
        }
        let found = attribute(
            &sessions,
            &repos.commits,
            &Options {
                slack_ms: self.slack_ms,
                since_ms: self.counters.started_ms,
                tz: jiff::tz::TimeZone::UTC,
            },
        );
        for a in &found.commits {
            if self.counted.insert(a.commit.hash.clone()) {
                self.counters.count(&a.project);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(kind: CodeKind, t: Temporality, start: u64, time: u64, v: f64) -> CodePoint {
        CodePoint {
            kind,
            temporality: t,
            series: 7,
            start_ns: start,
            time_ns: time,
            value: v,
        }
    }

    #[test]
    fn otel_counts_add_deltas_and_what_cumulative_series_grew_by() {
        let c = Counters::new(1000);
        let ns = 1_000_000u64;
        let (d, cu) = (Temporality::Delta, Temporality::Cumulative);
        c.take_otel(&[point(CodeKind::Commits, d, 0, 2000 * ns, 2.0)]);
        // A series that began before the daemon: its first point is the baseline.
        c.take_otel(&[point(CodeKind::LinesAdded, cu, 500 * ns, 2000 * ns, 40.0)]);
        c.take_otel(&[point(CodeKind::LinesAdded, cu, 500 * ns, 3000 * ns, 55.0)]);
        // A retry adds nothing; a restart of the sender counts whole.
        c.take_otel(&[point(CodeKind::LinesAdded, cu, 500 * ns, 3000 * ns, 55.0)]);
        c.take_otel(&[point(CodeKind::LinesAdded, cu, 4000 * ns, 5000 * ns, 5.0)]);
        let t = c.otel();
        assert_eq!(
            (t.commits, t.lines_added, t.lines_removed, t.seen),
            (2.0, 20.0, 0.0, true)
        );
    }
}
