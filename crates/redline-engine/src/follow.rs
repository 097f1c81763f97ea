//! Change notifications for the transcript roots, by the operating system's file watcher
//! (inotify on Linux, used directly: `follow/inotify.rs`; elsewhere the `notify` crate's
//! watcher: `follow/portable.rs`), never by polling files on a timer.
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

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::roots::{Root, RootDirs};

#[cfg(target_os = "linux")]
mod inotify;
#[cfg(target_os = "linux")]
use inotify as backend;
#[cfg(not(target_os = "linux"))]
mod portable;
#[cfg(not(target_os = "linux"))]
use portable as backend;

/// Whether `path` leads to a directory (a link followed) that a watch of a tree has not
/// gone into yet, noting its real path in `seen`: a link loop ends there.
fn new_dir(path: &Path, seen: &mut std::collections::HashSet<PathBuf>) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_dir())
        && std::fs::canonicalize(path).is_ok_and(|real| seen.insert(real))
}

/// What the watcher said happened, by path (see each backend's `said`).
enum Seen {
    /// Something happened at the path; `true` when it was made or changed (rather than
    /// gone).
    Path(PathBuf, bool),
    /// Notifications were lost: everything should be looked at.
    Rescan,
    /// The watcher failed.
    Failed(String),
}

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
    /// The directories a listing found below each root, and those of them it could not
    /// fully account for, by root, taken by the first watch of that root
    /// ([`Follower::start_listed`]).
    listed: HashMap<PathBuf, (Vec<PathBuf>, Vec<PathBuf>)>,
    watcher: backend::Watcher,
}

/// One notification from the operating system, opaque: hand it back to
/// [`Follower::happenings`] on the thread that owns the follower.
#[derive(Debug)]
pub struct FsEvent(backend::Raw);

/// Watches a listing sets on a [`Follower`]'s watcher as it goes (see
/// [`crate::roots::survey_watching`]), from any of its threads, for the follower to
/// [adopt](Follower::adopt). Only where the watcher can be told from another thread
/// (Linux): see [`Follower::start_early`].
#[cfg(target_os = "linux")]
pub struct EarlyWatches(backend::Early);

/// Watches a listing sets as it goes: never made on this platform ([`Follower::start_early`]
/// says `None`).
#[cfg(not(target_os = "linux"))]
pub enum EarlyWatches {}

impl EarlyWatches {
    /// Watches the directory `dir`, with what happens to its entries; a directory that
    /// cannot be watched (gone, unreadable) is left out, as a tree's watch leaves it out.
    pub fn watch(&self, dir: &Path) {
        #[cfg(target_os = "linux")]
        self.0.watch(dir);
        #[cfg(not(target_os = "linux"))]
        {
            let _ = dir;
            match *self {}
        }
    }
}

impl Follower {
    /// Starts watching `roots`. Each notification goes to `send`, on the watcher's own
    /// thread: the caller queues it wherever it waits (with its other inputs), then turns
    /// queued notifications into [`Happening`]s with [`Follower::happenings`]. What is
    /// already there is not reported: the caller scans it.
    pub fn start(
        roots: Vec<Root>,
        send: impl Fn(FsEvent) + Send + 'static,
    ) -> std::io::Result<Follower> {
        Follower::start_listed(roots, &[], send)
    }

    /// Starts watching `roots` as [`Follower::start`] does, taking the directories below
    /// each root from a listing just made (`listed`, as [`crate::roots::survey_with`] gives
    /// them) instead of reading every directory for them: on Linux each is then watched
    /// without being opened. A directory made since that listing is not watched: the
    /// caller lists again once this returns and watches what that listing found new with
    /// [`Follower::watch_dir`], before it lists what is in there.
    pub fn start_listed(
        roots: Vec<Root>,
        listed: &[RootDirs],
        send: impl Fn(FsEvent) + Send + 'static,
    ) -> std::io::Result<Follower> {
        let mut f = Follower::unwatched(roots, send)?;
        f.listed = listed
            .iter()
            .map(|d| (d.root.clone(), (d.below().collect(), d.unclean().collect())))
            .collect();
        f.refresh(&mut Vec::new(), false);
        f.listed = HashMap::new();
        Ok(f)
    }

