//! Splits a byte stream into lines with `memchr`, in a bounded, reused buffer.
//!
//! The buffer grows only to the longest line seen; whole files are never loaded. A last
//! line without its newline is either handed out (a cold scan of a finished file) or held
//! back with its offset (a live tail waiting for the writer to finish the line).

use std::io::{self, Read};

const CHUNK: usize = 256 * 1024;

/// What a read reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadEnd {
    /// Bytes consumed: the offset just past the last complete line handed out (or past the
    /// final partial line, when it was handed out too).
    pub consumed: u64,
    /// Lines handed out.
    pub lines: u64,
    /// Length of an unfinished last line that was held back (0 when none).
    pub held: u64,
}

/// Reads `src` to its end and calls `each(line_number, line)` for every line, numbered
/// from `first_line` (1-based), without its `\n` (and without a `\r` before it).
/// `partial_last` says whether a last line lacking its newline is handed out too.
pub fn for_each_line<R: Read>(
    mut src: R,
    first_line: u64,
    partial_last: bool,
    buf: &mut Vec<u8>,
    mut each: impl FnMut(u64, &[u8]),
) -> io::Result<ReadEnd> {
    // buf[start..end] is read but not yet handed out. The buffer is zeroed only when it
    // grows (a line longer than it), never per read.
    if buf.len() < CHUNK {
        buf.resize(CHUNK, 0);
    }
    let (mut start, mut end) = (0usize, 0usize);
    let mut consumed = 0u64;
    let mut line_no = first_line;
    loop {
        if end == buf.len() {
            if start > 0 {
                buf.copy_within(start..end, 0);
                end -= start;
                start = 0;
            } else {
                buf.resize(buf.len() * 2, 0);
            }
        }
        let n = match src.read(&mut buf[end..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // Only the new bytes can hold newlines not yet seen.
        let mut search_from = end;
        end += n;
        while let Some(i) = memchr::memchr(b'\n', &buf[search_from..end]) {
            let nl = search_from + i;
            each(line_no, trim_cr(&buf[start..nl]));
            line_no += 1;
            consumed += (nl + 1 - start) as u64;
            start = nl + 1;
            search_from = start;
        }
    }
    let rest = &buf[start..end];
    let mut held = 0;
    if !rest.is_empty() {
        if partial_last {
            each(line_no, trim_cr(rest));
            line_no += 1;
            consumed += rest.len() as u64;
        } else {
            held = rest.len() as u64;
        }
    }
    Ok(ReadEnd {
        consumed,
        lines: line_no - first_line,
        held,
    })
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
        let end = for_each_line(Dribble { data, step }, 1, partial, &mut buf, |n, l| {
            got.push((n, String::from_utf8_lossy(l).into_owned()))
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
                    held: 7
                }
            );
            let (got, end) = lines(data, step, true);
            assert_eq!(got.last().unwrap(), &(5, "partial".to_string()));
            assert_eq!(
                end,
                ReadEnd {
                    consumed: data.len() as u64,
                    lines: 5,
                    held: 0
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
}
