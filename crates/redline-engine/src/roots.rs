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
}

impl Transcript {
    /// Describes `path`, which lies below the `projects` directory `root`.
    /// Returns `None` for a file directly in `projects/` (it belongs to no project).
    pub fn describe(root: &Path, path: &Path) -> Option<Transcript> {
        let rel = path.strip_prefix(root).ok()?;
        let parts: Vec<&std::ffi::OsStr> = rel.iter().collect();
        if parts.len() < 2 {
            return None;
        }
        // <project>/<session>/subagents/<agent>.jsonl folds into <session>.
        let session = match parts.iter().rposition(|p| *p == "subagents") {
            Some(i) if i >= 2 => parts[i - 1],
            _ => path.file_stem()?,
        };
        // Names that are not UTF-8 are read lossily rather than skipped: the file still counts.
        Some(Transcript {
            path: path.to_path_buf(),
            project: parts[0].to_string_lossy().into_owned(),
            session: session.to_string_lossy().into_owned(),
            len: 0,
        })
    }
}

/// Orders paths as strings, byte by byte: the order ccusage sorts files in, which decides
/// dedup ties. (`Path`'s own order compares components, which puts `s/agent.jsonl` before
/// `s.jsonl`; as strings `.` sorts before `/`.)
pub fn path_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    a.as_os_str()
        .as_encoded_bytes()
        .cmp(b.as_os_str().as_encoded_bytes())
}

/// Every `*.jsonl` below the given roots, sorted by [`path_order`] (the order ties are
/// broken in).
/// A root that does not exist is skipped; one that cannot be read is an error.
pub fn list_transcripts(roots: &[Root]) -> io::Result<Vec<Transcript>> {
    let mut out = Vec::new();
    for root in roots {
        match fs::metadata(&root.projects) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(with_path(e, &root.projects)),
        }
        let mut files = Vec::new();
        walk_root(&root.projects, &mut files)?;
        out.extend(files.iter().filter_map(|(p, len)| {
            let t = Transcript::describe(&root.projects, p)?;
            Some(Transcript { len: *len, ..t })
        }));
    }
    out.sort_by(|a, b| path_order(&a.path, &b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

/// Every `*.jsonl` below `dir` (a directory inside a root), sorted by [`path_order`]: what a
/// live reader looks at when a directory appears.
pub fn transcripts_below(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    walk_root(dir, &mut files)?;
    let mut files: Vec<PathBuf> = files.into_iter().map(|(p, _)| p).collect();
    files.sort_by(|a, b| path_order(a, b));
    Ok(files)
}

/// Walks `dir` (its real path worked out once) for `*.jsonl` files and their sizes.
///
/// Listing is mostly the kernel's work per directory; with a directory per project, the
/// project directories are shared out among threads (as many as cores, at most four).
fn walk_root(dir: &Path, out: &mut Vec<(PathBuf, u64)>) -> io::Result<()> {
    let real = fs::canonicalize(dir).map_err(|e| with_path(e, dir))?;
    // The root's own entries: its files here, its plain subdirectories for the threads.
    let mut subdirs = Vec::new();
    let mut ancestors = vec![real];
    visit(dir, out, &ancestors, &mut |entry| subdirs.push(entry))?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(subdirs.len());
    if threads <= 1 {
        return descend(&subdirs, out, &mut ancestors);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<io::Result<Vec<(PathBuf, u64)>>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut found = Vec::new();
                    let mut ancestors = ancestors.clone();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(one) = subdirs.get(i..=i) else {
                            return Ok(found);
                        };
                        descend(one, &mut found, &mut ancestors)?;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    for r in results {
        out.append(&mut r?);
    }
    Ok(())
}

/// Walks `dir`, whose real path is the last of `ancestors`, following symbolic links to
/// directories but never into a directory it is already inside, so a link loop ends
/// instead of recursing forever. Only a link can lead back up, so only a link's target
/// is resolved (a plain subdirectory's real path is its parent's plus its name): one
/// `stat` per file and no path resolution per directory.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, u64)>, ancestors: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut subdirs = Vec::new();
    visit(dir, out, ancestors, &mut |entry| subdirs.push(entry))?;
    descend(&subdirs, out, ancestors)
}

/// Walks each of `subdirs` (path and real path), below `ancestors`.
fn descend(
    subdirs: &[(PathBuf, PathBuf)],
    out: &mut Vec<(PathBuf, u64)>,
    ancestors: &mut Vec<PathBuf>,
) -> io::Result<()> {
    for (path, real) in subdirs {
        ancestors.push(real.clone());
        walk(path, out, ancestors)?;
        ancestors.pop();
    }
    Ok(())
}

/// The entries of `dir`: `*.jsonl` files (and their sizes) into `out`, each directory to
/// go into (its path and real path) to `subdir`.
fn visit(
    dir: &Path,
    out: &mut Vec<(PathBuf, u64)>,
    ancestors: &[PathBuf],
    subdir: &mut impl FnMut((PathBuf, PathBuf)),
) -> io::Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| with_path(e, dir))?;
    for entry in entries {
        let entry = entry.map_err(|e| with_path(e, dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| with_path(e, &path))?;
        let jsonl = || path.extension().is_some_and(|x| x == "jsonl");
        if kind.is_symlink() {
            // Followed only to learn what it points at; a dangling one is skipped.
            let Ok(m) = fs::metadata(&path) else { continue };
            if m.is_file() && jsonl() {
                out.push((path, m.len()));
            } else if m.is_dir() {
                let Ok(real) = fs::canonicalize(&path) else {
                    continue;
                };
                if !ancestors.iter().any(|a| a.as_os_str() == real.as_os_str()) {
                    subdir((path, real));
                }
            }
        } else if kind.is_dir() {
            let real = ancestors
                .last()
                .map_or_else(|| path.clone(), |parent| parent.join(entry.file_name()));
            subdir((path, real));
        } else if kind.is_file() && jsonl() {
            // A file that goes between listing and stat is still listed; the scan says
            // it cannot be read.
            let len = entry.metadata().map_or(0, |m| m.len());
            out.push((path, len));
        }
    }
    Ok(())
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
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
}
