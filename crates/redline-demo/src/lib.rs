//! Realistic Claude Code transcripts, made up: this crate owns the demo and benchmark
//! corpus and the corpora of the ccusage parity test. It reads no real data, needs nothing
//! beyond std, and the same `(seed, responses, options)` always gives the same bytes.
//!
//! [`generate`] writes `dir/projects/...` the way Claude Code lays it out: several
//! projects, sessions over weeks, subagent files, resumed sessions. Every line is written
//! by hand in Claude Code's own field order and compact form (`"usage":{`,
//! `YYYY-MM-DDTHH:MM:SS.mmmZ`), because parity is judged on what Claude Code writes. The
//! only randomness is a splitmix64 seeded by `seed`.
//!
//! Size: about [`BYTES_PER_RESPONSE`] bytes of transcript per response, as in real data
//! (1.8 GB for 300k responses). A corpus is cut into lanes of at most [`LANE_RESPONSES`]
//! responses, each a person working for months from the same start date; lanes share
//! project directories, so a large corpus is many sessions running side by side rather
//! than decades of one person's work. From [`MARATHON_FROM`] responses on, two or three
//! lanes each hold one session that gets three periods in four, so its file
//! grows to tens of MB.
//!
//! What it exercises (each counted in [`Stats`]):
//! - streamed copies of one response (same `message.id` + `requestId`, 2-5 lines, early
//!   ones with a placeholder `output_tokens` 1..10, the last with the real total), and
//!   interrupted responses whose copies all carry the same placeholder (first copy wins,
//!   sometimes on the other side of midnight);
//! - resumed sessions replaying a suffix of an earlier session verbatim in a new file (a
//!   full tie: the earlier path in sorted order keeps it), sometimes starting mid-stream,
//!   sometimes with `"speed":"standard"` added to the replayed copy (the copy with `speed`
//!   replaces the one without);
//! - subagent files (`<session>/subagents/agent-<id>.jsonl`, `isSidechain:true`); a
//!   non-sidechain copy of a subagent response in the main file (the parent copy wins
//!   even when smaller); sidechain copies with the same `message.id` and another
//!   `requestId` (deduplicated); two non-sidechain lines with one `message.id` and two
//!   `requestId`s (both count);
//! - lines with `message.id` but no `requestId`, lines with no `message.id` (some twice);
//! - `<synthetic>` lines with zero usage, API errors with `isApiErrorMessage:true`, some
//!   `Claude AI usage limit reached|<epoch>`;
//! - four models, `cache_creation` split with `ephemeral_1h_input_tokens`, legacy lines
//!   with `costUSD` and no split, `usage.speed:"fast"` on claude-opus-4-6;
//! - user prompts, tool results with large text, Task results whose `toolUseResult`
//!   carries a `"usage":{` (not an assistant line), `progress` lines without nested
//!   usage, `system`, `summary` and `file-history-snapshot` lines;
//! - time: bursts and gaps longer than 5 h, gaps of exactly 5 h and 5 h + 1 ms, a
//!   response exactly 5 h after a block's start, responses within seconds of midnight;
//! - malformed lines ([`Options::malformed`]): a cut copy of the line before it (a writer
//!   that crashed mid-line), sometimes as a file's last line, and now and then a line that
//!   is not JSON at all (NUL bytes, a shell message). They are extra lines, so every
//!   response's total is the same with or without them, and ccusage and redline both skip
//!   them.
//!
//! Deliberately absent (ccusage and redline differ there on purpose): prompts above 200k
//! tokens, `inference_geo:"us"`, and progress lines with nested usage.
mod lane;
mod rng;
mod text;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Bytes of transcript per response, about (measured at 40k-300k responses).
pub const BYTES_PER_RESPONSE: u64 = 6_400;

/// The most responses in one lane.
pub const LANE_RESPONSES: usize = 10_000;

/// From this many responses on, two or three sessions are marathons of tens of MB.
pub const MARATHON_FROM: usize = 20_000;

