//! Where Claude Code keeps its transcripts, and which files under there are read.
//!
//! The rule is SPEC.md's (and ccusage's): `CLAUDE_CONFIG_DIR` is a comma-separated list
//! whose entries may name the config directory or its `projects/` folder itself; without
//! it, both `$XDG_CONFIG_HOME/claude` (default `~/.config/claude`) and `~/.claude` are
//! used. Every `*.jsonl` below `projects/` is read, `subagents/` included.
//!
//! Listing them is mostly the kernel's work per directory (open, read its entries,
//! close). A directory's modification time changes when an entry is added to it, removed
//! or renamed, not when a file in it grows; so with what the scan index remembers of the
//! last listing ([`Memory`]), [`survey_with`] does not read a directory whose time is
//! the one remembered (and was settled then): its remembered files and subdirectories
//! are looked at with one `stat` each, and the result is [`survey`]'s. Those `stat`s are
//! all taken before the walk, shared out evenly among threads, and what the memory
//! vouches for is then taken without walking it (`roots/ahead.rs`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod ahead;
use ahead::Ahead;

/// The environment the roots are resolved from, passed in so the rule is testable.
#[derive(Clone, Debug, Default)]
pub struct RootEnv {
    /// `CLAUDE_CONFIG_DIR`, if set.
    pub claude_config_dir: Option<String>,
    /// `XDG_CONFIG_HOME`, if set.
    pub xdg_config_home: Option<String>,
    /// The user's home directory.
    pub home: Option<PathBuf>,
}

impl RootEnv {
    /// Reads the three values from this process's environment.
    pub fn from_process() -> RootEnv {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        RootEnv {
            claude_config_dir: var("CLAUDE_CONFIG_DIR"),
            xdg_config_home: var("XDG_CONFIG_HOME"),
            home: var("HOME").map(PathBuf::from),
        }
    }
}

impl RootEnv {
    /// `$XDG_CONFIG_HOME`, else `~/.config`: where Claude Code's second default root and
    /// redline's own configuration live.
    pub fn config_home(&self) -> Option<PathBuf> {
        self.xdg_config_home
            .as_ref()
            .map(PathBuf::from)
            .or_else(|| self.home.as_ref().map(|h| h.join(".config")))
    }
}

/// A `projects/` directory to read, whether or not it exists yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    /// The `projects/` directory itself.
    pub projects: PathBuf,
    /// Whether the user named it (`CLAUDE_CONFIG_DIR`) rather than it being a default.
    pub explicit: bool,
}

/// The `projects/` directories to read, in the order given, without duplicates.
///
/// An entry of `CLAUDE_CONFIG_DIR` that already ends in `projects` is taken as the
/// projects directory; any other entry gets `projects` appended.
pub fn resolve_roots(env: &RootEnv) -> Vec<Root> {
    let mut roots: Vec<Root> = Vec::new();
    let mut push = |projects: PathBuf, explicit: bool| {
        if !roots.iter().any(|r| r.projects == projects) {
            roots.push(Root { projects, explicit });
        }
    };
    if let Some(list) = &env.claude_config_dir {
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let path = expand_home(entry, env.home.as_deref());
            let projects = if path.file_name().is_some_and(|n| n == "projects") {
                path
            } else {
                path.join("projects")
            };
            push(projects, true);
        }
        return roots;
    }
    if let Some(xdg) = env.config_home() {
        push(xdg.join("claude").join("projects"), false);
    }
    if let Some(home) = &env.home {
        push(home.join(".claude").join("projects"), false);
    }
    roots
}

fn expand_home(entry: &str, home: Option<&Path>) -> PathBuf {
    match (entry.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if entry == "~" && home.is_some() => home.map(Path::to_path_buf).unwrap_or_default(),
        _ => PathBuf::from(entry),
    }
}

/// One transcript file and what its place under `projects/` says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transcript {
    /// Full path of the file.
    pub path: PathBuf,
    /// The first component under `projects/`: Claude Code's encoded working directory
    /// (shared with the file listed before it when it is the same).
    pub project: Arc<str>,
    /// The session the file belongs to: its stem, or for a file under
    /// `<session>/subagents/` the parent session's id (shared like `project`).
    pub session: Arc<str>,
    /// Its size in bytes when it was listed (0 when not known): the scan reads the
    /// largest files first.
    pub len: u64,
    /// What the listing's `stat` said of it, when it said anything: the scan index
    /// ([`crate::index`]) trusts an unchanged file without opening it.
    pub stamp: Option<Stamp>,
}

/// A file's identity and version as one `stat` gives them: device and inode (which
/// survive a rename), size and modification time. Equal stamps, taken far enough apart
/// in time (see [`crate::index`]), mean an unchanged file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stamp {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
}

impl Stamp {
    /// The stamp of a file's metadata (device and inode are 0 where the platform has none).
    pub fn of(m: &fs::Metadata) -> Stamp {
        let (dev, ino) = crate::scan::file_identity(m);
        let mtime_ns =
            m.modified()
                .ok()
                .map_or(0, |t| match t.duration_since(std::time::UNIX_EPOCH) {
                    Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
                    Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
                });
        Stamp {
            dev,
            ino,
            size: m.len(),
            mtime_ns,
        }
    }
}

impl Transcript {
    /// Describes `path`, which lies below the `projects` directory `root`.
    /// Returns `None` for a file directly in `projects/` (it belongs to no project).
    pub fn describe(root: &Path, path: &Path) -> Option<Transcript> {
        let (project, session) = Names::default().of(root, path)?;
        Some(Transcript {
            path: path.to_path_buf(),
            project,
            session,
            len: 0,
            stamp: None,
        })
    }
}

/// Names files' projects and sessions, each name shared with the file named before when
/// it is the same: files come in path order, so a project's files and a session's
/// subagents are neighbours, and 21,752 files hold 5 projects and some 8,000 sessions
/// rather than 43,504 names made one by one.
#[derive(Default)]
struct Names {
    project: Option<Arc<str>>,
    session: Option<Arc<str>>,
}

impl Names {
    /// The project and session of `path` below `root` (see [`Transcript::describe`]).
    fn of(&mut self, root: &Path, path: &Path) -> Option<(Arc<str>, Arc<str>)> {
        #[cfg(unix)]
        if let Some(found) = plain_project_and_session(root, path) {
            let (project, session) = found?;
            return Some((
                shared(&mut self.project, project),
                shared(&mut self.session, session),
            ));
        }
        let parts: Vec<&std::ffi::OsStr> = path.strip_prefix(root).ok()?.iter().collect();
        if parts.len() < 2 {
            return None;
        }
        // <project>/<session>/subagents/<agent>.jsonl folds into <session>.
        let session = match parts.iter().rposition(|p| *p == "subagents") {
            Some(i) if i >= 2 => parts[i - 1],
            _ => Path::new(parts[parts.len() - 1]).file_stem()?,
        };
        Some((
            shared(&mut self.project, parts[0].as_encoded_bytes()),
            shared(&mut self.session, session.as_encoded_bytes()),
        ))
    }
}

