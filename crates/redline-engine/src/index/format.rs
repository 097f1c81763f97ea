//! The scan index's bytes: one record per transcript (what reading it gave), a footer
//! (the model names, the root, when it was written, and the files in path order with
//! where their records are), and a trailer with a CRC-32 of everything before it.
//!
//! ```text
//! header   "RLINDEX" FORMAT(u8)  facts version (u64 LE)
//! records  one per file, in the order they were written, each self-contained
//! footer   models, root, written_at, files (front-coded relative paths, offset, length,
//!          responses), one bit per response: held in no other file, and the
//!          directories listed (see [`ListedDir`])
//! trailer  footer offset (u64 LE)  footer length (u64 LE)  CRC-32 (u32 LE)  "RLIXEND\0"
//! ```
//!
//! Numbers are LEB128 varints (signed ones zigzagged); hashes are 8 bytes little-endian.
//! A record's entries are delta-coded against the entry before them (time, line, model,
//! flags), so a response costs its `message.id` hash (8 bytes), its request's (4) and some
//! 15-20 more. Nothing here
//! touches a disk: every function takes and gives bytes, so the format is tested on its
//! own, damage included (a decoder never panics: it says what is wrong).

use crate::ledger::{EntryParts, ModelId, RUN_BLOCKS, RunParts};

/// The layout's version: the last byte of the magic. Bump it with any change of layout.
pub const FORMAT: u8 = 2;
/// The first eight bytes of an index.
pub const MAGIC: [u8; 8] = *b"RLINDEX\x02";
/// The last eight bytes of an index.
pub const END_MAGIC: [u8; 8] = *b"RLIXEND\0";
/// The header's length: the magic and the facts version.
pub const HEADER_LEN: usize = 16;
/// The trailer's length.
pub const TRAILER_LEN: usize = 28;

/// Why bytes are not an index, or not a whole one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormatError(pub &'static str);

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// What reading a file counted, besides its responses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileCounts {
    /// Lines that carried usage (every copy).
    pub usage_lines: u64,
    /// Usage lines accepted beyond Claude Code's own shape.
    pub lenient_lines: u64,
    /// Broken lines.
    pub bad_lines: u64,
    /// Lines longer than the limit, passed over.
    pub long_lines: u64,
    /// Copies of keyed responses folded into one already held (within the file).
    pub dropped: u64,
}

/// Where a file stood when it was read, and how to know it again: a record without its
/// entries, enough to decide whether it is still good (see [`super::verdict`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileHead {
    /// Which file it was, as it stood when it was opened, and how far it was read.
    pub identity: Identity,
    /// Lines read (outsize ones included).
    pub lines: u64,
    /// `offset` is inside an unfinished outsize line, this many bytes of it passed over.
    pub skipping: Option<u64>,
    /// A hash of the first `min(offset, 4096)` bytes.
    pub head: u64,
    /// A hash of the last `min(offset, 4096)` bytes before `offset`.
    pub tail: u64,
    /// The run of response lines the file ended in.
    pub run: RunParts,
    /// The newest timestamp of a usage line.
    pub newest_ms: Option<i64>,
    /// Counts of what the lines were.
    pub counts: FileCounts,
}

/// What of a [`FileHead`] says whether the file is still the one read (see
/// [`super::verdict`]): the first numbers of a record, read without the rest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size when it was opened (before it was read).
    pub size: u64,
    /// Modification time when it was opened, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// When it was opened (the run's clock), milliseconds since the epoch.
    pub seen_ms: i64,
    /// Bytes read: just past the last whole line (a partial last line is not indexed).
    pub offset: u64,
}

/// Everything reading one file gave: its [`FileHead`], the first line errors, and its
/// own ledger's slots (each response of the file once, with the key it is held under).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileFacts {
    /// Identity, place and counts.
    pub head: FileHead,
    /// The first line errors: (1-based line, message).
    pub errors: Vec<(u64, String)>,
    /// The file's ledger slots, in slot order; model ids are the index's.
    pub entries: Vec<(Option<u64>, EntryParts)>,
}

/// One file in the footer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listed {
    /// The path below the root, as bytes.
    pub rel: Vec<u8>,
    /// Where its record starts.
    pub offset: u64,
    /// The record's length.
    pub len: u64,
    /// Its responses (ledger slots).
    pub slots: u64,
}

/// A directory below the root that the listing went through, and whether its entries can
/// be taken from the index while its modification time stays the same (see
/// [`crate::roots::survey_with`]).
///
/// The footer names only the directories its files do not imply: every directory above a
/// listed file (and the root, `""`) is known from the files' paths, so a directory costs
/// its time alone (some 7 bytes when times are months apart, less when they are close),
/// or a byte when it is not to be trusted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListedDir {
    /// The path below the root, as bytes (`""`: the root itself).
    pub rel: Vec<u8>,
    /// Its modification time when it was listed, nanoseconds since the epoch; `None` when
    /// its entries are to be read again whatever its time says.
    pub mtime_ns: Option<i64>,
}

/// The footer: what the records need to be found and read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Footer {
    /// Model names, by the index's model id.
    pub models: Vec<String>,
    /// The `projects/` directory the index is of.
    pub root: Vec<u8>,
    /// When it was written (the writer's clock), milliseconds since the epoch.
    pub written_at_ms: i64,
    /// The files, in path order.
    pub files: Vec<Listed>,
    /// The responses (ledger slots) of all the records: what a reader reserves room for.
    pub slots: u64,
    /// One bit per response of every record, in footer order then slot order (bit `i % 8`
    /// of byte `i / 8`): set when no other file held a copy of it when the index was
    /// written, so a run that finds every file unchanged keeps it without looking for
    /// copies. `None` when the writer could not tell (a scan of some of the files): every
    /// response is then looked for.
    pub alone: Option<Vec<u8>>,
    /// The directories the listing went through, in path order, each once.
    pub dirs: Vec<ListedDir>,
}

