//! A crash-safe, append-only log of serde records: what OpenTelemetry senders delivered
//! (which cannot be fetched again) and rollups of transcript data, kept under
//! `$XDG_STATE_HOME/redline/`.
//!
//! The file is text a person can read with `less`: a header line
//! `{"redline":"<kind>","version":1}`, then one record per line as
//! `<crc32 of the JSON, 8 lowercase hex digits> <JSON>\n`. An append is one write followed
//! by `sync_data`, so once [`Journal::append`] returns `Ok` the records survive `kill -9`
//! and power loss; an append that fails cuts the file back to its length before the
//! append (all or nothing), so nothing of a refused batch is replayed later. A crash can
//! only leave the last line without its newline; replay drops that line and cuts the file
//! back before appending. A complete line that fails its checksum or does not decode is
//! damage: it is reported as `path:line: message`, skipped (one bad line never costs the
//! others) and moved, as it was, to a side file next to the journal
//! (`<name>.damaged.jsonl`, see [`damaged_path`]) before anything could drop it, so a
//! flipped byte never deletes data and the user can look at it. [`damage`] says whether
//! that file holds lines the user has not acknowledged ([`acknowledge`]). Compaction
//! ([`Journal::rewrite`]) writes a temp file, syncs it and renames it over the journal. An
//! exclusive advisory lock keeps a second daemon from writing the same journal;
//! [`Journal::read`] reads without it.

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
    /// Tests: the next append writes this many bytes, then fails as a full disk does.
    #[cfg(test)]
    fail_after: Option<usize>,
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
        Journal::open_raw(path, kind, |json| {
            each(serde_json::from_slice(json)?);
            Ok(())
        })
    }

    /// [`open_with`](Self::open_with), handing `each` each record's JSON (its checksum
    /// checked) to decode as it likes, for a reader that needs less than a whole record
    /// of most lines. `each` must refuse exactly the lines that do not decode as `R`, and
    /// do nothing with a line it refuses: that line is damage, as it is to `open_with`.
    pub fn open_raw(
        path: &Path,
        kind: &str,
        mut each: impl FnMut(&[u8]) -> Result<(), serde_json::Error>,
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
        let (mut problems, good_len, damaged) = parse(path, kind, reader, &mut each)?;
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
        let mut journal = Journal {
            file,
            path: path.to_owned(),
            kind: kind.to_owned(),
            len,
            torn: false,
            dir_dirty: false,
            #[cfg(test)]
            fail_after: None,
            _records: PhantomData,
        };
        if !damaged.is_empty() {
            // Kept aside first, then left out of the journal: the line is never in neither.
            set_aside(path, &damaged)?;
            journal.drop_lines(&damaged)?;
            problems.push(format!(
                "{}: {} damaged {} moved to {} (see `redline doctor`)",
                path.display(),
                damaged.len(),
                if damaged.len() == 1 { "line" } else { "lines" },
                damaged_path(path).display()
            ));
        }
        Ok((journal, problems))
    }

    /// Reads a journal without locking or changing it (for `redline report` while the
    /// daemon runs). A missing file is an empty replay.
    pub fn read(path: &Path, kind: &str) -> io::Result<Replay<R>> {
        let mut records = Vec::new();
        let problems = Journal::read_with(path, kind, |r| records.push(r))?;
        Ok(Replay { records, problems })
    }

    /// [`read_with`](Self::read_with), handing `each` each record's JSON (its checksum
    /// checked), as [`open_raw`](Self::open_raw) does; the lines it refuses are reported.
    pub fn read_raw(
        path: &Path,
        kind: &str,
        mut each: impl FnMut(&[u8]) -> Result<(), serde_json::Error>,
    ) -> io::Result<Vec<String>> {
        let file = match File::open(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other?,
        };
        let reader = Box::new(BufReader::new(file));
        Ok(parse(path, kind, reader, &mut each)?.0)
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
    /// acknowledge them; after an error none of them is in the file (it is cut back to its
    /// length before the batch, and synced), so none counts now or at the next replay, and
    /// the caller may retry.
    pub fn append(&mut self, records: &[R]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for r in records {
            encode(&mut buf, r)?;
        }
        if self.torn {
            // A cut that failed before: the file must end at `len` before anything lands.
            self.cut_back()?;
        }
        if self.dir_dirty {
            // Before the write: an error after it would refuse records already in the file.
            sync_dir(&self.path)?;
            self.dir_dirty = false;
        }
        if let Err(e) = self.write_out(&buf) {
            // Part of the batch may be in the file (a full disk takes what fits): cut it
            // off now, not at the next append, so a restart in between replays none of it.
            self.torn = true;
            let _ = self.cut_back();
            return Err(e);
        }
        self.len += buf.len() as u64;
        Ok(())
    }

    /// One write of `buf` at the end, synced.
    fn write_out(&mut self, buf: &[u8]) -> io::Result<()> {
        #[cfg(test)]
        if let Some(n) = self.fail_after.take() {
            self.file.write_all(&buf[..n.min(buf.len())])?;
            self.file.sync_data()?;
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "No space left on device (injected)",
            ));
        }
        self.file.write_all(buf)?;
        self.file.sync_data()
    }

    /// Cuts the file back to `len`, synced; clears `torn` once done.
    fn cut_back(&mut self) -> io::Result<()> {
        self.file.set_len(self.len)?;
        self.file.sync_data()?;
        self.torn = false;
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
        // The records come from the caller's read, which skips damaged lines: keep those
        // first, or the rename below would delete them.
        let damaged = find_damaged::<R>(&self.path, &self.kind)?;
        set_aside(&self.path, &damaged)?;
        let kind = self.kind.clone();
        self.replace_file(|out| {
            let mut buf = header_line(&kind);
            out.write_all(&buf)?;
            let mut len = buf.len() as u64;
            for r in records {
                buf.clear();
                encode(&mut buf, r.borrow())?;
                out.write_all(&buf)?;
                len += buf.len() as u64;
            }
            Ok(len)
        })
    }

    /// The journal without the damaged lines (already kept aside), copied as they are.
    fn drop_lines(&mut self, damaged: &[Damaged]) -> io::Result<()> {
        let skip: std::collections::HashSet<usize> = damaged.iter().map(|d| d.line).collect();
        let mut reader = BufReader::new(File::open(&self.path)?);
        self.replace_file(|out| {
            let (mut n, mut len, mut line) = (0, 0, Vec::new());
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line)? == 0 || line.last() != Some(&b'\n') {
                    return Ok(len);
                }
                n += 1;
                if !skip.contains(&n) {
                    out.write_all(&line)?;
                    len += line.len() as u64;
                }
            }
        })
    }

    /// Writes `<path>.tmp` with `fill` (which returns the bytes it wrote), syncs it, locks
    /// it, renames it over the journal, syncs the directory and goes on appending to the
    /// new file. After an error before the rename the journal is as it was.
    fn replace_file(
        &mut self,
        fill: impl FnOnce(&mut BufWriter<&File>) -> io::Result<u64>,
    ) -> io::Result<()> {
        let tmp = tmp_path(&self.path);
        remove_if_there(&tmp)?;
        let file = open_options().create_new(true).open(&tmp)?;
        let written = || -> io::Result<u64> {
            let mut out = BufWriter::new(&file);
            let len = fill(&mut out)?;
            out.flush()?;
            drop(out);
            file.sync_all()?;
            lock(&file, &tmp)?;
            fs::rename(&tmp, &self.path)?;
            Ok(len)
        };
        let len = match written() {
            Ok(len) => len,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        // The path names the new file now, so switch even if the directory sync fails;
        // the next append retries that sync before it writes anything.
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
        let mut record = None;
        let read = self.next_with(&mut |json| {
            record = Some(serde_json::from_slice(json)?);
            Ok(())
        })?;
        Some(read.and_then(|()| record.ok_or_else(|| "no record".to_owned())))
    }
}