/// The name `bytes` read as text: `last` when it reads the same, else made (and kept as
/// `last`). Names that are not UTF-8 are read lossily rather than skipped: the file still
/// counts.
fn shared(last: &mut Option<Arc<str>>, bytes: &[u8]) -> Arc<str> {
    if let Some(l) = last
        && l.as_bytes() == bytes
    {
        return Arc::clone(l);
    }
    let name: Arc<str> = match String::from_utf8_lossy(bytes) {
        std::borrow::Cow::Borrowed(s) => s.into(),
        std::borrow::Cow::Owned(s) => s.into(),
    };
    *last = Some(Arc::clone(&name));
    name
}

/// [`Names::of`] when `path` is `root`'s bytes, a slash and plain names joined
/// by slashes (as a listing builds it), read off the bytes in one pass: what taking both
/// paths apart would give. `None` for anything else (taken apart then).
#[cfg(unix)]
fn plain_project_and_session<'p>(
    root: &Path,
    path: &'p Path,
) -> Option<Option<(&'p [u8], &'p [u8])>> {
    use std::os::unix::ffi::OsStrExt;
    let mut r = root.as_os_str().as_bytes();
    while r.len() > 1 && r.ends_with(b"/") {
        r = &r[..r.len() - 1];
    }
    let rest = path
        .as_os_str()
        .as_bytes()
        .strip_prefix(r)?
        .strip_prefix(b"/")?;
    let (mut project, mut last): (&[u8], &[u8]) = (b"", b"");
    let mut folded = None;
    let mut n = 0usize;
    for part in rest.split(|&b| b == b'/') {
        if matches!(part, b"" | b"." | b"..") {
            return None;
        }
        if n == 0 {
            project = part;
        }
        // <project>/<session>/subagents/<agent>.jsonl folds into <session>.
        if part == b"subagents" && n >= 2 {
            folded = Some(last);
        }
        last = part;
        n += 1;
    }
    if n < 2 {
        return Some(None);
    }
    // The stem as `Path::file_stem` has it: up to the last dot, unless that is the first
    // byte.
    let session = folded.unwrap_or(match memchr::memrchr(b'.', last) {
        Some(i) if i > 0 => &last[..i],
        _ => last,
    });
    Some(Some((project, session)))
}

/// Orders paths as strings, byte by byte: the order ccusage sorts files in, which decides
/// dedup ties. (`Path`'s own order compares components, which puts `s/agent.jsonl` before
/// `s.jsonl`; as strings `.` sorts before `/`.)
pub fn path_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    a.as_os_str()
        .as_encoded_bytes()
        .cmp(b.as_os_str().as_encoded_bytes())
}

/// Something below a root that is passed over, and why: a directory that cannot be read
/// (its transcripts are not counted, the rest are), or a `*.jsonl` that is not a regular
/// file (a FIFO, a socket, a device: reading one could block forever).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The directory or file.
    pub path: PathBuf,
    /// Why, as the operating system said it (or `not a regular file`).
    pub why: String,
    /// The operating system's error number, when there was one: a caller tries again
    /// later when it was a shortage of file descriptors (see [`out_of_descriptors`]).
    pub os_error: Option<i32>,
}

impl Skipped {
    fn io(path: &Path, e: &io::Error) -> Skipped {
        Skipped {
            path: path.to_path_buf(),
            why: e.to_string(),
            os_error: e.raw_os_error(),
        }
    }

    fn not_regular(path: &Path) -> Skipped {
        Skipped {
            path: path.to_path_buf(),
            why: NOT_REGULAR.into(),
            os_error: None,
        }
    }
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.why)
    }
}

/// Why a `*.jsonl` that is a FIFO, a socket or a device is passed over.
pub const NOT_REGULAR: &str = "not a regular file";

/// Whether an error number says the process (or the system) ran out of file descriptors:
/// worth trying again once some are free.
pub fn out_of_descriptors(os_error: Option<i32>) -> bool {
    #[cfg(unix)]
    {
        matches!(os_error, Some(libc::EMFILE | libc::ENFILE))
    }
    #[cfg(not(unix))]
    {
        let _ = os_error;
        false
    }
}

/// What a listing found: the transcripts, and what it passed over.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Every regular `*.jsonl` below the roots that could be listed, sorted by
    /// [`path_order`].
    pub transcripts: Vec<Transcript>,
    /// Directories that could not be read and `*.jsonl` files that are not regular files,
    /// in path order.
    pub skipped: Vec<Skipped>,
}

/// One directory a listing went through: what the scan index keeps of it, for the next
/// listing (see [`survey_with`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenDir {
    /// Its path below the root, as bytes (empty: the root itself).
    pub rel: Vec<u8>,
    /// Its modification time, nanoseconds since the epoch, taken before its entries were
    /// read.
    pub mtime_ns: i64,
    /// Whether what was found in it can stand for its entries while its time stays the
    /// same: they were all read, none was a symbolic link (whose target can change without
    /// the directory changing), a `*.jsonl` that is not a regular file, or an entry whose
    /// kind could not be told, and every subdirectory's time was taken.
    pub clean: bool,
    /// The transcripts directly in it (none for the root: its files belong to no project).
    pub files: u32,
    /// Whether its entries were read (`false`: it was known unchanged, and not opened).
    pub read: bool,
}

/// The directories of one root that a listing went through, in path order (those reached
/// through a symbolic link left out).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RootDirs {
    /// The `projects/` directory.
    pub root: PathBuf,
    /// Its directories, itself first.
    pub dirs: Vec<SeenDir>,
}

impl RootDirs {
    /// Each directory below the root (the root itself left out), as a path.
    pub fn below(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.dirs
            .iter()
            .filter(|d| !d.rel.is_empty())
            .map(|d| self.path_of(&d.rel))
    }

    /// Each directory whose entries the listing could not fully account for (the root
    /// too), as a path: one holding a symbolic link, whose target it followed but does
    /// not list here, or an entry of a kind it could not tell.
    pub fn unclean(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.dirs
            .iter()
            .filter(|d| !d.clean)
            .map(|d| self.path_of(&d.rel))
    }

    /// The path of the directory `rel` below the root (the root itself for none).
    pub fn path_of(&self, rel: &[u8]) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            ahead::below(&self.root, rel)
        }
    }

    /// How many directories were read (the rest were known unchanged).
    pub fn read(&self) -> usize {
        self.dirs.iter().filter(|d| d.read).count()
    }
}