    /// A follower of `roots` with no watch yet (each root waiting to be looked for).
    fn unwatched(
        roots: Vec<Root>,
        send: impl Fn(FsEvent) + Send + 'static,
    ) -> std::io::Result<Follower> {
        let watcher = backend::Watcher::new(move |raw| send(FsEvent(raw)))?;
        Ok(Follower {
            states: vec![RootState::Waiting(PathBuf::new()); roots.len()],
            roots,
            ancestors: BTreeSet::new(),
            listed: HashMap::new(),
            watcher,
        })
    }

    /// A follower with no watch yet, and the handle a listing sets its watches with as it
    /// goes, from any thread ([`crate::roots::survey_watching`]); [`Follower::adopt`]
    /// takes what it set. Notifications go to `send` from the first watch on. `None`
    /// where the platform's watcher cannot be told from another thread (then the caller
    /// watches what the listing went through, [`Follower::start_listed`], and lists
    /// again).
    pub fn start_early(
        roots: Vec<Root>,
        send: impl Fn(FsEvent) + Send + 'static,
    ) -> std::io::Result<Option<(Follower, EarlyWatches)>> {
        #[cfg(target_os = "linux")]
        {
            let f = Follower::unwatched(roots, send)?;
            let early = EarlyWatches(f.watcher.early());
            Ok(Some((f, early)))
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (roots, send);
            Ok(None)
        }
    }

    /// Takes the watches a listing set with `early` as watches of whole trees, then
    /// watches each root they do not cover (made after the listing looked for it, or not
    /// there at all) as [`Follower::start`] does. Back comes what to look at: each root
    /// watched only now, whole, since what it holds may have been written before its watch
    /// took hold.
    pub fn adopt(&mut self, early: EarlyWatches) -> Vec<Happening> {
        #[cfg(target_os = "linux")]
        {
            self.watcher.adopt(early.0);
            for (state, root) in self.states.iter_mut().zip(&self.roots) {
                if self.watcher.watches(&root.projects) {
                    *state = RootState::Watching;
                }
            }
            let mut out = Vec::new();
            self.refresh(&mut out, true);
            out
        }
        #[cfg(not(target_os = "linux"))]
        match early {}
    }

    /// Watches `dir`, a directory in a watched root, with every directory below it (one
    /// made before its parent's watch took hold, found by listing again).
    pub fn watch_dir(&mut self, dir: &Path) {
        if self.root_of(dir).is_some() {
            let _ = self.watcher.watch_tree(dir);
        }
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
        for FsEvent(raw) in events {
            self.take(raw, &mut out);
        }
        self.refresh(&mut out, true);
        out.sort();
        out.dedup();
        out
    }