impl<R> Records<R> {
    /// The next line: its JSON, checksum checked, handed to `decode`; `Err` with the
    /// line's problem when it has none or `decode` refuses it; `None` at the end.
    fn next_with(
        &mut self,
        decode: &mut dyn FnMut(&[u8]) -> Result<(), serde_json::Error>,
    ) -> Option<Result<(), String>> {
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
                let decoded = checked(body).and_then(|json| {
                    decode(json).map_err(|e| format!("record does not decode: {e}"))
                });
                Some(decoded.map_err(|what| at(&what, self.line_no, &self.path)))
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

/// A complete line that failed its checksum or did not decode, as it was in the file.
#[derive(Debug)]
struct Damaged {
    /// Its line number (the header is line 1).
    line: usize,
    /// Its bytes, without the newline.
    raw: Vec<u8>,
    /// The `path:line: message` reported for it.
    why: String,
}

/// Replays a journal from `reader` into `each` (each record's JSON, see
/// [`Journal::open_raw`]); returns the problems met, where the good data ends (`None` when
/// it has no complete header yet and should be started afresh), and the damaged lines.
fn parse(
    path: &Path,
    kind: &str,
    reader: Box<dyn BufRead>,
    each: &mut dyn FnMut(&[u8]) -> Result<(), serde_json::Error>,
) -> io::Result<(Vec<String>, Option<u64>, Vec<Damaged>)> {
    let Some(mut records) = Records::<()>::start(path, kind, reader)? else {
        return Ok((Vec::new(), None, Vec::new()));
    };
    let mut problems = Vec::new();
    let mut damaged = Vec::new();
    while let Some(r) = records.next_with(each) {
        match r {
            Ok(()) => {}
            Err(p) => {
                // A torn last line or a read error ends the stream; a line that does
                // not check out in the middle is damage.
                if !records.done {
                    let raw = records.line[..records.line.len() - 1].to_vec();
                    damaged.push(Damaged {
                        line: records.line_no,
                        raw,
                        why: p.clone(),
                    });
                }
                problems.push(p);
            }
        }
    }
    Ok((problems, Some(records.good_len()), damaged))
}

/// The damaged lines of the journal at `path` as it is now.
fn find_damaged<R: DeserializeOwned>(path: &Path, kind: &str) -> io::Result<Vec<Damaged>> {
    let file = match File::open(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        other => other?,
    };
    let reader = Box::new(BufReader::new(file));
    let mut decodes = |json: &[u8]| serde_json::from_slice::<R>(json).map(drop);
    Ok(parse(path, kind, reader, &mut decodes)?.2)
}

/// The side file a journal's damaged lines are moved to: `store.jsonl` keeps them in
/// `store.damaged.jsonl` beside it.
pub fn damaged_path(path: &Path) -> PathBuf {
    sibling(path, ".damaged.jsonl")
}

/// Where the user's acknowledgement of the side file is kept (`store.damaged.ack`): the
/// side file's size and checksum when it was acknowledged.
pub fn ack_path(path: &Path) -> PathBuf {
    sibling(path, ".damaged.ack")
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_stem().unwrap_or_default().to_owned();
    name.push(suffix);
    parent(path).join(name)
}

/// One line of the side file: where a damaged line came from, why it was set aside, and
/// the line itself (`text`, or `hex` when it is not UTF-8).
#[derive(Serialize)]
struct AsideEntry<'a> {
    from: String,
    line: usize,
    set_aside_at: String,
    problem: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
}

/// Appends the damaged lines to the side file, synced, before the caller drops them.
fn set_aside(path: &Path, damaged: &[Damaged]) -> io::Result<()> {
    if damaged.is_empty() {
        return Ok(());
    }
    let side = damaged_path(path);
    let at = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_default();
    let mut buf = Vec::new();
    for d in damaged {
        let text = std::str::from_utf8(&d.raw).ok();
        let entry = AsideEntry {
            from: path.display().to_string(),
            line: d.line,
            set_aside_at: at.to_string(),
            problem: &d.why,
            text,
            hex: text
                .is_none()
                .then(|| d.raw.iter().map(|b| format!("{b:02x}")).collect()),
        };
        serde_json::to_writer(&mut buf, &entry).map_err(io::Error::other)?;
        buf.push(b'\n');
    }
    let created = !side.exists();
    let mut file = open_options().create(true).open(&side)?;
    file.write_all(&buf)?;
    file.sync_data()?;
    if created {
        sync_dir(&side)?;
    }
    Ok(())
}

/// What the side file of a journal holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// The side file.
    pub side: PathBuf,
    /// Damaged lines kept in it.
    pub records: u64,
    /// Its size.
    pub bytes: u64,
    /// Whether the user acknowledged it as it is now (`redline doctor --ack`).
    pub acknowledged: bool,
}

