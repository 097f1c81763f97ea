//! Another system's events laid beside Claude cost and tokens: a budget app's
//! transactions, deploys, hours worked. [`rows`] reads a source's text into events,
//! [`series`] puts them into local days and hours, [`usage`] does the same for the
//! priced responses, and [`measure`] says how the two move together (Pearson's r and
//! Spearman's ρ over the days, with a sentence). Pure: the text, the zone and the days
//! are given; nothing here reads a file, the network or the clock.
//!
//! Which days count: a day of the window with no event is 0 for `sum` and `count` when it
//! lies within the days the source covers (its first event's day to its last's), since a
//! day without a transaction is a day with nothing spent; with `missing = "skip"` (the
//! default for `mean`, which has nothing to average) such a day has no figure and is left
//! out. Days outside the source's span have no figure either: a CSV exported last week
//! says nothing about this week. Claude's side has a figure every day (0 for none). The
//! correlation is over the days where the source has a figure.

pub mod measure;
pub mod rows;

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;

pub use measure::{Against, Correlation, MIN_DAYS, correlate, pearson, spearman};
pub use rows::{BadRow, Event, Fields, Format, Rows, TimeFormat, When, parse};

use crate::report::{self, Dataset, Report, ReportOptions};
use crate::timestamp::instant;

/// How a day's (or an hour's) events become one figure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Aggregate {
    /// The values added (the default): dollars spent, hours worked.
    #[default]
    Sum,
    /// How many events, whatever their values: deploys, commits.
    Count,
    /// The values' average: a daily mood score, a temperature.
    Mean,
}

impl Aggregate {
    /// `sum`, `count` or `mean`.
    pub fn from_name(name: &str) -> Option<Aggregate> {
        match name.trim().to_ascii_lowercase().as_str() {
            "sum" => Some(Aggregate::Sum),
            "count" => Some(Aggregate::Count),
            "mean" | "average" => Some(Aggregate::Mean),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Sum => "sum",
            Aggregate::Count => "count",
            Aggregate::Mean => "mean",
        }
    }

    /// What a day without events is, unless said otherwise.
    pub fn default_missing(self) -> Missing {
        match self {
            Aggregate::Mean => Missing::Skip,
            _ => Missing::Zero,
        }
    }
}

/// What a day without events counts as, within the days the source covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// 0: nothing happened that day.
    Zero,
    /// No figure: the day is left out of the correlation.
    Skip,
}

impl Missing {
    /// `zero` or `skip`.
    pub fn from_name(name: &str) -> Option<Missing> {
        match name.trim().to_ascii_lowercase().as_str() {
            "zero" => Some(Missing::Zero),
            "skip" => Some(Missing::Skip),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Missing::Zero => "zero",
            Missing::Skip => "skip",
        }
    }
}

/// Every local date from `since` to `until`, both included.
pub fn dates(since: Date, until: Date) -> Vec<Date> {
    let mut out = Vec::new();
    let mut d = since;
    while d <= until {
        out.push(d);
        match d.tomorrow() {
            Ok(next) => d = next,
            Err(_) => break,
        }
    }
    out
}

/// One day of Claude usage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UsageDay {
    /// The local date.
    pub date: Date,
    /// Dollars, as `redline report daily` has them.
    pub cost: f64,
    /// Tokens of all four kinds.
    pub tokens: u64,
}

/// Claude usage over a window, by day and by hour of day.
#[derive(Clone, Debug, PartialEq)]
pub struct Usage {
    /// The window's first day.
    pub since: Date,
    /// Its last day (today).
    pub until: Date,
    /// Every day of the window, 0 where there was no response.
    pub days: Vec<UsageDay>,
    /// Dollars in each local hour of day (0 to 23), over the window.
    pub hour_cost: [f64; 24],
    /// Tokens in each local hour of day.
    pub hour_tokens: [u64; 24],
    /// The daily report of the window (per model), which `days` sums.
    pub report: Report,
}

impl Usage {
    /// The day's figure against which a source is laid.
    pub fn figure(&self, i: usize, against: Against) -> f64 {
        let d = &self.days[i];
        match against {
            Against::Cost => d.cost,
            Against::Tokens => d.tokens as f64,
        }
    }
}

