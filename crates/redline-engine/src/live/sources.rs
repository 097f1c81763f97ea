//! Which source each value is read from (`[sources]`): the matrix of sources that can
//! know each value, and the rule that picks one per value from the candidates' state.
//! Pure: the candidates (configured, failing, newest reading, their number) and `now`
//! are arguments.
//!
//! `auto` walks the value's groups in order (fuel: statusLine `rate_limits`, then
//! Prometheus, then the daemon's own ledger; the tach: the ledger while this machine's
//! telemetry is fresh, then Prometheus) and takes the first group with a usable
//! candidate: configured, not failing, holding a reading (and, for the tach's ledger,
//! fresher than the stale limit). Within a group the freshest wins. A candidate passed
//! over because it fails makes the choice a fallback. When none is usable the last
//! ledger's freshest configured candidate stands (the transcript estimate). A value
//! pinned to one source keeps it, failing or not (the last reading is held and the
//! failure lamp lights).
//!
//! `jsonl` and `otlp` both name the daemon's own ledger, which merges transcripts and
//! OpenTelemetry received (one source of record per session): pinning either keeps a
//! value off Prometheus and the statusLine, and `source` names the one of the two that
//! fed the ledger last.

use serde::Serialize;

/// A source a value can be read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceName {
    /// Claude Code's transcripts.
    Jsonl,
    /// OpenTelemetry received.
    Otlp,
    /// An existing Prometheus (`--source prometheus=URL`).
    Prometheus,
    /// Claude Code's statusLine (`rate_limits`).
    Statusline,
}

impl SourceName {
    /// All, in the order `[sources]` documents them.
    pub const ALL: [SourceName; 4] = [
        SourceName::Jsonl,
        SourceName::Otlp,
        SourceName::Prometheus,
        SourceName::Statusline,
    ];

    /// Its name in the config and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceName::Jsonl => "jsonl",
            SourceName::Otlp => "otlp",
            SourceName::Prometheus => "prometheus",
            SourceName::Statusline => "statusline",
        }
    }

    /// Whether it is the daemon's own ledger (transcripts and OpenTelemetry received).
    pub fn is_ledger(self) -> bool {
        matches!(self, SourceName::Jsonl | SourceName::Otlp)
    }
}

/// What a value is set to read: `auto` or one source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pick {
    /// The rule picks (see the module).
    #[default]
    Auto,
    /// This source only.
    Only(SourceName),
}

impl Pick {
    /// `auto` or the source's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Pick::Auto => "auto",
            Pick::Only(s) => s.as_str(),
        }
    }
}

/// A value that names its source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueName {
    /// The 5-hour window.
    Fuel,
    /// Tokens per minute.
    Tach,
    /// Dollars today.
    Cost,
    /// The thinking ratio.
    Thinking,
    /// The cache hit rate.
    Cache,
    /// The context window.
    Context,
    /// The newest model.
    Model,
}

use SourceName::{Jsonl, Otlp, Prometheus, Statusline};

impl ValueName {
    /// All, in `[sources]` order.
    pub const ALL: [ValueName; 7] = [
        ValueName::Fuel,
        ValueName::Tach,
        ValueName::Cost,
        ValueName::Thinking,
        ValueName::Cache,
        ValueName::Context,
        ValueName::Model,
    ];

    /// Its `[sources]` key.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueName::Fuel => "fuel",
            ValueName::Tach => "tach",
            ValueName::Cost => "cost",
            ValueName::Thinking => "thinking",
            ValueName::Cache => "cache",
            ValueName::Context => "context",
            ValueName::Model => "model",
        }
    }

    /// The sources that can know it, in `auto`'s order, grouped (within a group the
    /// freshest wins).
    pub fn groups(self) -> &'static [&'static [SourceName]] {
        match self {
            ValueName::Fuel => &[&[Statusline], &[Prometheus], &[Jsonl, Otlp]],
            ValueName::Tach => &[&[Jsonl, Otlp], &[Prometheus]],
            ValueName::Cost | ValueName::Model => &[&[Prometheus], &[Jsonl, Otlp]],
            ValueName::Cache => &[&[Jsonl, Otlp]],
            // OpenTelemetry has no thinking type and no per-request prompt of a session.
            ValueName::Thinking | ValueName::Context => &[&[Jsonl]],
        }
    }

    /// Whether `source` can know it.
    pub fn allows(self, source: SourceName) -> bool {
        self.groups().iter().any(|g| g.contains(&source))
    }

    /// Reads `text` (`auto` or a source name) as this value's pick, or says which sources
    /// can know it.
    pub fn parse_pick(self, text: &str) -> Result<Pick, String> {
        let t = text.trim().to_ascii_lowercase();
        if t == "auto" {
            return Ok(Pick::Auto);
        }
        let allowed: Vec<&str> = self
            .groups()
            .iter()
            .flat_map(|g| g.iter().map(|s| s.as_str()))
            .collect();
        let why = match SourceName::ALL.into_iter().find(|s| s.as_str() == t) {
            Some(s) if self.allows(s) => return Ok(Pick::Only(s)),
            Some(s) => format!("{} cannot know {}", s.as_str(), self.as_str()),
            None => format!("{text:?} is not a source"),
        };
        Err(format!(
            "{why}; {} reads auto or {}",
            self.as_str(),
            allowed.join(", ")
        ))
    }
}

