//! The file watcher on Linux: inotify, used directly.
//!
//! A general watcher (the `notify` crate, used elsewhere) sets up a recursive watch by
//! walking the tree and asking about every entry: on the benchmark history's 8,396
//! directories and 21,752 files that was some 90,000 system calls and 300 ms of one core,
//! taken from the daemon's start-up while it scans. Here only directories are looked at:
//! each is read once (the entries' kinds come with their names) and watched, and nothing
//! else is asked of the kernel; given the directories a listing went through
//! ([`Watcher::watch_listed`]), none is even read, and a listing can set the watches
//! itself as it goes, from its own threads ([`Watcher::early`]), for the watcher to adopt
//! once it is done: then the daemon need not list again. The watch leaves out opens, which a
//! general watcher reports and the scan's own reads would fill the queue with.
//!
//! The kernel's events are read on a thread of this module's own and handed over raw
//! ([`Raw`]); they are turned into paths ([`Watcher::said`]) on the thread that owns the
//! watcher, which alone changes the watches: a watch's directory is known there before any
//! of its events is looked at.

use std::collections::{HashMap, HashSet};
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Seen, new_dir};

/// What a directory is watched for: entries made, changed, gone or moved, and the
/// directory itself going. Only directories are watched (a path that is no longer one by
/// the time the watch is set is refused).
const MASK: u32 = libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MODIFY
    | libc::IN_CLOSE_WRITE
    | libc::IN_ATTRIB
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR;

/// The fixed part of an event: watch, mask, cookie, name length.
const HEAD: usize = 16;

/// What the kernel said, as read: events, or why reading stopped.
#[derive(Debug)]
pub(super) enum Raw {
    Events(Vec<Event>),
    Failed(String),
}

/// One event: the watch it came from, what happened, and the entry's name (empty for the
/// watched directory itself).
#[derive(Debug)]
pub(super) struct Event {
    wd: i32,
    mask: u32,
    name: Vec<u8>,
}

/// The watches, and the thread reading their events.
pub(super) struct Watcher {
    fd: Arc<OwnedFd>,
    /// Each watch's directory.
    dirs: HashMap<i32, PathBuf>,
    /// Each watched directory's watch, and whether it was watched with what is below it
    /// (then unwatching it unwatches that too).
    by_path: HashMap<PathBuf, (i32, bool)>,
    /// Written to (closed) to stop the reader.
    stop: Option<OwnedFd>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("watches", &self.dirs.len())
            .finish()
    }
}

/// A file descriptor the call returned, or the error it set.
#[allow(unsafe_code)]
fn owned(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor just returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Watches `dir` on the inotify descriptor `fd`: its watch.
#[allow(unsafe_code)]
fn add_watch(fd: &OwnedFd, dir: &Path) -> io::Result<i32> {
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: an open inotify descriptor and a NUL-terminated path.
    let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), MASK) };
    if wd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(wd)
}

/// Watches set from any thread before the [`Watcher`] knows of them (see
/// [`Watcher::early`]): the kernel takes them at once, and the watcher adopts them later.
pub(super) struct Early {
    fd: Arc<OwnedFd>,
    taken: std::sync::Mutex<Vec<(i32, PathBuf)>>,
}

impl Early {
    /// Watches `dir`; one that cannot be watched (gone, not a directory) is left out, as
    /// a tree's watch leaves it out.
    pub(super) fn watch(&self, dir: &Path) {
        if let Ok(wd) = add_watch(&self.fd, dir) {
            self.taken
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((wd, dir.to_path_buf()));
        }
    }
}

