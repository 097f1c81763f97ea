//! Reports as ccusage users know them: daily, weekly, monthly, per session and per
//! 5-hour block, with the same JSON shapes, so a script written against
//! `ccusage claude daily --json` reads redline's output unchanged.
//!
//! Responses are walked in the order of their first copy (file path, then line), as
//! ccusage walks them, so first-seen lists (`modelsUsed`) and sums come out the same. The
//! day of a response is its local date in the report's time zone. Pure: `now` is an
//! argument and the time zone is given, never read from the machine here.

use std::collections::HashMap;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use redline_core::TokenCounts;
use serde_json::{Map, Value, json};

use crate::blocks::{self, Block, BlockEntry};
use crate::bulk::Slots;
use crate::ledger::{Entry, FLAG_FAST, Files, Ledger, ModelId, Models};
use crate::prices::{CostMode, ModelPrice, PriceTable, Priced, price_entry};
use crate::scan::Scan;
use crate::thinking::Ratio;
use crate::timestamp::format_ms;
use crate::timestamp::instant;

/// The model id Claude Code writes for messages it made itself; never listed as a model.
pub const SYNTHETIC_MODEL: &str = "<synthetic>";

/// Ascending or descending order of report rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Oldest first (the default).
    #[default]
    Asc,
    /// Newest first.
    Desc,
}

/// What every report is built with.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// The zone whose local dates group responses into days.
    pub tz: TimeZone,
    /// How a response's cost is found.
    pub mode: CostMode,
    /// First local date included.
    pub since: Option<Date>,
    /// Last local date included.
    pub until: Option<Date>,
    /// Row order (not for sessions, which come by cost, as in ccusage).
    pub order: Order,
    /// Only this project (the directory name under `projects/`).
    pub project: Option<String>,
    /// The day weeks start on.
    pub start_of_week: Weekday,
}

impl Default for ReportOptions {
    fn default() -> ReportOptions {
        ReportOptions {
            tz: TimeZone::UTC,
            mode: CostMode::Auto,
            since: None,
            until: None,
            order: Order::Asc,
            project: None,
            start_of_week: Weekday::Sunday,
        }
    }
}

/// One response with what reports need of it: 24 bytes, since a report holds one per
/// response of the whole history.
#[derive(Clone, Copy, Debug)]
pub struct Item<'a> {
    /// The response.
    pub entry: &'a Entry,
    /// Its cost in dollars (0 when unpriced).
    pub cost: f64,
    /// Its local date.
    pub date: Date,
    /// The model as listed, in [`ModelNames`] (see [`Dataset::model`]), and whether it
    /// had no price.
    shown: Shown,
}

impl Item<'_> {
    /// The model has no price and the cost had to be computed.
    pub fn unpriced(&self) -> bool {
        self.shown.unpriced()
    }
}

/// A model as a report lists it, packed: `NONE`, or the model id times two plus one for
/// fast mode, with [`Shown::UNPRICED`] set when it had no price. Model ids stay far below
/// 2^30 (each is a distinct name held in memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Shown(u32);

impl Shown {
    const NONE: u32 = u32::MAX >> 1;
    const UNPRICED: u32 = 1 << 31;

    fn new(id: Option<ModelId>, fast: bool, unpriced: bool) -> Shown {
        let name = id.map_or(Shown::NONE, |m| (m << 1) | u32::from(fast));
        Shown(name | if unpriced { Shown::UNPRICED } else { 0 })
    }

    /// The model and fast mode as one number, `None` for none.
    fn name(self) -> Option<u32> {
        let n = self.0 & !Shown::UNPRICED;
        (n != Shown::NONE).then_some(n)
    }

    fn unpriced(self) -> bool {
        self.0 & Shown::UNPRICED != 0
    }
}

/// The responses of a scan, priced and dated, in first-copy order.
pub struct Dataset<'a> {
    /// The responses.
    pub items: Vec<Item<'a>>,
    /// The files they came from.
    pub files: &'a Files,
    /// The models' names as listed.
    pub names: &'a ModelNames,
}

impl<'a> Dataset<'a> {
    /// The model of `it` as listed (`-fast` appended for fast-mode requests), `None` for
    /// none or `<synthetic>`.
    pub fn model(&self, it: &Item<'_>) -> Option<&'a str> {
        let n = it.shown.name()?;
        self.names.display((n >> 1) as usize, n & 1 == 1)
    }
}

/// A model's display names, worked out once per model id, not per response.
struct ModelInfo {
    name: Option<String>,
    fast_name: Option<String>,
}

/// Prices and dates every response of `scan` (filtered to the options' project).
pub fn prepare<'a>(
    scan: &'a Scan,
    table: &PriceTable,
    opts: &ReportOptions,
    names: &'a ModelNames,
) -> Dataset<'a> {
    prepare_parts(
        &scan.ledger,
        &scan.models,
        &scan.files,
        table,
        opts,
        names,
        false,
    )
}

