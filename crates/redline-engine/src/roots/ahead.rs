//! The listing's `stat`s of what a scan index remembers, taken before the walk and shared
//! out evenly among threads.
//!
//! With an index, a warm listing is one `stat` per remembered directory and file (some
//! 30,000 on the benchmark history) and little else. Walking the tree, threads share out
//! the top-level directories, and one project can hold most of the files: one thread
//! then stats alone while the other waits. The remembered entries are known before the
//! walk, so they are all looked at first, in parts of equal size, while the calling
//! thread works out how they hang together ([`take_while`]).
//!
//! With the answers in, what the memory vouches for needs no walk at all ([`known`]):
//! going down from the root in path order, a directory whose time is the one remembered
//! and whose remembered entries are all still there, each of its kind, gives its files
//! and its subdirectories as remembered, and the files come out in the memory's order,
//! which is path order. Only the directories reached but not vouched for are walked, as
//! the walk would have gone into them, so the result is the walk's in every case.
//!
//! Nothing here decides anything the walk would not: an entry that could not be looked at
//! is `None`, and its directory is read as it would have been. Every directory's time is
//! still taken before the directory is read (the walk reads only after this is done).

use std::path::{Path, PathBuf};

use super::{Base, Dir, Found, Kind, Lstat, Remember, RootMemory, SeenDir, Watch, child, os_str};

/// Below this many `stat`s the calling thread takes them all: starting threads would
/// cost more than it saves.
const SHARE_FROM: usize = 4096;

/// The entries looked at in one go (a millisecond or two of the kernel's work).
const PART: usize = 1024;

/// What one `lstat` said of each directory and file a root's memory holds, by their
/// places in the memory (`None`: it could not be looked at, or is the root, whose time
/// the walk takes itself).
pub(super) struct Ahead {
    /// The directories' answers, then the files'.
    all: Vec<Option<Lstat>>,
    dirs: usize,
}

impl Ahead {
    /// The answer for the directory at place `i`.
    pub(super) fn dir(&self, i: usize) -> Option<Lstat> {
        self.all[..self.dirs].get(i).copied().flatten()
    }

    /// The answer for the file at place `i`.
    pub(super) fn file(&self, i: usize) -> Option<Lstat> {
        self.all[self.dirs..].get(i).copied().flatten()
    }
}

/// Looks at every directory and file of `m` through `base`, shared out among threads (as
/// many as cores, at most four), the calling thread joining in once it has done
/// `meanwhile`. No answers
/// (`None`) when `base` is not open: the walk then looks at entries by their whole paths,
/// as it goes.
///
/// With `watch`, each directory is handed to it before it is looked at, and no file is
/// looked at before every directory was: whatever changes in a directory after its look
/// is then something `watch` can have been told of.
pub(super) fn take_while<T>(
    m: &RootMemory<'_>,
    base: &Base,
    watch: Option<Watch<'_>>,
    meanwhile: impl FnOnce() -> T,
) -> (Option<Ahead>, T) {
    if !base.is_open() {
        return (None, meanwhile());
    }
    let dirs = m.dirs.len();
    let mut all = vec![None; dirs + m.files.len()];
    let helpers = if all.len() < SHARE_FROM {
        0
    } else {
        std::thread::available_parallelism().map_or(1, |t| t.get().clamp(1, 4)) - 1
    };
    // Parts taken in turn, the directories' first: the calling thread joins in when it is
    // done with `meanwhile`. A part never holds both, so with `watch` a part of files
    // waits only for the parts of directories still being looked at.
    let (dir_answers, file_answers) = all.split_at_mut(dirs);
    let dir_parts = dir_answers
        .chunks_mut(PART)
        .enumerate()
        .map(|(k, p)| (k * PART, p));
    let file_parts = file_answers
        .chunks_mut(PART)
        .enumerate()
        .map(|(k, p)| (dirs + k * PART, p));
    let outstanding = dirs.div_ceil(PART);
    let parts = std::sync::Mutex::new(dir_parts.chain(file_parts));
    let dirs_left = (
        std::sync::Mutex::new(outstanding),
        std::sync::Condvar::new(),
    );
    let take = || loop {
        let next = parts.lock().unwrap_or_else(|p| p.into_inner()).next();
        let Some((from, part)) = next else { return };
        if from < dirs {
            let _done = PartDone(&dirs_left);
            look_at(m, base, watch, from, part);
            continue;
        }
        if watch.is_some() {
            let mut left = dirs_left.0.lock().unwrap_or_else(|p| p.into_inner());
            while *left > 0 {
                left = dirs_left.1.wait(left).unwrap_or_else(|p| p.into_inner());
            }
        }
        look_at(m, base, None, from, part);
    };
    let done = std::thread::scope(|s| {
        for _ in 0..helpers {
            s.spawn(take);
        }
        let done = meanwhile();
        take();
        done
    });
    (Some(Ahead { all, dirs }), done)
}