// ---------------------------------------------------------------------------- writing

/// Appends a LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_signed(out: &mut Vec<u8>, v: i64) {
    put_varint(out, zigzag(v));
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Line problems most broken lines share, as their messages read (see
/// [`crate::record::LineProblem`]): a record names them by their place here.
fn stock_messages() -> &'static [String; 2] {
    static STOCK: std::sync::LazyLock<[String; 2]> = std::sync::LazyLock::new(|| {
        use crate::record::{CUT_OFF, LineProblem, NOT_AN_OBJECT};
        [
            LineProblem::Malformed(CUT_OFF.into()).to_string(),
            LineProblem::Malformed(NOT_AN_OBJECT.into()).to_string(),
        ]
    });
    &STOCK
}

/// The request tag that says the whole key follows (a real tag is 0 or odd).
const WHOLE_KEY: u32 = 2;

const E_KEYED: u8 = 0x01;
const E_FLAGS: u8 = 0x02;
const E_MODEL: u8 = 0x04;
const E_LINE: u8 = 0x08;
const E_COST: u8 = 0x10;
const E_LIMIT: u8 = 0x20;
const E_CONTENT: u8 = 0x40;
const E_HOUR: u8 = 0x80;

/// What an entry is coded against: the entry before it.
#[derive(Clone, Copy, Default)]
struct Prev {
    ts: i64,
    first_line: u32,
    model: Option<ModelId>,
    flags: u8,
    /// What the next response's cache reads are likely to be: this one's reads plus its
    /// writes (a conversation's cached prefix grows by what was written), which holds for
    /// most responses of a session and then costs one byte.
    cache_read_guess: u64,
}

impl Prev {
    fn after(e: &EntryParts) -> Prev {
        Prev {
            ts: e.ts_ms,
            first_line: e.first_line,
            model: e.model,
            flags: e.flags,
            cache_read_guess: u64::from(e.counts[3]) + u64::from(e.counts[2]),
        }
    }
}

fn put_entry(out: &mut Vec<u8>, key: Option<u64>, e: &EntryParts, prev: &mut Prev) {
    let content = e.thinking != 0 || e.visible != 0 || e.content != 0;
    let mut h = 0;
    for (on, bit) in [
        (key.is_some(), E_KEYED),
        (e.flags != prev.flags, E_FLAGS),
        (e.model != prev.model, E_MODEL),
        (e.line != e.first_line, E_LINE),
        (e.cost_usd.is_some(), E_COST),
        (e.limit_reset_s != 0, E_LIMIT),
        (content, E_CONTENT),
        (e.counts[4] != 0, E_HOUR),
    ] {
        if on {
            h |= bit;
        }
    }
    out.push(h);
    if let Some(k) = key {
        // The key as its request tag (4 bytes) beside the id hash written below; a key
        // not made from that id hash (never, from a transcript) is written whole.
        match crate::record::tag_of(k, e.id_hash).filter(|&t| t != WHOLE_KEY) {
            Some(t) => out.extend_from_slice(&t.to_le_bytes()),
            None => {
                out.extend_from_slice(&WHOLE_KEY.to_le_bytes());
                put_u64(out, k);
            }
        }
    }
    if h & E_FLAGS != 0 {
        out.push(e.flags);
    }
    if h & E_MODEL != 0 {
        put_varint(out, e.model.map_or(0, |m| u64::from(m) + 1));
    }
    put_signed(out, i64::from(e.first_line) - i64::from(prev.first_line));
    if h & E_LINE != 0 {
        put_signed(out, i64::from(e.line) - i64::from(e.first_line));
    }
    put_signed(out, e.ts_ms.wrapping_sub(prev.ts));
    for c in &e.counts[..3] {
        put_varint(out, u64::from(*c));
    }
    put_signed(
        out,
        i64::from(e.counts[3]).wrapping_sub(prev.cache_read_guess as i64),
    );
    if h & E_HOUR != 0 {
        put_varint(out, u64::from(e.counts[4]));
    }
    put_u64(out, e.id_hash);
    if let Some(c) = e.cost_usd {
        put_u64(out, c.to_bits());
    }
    if h & E_LIMIT != 0 {
        put_varint(out, u64::from(e.limit_reset_s));
    }
    if content {
        put_varint(out, u64::from(e.thinking));
        put_varint(out, u64::from(e.visible));
        out.push(e.content);
    }
    *prev = Prev::after(e);
}

/// Appends one file's record.
pub fn put_facts(out: &mut Vec<u8>, f: &FileFacts) {
    put_record(out, &f.head, &f.errors, &f.entries, |e| *e);
}

/// Appends one file's record from its head, errors and entries in any form `parts`
/// turns into [`EntryParts`] (a reader encodes straight from its ledger, without a copy).
pub fn put_record<E>(
    out: &mut Vec<u8>,
    head: &FileHead,
    errors: &[(u64, String)],
    entries: &[(Option<u64>, E)],
    parts: impl Fn(&E) -> EntryParts,
) {
    let run_slot = (head.run.key != 0)
        .then(|| entries.iter().rposition(|(k, _)| *k == Some(head.run.key)))
        .flatten();
    put_head(out, head, run_slot);
    put_varint(out, errors.len() as u64);
    for (line, message) in errors {
        put_varint(out, *line);
        // A message most broken lines share is its number in the stock list; any other
        // is its length (doubled) and its bytes.
        match stock_messages().iter().position(|m| m == message) {
            Some(i) => put_varint(out, 2 * i as u64 + 1),
            None => {
                put_varint(out, 2 * message.len() as u64);
                out.extend_from_slice(message.as_bytes());
            }
        }
    }
    put_varint(out, entries.len() as u64);
    let mut prev = Prev::default();
    for (key, e) in entries {
        put_entry(out, *key, &parts(e), &mut prev);
    }
}