#[derive(Serialize, Deserialize, PartialEq)]
struct Ack {
    size: u64,
    crc32: String,
}

/// The side file of the journal at `path` (see [`damaged_path`]) and whether it was
/// acknowledged as it is now; `None` when there is none (or it is empty).
pub fn damage(path: &Path) -> io::Result<Option<Damage>> {
    let side = damaged_path(path);
    let Some(bytes) = side_file(&side)? else {
        return Ok(None);
    };
    let now = ack_of(&bytes);
    let acked = match fs::read(ack_path(path)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        other => serde_json::from_slice::<Ack>(&other?).ok(),
    };
    Ok(Some(Damage {
        side,
        records: bytes.iter().filter(|&&b| b == b'\n').count() as u64,
        bytes: bytes.len() as u64,
        acknowledged: acked.is_some_and(|a| a == now),
    }))
}

/// The side file's bytes; `None` when there is none or it is empty.
fn side_file(side: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(side) {
        Err(e) if missing(&e) => Ok(None),
        Err(e) => Err(e),
        Ok(bytes) if bytes.is_empty() => Ok(None),
        Ok(bytes) => Ok(Some(bytes)),
    }
}

/// No such file (or no such directory where its directory should be).
fn missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn ack_of(bytes: &[u8]) -> Ack {
    Ack {
        size: bytes.len() as u64,
        crc32: format!("{:08x}", crc32fast::hash(bytes)),
    }
}

