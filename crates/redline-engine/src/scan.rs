//! The cold scan: every transcript read once, on every core, into one [`Ledger`].
//!
//! Workers take files from a shared queue (largest first, so one big file does not finish
//! last alone). Each file is read into a small ledger of its own, which folds its streamed
//! copies together; that ledger then joins the shared one under a lock held only for the
//! merge, once per file. Memory is the shared ledger plus one file's responses per
//! worker. The survivor rule is a total order on copies, so the result is the same for any
//! number of threads and any scheduling.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::ledger::{Entry, FileId, FileMeta, Files, Ledger, ModelId, Models, Run};
use crate::reader::{MAX_LINE_BYTES, Piece, Start, open_regular, read_lines};
use crate::record::parse_line;
use crate::roots::{Transcript, out_of_descriptors, path_order};
use crate::tail::{FINGERPRINT_BYTES, fingerprint};

/// How many line errors are kept with their text; the rest are only counted.
pub const KEPT_ERRORS: usize = 200;

/// A line that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line number; 0 when the whole file failed.
    pub line: u64,
    /// What was wrong.
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
        }
    }
}

/// Counts of what a scan saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Files read.
    pub files: u64,
    /// Files that could not be opened or read to the end.
    pub unreadable_files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Lines read.
    pub lines: u64,
    /// Lines that carried usage (every copy, before dedup).
    pub usage_lines: u64,
    /// Usage lines accepted although they differ from Claude Code's own shape.
    pub lenient_lines: u64,
    /// Broken lines (reported, not counted).
    pub bad_lines: u64,
    /// Lines longer than [`MAX_LINE_BYTES`] (reported, passed over unread).
    pub long_lines: u64,
    /// The newest timestamp of any usage line.
    pub newest_ms: Option<i64>,
}

impl ScanStats {
    fn add(&mut self, o: &ScanStats) {
        self.files += o.files;
        self.unreadable_files += o.unreadable_files;
        self.bytes += o.bytes;
        self.lines += o.lines;
        self.usage_lines += o.usage_lines;
        self.lenient_lines += o.lenient_lines;
        self.bad_lines += o.bad_lines;
        self.long_lines += o.long_lines;
        self.newest_ms = self.newest_ms.max(o.newest_ms);
    }
}

/// The result of a scan.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// The files read, by [`FileId`].
    pub files: Files,
    /// Model ids seen.
    pub models: Models,
    /// The distinct responses.
    pub ledger: Ledger,
    /// What was seen.
    pub stats: ScanStats,
    /// The first [`KEPT_ERRORS`] problems, in file and line order.
    pub errors: Vec<LineError>,
    /// Where each file's reading stopped, by [`FileId`]: a live reader carries on from
    /// there.
    pub ends: Vec<FileEnd>,
    /// Files that could not be opened or read for want of file descriptors (`EMFILE`,
    /// `ENFILE`), in id order: a live reader tries them again once some are free.
    pub retry: Vec<FileId>,
}

/// Where the scan stopped reading one file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileEnd {
    /// Bytes read: just past the last line handed out.
    pub offset: u64,
    /// Lines handed out.
    pub lines: u64,
    /// The file's identity when it was read (device and inode on Unix; 0 elsewhere).
    pub identity: (u64, u64),
    /// A hash of its first bytes as read (see [`crate::tail::fingerprint`]); only when
    /// the scan holds partial last lines back, that is, for a live reader.
    pub fingerprint: Option<u64>,
    /// The run of response lines the file ended in: a live reader goes on counting a
    /// response's content from there.
    pub run: Run,
    /// The newest timestamp of a usage line in the file.
    pub newest_ms: Option<i64>,
    /// The file ends inside an unfinished line longer than [`MAX_LINE_BYTES`], this many
    /// bytes of it passed over (included in `offset`).
    pub skipping: Option<u64>,
}