/// The first numbers of a record, as [`read_identity`] reads them.
fn put_identity(out: &mut Vec<u8>, i: &Identity) {
    put_varint(out, i.dev);
    put_varint(out, i.ino);
    put_varint(out, i.offset);
    put_signed(out, (i.size as i64).wrapping_sub(i.offset as i64));
    // When it was read, and its modification time as its age then: a few bytes less
    // than the time itself.
    put_signed(out, i.seen_ms);
    put_signed(
        out,
        i.seen_ms.wrapping_mul(1_000_000).wrapping_sub(i.mtime_ns),
    );
}

fn put_head(out: &mut Vec<u8>, h: &FileHead, run_slot: Option<usize>) {
    put_identity(out, &h.identity);
    put_varint(out, h.lines);
    put_varint(out, h.skipping.map_or(0, |s| s.saturating_add(1)));
    put_u64(out, h.head);
    put_u64(out, h.tail);
    // The run: its key is almost always a slot's key (the file's last response). 0: no
    // key; 1: the key follows; k >= 2: the key of slot k - 2.
    let run = &h.run;
    out.push(run.seen | if run.counting { 0x80 } else { 0 });
    if run.key == 0 {
        put_varint(out, 0);
    } else if let Some(i) = run_slot {
        put_varint(out, i as u64 + 2);
    } else {
        put_varint(out, 1);
        put_u64(out, run.key);
    }
    for b in &run.blocks[..usize::from(run.seen).min(RUN_BLOCKS)] {
        out.extend_from_slice(&b.to_le_bytes());
    }
    put_varint(
        out,
        h.newest_ms.map_or(0, |n| {
            zigzag(n.wrapping_sub(h.identity.mtime_ns.div_euclid(1_000_000))).saturating_add(1)
        }),
    );
    let c = &h.counts;
    for v in [
        c.usage_lines,
        c.lenient_lines,
        c.bad_lines,
        c.long_lines,
        c.dropped,
    ] {
        put_varint(out, v);
    }
}

/// Appends the footer.
pub fn put_footer(out: &mut Vec<u8>, f: &Footer) {
    put_varint(out, f.models.len() as u64);
    for m in &f.models {
        put_bytes(out, m.as_bytes());
    }
    put_bytes(out, &f.root);
    put_signed(out, f.written_at_ms);
    put_varint(out, f.files.len() as u64);
    let mut last: &[u8] = &[];
    for l in &f.files {
        let shared = last.iter().zip(&l.rel).take_while(|(a, b)| a == b).count();
        put_varint(out, shared as u64);
        put_bytes(out, &l.rel[shared..]);
        put_varint(out, l.offset);
        put_varint(out, l.len);
        put_varint(out, l.slots);
        last = &l.rel;
    }
    put_varint(out, f.slots);
    match &f.alone {
        None => put_varint(out, 0),
        Some(bits) => {
            put_varint(out, 1);
            put_bytes(out, bits);
        }
    }
    put_dirs(out, f);
}

/// The directories the files' paths imply: the root (`""`) and every directory above a
/// file, in path order, each once. Files in path order share their leading directories
/// with the file before them (a directory's files are neighbours in that order), so only
/// the directories past the shared part are new.
pub fn implied_dirs(files: &[Listed]) -> Vec<&[u8]> {
    let mut dirs: Vec<&[u8]> = vec![b""];
    let mut last: &[u8] = &[];
    for l in files {
        let shared = last.iter().zip(&l.rel).take_while(|(a, b)| a == b).count();
        // A slash within the shared part was the previous file's too.
        for i in memchr::memchr_iter(b'/', &l.rel[shared..]) {
            dirs.push(&l.rel[..shared + i]);
        }
        last = &l.rel;
    }
    dirs.sort_unstable();
    dirs.dedup();
    dirs
}

/// A directory's code: 0, implied by the files but not listed; 1, listed but not to be
/// trusted; else 2 + its time, zigzagged against the time of the trusted one before it.
const DIR_ABSENT: u64 = 0;
const DIR_UNTRUSTED: u64 = 1;
const DIR_TIMED: u64 = 2;

/// The directories: those the files do not imply (front-coded, like the files), then a
/// code for each directory of both kinds, in path order.
fn put_dirs(out: &mut Vec<u8>, f: &Footer) {
    let implied = implied_dirs(&f.files);
    let extra: Vec<&[u8]> = f
        .dirs
        .iter()
        .map(|d| d.rel.as_slice())
        .filter(|rel| implied.binary_search(rel).is_err())
        .collect();
    put_varint(out, extra.len() as u64);
    let mut last: &[u8] = &[];
    for rel in &extra {
        let shared = last.iter().zip(*rel).take_while(|(a, b)| a == b).count();
        put_varint(out, shared as u64);
        put_bytes(out, &rel[shared..]);
        last = rel;
    }
    let mut prev = f.written_at_ms.wrapping_mul(1_000_000);
    let mut listed = f.dirs.iter().peekable();
    for rel in merged(&implied, &extra) {
        // `f.dirs` is in path order, and so is the merge: each listed one comes in turn.
        while listed.next_if(|d| d.rel.as_slice() < rel).is_some() {}
        let code = match listed.next_if(|d| d.rel == rel) {
            None => DIR_ABSENT,
            Some(ListedDir { mtime_ns: None, .. }) => DIR_UNTRUSTED,
            Some(ListedDir {
                mtime_ns: Some(t), ..
            }) => match zigzag(t.wrapping_sub(prev)).checked_add(DIR_TIMED) {
                Some(code) => {
                    prev = *t;
                    code
                }
                // Two times that far apart: not worth a code of their own.
                None => DIR_UNTRUSTED,
            },
        };
        put_varint(out, code);
    }
}