/// [`prepare`] from a ledger and its tables, wherever they are kept (a scan, or the live
/// state). With `from_since`, responses dated before `opts.since` are left out at once,
/// which keeps a short window's dataset small (blocks need the whole history, so reports
/// do not).
pub fn prepare_parts<'a>(
    ledger: &'a Ledger,
    models: &Models,
    files: &'a Files,
    table: &PriceTable,
    opts: &ReportOptions,
    names: &'a ModelNames,
    from_since: bool,
) -> Dataset<'a> {
    let prices: Vec<Option<&ModelPrice>> = models.names().map(|m| table.lookup(m)).collect();
    let item = |e: &'a Entry, day_of: &mut crate::days::DayOf<'_>| -> Option<Item<'a>> {
        if let Some(p) = &opts.project
            && *files.get(e.file).project != **p
        {
            return None;
        }
        let price = e.model().and_then(|m| prices[m as usize]);
        let priced = price_entry(opts.mode, price, e);
        let fast = e.has(FLAG_FAST);
        let listed = e
            .model()
            .filter(|&m| names.display(m as usize, fast).is_some());
        let date = day_of.of(e.ts_ms);
        if from_since && opts.since.is_some_and(|since| date < since) {
            return None;
        }
        Some(Item {
            entry: e,
            date,
            cost: priced.usd(),
            shown: Shown::new(
                listed,
                fast,
                priced == Priced::UnknownModel && listed.is_some(),
            ),
        })
    };
    // Each file's place in path order: an item's place in first-copy order is its first
    // copy's file's place, then that copy's line.
    let place = files.places();
    let key = |e: &Entry| (place[e.first_file as usize], e.first_line);
    // An entry's item, its key noted in `keys` (whether items came in order).
    let noted = |e: &'a Entry, day_of: &mut crate::days::DayOf<'_>, keys: &mut Keys| {
        let it = item(e, day_of)?;
        keys.add(key(e));
        Some(it)
    };
    // The items of `range` into `slots` (each half of one buffer: see `bulk::in_two`).
    let items_into = |range: std::ops::Range<usize>, slots: &mut Slots<'_, Item<'a>>| -> Keys {
        let (mut day_of, mut keys) = (crate::days::DayOf::new(&opts.tz), Keys::default());
        for e in ledger.entries_in(range) {
            if let Some(it) = noted(e, &mut day_of, &mut keys) {
                slots.push(it);
            }
        }
        keys
    };
    // The same in a vector that grows: when few are kept (a short window).
    let items_of = |range: std::ops::Range<usize>| -> (Vec<Item<'a>>, Keys) {
        let (mut day_of, mut keys) = (crate::days::DayOf::new(&opts.tz), Keys::default());
        let items = ledger
            .entries_in(range)
            .filter_map(|e| noted(e, &mut day_of, &mut keys))
            .collect();
        (items, keys)
    };
    // Two halves on two threads when there is enough to share (each item is priced and
    // dated on its own), each made straight into its place.
    let n = ledger.len();
    let (mut items, keys) = match (worth_sharing(n), from_since) {
        (true, false) => {
            let (items, keys, then) = crate::bulk::in_two(
                n,
                n / 2,
                |s| items_into(0..n / 2, s),
                |s| items_into(n / 2..n, s),
            );
            (items, keys.then(then))
        }
        (false, false) => crate::bulk::made(n, |s| items_into(0..n, s)),
        (true, true) => {
            let ((mut first, keys), (second, then)) =
                crate::bulk::beside(|| items_of(0..n / 2), || items_of(n / 2..n));
            first.extend(second);
            (first, keys.then(then))
        }
        (false, true) => items_of(0..n),
    };
    // A scan of unchanged files gives its responses in this order already: then there
    // is nothing to move.
    if !keys.sorted {
        first_copy_order(&mut items, &place);
    }
    Dataset {
        items,
        files,
        names,
    }
}

/// Whether `n` responses are enough to share a report's work between two threads, and
/// there are two cores to share it.
fn worth_sharing(n: usize) -> bool {
    n >= 50_000 && std::thread::available_parallelism().is_ok_and(|t| t.get() > 1)
}

/// Whether items came in first-copy order: their first and last keys (place of the first
/// copy's file, its line), and whether each key was at least the one before.
#[derive(Clone, Copy, Debug)]
struct Keys {
    ends: Option<((u32, u32), (u32, u32))>,
    sorted: bool,
}

