//! What OpenTelemetry points add up to. Claude Code sends deltas by default, but a
//! collector or a sender configured for cumulative temporality sends running totals; both
//! become [`store::Usage`] deltas here, one per sender, session, model and instant.
//!
//! A cumulative series is known by its [`Point::series`] hash and remembered by its start
//! time and last value ([`store::Series`], kept in the store so a daemon restart goes on
//! where it was). A point of a series never seen counts whole from the series' start; a
//! new start time (the sender restarted) or a value below the last one (a counter reset
//! without a new start) starts again from zero, never a negative delta; a point no newer
//! than the last one (a retry) adds nothing.

use std::collections::{BTreeMap, HashMap};

use crate::otlp::{Measure, Point, Temporality, ns_to_ms};
use crate::store::{self, Record, Series};

/// The cumulative series seen, by id.
#[derive(Clone, Debug, Default)]
pub struct SeriesBook {
    series: HashMap<u64, Series>,
}

impl SeriesBook {
    /// Takes in a series position (from the store, or from [`SeriesBook::records`]).
    pub fn apply(&mut self, s: &Series) {
        let newer = self
            .series
            .get(&s.series)
            .is_none_or(|held| held.start_ns != s.start_ns || held.time_ns <= s.time_ns);
        if newer {
            self.series.insert(s.series, *s);
        }
    }

    /// Every series position, for a compacted store.
    pub fn positions(&self) -> impl Iterator<Item = &Series> {
        self.series.values()
    }