/// Each value's pick (`[sources]`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourcePicks(pub [Pick; 7]);

impl SourcePicks {
    /// The pick for `value`.
    pub fn get(&self, value: ValueName) -> Pick {
        self.0[value as usize]
    }

    /// Sets the pick for `value`.
    pub fn set(&mut self, value: ValueName, pick: Pick) {
        self.0[value as usize] = pick;
    }
}

/// One source's state as a candidate for one value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Candidate {
    /// The source.
    pub source: SourceName,
    /// The daemon takes it (for the statusLine: one arrived).
    pub configured: bool,
    /// It is failing now.
    pub failing: bool,
    /// Its newest reading's time.
    #[serde(skip)]
    pub newest_ms: Option<i64>,
    /// Milliseconds since its newest reading.
    pub age_ms: Option<i64>,
    /// It has a reading of this value (the statusLine: a `rate_limits` window still
    /// open).
    pub has_value: bool,
    /// Its figure for the value (share used, tokens per minute, dollars), when it has one.
    pub number: Option<f64>,
}

impl Candidate {
    /// A candidate with its state; `age_ms` is filled in by [`choose`].
    pub fn new(
        source: SourceName,
        configured: bool,
        failing: bool,
        newest_ms: Option<i64>,
    ) -> Self {
        Candidate {
            source,
            configured,
            failing,
            newest_ms,
            age_ms: None,
            has_value: configured,
            number: None,
        }
    }
}

/// The source chosen for one value, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Choice {
    /// The value.
    pub value: ValueName,
    /// `auto` or the source it is pinned to.
    pub pick: &'static str,
    /// The source chosen; `None` when none is configured.
    pub source: Option<SourceName>,
    /// Why.
    pub why: String,
    /// A preferred source is failing and a later one stands in.
    pub fallback: bool,
    /// The largest difference between the candidates' figures (what a switch between
    /// them can move the value by).
    pub disagreement: Option<f64>,
    /// Every candidate that can know the value.
    pub candidates: Vec<Candidate>,
}

