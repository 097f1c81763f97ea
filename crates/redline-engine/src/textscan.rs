//! The cold text pass: every transcript read once more, for [`crate::text`]'s character
//! statistics. Kept apart from [`crate::scan`] so that reports never pay for it: the
//! accounting scan does not decode text, this pass does.
//!
//! Workers read files in sorted path order, each into its pieces of text made ready to
//! count (phrases, watch list, dashes and words worked out, the text dropped); one
//! consumer dedups and adds them up in that same order (so the copy that counts, and the top-k sketch, come
//! out the same for any number of threads). Workers stay at most a small window of files
//! ahead of the consumer, so memory is the counts plus a few files' pieces.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use crate::reader::{MAX_LINE_BYTES, Piece as LinePiece, Start, open_regular, read_lines};
use crate::roots::{Transcript, path_order};
use crate::textline::{Preparer, Ready, TextCounter, pieces};

/// How many files each worker may run ahead of the consumer.
const WINDOW_PER_THREAD: usize = 4;

/// What the pass read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PassStats {
    /// Files read.
    pub files: u64,
    /// Files that could not be read.
    pub unreadable_files: u64,
    /// Bytes read.
    pub bytes: u64,
}

struct FileText {
    pieces: Vec<Ready>,
    bad_lines: u64,
    bytes: u64,
    readable: bool,
}

/// Reads `transcripts` and counts their text into `counter`, on `threads` threads (all
/// cores when `None`).
pub fn scan_text(
    mut transcripts: Vec<Transcript>,
    counter: &mut TextCounter,
    threads: Option<usize>,
) -> PassStats {
    transcripts.sort_by(|a, b| path_order(&a.path, &b.path));
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, transcripts.len().max(1));
    let window = threads * WINDOW_PER_THREAD;
    let next = AtomicUsize::new(0);
    let consumed = AtomicUsize::new(0);
    let mut stats = PassStats::default();
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel::<(usize, FileText)>();
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, consumed, transcripts) = (&next, &consumed, &transcripts);
            let preparer = counter.preparer();
            s.spawn(move || {
                let mut buf = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(t) = transcripts.get(i) else { break };
                    while i >= consumed.load(Ordering::Acquire) + window {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    if tx.send((i, read_file(t, &preparer, &mut buf))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending: BTreeMap<usize, FileText> = BTreeMap::new();
        let mut at = 0;
        for (i, f) in rx {
            pending.insert(i, f);
            while let Some(f) = pending.remove(&at) {
                let t = &transcripts[at];
                if f.readable {
                    stats.files += 1;
                } else {
                    stats.unreadable_files += 1;
                }
                stats.bytes += f.bytes;
                counter.stats.bad_lines += f.bad_lines;
                for r in &f.pieces {
                    counter.add_ready(r, &t.project, &t.session);
                }
                at += 1;
                consumed.store(at, Ordering::Release);
            }
        }
    });
    stats
}

fn read_file(t: &Transcript, preparer: &Preparer, buf: &mut Vec<u8>) -> FileText {
    let mut out = FileText {
        pieces: Vec::new(),
        bad_lines: 0,
        bytes: 0,
        readable: false,
    };
    let Ok(file) = open_regular(&t.path) else {
        return out;
    };
    let start = Start {
        line: 1,
        skipping: None,
    };
    let result = read_lines(&file, start, true, MAX_LINE_BYTES, buf, |_, piece| {
        let LinePiece::Line(line) = piece else { return };
        match pieces(line) {
            Ok(ps) => out.pieces.extend(ps.iter().map(|p| preparer.ready(p))),
            Err(_) => out.bad_lines += 1,
        }
    });
    if let Ok(end) = result {
        out.bytes = end.consumed;
        out.readable = true;
    }
    out
}
