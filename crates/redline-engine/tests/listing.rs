//! A listing that trusts the directories the scan index remembers unchanged lists exactly
//! what a plain one lists: random trees of projects, sessions and subagents, changed
//! between runs by files created, appended to, removed and renamed, directories added,
//! removed and renamed, symbolic links (to directories, to files, in a loop), sockets
//! named `*.jsonl`, unreadable directories (when not running as root), and changes within
//! the same tick of the clock as the listing before them. After each change
//! `survey_with(memory of the last index)` must equal `survey`, transcripts (path,
//! project, session, stamp), order and what was passed over alike. The file system's
//! times follow a clock of the test's own (set with `File::set_modified`, floored to a
//! granule to play a coarse file system), so that directories settle without waiting. A
//! failure names its seed (`REDLINE_LISTING_SEED=<seed>` runs that one alone).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use redline_engine::index::IndexSet;
use redline_engine::roots::{Root, survey, survey_with};
use redline_engine::scan::{ScanOptions, scan_indexed};

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

/// A tree, its cache directory, and a clock of its own that the tree's times follow.
struct World {
    dir: PathBuf,
    clock_ms: i64,
    /// Times are floored to this: 1000 plays a coarse file system, where a change soon
    /// after another keeps the directory's time.
    granule_ms: i64,
    made: u64,
    /// Whether permissions stop this process (not root).
    can_hide: bool,
    /// The directory stamped last.
    last_dir: Option<PathBuf>,
}

