//! Splits a byte stream into lines with `memchr`, in a bounded, reused buffer.
//!
//! The buffer grows only to the longest line seen, and never past [`MAX_LINE_BYTES`]:
//! a longer line is handed out as [`Piece::TooLong`] (its length only) and the rest of
//! it is streamed past without being held, so one outsize line (a runaway tool result, a
//! file that is not a transcript) costs at most that much memory, for as long as it is
//! being read; the buffer is given back afterwards. Whole files are never loaded. A last
//! line without its newline is either handed out (a cold scan of a finished file) or held
//! back with its offset (a live tail waiting for the writer to finish the line); an
//! outsize one being written is passed over as it grows ([`ReadEnd::skipping`]).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::roots::NOT_REGULAR;

const CHUNK: usize = 256 * 1024;

/// The longest line read, in bytes (64 MiB). Claude Code's own lines are a few kB, a few
/// MB with a big tool result; a longer line is reported (`path:line: line longer than 64
/// MiB, skipped`), counted apart from broken lines, and passed over.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// After a read that grew the buffer past this, it is shrunk back to one chunk: memory
/// taken for one long line is given back.
pub const KEPT_BUFFER_BYTES: usize = 4 * CHUNK;

/// One line, as handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A line, without its `\n` (and without a `\r` before it).
    Line(&'a [u8]),
    /// A line longer than the limit, of this many bytes: not read.
    TooLong(u64),
}

/// What a read reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadEnd {
    /// Bytes consumed: the offset just past the last complete line handed out (or past the
    /// final partial line, when it was handed out too, or past what was passed over of an
    /// outsize line still being written).
    pub consumed: u64,
    /// Lines handed out (outsize ones included).
    pub lines: u64,
    /// Length of an unfinished last line that was held back (0 when none).
    pub held: u64,
    /// The read ended inside an unfinished outsize line, this many bytes of it passed
    /// over: the next read starts there (see [`Start::skipping`]).
    pub skipping: Option<u64>,
}

/// Where a read starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    /// The number of the first line (1-based).
    pub line: u64,
    /// The source starts inside an outsize line of which this many bytes were passed
    /// over already (a previous read's [`ReadEnd::skipping`]).
    pub skipping: Option<u64>,
}

/// Reads `src` to its end and calls `each(line_number, piece)` for every line, numbered
/// from `first_line` (1-based), lines longer than [`MAX_LINE_BYTES`] as
/// [`Piece::TooLong`]. `partial_last` says whether a last line lacking its newline is
/// handed out too.
pub fn for_each_line<R: Read>(
    src: R,
    first_line: u64,
    partial_last: bool,
    buf: &mut Vec<u8>,
    each: impl FnMut(u64, Piece<'_>),
) -> io::Result<ReadEnd> {
    read_lines(
        src,
        Start {
            line: first_line,
            skipping: None,
        },
        partial_last,
        MAX_LINE_BYTES,
        buf,
        each,
    )
}

/// [`for_each_line`], from `start`, with lines longer than `max_line` bytes handed out as
/// [`Piece::TooLong`].
pub fn read_lines<R: Read>(
    mut src: R,
    start_at: Start,
    partial_last: bool,
    max_line: usize,
    buf: &mut Vec<u8>,
    mut each: impl FnMut(u64, Piece<'_>),
) -> io::Result<ReadEnd> {
    let max_line = max_line.max(1);
    // buf[start..end] is read but not yet handed out. The buffer is zeroed only when it
    // grows (a line longer than it), never per read.
    if buf.len() < CHUNK {
        buf.resize(CHUNK, 0);
    }
    let (mut start, mut end) = (0usize, 0usize);
    let mut consumed = 0u64;
    let mut line_no = start_at.line;
    // Bytes of an outsize line passed over so far: none of it is in the buffer.
    let mut skip = start_at.skipping;
    let result = loop {
        // Where newlines not yet seen can be.
        let mut search_from;
        if let Some(passed) = skip {
            // The buffer holds nothing: read into all of it, looking only for the newline.
            let n = match src.read(&mut buf[..]) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            };
            match memchr::memchr(b'\n', &buf[..n]) {
                Some(i) => {
                    each(line_no, Piece::TooLong(passed + i as u64));
                    line_no += 1;
                    consumed += i as u64 + 1;
                    skip = None;
                    (start, end) = (i + 1, n);
                    search_from = start;
                }
                None => {
                    skip = Some(passed + n as u64);
                    consumed += n as u64;
                    continue;
                }
            }
        } else {
            if end == buf.len() {
                if start > 0 {
                    buf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                } else if end > max_line {
                    // More than the limit and no newline yet: pass over the rest.
                    skip = Some(end as u64);
                    consumed += end as u64;
                    (start, end) = (0, 0);
                    continue;
                } else {
                    let grown = (buf.len() * 2).min(max_line + 1).max(buf.len() + 1);
                    buf.resize(grown, 0);
                }
            }
            let n = match src.read(&mut buf[end..]) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            };
            // Only the new bytes can hold newlines not yet seen.
            search_from = end;
            end += n;
        }
        // Hand out the complete lines in buf[start..end].
        while let Some(i) = memchr::memchr(b'\n', &buf[search_from..end]) {
            let nl = search_from + i;
            each(line_no, piece(&buf[start..nl], max_line));
            line_no += 1;
            consumed += (nl + 1 - start) as u64;
            start = nl + 1;
            search_from = start;
        }
    };
    let mut held = 0;
    let mut skipping = None;
    if result.is_ok() {
        if let Some(passed) = skip {
            if partial_last {
                each(line_no, Piece::TooLong(passed));
                line_no += 1;
            } else {
                skipping = Some(passed);
            }
        } else {
            let rest = &buf[start..end];
            if !rest.is_empty() {
                if partial_last {
                    each(line_no, piece(rest, max_line));
                    line_no += 1;
                    consumed += rest.len() as u64;
                } else {
                    held = rest.len() as u64;
                }
            }
        }
    }
    // A long line's memory goes back now, not when the next long line comes.
    if buf.len() > KEPT_BUFFER_BYTES {
        buf.truncate(CHUNK);
        buf.shrink_to_fit();
    }
    result?;
    Ok(ReadEnd {
        consumed,
        lines: line_no - start_at.line,
        held,
        skipping,
    })
}