impl Watcher {
    /// An inotify instance with no watches yet, its events going to `send` (on a thread
    /// of its own) as they are read.
    #[allow(unsafe_code)]
    pub(super) fn new(send: impl Fn(Raw) + Send + 'static) -> io::Result<Watcher> {
        // SAFETY: plain calls that take flags and fill a two-element array.
        let fd = owned(unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) })?;
        let mut ends = [0; 2];
        // SAFETY: `ends` has room for the two descriptors `pipe2` writes.
        if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let (stop_read, stop) = (owned(ends[0])?, owned(ends[1])?);
        let fd = Arc::new(fd);
        let reading = Arc::clone(&fd);
        let reader = std::thread::Builder::new()
            .name("redline-inotify".into())
            .spawn(move || read_events(&reading, &stop_read, &send))?;
        Ok(Watcher {
            fd,
            dirs: HashMap::new(),
            by_path: HashMap::new(),
            stop: Some(stop),
            reader: Some(reader),
        })
    }

    /// Watches `dir` alone.
    pub(super) fn watch_alone(&mut self, dir: &Path) -> io::Result<()> {
        self.add(dir, false)
    }

    /// Watches `dir`, as part of a tree when `tree` is set.
    fn add(&mut self, dir: &Path, tree: bool) -> io::Result<()> {
        let wd = add_watch(&self.fd, dir)?;
        self.note(wd, dir, tree);
        Ok(())
    }

    /// A handle that sets watches on this watcher's descriptor from any thread, as a
    /// listing goes ([`crate::roots::survey_watching`]), for [`Watcher::adopt`] to take.
    pub(super) fn early(&self) -> Early {
        Early {
            fd: Arc::clone(&self.fd),
            taken: std::sync::Mutex::default(),
        }
    }

    /// Takes the watches `early` set as watches of trees (see [`Watcher::watch_tree`]).
    /// Their events waited with the rest, and are read after this ([`Watcher::said`]).
    pub(super) fn adopt(&mut self, early: Early) {
        let taken = early.taken.into_inner().unwrap_or_else(|p| p.into_inner());
        for (wd, dir) in taken {
            self.note(wd, &dir, true);
        }
    }

    /// Whether `dir` is watched.
    pub(super) fn watches(&self, dir: &Path) -> bool {
        self.by_path.contains_key(dir)
    }

    /// Notes the watch `wd` of `dir`, as part of a tree when `tree` is set.
    fn note(&mut self, wd: i32, dir: &Path, tree: bool) {
        if let Some(old) = self.dirs.insert(wd, dir.to_path_buf())
            && old != dir
        {
            // The same directory by another path (a link): its events go by this one.
            self.by_path.remove(&old);
        }
        // One lookup: a path hashes slowly, and the daemon's start watches thousands.
        self.by_path
            .entry(dir.to_path_buf())
            .and_modify(|held| *held = (wd, tree || held.1))
            .or_insert((wd, tree));
    }

    /// Watches `dir` and every directory below it, following links to directories but
    /// never into one twice (a link loop ends). A directory below that cannot be watched
    /// (one that cannot be read) is left out with what is below it, the rest is watched;
    /// fails only when `dir` itself cannot be watched.
    pub(super) fn watch_tree(&mut self, dir: &Path) -> io::Result<()> {
        self.add(dir, true)?;
        let mut linked: HashSet<PathBuf> = std::fs::canonicalize(dir).into_iter().collect();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                let path = entry.path();
                if kind.is_symlink() {
                    if !new_dir(&path, &mut linked) {
                        continue;
                    }
                } else if !kind.is_dir() {
                    continue;
                }
                if self.add(&path, true).is_ok() {
                    todo.push(path);
                }
            }
        }
        Ok(())
    }

    /// Watches the tree `root` as [`Watcher::watch_tree`] does, taking the directories
    /// below it from `below` (a listing's) instead of reading each directory for them: a
    /// directory is only watched, never opened. One that is gone (or no longer a
    /// directory) is left out; fails only when `root` itself cannot be watched.
    pub(super) fn watch_listed(&mut self, root: &Path, below: &[PathBuf]) -> io::Result<()> {
        self.add(root, true)?;
        for dir in below {
            let _ = self.add(dir, true);
        }
        Ok(())
    }

    /// Stops watching `dir`, and every directory below it when it was watched with them
    /// ([`Watcher::watch_tree`]).
    #[allow(unsafe_code)]
    pub(super) fn unwatch(&mut self, dir: &Path) {
        let Some(&(_, tree)) = self.by_path.get(dir) else {
            return;
        };
        let gone: Vec<(PathBuf, i32)> = self
            .by_path
            .iter()
            .filter(|(p, _)| if tree { p.starts_with(dir) } else { *p == dir })
            .map(|(p, &(wd, _))| (p.clone(), wd))
            .collect();
        for (path, wd) in gone {
            // SAFETY: an open inotify descriptor; a watch that is already gone only fails.
            unsafe {
                libc::inotify_rm_watch(self.fd.as_raw_fd(), wd);
            }
            self.by_path.remove(&path);
            self.dirs.remove(&wd);
        }
    }

    /// What `raw` says happened, by path. A directory moved away is no longer watched
    /// (its watches would follow it wherever it went).
    pub(super) fn said(&mut self, raw: Raw) -> Vec<Seen> {
        let events = match raw {
            Raw::Events(e) => e,
            Raw::Failed(why) => return vec![Seen::Failed(why)],
        };
        let mut out = Vec::with_capacity(events.len());
        for e in events {
            if e.mask & libc::IN_Q_OVERFLOW != 0 {
                out.push(Seen::Rescan);
                continue;
            }
            if e.mask & libc::IN_IGNORED != 0 {
                // The kernel dropped the watch (its directory went).
                if let Some(path) = self.dirs.remove(&e.wd)
                    && self.by_path.get(&path).is_some_and(|&(wd, _)| wd == e.wd)
                {
                    self.by_path.remove(&path);
                }
                continue;
            }
            let Some(dir) = self.dirs.get(&e.wd) else {
                continue;
            };
            let path = if e.name.is_empty() {
                dir.clone()
            } else {
                dir.join(OsStr::from_bytes(&e.name))
            };
            let made = e.mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0;
            let changed = e.mask & (libc::IN_MODIFY | libc::IN_CLOSE_WRITE | libc::IN_ATTRIB) != 0;
            if e.mask & libc::IN_ISDIR != 0 && e.mask & libc::IN_MOVED_FROM != 0 {
                self.unwatch(&path);
            }
            out.push(Seen::Path(path, made || changed));
        }
        out
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // The reader wakes when the pipe's writing end closes.
        self.stop = None;
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

/// Reads events from `fd` until `stop` closes, handing each read's events to `send`.
#[allow(unsafe_code)]
fn read_events(fd: &OwnedFd, stop: &OwnedFd, send: &impl Fn(Raw)) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: stop.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two initialised `pollfd`s.
        if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            send(Raw::Failed(format!("cannot wait for file events: {e}")));
            return;
        }
        if fds[1].revents != 0 {
            return;
        }
        if fds[0].revents & libc::POLLIN == 0 {
            continue;
        }
        // SAFETY: `buf` has room for `buf.len()` bytes.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        let Ok(n) = usize::try_from(n) else {
            let e = io::Error::last_os_error();
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) {
                continue;
            }
            send(Raw::Failed(format!("cannot read file events: {e}")));
            return;
        };
        send(Raw::Events(parse(&buf[..n])));
    }
}