/// What a scan index remembers of one root's directories (see [`survey_with`]): their
/// paths, the modification times of those that can be trusted, and the files the index
/// knows (a directory is trusted only when the index holds every transcript that was in
/// it). How they hang together is worked out by the listing, while the kernel is asked
/// about them.
#[derive(Debug)]
pub struct RootMemory<'a> {
    root: PathBuf,
    /// Times before this, nanoseconds since the epoch, were settled when the index was
    /// written.
    settled_before_ns: i64,
    /// Paths below the root, in path order (the root, `""`, first).
    dirs: Vec<&'a [u8]>,
    /// Each one's time, `None` when it is not to be trusted.
    mtimes: Vec<Option<i64>>,
    /// The files' paths below the root, in path order.
    files: Vec<&'a [u8]>,
}

/// How a root's remembered directories and files hang together: by their places in the
/// [`RootMemory`].
struct Tree {
    /// The subdirectories of directory `i` are `subs[sub_at[i]..sub_at[i + 1]]`, by name.
    sub_at: Vec<u32>,
    subs: Vec<u32>,
    /// The files of directory `i` are `files[file_at[i]..file_at[i + 1]]`, in path order.
    file_at: Vec<u32>,
    files: Vec<u32>,
    /// The files whose directory is remembered, in path order: (directory, file).
    held: Vec<(u32, u32)>,
}

/// The parent of a path below the root (`""` for a top-level one; `None` for the root).
fn parent_rel(rel: &[u8]) -> Option<&[u8]> {
    if rel.is_empty() {
        return None;
    }
    Some(memchr::memrchr(b'/', rel).map_or(&[][..], |i| &rel[..i]))
}

/// The last component of a path below the root.
fn name_of(rel: &[u8]) -> &[u8] {
    memchr::memrchr(b'/', rel).map_or(rel, |i| &rel[i + 1..])
}

/// Groups `items` (each with its group, in order) into `groups` runs: the runs' starts
/// (one more than the groups) and the items, each run in the order given.
fn group_by(groups: usize, items: &[(u32, u32)]) -> (Vec<u32>, Vec<u32>) {
    let mut at = vec![0u32; groups + 1];
    for &(g, _) in items {
        at[g as usize + 1] += 1;
    }
    for i in 0..groups {
        at[i + 1] += at[i];
    }
    let mut next = at.clone();
    let mut out = vec![0u32; items.len()];
    for &(g, item) in items {
        out[next[g as usize] as usize] = item;
        next[g as usize] += 1;
    }
    (at, out)
}

impl<'a> RootMemory<'a> {
    /// The memory of the index of the `projects/` directory `root`, written at
    /// `written_at_ms`: its directories (in path order, each with its time, `None` for one
    /// not to be trusted) and the paths of its files (in path order), all below the root.
    pub fn new(
        root: &Path,
        written_at_ms: i64,
        dirs: impl IntoIterator<Item = (&'a [u8], Option<i64>)>,
        files: impl IntoIterator<Item = &'a [u8]>,
    ) -> RootMemory<'a> {
        let (dirs, mtimes) = dirs.into_iter().unzip();
        RootMemory {
            root: root.to_path_buf(),
            settled_before_ns: written_at_ms
                .saturating_sub(crate::index::SETTLE_MS)
                .saturating_mul(1_000_000),
            dirs,
            mtimes,
            files: files.into_iter().collect(),
        }
    }

    /// How its directories and files hang together.
    fn tree(&self) -> Tree {
        let dirs = &self.dirs;
        let find = |rel: &[u8]| {
            dirs.binary_search(&rel)
                .ok()
                .and_then(|i| u32::try_from(i).ok())
        };
        let below: Vec<(u32, u32)> = (0..dirs.len())
            .filter_map(|j| Some((find(parent_rel(dirs[j])?)?, u32::try_from(j).ok()?)))
            .collect();
        let (sub_at, subs) = group_by(dirs.len(), &below);
        // A directory's files are neighbours in path order: one search per directory.
        let mut last: Option<(&[u8], Option<u32>)> = None;
        let mut held = Vec::with_capacity(self.files.len());
        for (rel, i) in self.files.iter().zip(0u32..) {
            let Some(parent) = parent_rel(rel) else {
                continue;
            };
            let at = match last {
                Some((p, at)) if p == parent => at,
                _ => find(parent),
            };
            last = Some((parent, at));
            if let Some(at) = at {
                held.push((at, i));
            }
        }
        let (file_at, files) = group_by(dirs.len(), &held);
        Tree {
            sub_at,
            subs,
            file_at,
            files,
            held,
        }
    }

    /// The root's own place (`None` when the index knew no directory).
    fn top(&self) -> Option<u32> {
        (self.dirs.first() == Some(&&b""[..])).then_some(0)
    }

    /// Whether directory `i`, whose time is now `mtime_ns`, can be taken as remembered:
    /// the time is the one remembered, and was settled when the index was written (a
    /// directory changed within the same tick of the clock as it was read keeps its
    /// time).
    fn trusts(&self, i: u32, mtime_ns: i64) -> bool {
        self.mtimes.get(i as usize) == Some(&Some(mtime_ns)) && mtime_ns < self.settled_before_ns
    }
}

impl Tree {
    fn subs(&self, i: u32) -> &[u32] {
        let i = i as usize;
        &self.subs[self.sub_at[i] as usize..self.sub_at[i + 1] as usize]
    }

    /// The places of the files of directory `i`.
    fn files(&self, i: u32) -> &[u32] {
        let i = i as usize;
        &self.files[self.file_at[i] as usize..self.file_at[i + 1] as usize]
    }

    /// The subdirectory `name` of directory `i` of `m`.
    fn child(&self, m: &RootMemory<'_>, i: u32, name: &[u8]) -> Option<u32> {
        let subs = self.subs(i);
        subs.binary_search_by(|&j| name_of(m.dirs[j as usize]).cmp(name))
            .ok()
            .map(|k| subs[k])
    }
}

/// What scan indexes remember of their roots' directories, for [`survey_with`].
#[derive(Debug, Default)]
pub struct Memory<'a> {
    /// One per root that has a usable index.
    pub roots: Vec<RootMemory<'a>>,
}

impl Memory<'_> {
    fn of(&self, root: &Path) -> Option<&RootMemory<'_>> {
        self.roots.iter().find(|m| m.root == root)
    }
}

/// Every `*.jsonl` below the given roots, sorted by [`path_order`] (the order ties are
/// broken in), and what was passed over. A root that does not exist is skipped quietly; a
/// root or directory below it that cannot be read is passed over and named, and the rest
/// is listed: one unreadable project never hides the others.
pub fn survey(roots: &[Root]) -> Listing {
    survey_roots(roots, None, None).0
}