impl Default for Keys {
    fn default() -> Keys {
        Keys {
            ends: None,
            sorted: true,
        }
    }
}

impl Keys {
    fn add(&mut self, key: (u32, u32)) {
        self.ends = match self.ends {
            None => Some((key, key)),
            Some((first, last)) => {
                self.sorted &= last <= key;
                Some((first, key))
            }
        };
    }

    /// This run followed by `next`.
    fn then(self, next: Keys) -> Keys {
        match (self.ends, next.ends) {
            (Some((first, last)), Some((next_first, next_last))) => Keys {
                ends: Some((first, next_last)),
                sorted: self.sorted && next.sorted && last <= next_first,
            },
            (None, _) => next,
            (_, None) => self,
        }
    }
}

/// Puts `items` in first-copy order (the order ccusage walks responses in, as
/// [`Files::first_copy_order`] gives it): by the place of the first copy's file in path
/// order, then by its line, equal keys keeping their order.
///
/// When all but a few come in order already (a scan that took most files from the index
/// and read a few that grew: their new responses come last), the few are sorted and
/// merged in from the end, in place. Otherwise a counting sort on the file's place, then
/// each file's items by line (they mostly come in order already: a check, not a sort),
/// then the moves made in place, cycle by cycle: linear in the items, with two `u32` per
/// item besides.
fn first_copy_order(items: &mut [Item<'_>], place: &[u32]) {
    let key = |it: &Item<'_>| (place[it.entry.first_file as usize], it.entry.first_line);
    let in_order = 1 + items
        .windows(2)
        .take_while(|w| key(&w[0]) <= key(&w[1]))
        .count();
    if in_order < items.len() && items.len() - in_order <= items.len() / 8 {
        let mut rest = items[in_order..].to_vec();
        rest.sort_by_key(key);
        // From the end: the larger of the two lasts goes last; on equal keys the one
        // from the rest, so the head's keeps its place before it.
        let (mut head, mut w) = (in_order, items.len());
        while let Some(last) = rest.last() {
            w -= 1;
            if head > 0 && key(&items[head - 1]) > key(last) {
                items[w] = items[head - 1];
                head -= 1;
            } else {
                items[w] = *last;
                rest.pop();
            }
        }
        return;
    }
    // Where each file's items start, then (as they are placed) where the next one goes.
    let mut at = vec![0u32; place.len() + 1];
    for it in items.iter() {
        at[place[it.entry.first_file as usize] as usize + 1] += 1;
    }
    for p in 1..at.len() {
        at[p] += at[p - 1];
    }
    let starts = at.clone();
    // `from[i]`: the item that goes to place `i`.
    let mut from = vec![0u32; items.len()];
    for (i, it) in items.iter().enumerate() {
        let p = place[it.entry.first_file as usize] as usize;
        from[at[p] as usize] = i as u32;
        at[p] += 1;
    }
    for w in starts.windows(2) {
        let run = &mut from[w[0] as usize..w[1] as usize];
        let line = |i: &u32| items[*i as usize].entry.first_line;
        if !run.is_sorted_by_key(line) {
            run.sort_by_key(line);
        }
    }
    drop((starts, at));
    for start in 0..from.len() {
        let mut to = start;
        while from[to] != u32::MAX {
            let src = from[to] as usize;
            from[to] = u32::MAX;
            if src == start {
                break;
            }
            items.swap(to, src);
            to = src;
        }
    }
}

/// Display names of the models of a scan.
pub struct ModelNames {
    info: Vec<ModelInfo>,
}

impl ModelNames {
    /// Names for every model id of `models`.
    pub fn new(models: &Models) -> ModelNames {
        let info = models
            .names()
            .map(|n| {
                let listed = !n.is_empty() && n != SYNTHETIC_MODEL;
                ModelInfo {
                    name: listed.then(|| n.to_string()),
                    fast_name: listed.then(|| format!("{n}-fast")),
                }
            })
            .collect();
        ModelNames { info }
    }

    fn display(&self, id: usize, fast: bool) -> Option<&str> {
        let i = self.info.get(id)?;
        if fast {
            i.fast_name.as_deref()
        } else {
            i.name.as_deref()
        }
    }
}

/// Tokens and cost of one model within a row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Breakdown {
    /// The model as listed.
    pub model: String,
    /// Its tokens.
    pub tokens: TokenCounts,
    /// Its cost.
    pub cost: f64,
    /// No price was found for it.
    pub missing_pricing: bool,
}

/// What a session row adds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionInfo {
    /// The session id.
    pub session_id: String,
    /// The project directory name.
    pub project: String,
    /// The earliest response, ms since the epoch.
    pub first_ms: i64,
    /// The latest response.
    pub last_ms: i64,
}