/// How a scan reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// Threads; `None` uses every core.
    pub threads: Option<usize>,
    /// Leave a last line without its newline unread: a writer may be in the middle of it,
    /// and a live reader will pick it up whole. A one-shot report reads it.
    pub hold_partial_last: bool,
}

struct Worker {
    stats: ScanStats,
    errors: Vec<LineError>,
    ends: Vec<(FileId, FileEnd)>,
    retry: Vec<FileId>,
    hold_partial_last: bool,
}

/// What the workers share: the one ledger and its model table.
#[derive(Default)]
struct Shared {
    ledger: Ledger,
    models: Models,
}

/// Reads every transcript. `threads` of `None` uses every core.
pub fn scan(transcripts: Vec<Transcript>, threads: Option<usize>) -> Scan {
    scan_with(
        transcripts,
        ScanOptions {
            threads,
            hold_partial_last: false,
        },
    )
}

/// Reads every transcript, as `options` say.
pub fn scan_with(transcripts: Vec<Transcript>, options: ScanOptions) -> Scan {
    let threads = options.threads;
    let mut files = Files::default();
    // Largest first (sizes as listed: a file that grew since is only read later than it
    // might be); equal sizes in path order, so the queue itself is deterministic.
    let mut queue: Vec<(u64, FileId)> = transcripts
        .into_iter()
        .map(|t| {
            let id = files.add(FileMeta {
                path: t.path,
                project: t.project,
                session: t.session,
            });
            (t.len, id)
        })
        .collect();
    queue.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));

    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, queue.len().max(1));
    let next = AtomicUsize::new(0);
    let shared = Mutex::new(Shared::default());
    let workers: Vec<Worker> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut w = Worker {
                        stats: ScanStats::default(),
                        errors: Vec::new(),
                        ends: Vec::new(),
                        retry: Vec::new(),
                        hold_partial_last: options.hold_partial_last,
                    };
                    let mut buf = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(_, id)) = queue.get(i) else { break };
                        let (mut ledger, models) = read_file(&files, id, &mut w, &mut buf);
                        let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
                        let Shared {
                            ledger: all,
                            models: all_models,
                        } = &mut *guard;
                        let map: Vec<ModelId> =
                            models.names().map(|n| all_models.intern(n)).collect();
                        ledger.remap_models(&map);
                        all.merge(ledger, &files);
                    }
                    w
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });

    let Shared { ledger, models } = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    let mut out = Scan {
        ends: vec![FileEnd::default(); files.len()],
        files,
        models,
        ledger,
        ..Scan::default()
    };
    for mut w in workers {
        out.stats.add(&w.stats);
        out.errors.append(&mut w.errors);
        for (id, end) in w.ends {
            out.ends[id as usize] = end;
        }
        out.retry.append(&mut w.retry);
    }
    out.retry.sort_unstable();
    out.errors
        .sort_by(|a, b| path_order(&a.path, &b.path).then(a.line.cmp(&b.line)));
    out.errors.truncate(KEPT_ERRORS);
    out
}