/// [`survey`], with what scan indexes remember of the directories (`memory`), and saying
/// which directories it went through, for the next index.
///
/// A directory whose modification time is the one remembered, and was settled when the
/// index was written (see [`crate::index::SETTLE_MS`]), is not opened: its remembered
/// transcripts and subdirectories are looked at with one `stat` each (relative to the
/// root, without walking the root's path again), the subdirectories in turn the same way.
/// Any other directory (another time, not remembered, not to be trusted) is read, and so
/// is one where a remembered entry is gone or is no longer what it was. The result is
/// [`survey`]'s: the same transcripts with the same stamps, in the same order, and the
/// same passed over.
pub fn survey_with(roots: &[Root], memory: &Memory<'_>) -> (Listing, Vec<RootDirs>) {
    survey_roots(roots, Some(memory), None)
}

/// What a file watcher is told of each directory before a listing looks at it
/// ([`survey_watching`]).
pub type Watch<'w> = &'w (dyn Fn(&Path) + Sync);

/// [`survey_with`], handing each directory to `watch` before it is looked at: each root
/// before anything else, each other directory before its time is taken (or, when it has
/// none to take, before it is read), and no transcript's `stat` before its directory's
/// `watch`. A daemon that sets up its file watches here needs no second listing: a
/// change made after a directory's watch took hold is announced, and one made before
/// was made before the listing looked, so the listing saw it. `watch` may be called
/// from several threads at once, and for a directory more than once.
pub fn survey_watching(
    roots: &[Root],
    memory: &Memory<'_>,
    watch: Watch<'_>,
) -> (Listing, Vec<RootDirs>) {
    survey_roots(roots, Some(memory), Some(watch))
}

fn survey_roots(
    roots: &[Root],
    memory: Option<&Memory<'_>>,
    watch: Option<Watch<'_>>,
) -> (Listing, Vec<RootDirs>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let mut seen = Vec::new();
    for root in roots {
        if let Some(watch) = watch {
            watch(&root.projects);
        }
        let m = match fs::metadata(&root.projects) {
            Ok(m) if m.is_dir() => m,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                skipped.push(Skipped::io(&root.projects, &e));
                continue;
            }
        };
        let mut found = Found::default();
        let ctx = memory.map(|memory| {
            let memory = memory.of(&root.projects);
            let base = Base::open(&root.projects);
            // The remembered entries are looked at while their tree is worked out.
            let (ahead, tree) = match memory {
                Some(m) => {
                    let (ahead, tree) = ahead::take_while(m, &base, watch, || m.tree());
                    (ahead, Some(tree))
                }
                None => (None, None),
            };
            Remember {
                memory: memory.zip(tree),
                ahead,
                base,
                mtime_ns: Stamp::of(&m).mtime_ns,
                watch,
            }
        });
        walk_root(&root.projects, &mut found, ctx.as_ref());
        skipped.append(&mut found.skipped);
        if ctx.is_some() {
            found.dirs.sort_by(|a, b| a.rel.cmp(&b.rel));
            seen.push(RootDirs {
                root: root.projects.clone(),
                dirs: found.dirs,
            });
        }
        let mut names = Names::default();
        out.reserve(found.files.len());
        out.extend(found.files.into_iter().filter_map(|(path, stamp)| {
            let (project, session) = names.of(&root.projects, &path)?;
            Some(Transcript {
                path,
                project,
                session,
                len: stamp.map_or(0, |s| s.size),
                stamp,
            })
        }));
    }
    out.sort_by(|a, b| path_order(&a.path, &b.path));
    // Sorted by their bytes: a path listed twice (roots that overlap) is next to itself.
    out.dedup_by(|a, b| a.path.as_os_str() == b.path.as_os_str());
    skipped.sort_by(|a, b| path_order(&a.path, &b.path));
    skipped.dedup_by(|a, b| a.path == b.path);
    let listing = Listing {
        transcripts: out,
        skipped,
    };
    (listing, seen)
}

/// Every `*.jsonl` below the given roots, sorted by [`path_order`], all or nothing: a
/// directory that cannot be read is an error (files that are not regular are left out).
/// [`survey`] lists the rest instead.
pub fn list_transcripts(roots: &[Root]) -> io::Result<Vec<Transcript>> {
    let listing = survey(roots);
    if let Some(s) = listing.skipped.iter().find(|s| s.why != NOT_REGULAR) {
        let e = s.os_error.map_or_else(
            || io::Error::other(s.why.clone()),
            io::Error::from_raw_os_error,
        );
        return Err(with_path(e, &s.path));
    }
    Ok(listing.transcripts)
}

/// Every `*.jsonl` below `dir` (a directory inside a root), sorted by [`path_order`]: what a
/// live reader looks at when a directory appears; and what was passed over there.
pub fn transcripts_below(dir: &Path) -> (Vec<PathBuf>, Vec<Skipped>) {
    let mut found = Found::default();
    walk_root(dir, &mut found, None);
    let mut files: Vec<PathBuf> = found.files.into_iter().map(|(p, _)| p).collect();
    files.sort_by(|a, b| path_order(a, b));
    found.skipped.sort_by(|a, b| path_order(&a.path, &b.path));
    (files, found.skipped)
}

/// What a walk found: `*.jsonl` files with their stamps, what it passed over, and the
/// directories it went through (when asked).
#[derive(Default)]
struct Found {
    files: Vec<(PathBuf, Option<Stamp>)>,
    skipped: Vec<Skipped>,
    dirs: Vec<SeenDir>,
    /// Room for the paths handed to the kernel.
    scratch: Vec<u8>,
}

/// A walk that remembers: what the index remembers of the root (if anything), the root
/// held open, the root's time, and what its remembered entries were found to be.
struct Remember<'m, 'a> {
    memory: Option<(&'m RootMemory<'a>, Tree)>,
    base: Base,
    mtime_ns: i64,
    /// The `stat`s of the remembered entries, taken before the walk (see [`Ahead`]).
    ahead: Option<Ahead>,
    /// Told of each directory before it is looked at (see [`survey_watching`]).
    watch: Option<Watch<'m>>,
}

impl Remember<'_, '_> {
    /// Tells the watcher, if any, of the directory `dir`.
    fn watch(&self, dir: &Path) {
        if let Some(watch) = self.watch {
            watch(dir);
        }
    }

    /// A remembered entry (`name`, in the directory `rel`, its whole path `path`) as the
    /// `stat`s taken ahead of the walk found it (`ahead` picks its answer), or else as it
    /// is now; `None` when it could not be looked at.
    fn looked(
        &self,
        ahead: impl FnOnce(&Ahead) -> Option<Lstat>,
        (rel, name, path): (&[u8], &[u8], &Path),
        scratch: &mut Vec<u8>,
    ) -> Option<Lstat> {
        match &self.ahead {
            Some(a) => ahead(a),
            None => self.base.lstat(rel, name, path, scratch).ok(),
        }
    }
}