/// One row of a report: a day, week, month or session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    /// `2026-02-11`, `2026-02-08` (week start), `2026-02` or the session id.
    pub key: String,
    /// Token sums.
    pub tokens: TokenCounts,
    /// Cost sum.
    pub cost: f64,
    /// Models in first-seen order.
    pub models_used: Vec<String>,
    /// Per-model figures, costliest first.
    pub breakdowns: Vec<Breakdown>,
    /// For session rows.
    pub session: Option<SessionInfo>,
    /// Thinking over output (redline's own field, not ccusage's).
    pub thinking: Ratio,
}

impl Row {
    /// Lists a model if it is not listed yet (first-seen order).
    fn note_model(&mut self, model: &str) {
        if !self.models_used.iter().any(|m| m == model) {
            self.models_used.push(model.to_string());
        }
    }

    /// Adds a model's figures to its breakdown, opening one on its first appearance.
    fn merge(&mut self, b: Breakdown) {
        match self.breakdowns.iter_mut().find(|x| x.model == b.model) {
            Some(x) => {
                x.tokens += b.tokens;
                x.cost += b.cost;
                x.missing_pricing |= b.missing_pricing;
            }
            None => self.breakdowns.push(b),
        }
    }

    /// Adds a response. `seen` pairs each model met in this row (as [`Shown`] packs it,
    /// without the price flag) with its breakdown: a row meets each model many times, and
    /// finds it by number rather than by name.
    fn add_item(&mut self, it: &Item<'_>, p: &Dataset<'_>, seen: &mut Vec<(u32, usize)>) {
        let tokens = it.entry.tokens();
        let unpriced = it.unpriced();
        self.tokens += tokens;
        self.cost += it.cost;
        self.thinking.add(it.entry.thinking_tokens(), tokens.output);
        let Some(model) = it.shown.name() else { return };
        let b = match seen.iter().find(|(m, _)| *m == model) {
            Some(&(_, b)) => b,
            None => {
                let Some(name) = p.model(it) else { return };
                self.note_model(name);
                // Two ids may be listed alike (`x` in fast mode and a model named
                // `x-fast`): they share the breakdown, as by name.
                let Some(b) = self.breakdowns.iter().position(|x| x.model == name) else {
                    seen.push((model, self.breakdowns.len()));
                    self.breakdowns.push(Breakdown {
                        model: name.to_string(),
                        tokens,
                        cost: it.cost,
                        missing_pricing: unpriced,
                    });
                    return;
                };
                seen.push((model, b));
                b
            }
        };
        let x = &mut self.breakdowns[b];
        x.tokens += tokens;
        x.cost += it.cost;
        x.missing_pricing |= unpriced;
    }

    fn finish(&mut self) {
        // Stable: equal costs keep first-seen order.
        self.breakdowns.sort_by(|a, b| b.cost.total_cmp(&a.cost));
    }
}

/// Sums over the rows of a report, in their output order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    /// Token sums.
    pub tokens: TokenCounts,
    /// Cost sum.
    pub cost: f64,
    /// Models that had no price, sorted.
    pub unpriced_models: Vec<String>,
    /// Thinking over output.
    pub thinking: Ratio,
}

/// A finished report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Its rows, in output order.
    pub rows: Vec<Row>,
    /// Their sums.
    pub totals: Totals,
}