/// Records that the user has seen the side file as it is now: [`damage`] reports it
/// acknowledged until more damage is added. Returns what was acknowledged (`None`: no
/// side file, nothing to do).
pub fn acknowledge(path: &Path) -> io::Result<Option<Damage>> {
    let side = damaged_path(path);
    let Some(bytes) = side_file(&side)? else {
        return Ok(None);
    };
    let marker = ack_path(path);
    let tmp = tmp_path(&marker);
    let mut text = serde_json::to_vec(&ack_of(&bytes)).map_err(io::Error::other)?;
    text.push(b'\n');
    {
        let mut f = open_options().create(true).truncate(false).open(&tmp)?;
        f.set_len(0)?;
        f.write_all(&text)?;
        f.sync_data()?;
    }
    fs::rename(&tmp, &marker)?;
    sync_dir(&marker)?;
    damage(path)
}

/// A line's JSON, once its checksum checks out.
fn checked(line: &[u8]) -> Result<&[u8], String> {
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
    Ok(json)
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

    /// Flips one bit in the JSON of record line `line` (the header is line 1).
    fn flip(path: &Path, line: usize) -> Vec<u8> {
        let mut bytes = fs::read(path).unwrap();
        let start = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .unwrap()
            .0
            + 1;
        let end = start + bytes[start..].iter().position(|&b| b == b'\n').unwrap();
        let original = bytes[start..end].to_vec();
        bytes[start + 20] ^= 0x01;
        fs::write(path, &bytes).unwrap();
        original
    }

    #[test]
    fn a_broken_middle_line_is_skipped_alone_and_set_aside() {
        let (_t, path) = Scratch::new("flipped");
        let (mut j, _) = open(&path);
        j.append(&[rec(1), rec(2), rec(3)]).unwrap();
        drop(j);
        flip(&path, 3);
        let replay = open(&path).1;
        assert_eq!(replay.records, [rec(1), rec(3)]);
        assert_eq!(replay.problems.len(), 2, "{:?}", replay.problems);
        let expected = format!("{}:3: checksum mismatch", path.display());
        assert!(
            replay.problems[0].starts_with(&expected),
            "{}",
            replay.problems[0]
        );
        assert!(
            replay.problems[1].contains("1 damaged line moved to"),
            "{}",
            replay.problems[1]
        );
        // A good checksum over JSON that is not a record is damage too.
        let json = r#"{"other":true}"#;
        append_raw(
            &path,
            format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes())).as_bytes(),
        );
        let replay = Journal::<Rec>::read(&path, "otel").unwrap();
        assert_eq!(replay.records, [rec(1), rec(3)]);
        let expected = format!("{}:4: record does not decode", path.display());
        assert!(
            replay.problems[0].starts_with(&expected),
            "{}",
            replay.problems[0]
        );
    }

    #[test]
    fn a_damaged_record_is_moved_to_the_side_file_not_lost() {
        let (_t, path) = Scratch::new("side");
        let (mut j, _) = open(&path);
        j.append(&[rec(1), rec(2), rec(3)]).unwrap();
        drop(j);
        let original = flip(&path, 3);
        let (mut j, replay) = open(&path);
        assert_eq!(replay.records, [rec(1), rec(3)]);
        // Out of the journal, into the side file, as it was, with where it came from.
        let side = damaged_path(&path);
        assert_eq!(side, path.parent().unwrap().join("otel.damaged.jsonl"));
        let kept = fs::read_to_string(&side).unwrap();
        let entry: serde_json::Value = serde_json::from_str(kept.trim_end()).unwrap();
        assert_eq!(entry["from"], path.display().to_string());
        assert_eq!(entry["line"], 3);
        let mut flipped = original.clone();
        flipped[20] ^= 0x01;
        let text = entry["text"].as_str().unwrap();
        assert_eq!(text.as_bytes(), flipped, "the line as it was found");
        assert!(
            entry["problem"]
                .as_str()
                .unwrap()
                .contains("checksum mismatch")
        );
        let no_damage = Journal::<Rec>::read(&path, "otel").unwrap();
        assert!(no_damage.problems.is_empty(), "{:?}", no_damage.problems);
        // A later compaction keeps what it is given and the side file keeps the rest.
        j.rewrite(&[rec(3)]).unwrap();
        assert_eq!(fs::read_to_string(&side).unwrap(), kept);
        // Damage found by a compaction (the file changed under the daemon) is kept too.
        j.append(&[rec(4), rec(5)]).unwrap();
        flip(&path, 3);
        j.rewrite(&[rec(3)]).unwrap();
        let kept = fs::read_to_string(&side).unwrap();
        assert_eq!(kept.lines().count(), 2, "{kept}");
        let d = damage(&path).unwrap().unwrap();
        assert_eq!((d.records, d.acknowledged), (2, false));
        assert_eq!(d.bytes, kept.len() as u64);
        // Acknowledged as it is; more damage needs another acknowledgement.
        assert!(acknowledge(&path).unwrap().unwrap().acknowledged);
        assert!(damage(&path).unwrap().unwrap().acknowledged);
        j.append(&[rec(6)]).unwrap();
        flip(&path, 3);
        drop(j);
        drop(open(&path));
        let d = damage(&path).unwrap().unwrap();
        assert_eq!((d.records, d.acknowledged), (3, false));
        let (_t2, clean) = Scratch::new("side-clean");
        drop(open(&clean));
        assert_eq!(damage(&clean).unwrap(), None);
        assert_eq!(acknowledge(&clean).unwrap(), None);
    }

    #[test]
    fn a_failed_append_leaves_the_file_as_it_was() {
        let (_t, path) = Scratch::new("full");
        let (mut j, _) = open(&path);
        j.append(&[rec(1)]).unwrap();
        let before = fs::read(&path).unwrap();
        // A full disk takes part of the batch: two records and a half.
        let batch: Vec<Rec> = (10..300).map(rec).collect();
        j.fail_after = Some(130);
        let err = j.append(&batch).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert_eq!(
            fs::read(&path).unwrap(),
            before,
            "nothing of the batch stays"
        );
        assert_eq!(j.len_bytes(), before.len() as u64);
        // A restart now replays none of it (the daemon answered 503 for all of it).
        drop(j);
        let (mut j, replay) = open(&path);
        assert_eq!(replay.records, [rec(1)]);
        assert!(replay.problems.is_empty(), "{:?}", replay.problems);
        // And the retry lands whole.
        j.append(&batch[..2]).unwrap();
        drop(j);
        assert_eq!(open(&path).1.records, [rec(1), rec(10), rec(11)]);
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
