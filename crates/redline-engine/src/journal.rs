//! A crash-safe, append-only log of serde records: what OpenTelemetry senders delivered
//! (which cannot be fetched again) and rollups of transcript data, kept under
//! `$XDG_STATE_HOME/redline/`.
//!
//! The file is text a person can read with `less`: a header line
//! `{"redline":"<kind>","version":1}`, then one record per line as
//! `<crc32 of the JSON, 8 lowercase hex digits> <JSON>\n`. An append is one write followed
//! by `sync_data`, so once [`Journal::append`] returns `Ok` the records survive `kill -9`
//! and power loss. A crash can only leave the last line without its newline; replay drops
//! that line and cuts the file back before appending. A complete line that fails its
//! checksum or does not decode is reported as `path:line: message` and skipped, so one
//! bad line never costs the others. Compaction ([`Journal::rewrite`]) writes a temp file,
//! syncs it and renames it over the journal. An exclusive advisory lock keeps a second
//! daemon from writing the same journal; [`Journal::read`] reads without it.

use std::borrow::Borrow;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The format version this code writes and reads.
const VERSION: u32 = 1;

/// An open journal holding the exclusive lock on its file; appends go to its end.
#[derive(Debug)]
pub struct Journal<R> {
    file: File,
    path: PathBuf,
    kind: String,
    /// Bytes of good data in the file: where the next append lands.
    len: u64,
    /// A failed append may have left a partial line past `len`: cut it before writing.
    torn: bool,
    /// A rename whose directory entry may not be durable yet: the next append syncs the
    /// directory before it reports success.
    dir_dirty: bool,
    _records: PhantomData<fn() -> R>,
}

/// What a replay found: the records in file order, and one `path:line: message` for
/// each line that was skipped.
#[derive(Debug)]
pub struct Replay<R> {
    /// The records read intact, in the order they were appended.
    pub records: Vec<R>,
    /// One message per skipped line, naming the file and line.
    pub problems: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    redline: String,
    version: u32,
}

impl<R: Serialize + DeserializeOwned> Journal<R> {
    /// Opens (creating the directory with mode 0700 and the file with a header if missing)
    /// and replays. Takes an exclusive advisory lock, so a second daemon gets an error
    /// that names the path; removes a `<path>.tmp` left by a crash during
    /// [`rewrite`](Self::rewrite) and cuts off a torn last line.
    pub fn open(path: &Path, kind: &str) -> io::Result<(Journal<R>, Replay<R>)> {
        let mut records = Vec::new();
        let (journal, problems) = Journal::open_with(path, kind, |r| records.push(r))?;
        Ok((journal, Replay { records, problems }))
    }

    /// [`open`](Self::open), handing each record to `each` as it is read instead of
    /// keeping them: a large journal replays in the memory of one line.
    pub fn open_with(
        path: &Path,
        kind: &str,
        mut each: impl FnMut(R),
    ) -> io::Result<(Journal<R>, Vec<String>)> {
        let mut dir = fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
        dir.create(parent(path))?;
        // A lock belongs to an inode, and another process's rewrite may rename a new file
        // over the path between our open and our lock: make sure we locked what it names.
        let mut file = loop {
            let file = open_options().create(true).open(path)?;
            lock(&file, path)?;
            if same_file(&file, path)? {
                break file;
            }
        };
        remove_if_there(&tmp_path(path))?;
        let size = file.metadata()?.len();
        let reader = Box::new(BufReader::new(file.try_clone()?));
        let (mut problems, good_len) = parse::<R>(path, kind, reader, &mut each)?;
        let len = match good_len {
            Some(len) => {
                if len < size {
                    file.set_len(len)?;
                    file.sync_data()?;
                }
                len
            }
            None => {
                if size > 0 {
                    let what = "an incomplete header (a write cut short) was written again";
                    problems.push(format!("{}:1: {what}", path.display()));
                }
                let header = header_line(kind);
                file.set_len(0)?;
                file.write_all(&header)?;
                file.sync_data()?;
                sync_dir(path)?;
                header.len() as u64
            }
        };
        let journal = Journal {
            file,
            path: path.to_owned(),
            kind: kind.to_owned(),
            len,
            torn: false,
            dir_dirty: false,
            _records: PhantomData,
        };
        Ok((journal, problems))
    }