/// Two lists in path order, merged into one in path order (each path once).
fn merged<'a>(a: &[&'a [u8]], b: &[&'a [u8]]) -> Vec<&'a [u8]> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let take_a = j == b.len() || (i < a.len() && a[i] <= b[j]);
        let next = if take_a {
            i += 1;
            a[i - 1]
        } else {
            j += 1;
            b[j - 1]
        };
        if out.last() != Some(&next) {
            out.push(next);
        }
    }
    out
}

/// The header: the magic and the facts version.
pub fn header(facts_version: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..].copy_from_slice(&facts_version.to_le_bytes());
    h
}

/// The trailer, for a footer at `footer_offset` of `footer_len` bytes and a CRC-32 of
/// everything before the trailer.
pub fn trailer(footer_offset: u64, footer_len: u64, crc: u32) -> [u8; TRAILER_LEN] {
    let mut t = [0u8; TRAILER_LEN];
    t[..8].copy_from_slice(&footer_offset.to_le_bytes());
    t[8..16].copy_from_slice(&footer_len.to_le_bytes());
    t[16..20].copy_from_slice(&crc.to_le_bytes());
    t[20..].copy_from_slice(&END_MAGIC);
    t
}

/// A whole index in memory (for tests and small indexes): header, the records, footer
/// and trailer. `records` are the files' records in footer order.
pub fn encode(facts_version: u64, footer: &Footer, records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = header(facts_version).to_vec();
    let mut footer = footer.clone();
    for (l, r) in footer.files.iter_mut().zip(records) {
        l.offset = out.len() as u64;
        l.len = r.len() as u64;
        out.extend_from_slice(r);
    }
    let at = out.len() as u64;
    put_footer(&mut out, &footer);
    let len = out.len() as u64 - at;
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&trailer(at, len, crc));
    out
}

// ---------------------------------------------------------------------------- reading

/// A cursor over bytes that says what is wrong instead of panicking.
pub struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

const CUT: FormatError = FormatError("a record is cut off");

impl<'a> Reader<'a> {
    /// Reads `b` from its start.
    pub fn new(b: &'a [u8]) -> Reader<'a> {
        Reader { b, at: 0 }
    }

    /// Whether every byte was read.
    pub fn done(&self) -> bool {
        self.at == self.b.len()
    }

    /// A LEB128 varint.
    #[inline(always)]
    pub fn varint(&mut self) -> Result<u64, FormatError> {
        // Most numbers of a record fit in a byte.
        if let Some(&byte) = self.b.get(self.at)
            && byte < 0x80
        {
            self.at += 1;
            return Ok(u64::from(byte));
        }
        self.long_varint()
    }

    #[inline]
    fn long_varint(&mut self) -> Result<u64, FormatError> {
        let rest = self.b.get(self.at..).unwrap_or_default();
        // Two and three bytes are most of the rest (times, output tokens, cache writes).
        if let [b0, b1, more @ ..] = rest
            && *b0 >= 0x80
        {
            let low = u64::from(b0 & 0x7f);
            if *b1 < 0x80 {
                self.at += 2;
                return Ok(low | u64::from(*b1) << 7);
            }
            if let [b2, ..] = more
                && *b2 < 0x80
            {
                self.at += 3;
                return Ok(low | u64::from(b1 & 0x7f) << 7 | u64::from(*b2) << 14);
            }
        }
        let mut v = 0u64;
        for (i, &byte) in rest.iter().take(10).enumerate() {
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.at += i + 1;
                return Ok(v);
            }
        }
        Err(if rest.len() < 10 {
            CUT
        } else {
            FormatError("a number is too long")
        })
    }

    #[inline(always)]
    fn signed(&mut self) -> Result<i64, FormatError> {
        self.varint().map(unzigzag)
    }

    #[inline(always)]
    fn u8(&mut self) -> Result<u8, FormatError> {
        let v = *self.b.get(self.at).ok_or(CUT)?;
        self.at += 1;
        Ok(v)
    }

    /// The next `N` bytes, as they are.
    #[inline(always)]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let s: [u8; N] = self
            .b
            .get(self.at..self.at + N)
            .and_then(|s| s.try_into().ok())
            .ok_or(CUT)?;
        self.at += N;
        Ok(s)
    }

    #[inline(always)]
    fn u64(&mut self) -> Result<u64, FormatError> {
        self.array().map(u64::from_le_bytes)
    }

    #[inline(always)]
    fn u32(&mut self) -> Result<u32, FormatError> {
        self.array().map(u32::from_le_bytes)
    }

    #[inline(always)]
    fn u32_of(&mut self) -> Result<u32, FormatError> {
        u32::try_from(self.varint()?).map_err(|_| FormatError("a count is out of range"))
    }

    fn bytes(&mut self) -> Result<&'a [u8], FormatError> {
        let n = usize::try_from(self.varint()?).map_err(|_| CUT)?;
        let end = self.at.checked_add(n).ok_or(CUT)?;
        let s = self.b.get(self.at..end).ok_or(CUT)?;
        self.at = end;
        Ok(s)
    }

    fn string(&mut self) -> Result<String, FormatError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| FormatError("a name is not UTF-8"))
    }

    /// A count of things each at least `min` bytes long: never more than the bytes left
    /// could hold, so damage cannot ask for a huge allocation.
    fn count(&mut self, min: usize) -> Result<usize, FormatError> {
        let n = usize::try_from(self.varint()?).map_err(|_| CUT)?;
        if n > (self.b.len() - self.at) / min.max(1) {
            return Err(FormatError("a count is larger than the record"));
        }
        Ok(n)
    }
}

