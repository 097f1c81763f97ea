//! The file watcher where there is no inotify (macOS, Windows, the BSDs): the `notify`
//! crate's recommended watcher, behind the same calls as [`super`]'s Linux one.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

use super::{Seen, new_dir};

/// What the watcher said, as it said it.
#[derive(Debug)]
pub(super) struct Raw(notify::Result<Event>);

/// The watches.
pub(super) struct Watcher(RecommendedWatcher);

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watcher")
    }
}

fn io_error(e: notify::Error) -> io::Error {
    io::Error::other(e.to_string())
}

impl Watcher {
    /// A watcher with no watches yet, its notifications going to `send` (on its own
    /// thread) as they come.
    pub(super) fn new(send: impl Fn(Raw) + Send + 'static) -> io::Result<Watcher> {
        let watcher = notify::recommended_watcher(move |ev: notify::Result<Event>| {
            // Some watchers report every open of a watched file, our own reads included:
            // a cold scan would queue one notification per file. Only changes matter.
            if ev
                .as_ref()
                .is_ok_and(|e| matches!(e.kind, EventKind::Access(_)))
            {
                return;
            }
            send(Raw(ev));
        })
        .map_err(io_error)?;
        Ok(Watcher(watcher))
    }

    /// Watches `dir` alone.
    pub(super) fn watch_alone(&mut self, dir: &Path) -> io::Result<()> {
        self.0
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(io_error)
    }

    /// Watches `dir` and every directory below it. The watcher gives up on the whole tree
    /// at the first directory it cannot watch (one that cannot be read): then `dir` is
    /// watched alone and each subdirectory the same way, so one unreadable project leaves
    /// the others followed. Fails only when `dir` itself cannot be watched.
    pub(super) fn watch_tree(&mut self, dir: &Path) -> io::Result<()> {
        if self.0.watch(dir, RecursiveMode::Recursive).is_ok() {
            return Ok(());
        }
        self.watch_alone(dir)?;
        let mut seen: HashSet<PathBuf> = std::fs::canonicalize(dir).into_iter().collect();
        self.watch_below(dir, &mut seen);
        Ok(())
    }

    /// Watches the tree `root`: the watcher's own recursive watch finds the directories
    /// below, so a listing's are not needed here.
    pub(super) fn watch_listed(&mut self, root: &Path, _below: &[PathBuf]) -> io::Result<()> {
        self.watch_tree(root)
    }

    /// Watches each directory below `dir` as [`Watcher::watch_tree`] does, entering none
    /// twice (a link loop ends).
    fn watch_below(&mut self, dir: &Path, seen: &mut HashSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // Links to directories are followed, as the watcher does.
            if !new_dir(&path, seen) {
                continue;
            }
            if self.0.watch(&path, RecursiveMode::Recursive).is_err()
                && self.watch_alone(&path).is_ok()
            {
                self.watch_below(&path, seen);
            }
        }
    }

    /// Stops watching `dir` (and what was watched with it).
    pub(super) fn unwatch(&mut self, dir: &Path) {
        let _ = self.0.unwatch(dir);
    }

    /// What `raw` says happened, by path.
    pub(super) fn said(&mut self, Raw(ev): Raw) -> Vec<Seen> {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => return vec![Seen::Failed(e.to_string())],
        };
        let mut out = Vec::new();
        if ev.need_rescan() {
            out.push(Seen::Rescan);
        }
        let made_or_changed = matches!(ev.kind, EventKind::Create(_) | EventKind::Modify(_));
        out.extend(ev.paths.into_iter().map(|p| Seen::Path(p, made_or_changed)));
        out
    }
}
