//! Following files as they grow: where each one was read to, and what to do when it
//! changes under us.
//!
//! A file is known by its identity (device and inode), not its name. A look at a file
//! reads whatever complete lines were appended since the last look; a last line without its
//! newline stays unread until the writer finishes it. A file that got shorter, whose byte
//! before the read offset is no longer a newline or whose first bytes changed (rewritten
//! in place), or whose name now points at another file (replaced) is read again from its
//! start: the caller is told
//! first, so it can pass over what it already counted. A file that disappears is
//! forgotten; what was counted from it stays counted. This module knows nothing of
//! notifications: the caller decides when to look.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::Path;

use crate::ledger::FileId;
use crate::reader::{MAX_LINE_BYTES, Piece, Start, is_not_regular, open_regular, read_lines};
use crate::scan::{FileEnd, file_identity};

/// Why a file is read again from its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// It got shorter, or was rewritten in place.
    Truncated,
    /// The name now points at another file.
    Replaced,
}

/// What a look hands to its caller, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TailEvent<'a> {
    /// The file is read again from its start, for this reason; its lines follow.
    Restart(Restart),
    /// A complete new line (without its newline), with its 1-based number.
    Line(u64, &'a [u8]),
    /// A line longer than [`MAX_LINE_BYTES`], with its number and length: passed over
    /// unread (the caller reports it).
    TooLong(u64, u64),
}

/// What one look at a file found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Look {
    /// Set when the file was read again from its start.
    pub restart: Option<Restart>,
    /// Complete lines handed out.
    pub lines: u64,
    /// Bytes of an unfinished last line left for the next look.
    pub held: u64,
    /// The file is gone (deleted or moved away).
    pub gone: bool,
    /// The name is not a regular file (a FIFO, a socket, a device): not opened, not read.
    pub not_regular: bool,
}

#[derive(Clone, Copy, Debug)]
struct TailState {
    identity: (u64, u64),
    offset: u64,
    next_line: u64,
    /// A hash of the file's first `fp_len` bytes as last read; `None` until known.
    fingerprint: Option<(u64, u64)>,
    /// `offset` is inside an unfinished outsize line, this many bytes of it passed over.
    skipping: Option<u64>,
}

/// How many leading bytes fingerprint a file: enough to cover its first line (session
/// metadata and the first message differ between any two transcripts).
pub const FINGERPRINT_BYTES: u64 = 4096;

/// Read positions of every file followed, by [`FileId`] (a path's id in the caller's
/// file table: a few dozen bytes a file, however long its path).
#[derive(Debug, Default)]
pub struct Tailer {
    files: Vec<Option<TailState>>,
    followed: usize,
    buf: Vec<u8>,
}

impl Tailer {
    /// Carries on from where a cold scan stopped reading file `id`.
    pub fn adopt(&mut self, id: FileId, end: FileEnd) {
        let fingerprint = end
            .fingerprint
            .map(|hash| (end.offset.min(FINGERPRINT_BYTES), hash));
        self.set(
            id,
            Some(TailState {
                identity: end.identity,
                offset: end.offset,
                next_line: end.lines + 1,
                fingerprint,
                skipping: end.skipping,
            }),
        );
    }

    fn set(&mut self, id: FileId, state: Option<TailState>) {
        let i = id as usize;
        if self.files.len() <= i {
            self.files.resize(i + 1, None);
        }
        self.followed =
            self.followed + usize::from(state.is_some()) - usize::from(self.files[i].is_some());
        self.files[i] = state;
    }

    /// Number of files followed.
    pub fn len(&self) -> usize {
        self.followed
    }

    /// Whether no file is followed.
    pub fn is_empty(&self) -> bool {
        self.followed == 0
    }

    /// Whether file `id` is followed.
    pub fn follows(&self, id: FileId) -> bool {
        self.files.get(id as usize).is_some_and(Option::is_some)
    }