#[inline]
fn get_entry(
    r: &mut Reader<'_>,
    prev: &mut Prev,
) -> Result<(Option<u64>, EntryParts), FormatError> {
    let h = r.u8()?;
    // The key: its request tag now, made whole once the id hash is read.
    let key = if h & E_KEYED != 0 {
        match r.u32()? {
            WHOLE_KEY => Some(Ok(r.u64()?)),
            tag => Some(Err(tag)),
        }
    } else {
        None
    };
    let flags = if h & E_FLAGS != 0 {
        r.u8()?
    } else {
        prev.flags
    };
    let model = if h & E_MODEL != 0 {
        match r.varint()? {
            0 => None,
            m => Some(
                ModelId::try_from(m - 1).map_err(|_| FormatError("a model id is out of range"))?,
            ),
        }
    } else {
        prev.model
    };
    let line32 =
        |v: i64| u32::try_from(v).map_err(|_| FormatError("a line number is out of range"));
    let first_line = line32(i64::from(prev.first_line) + r.signed()?)?;
    let line = if h & E_LINE != 0 {
        line32(i64::from(first_line) + r.signed()?)?
    } else {
        first_line
    };
    let ts_ms = prev.ts.wrapping_add(r.signed()?);
    let mut counts = [0u32; 5];
    for c in &mut counts[..3] {
        *c = r.u32_of()?;
    }
    counts[3] = u32::try_from((prev.cache_read_guess as i64).wrapping_add(r.signed()?))
        .map_err(|_| FormatError("a count is out of range"))?;
    if h & E_HOUR != 0 {
        counts[4] = r.u32_of()?;
    }
    let id_hash = r.u64()?;
    let key = key.map(|k| k.unwrap_or_else(|tag| crate::record::key_of(id_hash, tag)));
    let cost_usd = if h & E_COST != 0 {
        Some(f64::from_bits(r.u64()?))
    } else {
        None
    };
    let limit_reset_s = if h & E_LIMIT != 0 { r.u32_of()? } else { 0 };
    let (thinking, visible, content) = if h & E_CONTENT != 0 {
        (r.u32_of()?, r.u32_of()?, r.u8()?)
    } else {
        (0, 0, 0)
    };
    let e = EntryParts {
        ts_ms,
        counts,
        cost_usd,
        model,
        line,
        first_line,
        id_hash,
        limit_reset_s,
        thinking,
        visible,
        flags,
        content,
    };
    *prev = Prev::after(&e);
    Ok((key, e))
}

/// Reads a record's [`Identity`] only: what deciding whether the file is still good
/// needs, and the cheapest part to read.
pub fn get_identity(b: &[u8]) -> Result<Identity, FormatError> {
    read_identity(&mut Reader::new(b))
}

fn read_identity(r: &mut Reader<'_>) -> Result<Identity, FormatError> {
    let dev = r.varint()?;
    let ino = r.varint()?;
    let offset = r.varint()?;
    let size = (offset as i64).wrapping_add(r.signed()?) as u64;
    let seen_ms = r.signed()?;
    let mtime_ns = seen_ms.wrapping_mul(1_000_000).wrapping_sub(r.signed()?);
    Ok(Identity {
        dev,
        ino,
        size,
        mtime_ns,
        seen_ms,
        offset,
    })
}

/// The head, and the slot whose key is the run's (`None` when the key was written out;
/// the run's key is left 0 when it is a slot's, which [`get_facts`] fills in).
fn read_head(r: &mut Reader<'_>) -> Result<(FileHead, Option<usize>), FormatError> {
    let identity = read_identity(r)?;
    let lines = r.varint()?;
    let skipping = r.varint()?.checked_sub(1);
    let head = r.u64()?;
    let tail = r.u64()?;
    let b = r.u8()?;
    let seen = b & 0x7f;
    if usize::from(seen) > RUN_BLOCKS {
        return Err(FormatError("a run holds too many blocks"));
    }
    let mut run = RunParts {
        counting: b & 0x80 != 0,
        seen,
        ..RunParts::default()
    };
    let slot = match r.varint()? {
        0 => None,
        1 => {
            run.key = r.u64()?;
            None
        }
        k => Some(usize::try_from(k - 2).map_err(|_| CUT)?),
    };
    for i in 0..usize::from(seen) {
        run.blocks[i] = u16::from_le_bytes([r.u8()?, r.u8()?]);
    }
    let newest_ms = r.varint()?.checked_sub(1).map(|d| {
        identity
            .mtime_ns
            .div_euclid(1_000_000)
            .wrapping_add(unzigzag(d))
    });
    let counts = FileCounts {
        usage_lines: r.varint()?,
        lenient_lines: r.varint()?,
        bad_lines: r.varint()?,
        long_lines: r.varint()?,
        dropped: r.varint()?,
    };
    Ok((
        FileHead {
            identity,
            lines,
            skipping,
            head,
            tail,
            run,
            newest_ms,
            counts,
        },
        slot,
    ))
}

/// Reads a whole record.
pub fn get_facts(b: &[u8]) -> Result<FileFacts, FormatError> {
    let mut entries = Vec::new();
    let (head, errors) = get_facts_into(b, &mut entries)?;
    Ok(FileFacts {
        head,
        errors,
        entries,
    })
}