    /// Reads a journal without locking or changing it (for `redline report` while the
    /// daemon runs). A missing file is an empty replay.
    pub fn read(path: &Path, kind: &str) -> io::Result<Replay<R>> {
        let mut records = Vec::new();
        let problems = Journal::read_with(path, kind, |r| records.push(r))?;
        Ok(Replay { records, problems })
    }

    /// [`read`](Self::read), handing each record to `each` as it is read.
    pub fn read_with(path: &Path, kind: &str, mut each: impl FnMut(R)) -> io::Result<Vec<String>> {
        match Journal::iter(path, kind)? {
            None => Ok(Vec::new()),
            Some(records) => {
                let mut problems = Vec::new();
                for r in records {
                    match r {
                        Ok(r) => each(r),
                        Err(p) => problems.push(p),
                    }
                }
                Ok(problems)
            }
        }
    }

    /// The records of a journal as a stream, without locking or changing it; `None` for a
    /// missing file or one without a complete header.
    pub fn iter(path: &Path, kind: &str) -> io::Result<Option<Records<R>>> {
        let file = match File::open(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            other => other?,
        };
        Records::start(path, kind, Box::new(BufReader::new(file)))
    }

    /// Appends all records in one write, then `sync_data`. Only after `Ok` may the caller
    /// acknowledge them; after an error, none of them count and the caller may retry.
    pub fn append(&mut self, records: &[R]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for r in records {
            encode(&mut buf, r)?;
        }
        if self.torn {
            // Or the next line would be glued onto the torn one and fail its checksum.
            self.file.set_len(self.len)?;
            self.torn = false;
        }
        let written = self
            .file
            .write_all(&buf)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            self.torn = true;
            return Err(e);
        }
        self.len += buf.len() as u64;
        if self.dir_dirty {
            sync_dir(&self.path)?;
            self.dir_dirty = false;
        }
        Ok(())
    }

    /// Compaction: writes `records` to `<path>.tmp`, syncs it, renames it over the journal,
    /// syncs the directory and goes on appending to the new file. The new file is locked
    /// before the rename, so the lock is never let go. After an error before the rename
    /// the journal is as it was.
    pub fn rewrite<B: Borrow<R>>(
        &mut self,
        records: impl IntoIterator<Item = B>,
    ) -> io::Result<()> {
        let tmp = tmp_path(&self.path);
        remove_if_there(&tmp)?;
        let file = open_options().create_new(true).open(&tmp)?;
        let mut len = 0;
        let written = || -> io::Result<()> {
            let mut out = BufWriter::new(&file);
            let mut buf = header_line(&self.kind);
            out.write_all(&buf)?;
            len = buf.len() as u64;
            for r in records {
                buf.clear();
                encode(&mut buf, r.borrow())?;
                out.write_all(&buf)?;
                len += buf.len() as u64;
            }
            out.flush()?;
            drop(out);
            file.sync_all()?;
            lock(&file, &tmp)?;
            fs::rename(&tmp, &self.path)
        };
        if let Err(e) = written() {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        // The path names the new file now, so switch even if the directory sync fails;
        // the next append retries that sync before it acknowledges anything.
        (self.file, self.len, self.torn, self.dir_dirty) = (file, len, false, true);
        sync_dir(&self.path)?;
        self.dir_dirty = false;
        Ok(())
    }
}