/// Counts a part of directories done when dropped, even by a thread that panicked, so a
/// thread waiting for the directories is never left waiting.
struct PartDone<'a>(&'a (std::sync::Mutex<usize>, std::sync::Condvar));

impl Drop for PartDone<'_> {
    fn drop(&mut self) {
        *self.0.0.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        self.0.1.notify_all();
    }
}

/// Looks at the entries of `m` from place `from` on (directories first, then files) into
/// `out`, each directory handed to `watch` first.
fn look_at(
    m: &RootMemory<'_>,
    base: &Base,
    watch: Option<Watch<'_>>,
    from: usize,
    out: &mut [Option<Lstat>],
) {
    let mut scratch = Vec::new();
    for (slot, i) in out.iter_mut().zip(from..) {
        let rel = match m.dirs.get(i) {
            // The root's time is the walk's to take (and it was watched before).
            Some(&[]) => continue,
            Some(rel) => {
                if let Some(watch) = watch {
                    watch(&below(&m.root, rel));
                }
                rel
            }
            None => m.files[i - m.dirs.len()],
        };
        *slot = base.at(rel, b"", &mut scratch).and_then(Result::ok);
    }
}

/// What the memory of `r` vouches for below the root `top`, as the walk would take it
/// (see [`super::look`]): the files of every directory it vouches for (in path order) and
/// those directories as gone through into `out`; back, the directories reached that it
/// does not vouch for, each with the real paths above it, to walk. `None` (nothing added)
/// when there is nothing to take ahead of time, or the root itself is to be read.
pub(super) fn known(
    r: &Remember<'_, '_>,
    top: &Dir,
    out: &mut Found,
) -> Option<Vec<(Dir, Vec<PathBuf>)>> {
    let ((m, tree), a) = (r.memory.as_ref()?, r.ahead.as_ref()?);
    if top.memo? != 0 || top.linked {
        return None;
    }
    // Each directory's time now, where it is still a directory (the root's was taken).
    let time = |d: usize| match d {
        0 => top.mtime_ns,
        _ => a
            .dir(d)
            .filter(|l| l.kind == Kind::Dir)
            .map(|l| l.stamp.mtime_ns),
    };
    // What `super::confirm` asks of a directory.
    let vouched = |d: u32| {
        let t = time(d as usize)?;
        let ok = m.trusts(d, t)
            && tree
                .files(d)
                .iter()
                .all(|&f| a.file(f as usize).is_some_and(|l| l.kind == Kind::File))
            && tree.subs(d).iter().all(|&j| time(j as usize).is_some());
        ok.then_some(t)
    };
    let mut reached = vec![false; m.dirs.len()];
    let mut taken = vec![false; m.dirs.len()];
    let mut rest = Vec::new();
    reached[0] = true;
    // Path order puts a directory before everything below it.
    for (d, rel) in (0u32..).zip(&m.dirs) {
        let i = d as usize;
        if !reached[i] {
            continue;
        }
        let Some(t) = vouched(d) else {
            if d == 0 {
                return None;
            }
            rest.push(unvouched(top, rel, d, time(i)));
            continue;
        };
        taken[i] = true;
        for &j in tree.subs(d) {
            reached[j as usize] = true;
        }
        out.dirs.push(SeenDir {
            rel: rel.to_vec(),
            mtime_ns: t,
            clean: true,
            files: if rel.is_empty() {
                0
            } else {
                u32::try_from(tree.files(d).len()).unwrap_or(u32::MAX)
            },
            read: false,
        });
    }
    out.files.reserve(tree.held.len());
    for &(d, f) in &tree.held {
        if taken[d as usize]
            && let Some(l) = a.file(f as usize)
        {
            out.files
                .push((below(&top.path, m.files[f as usize]), Some(l.stamp)));
        }
    }
    Some(rest)
}