impl World {
    fn new(seed: u64, rng: &mut Rng) -> World {
        let dir = std::env::temp_dir().join(format!(
            "redline-listing-prop-{}-{seed}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("projects")).unwrap();
        fs::create_dir_all(dir.join("elsewhere")).unwrap();
        let can_hide = {
            // A directory this process cannot read once its permissions say so.
            use std::os::unix::fs::PermissionsExt;
            let probe = dir.join("probe");
            fs::create_dir(&probe).unwrap();
            fs::set_permissions(&probe, fs::Permissions::from_mode(0o000)).unwrap();
            let hidden = fs::read_dir(&probe).is_err();
            fs::set_permissions(&probe, fs::Permissions::from_mode(0o755)).unwrap();
            fs::remove_dir(&probe).unwrap();
            hidden
        };
        World {
            dir,
            clock_ms: 1_780_000_000_000,
            granule_ms: rng.pick(&[1, 4, 1000]),
            made: 0,
            can_hide,
            last_dir: None,
        }
    }

    fn projects(&self) -> PathBuf {
        self.dir.join("projects")
    }

    fn cache(&self) -> PathBuf {
        self.dir.join("cache")
    }

    /// Now by the world's clock, floored to the granule.
    fn now(&self) -> std::time::SystemTime {
        let t = self.clock_ms - self.clock_ms.rem_euclid(self.granule_ms);
        UNIX_EPOCH + Duration::from_millis(t as u64)
    }

    /// Gives `path` (a file or directory just changed) the world's time, as the file
    /// system would have (its own clock is the real one, far from the world's).
    fn stamp(&mut self, path: &Path, rng: &mut Rng) {
        self.clock_ms += rng.below_u64(700) as i64;
        if let Ok(f) = fs::File::open(path) {
            let _ = f.set_modified(self.now());
        }
        if path.is_dir() {
            self.last_dir = Some(path.to_path_buf());
        }
    }

    /// Stamps `path` and its parent (whose entries changed).
    fn stamp_with_parent(&mut self, path: &Path, rng: &mut Rng) {
        self.stamp(path, rng);
        if let Some(p) = path.parent() {
            self.stamp(p, rng);
        }
    }

    /// Every entry below the projects directory, links not followed: (path, is a
    /// directory, is a link, is a regular file).
    fn entries(&self) -> Vec<(PathBuf, bool, bool, bool)> {
        let mut out = Vec::new();
        let mut stack = vec![self.projects()];
        while let Some(d) = stack.pop() {
            let Ok(rd) = fs::read_dir(&d) else { continue };
            for e in rd.flatten() {
                let Ok(t) = e.file_type() else { continue };
                out.push((e.path(), t.is_dir(), t.is_symlink(), t.is_file()));
                if t.is_dir() {
                    stack.push(e.path());
                }
            }
        }
        out.sort();
        out
    }

    fn files(&self) -> Vec<PathBuf> {
        self.entries()
            .into_iter()
            .filter(|(p, _, _, f)| *f && p.extension().is_some_and(|x| x == "jsonl"))
            .map(|e| e.0)
            .collect()
    }

    fn dirs(&self) -> Vec<PathBuf> {
        self.entries()
            .into_iter()
            .filter(|e| e.1)
            .map(|e| e.0)
            .collect()
    }

    fn line(&mut self) -> String {
        self.made += 1;
        format!(
            "{{\"type\":\"assistant\",\"timestamp\":\"2026-05-01T00:00:00.000Z\",\"n\":{}}}\n",
            self.made
        )
    }

    /// Makes the directories of `dir` that are missing, each stamped with its parent.
    fn make_dirs(&mut self, dir: &Path, rng: &mut Rng) {
        let mut missing = Vec::new();
        let mut d = dir.to_path_buf();
        while !d.exists() {
            missing.push(d.clone());
            d = d.parent().unwrap().to_path_buf();
        }
        fs::create_dir_all(dir).unwrap();
        for m in missing.iter().rev() {
            self.stamp_with_parent(m, rng);
        }
    }

    fn write_new(&mut self, path: &Path, rng: &mut Rng) {
        self.make_dirs(path.parent().unwrap(), rng);
        let text = self.line();
        fs::write(path, text).unwrap();
        self.stamp_with_parent(path, rng);
    }

    /// One random change to the tree; what it was.
    fn change(&mut self, rng: &mut Rng) -> String {
        let op = rng.below_u64(16);
        if op != 15 {
            self.clock_ms += rng.below_u64(400) as i64;
        }
        let files = self.files();
        let dirs = self.dirs();
        match op {
            0 | 1 => {
                self.made += 1;
                let p = self
                    .projects()
                    .join(format!("-p{}", rng.below_u64(3)))
                    .join(format!("s{}.jsonl", self.made));
                self.write_new(&p, rng);
                format!("create {}", p.display())
            }
            2 => {
                // A subagent of a session.
                let Some(s) = rng.choose(&files).cloned() else {
                    return "nothing".into();
                };
                self.made += 1;
                let p = s
                    .with_extension("")
                    .join("subagents")
                    .join(format!("agent-{}.jsonl", self.made));
                self.write_new(&p, rng);
                format!("create {}", p.display())
            }
            3 | 4 => {
                // Appended to: the directory's time stays.
                let Some(p) = rng.choose(&files).cloned() else {
                    return "nothing".into();
                };
                let text = self.line();
                let mut f = fs::OpenOptions::new().append(true).open(&p).unwrap();
                std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
                drop(f);
                self.stamp(&p, rng);
                format!("append {}", p.display())
            }
            5 => {
                let Some(p) = rng.choose(&files).cloned() else {
                    return "nothing".into();
                };
                fs::remove_file(&p).unwrap();
                self.stamp(p.parent().unwrap(), rng);
                format!("remove {}", p.display())
            }
            6 => {
                // Renamed, in its directory or into another (over a file there, perhaps).
                let Some(p) = rng.choose(&files).cloned() else {
                    return "nothing".into();
                };
                self.made += 1;
                let to = if rng.chance(50) {
                    p.with_file_name(format!("r{}.jsonl", self.made))
                } else if rng.chance(30)
                    && let Some(q) = rng.choose(&files)
                {
                    q.clone()
                } else {
                    let Some(d) = rng.choose(&dirs) else {
                        return "nothing".into();
                    };
                    d.join(format!("m{}.jsonl", self.made))
                };
                if fs::rename(&p, &to).is_err() {
                    return "nothing".into();
                }
                self.stamp(p.parent().unwrap(), rng);
                self.stamp(to.parent().unwrap(), rng);
                format!("rename {} {}", p.display(), to.display())
            }
            7 => {
                // A directory with no transcript: tool results, or nothing.
                let Some(d) = rng.choose(&dirs).cloned() else {
                    return "nothing".into();
                };
                self.made += 1;
                let n = d.join(format!("tool-results-{}", self.made));
                self.make_dirs(&n, rng);
                if rng.chance(50) {
                    fs::write(n.join("out.txt"), "x").unwrap();
                    self.stamp_with_parent(&n.join("out.txt"), rng);
                }
                format!("mkdir {}", n.display())
            }
            8 => {
                let Some(d) = rng.choose(&dirs).cloned() else {
                    return "nothing".into();
                };
                reveal(&d);
                fs::remove_dir_all(&d).unwrap();
                self.stamp(d.parent().unwrap(), rng);
                format!("rmdir {}", d.display())
            }
            9 => {
                let Some(d) = rng.choose(&dirs).cloned() else {
                    return "nothing".into();
                };
                self.made += 1;
                let to = d.with_file_name(format!("moved-{}", self.made));
                fs::rename(&d, &to).unwrap();
                self.stamp(to.parent().unwrap(), rng);
                format!("rename dir {} {}", d.display(), to.display())
            }
            10 => {
                // A link: to a directory elsewhere (with a transcript), to a file there, to
                // a directory above (a loop), or dangling.
                let Some(d) = rng.choose(&dirs).cloned() else {
                    return "nothing".into();
                };
                self.made += 1;
                let n = self.made;
                let away = self.dir.join("elsewhere").join(format!("d{n}"));
                fs::create_dir_all(&away).unwrap();
                fs::write(away.join(format!("far{n}.jsonl")), self.line()).unwrap();
                let (target, name) = match rng.below_u64(4) {
                    0 => (away.clone(), format!("link{n}")),
                    1 => (away.join(format!("far{n}.jsonl")), format!("link{n}.jsonl")),
                    2 => (self.projects(), format!("loop{n}")),
                    _ => (away.join("none"), format!("dangling{n}")),
                };
                std::os::unix::fs::symlink(&target, d.join(&name)).unwrap();
                self.stamp(&d, rng);
                format!("link {}", d.join(name).display())
            }
            11 => {
                // A link made good without its directory changing: the target appears.
                let links: Vec<PathBuf> = self
                    .entries()
                    .into_iter()
                    .filter(|e| e.2)
                    .map(|e| e.0)
                    .collect();
                let Some(l) = rng.choose(&links).cloned() else {
                    return "nothing".into();
                };
                let target = fs::read_link(&l).unwrap();
                if target.exists() {
                    // Something new behind a good link.
                    if target.is_dir() {
                        self.made += 1;
                        let f = target.join(format!("behind{}.jsonl", self.made));
                        fs::write(&f, self.line()).unwrap();
                        return format!("behind link {}", f.display());
                    }
                    return "nothing".into();
                }
                fs::create_dir_all(&target).unwrap();
                fs::write(target.join("late.jsonl"), self.line()).unwrap();
                format!("target of {}", l.display())
            }
            12 => {
                // A socket named like a transcript.
                let Some(d) = rng.choose(&dirs).cloned() else {
                    return "nothing".into();
                };
                self.made += 1;
                let p = d.join(format!("sock{}.jsonl", self.made));
                let _ = std::os::unix::net::UnixListener::bind(&p);
                self.stamp(&d, rng);
                format!("socket {}", p.display())
            }
            13 => {
                // A directory hidden (or shown again), where permissions stop this process.
                let Some(d) = rng.choose(&dirs).cloned() else {
                    return "nothing".into();
                };
                if !self.can_hide {
                    return "nothing".into();
                }
                use std::os::unix::fs::PermissionsExt;
                let hidden = fs::read_dir(&d).is_err();
                let mode = if hidden { 0o755 } else { 0o000 };
                fs::set_permissions(&d, fs::Permissions::from_mode(mode)).unwrap();
                format!("chmod {mode:o} {}", d.display())
            }
            _ => {
                // Most often the directory changed last, perhaps just before the listing.
                let last = self
                    .last_dir
                    .clone()
                    .filter(|d| d.is_dir() && rng.chance(70));
                let Some(d) = last.or_else(|| rng.choose(&dirs).cloned()) else {
                    return "nothing".into();
                };
                self.quick(&d)
            }
        }
    }

    /// A transcript added to `d` with no time passing: within the tick of `d`'s time, the
    /// time stays as it was (what the file system's clock does).
    fn quick(&mut self, d: &Path) -> String {
        let Ok(before) = fs::metadata(d).and_then(|m| m.modified()) else {
            return "nothing".into();
        };
        self.made += 1;
        let p = d.join(format!("quick{}.jsonl", self.made));
        fs::write(&p, self.line()).unwrap();
        if let Ok(f) = fs::File::open(&p) {
            let _ = f.set_modified(self.now());
        }
        let same = self
            .now()
            .duration_since(before)
            .is_ok_and(|age| age < Duration::from_millis(self.granule_ms as u64));
        if let Ok(f) = fs::File::open(d) {
            // Within a tick of the clock only: anything else would be a time set by hand,
            // which no listing can see through.
            let _ = f.set_modified(if same { before } else { self.now() });
        }
        format!("quick {} (same time: {same})", p.display())
    }
}

/// Lets this process into `d` and everything below it again.
fn reveal(d: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(d, fs::Permissions::from_mode(0o755));
    if let Ok(rd) = fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                reveal(&e.path());
            }
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        reveal(&self.dir);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Directories read and directories known unchanged, over a seed's runs.
#[derive(Debug, Default)]
struct Counts {
    read: usize,
    trusted: usize,
    runs: usize,
}

fn run_seed(seed: u64, steps: u64, counts: &mut Counts) {
    let mut rng = Rng::new(seed);
    let mut w = World::new(seed, &mut rng);
    for _ in 0..3 + rng.below_u64(10) {
        w.change(&mut rng);
    }
    let roots = [Root {
        projects: w.projects(),
        explicit: true,
    }];
    let mut history: Vec<String> = Vec::new();
    for step in 0..steps {
        let now_ms = w.clock_ms;
        let plain = survey(&roots);
        let mut set = IndexSet::open(&w.cache(), &[w.projects()], now_ms, true);
        assert!(set.problems.is_empty(), "seed {seed}: {:?}", set.problems);
        let (listing, dirs) = survey_with(&roots, &set.memory());
        if listing != plain {
            let show = |l: &redline_engine::roots::Listing| {
                let mut v: Vec<String> = l
                    .transcripts
                    .iter()
                    .map(|t| {
                        format!(
                            "{} {} {} {:?}",
                            t.path.display(),
                            t.project,
                            t.session,
                            t.stamp
                        )
                    })
                    .collect();
                v.extend(l.skipped.iter().map(|s| format!("skipped {s}")));
                v
            };
            let (a, b) = (show(&plain), show(&listing));
            let missing: Vec<&String> = a.iter().filter(|x| !b.contains(x)).collect();
            let extra: Vec<&String> = b.iter().filter(|x| !a.contains(x)).collect();
            panic!(
                "seed {seed} step {step}: the listing with the index's memory differs\n  missing: {missing:#?}\n  extra: {extra:#?}\n  after: {history:#?}\n(run alone: REDLINE_LISTING_SEED={seed})"
            );
        }
        counts.runs += 1;
        for d in &dirs {
            counts.read += d.read();
            counts.trusted += d.dirs.len() - d.read();
        }
        set.listed(dirs);
        // Now and then a scan of one project only: the other projects' files keep their
        // records, and a directory whose new files the index does not hold is not
        // trusted.
        let mut transcripts = listing.transcripts;
        if rng.chance(20) {
            let one = format!("-p{}", rng.below_u64(3));
            let (these, others): (Vec<_>, Vec<_>) =
                transcripts.into_iter().partition(|t| *t.project == *one);
            transcripts = these;
            set.keep = others.into_iter().map(|t| t.path).collect();
        }
        let options = ScanOptions {
            threads: Some(1),
            hold_partial_last: false,
        };
        let (scan, set) = scan_indexed(transcripts, options, Some(set));
        let mut set = set.unwrap();
        set.finish(&scan.files, &scan.ledger);
        assert!(set.problems.is_empty(), "seed {seed}: {:?}", set.problems);
        history.clear();
        if rng.chance(25)
            && let Some(d) = w.last_dir.clone().filter(|d| d.is_dir())
        {
            // Straight after the listing, in the same tick as the change before it.
            history.push(w.quick(&d));
        }
        if rng.chance(50) {
            w.clock_ms += rng.below_u64(5000) as i64;
        }
        for _ in 0..rng.below_u64(5) {
            let what = w.change(&mut rng);
            history.push(what);
        }
        w.clock_ms += rng.below_u64(5000) as i64;
    }
}

#[test]
fn a_listing_with_the_index_memory_equals_a_plain_one() {
    let mut counts = Counts::default();
    if let Some(seed) = rng::seed_from_env("REDLINE_LISTING_SEED") {
        run_seed(seed, 20, &mut counts);
        eprintln!("{counts:?}");
        return;
    }
    for seed in 0..50 {
        run_seed(seed, 14, &mut counts);
    }
    eprintln!("{counts:?}");
    // The memory was used (more than a directory a run), and not for everything.
    assert!(counts.trusted > counts.runs, "{counts:?}");
    assert!(counts.read > counts.runs, "{counts:?}");
}