impl<R> Journal<R> {
    /// Bytes in the file now.
    pub fn len_bytes(&self) -> u64 {
        self.len
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads and appends (every write goes to the end); with `create`, makes a private file.
fn open_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn lock(file: &File, path: &Path) -> io::Result<()> {
    file.try_lock().map_err(|e| match e {
        fs::TryLockError::WouldBlock => io::Error::new(
            io::ErrorKind::WouldBlock,
            format!(
                "{}: another redline holds this journal's lock",
                path.display()
            ),
        ),
        fs::TryLockError::Error(e) => e,
    })
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let named = match fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        other => other?,
    };
    let held = file.metadata()?;
    Ok((held.dev(), held.ino()) == (named.dev(), named.ino()))
}

#[cfg(not(unix))]
fn same_file(_: &File, _: &Path) -> io::Result<bool> {
    Ok(true)
}

fn remove_if_there(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes a creation or rename in the journal's directory durable.
fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(parent(path))?.sync_all()
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = OsString::from(path);
    s.push(".tmp");
    s.into()
}

fn header_line(kind: &str) -> Vec<u8> {
    let header = Header {
        redline: kind.to_owned(),
        version: VERSION,
    };
    let mut line = serde_json::to_vec(&header).expect("a header always serializes");
    line.push(b'\n');
    line
}

fn encode<R: Serialize>(buf: &mut Vec<u8>, record: &R) -> io::Result<()> {
    let json = serde_json::to_vec(record).map_err(io::Error::other)?;
    buf.extend_from_slice(format!("{:08x} ", crc32fast::hash(&json)).as_bytes());
    buf.extend_from_slice(&json);
    buf.push(b'\n');
    Ok(())
}

/// A journal's records in file order, read a line at a time (memory stays one line,
/// whatever the file's size). Each item is a record, or the `path:line: message` of a
/// line that was skipped; an incomplete last line ends the stream with its problem.
pub struct Records<R> {
    reader: Box<dyn BufRead>,
    path: PathBuf,
    line_no: usize,
    /// Bytes of good data read so far: the header and every complete line.
    good_len: u64,
    done: bool,
    line: Vec<u8>,
    _records: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> Records<R> {
    /// Checks the header; `Ok(None)` when the file has no complete header yet (a crash
    /// while writing it) and may be started afresh.
    fn start(
        path: &Path,
        kind: &str,
        mut reader: Box<dyn BufRead>,
    ) -> io::Result<Option<Records<R>>> {
        let invalid = |what: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {what}", path.display()),
            )
        };
        let mut first = Vec::new();
        reader.read_until(b'\n', &mut first)?;
        if first.last() != Some(&b'\n') {
            // No complete first line: a crash while writing the header (some file systems
            // leave zeros). Anything else is not ours to overwrite.
            if header_line(kind).starts_with(&first) || first.iter().all(|&b| b == 0) {
                return Ok(None);
            }
            return Err(invalid("no header line: not a redline journal".into()));
        }
        let header: Header = serde_json::from_slice(&first[..first.len() - 1]).map_err(|_| {
            let shown = String::from_utf8_lossy(&first[..first.len().min(80)]).into_owned();
            invalid(format!(
                "the first line `{}` is not a redline journal header",
                shown.trim_end()
            ))
        })?;
        if header.redline != kind || header.version != VERSION {
            let found = format!("kind {:?} version {}", header.redline, header.version);
            let expected = format!("kind {kind:?} version {VERSION}");
            return Err(invalid(format!(
                "found a journal of {found}, expected {expected}"
            )));
        }
        Ok(Some(Records {
            reader,
            path: path.to_owned(),
            line_no: 1,
            good_len: first.len() as u64,
            done: false,
            line: Vec::new(),
            _records: PhantomData,
        }))
    }

    /// Where the good data ends (after the last complete line read so far).
    pub fn good_len(&self) -> u64 {
        self.good_len
    }
}

impl<R: DeserializeOwned> Iterator for Records<R> {
    type Item = Result<R, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.line.clear();
        self.line_no += 1;
        let at = |what: &dyn std::fmt::Display, line_no: usize, path: &Path| {
            format!("{}:{line_no}: {what}", path.display())
        };
        match self.reader.read_until(b'\n', &mut self.line) {
            Ok(0) => {
                self.done = true;
                None
            }
            Ok(_) if self.line.last() != Some(&b'\n') => {
                self.done = true;
                let what = "an incomplete last record (a write cut short) was dropped";
                Some(Err(at(&what, self.line_no, &self.path)))
            }
            Ok(n) => {
                self.good_len += n as u64;
                let body = &self.line[..self.line.len() - 1];
                Some(decode(body).map_err(|what| at(&what, self.line_no, &self.path)))
            }
            Err(e) => {
                self.done = true;
                Some(Err(at(
                    &format!("cannot read on: {e}"),
                    self.line_no,
                    &self.path,
                )))
            }
        }
    }
}

/// Replays a journal from `reader` into `each`; returns the problems met and where the
/// good data ends, or `None` when it has no complete header yet and should be started
/// afresh.
fn parse<R: DeserializeOwned>(
    path: &Path,
    kind: &str,
    reader: Box<dyn BufRead>,
    each: &mut dyn FnMut(R),
) -> io::Result<(Vec<String>, Option<u64>)> {
    let Some(mut records) = Records::<R>::start(path, kind, reader)? else {
        return Ok((Vec::new(), None));
    };
    let mut problems = Vec::new();
    for r in records.by_ref() {
        match r {
            Ok(r) => each(r),
            Err(p) => problems.push(p),
        }
    }
    Ok((problems, Some(records.good_len())))
}