    /// The records a batch of points makes: its usage deltas (merged per host, session,
    /// model and time) and the new positions of its cumulative series. The book itself is
    /// not changed; [`SeriesBook::apply`] the `Series` records once they are stored.
    pub fn records(&self, points: &[Point], received_ms: i64) -> Vec<Record> {
        let mut moved: HashMap<u64, Series> = HashMap::new();
        type Key = (String, Option<String>, Option<String>, i64);
        let mut usage: BTreeMap<Key, ([f64; 4], f64)> = BTreeMap::new();
        for p in points {
            let delta = match p.temporality {
                Temporality::Delta => p.value,
                Temporality::Cumulative => {
                    let held = moved.get(&p.series).or_else(|| self.series.get(&p.series));
                    let delta = match held {
                        Some(h) if h.start_ns == p.start_ns && p.time_ns <= h.time_ns => continue,
                        Some(h) if h.start_ns == p.start_ns && p.value >= h.value => {
                            p.value - h.value
                        }
                        _ => p.value,
                    };
                    moved.insert(
                        p.series,
                        Series {
                            series: p.series,
                            start_ns: p.start_ns,
                            time_ns: p.time_ns,
                            value: p.value,
                        },
                    );
                    delta
                }
            };
            // Bounded, so that no number of deltas adds up to infinity.
            let delta = delta.min(crate::otlp::MAX_VALUE);
            if delta.is_nan() || delta <= 0.0 {
                continue;
            }
            let ts_ms = if p.time_ns == 0 {
                received_ms
            } else {
                ns_to_ms(p.time_ns)
            };
            let key = (
                p.origin.host.clone(),
                p.origin.session.clone(),
                p.model.clone(),
                ts_ms,
            );
            let (tokens, cost) = usage.entry(key).or_default();
            match p.measure {
                Measure::Tokens(kind) => tokens[kind as usize] += delta,
                Measure::Cost => *cost += delta,
            }
        }
        let mut out: Vec<Record> = usage
            .into_iter()
            .map(|((host, session, model, ts_ms), (t, cost_usd))| {
                Record::Usage(store::Usage {
                    host,
                    session,
                    model,
                    ts_ms,
                    received_ms,
                    // Capped as the ledger caps counts: sums of u64::MAX overflow.
                    tokens: t.map(|x| x.round().min(f64::from(u32::MAX)) as u64),
                    cost_usd,
                })
            })
            .collect();
        let mut positions: Vec<Series> = moved.into_values().collect();
        positions.sort_by_key(|s| s.series);
        out.extend(positions.into_iter().map(Record::Series));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::{Origin, TokenKind};

    fn point(kind: Measure, t: Temporality, start: u64, time: u64, value: f64) -> Point {
        Point {
            origin: Origin {
                host: "desk".into(),
                session: Some("s".into()),
            },
            model: Some("claude-sonnet-4-5".into()),
            measure: kind,
            temporality: t,
            series: match kind {
                Measure::Cost => 1,
                Measure::Tokens(k) => 10 + k as u64,
            },
            start_ns: start,
            time_ns: time,
            value,
        }
    }

    fn usage(records: &[Record]) -> Vec<(i64, store::Counts, f64)> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::Usage(u) => Some((u.ts_ms, u.tokens, u.cost_usd)),
                _ => None,
            })
            .collect()
    }

    fn step(book: &mut SeriesBook, points: &[Point]) -> Vec<(i64, store::Counts, f64)> {
        let records = book.records(points, 0);
        for r in &records {
            if let Record::Series(s) = r {
                book.apply(s);
            }
        }
        usage(&records)
    }

    const IN: Measure = Measure::Tokens(TokenKind::Input);
    const OUT: Measure = Measure::Tokens(TokenKind::Output);
    const S: u64 = 1_000_000;

    #[test]
    fn deltas_add_and_merge_per_instant() {
        let mut book = SeriesBook::default();
        let got = step(
            &mut book,
            &[
                point(IN, Temporality::Delta, S, 2 * S, 10.0),
                point(OUT, Temporality::Delta, S, 2 * S, 5.0),
                point(Measure::Cost, Temporality::Delta, S, 2 * S, 0.25),
            ],
        );
        assert_eq!(got, vec![(2, [10, 5, 0, 0], 0.25)]);
        // The same deltas again are new usage: deltas do not repeat.
        assert_eq!(
            step(
                &mut book,
                &[point(IN, Temporality::Delta, 2 * S, 3 * S, 10.0)]
            ),
            vec![(3, [10, 0, 0, 0], 0.0)]
        );
    }

    #[test]
    fn cumulative_counts_differences_and_survives_restarts() {
        let mut book = SeriesBook::default();
        let c = Temporality::Cumulative;
        assert_eq!(
            step(&mut book, &[point(IN, c, S, 2 * S, 100.0)]),
            vec![(2, [100, 0, 0, 0], 0.0)]
        );
        assert_eq!(
            step(&mut book, &[point(IN, c, S, 3 * S, 130.0)]),
            vec![(3, [30, 0, 0, 0], 0.0)]
        );
        // A retry of an old point adds nothing.
        assert_eq!(step(&mut book, &[point(IN, c, S, 3 * S, 130.0)]), vec![]);
        assert_eq!(step(&mut book, &[point(IN, c, S, 2 * S, 100.0)]), vec![]);
        // The sender restarted: a new start time counts from zero, not -110.
        assert_eq!(
            step(&mut book, &[point(IN, c, 9 * S, 10 * S, 20.0)]),
            vec![(10, [20, 0, 0, 0], 0.0)]
        );
        // A reset without a new start time.
        assert_eq!(
            step(&mut book, &[point(IN, c, 9 * S, 11 * S, 5.0)]),
            vec![(11, [5, 0, 0, 0], 0.0)]
        );
        // Two points of one series in one batch.
        assert_eq!(
            step(
                &mut book,
                &[
                    point(IN, c, 9 * S, 12 * S, 8.0),
                    point(IN, c, 9 * S, 13 * S, 9.0)
                ]
            ),
            vec![(12, [3, 0, 0, 0], 0.0), (13, [1, 0, 0, 0], 0.0)]
        );
    }

    #[test]
    fn records_do_not_move_the_book_until_applied() {
        let book = SeriesBook::default();
        let p = [point(IN, Temporality::Cumulative, S, 2 * S, 100.0)];
        assert_eq!(usage(&book.records(&p, 0)), usage(&book.records(&p, 0)));
    }
}
