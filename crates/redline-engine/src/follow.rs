//! Change notifications for the transcript roots, by the operating system's file watcher
//! (inotify on Linux), never by polling files on a timer.
//!
//! Each `projects/` root is watched recursively once it exists. A root that does not exist
//! yet is not an error: its nearest existing ancestor is watched instead (not recursively),
//! and when the root appears it is watched and reported whole, so files written before the
//! watch took hold are still read. A root that disappears goes back to waiting. A new
//! directory is reported too (a new project, a session's `subagents/`), for the same
//! reason. A directory below a root that cannot be watched (one that cannot be read) is
//! left out, not the whole root: the rest stays followed. Notifications go to the caller as they arrive; it hands back whatever has
//! queued up as one batch: there is no debounce delay. This module only says where to look; reading
//! is [`crate::tail`]'s and counting [`crate::live`]'s.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use crate::roots::Root;

/// Something to look at.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Happening {
    /// A transcript (below root number `root`) may have changed, appeared or gone.
    File {
        /// Index into the roots.
        root: usize,
        /// The file.
        path: PathBuf,
    },
    /// A directory appeared (or the watcher lost events): every transcript below it
    /// should be looked at.
    Dir {
        /// Index into the roots.
        root: usize,
        /// The directory.
        path: PathBuf,
    },
    /// The watcher reported a failure.
    Error(String),
}

/// Where one root stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootState {
    /// Watched, with everything below it.
    Watching,
    /// Not there yet; this ancestor is watched for it.
    Waiting(PathBuf),
    /// Could not be watched.
    Failed(String),
    /// Not watched yet: its watch is being set up (a caller that does that alongside its
    /// start says so meanwhile; a [`Follower`] never is in this state).
    Starting,
}

/// The watcher over every root.
pub struct Follower {
    roots: Vec<Root>,
    states: Vec<RootState>,
    /// Ancestors watched (not recursively) on behalf of waiting roots.
    ancestors: BTreeSet<PathBuf>,
    watcher: RecommendedWatcher,
}

/// One notification from the operating system, opaque: hand it back to
/// [`Follower::happenings`] on the thread that owns the follower.
#[derive(Debug)]
pub struct FsEvent(notify::Result<Event>);

impl Follower {
    /// Starts watching `roots`. Each notification goes to `send`, on the watcher's own
    /// thread: the caller queues it wherever it waits (with its other inputs), then turns
    /// queued notifications into [`Happening`]s with [`Follower::happenings`]. What is
    /// already there is not reported: the caller scans it.
    pub fn start(
        roots: Vec<Root>,
        send: impl Fn(FsEvent) + Send + 'static,
    ) -> notify::Result<Follower> {
        let watcher = notify::recommended_watcher(move |ev: notify::Result<Event>| {
            // inotify reports every open of a watched file, our own reads included: a cold
            // scan would queue one event per file. Only changes matter here.
            if ev
                .as_ref()
                .is_ok_and(|e| matches!(e.kind, EventKind::Access(_)))
            {
                return;
            }
            send(FsEvent(ev));
        })?;
        let states = vec![RootState::Waiting(PathBuf::new()); roots.len()];
        let mut f = Follower {
            roots,
            states,
            ancestors: BTreeSet::new(),
            watcher,
        };
        f.refresh(&mut Vec::new(), false);
        Ok(f)
    }

    /// The roots, in the order given.
    pub fn roots(&self) -> &[Root] {
        &self.roots
    }

    /// Each root's state, in the same order.
    pub fn states(&self) -> &[RootState] {
        &self.states
    }

    /// What a batch of notifications means: what to look at, each once.
    pub fn happenings(&mut self, events: impl IntoIterator<Item = FsEvent>) -> Vec<Happening> {
        let mut out = Vec::new();
        for FsEvent(ev) in events {
            self.take(ev, &mut out);
        }
        self.refresh(&mut out, true);
        out.sort();
        out.dedup();
        out
    }