/// The directory `rel` (place `d` in the memory, time `mtime_ns`), reached from one the
/// memory vouches for: to walk, with the real paths of the directories above it.
fn unvouched(top: &Dir, rel: &[u8], d: u32, mtime_ns: Option<i64>) -> (Dir, Vec<PathBuf>) {
    let mut ancestors = vec![top.real.clone()];
    let parts: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
    for part in &parts[..parts.len() - 1] {
        let up = child(&ancestors[ancestors.len() - 1], os_str(part));
        ancestors.push(up);
    }
    let dir = Dir {
        path: below(&top.path, rel),
        real: below(&top.real, rel),
        rel: rel.to_vec(),
        memo: Some(d),
        mtime_ns,
        linked: false,
    };
    (dir, ancestors)
}

/// `base` joined with `rel` (a path below it), with room for no more: the path the walk
/// builds one component at a time.
pub(super) fn below(base: &Path, rel: &[u8]) -> PathBuf {
    let mut p = PathBuf::with_capacity(base.as_os_str().len() + 1 + rel.len());
    p.push(base);
    p.push(os_str(rel));
    p
}

#[cfg(test)]
mod tests {
    use super::super::tests::Scratch;
    use super::super::{Memory, Root, path_order, survey, survey_watching, survey_with};
    use std::collections::HashSet;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    /// What a first listing of `roots` found, remembered as if the index was written well
    /// after everything settled (so every directory's time is trusted).
    fn listed(roots: &[Root]) -> (super::super::Listing, crate::relist::Listed) {
        let (listing, dirs) = survey_with(roots, &Memory::default());
        let later = jiff::Timestamp::now().as_millisecond() + 10_000;
        let listed = crate::relist::Listed::new(later, &listing, &dirs);
        (listing, listed)
    }

    /// A listing that watches tells the watcher of each directory before it looks at it:
    /// whatever the watcher does to a directory when told (here: a line appended to each
    /// transcript in it, and a new one made there) the listing sees. A look taken before
    /// the directory's watch would miss it, since the memory vouches for every directory
    /// as it was. Taken with a memory large enough for the looks ahead to be shared out
    /// among threads, with none (every directory read), and through a link.
    #[test]
    #[cfg(unix)]
    fn a_listing_that_watches_looks_at_each_directory_only_after_its_watch() {
        let s = Scratch::new("watching");
        let projects = s.0.join("projects");
        for p in 0..3 {
            for k in 0..700 {
                let dir = projects.join(format!("-p{p}"));
                fs::create_dir_all(&dir).unwrap();
                fs::write(dir.join(format!("s{k:04}.jsonl")), "{}\n").unwrap();
                if k % 3 == 0 {
                    let sub = dir.join(format!("s{k:04}")).join("subagents");
                    fs::create_dir_all(&sub).unwrap();
                    fs::write(sub.join("agent-a.jsonl"), "{}\n").unwrap();
                }
            }
        }
        // A session kept elsewhere, linked into a project (not into the root: a root
        // holding a link is read whole, and the looks ahead would go unchecked).
        let elsewhere = s.0.join("elsewhere");
        fs::create_dir_all(elsewhere.join("deep")).unwrap();
        fs::write(elsewhere.join("deep/linked.jsonl"), "{}\n").unwrap();
        std::os::unix::fs::symlink(&elsewhere, projects.join("-p0/linked")).unwrap();
        let roots = vec![Root {
            projects: projects.clone(),
            explicit: true,
        }];
        let (first, listed) = listed(&roots);
        assert!(first.transcripts.len() + listed.dirs()[0].dirs.len() > super::SHARE_FROM);
        let full = listed.memory();
        for (name, memory) in [
            ("remembered", &full),
            ("nothing remembered", &Memory::default()),
        ] {
            let told: Mutex<HashSet<PathBuf>> = Mutex::default();
            let watch = |dir: &Path| {
                if !told.lock().unwrap().insert(dir.to_path_buf()) {
                    return;
                }
                let Ok(entries) = fs::read_dir(dir) else {
                    return;
                };
                for e in entries.flatten() {
                    let path = e.path();
                    if e.file_type().unwrap().is_file()
                        && path.extension().is_some_and(|x| x == "jsonl")
                    {
                        let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
                        std::io::Write::write_all(&mut f, b"{}\n").unwrap();
                    }
                }
                // In every other directory (never the root: a root whose time moved is
                // read whole, and the looks ahead would go unchecked), a new transcript:
                // the directory's time moves, and it must be read. The others keep their
                // time, and are vouched for: their transcripts' looks ahead must come
                // after this.
                let n = told.lock().unwrap().len();
                if dir != projects && n.is_multiple_of(2) {
                    fs::write(dir.join(format!("told-{n}.jsonl")), "{}\n").unwrap();
                }
                // Slow enough that directories are still being watched when the first
                // part of the files' looks is taken.
                std::thread::sleep(std::time::Duration::from_micros(300));
            };
            let (listing, seen) = survey_watching(&roots, memory, &watch);
            // Everything the watcher did, the listing saw.
            assert_eq!(listing, survey(&roots), "{name}");
            let told = told.into_inner().unwrap();
            for d in &seen[0].dirs {
                let path = super::below(&projects, &d.rel);
                assert!(
                    told.contains(&path),
                    "{name}: {} not watched",
                    path.display()
                );
            }
            assert!(told.contains(&projects.join("-p0/linked")), "{name}");
            assert!(told.contains(&projects.join("-p0/linked/deep")), "{name}");
            assert!(
                listing.transcripts.iter().any(|t| t
                    .path
                    .starts_with(projects.join("-p0/linked/deep"))
                    && t.path
                        .file_name()
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .starts_with("told-")),
                "{name}"
            );
        }
    }