    /// Reads what is new in file `id` at `path`, handing each [`TailEvent`] to `each`: a restart before a
    /// file is read again from its start, then every complete new line. A file seen for the
    /// first time is read from its start (without a restart).
    pub fn look(
        &mut self,
        id: FileId,
        path: &Path,
        mut each: impl FnMut(TailEvent<'_>),
    ) -> io::Result<Look> {
        // Only a regular file is opened: opening a FIFO would wait for a writer.
        let not_regular = Look {
            not_regular: true,
            ..Look::default()
        };
        let opened = open_regular(path);
        let mut file = match opened {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.forget(id);
                return Ok(Look {
                    gone: true,
                    ..Look::default()
                });
            }
            Err(e) if is_not_regular(&e) => {
                self.forget(id);
                return Ok(not_regular);
            }
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Ok(not_regular);
        }
        let identity = file_identity(&meta);
        let fresh = TailState {
            identity,
            offset: 0,
            next_line: 1,
            fingerprint: None,
            skipping: None,
        };
        if !self.follows(id) {
            self.set(id, Some(fresh));
        }
        let Some(state) = self.files[id as usize].as_mut() else {
            return Ok(Look::default());
        };
        let why = if state.identity != identity {
            Some(Restart::Replaced)
        } else if meta.len() < state.offset
            // Inside an outsize line there is no newline before the offset to check.
            || (state.skipping.is_none() && !ends_a_line(&file, state.offset)?)
            || state
                .fingerprint
                .is_some_and(|(len, hash)| fingerprint(&file, len).ok() != Some(hash))
        {
            Some(Restart::Truncated)
        } else {
            None
        };
        if let Some(why) = why {
            each(TailEvent::Restart(why));
            *state = fresh;
        }
        let mut look = Look {
            restart: why,
            ..Look::default()
        };
        if meta.len() == state.offset {
            return Ok(look);
        }
        file.seek(SeekFrom::Start(state.offset))?;
        let file_for_fp = file.try_clone()?;
        let start = Start {
            line: state.next_line,
            skipping: state.skipping,
        };
        let end = read_lines(
            file,
            start,
            false,
            MAX_LINE_BYTES,
            &mut self.buf,
            |n, piece| match piece {
                Piece::Line(line) => each(TailEvent::Line(n, line)),
                Piece::TooLong(len) => each(TailEvent::TooLong(n, len)),
            },
        )?;
        state.offset += end.consumed;
        state.next_line += end.lines;
        state.skipping = end.skipping;
        let fp_len = state.offset.min(FINGERPRINT_BYTES);
        if state.fingerprint.is_none_or(|(len, _)| len < fp_len) {
            state.fingerprint = Some((fp_len, fingerprint(&file_for_fp, fp_len)?));
        }
        look.lines = end.lines;
        look.held = end.held;
        Ok(look)
    }

    /// Stops following file `id`.
    pub fn forget(&mut self, id: FileId) {
        if self.follows(id) {
            self.set(id, None);
        }
    }
}

/// A hash of the first `len` bytes: a file rewritten in place to the same length or
/// longer has other first bytes.
pub fn fingerprint(file: &File, len: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; len as usize];
    let mut at = 0;
    while at < buf.len() {
        match read_at(file, &mut buf[at..], at as u64)? {
            0 => break,
            n => at += n,
        }
    }
    Ok(xxhash_rust::xxh3::xxh3_64(&buf[..at]))
}