/// The usage of `data` (prepared with `opts`) from `since` to `until`: the daily report
/// restricted to those days, and the hours of day.
pub fn usage(data: &Dataset<'_>, opts: &ReportOptions, since: Date, until: Date) -> Usage {
    let opts = ReportOptions {
        since: Some(since),
        until: Some(until),
        order: report::Order::Asc,
        ..opts.clone()
    };
    let report = report::daily(data, &opts);
    let by_date: BTreeMap<&str, (f64, u64)> = report
        .rows
        .iter()
        .map(|r| (r.key.as_str(), (r.cost, r.tokens.total())))
        .collect();
    let days = dates(since, until)
        .into_iter()
        .map(|date| {
            let key = date.to_string();
            let (cost, tokens) = by_date.get(key.as_str()).copied().unwrap_or((0.0, 0));
            UsageDay { date, cost, tokens }
        })
        .collect();
    let mut hour_cost = [0.0; 24];
    let mut hour_tokens = [0u64; 24];
    for it in &data.items {
        if it.date < since || it.date > until {
            continue;
        }
        let h = opts.tz.to_datetime(instant(it.entry.ts_ms)).hour() as usize;
        hour_cost[h] += it.cost;
        hour_tokens[h] += it.entry.tokens().total();
    }
    Usage {
        since,
        until,
        days,
        hour_cost,
        hour_tokens,
        report,
    }
}

/// A source's events by local day and hour over a window.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Each day of the window and its figure, `None` where there is none (see the module
    /// notes: outside the source's span, or a day without events under `skip`).
    pub days: Vec<(Date, Option<f64>)>,
    /// Each local hour of day (0 to 23) over the window's events that have a time.
    pub hours: [Option<f64>; 24],
    /// The first and last day with an event, over all the source's events.
    pub covered: Option<(Date, Date)>,
    /// Events within the window.
    pub events: u64,
    /// Of those, events with a date but no time (not in `hours`).
    pub without_hour: u64,
}

/// Adds up values the way `aggregate` says.
#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    sum: f64,
    count: u64,
}

impl Acc {
    fn add(&mut self, v: f64) {
        self.sum += v;
        self.count += 1;
    }

    fn value(self, a: Aggregate) -> Option<f64> {
        match a {
            Aggregate::Sum => Some(self.sum),
            Aggregate::Count => Some(self.count as f64),
            Aggregate::Mean => (self.count > 0).then(|| self.sum / self.count as f64),
        }
    }
}

/// `events` in local days and hours of `tz`, from `since` to `until`.
pub fn series(
    events: &[Event],
    tz: &TimeZone,
    aggregate: Aggregate,
    missing: Missing,
    since: Date,
    until: Date,
) -> Series {
    let mut by_day: BTreeMap<Date, Acc> = BTreeMap::new();
    let mut by_hour = [Acc::default(); 24];
    let mut covered: Option<(Date, Date)> = None;
    let (mut in_window, mut without_hour) = (0, 0);
    for e in events {
        let (day, hour) = e.when.local(tz);
        covered = Some(match covered {
            None => (day, day),
            Some((a, b)) => (a.min(day), b.max(day)),
        });
        if day < since || day > until {
            continue;
        }
        in_window += 1;
        by_day.entry(day).or_default().add(e.value);
        match hour {
            Some(h) => by_hour[h as usize].add(e.value),
            None => without_hour += 1,
        }
    }
    let days = dates(since, until)
        .into_iter()
        .map(|d| {
            let within = covered.is_some_and(|(a, b)| a <= d && d <= b);
            let figure = match by_day.get(&d) {
                Some(acc) => acc.value(aggregate),
                None if within && missing == Missing::Zero => Some(0.0),
                None => None,
            };
            (d, figure)
        })
        .collect();
    let any_hours = in_window > without_hour;
    // A mean of no events is none (`Acc::value`); a source whose events have no time at
    // all has no hours.
    let hours = by_hour.map(|acc| acc.value(aggregate).filter(|_| any_hours));
    Series {
        days,
        hours,
        covered,
        events: in_window,
        without_hour,
    }
}

