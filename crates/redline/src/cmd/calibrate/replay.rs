//! Reading the transcripts' lines for `redline calibrate`: the turn marks of the main
//! chains (the proposals' waits and turns), and for `--check` every line's place, so the
//! days can be fed to `redline_engine::calibrate::check::Replay` in the order they were
//! written: each file's lines in file order, files interleaved by time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use redline_engine::blocks::Block;
use redline_engine::blocks::max_completed_total;
use redline_engine::calibrate::Mark;
use redline_engine::calibrate::check::{
    Checkpoint, Episode, FuelCheck, Outcome, Replay, fuel_vs_blocks,
};
use redline_engine::live::Budget;
use redline_engine::prices::PriceTable;
use redline_engine::reader::MAX_LINE_BYTES;
use redline_engine::turnline;
use redline_engine::usage::format_s;
use serde::Serialize;

use crate::config::Config;

/// A transcript to read.
#[derive(Clone, Debug)]
pub struct Source {
    /// The projects directory it is below.
    pub root: PathBuf,
    /// Its path.
    pub path: PathBuf,
    /// Its session, as the responses number them.
    pub session: u32,
    /// A subagent's file: never the main chain.
    pub subagent: bool,
}

/// A line's place in its file.
#[derive(Clone, Copy, Debug)]
pub struct LineRef {
    /// Its time, never before the line before it in the file (a line without one, or
    /// one written out of order, takes that line's).
    ts_ms: i64,
    /// Its own time, when it has one.
    own_ms: Option<i64>,
    offset: u64,
    len: u32,
    line_no: u64,
}

/// What the lines said.
#[derive(Debug, Default)]
pub struct Lines {
    /// The main chains' turn marks of the days, file by file.
    pub marks: Vec<Mark>,
    /// Per source, the places of the lines to replay (empty without `--check`).
    pub index: Vec<Vec<LineRef>>,
}

/// Reads every source on every core: marks of `[from, to)`, and with `replay_from` the
/// places of the lines of `[replay_from, to)`.
pub fn read_lines(files: &[Source], from_ms: i64, to_ms: i64, replay_from: Option<i64>) -> Lines {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    let mut per_file: Vec<(Vec<Mark>, Vec<LineRef>)> = vec![Default::default(); files.len()];
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t..files.len())
                        .step_by(threads)
                        .map(|i| (i, read_file(&files[i], from_ms, to_ms, replay_from)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for w in workers {
            for (i, got) in w.join().unwrap_or_default() {
                per_file[i] = got;
            }
        }
    });
    let mut lines = Lines::default();
    for (marks, index) in per_file {
        lines.marks.extend(marks);
        lines.index.push(index);
    }
    lines
}

fn read_file(
    src: &Source,
    from_ms: i64,
    to_ms: i64,
    replay_from: Option<i64>,
) -> (Vec<Mark>, Vec<LineRef>) {
    let (mut marks, mut index) = (Vec::new(), Vec::new());
    // Only regular files: a FIFO would wait for a writer (kept history names files that
    // may be gone).
    if !std::fs::metadata(&src.path).is_ok_and(|m| m.is_file()) {
        return (marks, index);
    }
    let Ok(bytes) = std::fs::read(&src.path) else {
        return (marks, index);
    };
    let mut clock = i64::MIN;
    let mut offset = 0usize;
    let mut line_no = 0u64;
    while offset < bytes.len() {
        let end = memchr_newline(&bytes[offset..]).map_or(bytes.len(), |n| offset + n);
        let line = &bytes[offset..end];
        line_no += 1;
        let read = turnline::read(line);
        if let Some(t) = read {
            clock = clock.max(t.ts_ms);
            if let Some(mark) = t.mark
                && !src.subagent
                && (from_ms..to_ms).contains(&t.ts_ms)
            {
                marks.push(Mark {
                    session: src.session,
                    ts_ms: t.ts_ms,
                    mark,
                });
            }
        }
        if let Some(start) = replay_from
            && clock >= start
            && clock < to_ms
            && !line.trim_ascii().is_empty()
        {
            index.push(LineRef {
                ts_ms: clock,
                own_ms: read.map(|t| t.ts_ms),
                offset: offset as u64,
                len: u32::try_from(line.len()).unwrap_or(u32::MAX),
                line_no,
            });
        }
        offset = end + 1;
    }
    (marks, index)
}

