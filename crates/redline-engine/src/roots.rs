//! Where Claude Code keeps its transcripts, and which files under there are read.
//!
//! The rule is SPEC.md's (and ccusage's): `CLAUDE_CONFIG_DIR` is a comma-separated list
//! whose entries may name the config directory or its `projects/` folder itself; without
//! it, both `$XDG_CONFIG_HOME/claude` (default `~/.config/claude`) and `~/.claude` are
//! used. Every `*.jsonl` below `projects/` is read, `subagents/` included.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

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
    /// The first component under `projects/`: Claude Code's encoded working directory.
    pub project: String,
    /// The session the file belongs to: its stem, or for a file under
    /// `<session>/subagents/` the parent session's id.
    pub session: String,
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
        let (project, session) = project_and_session(root, path)?;
        Some(Transcript {
            path: path.to_path_buf(),
            project,
            session,
            len: 0,
            stamp: None,
        })
    }
}

/// The project and session of `path` below `root` (see [`Transcript::describe`]).
fn project_and_session(root: &Path, path: &Path) -> Option<(String, String)> {
    let parts: Vec<&std::ffi::OsStr> = match plain_parts(root, path) {
        Some(parts) => parts,
        None => path.strip_prefix(root).ok()?.iter().collect(),
    };
    if parts.len() < 2 {
        return None;
    }
    // <project>/<session>/subagents/<agent>.jsonl folds into <session>.
    let session = match parts.iter().rposition(|p| *p == "subagents") {
        Some(i) if i >= 2 => parts[i - 1],
        _ => Path::new(parts[parts.len() - 1]).file_stem()?,
    };
    // Names that are not UTF-8 are read lossily rather than skipped: the file still counts.
    Some((
        parts[0].to_string_lossy().into_owned(),
        session.to_string_lossy().into_owned(),
    ))
}

/// The components of `path` below `root` when `path` is `root`'s bytes, a slash and plain
/// names joined by slashes (as a listing builds it): what [`Path::strip_prefix`] and
/// [`Path::iter`] give, without taking both paths apart. `None` for anything else.
#[cfg(unix)]
fn plain_parts<'p>(root: &Path, path: &'p Path) -> Option<Vec<&'p std::ffi::OsStr>> {
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
    rest.split(|&b| b == b'/')
        .map(|part| {
            (!matches!(part, b"" | b"." | b"..")).then(|| std::ffi::OsStr::from_bytes(part))
        })
        .collect()
}

#[cfg(not(unix))]
fn plain_parts<'p>(_: &Path, _: &'p Path) -> Option<Vec<&'p std::ffi::OsStr>> {
    None
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