    fn take(&mut self, ev: notify::Result<Event>, out: &mut Vec<Happening>) {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                out.push(Happening::Error(format!("file watcher: {e}")));
                return;
            }
        };
        if ev.need_rescan() {
            for (root, r) in self.roots.iter().enumerate() {
                if self.states[root] == RootState::Watching {
                    out.push(Happening::Dir {
                        root,
                        path: r.projects.clone(),
                    });
                }
            }
        }
        for path in ev.paths {
            let Some(root) = self.root_of(&path) else {
                continue;
            };
            if path.extension().is_some_and(|e| e == "jsonl") {
                out.push(Happening::File { root, path });
            } else if matches!(ev.kind, EventKind::Create(_) | EventKind::Modify(_))
                && path.is_dir()
            {
                // Directories made inside it before the watcher's own watch on it took hold
                // would go unwatched: watching it again covers whatever is there now, and
                // the caller lists it after this.
                let _ = watch_tree(&mut self.watcher, &path);
                out.push(Happening::Dir { root, path });
            }
        }
    }

    /// The watched root `path` lies in (the deepest, should roots nest).
    fn root_of(&self, path: &Path) -> Option<usize> {
        self.roots
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                self.states[*i] == RootState::Watching && path.starts_with(&r.projects)
            })
            .max_by_key(|(_, r)| r.projects.as_os_str().len())
            .map(|(i, _)| i)
    }

    /// Moves each root between watching and waiting as it appears or disappears, and
    /// keeps exactly the ancestors of waiting roots watched. A root that starts being
    /// watched is reported whole when `report` is set.
    fn refresh(&mut self, out: &mut Vec<Happening>, report: bool) {
        // A directory can appear between looking for it and the watch on its parent taking
        // hold (`mkdir -p` makes a whole chain at once): look again after every change of
        // watches, until nothing moves.
        for _ in 0..16 {
            let before = (self.states.clone(), self.ancestors.clone());
            self.refresh_once(out, report);
            if (&self.states, &self.ancestors) == (&before.0, &before.1) {
                return;
            }
        }
    }

    fn refresh_once(&mut self, out: &mut Vec<Happening>, report: bool) {
        let mut wanted = BTreeSet::new();
        for i in 0..self.roots.len() {
            let projects = self.roots[i].projects.clone();
            let exists = projects.is_dir();
            match (&self.states[i], exists) {
                (RootState::Watching, true) => continue,
                (RootState::Watching, false) => {
                    let _ = self.watcher.unwatch(&projects);
                }
                (_, true) => match watch_tree(&mut self.watcher, &projects) {
                    Ok(()) => {
                        self.states[i] = RootState::Watching;
                        if report {
                            out.push(Happening::Dir {
                                root: i,
                                path: projects,
                            });
                        }
                        continue;
                    }
                    Err(e) => {
                        self.states[i] =
                            RootState::Failed(format!("cannot watch {}: {e}", projects.display()));
                        continue;
                    }
                },
                (_, false) => {}
            }
            match nearest_existing_ancestor(&projects) {
                Some(a) => {
                    wanted.insert(a.clone());
                    self.states[i] = RootState::Waiting(a);
                }
                None => {
                    self.states[i] = RootState::Failed(format!(
                        "no existing directory above {}",
                        projects.display()
                    ));
                }
            }
        }
        for gone in self.ancestors.difference(&wanted) {
            let _ = self.watcher.unwatch(gone);
        }
        for new in wanted.difference(&self.ancestors) {
            if let Err(e) = self.watcher.watch(new, RecursiveMode::NonRecursive) {
                for (i, s) in self.states.iter_mut().enumerate() {
                    if *s == RootState::Waiting(new.clone()) {
                        *s = RootState::Failed(format!(
                            "cannot watch {} for {}: {e}",
                            new.display(),
                            self.roots[i].projects.display()
                        ));
                    }
                }
            }
        }
        self.ancestors = wanted;
    }
}

fn nearest_existing_ancestor(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .find(|a| a.is_dir())
        .map(Path::to_path_buf)
}

/// Watches `dir` and every directory below it. The watcher gives up on the whole tree at
/// the first directory it cannot watch (one that cannot be read): then `dir` is watched
/// alone and each subdirectory the same way, so one unreadable project leaves the others
/// followed (the listing names it). Fails only when `dir` itself cannot be watched.
fn watch_tree(watcher: &mut RecommendedWatcher, dir: &Path) -> notify::Result<()> {
    if watcher.watch(dir, RecursiveMode::Recursive).is_ok() {
        return Ok(());
    }
    watcher.watch(dir, RecursiveMode::NonRecursive)?;
    let mut seen: BTreeSet<PathBuf> = std::fs::canonicalize(dir).into_iter().collect();
    watch_below(watcher, dir, &mut seen);
    Ok(())
}

/// Watches each directory below `dir` as [`watch_tree`] does, entering none twice (a link
/// loop ends).
fn watch_below(watcher: &mut RecommendedWatcher, dir: &Path, seen: &mut BTreeSet<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        // Links to directories are followed, as the watcher does.
        if !std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let Ok(real) = std::fs::canonicalize(&path) else {
            continue;
        };
        if !seen.insert(real) {
            continue;
        }
        if watcher.watch(&path, RecursiveMode::Recursive).is_err()
            && watcher.watch(&path, RecursiveMode::NonRecursive).is_ok()
        {
            watch_below(watcher, &path, seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[cfg(unix)]
    #[test]
    fn an_unreadable_directory_leaves_the_others_followed() {
        use std::os::unix::fs::PermissionsExt;
        let s = crate::roots::tests::Scratch::new("follow-unreadable");
        let projects = s.0.join("projects");
        std::fs::create_dir_all(projects.join("-a")).unwrap();
        std::fs::create_dir_all(projects.join("-b")).unwrap();
        std::fs::create_dir_all(projects.join("-c")).unwrap();
        std::fs::set_permissions(projects.join("-b"), std::fs::Permissions::from_mode(0o000))
            .unwrap();
        if std::fs::read_dir(projects.join("-b")).is_ok() {
            eprintln!("skipped: permissions do not stop this user (root): nothing to test");
            return;
        }
        let (tx, rx) = mpsc::channel();
        let mut f = Follower::start(
            vec![Root {
                projects: projects.clone(),
                explicit: true,
            }],
            move |ev| {
                let _ = tx.send(ev);
            },
        )
        .unwrap();
        assert_eq!(f.states(), [RootState::Watching]);
        for p in ["-a", "-c"] {
            let file = projects.join(p).join("s.jsonl");
            std::fs::write(&file, "{}\n").unwrap();
            let mut seen = false;
            while let Ok(ev) = rx.recv_timeout(Duration::from_secs(5)) {
                if f.happenings(vec![ev])
                    .iter()
                    .any(|h| matches!(h, Happening::File { path, .. } if *path == file))
                {
                    seen = true;
                    break;
                }
            }
            assert!(seen, "{} was not followed", file.display());
        }
    }
}