/// The events in `b`, as one `read` gives them: each a fixed head and a name padded with
/// NULs to the length the head gives.
fn parse(mut b: &[u8]) -> Vec<Event> {
    let word = |b: &[u8], at: usize| u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let mut out = Vec::new();
    while b.len() >= HEAD {
        let len = word(b, 12) as usize;
        let Some(name) = b.get(HEAD..HEAD + len) else {
            break;
        };
        let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(len)];
        out.push(Event {
            wd: word(b, 0) as i32,
            mask: word(b, 4),
            name: name.to_vec(),
        });
        b = &b[HEAD + len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(wd: i32, mask: u32, name: &[u8], pad: usize) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&wd.to_ne_bytes());
        b.extend_from_slice(&mask.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&((name.len() + pad) as u32).to_ne_bytes());
        b.extend_from_slice(name);
        b.resize(b.len() + pad, 0);
        b
    }

    #[test]
    fn events_are_read_with_their_names_unpadded() {
        let mut b = event(3, libc::IN_CREATE | libc::IN_ISDIR, b"subagents", 7);
        b.extend(event(4, libc::IN_DELETE_SELF, b"", 0));
        b.extend(event(3, libc::IN_MODIFY, b"s.jsonl", 9));
        let got: Vec<(i32, u32, Vec<u8>)> = parse(&b)
            .into_iter()
            .map(|e| (e.wd, e.mask, e.name))
            .collect();
        assert_eq!(
            got,
            [
                (3, libc::IN_CREATE | libc::IN_ISDIR, b"subagents".to_vec()),
                (4, libc::IN_DELETE_SELF, Vec::new()),
                (3, libc::IN_MODIFY, b"s.jsonl".to_vec()),
            ]
        );
        // A read cut short mid-event keeps the whole events before it.
        assert_eq!(parse(&b[..b.len() - 3]).len(), 2);
    }
}