/// Whether the byte before `offset` is a newline (or `offset` is 0): what was read up to
/// there is still a whole line, so the file was appended to, not rewritten.
fn ends_a_line(file: &File, offset: u64) -> io::Result<bool> {
    if offset == 0 {
        return Ok(true);
    }
    let mut byte = [0u8; 1];
    let n = read_at(file, &mut byte, offset - 1)?;
    Ok(n == 1 && byte[0] == b'\n')
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::io::Read;
    let mut f = file.try_clone()?;
    f.seek(SeekFrom::Start(offset))?;
    f.read(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn dir(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("redline-tail-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn append(path: &Path, bytes: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(bytes.as_bytes()).unwrap();
    }
    fn look(t: &mut Tailer, path: &Path) -> (Look, Vec<(u64, String)>, Option<Restart>) {
        let id = 7;
        let mut lines = Vec::new();
        let mut why = None;
        let l = t
            .look(id, path, |ev| match ev {
                TailEvent::Restart(r) => why = Some(r),
                TailEvent::Line(n, b) => lines.push((n, String::from_utf8_lossy(b).into_owned())),
                TailEvent::TooLong(n, len) => lines.push((n, format!("<{len} bytes>"))),
            })
            .unwrap();
        (l, lines, why)
    }

    #[test]
    fn appends_partial_lines_truncation_replacement_and_deletion() {
        let d = dir("cases");
        let p = d.0.join("s.jsonl");
        let mut t = Tailer::default();
        append(&p, "a\nb\nhal");
        let (l, lines, why) = look(&mut t, &p);
        assert_eq!(lines, vec![(1, "a".into()), (2, "b".into())]);
        assert_eq!((l.held, why), (3, None));
        // The second half arrives.
        append(&p, "f\n");
        let (_, lines, _) = look(&mut t, &p);
        assert_eq!(lines, vec![(3, "half".into())]);
        // Nothing new: nothing read.
        assert_eq!(look(&mut t, &p).1, vec![]);
        // Truncated and rewritten shorter.
        std::fs::write(&p, "x\n").unwrap();
        let (l, lines, why) = look(&mut t, &p);
        assert_eq!(
            (why, l.restart),
            (Some(Restart::Truncated), Some(Restart::Truncated))
        );
        assert_eq!(lines, vec![(1, "x".into())]);
        // Rewritten in place to the same length or longer: the byte before the offset
        // is no longer a newline.
        std::fs::write(&p, "yyyyyy\n").unwrap();
        let (_, lines, why) = look(&mut t, &p);
        assert_eq!(why, Some(Restart::Truncated));
        assert_eq!(lines, vec![(1, "yyyyyy".into())]);
        // Rewritten in place with other content of exactly the same length.
        std::fs::write(&p, "zzzzzz\n").unwrap();
        let (_, lines, why) = look(&mut t, &p);
        assert_eq!(why, Some(Restart::Truncated));
        assert_eq!(lines, vec![(1, "zzzzzz".into())]);
        // Replaced by another file under the same name.
        let q = d.0.join("new.tmp");
        std::fs::write(&q, "yyyyyy\nz\n").unwrap();
        std::fs::rename(&q, &p).unwrap();
        let (_, lines, why) = look(&mut t, &p);
        assert_eq!(why, Some(Restart::Replaced));
        assert_eq!(lines.len(), 2);
        // Deleted.
        std::fs::remove_file(&p).unwrap();
        assert_eq!(t.len(), 1);
        assert!(look(&mut t, &p).0.gone);
        assert!(!t.follows(7) && t.is_empty());
    }

    #[test]
    fn adopting_a_scan_end_reads_only_what_came_after() {
        let d = dir("adopt");
        let p = d.0.join("s.jsonl");
        append(&p, "one\ntwo\n");
        let meta = std::fs::metadata(&p).unwrap();
        let mut t = Tailer::default();
        t.adopt(
            7,
            FileEnd {
                offset: 8,
                lines: 2,
                identity: file_identity(&meta),
                fingerprint: Some(fingerprint(&File::open(&p).unwrap(), 8).unwrap()),
                run: Default::default(),
                newest_ms: None,
                skipping: None,
            },
        );
        append(&p, "three\n");
        let (_, lines, why) = look(&mut t, &p);
        assert_eq!(why, None);
        assert_eq!(lines, vec![(3, "three".into())]);
    }

    /// Runs `f` on a thread of its own and fails if it has not finished within five
    /// seconds (a blocked `open` never returns: the thread is left behind).
    fn within_5s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(5))
            .expect("hung: still blocked after 5 s")
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_link_to_one_is_not_opened() {
        let d = dir("fifo");
        let fifo = d.0.join("f.jsonl");
        crate::roots::tests::mkfifo(&fifo);
        let link = d.0.join("l.jsonl");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        for p in [fifo, link] {
            let l = within_5s(move || {
                let mut t = Tailer::default();
                let l = look(&mut t, &p).0;
                (l, t.follows(7))
            });
            assert_eq!(
                l,
                (
                    Look {
                        not_regular: true,
                        ..Look::default()
                    },
                    false
                )
            );
        }
    }

    #[test]
    fn an_outsize_line_being_written_is_passed_over_once() {
        let d = dir("huge");
        let p = d.0.join("s.jsonl");
        let mut t = Tailer::default();
        append(&p, "a\n");
        assert_eq!(look(&mut t, &p).1, vec![(1, "a".into())]);
        // The line grows past the limit over several looks.
        let part = "x".repeat(MAX_LINE_BYTES / 2 + 1);
        for _ in 0..3 {
            append(&p, &part);
            let (l, lines, why) = look(&mut t, &p);
            assert_eq!((lines, why), (vec![], None));
            assert!(l.held <= MAX_LINE_BYTES as u64);
        }
        assert!(t.buf.capacity() <= crate::reader::KEPT_BUFFER_BYTES);
        append(&p, "\nb\n");
        let (_, lines, why) = look(&mut t, &p);
        assert_eq!(why, None, "an outsize line is not a rewrite");
        assert_eq!(
            lines,
            vec![(2, format!("<{} bytes>", part.len() * 3)), (3, "b".into())]
        );
        assert!(t.buf.capacity() <= crate::reader::KEPT_BUFFER_BYTES);
    }
}