/// The correlation of a source's series (named `name` in the readings) with each usage
/// side of `against`, over the days where the source has a figure.
pub fn correlations(
    name: &str,
    series: &Series,
    usage: &Usage,
    against: &[Against],
) -> Vec<Correlation> {
    against
        .iter()
        .map(|&a| {
            let (mut u, mut s) = (Vec::new(), Vec::new());
            for (i, (_, figure)) in series.days.iter().enumerate() {
                if let (Some(v), true) = (figure, i < usage.days.len()) {
                    u.push(usage.figure(i, a));
                    s.push(*v);
                }
            }
            correlate(name, a, &u, &s)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn ev(when: &str, value: f64) -> Event {
        let when = match when.len() {
            10 => When::Day(date(when)),
            _ => When::Instant(when.parse().unwrap()),
        };
        Event { when, value }
    }

    #[test]
    fn days_within_the_span_without_events_are_zero_and_outside_none() {
        let events = [
            ev("2026-03-02T09:00:00Z", 2.0),
            ev("2026-03-02T17:30:00Z", 3.0),
            ev("2026-03-04", 10.0),
        ];
        let tz = TimeZone::UTC;
        let s = series(
            &events,
            &tz,
            Aggregate::Sum,
            Missing::Zero,
            date("2026-03-01"),
            date("2026-03-05"),
        );
        let figures: Vec<Option<f64>> = s.days.iter().map(|(_, f)| *f).collect();
        assert_eq!(figures, [None, Some(5.0), Some(0.0), Some(10.0), None]);
        assert_eq!(s.covered, Some((date("2026-03-02"), date("2026-03-04"))));
        assert_eq!((s.events, s.without_hour), (3, 1));
        assert_eq!(
            (s.hours[9], s.hours[17], s.hours[0]),
            (Some(2.0), Some(3.0), Some(0.0))
        );
        let s = series(
            &events,
            &tz,
            Aggregate::Mean,
            Aggregate::Mean.default_missing(),
            date("2026-03-01"),
            date("2026-03-05"),
        );
        let figures: Vec<Option<f64>> = s.days.iter().map(|(_, f)| *f).collect();
        assert_eq!(figures, [None, Some(2.5), None, Some(10.0), None]);
        assert_eq!(s.hours[0], None, "no mean of nothing");
        let s = series(
            &events,
            &tz,
            Aggregate::Count,
            Missing::Zero,
            date("2026-03-02"),
            date("2026-03-02"),
        );
        assert_eq!(s.days, [(date("2026-03-02"), Some(2.0))]);
    }

    #[test]
    fn local_days_follow_the_zone() {
        let tz = TimeZone::get("America/New_York").unwrap();
        // 02:00Z on the 3rd is 21:00 on the 2nd in New York (EST, -5).
        let s = series(
            &[ev("2026-03-03T02:00:00Z", 1.0)],
            &tz,
            Aggregate::Sum,
            Missing::Zero,
            date("2026-03-02"),
            date("2026-03-03"),
        );
        assert_eq!(s.days[0], (date("2026-03-02"), Some(1.0)));
        assert_eq!(s.hours[21], Some(1.0));
    }

    #[test]
    fn correlations_pair_only_days_with_a_figure() {
        let days = dates(date("2026-03-01"), date("2026-03-07"));
        let usage = Usage {
            since: days[0],
            until: days[6],
            days: days
                .iter()
                .enumerate()
                .map(|(i, &date)| UsageDay {
                    date,
                    cost: i as f64,
                    tokens: 100 * (i as u64 % 3),
                })
                .collect(),
            hour_cost: [0.0; 24],
            hour_tokens: [0; 24],
            report: Report::default(),
        };
        let mut s = Series {
            days: days.iter().map(|&d| (d, Some(0.0))).collect(),
            hours: [None; 24],
            covered: None,
            events: 0,
            without_hour: 0,
        };
        // Figures on days 1..=5 only: 2, 4, 5, 4, 5 against costs 1..=5.
        for (i, v) in [(1, 2.0), (2, 4.0), (3, 5.0), (4, 4.0), (5, 5.0)] {
            s.days[i].1 = Some(v);
        }
        s.days[0].1 = None;
        s.days[6].1 = None;
        let c = correlations("x", &s, &usage, &Against::ALL);
        assert_eq!(c[0].n, 5);
        assert!((c[0].pearson.unwrap() - 6.0 / 60f64.sqrt()).abs() < 1e-12);
        assert_eq!(c[1].against, Against::Tokens);
    }
}