/// Reads a whole record, its entries into `entries` (cleared first, its room reused):
/// the head and the errors come back.
pub fn get_facts_into(
    b: &[u8],
    entries: &mut Vec<(Option<u64>, EntryParts)>,
) -> Result<(FileHead, Vec<(u64, String)>), FormatError> {
    entries.clear();
    let mut r = Reader::new(b);
    let (mut head, run_slot) = read_head(&mut r)?;
    let n = r.count(2)?;
    let mut errors = Vec::with_capacity(n);
    for _ in 0..n {
        let line = r.varint()?;
        let code = r.varint()?;
        let message = if code % 2 == 1 {
            stock_messages()
                .get(usize::try_from(code / 2).map_err(|_| CUT)?)
                .ok_or(FormatError("a line problem is not one of the stock ones"))?
                .clone()
        } else {
            let len = usize::try_from(code / 2).map_err(|_| CUT)?;
            let end = r.at.checked_add(len).ok_or(CUT)?;
            let b = r.b.get(r.at..end).ok_or(CUT)?;
            r.at = end;
            String::from_utf8_lossy(b).into_owned()
        };
        errors.push((line, message));
    }
    // An entry takes at least 11 bytes (header, hash, a byte per number).
    let n = r.count(11)?;
    entries.reserve(n);
    let mut prev = Prev::default();
    for _ in 0..n {
        entries.push(get_entry(&mut r, &mut prev)?);
    }
    if !r.done() {
        return Err(FormatError("a record has bytes after its entries"));
    }
    if let Some(slot) = run_slot {
        head.run.key = entries
            .get(slot)
            .and_then(|(k, _)| *k)
            .ok_or(FormatError("a run names a response the record lacks"))?;
    }
    Ok((head, errors))
}

/// Reads the footer.
pub fn get_footer(b: &[u8]) -> Result<Footer, FormatError> {
    let mut r = Reader::new(b);
    let n = r.count(1)?;
    let mut models = Vec::with_capacity(n);
    for _ in 0..n {
        models.push(r.string()?);
    }
    let root = r.bytes()?.to_vec();
    let written_at_ms = r.signed()?;
    let n = r.count(4)?;
    let mut files: Vec<Listed> = Vec::with_capacity(n);
    for _ in 0..n {
        let shared = usize::try_from(r.varint()?).map_err(|_| CUT)?;
        let last = files.last().map_or(&[][..], |l| l.rel.as_slice());
        if shared > last.len() {
            return Err(FormatError("a path shares more than the one before it"));
        }
        let rest = r.bytes()?;
        let mut rel = Vec::with_capacity(shared + rest.len());
        rel.extend_from_slice(&last[..shared]);
        rel.extend_from_slice(rest);
        let offset = r.varint()?;
        let len = r.varint()?;
        let slots = r.varint()?;
        files.push(Listed {
            rel,
            offset,
            len,
            slots,
        });
    }
    let slots = r.varint()?;
    let alone = match r.varint()? {
        0 => None,
        1 => Some(r.bytes()?.to_vec()),
        _ => {
            return Err(FormatError(
                "the footer's response bits are of an unknown kind",
            ));
        }
    };
    if alone.as_ref().is_some_and(|b| {
        let listed: u64 = files.iter().map(|l| l.slots).sum();
        (b.len() as u64) < listed.div_ceil(8)
    }) {
        return Err(FormatError(
            "the footer's response bits are fewer than its responses",
        ));
    }
    let dirs = get_dirs(&mut r, &files, written_at_ms)?;
    if !r.done() {
        return Err(FormatError("the footer has bytes after its directories"));
    }
    Ok(Footer {
        models,
        root,
        written_at_ms,
        files,
        slots,
        alone,
        dirs,
    })
}

fn get_dirs(
    r: &mut Reader<'_>,
    files: &[Listed],
    written_at_ms: i64,
) -> Result<Vec<ListedDir>, FormatError> {
    let implied = implied_dirs(files);
    let n = r.count(2)?;
    let mut extra: Vec<Vec<u8>> = Vec::with_capacity(n);
    for _ in 0..n {
        let last = extra.last().map_or(&[][..], Vec::as_slice);
        let shared = usize::try_from(r.varint()?).map_err(|_| CUT)?;
        if shared > last.len() {
            return Err(FormatError("a path shares more than the one before it"));
        }
        let mut rel = last[..shared].to_vec();
        rel.extend_from_slice(r.bytes()?);
        if extra.last().is_some_and(|l| *l >= rel) || implied.binary_search(&&rel[..]).is_ok() {
            return Err(FormatError("the footer's directories are out of order"));
        }
        extra.push(rel);
    }
    let extra: Vec<&[u8]> = extra.iter().map(Vec::as_slice).collect();
    let all = merged(&implied, &extra);
    let mut dirs = Vec::with_capacity(all.len());
    let mut prev = written_at_ms.wrapping_mul(1_000_000);
    for rel in all {
        let mtime_ns = match r.varint()? {
            DIR_ABSENT => continue,
            DIR_UNTRUSTED => None,
            code => {
                prev = prev.wrapping_add(unzigzag(code - DIR_TIMED));
                Some(prev)
            }
        };
        dirs.push(ListedDir {
            rel: rel.to_vec(),
            mtime_ns,
        });
    }
    Ok(dirs)
}