/// A directory to go into.
struct Dir {
    path: PathBuf,
    /// Its real path: a link's target resolved (the walk never goes into a directory it
    /// is already inside).
    real: PathBuf,
    /// Its path below the root, as bytes.
    rel: Vec<u8>,
    /// Its place in the memory.
    memo: Option<u32>,
    /// Its time, taken before it is read, and after its watch when the listing watches
    /// (`None`: not taken, or not to be noted).
    mtime_ns: Option<i64>,
    /// Reached through a symbolic link: never trusted nor noted.
    linked: bool,
}

/// `rel` and `name` joined with a slash (just `name` below the root).
fn join_rel(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rel.len() + 1 + name.len());
    if !rel.is_empty() {
        out.extend_from_slice(rel);
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

/// What one `lstat` says of an entry: its kind and stamp.
#[derive(Clone, Copy)]
struct Lstat {
    kind: Kind,
    stamp: Stamp,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Other,
}

/// The root held open, to look at entries below it by their paths relative to it
/// (`fstatat`): the kernel then walks only the part below the root. Without it (it could
/// not be opened, or not on this platform), entries are looked at by their whole paths.
#[derive(Default)]
struct Base {
    #[cfg(unix)]
    dir: Option<fs::File>,
}

impl Base {
    fn open(root: &Path) -> Base {
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            let mut o = fs::OpenOptions::new();
            o.read(true).custom_flags(OPEN_DIR);
            Base {
                dir: o.open(root).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = root;
            Base::default()
        }
    }

    /// Whether the root is held open ([`Base::at`] answers).
    fn is_open(&self) -> bool {
        #[cfg(unix)]
        {
            self.dir.is_some()
        }
        #[cfg(not(unix))]
        {
            false
        }
    }

    /// The entry `name` of the directory `rel` below the root (`rel` itself when `name`
    /// is empty), its last component not followed if it is a link; `None` when the root
    /// is not held open.
    fn at(&self, rel: &[u8], name: &[u8], scratch: &mut Vec<u8>) -> Option<io::Result<Lstat>> {
        #[cfg(unix)]
        if let Some(dir) = &self.dir {
            return Some(match c_path(scratch, rel, name) {
                Some(c) => lstat_at(dir, c),
                None => Err(io::Error::from(io::ErrorKind::InvalidInput)),
            });
        }
        let _ = (rel, name, scratch);
        None
    }

    /// The entry `name` of the directory `rel` below the root (its whole path `path`),
    /// its last component not followed if it is a link.
    fn lstat(
        &self,
        rel: &[u8],
        name: &[u8],
        path: &Path,
        scratch: &mut Vec<u8>,
    ) -> io::Result<Lstat> {
        if let Some(l) = self.at(rel, name, scratch) {
            return l;
        }
        let m = fs::symlink_metadata(path)?;
        let t = m.file_type();
        Ok(Lstat {
            kind: if t.is_file() {
                Kind::File
            } else if t.is_dir() {
                Kind::Dir
            } else {
                Kind::Other
            },
            stamp: Stamp::of(&m),
        })
    }
}

/// How the root is held open: only to look at what is below it (no read permission needed
/// where the platform allows it).
#[cfg(any(target_os = "linux", target_os = "android"))]
const OPEN_DIR: i32 = libc::O_PATH | libc::O_DIRECTORY;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const OPEN_DIR: i32 = libc::O_DIRECTORY;

/// `rel` and `name` joined (`.` for neither) and NUL-terminated, in `scratch`; `None`
/// for a name with a NUL in it (which no file system gives).
#[cfg(unix)]
fn c_path<'s>(scratch: &'s mut Vec<u8>, rel: &[u8], name: &[u8]) -> Option<&'s std::ffi::CStr> {
    scratch.clear();
    scratch.extend_from_slice(rel);
    if !rel.is_empty() && !name.is_empty() {
        scratch.push(b'/');
    }
    scratch.extend_from_slice(name);
    if scratch.is_empty() {
        scratch.push(b'.');
    }
    scratch.push(0);
    std::ffi::CStr::from_bytes_with_nul(scratch).ok()
}

/// `fstatat(dir, path, AT_SYMLINK_NOFOLLOW)`, its stamp the figures [`Stamp::of`] gives.
#[cfg(unix)]
#[allow(unsafe_code)]
fn lstat_at(dir: &fs::File, path: &std::ffi::CStr) -> io::Result<Lstat> {
    use std::os::fd::AsRawFd;
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: an open descriptor, a NUL-terminated path, and room for one `stat`, which
    // the call fills when it returns 0.
    let st = unsafe {
        if libc::fstatat(
            dir.as_raw_fd(),
            path.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        st.assume_init()
    };
    let kind = match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => Kind::File,
        libc::S_IFDIR => Kind::Dir,
        _ => Kind::Other,
    };
    // As `SystemTime` and `Stamp::of` make it of the seconds and nanoseconds.
    #[allow(clippy::unnecessary_cast)]
    let ns = i128::from(st.st_mtime as i64) * 1_000_000_000 + i128::from(st.st_mtime_nsec as i64);
    let mtime_ns = if ns >= 0 {
        i64::try_from(ns).unwrap_or(i64::MAX)
    } else {
        -i64::try_from(-ns).unwrap_or(i64::MAX)
    };
    #[allow(clippy::unnecessary_cast)]
    let stamp = Stamp {
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        size: st.st_size as u64,
        mtime_ns,
    };
    Ok(Lstat { kind, stamp })
}

/// Walks `dir` (its real path worked out once) for `*.jsonl` files and their sizes; with
/// `remember`, trusting the directories the memory vouches for and noting the ones it
/// went through.
///
/// Listing is mostly the kernel's work per directory; with a directory per project, the
/// project directories (or, with a memory, the directories it does not vouch for) are
/// shared out among threads (as many as cores, at most four).
fn walk_root(dir: &Path, out: &mut Found, remember: Option<&Remember<'_, '_>>) {
    let real = match fs::canonicalize(dir) {
        Ok(r) => r,
        Err(e) => {
            out.skipped.push(Skipped::io(dir, &e));
            return;
        }
    };
    let top = Dir {
        path: dir.to_path_buf(),
        real: real.clone(),
        rel: Vec::new(),
        memo: remember.and_then(|r| r.memory.as_ref()?.0.top()),
        mtime_ns: remember.map(|r| r.mtime_ns),
        linked: false,
    };
    // Where the memory vouches for the root, what it vouches for is taken from it and
    // from the `stat`s taken ahead, and only the directories it does not vouch for are
    // walked.
    if let Some(r) = remember
        && let Some(rest) = ahead::known(r, &top, out)
    {
        walk_each(rest, out, remember);
        return;
    }
    // The root's own entries: its files here, its subdirectories for the threads.
    let ancestors = vec![real];
    let subdirs = look(&top, out, &ancestors, remember);
    let subdirs = subdirs
        .into_iter()
        .map(|d| (d, ancestors.clone()))
        .collect();
    walk_each(subdirs, out, remember);
}