fn totals(rows: &[Row], items: &[&Item<'_>], p: &Dataset<'_>) -> Totals {
    let mut unpriced: Vec<String> = items
        .iter()
        .filter(|i| i.unpriced() && i.entry.tokens().total() > 0)
        .filter_map(|i| p.model(i).map(String::from))
        .collect();
    unpriced.sort();
    unpriced.dedup();
    Totals {
        unpriced_models: unpriced,
        ..sum_rows(rows)
    }
}

/// Tokens and cost added over `rows` in their output order (the order ccusage adds
/// them in, which decides the last digits of the cost).
fn sum_rows(rows: &[Row]) -> Totals {
    Totals {
        tokens: rows
            .iter()
            .fold(TokenCounts::default(), |t, r| t + r.tokens),
        // From +0.0: an empty sum of f64 is -0.0, which JSON would print as such.
        cost: rows.iter().fold(0.0, |sum, r| sum + r.cost),
        unpriced_models: Vec::new(),
        thinking: rows.iter().fold(Ratio::default(), |mut t, r| {
            t.merge(&r.thinking);
            t
        }),
    }
}

fn in_range(date: Date, opts: &ReportOptions) -> bool {
    opts.since.is_none_or(|s| date >= s) && opts.until.is_none_or(|u| date <= u)
}

fn ordered(mut rows: Vec<Row>, order: Order) -> Vec<Row> {
    rows.sort_by(|a, b| a.key.cmp(&b.key));
    if order == Order::Desc {
        rows.reverse();
    }
    rows
}

/// One row per local date.
///
/// With many responses, the days are shared between two threads, cut at a date near the
/// middle: each thread walks every response and adds those of its own days, in the order
/// they come, so every day's sums are made in the same order as on one thread.
pub fn daily(p: &Dataset<'_>, opts: &ReportOptions) -> Report {
    let mut rows = match middle_date(&p.items) {
        Some(cut) if worth_sharing(p.items.len()) => {
            let (mut early, late) = crate::bulk::beside(
                || day_rows(p, opts, |d| d < cut),
                || day_rows(p, opts, |d| d >= cut),
            );
            early.extend(late);
            early
        }
        _ => day_rows(p, opts, |_| true),
    };
    rows.iter_mut().for_each(Row::finish);
    let rows = ordered(rows, opts.order);
    let items: Vec<&Item<'_>> = p.items.iter().filter(|i| in_range(i.date, opts)).collect();
    Report {
        totals: totals(&rows, &items, p),
        rows,
    }
}

/// A date near the middle of the items' dates (from a sample of them), `None` for none.
fn middle_date(items: &[Item<'_>]) -> Option<Date> {
    let mut dates: Vec<Date> = items.iter().step_by(64).map(|i| i.date).collect();
    if dates.is_empty() {
        return None;
    }
    let half = dates.len() / 2;
    Some(*dates.select_nth_unstable(half).1)
}

/// The rows of the days in range that `mine` takes, in the order their first responses
/// come.
fn day_rows(p: &Dataset<'_>, opts: &ReportOptions, mine: impl Fn(Date) -> bool) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let mut seen = Vec::new();
    let mut index: HashMap<Date, usize> = HashMap::new();
    // Items of one day mostly come together: the last day's row is looked up once.
    let mut last: Option<(Date, usize)> = None;
    for it in &p.items {
        let i = match last {
            Some((d, i)) if d == it.date => i,
            _ => {
                if !mine(it.date) || !in_range(it.date, opts) {
                    continue;
                }
                *index.entry(it.date).or_insert_with(|| {
                    rows.push(Row {
                        key: it.date.to_string(),
                        ..Row::default()
                    });
                    seen.push(Vec::new());
                    rows.len() - 1
                })
            }
        };
        last = Some((it.date, i));
        rows[i].add_item(it, p, &mut seen[i]);
    }
    rows
}

/// Daily rows folded into periods: weeks (keyed by their first day) or months.
fn fold_days(daily: Report, key: impl Fn(Date) -> String, order: Order) -> Report {
    let mut days = daily.rows;
    days.sort_by(|a, b| a.key.cmp(&b.key));
    let mut rows: Vec<Row> = Vec::new();
    for day in days {
        let Ok(date) = day.key.parse::<Date>() else {
            continue;
        };
        let k = key(date);
        if rows.last().is_none_or(|r| r.key != k) {
            rows.push(Row {
                key: k,
                ..Row::default()
            });
        }
        let Some(row) = rows.last_mut() else { continue };
        row.tokens += day.tokens;
        row.cost += day.cost;
        row.thinking.merge(&day.thinking);
        for m in &day.models_used {
            row.note_model(m);
        }
        for b in day.breakdowns {
            row.merge(b);
        }
    }
    rows.iter_mut().for_each(Row::finish);
    let rows = ordered(rows, order);
    let totals = Totals {
        unpriced_models: daily.totals.unpriced_models,
        ..sum_rows(&rows)
    };
    Report { rows, totals }
}

/// One row per week, keyed by the local date its week starts on.
pub fn weekly(p: &Dataset<'_>, opts: &ReportOptions) -> Report {
    let start = opts.start_of_week;
    let week_start = move |d: Date| {
        let back =
            (d.weekday().to_sunday_zero_offset() - start.to_sunday_zero_offset()).rem_euclid(7);
        d.checked_sub(jiff::Span::new().days(i64::from(back)))
            .unwrap_or(d)
            .to_string()
    };
    fold_days(daily(p, opts), week_start, opts.order)
}

/// One row per local month (`YYYY-MM`).
pub fn monthly(p: &Dataset<'_>, opts: &ReportOptions) -> Report {
    fold_days(
        daily(p, opts),
        |d| format!("{:04}-{:02}", d.year(), d.month()),
        opts.order,
    )
}

/// One row per session (subagent files count toward their parent), costliest first.
/// Responses outside `since`/`until` are left out before grouping.
pub fn session(p: &Dataset<'_>, opts: &ReportOptions) -> Report {
    let items: Vec<&Item<'_>> = p.items.iter().filter(|i| in_range(i.date, opts)).collect();
    let mut rows: Vec<Row> = Vec::new();
    let mut seen = Vec::new();
    let mut index: HashMap<(&str, &str), usize> = HashMap::new();
    for it in &items {
        let f = p.files.get(it.entry.file);
        let i = *index.entry((&*f.project, &*f.session)).or_insert_with(|| {
            rows.push(Row {
                key: f.session.to_string(),
                session: Some(SessionInfo {
                    session_id: f.session.to_string(),
                    project: f.project.to_string(),
                    first_ms: it.entry.ts_ms,
                    last_ms: it.entry.ts_ms,
                }),
                ..Row::default()
            });
            seen.push(Vec::new());
            rows.len() - 1
        });
        let row = &mut rows[i];
        row.add_item(it, p, &mut seen[i]);
        if let Some(s) = &mut row.session {
            s.first_ms = s.first_ms.min(it.entry.ts_ms);
            s.last_ms = s.last_ms.max(it.entry.ts_ms);
        }
    }
    rows.retain(|r| r.tokens.total() > 0);
    rows.iter_mut().for_each(Row::finish);
    rows.sort_by(|a, b| b.cost.total_cmp(&a.cost));
    Report {
        totals: totals(&rows, &items, p),
        rows,
    }
}

/// Which blocks a blocks report shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockFilter {
    /// Only the active block.
    pub active: bool,
    /// Only blocks that started in the last three days, or are active.
    pub recent: bool,
}

/// The 5-hour blocks of the responses, filtered and ordered.
pub fn blocks(
    p: &Dataset<'_>,
    opts: &ReportOptions,
    filter: BlockFilter,
    now_ms: i64,
) -> Vec<Block> {
    let mut items: Vec<&Item<'_>> = p.items.iter().collect();
    // Stable: equal times keep first-copy order.
    items.sort_by_key(|i| i.entry.ts_ms);
    let entries: Vec<BlockEntry<'_>> = items
        .iter()
        .map(|i| BlockEntry {
            ts_ms: i.entry.ts_ms,
            tokens: i.entry.tokens(),
            cost_usd: i.cost,
            model: p.model(i),
            limit_reset_s: i.entry.limit_reset_s(),
        })
        .collect();
    let mut out: Vec<Block> = blocks::build_blocks(&entries, blocks::BLOCK_MS)
        .into_iter()
        .filter(|b| in_range(opts.tz.to_datetime(instant(b.start_ms)).date(), opts))
        .filter(|b| !filter.active || b.is_active(now_ms))
        .filter(|b| {
            !filter.recent || b.start_ms >= now_ms - 3 * 24 * 3_600_000 || b.is_active(now_ms)
        })
        .collect();
    out.sort_by_key(|b| b.start_ms);
    if opts.order == Order::Desc {
        out.reverse();
    }
    out
}

/// Which report a JSON document is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `{"daily": [{"date": ...}]}`
    Daily,
    /// `{"weekly": [{"week": ...}]}`
    Weekly,
    /// `{"monthly": [{"month": ...}]}`
    Monthly,
    /// `{"sessions": [{"sessionId": ...}]}`
    Session,
}