/// How often each construct occurs in a generated corpus.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Assistant responses (distinct message ids), main and subagent.
    pub responses: usize,
    /// Lines written.
    pub lines: usize,
    /// Files written.
    pub files: usize,
    /// Responses written as 2-5 streamed copies.
    pub streamed: usize,
    /// Responses with only placeholder copies (interrupted).
    pub interrupted: usize,
    /// Sessions that start by replaying an earlier session.
    pub resumed_sessions: usize,
    /// Lines replayed verbatim.
    pub replayed_lines: usize,
    /// Replayed lines given `"speed":"standard"`.
    pub speed_replays: usize,
    /// Subagent files.
    pub subagent_files: usize,
    /// Non-sidechain copies of subagent responses in the main file.
    pub sidechain_main_copies: usize,
    /// Sidechain copies with the same message id and another request id.
    pub sidechain_rerequests: usize,
    /// Non-sidechain lines with a known message id and another request id.
    pub main_rerequests: usize,
    /// Assistant lines without `requestId`.
    pub no_request_id: usize,
    /// Assistant lines without `message.id`.
    pub no_message_id: usize,
    /// `<synthetic>` lines.
    pub synthetic: usize,
    /// Usage-limit API errors.
    pub usage_limit: usize,
    /// Lines with `costUSD`.
    pub cost_usd: usize,
    /// Lines with `speed:"fast"`.
    pub fast: usize,
    /// Lines with 1-hour cache writes.
    pub one_hour: usize,
    /// Responses placed within seconds of midnight UTC.
    pub midnight_edges: usize,
    /// Responses placed exactly 5 h after a block's start.
    pub block_edges: usize,
    /// Gaps of exactly 5 h or 5 h + a few ms.
    pub gap_edges: usize,
    /// Task results carrying `toolUseResult.usage`.
    pub task_results: usize,
    /// Bytes written.
    pub bytes: u64,
    /// The largest file, in bytes.
    pub largest_file: u64,
    /// Cut copies of a line (a writer that crashed mid-line).
    pub truncated: usize,
    /// Lines that are not JSON at all.
    pub garbage: usize,
}

impl Stats {
    /// Adds another lane's counts.
    fn add(&mut self, o: &Stats) {
        macro_rules! sum {
            ($($f:ident),*) => { $( self.$f += o.$f; )* };
        }
        sum!(
            responses,
            lines,
            files,
            streamed,
            interrupted,
            resumed_sessions,
            replayed_lines,
            speed_replays,
            subagent_files,
            sidechain_main_copies,
            sidechain_rerequests,
            main_rerequests,
            no_request_id,
            no_message_id,
            synthetic,
            usage_limit,
            cost_usd,
            fast,
            one_hour,
            midnight_edges,
            block_edges,
            gap_edges,
            task_results,
            bytes,
            truncated,
            garbage
        );
        self.largest_file = self.largest_file.max(o.largest_file);
    }
}
/// Switches for constructs a test may want left out, all on by default. The first two are
/// those on which ccusage's own reports disagree with each other.
#[derive(Debug, Clone)]
pub struct Options {
    /// Sidechain copies with the same `message.id` and another `requestId`. ccusage
    /// 20.0.24 deduplicates them in `daily` only; weekly, monthly, session and blocks
    /// count every copy.
    pub sidechain_rerequests: bool,
    /// Streamed copies of a response without `requestId` (Claude Code 1.0), which carry
    /// different timestamps. ccusage 20.0.24's `daily` keys such lines on
    /// (`message.id`, timestamp) and counts each copy; the other reports key them on
    /// `message.id` alone and keep one.
    pub streamed_without_request_id: bool,
    /// Malformed lines: cut copies of lines and lines that are not JSON.
    pub malformed: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            sidechain_rerequests: true,
            streamed_without_request_id: true,
            malformed: true,
        }
    }
}
/// A file or directory that could not be written.
#[derive(Debug)]
pub struct Error {
    path: PathBuf,
    source: io::Error,
}

impl Error {
    pub(crate) fn new(path: &Path, source: io::Error) -> Error {
        Error {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The path that could not be written.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write {}", self.path.display())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Writes a corpus of `responses` responses under `dir/projects` and reports what it
/// contains. Files already there under the same names are replaced; others are left.
pub fn generate(dir: &Path, seed: u64, responses: usize) -> Result<Stats, Error> {
    generate_with(dir, seed, responses, &Options::default())
}

/// [`generate`] with some constructs switched off.
pub fn generate_with(
    dir: &Path,
    seed: u64,
    responses: usize,
    options: &Options,
) -> Result<Stats, Error> {
    let lanes = responses.div_ceil(LANE_RESPONSES).max(1);
    // Lanes 0 and 1 carry a marathon session in a large corpus, lane 2 for half the seeds.
    let marathons = match responses >= MARATHON_FROM {
        false => 0,
        true if lanes >= 3 && seed.is_multiple_of(2) => 3,
        true => 2,
    };
    let mut stats = Stats::default();
    for lane in 0..lanes {
        // The first lanes take the remainder; a corpus of one lane is just that lane.
        let share = responses / lanes + usize::from(lane < responses % lanes);
        let lane_seed = match lane {
            0 => seed,
            n => {
                seed ^ (n as u64)
                    .wrapping_mul(0xA076_1D64_78BD_642F)
                    .rotate_left(29)
            }
        };
        let s = lane::generate(dir, seed, lane_seed, share, options, lane < marathons)?;
        stats.add(&s);
    }
    Ok(stats)
}