/// Reads one file into a ledger and model table of its own.
fn read_file(files: &Files, id: FileId, w: &mut Worker, buf: &mut Vec<u8>) -> (Ledger, Models) {
    let mut ledger = Ledger::default();
    let mut models = Models::default();
    let path = &files.get(id).path;
    let push_error = |errors: &mut Vec<LineError>, line: u64, message: String| {
        // Each worker keeps enough to fill the final list on its own.
        if errors.len() < KEPT_ERRORS {
            errors.push(LineError {
                path: path.clone(),
                line,
                message,
            });
        }
    };
    let file = match open_regular(path) {
        Ok(f) => f,
        Err(e) => {
            w.stats.unreadable_files += 1;
            if out_of_descriptors(e.raw_os_error()) {
                w.retry.push(id);
            }
            push_error(&mut w.errors, 0, e.to_string());
            return (ledger, models);
        }
    };
    w.stats.files += 1;
    let identity = file.metadata().map_or((0, 0), |m| file_identity(&m));
    let Worker {
        stats,
        errors,
        ends,
        retry,
        hold_partial_last,
    } = w;
    let mut run = Run::default();
    let mut newest_ms = None;
    let start = Start {
        line: 1,
        skipping: None,
    };
    let result = read_lines(
        &file,
        start,
        !*hold_partial_last,
        MAX_LINE_BYTES,
        buf,
        |line_no, piece| {
            stats.lines += 1;
            let line = match piece {
                Piece::Line(line) => line,
                Piece::TooLong(_) => {
                    stats.long_lines += 1;
                    push_error(errors, line_no, too_long_message());
                    return;
                }
            };
            match parse_line(line) {
                Ok(None) => {}
                Ok(Some(rec)) => {
                    stats.usage_lines += 1;
                    stats.lenient_lines += u64::from(!rec.canonical);
                    stats.newest_ms = stats.newest_ms.max(Some(rec.ts_ms));
                    newest_ms = newest_ms.max(Some(rec.ts_ms));
                    let model = rec.model.as_deref().map(|m| models.intern(m));
                    let line32 = u32::try_from(line_no).unwrap_or(u32::MAX);
                    let entry = Entry::new(&rec, model, id, line32);
                    run.offer(&mut ledger, rec.key, rec.content_hash, entry, files);
                }
                Err(problem) => {
                    stats.bad_lines += 1;
                    push_error(errors, line_no, problem.to_string());
                }
            }
        },
    );
    match result {
        Ok(end) => {
            stats.bytes += end.consumed;
            let fingerprint = if *hold_partial_last {
                fingerprint(&file, end.consumed.min(FINGERPRINT_BYTES)).ok()
            } else {
                None
            };
            ends.push((
                id,
                FileEnd {
                    offset: end.consumed,
                    lines: end.lines,
                    identity,
                    fingerprint,
                    run,
                    newest_ms,
                    skipping: end.skipping,
                },
            ));
        }
        Err(e) => {
            stats.unreadable_files += 1;
            if out_of_descriptors(e.raw_os_error()) {
                retry.push(id);
            }
            push_error(errors, 0, format!("read failed: {e}"));
        }
    }
    (ledger, models)
}

/// What an outsize line is reported as: `line longer than 64 MiB, skipped`.
pub fn too_long_message() -> String {
    format!("line longer than {} MiB, skipped", MAX_LINE_BYTES >> 20)
}

/// A file's identity: device and inode, which survive a rename and change when a file is
/// replaced by another of the same name.
#[cfg(unix)]
pub fn file_identity(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

/// A file's identity: not available on this platform, so files are told apart by size
/// and content alone.
#[cfg(not(unix))]
pub fn file_identity(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roots::{Root, survey};

    #[test]
    fn an_outsize_line_is_reported_counted_apart_and_passed_over() {
        let d = std::env::temp_dir().join(format!("redline-scan-huge-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let projects = d.join("projects");
        std::fs::create_dir_all(projects.join("-p")).unwrap();
        let path = projects.join("-p/s.jsonl");
        let mut text = String::from("{}\n");
        text.push_str(&"x".repeat(MAX_LINE_BYTES + 10));
        text.push_str("\nnot json\n");
        std::fs::write(&path, &text).unwrap();
        let listing = survey(&[Root {
            projects,
            explicit: true,
        }]);
        for hold in [false, true] {
            let s = scan_with(
                listing.transcripts.clone(),
                ScanOptions {
                    threads: Some(1),
                    hold_partial_last: hold,
                },
            );
            assert_eq!(
                (s.stats.lines, s.stats.long_lines, s.stats.bad_lines),
                (3, 1, 1)
            );
            assert_eq!(s.stats.bytes, text.len() as u64);
            assert_eq!(
                s.errors[0].to_string(),
                format!("{}:2: line longer than 64 MiB, skipped", path.display())
            );
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