fn token_fields(m: &mut Map<String, Value>, t: TokenCounts) {
    m.insert("inputTokens".into(), json!(t.input));
    m.insert("outputTokens".into(), json!(t.output));
    m.insert("cacheCreationTokens".into(), json!(t.cache_creation));
    m.insert("cacheReadTokens".into(), json!(t.cache_read));
}

/// redline's own fields beside ccusage's: `thinkingTokens` (estimated where the
/// transcript only has text or signatures; `null` when nothing is known of it) and
/// `cacheHitRate` (cache reads over prompt tokens, `null` without a prompt).
fn redline_fields(m: &mut Map<String, Value>, t: TokenCounts, thinking: &Ratio) {
    m.insert("thinkingTokens".into(), json!(thinking.tokens()));
    let hit = t.cache_hit_rate().map(crate::usage::round_share);
    m.insert("cacheHitRate".into(), json!(hit));
}

/// The report as ccusage's `--json` prints it. `project` adds the `project` field to daily
/// rows, as ccusage does under `--project`.
pub fn report_json(kind: Kind, report: &Report, project: Option<&str>) -> Value {
    let rows: Vec<Value> = report
        .rows
        .iter()
        .map(|r| {
            let mut m = Map::new();
            token_fields(&mut m, r.tokens);
            m.insert("totalTokens".into(), json!(r.tokens.total()));
            m.insert("totalCost".into(), json!(r.cost));
            redline_fields(&mut m, r.tokens, &r.thinking);
            m.insert("modelsUsed".into(), json!(r.models_used));
            let breakdowns: Vec<Value> = r
                .breakdowns
                .iter()
                .map(|b| {
                    let mut bm = Map::new();
                    token_fields(&mut bm, b.tokens);
                    bm.insert("modelName".into(), json!(b.model));
                    bm.insert("cost".into(), json!(b.cost));
                    if b.missing_pricing {
                        bm.insert("missingPricing".into(), json!(true));
                    }
                    Value::Object(bm)
                })
                .collect();
            m.insert("modelBreakdowns".into(), Value::Array(breakdowns));
            match kind {
                Kind::Daily => {
                    m.insert("date".into(), json!(r.key));
                    if let Some(p) = project {
                        m.insert("project".into(), json!(p));
                    }
                }
                Kind::Weekly => {
                    m.insert("week".into(), json!(r.key));
                }
                Kind::Monthly => {
                    m.insert("month".into(), json!(r.key));
                }
                Kind::Session => {
                    if let Some(s) = &r.session {
                        m.insert("sessionId".into(), json!(s.session_id));
                        m.insert("projectPath".into(), json!(s.project));
                        m.insert("firstActivity".into(), json!(format_ms(s.first_ms)));
                        m.insert("lastActivity".into(), json!(format_ms(s.last_ms)));
                    }
                }
            }
            Value::Object(m)
        })
        .collect();
    let mut totals = Map::new();
    token_fields(&mut totals, report.totals.tokens);
    totals.insert("totalTokens".into(), json!(report.totals.tokens.total()));
    totals.insert("totalCost".into(), json!(report.totals.cost));
    redline_fields(&mut totals, report.totals.tokens, &report.totals.thinking);
    if !report.totals.unpriced_models.is_empty() {
        totals.insert(
            "unpricedModels".into(),
            json!(report.totals.unpriced_models),
        );
    }
    let name = match kind {
        Kind::Daily => "daily",
        Kind::Weekly => "weekly",
        Kind::Monthly => "monthly",
        Kind::Session => "sessions",
    };
    json!({ name: rows, "totals": totals })
}