fn decode<R: DeserializeOwned>(line: &[u8]) -> Result<R, String> {
    let (stored, json) = match line.split_at_checked(8) {
        Some((crc, [b' ', json @ ..])) if crc.iter().all(u8::is_ascii_hexdigit) => {
            let crc = std::str::from_utf8(crc).expect("hex digits are ASCII");
            (
                u32::from_str_radix(crc, 16).expect("8 hex digits fit a u32"),
                json,
            )
        }
        _ => return Err("no checksum (8 hex digits and a space) starts the line".into()),
    };
    let computed = crc32fast::hash(json);
    if stored != computed {
        return Err(format!(
            "checksum mismatch (line says {stored:08x}, contents {computed:08x})"
        ));
    }
    serde_json::from_slice(json).map_err(|e| format!("record does not decode: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Rec {
        n: u32,
        s: String,
    }

    fn rec(n: u32) -> Rec {
        Rec {
            n,
            s: format!("record {n}\nwith a newline"),
        }
    }

    /// A journal path in a scratch directory that is removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> (Scratch, PathBuf) {
            let dir =
                std::env::temp_dir().join(format!("redline-journal-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            let path = dir.join("state").join("otel.journal");
            (Scratch(dir), path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn open(path: &Path) -> (Journal<Rec>, Replay<Rec>) {
        Journal::open(path, "otel").unwrap()
    }

    fn append_raw(path: &Path, bytes: &[u8]) {
        OpenOptions::new()
            .append(true)
            .open(path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
    }

    #[test]
    fn round_trip_and_reopen() {
        let (_t, path) = Scratch::new("round-trip");
        let (mut j, replay) = open(&path);
        assert!(replay.records.is_empty() && replay.problems.is_empty());
        j.append(&[rec(1), rec(2)]).unwrap();
        j.append(&[rec(3)]).unwrap();
        assert_eq!(j.len_bytes(), fs::metadata(&path).unwrap().len());
        let text = fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], r#"{"redline":"otel","version":1}"#);
        let json = r#"{"n":1,"s":"record 1\nwith a newline"}"#;
        assert_eq!(
            lines[1],
            format!("{:08x} {json}", crc32fast::hash(json.as_bytes()))
        );
        drop(j);
        let (mut j, replay) = open(&path);
        assert_eq!(replay.records, [rec(1), rec(2), rec(3)]);
        assert!(replay.problems.is_empty());
        j.append(&[rec(4)]).unwrap();
        drop(j);
        assert_eq!(open(&path).1.records, [rec(1), rec(2), rec(3), rec(4)]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }

    #[test]
    fn torn_tail_is_cut_and_next_append_lands_cleanly() {
        let (_t, path) = Scratch::new("torn");
        let (mut j, _) = open(&path);
        j.append(&[rec(1), rec(2)]).unwrap();
        let good = j.len_bytes();
        drop(j);
        append_raw(&path, b"0badc0de {\"n\":3,\"s");
        let (mut j, replay) = open(&path);
        assert_eq!(replay.records, [rec(1), rec(2)]);
        let torn = "4: an incomplete last record (a write cut short) was dropped";
        assert_eq!(replay.problems, [format!("{}:{torn}", path.display())]);
        assert_eq!(
            (j.len_bytes(), fs::metadata(&path).unwrap().len()),
            (good, good)
        );
        j.append(&[rec(3)]).unwrap();
        drop(j);
        let replay = open(&path).1;
        assert_eq!(replay.records, [rec(1), rec(2), rec(3)]);
        assert!(replay.problems.is_empty());
    }

    #[test]
    fn a_broken_middle_line_is_skipped_alone() {
        let (_t, path) = Scratch::new("flipped");
        let (mut j, _) = open(&path);
        j.append(&[rec(1), rec(2), rec(3)]).unwrap();
        drop(j);
        let mut bytes = fs::read(&path).unwrap();
        let line3 = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(1)
            .unwrap()
            .0
            + 1;
        bytes[line3 + 20] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        let replay = open(&path).1;
        assert_eq!(replay.records, [rec(1), rec(3)]);
        assert_eq!(replay.problems.len(), 1);
        let expected = format!("{}:3: checksum mismatch", path.display());
        assert!(
            replay.problems[0].starts_with(&expected),
            "{}",
            replay.problems[0]
        );
        // A good checksum over JSON that is not a record is skipped alone too.
        let json = r#"{"other":true}"#;
        append_raw(
            &path,
            format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes())).as_bytes(),
        );
        let replay = Journal::<Rec>::read(&path, "otel").unwrap();
        assert_eq!(replay.records, [rec(1), rec(3)]);
        let expected = format!("{}:5: record does not decode", path.display());
        assert!(
            replay.problems[1].starts_with(&expected),
            "{}",
            replay.problems[1]
        );
    }

    #[test]
    fn another_version_or_kind_is_refused_untouched() {
        let (_t, path) = Scratch::new("version");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let newer = "{\"redline\":\"otel\",\"version\":2}\nnewer things\n";
        fs::write(&path, newer).unwrap();
        let err = Journal::<Rec>::open(&path, "otel").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let expected =
            "found a journal of kind \"otel\" version 2, expected kind \"otel\" version 1";
        assert_eq!(err.to_string(), format!("{}: {expected}", path.display()));
        assert_eq!(fs::read_to_string(&path).unwrap(), newer);
        let err = Journal::<Rec>::open(&path, "rollup").unwrap_err();
        assert!(
            err.to_string().contains("expected kind \"rollup\""),
            "{err}"
        );
        fs::write(&path, "hello\n").unwrap();
        let err = Journal::<Rec>::read(&path, "otel").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn an_empty_or_cut_header_starts_afresh() {
        let (_t, path) = Scratch::new("empty");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        for start in ["", "{\"redline\":\"ot"] {
            fs::write(&path, start).unwrap();
            let (mut j, replay) = open(&path);
            assert!(replay.records.is_empty());
            assert_eq!(replay.problems.len(), usize::from(!start.is_empty()));
            j.append(&[rec(1)]).unwrap();
            drop(j);
            assert_eq!(open(&path).1.records, [rec(1)]);
        }
    }

    #[test]
    fn rewrite_replaces_contents_and_appends_follow() {
        let (_t, path) = Scratch::new("rewrite");
        let (mut j, _) = open(&path);
        j.append(&[rec(1), rec(2), rec(3)]).unwrap();
        j.rewrite(&[rec(2)]).unwrap();
        assert!(!tmp_path(&path).exists());
        assert_eq!(
            Journal::<Rec>::read(&path, "otel").unwrap().records,
            [rec(2)]
        );
        j.append(&[rec(4)]).unwrap();
        assert_eq!(j.len_bytes(), fs::metadata(&path).unwrap().len());
        let err = Journal::<Rec>::open(&path, "otel").unwrap_err();
        assert!(
            err.to_string().contains("another redline"),
            "the new file is locked: {err}"
        );
        drop(j);
        assert_eq!(open(&path).1.records, [rec(2), rec(4)]);
    }

    #[test]
    fn a_stale_tmp_is_removed() {
        let (_t, path) = Scratch::new("stale");
        open(&path).0.append(&[rec(1)]).unwrap();
        fs::write(tmp_path(&path), "half a rewri").unwrap();
        let replay = open(&path).1;
        assert_eq!(replay.records, [rec(1)]);
        assert!(replay.problems.is_empty());
        assert!(!tmp_path(&path).exists());
    }

    #[test]
    fn a_second_open_is_refused_but_read_works() {
        let (_t, path) = Scratch::new("lock");
        let (mut j, _) = open(&path);
        j.append(&[rec(1)]).unwrap();
        let err = Journal::<Rec>::open(&path, "otel").unwrap_err();
        let expected = format!(
            "{}: another redline holds this journal's lock",
            path.display()
        );
        assert_eq!(err.to_string(), expected);
        assert_eq!(
            Journal::<Rec>::read(&path, "otel").unwrap().records,
            [rec(1)]
        );
        let missing = Journal::<Rec>::read(&path.with_extension("missing"), "otel").unwrap();
        assert!(missing.records.is_empty());
        drop(j);
        assert_eq!(open(&path).1.records, [rec(1)]);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_renamed_over_the_path_is_not_the_locked_one() {
        let (_t, path) = Scratch::new("replaced");
        drop(open(&path));
        let old = File::open(&path).unwrap();
        assert!(same_file(&old, &path).unwrap());
        fs::write(tmp_path(&path), "newer").unwrap();
        fs::rename(tmp_path(&path), &path).unwrap();
        assert!(!same_file(&old, &path).unwrap());
    }
}