/// Opens `path` for reading when it is a regular file (after symbolic links), and never
/// blocks doing it: a FIFO named `*.jsonl` would otherwise hang the open until a writer
/// came. Anything else is refused with an error that [`is_not_regular`] recognises. The
/// file is opened `O_NONBLOCK` on Unix, against one replaced by a FIFO between the check
/// and the open (a regular file's reads ignore the flag, so it is left set).
pub fn open_regular(path: &Path) -> io::Result<File> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

#[derive(Debug)]
struct NotRegular;

impl std::fmt::Display for NotRegular {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(NOT_REGULAR)
    }
}

impl std::error::Error for NotRegular {}

fn not_regular() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, NotRegular)
}

/// Whether [`open_regular`] refused a file for not being a regular one.
pub fn is_not_regular(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<NotRegular>())
}

fn piece(line: &[u8], max_line: usize) -> Piece<'_> {
    if line.len() > max_line {
        Piece::TooLong(line.len() as u64)
    } else {
        Piece::Line(trim_cr(line))
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per call, to cut lines anywhere.
    struct Dribble<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Dribble<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(self.data.len()).min(out.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn lines(data: &[u8], step: usize, partial: bool) -> (Vec<(u64, String)>, ReadEnd) {
        let mut got = Vec::new();
        let mut buf = Vec::new();
        let end = for_each_line(Dribble { data, step }, 1, partial, &mut buf, |n, p| {
            got.push((n, text(p)))
        })
        .unwrap();
        (got, end)
    }

    #[test]
    fn lines_survive_any_read_boundary() {
        let data = b"a\r\nbb\n\nccc\npartial";
        for step in [1, 2, 3, 5, 1000] {
            let (got, end) = lines(data, step, false);
            let want: Vec<(u64, String)> = [(1, "a"), (2, "bb"), (3, ""), (4, "ccc")]
                .map(|(n, s)| (n, s.into()))
                .to_vec();
            assert_eq!(got, want, "step {step}");
            assert_eq!(
                end,
                ReadEnd {
                    consumed: 11,
                    lines: 4,
                    held: 7,
                    skipping: None
                }
            );
            let (got, end) = lines(data, step, true);
            assert_eq!(got.last().unwrap(), &(5, "partial".to_string()));
            assert_eq!(
                end,
                ReadEnd {
                    consumed: data.len() as u64,
                    lines: 5,
                    held: 0,
                    skipping: None
                }
            );
        }
    }

    #[test]
    fn a_line_longer_than_a_chunk_is_whole() {
        let long = vec![b'x'; CHUNK * 2 + 17];
        let mut data = long.clone();
        data.extend_from_slice(b"\nend\n");
        let (got, _) = lines(&data, CHUNK / 3, false);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1.len(), long.len());
        assert_eq!(got[1], (2, "end".to_string()));
    }

    fn text(p: Piece<'_>) -> String {
        match p {
            Piece::Line(l) => String::from_utf8_lossy(l).into_owned(),
            Piece::TooLong(n) => format!("<{n} bytes>"),
        }
    }

    fn small(data: &[u8], step: usize, at: Start, partial: bool) -> (Vec<(u64, String)>, ReadEnd) {
        let mut got = Vec::new();
        let mut buf = Vec::new();
        let end = read_lines(Dribble { data, step }, at, partial, 10, &mut buf, |n, p| {
            got.push((n, text(p)))
        })
        .unwrap();
        (got, end)
    }

    #[test]
    fn a_line_over_the_limit_is_reported_and_passed_over() {
        let long = "y".repeat(CHUNK * 3 + 5);
        let data = format!("short\n{long}\r\nafter\n0123456789\n01234567890\n");
        for step in [1, 7, 1000, CHUNK, usize::MAX] {
            if step == 1 && data.len() > 100_000 {
                continue;
            }
            let at = Start {
                line: 1,
                skipping: None,
            };
            let (got, end) = small(data.as_bytes(), step, at, false);
            let want = [
                (1, "short".to_string()),
                (2, format!("<{} bytes>", long.len() + 1)),
                (3, "after".into()),
                (4, "0123456789".into()),
                (5, "<11 bytes>".into()),
            ];
            assert_eq!(got, want, "step {step}");
            assert_eq!(end.consumed, data.len() as u64);
            assert_eq!((end.lines, end.held, end.skipping), (5, 0, None));
        }
    }

    #[test]
    fn an_unfinished_outsize_line_is_passed_over_as_it_grows() {
        // A tail sees the first part; the writer has not finished the line.
        let first = format!("a\n{}", "z".repeat(CHUNK + 100));
        let at = Start {
            line: 1,
            skipping: None,
        };
        let (got, end) = small(first.as_bytes(), 4096, at, false);
        assert_eq!(got, vec![(1, "a".to_string())]);
        assert_eq!(
            end.consumed,
            first.len() as u64,
            "the outsize part is passed"
        );
        assert_eq!((end.lines, end.held), (1, 0));
        assert_eq!(end.skipping, Some(CHUNK as u64 + 100));
        // The next look starts where that stopped.
        let rest = "zzz\nb\n";
        let at = Start {
            line: 2,
            skipping: end.skipping,
        };
        let (got, end) = small(rest.as_bytes(), 2, at, false);
        assert_eq!(
            got,
            vec![
                (2, format!("<{} bytes>", CHUNK + 103)),
                (3, "b".to_string())
            ]
        );
        assert_eq!((end.consumed, end.skipping), (rest.len() as u64, None));
        // A finished file's outsize last line is reported too.
        let at = Start {
            line: 1,
            skipping: None,
        };
        let (got, _) = small("x\n0123456789ab".as_bytes(), 3, at, true);
        assert_eq!(got, vec![(1, "x".into()), (2, "<12 bytes>".into())]);
    }

    /// `len` bytes of `x`, a newline, then `tail`; records the largest read asked for.
    struct Huge {
        left: usize,
        tail: &'static [u8],
        largest: usize,
    }

    impl Read for Huge {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.largest = self.largest.max(out.len());
            if self.left > 0 {
                let n = self.left.min(out.len()).min(1 << 20);
                out[..n].fill(b'x');
                self.left -= n;
                return Ok(n);
            }
            let n = self.tail.len().min(out.len());
            out[..n].copy_from_slice(&self.tail[..n]);
            self.tail = &self.tail[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_huge_line_takes_bounded_memory_and_gives_it_back() {
        let len = MAX_LINE_BYTES + (3 << 20);
        let mut src = Huge {
            left: len,
            tail: b"\n{\"after\":1}\n",
            largest: 0,
        };
        let mut buf = Vec::new();
        let mut got = Vec::new();
        let end =
            for_each_line(&mut src, 1, true, &mut buf, |n, p| got.push((n, text(p)))).unwrap();
        assert_eq!(
            got,
            vec![
                (1, format!("<{len} bytes>")),
                (2, "{\"after\":1}".to_string())
            ]
        );
        assert_eq!(end.consumed, len as u64 + 13);
        assert!(
            src.largest <= MAX_LINE_BYTES + 1,
            "the buffer grew to {} bytes",
            src.largest
        );
        assert!(
            buf.capacity() <= KEPT_BUFFER_BYTES,
            "{} bytes kept after the line",
            buf.capacity()
        );
    }
}