fn memchr_newline(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == b'\n')
}

/// Where the replay starts: at the first response of the first block of the days (the
/// block walk from there is the report's), else at the days' start.
pub fn start_of_replay(blocks: &[Block], from_ms: i64) -> i64 {
    blocks
        .iter()
        .find(|b| !b.is_gap)
        .and_then(|b| b.first_ms)
        .unwrap_or(from_ms)
}

/// What `check` needs.
pub struct CheckInput<'a> {
    /// The transcripts, as [`read_lines`] read them.
    pub files: &'a [Source],
    /// Their lines' places.
    pub index: Vec<Vec<LineRef>>,
    /// Where the replay starts.
    pub start_ms: i64,
    /// Where it ends.
    pub until_ms: i64,
    /// The report's blocks of the days, of the transcripts on disk.
    pub blocks: &'a [Block],
    /// Now.
    pub now_ms: i64,
    /// The configuration in force.
    pub cfg: &'a Config,
    /// Prices.
    pub prices: PriceTable,
}

/// What `--check` found.
#[derive(Debug)]
pub struct CheckReport {
    /// The fuel gauge against the blocks; `None` without a budget (no completed block
    /// and `max`).
    pub fuel: Option<FuelCheck>,
    /// Whether the budget was `max` resolved to the largest completed block.
    pub budget_from_max: bool,
    /// The replay's findings.
    pub outcome: Outcome,
    /// Seconds the replay took.
    pub seconds: f64,
}

/// A lamp's lit stretch in `--json`.
#[derive(Debug, Serialize)]
pub struct EpisodeJson {
    /// When it lit (UTC).
    pub from: String,
    /// When it went dark.
    pub to: String,
    /// How long, in seconds.
    pub seconds: i64,
    /// Whether it blinked.
    pub blinked: bool,
    /// HOT: the highest tokens per minute; WARN: the highest share of the window used.
    pub peak: f64,
    /// WARN: why (`plan`, `limit`, `cold cache`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<&'static str>,
}

/// `--check` in `--json`.
#[derive(Debug, Serialize)]
pub struct CheckJson {
    /// The fuel gauge against `redline report blocks`.
    pub fuel: Option<FuelCheck>,
    /// HOT's lit stretches.
    pub hot: Vec<EpisodeJson>,
    /// WARN's lit stretches.
    pub warn: Vec<EpisodeJson>,
    /// Lines replayed.
    pub lines: u64,
    /// Times the values were computed.
    pub evaluations: u64,
    /// Seconds the replay took.
    pub seconds: f64,
}

impl CheckReport {
    /// As `--json` prints it.
    pub fn json(&self) -> CheckJson {
        let episodes = |v: &[Episode]| {
            v.iter()
                .map(|e| EpisodeJson {
                    from: format_s(e.from_ms),
                    to: format_s(e.to_ms),
                    seconds: (e.to_ms - e.from_ms) / 1000,
                    blinked: e.blinked,
                    peak: e.peak,
                    why: e.why.clone(),
                })
                .collect()
        };
        CheckJson {
            fuel: self.fuel.clone(),
            hot: episodes(&self.outcome.hot),
            warn: episodes(&self.outcome.warn),
            lines: self.outcome.lines,
            evaluations: self.outcome.evaluations,
            seconds: (self.seconds * 100.0).round() / 100.0,
        }
    }
}