/// Checks a whole index's frame (magic, trailer, CRC) and reads its facts version and
/// footer. The records are read one by one later, from the offsets the footer gives
/// (each checked to lie between the header and the footer).
pub fn open(b: &[u8]) -> Result<(u64, Footer), FormatError> {
    if b.len() < HEADER_LEN + TRAILER_LEN || b[..7] != MAGIC[..7] {
        return Err(FormatError("not a redline scan index"));
    }
    if b[7] != FORMAT {
        return Err(FormatError("an index of another format version"));
    }
    let t = &b[b.len() - TRAILER_LEN..];
    if t[20..] != END_MAGIC {
        return Err(FormatError("the index is cut off (no trailer)"));
    }
    let word = |r: std::ops::Range<usize>| -> u64 {
        let mut a = [0u8; 8];
        a[..r.len()].copy_from_slice(&t[r]);
        u64::from_le_bytes(a)
    };
    let (at, len, crc) = (word(0..8), word(8..16), word(16..20) as u32);
    let body_end = b.len() - TRAILER_LEN;
    if crc32fast::hash(&b[..body_end]) != crc {
        return Err(FormatError("the index's checksum does not match (damaged)"));
    }
    let footer_end = at.checked_add(len).ok_or(CUT)?;
    if at < HEADER_LEN as u64 || footer_end != body_end as u64 {
        return Err(FormatError("the footer is not where the trailer says"));
    }
    let footer = get_footer(&b[at as usize..body_end])?;
    for l in &footer.files {
        let end = l.offset.checked_add(l.len).ok_or(CUT)?;
        if l.offset < HEADER_LEN as u64 || end > at {
            return Err(FormatError("a record lies outside the index"));
        }
    }
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[8..16]);
    Ok((u64::from_le_bytes(v), footer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u32) -> EntryParts {
        EntryParts {
            ts_ms: 1_760_000_000_000 + i64::from(i) * 7_001,
            counts: [
                3 + i,
                400 * i,
                20_000,
                150_000 + i,
                if i.is_multiple_of(3) { 500 } else { 0 },
            ],
            cost_usd: i.is_multiple_of(5).then_some(0.125 * f64::from(i)),
            model: if i.is_multiple_of(4) {
                None
            } else {
                Some(i % 3)
            },
            line: 10 * i + (i % 2),
            first_line: 10 * i,
            id_hash: u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            limit_reset_s: if i == 7 { 1_760_003_600 } else { 0 },
            thinking: i * 13,
            visible: i * 2,
            flags: if i.is_multiple_of(6) { 1 } else { 16 },
            content: (i % 3) as u8,
        }
    }

    fn facts(n: u32) -> FileFacts {
        let entries: Vec<(Option<u64>, EntryParts)> = (0..n)
            .map(|i| {
                // Keys as transcripts make them (a request tag beside the id hash), and
                // some that are not (written whole).
                let key = if i % 3 == 0 {
                    crate::record::key_of(entry(i).id_hash, 2 * i + 1)
                } else {
                    u64::from(i) * 31 + 5
                };
                ((i % 9 != 4).then_some(key), entry(i))
            })
            .collect();
        FileFacts {
            head: FileHead {
                identity: Identity {
                    dev: 2049,
                    ino: 1_234_567,
                    size: 90_001,
                    mtime_ns: 1_760_000_000_123_456_789,
                    seen_ms: 1_760_000_100_000,
                    offset: 90_000,
                },
                lines: 321,
                skipping: None,
                head: 0xDEAD_BEEF,
                tail: 0xFEED_F00D,
                run: RunParts {
                    key: entries.last().and_then(|e| e.0).unwrap_or(99),
                    counting: true,
                    seen: 2,
                    blocks: [7, 9, 0, 0, 0, 0, 0, 0],
                },
                newest_ms: Some(1_760_000_050_000),
                counts: FileCounts {
                    usage_lines: 40,
                    lenient_lines: 1,
                    bad_lines: 2,
                    long_lines: 0,
                    dropped: 20,
                },
            },
            errors: vec![
                (5, "malformed JSON: line is cut off".into()),
                (9, stock_messages()[0].clone()),
                (12, stock_messages()[1].clone()),
            ],
            entries,
        }
    }

    /// Every length a number can take, each cut one byte short, and one byte too many.
    #[test]
    fn numbers_of_every_length_read_back_and_cut_ones_are_named() {
        let mut values = vec![0, 1, 127, 128, 300, 16_383, 16_384, 2_097_151, 2_097_152];
        values.extend((3..64).map(|bits| (1u64 << bits) - 1));
        values.extend((3..64).map(|bits| 1u64 << bits));
        values.push(u64::MAX);
        for v in values {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut r = Reader::new(&b);
            assert_eq!(r.varint(), Ok(v), "{v}");
            assert!(r.done(), "{v}");
            // Followed by more: only its own bytes are taken.
            b.push(0x55);
            let mut r = Reader::new(&b);
            assert_eq!(r.varint(), Ok(v), "{v} followed");
            assert_eq!(r.u8(), Ok(0x55));
            b.pop();
            b.pop();
            if !b.is_empty() {
                assert_eq!(Reader::new(&b).varint(), Err(CUT), "{v} cut");
            }
        }
        assert_eq!(
            Reader::new(&[0xff; 11]).varint(),
            Err(FormatError("a number is too long"))
        );
    }

    #[test]
    fn a_record_reads_back_as_written() {
        for n in [0, 1, 2, 17, 300] {
            let f = facts(n);
            let mut b = Vec::new();
            put_facts(&mut b, &f);
            let mut want = f.clone();
            if n == 0 {
                // With no slot to name it, the key is written out: the same.
                want.head.run.key = 99;
            }
            assert_eq!(get_facts(&b).unwrap(), want, "{n} entries");
            assert_eq!(get_identity(&b).unwrap(), want.head.identity);
        }
    }

    #[test]
    fn a_whole_index_reads_back_and_its_records_are_found() {
        let footer = Footer {
            models: vec![
                "claude-opus-4-6".into(),
                "claude-haiku-4-5".into(),
                "x".into(),
            ],
            root: b"/home/u/.claude/projects".to_vec(),
            written_at_ms: 1_760_000_200_000,
            slots: 43,
            files: vec![
                Listed {
                    rel: b"-p/a.jsonl".to_vec(),
                    slots: 3,
                    ..Listed::default()
                },
                Listed {
                    rel: b"-p/a/subagents/x.jsonl".to_vec(),
                    slots: 40,
                    ..Listed::default()
                },
            ],
            alone: Some(vec![0b1010_0101, 0xff, 0, 0x81, 0x7e, 0x05]),
            // The root and `-p/a` are implied by the files, `-p/empty` and `-q` are not;
            // `-p/a/subagents` is implied but was not listed.
            dirs: vec![
                ListedDir {
                    rel: b"".to_vec(),
                    mtime_ns: Some(1_760_000_100_000_000_001),
                },
                ListedDir {
                    rel: b"-p".to_vec(),
                    mtime_ns: None,
                },
                ListedDir {
                    rel: b"-p/a".to_vec(),
                    mtime_ns: Some(1_759_000_000_123_456_789),
                },
                ListedDir {
                    rel: b"-p/empty".to_vec(),
                    mtime_ns: Some(1_760_000_300_000_000_000),
                },
                ListedDir {
                    rel: b"-q".to_vec(),
                    mtime_ns: None,
                },
            ],
        };
        let records: Vec<Vec<u8>> = [3, 40]
            .map(|n| {
                let mut b = Vec::new();
                put_facts(&mut b, &facts(n));
                b
            })
            .to_vec();
        let bytes = encode(77, &footer, &records);
        let (version, got) = open(&bytes).unwrap();
        assert_eq!(version, 77);
        assert_eq!(got.models, footer.models);
        assert_eq!(got.root, footer.root);
        assert_eq!(got.written_at_ms, footer.written_at_ms);
        assert_eq!(got.slots, 43);
        assert_eq!(got.alone, footer.alone);
        assert_eq!(got.dirs, footer.dirs);
        assert_eq!(got.files[1].slots, 40);
        for (l, r) in got.files.iter().zip(&records) {
            let slice = &bytes[l.offset as usize..(l.offset + l.len) as usize];
            assert_eq!(slice, &r[..]);
        }
        assert_eq!(got.files[1].rel, b"-p/a/subagents/x.jsonl");
    }

    /// Every cut and every flipped byte is refused with a reason, never a panic and never
    /// a different index.
    #[test]
    fn damage_is_refused_never_misread() {
        let footer = Footer {
            models: vec!["m".into()],
            root: b"/r".to_vec(),
            written_at_ms: 5,
            slots: 5,
            files: vec![Listed {
                rel: b"-p/s.jsonl".to_vec(),
                slots: 5,
                ..Listed::default()
            }],
            alone: Some(vec![0b10110]),
            dirs: vec![
                ListedDir {
                    rel: b"-p".to_vec(),
                    mtime_ns: Some(3_000_000_000),
                },
                ListedDir {
                    rel: b"-p/x".to_vec(),
                    mtime_ns: Some(4_000_000_000),
                },
            ],
        };
        let mut rec = Vec::new();
        put_facts(&mut rec, &facts(5));
        let bytes = encode(1, &footer, &[rec]);
        for cut in 0..bytes.len() {
            assert!(open(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in 0..bytes.len() {
            for bit in [0x01u8, 0x80] {
                let mut b = bytes.clone();
                b[at] ^= bit;
                assert!(open(&b).is_err(), "flip at {at}");
            }
        }
        // A record's own decoder never panics on any prefix or flip either.
        let mut rec = Vec::new();
        put_facts(&mut rec, &facts(5));
        for cut in 0..rec.len() {
            let _ = get_facts(&rec[..cut]);
            let _ = get_identity(&rec[..cut]);
        }
        for at in 0..rec.len() {
            let mut b = rec.clone();
            b[at] ^= 0xff;
            let _ = get_facts(&b);
        }
    }

    #[test]
    fn the_files_imply_their_directories() {
        let files: Vec<Listed> = [
            "-a/x.jsonl",
            "-p/a-b/x.jsonl",
            "-p/a.jsonl",
            "-p/a/subagents/x.jsonl",
            "-p/a/subagents/y.jsonl",
            "-p/b/c/d/e.jsonl",
            "top.jsonl",
        ]
        .iter()
        .map(|r| Listed {
            rel: r.as_bytes().to_vec(),
            ..Listed::default()
        })
        .collect();
        let dirs: Vec<&str> = implied_dirs(&files)
            .into_iter()
            .map(|d| std::str::from_utf8(d).unwrap())
            .collect();
        assert_eq!(
            dirs,
            [
                "",
                "-a",
                "-p",
                "-p/a",
                "-p/a-b",
                "-p/a/subagents",
                "-p/b",
                "-p/b/c",
                "-p/b/c/d"
            ]
        );
        // Listed directories cost their time, or a byte: the paths are the files'.
        let footer = Footer {
            dirs: dirs
                .iter()
                .enumerate()
                .map(|(i, d)| ListedDir {
                    rel: d.as_bytes().to_vec(),
                    mtime_ns: (i % 3 != 0).then_some(1_760_000_000_000_000_000 + i as i64),
                })
                .collect(),
            files,
            ..Footer::default()
        };
        let mut with = Vec::new();
        put_footer(&mut with, &footer);
        let mut without = Vec::new();
        put_footer(
            &mut without,
            &Footer {
                dirs: Vec::new(),
                ..footer.clone()
            },
        );
        assert!(
            with.len() - without.len() < 9 * 8,
            "{}",
            with.len() - without.len()
        );
        assert_eq!(get_footer(&with).unwrap(), footer);
        assert_eq!(get_footer(&without).unwrap().dirs, []);
    }
}