/// Walks each directory of `dirs` (below the real paths it comes with), shared out among
/// threads (as many as cores, at most four) when there are several.
fn walk_each(dirs: Vec<(Dir, Vec<PathBuf>)>, out: &mut Found, remember: Option<&Remember<'_, '_>>) {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(dirs.len());
    if threads <= 1 {
        for (d, mut ancestors) in dirs {
            enter(&d, out, &mut ancestors, remember);
        }
        return;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let dirs = &dirs;
    let results: Vec<Found> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut found = Found::default();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((d, ancestors)) = dirs.get(i) else {
                            return found;
                        };
                        enter(d, &mut found, &mut ancestors.clone(), remember);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    for mut r in results {
        out.files.append(&mut r.files);
        out.skipped.append(&mut r.skipped);
        out.dirs.append(&mut r.dirs);
    }
}

/// Walks `d`, below `ancestors`, following symbolic links to directories but never into a
/// directory it is already inside, so a link loop ends instead of recursing forever. Only
/// a link can lead back up, so only a link's target is resolved (a plain subdirectory's
/// real path is its parent's plus its name): one `stat` per file and no path resolution
/// per directory.
fn enter(
    d: &Dir,
    out: &mut Found,
    ancestors: &mut Vec<PathBuf>,
    remember: Option<&Remember<'_, '_>>,
) {
    ancestors.push(d.real.clone());
    for sub in look(d, out, ancestors, remember) {
        enter(&sub, out, ancestors, remember);
    }
    ancestors.pop();
}

/// The entries of `d` (whose real path is the last of `ancestors`): its transcripts into
/// `out`, its subdirectories back. From the memory when it vouches for `d`, else read.
fn look(
    d: &Dir,
    out: &mut Found,
    ancestors: &[PathBuf],
    remember: Option<&Remember<'_, '_>>,
) -> Vec<Dir> {
    if let Some(r) = remember {
        // A directory whose time was taken was watched before that (see
        // `survey_watching`); one whose time was not (reached through a link, or whose
        // `lstat` failed) is watched before it is read.
        if d.mtime_ns.is_none() {
            r.watch(&d.path);
        }
        if let Some(subs) = confirm(d, out, r) {
            return subs;
        }
    }
    let mut subs = Vec::new();
    let mut seen = visit(&d.path, out, ancestors, &mut |sub: Sub| subs.push(sub));
    let memory = remember.and_then(|r| r.memory.as_ref());
    let subs: Vec<Dir> = subs
        .into_iter()
        .map(|sub| {
            let linked = d.linked || sub.link;
            let name = sub.name.as_encoded_bytes();
            let mut dir = Dir {
                memo: None,
                rel: Vec::new(),
                mtime_ns: None,
                linked,
                path: sub.path,
                real: sub.real,
            };
            if let Some(r) = remember
                && !linked
            {
                r.watch(&dir.path);
                let t = r.base.lstat(&d.rel, name, &dir.path, &mut out.scratch);
                // A subdirectory unaccounted for: its parent is read again next time.
                seen.clean &= t.is_ok();
                dir.mtime_ns = t.ok().map(|l| l.stamp.mtime_ns);
                dir.memo = memory
                    .zip(d.memo)
                    .and_then(|((m, tree), i)| tree.child(m, i, name));
                dir.rel = join_rel(&d.rel, name);
            }
            dir
        })
        .collect();
    if remember.is_some()
        && !d.linked
        && let Some(mtime_ns) = d.mtime_ns
    {
        out.dirs.push(SeenDir {
            rel: d.rel.clone(),
            mtime_ns,
            clean: seen.clean,
            files: if d.rel.is_empty() { 0 } else { seen.files },
            read: true,
        });
    }
    subs
}

/// The entries of `d` as the memory has them, when it vouches for `d` (its time is the
/// one remembered, and was settled) and every remembered entry is still there and of its
/// kind (one `lstat` each); `None` (nothing added to `out`) when `d` is to be read.
fn confirm(d: &Dir, out: &mut Found, r: &Remember<'_, '_>) -> Option<Vec<Dir>> {
    let (m, tree) = r.memory.as_ref()?;
    let i = d.memo?;
    let mtime_ns = d.mtime_ns?;
    if d.linked || !m.trusts(i, mtime_ns) {
        return None;
    }
    let places = tree.files(i);
    let mut files = Vec::with_capacity(places.len());
    for &place in places {
        let name = name_of(m.files[place as usize]);
        let path = child(&d.path, os_str(name));
        let l = r.looked(
            |a| a.file(place as usize),
            (&d.rel, name, &path),
            &mut out.scratch,
        )?;
        if l.kind != Kind::File {
            return None;
        }
        files.push((path, Some(l.stamp)));
    }
    let mut subs = Vec::with_capacity(tree.subs(i).len());
    for &j in tree.subs(i) {
        let name = name_of(m.dirs[j as usize]);
        let path = child(&d.path, os_str(name));
        // Taken ahead, it was watched then; else it is now, before its time is taken.
        if r.ahead.is_none() {
            r.watch(&path);
        }
        let l = r.looked(
            |a| a.dir(j as usize),
            (&d.rel, name, &path),
            &mut out.scratch,
        )?;
        if l.kind != Kind::Dir {
            return None;
        }
        subs.push(Dir {
            real: child(&d.real, os_str(name)),
            path,
            rel: join_rel(&d.rel, name),
            memo: Some(j),
            mtime_ns: Some(l.stamp.mtime_ns),
            linked: false,
        });
    }
    out.dirs.push(SeenDir {
        rel: d.rel.clone(),
        mtime_ns,
        clean: true,
        files: if d.rel.is_empty() {
            0
        } else {
            u32::try_from(files.len()).unwrap_or(u32::MAX)
        },
        read: false,
    });
    out.files.append(&mut files);
    Some(subs)
}

/// `dir` joined with `name`, with room for no more: a listed path is kept as long as its
/// file is (`Path::join` leaves room for as much again, which on 20,000 files held
/// 1.7 MB for nothing).
fn child(dir: &Path, name: &std::ffi::OsStr) -> PathBuf {
    let mut p = PathBuf::with_capacity(dir.as_os_str().len() + 1 + name.len());
    p.push(dir);
    p.push(name);
    p
}

/// A name as the platform's string (bytes on Unix; elsewhere only what the memory could
/// have taken from a path, which was valid there).
fn os_str(b: &[u8]) -> &std::ffi::OsStr {
    #[cfg(unix)]
    {
        std::os::unix::ffi::OsStrExt::from_bytes(b)
    }
    #[cfg(not(unix))]
    {
        std::ffi::OsStr::new(std::str::from_utf8(b).unwrap_or_default())
    }
}

/// A subdirectory an entry leads to.
struct Sub {
    path: PathBuf,
    real: PathBuf,
    name: std::ffi::OsString,
    /// The entry is a symbolic link.
    link: bool,
}

/// What reading a directory's entries said of it.
struct Visited {
    /// See [`SeenDir::clean`].
    clean: bool,
    /// The `*.jsonl` files found in it.
    files: u32,
}

/// The entries of `dir`: `*.jsonl` files (and their sizes) into `out`, each directory to
/// go into to `subdir`. A directory that cannot be read, or whose listing breaks off, is
/// named in `out.skipped` with what was listed of it kept.
fn visit(
    dir: &Path,
    out: &mut Found,
    ancestors: &[PathBuf],
    subdir: &mut impl FnMut(Sub),
) -> Visited {
    let mut seen = Visited {
        clean: false,
        files: 0,
    };
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.skipped.push(Skipped::io(dir, &e));
            return seen;
        }
    };
    let mut clean = true;
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.skipped.push(Skipped::io(dir, &e));
                return seen;
            }
        };
        let path = child(dir, &entry.file_name());
        let jsonl = || path.extension().is_some_and(|x| x == "jsonl");
        let kind = match entry.file_type() {
            Ok(k) => k,
            Err(e) => {
                clean = false;
                if jsonl() {
                    out.skipped.push(Skipped::io(&path, &e));
                }
                continue;
            }
        };
        if kind.is_symlink() {
            clean = false;
            // Followed only to learn what it points at; a dangling one is skipped.
            let Ok(m) = fs::metadata(&path) else { continue };
            if m.is_file() && jsonl() {
                out.files.push((path, Some(Stamp::of(&m))));
                seen.files += 1;
            } else if m.is_dir() {
                let Ok(real) = fs::canonicalize(&path) else {
                    continue;
                };
                if !ancestors.iter().any(|a| a.as_os_str() == real.as_os_str()) {
                    subdir(Sub {
                        path,
                        real,
                        name: entry.file_name(),
                        link: true,
                    });
                }
            } else if jsonl() {
                out.skipped.push(Skipped::not_regular(&path));
            }
        } else if kind.is_dir() {
            let real = ancestors
                .last()
                .map_or_else(|| path.clone(), |parent| parent.join(entry.file_name()));
            subdir(Sub {
                path,
                real,
                name: entry.file_name(),
                link: false,
            });
        } else if kind.is_file() && jsonl() {
            // A file that goes between listing and stat is still listed; the scan says
            // it cannot be read.
            let stamp = entry.metadata().ok().map(|m| Stamp::of(&m));
            out.files.push((path, stamp));
            seen.files += 1;
        } else if jsonl() {
            clean = false;
            out.skipped.push(Skipped::not_regular(&path));
        }
    }
    seen.clean = clean;
    seen
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn env(ccd: Option<&str>, xdg: Option<&str>) -> RootEnv {
        RootEnv {
            claude_config_dir: ccd.map(String::from),
            xdg_config_home: xdg.map(String::from),
            home: Some(PathBuf::from("/home/u")),
        }
    }

    fn paths(roots: Vec<Root>) -> Vec<String> {
        roots
            .into_iter()
            .map(|r| r.projects.display().to_string())
            .collect()
    }

    #[test]
    fn defaults_are_both_roots() {
        assert_eq!(
            paths(resolve_roots(&env(None, None))),
            [
                "/home/u/.config/claude/projects",
                "/home/u/.claude/projects"
            ]
        );
        assert_eq!(
            paths(resolve_roots(&env(None, Some("/x")))),
            ["/x/claude/projects", "/home/u/.claude/projects"]
        );
    }

    #[test]
    fn config_dir_is_a_comma_list_of_dirs_or_projects_dirs() {
        let roots = resolve_roots(&env(Some("/a, ~/b/projects,,/a"), Some("/x")));
        assert_eq!(paths(roots.clone()), ["/a/projects", "/home/u/b/projects"]);
        assert!(roots.iter().all(|r| r.explicit));
    }

    #[test]
    fn subagent_files_fold_into_their_session() {
        let root = Path::new("/r/projects");
        let t = Transcript::describe(root, Path::new("/r/projects/-p/s1.jsonl")).unwrap();
        assert_eq!((&*t.project, &*t.session), ("-p", "s1"));
        let t = Transcript::describe(root, Path::new("/r/projects/-p/s1/subagents/agent-a.jsonl"))
            .unwrap();
        assert_eq!((&*t.project, &*t.session), ("-p", "s1"));
        assert!(Transcript::describe(root, Path::new("/r/projects/x.jsonl")).is_none());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_loop_ends_and_linked_files_count() {
        let root = std::env::temp_dir().join(format!("redline-roots-{}", std::process::id()));
        let projects = root.join("projects");
        fs::create_dir_all(projects.join("-p")).unwrap();
        fs::write(projects.join("-p/s.jsonl"), "{}\n").unwrap();
        std::os::unix::fs::symlink(&projects, projects.join("-p/loop")).unwrap();
        let found = list_transcripts(&[Root {
            projects: projects.clone(),
            explicit: true,
        }])
        .unwrap();
        let _ = fs::remove_dir_all(&root);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(&*found[0].session, "s");
    }

    #[test]
    fn plain_paths_are_taken_apart_as_path_does() {
        // One namer for all, as a listing has: a name shared with the path before must
        // still be this path's name.
        let mut names = Names::default();
        let mut project_and_session = |root: &Path, path: &Path| {
            names
                .of(root, path)
                .map(|(p, s)| (p.to_string(), s.to_string()))
        };
        let slow = |root: &str, path: &str| -> Option<(String, String)> {
            let (root, path) = (Path::new(root), Path::new(path));
            let parts: Vec<&std::ffi::OsStr> = path.strip_prefix(root).ok()?.iter().collect();
            if parts.len() < 2 {
                return None;
            }
            let session = match parts.iter().rposition(|p| *p == "subagents") {
                Some(i) if i >= 2 => parts[i - 1],
                _ => path.file_stem()?,
            };
            Some((
                parts[0].to_string_lossy().into_owned(),
                session.to_string_lossy().into_owned(),
            ))
        };
        for root in [
            "/r/projects",
            "/r/projects/",
            "/r/projects//",
            "/r/./projects",
            "projects/.",
            "a/..",
            "/",
            ".",
        ] {
            for rel in [
                "-p/s.jsonl",
                "-p/s/subagents/a.jsonl",
                "-p/subagents/a.jsonl",
                "-p/x/subagents/y/subagents/z.jsonl",
                "-p/.jsonl",
                "-p/a.b.jsonl",
                "-p//s.jsonl",
                "-p/./s.jsonl",
                "./-p/s.jsonl",
                "-p/../s.jsonl",
                "-p/..",
                "s.jsonl",
                "",
            ] {
                let path = format!("{}/{rel}", root.trim_end_matches('/'));
                for path in [
                    path.clone(),
                    format!("{root}{rel}"),
                    format!("/other{path}"),
                ] {
                    assert_eq!(
                        project_and_session(Path::new(root), Path::new(&path)),
                        slow(root, &path),
                        "{root} {path}"
                    );
                }
            }
        }
        // Names that are not UTF-8 are read lossily, as `to_string_lossy` reads them.
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            let path = std::ffi::OsStr::from_bytes(b"/r/projects/-p\xff/s\xfe/subagents/a.jsonl");
            assert_eq!(
                project_and_session(Path::new("/r/projects"), Path::new(path)),
                Some(("-p\u{fffd}".into(), "s\u{fffd}".into()))
            );
        }
    }

    #[test]
    fn paths_sort_as_strings() {
        let mut v = [
            Path::new("/p/s/subagents/a.jsonl"),
            Path::new("/p/s.jsonl"),
            Path::new("/p/r.jsonl"),
        ];
        v.sort_by(|a, b| path_order(a, b));
        assert_eq!(
            v,
            [
                Path::new("/p/r.jsonl"),
                Path::new("/p/s.jsonl"),
                Path::new("/p/s/subagents/a.jsonl")
            ]
        );
    }

    /// A scratch directory, removed on drop.
    #[cfg(unix)]
    pub(crate) struct Scratch(pub PathBuf);

    #[cfg(unix)]
    impl Scratch {
        pub(crate) fn new(name: &str) -> Scratch {
            let d = std::env::temp_dir().join(format!("redline-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&d);
            fs::create_dir_all(&d).unwrap();
            Scratch(d)
        }
    }

    #[cfg(unix)]
    impl Drop for Scratch {
        fn drop(&mut self) {
            use std::os::unix::fs::PermissionsExt;
            // Give back what a test took away, so everything can be removed.
            let mut stack = vec![self.0.clone()];
            while let Some(d) = stack.pop() {
                let _ = fs::set_permissions(&d, fs::Permissions::from_mode(0o755));
                if let Ok(rd) = fs::read_dir(&d) {
                    for e in rd.flatten() {
                        if e.file_type().is_ok_and(|t| t.is_dir()) {
                            stack.push(e.path());
                        }
                    }
                }
            }
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Makes a FIFO.
    #[cfg(unix)]
    #[allow(unsafe_code)]
    pub(crate) fn mkfifo(path: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    }

    /// Makes `dir` (with a transcript in it) unreadable to this process: `chmod 000`, or,
    /// for root (whom permissions do not stop), a chain of directories below it too deep
    /// to name (`ENAMETOOLONG`), reached through symbolic links from `scratch`. Returns
    /// the directory the walk cannot read.
    #[cfg(unix)]
    #[allow(unsafe_code)]
    pub(crate) fn make_unreadable(dir: &Path, scratch: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("hidden.jsonl"), "{}\n").unwrap();
        // SAFETY: no arguments, no memory.
        if unsafe { libc::geteuid() } != 0 {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o000)).unwrap();
            return dir.to_path_buf();
        }
        let name = "d".repeat(200);
        let mut hop = dir.to_path_buf();
        let mut real = dir.to_path_buf();
        for i in 0..24 {
            fs::create_dir(hop.join(&name)).unwrap();
            real = real.join(&name);
            let link = scratch.join(format!("hop{i}"));
            std::os::unix::fs::symlink(hop.join(&name), &link).unwrap();
            hop = link;
        }
        fs::write(hop.join("deep.jsonl"), "{}\n").unwrap();
        // The first of the chain whose path is too long to use.
        let mut first = dir.to_path_buf();
        while first.as_os_str().len() < libc::PATH_MAX as usize {
            first = first.join(&name);
        }
        first
    }

    #[cfg(unix)]
    #[test]
    fn an_unreadable_directory_is_named_and_the_rest_listed() {
        let s = Scratch::new("roots-unreadable");
        let projects = s.0.join("projects");
        fs::create_dir_all(projects.join("-a")).unwrap();
        fs::create_dir_all(projects.join("-c")).unwrap();
        fs::write(projects.join("-a/s1.jsonl"), "{}\n").unwrap();
        fs::write(projects.join("-c/s3.jsonl"), "{}\n").unwrap();
        let bad = make_unreadable(&projects.join("-b"), &s.0);
        let roots = [Root {
            projects: projects.clone(),
            explicit: true,
        }];
        let listing = survey(&roots);
        let sessions: Vec<&str> = listing.transcripts.iter().map(|t| &*t.session).collect();
        // Root or not, `-b`'s own transcript is listed only when its directory is readable.
        assert!(
            sessions.contains(&"s1") && sessions.contains(&"s3"),
            "{sessions:?}"
        );
        assert!(!sessions.contains(&"deep"), "{sessions:?}");
        assert_eq!(listing.skipped.len(), 1, "{:?}", listing.skipped);
        assert_eq!(listing.skipped[0].path, bad);
        let shown = listing.skipped[0].to_string();
        assert!(
            shown.starts_with(&format!("{}: ", bad.display())),
            "{shown}"
        );
        // The all-or-nothing listing still refuses.
        assert!(list_transcripts(&roots).is_err());
        // The same below a directory that appears while following.
        let (files, skipped) = transcripts_below(&projects);
        assert_eq!(files.len(), sessions.len());
        assert_eq!(skipped.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn fifos_named_jsonl_are_named_and_passed_over() {
        let s = Scratch::new("roots-fifo");
        let projects = s.0.join("projects");
        fs::create_dir_all(projects.join("-p")).unwrap();
        fs::write(projects.join("-p/s.jsonl"), "{}\n").unwrap();
        mkfifo(&projects.join("-p/fifo.jsonl"));
        mkfifo(&s.0.join("elsewhere"));
        std::os::unix::fs::symlink(s.0.join("elsewhere"), projects.join("-p/link.jsonl")).unwrap();
        // A FIFO not named *.jsonl is nobody's business.
        mkfifo(&projects.join("-p/other"));
        let listing = survey(&[Root {
            projects: projects.clone(),
            explicit: true,
        }]);
        assert_eq!(listing.transcripts.len(), 1);
        let shown: Vec<String> = listing.skipped.iter().map(|k| k.to_string()).collect();
        assert_eq!(
            shown,
            [
                format!(
                    "{}: not a regular file",
                    projects.join("-p/fifo.jsonl").display()
                ),
                format!(
                    "{}: not a regular file",
                    projects.join("-p/link.jsonl").display()
                ),
            ]
        );
    }
}