/// Every `*.jsonl` below the given roots, sorted by [`path_order`] (the order ties are
/// broken in), and what was passed over. A root that does not exist is skipped quietly; a
/// root or directory below it that cannot be read is passed over and named, and the rest
/// is listed: one unreadable project never hides the others.
pub fn survey(roots: &[Root]) -> Listing {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for root in roots {
        match fs::metadata(&root.projects) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                skipped.push(Skipped::io(&root.projects, &e));
                continue;
            }
        }
        let mut found = Found::default();
        walk_root(&root.projects, &mut found);
        skipped.append(&mut found.skipped);
        out.extend(found.files.into_iter().filter_map(|(path, stamp)| {
            let (project, session) = project_and_session(&root.projects, &path)?;
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
    out.dedup_by(|a, b| a.path == b.path);
    skipped.sort_by(|a, b| path_order(&a.path, &b.path));
    skipped.dedup_by(|a, b| a.path == b.path);
    Listing {
        transcripts: out,
        skipped,
    }
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
    walk_root(dir, &mut found);
    let mut files: Vec<PathBuf> = found.files.into_iter().map(|(p, _)| p).collect();
    files.sort_by(|a, b| path_order(a, b));
    found.skipped.sort_by(|a, b| path_order(&a.path, &b.path));
    (files, found.skipped)
}

/// What a walk found: `*.jsonl` files with their stamps, and what it passed over.
#[derive(Default)]
struct Found {
    files: Vec<(PathBuf, Option<Stamp>)>,
    skipped: Vec<Skipped>,
}

/// Walks `dir` (its real path worked out once) for `*.jsonl` files and their sizes.
///
/// Listing is mostly the kernel's work per directory; with a directory per project, the
/// project directories are shared out among threads (as many as cores, at most four).
fn walk_root(dir: &Path, out: &mut Found) {
    let real = match fs::canonicalize(dir) {
        Ok(r) => r,
        Err(e) => {
            out.skipped.push(Skipped::io(dir, &e));
            return;
        }
    };
    // The root's own entries: its files here, its plain subdirectories for the threads.
    let mut subdirs = Vec::new();
    let mut ancestors = vec![real];
    visit(dir, out, &ancestors, &mut |entry| subdirs.push(entry));
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(subdirs.len());
    if threads <= 1 {
        descend(&subdirs, out, &mut ancestors);
        return;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Found> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut found = Found::default();
                    let mut ancestors = ancestors.clone();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(one) = subdirs.get(i..=i) else {
                            return found;
                        };
                        descend(one, &mut found, &mut ancestors);
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
    }
}

/// Walks `dir`, whose real path is the last of `ancestors`, following symbolic links to
/// directories but never into a directory it is already inside, so a link loop ends
/// instead of recursing forever. Only a link can lead back up, so only a link's target
/// is resolved (a plain subdirectory's real path is its parent's plus its name): one
/// `stat` per file and no path resolution per directory.
fn walk(dir: &Path, out: &mut Found, ancestors: &mut Vec<PathBuf>) {
    let mut subdirs = Vec::new();
    visit(dir, out, ancestors, &mut |entry| subdirs.push(entry));
    descend(&subdirs, out, ancestors);
}

/// Walks each of `subdirs` (path and real path), below `ancestors`.
fn descend(subdirs: &[(PathBuf, PathBuf)], out: &mut Found, ancestors: &mut Vec<PathBuf>) {
    for (path, real) in subdirs {
        ancestors.push(real.clone());
        walk(path, out, ancestors);
        ancestors.pop();
    }
}

/// The entries of `dir`: `*.jsonl` files (and their sizes) into `out`, each directory to
/// go into (its path and real path) to `subdir`. A directory that cannot be read, or
/// whose listing breaks off, is named in `out.skipped` with what was listed of it kept.
fn visit(
    dir: &Path,
    out: &mut Found,
    ancestors: &[PathBuf],
    subdir: &mut impl FnMut((PathBuf, PathBuf)),
) {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            out.skipped.push(Skipped::io(dir, &e));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.skipped.push(Skipped::io(dir, &e));
                return;
            }
        };
        let path = entry.path();
        let jsonl = || path.extension().is_some_and(|x| x == "jsonl");
        let kind = match entry.file_type() {
            Ok(k) => k,
            Err(e) => {
                if jsonl() {
                    out.skipped.push(Skipped::io(&path, &e));
                }
                continue;
            }
        };
        if kind.is_symlink() {
            // Followed only to learn what it points at; a dangling one is skipped.
            let Ok(m) = fs::metadata(&path) else { continue };
            if m.is_file() && jsonl() {
                out.files.push((path, Some(Stamp::of(&m))));
            } else if m.is_dir() {
                let Ok(real) = fs::canonicalize(&path) else {
                    continue;
                };
                if !ancestors.iter().any(|a| a.as_os_str() == real.as_os_str()) {
                    subdir((path, real));
                }
            } else if jsonl() {
                out.skipped.push(Skipped::not_regular(&path));
            }
        } else if kind.is_dir() {
            let real = ancestors
                .last()
                .map_or_else(|| path.clone(), |parent| parent.join(entry.file_name()));
            subdir((path, real));
        } else if kind.is_file() && jsonl() {
            // A file that goes between listing and stat is still listed; the scan says
            // it cannot be read.
            let stamp = entry.metadata().ok().map(|m| Stamp::of(&m));
            out.files.push((path, stamp));
        } else if jsonl() {
            out.skipped.push(Skipped::not_regular(&path));
        }
    }
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
        assert_eq!((t.project.as_str(), t.session.as_str()), ("-p", "s1"));
        let t = Transcript::describe(root, Path::new("/r/projects/-p/s1/subagents/agent-a.jsonl"))
            .unwrap();
        assert_eq!((t.project.as_str(), t.session.as_str()), ("-p", "s1"));
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
        assert_eq!(found[0].session, "s");
    }

    #[test]
    fn plain_paths_are_taken_apart_as_path_does() {
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
        let sessions: Vec<&str> = listing
            .transcripts
            .iter()
            .map(|t| t.session.as_str())
            .collect();
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