/// Picks the source of `value` from `candidates` (one per source that can know it; any
/// other is ignored) at `now_ms`. `fresh_ms`: how recent the ledger's newest telemetry
/// must be for it to drive the tach.
pub fn choose(
    value: ValueName,
    pick: Pick,
    candidates: &[Candidate],
    now_ms: i64,
    fresh_ms: i64,
) -> Choice {
    let cands: Vec<Candidate> = candidates
        .iter()
        .filter(|c| value.allows(c.source))
        .map(|c| Candidate {
            age_ms: c.newest_ms.map(|t| now_ms.saturating_sub(t).max(0)),
            ..*c
        })
        .collect();
    let numbers: Vec<f64> = cands.iter().filter_map(|c| c.number).collect();
    let disagreement = (numbers.len() > 1).then(|| {
        let max = numbers.iter().copied().fold(f64::MIN, f64::max);
        let min = numbers.iter().copied().fold(f64::MAX, f64::min);
        max - min
    });
    let find = |s: SourceName| cands.iter().find(|c| c.source == s);
    let mut choice = Choice {
        value,
        pick: pick.as_str(),
        source: None,
        why: String::new(),
        fallback: false,
        disagreement,
        candidates: cands.clone(),
    };
    if let Pick::Only(s) = pick {
        choice.source = Some(s);
        choice.why = match find(s) {
            Some(c) if c.failing => {
                format!("pinned to {}, failing: its last reading held", s.as_str())
            }
            Some(c) if c.configured => format!("pinned to {}", s.as_str()),
            _ => format!("pinned to {}, which has sent nothing", s.as_str()),
        };
        return choice;
    }
    let usable = |c: &Candidate| {
        c.configured
            && !c.failing
            && c.has_value
            && !(value == ValueName::Tach
                && c.source.is_ledger()
                && c.newest_ms
                    .is_none_or(|t| now_ms.saturating_sub(t) >= fresh_ms))
    };
    let freshest = |group: &[SourceName], ok: &dyn Fn(&Candidate) -> bool| {
        group
            .iter()
            .filter_map(|&s| find(s))
            .filter(|c| ok(c))
            .max_by_key(|c| (c.newest_ms, std::cmp::Reverse(c.source as u8)))
            .map(|c| c.source)
    };
    let mut failed: Vec<&str> = Vec::new();
    let mut passed: Vec<&str> = Vec::new();
    for group in value.groups() {
        if let Some(s) = freshest(group, &usable) {
            choice.source = Some(s);
            choice.fallback = !failed.is_empty();
            choice.why = if failed.is_empty() && passed.is_empty() {
                format!(
                    "{}: the first source in auto's order that has it",
                    s.as_str()
                )
            } else if failed.is_empty() {
                format!(
                    "{}: {} not usable (not configured, no reading, or stale)",
                    s.as_str(),
                    passed.join(", ")
                )
            } else {
                format!("fallback to {}: {} failing", s.as_str(), failed.join(", "))
            };
            return choice;
        }
        for &s in group.iter() {
            match find(s) {
                Some(c) if c.configured && c.failing => failed.push(s.as_str()),
                _ => passed.push(s.as_str()),
            }
        }
    }
    // None usable: the ledger's freshest configured candidate (the estimate), even if it
    // has nothing yet.
    let last = value
        .groups()
        .iter()
        .find(|g| g.contains(&Jsonl))
        .or(value.groups().last())
        .copied()
        .unwrap_or(&[]);
    choice.source = freshest(last, &|c: &Candidate| c.configured);
    choice.fallback = !failed.is_empty();
    choice.why = match choice.source {
        Some(s) if failed.is_empty() => format!("{}: nothing fresher", s.as_str()),
        Some(s) => format!("fallback to {}: {} failing", s.as_str(), failed.join(", ")),
        None => "no configured source knows it".to_owned(),
    };
    choice
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000_000;
    const FRESH: i64 = 3_600_000;

    fn c(source: SourceName, failing: bool, age_s: i64) -> Candidate {
        Candidate::new(source, true, failing, Some(NOW - age_s * 1000))
    }

    #[test]
    fn the_matrix_refuses_what_a_source_cannot_know() {
        assert!(ValueName::Thinking.parse_pick("prometheus").is_err());
        let e = ValueName::Thinking.parse_pick("otlp").unwrap_err();
        assert!(e.contains("otlp cannot know thinking"), "{e}");
        assert!(e.contains("auto or jsonl"), "{e}");
        assert!(ValueName::Context.parse_pick("prometheus").is_err());
        assert!(ValueName::Cost.parse_pick("statusline").is_err());
        assert!(ValueName::Tach.parse_pick("statusline").is_err());
        assert!(ValueName::Cache.parse_pick("prometheus").is_err());
        assert!(
            ValueName::Fuel
                .parse_pick("nfs")
                .unwrap_err()
                .contains("not a source")
        );
        assert_eq!(
            ValueName::Fuel.parse_pick(" Statusline "),
            Ok(Pick::Only(Statusline))
        );
        assert_eq!(ValueName::Tach.parse_pick("otlp"), Ok(Pick::Only(Otlp)));
        assert_eq!(ValueName::Model.parse_pick("auto"), Ok(Pick::Auto));
    }

    #[test]
    fn auto_fuel_prefers_rate_limits_then_prometheus_then_the_estimate() {
        let mut status = c(Statusline, false, 5);
        let prom = c(Prometheus, false, 10);
        let jsonl = c(Jsonl, false, 1);
        let all = [status, prom, jsonl];
        let ch = choose(ValueName::Fuel, Pick::Auto, &all, NOW, FRESH);
        assert_eq!(ch.source, Some(Statusline));
        assert!(!ch.fallback);
        // No open rate_limits window: Prometheus, though the transcripts are fresher.
        status.has_value = false;
        let ch = choose(
            ValueName::Fuel,
            Pick::Auto,
            &[status, prom, jsonl],
            NOW,
            FRESH,
        );
        assert_eq!(ch.source, Some(Prometheus));
        assert!(!ch.fallback);
        // Prometheus not configured: the estimate.
        let off = Candidate::new(Prometheus, false, false, None);
        let ch = choose(
            ValueName::Fuel,
            Pick::Auto,
            &[status, off, jsonl],
            NOW,
            FRESH,
        );
        assert_eq!(ch.source, Some(Jsonl));
        assert!(!ch.fallback);
    }

    #[test]
    fn a_failing_source_falls_back_and_comes_back() {
        let mut prom = c(Prometheus, true, 30);
        prom.number = Some(4.0);
        let mut jsonl = c(Jsonl, false, 2);
        jsonl.number = Some(1.5);
        let ch = choose(ValueName::Cost, Pick::Auto, &[prom, jsonl], NOW, FRESH);
        assert_eq!(ch.source, Some(Jsonl));
        assert!(ch.fallback);
        assert!(ch.why.contains("prometheus failing"), "{}", ch.why);
        assert_eq!(ch.disagreement, Some(2.5));
        assert_eq!(ch.candidates[0].age_ms, Some(30_000));
        prom.failing = false;
        let ch = choose(ValueName::Cost, Pick::Auto, &[prom, jsonl], NOW, FRESH);
        assert_eq!(ch.source, Some(Prometheus));
        assert!(!ch.fallback);
        // Failing with no ledger either: the estimate stands, still a fallback.
        prom.failing = true;
        let quiet = Candidate::new(Jsonl, true, false, None);
        let ch = choose(ValueName::Cost, Pick::Auto, &[prom, quiet], NOW, FRESH);
        assert_eq!(ch.source, Some(Jsonl));
        assert!(ch.fallback);
    }

    #[test]
    fn the_tach_follows_fresh_local_telemetry_else_prometheus() {
        let prom = c(Prometheus, false, 10);
        let fresh = c(Jsonl, false, 20);
        let ch = choose(ValueName::Tach, Pick::Auto, &[fresh, prom], NOW, FRESH);
        assert_eq!(ch.source, Some(Jsonl));
        // Stale transcripts (a server that runs no Claude Code): Prometheus.
        let stale = c(Jsonl, false, 2 * 3600);
        let ch = choose(ValueName::Tach, Pick::Auto, &[stale, prom], NOW, FRESH);
        assert_eq!(ch.source, Some(Prometheus));
        // The fresher of transcripts and OpenTelemetry names the ledger.
        let otlp = c(Otlp, false, 3);
        let ch = choose(
            ValueName::Tach,
            Pick::Auto,
            &[fresh, otlp, prom],
            NOW,
            FRESH,
        );
        assert_eq!(ch.source, Some(Otlp));
        // Stale transcripts and Prometheus failing: the transcripts, as a fallback.
        let down = c(Prometheus, true, 60);
        let ch = choose(ValueName::Tach, Pick::Auto, &[stale, down], NOW, FRESH);
        assert_eq!(ch.source, Some(Jsonl));
        assert!(ch.fallback);
    }

    #[test]
    fn a_pinned_source_is_kept_failing_or_not() {
        let prom = c(Prometheus, true, 60);
        let jsonl = c(Jsonl, false, 1);
        let ch = choose(
            ValueName::Fuel,
            Pick::Only(Prometheus),
            &[prom, jsonl],
            NOW,
            FRESH,
        );
        assert_eq!(ch.source, Some(Prometheus));
        assert!(ch.why.contains("failing"), "{}", ch.why);
        let ch = choose(
            ValueName::Model,
            Pick::Only(Jsonl),
            &[c(Prometheus, false, 1), jsonl],
            NOW,
            FRESH,
        );
        assert_eq!(ch.source, Some(Jsonl));
        assert_eq!(ch.pick, "jsonl");
    }

    #[test]
    fn candidates_that_cannot_know_the_value_are_ignored() {
        let ch = choose(
            ValueName::Thinking,
            Pick::Auto,
            &[
                c(Prometheus, false, 1),
                c(Otlp, false, 1),
                c(Jsonl, false, 100),
            ],
            NOW,
            FRESH,
        );
        assert_eq!(ch.source, Some(Jsonl));
        assert_eq!(ch.candidates.len(), 1);
    }
}