    fn take(&mut self, raw: backend::Raw, out: &mut Vec<Happening>) {
        for seen in self.watcher.said(raw) {
            let (path, made_or_changed) = match seen {
                Seen::Path(path, made_or_changed) => (path, made_or_changed),
                Seen::Rescan => {
                    for (root, r) in self.roots.iter().enumerate() {
                        if self.states[root] == RootState::Watching {
                            out.push(Happening::Dir {
                                root,
                                path: r.projects.clone(),
                            });
                        }
                    }
                    continue;
                }
                Seen::Failed(e) => {
                    out.push(Happening::Error(format!("file watcher: {e}")));
                    continue;
                }
            };
            let Some(root) = self.root_of(&path) else {
                continue;
            };
            if path.extension().is_some_and(|e| e == "jsonl") {
                out.push(Happening::File { root, path });
            } else if made_or_changed && path.is_dir() {
                // Directories made inside it before the watcher's own watch on it took hold
                // would go unwatched: watching it again covers whatever is there now, and
                // the caller lists it after this.
                let _ = self.watcher.watch_tree(&path);
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
                    self.watcher.unwatch(&projects);
                }
                (_, true) => match self.watch_root(&projects) {
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
            self.watcher.unwatch(gone);
        }
        for new in wanted.difference(&self.ancestors) {
            if let Err(e) = self.watcher.watch_alone(new) {
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

    /// Watches the root `projects` and everything below it: the directories a listing
    /// found there when it was given ([`Follower::start_listed`]), and below those it
    /// could not fully account for, what reading them finds; else what reading each
    /// directory finds.
    fn watch_root(&mut self, projects: &Path) -> std::io::Result<()> {
        match self.listed.remove(projects) {
            Some((below, unclean)) => {
                self.watcher.watch_listed(projects, &below)?;
                // A link the listing followed is not among its directories: what is
                // below such a directory is found by reading it, as without a listing.
                for dir in unclean {
                    let _ = self.watcher.watch_tree(&dir);
                }
                Ok(())
            }
            None => self.watcher.watch_tree(projects),
        }
    }
}

fn nearest_existing_ancestor(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .find(|a| a.is_dir())
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A follower of the root `projects`, and where its notifications go.
    #[cfg(unix)]
    fn started(projects: &Path) -> (Follower, mpsc::Receiver<FsEvent>) {
        let (tx, rx) = mpsc::channel();
        let root = Root {
            projects: projects.to_path_buf(),
            explicit: true,
        };
        let f = Follower::start(vec![root], move |ev| {
            let _ = tx.send(ev);
        })
        .unwrap();
        (f, rx)
    }

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
        let (mut f, rx) = started(&projects);
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

    /// Collects what `f` says of the notifications that come within `wait`, until one
    /// batch holds a happening `done` accepts (`true`) or the time is up (`false`).
    #[cfg(target_os = "linux")]
    fn watch_for(
        f: &mut Follower,
        rx: &mpsc::Receiver<FsEvent>,
        wait: Duration,
        done: impl Fn(&Happening) -> bool,
    ) -> (bool, Vec<Happening>) {
        let until = std::time::Instant::now() + wait;
        let mut all = Vec::new();
        while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
            let Ok(ev) = rx.recv_timeout(left) else { break };
            let got = f.happenings(vec![ev]);
            let hit = got.iter().any(&done);
            all.extend(got);
            if hit {
                return (true, all);
            }
        }
        (false, all)
    }

    /// Watches a listing set as it went are adopted as the follower's own: what was
    /// written after the listing, before the adoption, is announced once they are taken
    /// (a session's directory, one through a link, a subagent's); a root the listing did
    /// not find is watched when it is taken, and said to be looked at whole.
    #[cfg(target_os = "linux")]
    #[test]
    fn watches_a_listing_set_are_adopted_with_what_they_saw_meanwhile() {
        let s = crate::roots::tests::Scratch::new("follow-early");
        let projects = s.0.join("projects");
        let deep = projects.join("-a").join("s").join("subagents");
        std::fs::create_dir_all(&deep).unwrap();
        let elsewhere = s.0.join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, projects.join("-a").join("l")).unwrap();
        let late = s.0.join("late");
        let roots = vec![
            Root {
                projects: projects.clone(),
                explicit: true,
            },
            Root {
                projects: late.clone(),
                explicit: true,
            },
        ];
        let (tx, rx) = mpsc::channel();
        let (mut f, early) = Follower::start_early(roots.clone(), move |ev| {
            let _ = tx.send(ev);
        })
        .unwrap()
        .expect("inotify is told from any thread");
        crate::roots::survey_watching(&roots, &Default::default(), &|d: &Path| early.watch(d));
        // After the listing, before the watches are taken.
        let written = [
            projects.join("-a").join("s.jsonl"),
            deep.join("agent-1.jsonl"),
            projects.join("-a").join("l").join("t.jsonl"),
        ];
        for w in &written {
            std::fs::write(w, "{}\n").unwrap();
        }
        std::fs::create_dir_all(&late).unwrap();
        let taken = f.adopt(early);
        assert_eq!(f.states(), [RootState::Watching, RootState::Watching]);
        assert_eq!(
            taken,
            [Happening::Dir {
                root: 1,
                path: late.clone()
            }]
        );
        let mut missing: Vec<&PathBuf> = written.iter().collect();
        let (_, said) = watch_for(
            &mut f,
            &rx,
            Duration::from_secs(5),
            |h| matches!(h, Happening::File { path, .. } if *path == written[2]),
        );
        missing.retain(|w| {
            !said
                .iter()
                .any(|h| matches!(h, Happening::File { path, .. } if path == *w))
        });
        assert!(
            missing.is_empty(),
            "not announced: {missing:?} (said {said:?})"
        );
        // And the late root is followed from here on.
        let file = late.join("-p").join("x.jsonl");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let (seen, said) = watch_for(
            &mut f,
            &rx,
            Duration::from_secs(5),
            |h| matches!(h, Happening::Dir { path, .. } if path.ends_with("-p")),
        );
        assert!(seen, "{said:?}");
    }

    /// Started from a listing, the follower watches the directories the listing went
    /// through and no other: one made after the listing is not read for, until the caller
    /// (having listed again) watches it.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_follower_started_from_a_listing_watches_what_it_listed() {
        let s = crate::roots::tests::Scratch::new("follow-listed");
        let projects = s.0.join("projects");
        let deep = projects.join("-a").join("s").join("subagents");
        std::fs::create_dir_all(&deep).unwrap();
        // A session that is a link to a tree elsewhere: the listing follows it, and
        // does not list its directories among its own.
        let elsewhere = s.0.join("elsewhere");
        std::fs::create_dir_all(elsewhere.join("subagents")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, projects.join("-a").join("l")).unwrap();
        let root = Root {
            projects: projects.clone(),
            explicit: true,
        };
        let (_, dirs) = crate::roots::survey_with(std::slice::from_ref(&root), &Default::default());
        let late = projects.join("-b");
        std::fs::create_dir_all(&late).unwrap();
        let (tx, rx) = mpsc::channel();
        let mut f = Follower::start_listed(vec![root], &dirs, move |ev| {
            let _ = tx.send(ev);
        })
        .unwrap();
        assert_eq!(f.states(), [RootState::Watching]);
        let file = |p: &Path| {
            let p = p.to_path_buf();
            move |h: &Happening| matches!(h, Happening::File { path, .. } if *path == p)
        };
        let listed = deep.join("agent-1.jsonl");
        std::fs::write(&listed, "{}\n").unwrap();
        let wait = Duration::from_secs(5);
        assert!(watch_for(&mut f, &rx, wait, file(&listed)).0);
        std::fs::write(elsewhere.join("subagents").join("t.jsonl"), "{}\n").unwrap();
        let through_link = projects
            .join("-a")
            .join("l")
            .join("subagents")
            .join("t.jsonl");
        assert!(watch_for(&mut f, &rx, wait, file(&through_link)).0);
        let unlisted = late.join("s.jsonl");
        std::fs::write(&unlisted, "{}\n").unwrap();
        let short = Duration::from_millis(300);
        assert!(!watch_for(&mut f, &rx, short, file(&unlisted)).0);
        f.watch_dir(&late);
        std::fs::write(&unlisted, "{}\n{}\n").unwrap();
        assert!(watch_for(&mut f, &rx, wait, file(&unlisted)).0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_directory_moved_within_is_followed_where_it_went_and_not_once_it_leaves() {
        let s = crate::roots::tests::Scratch::new("follow-moved");
        let projects = s.0.join("projects");
        let old = projects.join("-a").join("s");
        std::fs::create_dir_all(old.join("subagents")).unwrap();
        std::fs::create_dir_all(projects.join("-b")).unwrap();
        let (mut f, rx) = started(&projects);
        let wait = Duration::from_secs(5);
        // Moved to another project: reported as a directory to list, and followed there.
        let new = projects.join("-b").join("s2");
        std::fs::rename(&old, &new).unwrap();
        let (seen, got) = watch_for(
            &mut f,
            &rx,
            wait,
            |h| matches!(h, Happening::Dir { path, .. } if *path == new),
        );
        assert!(seen, "the moved directory was not reported: {got:?}");
        let file = new.join("subagents").join("agent-1.jsonl");
        std::fs::write(&file, "{}\n").unwrap();
        let (seen, got) = watch_for(
            &mut f,
            &rx,
            wait,
            |h| matches!(h, Happening::File { path, .. } if *path == file),
        );
        assert!(
            seen,
            "a file below the moved directory was not followed: {got:?}"
        );
        assert!(
            !got.iter()
                .any(|h| matches!(h, Happening::File { path, .. } if path.starts_with(&old))),
            "a change was put at the directory's old place: {got:?}"
        );
        // Moved out of the root: nothing below it is reported any more, under any path.
        let outside = s.0.join("elsewhere");
        std::fs::rename(&new, &outside).unwrap();
        std::fs::write(outside.join("subagents").join("agent-2.jsonl"), "{}\n").unwrap();
        let (_, got) = watch_for(&mut f, &rx, Duration::from_millis(500), |_| false);
        assert!(
            !got.iter().any(|h| matches!(h, Happening::File { path, .. }
                if path.ends_with("agent-2.jsonl"))),
            "a directory moved away is still followed: {got:?}"
        );
    }
}