    /// A tree large enough for the `stat`s to be shared out among threads, remembered as
    /// a first listing saw it, then changed in the ways that make the walk read a
    /// directory or not: the listing from memory must stay the plain one.
    #[test]
    fn a_large_remembered_tree_lists_as_a_plain_walk_does() {
        let s = Scratch::new("ahead");
        let projects = s.0.join("projects");
        for p in 0..4 {
            for k in 0..900 {
                let dir = projects.join(format!("-p{p}"));
                fs::create_dir_all(&dir).unwrap();
                fs::write(dir.join(format!("s{k:04}.jsonl")), "{}\n").unwrap();
                if k % 4 == 0 {
                    let sub = dir.join(format!("s{k:04}")).join("subagents");
                    fs::create_dir_all(&sub).unwrap();
                    for a in 0..2 {
                        fs::write(sub.join(format!("agent-{a}.jsonl")), "{}\n").unwrap();
                    }
                }
            }
        }
        let roots = vec![Root {
            projects: projects.clone(),
            explicit: true,
        }];
        let (first, listed) = listed(&roots);
        assert!(first.transcripts.len() + listed.dirs()[0].dirs.len() > super::SHARE_FROM);
        let memory = listed.memory();
        let (again, seen) = survey_with(&roots, &memory);
        assert_eq!(again, first);
        assert_eq!(seen[0].read(), 0, "every directory is vouched for");
        assert!(
            again
                .transcripts
                .windows(2)
                .all(|w| { path_order(&w[0].path, &w[1].path).is_lt() })
        );

        // An append (no directory read), a new session (its project read), a subagent
        // gone (its directory read), and a session directory made a file.
        let p0 = projects.join("-p0");
        fs::write(p0.join("s0001.jsonl"), "{}\n{}\n").unwrap();
        fs::write(projects.join("-p1").join("new.jsonl"), "{}\n").unwrap();
        fs::remove_file(projects.join("-p2/s0004/subagents/agent-1.jsonl")).unwrap();
        fs::remove_dir_all(projects.join("-p3/s0008")).unwrap();
        fs::write(projects.join("-p3/s0008"), "").unwrap();
        let (changed, seen) = survey_with(&roots, &memory);
        assert_eq!(changed, survey(&roots));
        assert_ne!(changed, first);
        let read: Vec<&[u8]> = seen[0]
            .dirs
            .iter()
            .filter(|d| d.read)
            .map(|d| d.rel.as_slice())
            .collect();
        assert_eq!(
            read,
            [&b"-p1"[..], b"-p2/s0004/subagents", b"-p3"],
            "only the directories that changed are read"
        );
    }
}