/// Open files while lines are read back, the most recently used last.
struct Handles {
    open: VecDeque<(usize, File)>,
}

impl Handles {
    const MAX: usize = 64;

    fn read(&mut self, files: &[Source], i: usize, at: &LineRef, buf: &mut Vec<u8>) -> bool {
        let pos = self.open.iter().position(|(n, _)| *n == i);
        let mut f = match pos.and_then(|p| self.open.remove(p)) {
            Some((_, f)) => f,
            None => match File::open(&files[i].path) {
                Ok(f) => f,
                Err(_) => return false,
            },
        };
        buf.clear();
        buf.resize(at.len as usize, 0);
        let ok = f.seek(SeekFrom::Start(at.offset)).is_ok() && f.read_exact(buf).is_ok();
        self.open.push_back((i, f));
        if self.open.len() > Self::MAX {
            self.open.pop_front();
        }
        ok
    }
}

/// Replays the days through the live path with the values in force (a `max` budget
/// fixed at the largest completed block, as `redline report blocks --token-limit max`
/// fixes it) and holds the fuel gauge against the blocks.
pub fn check(input: CheckInput<'_>) -> Result<CheckReport> {
    let started = Instant::now();
    let (budget, budget_from_max) = match input.cfg.settings.budget {
        Budget::Tokens(n) => (Some(n), false),
        Budget::Max => (max_completed_total(input.blocks, input.now_ms), true),
    };
    let mut settings = input.cfg.settings.clone();
    if let Some(b) = budget {
        settings.budget = Budget::Tokens(b);
    }
    let completed: Vec<&Block> = input
        .blocks
        .iter()
        .filter(|b| !b.is_gap && !b.is_active(input.now_ms))
        .collect();
    // Each block's end is read once the line holding its last response is in: a line
    // its file wrote after a later one is replayed late, as the daemon would have read it.
    let mut seen: HashMap<i64, i64> = completed
        .iter()
        .filter_map(|b| b.actual_end_ms)
        .map(|t| (t, t))
        .collect();
    for line in input.index.iter().flatten() {
        if let Some(own) = line.own_ms
            && let Some(s) = seen.get_mut(&own)
        {
            *s = (*s).max(line.ts_ms);
        }
    }
    let checkpoints: Vec<Checkpoint> = seen
        .into_iter()
        .map(|(at_ms, seen_ms)| Checkpoint { seen_ms, at_ms })
        .collect();
    let mut replay = Replay::new(input.prices, input.cfg.cost_mode, settings, checkpoints);
    let ids: Vec<_> = input
        .files
        .iter()
        .map(|f| replay.file(&f.root, &f.path))
        .collect();

    // Each file's next line, earliest first (ties: the file listed first).
    let mut next: BinaryHeap<Reverse<(i64, usize, usize)>> = input
        .index
        .iter()
        .enumerate()
        .filter_map(|(i, lines)| lines.first().map(|l| Reverse((l.ts_ms, i, 0))))
        .collect();
    let mut handles = Handles {
        open: VecDeque::new(),
    };
    let mut buf = Vec::new();
    while let Some(Reverse((_, i, n))) = next.pop() {
        let at = input.index[i][n];
        if let Some(&following) = input.index[i].get(n + 1) {
            next.push(Reverse((following.ts_ms, i, n + 1)));
        }
        let Some(id) = ids[i] else { continue };
        if at.len as usize > MAX_LINE_BYTES {
            continue;
        }
        if handles.read(input.files, i, &at, &mut buf) {
            replay.line(id, at.line_no, at.ts_ms, &buf);
        }
    }
    let outcome = replay.finish(input.until_ms.max(input.start_ms));
    let fuel = budget.map(|b| fuel_vs_blocks(&completed, &outcome.fuel, b));
    Ok(CheckReport {
        fuel,
        budget_from_max,
        outcome,
        seconds: started.elapsed().as_secs_f64(),
    })
}