/// The header of [`daily_csv`].
pub const DAILY_CSV_HEADER: &str = "date,model,input_tokens,output_tokens,cache_creation_tokens,cache_read_tokens,total_tokens,cost_usd";

/// A daily report as CSV for a spreadsheet or a budget app: [`DAILY_CSV_HEADER`], then one
/// row per day and model (models by name), dollars to six places. Responses without a
/// model (rare; none has a price) make a row with an empty model, so a day's rows add up
/// to the day.
pub fn daily_csv(report: &Report) -> String {
    let mut out = String::from(DAILY_CSV_HEADER);
    out.push('\n');
    let mut line = |date: &str, model: &str, t: TokenCounts, cost: f64| {
        out += &format!(
            "{date},{},{},{},{},{},{},{cost:.6}\n",
            csv_field(model),
            t.input,
            t.output,
            t.cache_creation,
            t.cache_read,
            t.total()
        );
    };
    for r in &report.rows {
        let mut models: Vec<&Breakdown> = r.breakdowns.iter().collect();
        models.sort_by(|a, b| a.model.cmp(&b.model));
        let (mut rest, mut rest_cost) = (r.tokens, r.cost);
        for b in models {
            line(&r.key, &b.model, b.tokens, b.cost);
            rest = TokenCounts {
                input: rest.input.saturating_sub(b.tokens.input),
                output: rest.output.saturating_sub(b.tokens.output),
                cache_creation: rest.cache_creation.saturating_sub(b.tokens.cache_creation),
                cache_read: rest.cache_read.saturating_sub(b.tokens.cache_read),
            };
            rest_cost -= b.cost;
        }
        if rest.total() > 0 {
            line(&r.key, "", rest, rest_cost.max(0.0));
        }
    }
    out
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        std::borrow::Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{FileId, FileMeta};

    /// The counting sort gives what a stable sort on (file place, line) gives: files whose
    /// ids are not in path order, lines out of order within a file, and many equal keys
    /// (which must keep their order).
    #[test]
    fn first_copy_order_is_a_stable_sort_by_place_then_line() {
        let mut files = Files::default();
        for name in ["z", "a/subagents/x", "m", "a", "b/c", "0", "y"] {
            files.add(FileMeta {
                path: format!("/p/{name}.jsonl").into(),
                project: "p".into(),
                session: name.into(),
            });
        }
        let entries: Vec<Entry> = (0..500u32)
            .map(|i| {
                let mut e =
                    Entry::with_usage(i64::from(i), TokenCounts::default(), 0, None, None, 0, 0);
                e.first_line = (i * 7_919) % 23;
                e.first_file = (i * 104_729 % 7) as FileId;
                e
            })
            .collect();
        let item = |e| Item {
            entry: e,
            cost: 0.0,
            date: Date::constant(2026, 1, 1),
            shown: Shown::new(None, false, false),
        };
        let mut items: Vec<Item<'_>> = entries.iter().map(item).collect();
        let mut want = items.clone();
        let place = files.places();
        want.sort_by_key(|it| (place[it.entry.first_file as usize], it.entry.first_line));
        first_copy_order(&mut items, &place);
        let order = |v: &[Item<'_>]| v.iter().map(|it| it.entry.ts_ms).collect::<Vec<_>>();
        assert_eq!(order(&items), order(&want));
        // And the order it makes is kept as it is.
        first_copy_order(&mut items, &place);
        assert_eq!(order(&items), order(&want));
        // All in order but a few at the end (files read after the rest came from the
        // index), some of them with keys the head holds too: still a stable sort.
        for tail in [1, 7, 40, 62, 63, 200] {
            let mut items: Vec<Item<'_>> = want.clone();
            let mut extra: Vec<Item<'_>> = entries[..tail].iter().map(item).collect();
            extra.reverse();
            items.extend(extra);
            let mut sorted = items.clone();
            sorted.sort_by_key(|it| (place[it.entry.first_file as usize], it.entry.first_line));
            first_copy_order(&mut items, &place);
            assert_eq!(order(&items), order(&sorted), "{tail} at the end");
        }
    }

    /// Daily rows made on two threads (enough responses for that) are the rows one thread
    /// makes, to the last digit of every sum: days mixed through the responses, two
    /// models, costs whose sums depend on the order they are added in.
    #[test]
    fn daily_rows_on_two_threads_are_the_rows_of_one() {
        let mut files = Files::default();
        files.add(FileMeta {
            path: "/p/-a/s.jsonl".into(),
            project: "-a".into(),
            session: "s".into(),
        });
        let mut models = Models::default();
        let ids = [
            models.intern("claude-opus-4-6"),
            models.intern("claude-haiku-4-5"),
        ];
        let names = ModelNames::new(&models);
        let n = 60_000u32;
        let entries: Vec<Entry> = (0..n)
            .map(|i| {
                let tokens = TokenCounts::new(u64::from(i % 97), u64::from(i % 13), 0, 0);
                Entry::with_usage(0, tokens, 0, None, Some(ids[(i % 2) as usize]), 0, i + 1)
            })
            .collect();
        let items: Vec<Item<'_>> = entries
            .iter()
            .zip(0u32..)
            .map(|(e, i)| Item {
                entry: e,
                // Tenths and thirds of a cent: sums whose last digits follow the order.
                cost: f64::from(i % 7) / 10.0 + f64::from(i % 3) / 300.0,
                date: Date::constant(2026, 1, 1)
                    .checked_add(jiff::Span::new().days(i64::from(i * 7 % 31)))
                    .unwrap(),
                shown: Shown::new(e.model(), false, false),
            })
            .collect();
        let data = Dataset {
            items,
            files: &files,
            names: &names,
        };
        let opts = ReportOptions::default();
        assert!(middle_date(&data.items).is_some());
        let mut one = day_rows(&data, &opts, |_| true);
        one.iter_mut().for_each(Row::finish);
        let one = ordered(one, opts.order);
        let two = daily(&data, &opts);
        assert_eq!(two.rows.len(), 31);
        assert_eq!(two.rows, one);
        assert_eq!(two.totals.cost.to_bits(), sum_rows(&one).cost.to_bits());
    }

    /// Keys say they are sorted exactly when they are, however it is cut in two (the
    /// halves the threads make) and wherever the keys tie.
    #[test]
    fn keys_know_whether_they_came_in_order() {
        let mut seed = 0x2545_f491_u64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for case in 0..2_000 {
            let len = next(12) as usize;
            let mut keys: Vec<(u32, u32)> =
                (0..len).map(|_| (next(4) as u32, next(3) as u32)).collect();
            if case % 2 == 0 {
                keys.sort();
            }
            let cut = if len == 0 {
                0
            } else {
                next(len as u64 + 1) as usize
            };
            let run_of = |ks: &[(u32, u32)]| {
                let mut r = Keys::default();
                ks.iter().for_each(|&k| r.add(k));
                r
            };
            let whole = run_of(&keys);
            let halves = run_of(&keys[..cut]).then(run_of(&keys[cut..]));
            assert_eq!(whole.sorted, keys.is_sorted(), "{keys:?}");
            assert_eq!(halves.sorted, keys.is_sorted(), "{keys:?} cut at {cut}");
        }
    }
}
