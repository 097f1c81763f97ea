//! Listing the transcripts a second time, cheaply, to find what changed since a first
//! listing: where the file watcher cannot be told from the listing's threads (elsewhere
//! than Linux, see [`crate::roots::survey_watching`]), the daemon lists and scans while its
//! file watches are still being set up, and once they are all in place lists again, so
//! that whatever was written before its directory was watched (and so was announced by no
//! notification) is still read.
//!
//! What the first listing saw of the directories stands in for the scan index's memory
//! (see [`crate::roots::survey_with`]): a directory whose time has not moved, and had
//! settled before the first listing began, is not read again; each transcript and each
//! directory costs one `stat`. A transcript is changed when it is new or its stamp
//! (identity, size, time) is not the one the first listing took.

use std::collections::HashSet;
use std::path::PathBuf;

use crate::index::rel_bytes;
use crate::roots::{Listing, Memory, Root, RootDirs, RootMemory, Skipped, Stamp, path_order};

/// What a listing found, kept to list again ([`Listed::changes`]).
#[derive(Debug, Default)]
pub struct Listed {
    /// When the first listing began, milliseconds since the epoch.
    at_ms: i64,
    /// The directories it went through, by root.
    dirs: Vec<RootDirs>,
    /// Each transcript with its stamp, in [`path_order`].
    files: Vec<(PathBuf, Option<Stamp>)>,
}

/// What changed since the first listing, as a second one found it.
#[derive(Debug, Default)]
pub struct Changes {
    /// The transcripts that are new or whose stamp moved, in [`path_order`].
    pub files: Vec<PathBuf>,
    /// What the second listing passed over (directories that cannot be read, `*.jsonl`
    /// that are not regular files).
    pub skipped: Vec<Skipped>,
    /// The directories the second listing went through and the first did not, the
    /// highest of each new tree only (those below are in its tree).
    pub new_dirs: Vec<PathBuf>,
}

impl Listed {
    /// What `listing` found, with the directories it went through (the second half of
    /// [`crate::roots::survey_with`]'s answer); it began at `at_ms`.
    pub fn new(at_ms: i64, listing: &Listing, dirs: &[RootDirs]) -> Listed {
        Listed {
            at_ms,
            dirs: dirs.to_vec(),
            files: listing
                .transcripts
                .iter()
                .map(|t| (t.path.clone(), t.stamp))
                .collect(),
        }
    }

    /// The directories the first listing went through, by root.
    pub fn dirs(&self) -> &[RootDirs] {
        &self.dirs
    }

    /// The memory [`crate::roots::survey_with`] trusts: each directory's time where its
    /// listing was clean, and the transcripts found in it.
    pub(crate) fn memory(&self) -> Memory<'_> {
        let roots = self
            .dirs
            .iter()
            .map(|d| {
                let files = self.files.iter().filter_map(|(p, _)| rel_bytes(p, &d.root));
                let dirs = d
                    .dirs
                    .iter()
                    .map(|s| (s.rel.as_slice(), s.clean.then_some(s.mtime_ns)));
                RootMemory::new(&d.root, self.at_ms, dirs, files)
            })
            .collect();
        Memory { roots }
    }

    /// Lists `roots` again, now: the transcripts that appeared or changed since the first
    /// listing, and what was passed over.
    pub fn changes(&self, roots: &[Root]) -> Changes {
        let (listing, dirs) = crate::roots::survey_with(roots, &self.memory());
        let mut before = self.files.iter().peekable();
        let mut files = Vec::new();
        for t in listing.transcripts {
            // Both lists are in path order: the first one's entries before this path are
            // gone since.
            while before
                .next_if(|(p, _)| path_order(p, &t.path).is_lt())
                .is_some()
            {}
            let same = before
                .peek()
                .is_some_and(|(p, s)| *p == t.path && s.is_some() && *s == t.stamp);
            if !same {
                files.push(t.path);
            }
        }
        Changes {
            files,
            skipped: listing.skipped,
            new_dirs: self.new_dirs(&dirs),
        }
    }

    /// The directories of `now` (a second listing's) that the first listing did not go
    /// through, the highest of each new tree only.
    fn new_dirs(&self, now: &[RootDirs]) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for d in now {
            let before: HashSet<&[u8]> = self
                .dirs
                .iter()
                .filter(|b| b.root == d.root)
                .flat_map(|b| b.dirs.iter().map(|s| s.rel.as_slice()))
                .collect();
            let fresh: HashSet<&[u8]> = d
                .dirs
                .iter()
                .map(|s| s.rel.as_slice())
                .filter(|rel| !before.contains(rel))
                .collect();
            let mut top: Vec<&[u8]> = fresh
                .iter()
                .copied()
                .filter(|rel| {
                    let parents = memchr::memchr_iter(b'/', rel).map(|i| &rel[..i]);
                    !parents
                        .chain((!rel.is_empty()).then_some(&b""[..]))
                        .any(|p| fresh.contains(p))
                })
                .collect();
            top.sort_unstable();
            out.extend(top.into_iter().map(|rel| d.path_of(rel)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roots::survey_with;
    use std::time::Duration;

    fn listed(roots: &[Root], at_ms: i64) -> Listed {
        let (listing, dirs) = survey_with(roots, &Memory::default());
        Listed::new(at_ms, &listing, &dirs)
    }

    #[test]
    fn finds_appends_new_files_and_new_directories_and_nothing_else() {
        let s = crate::roots::tests::Scratch::new("relist");
        let projects = s.0.join("projects");
        let old = projects.join("-a").join("old.jsonl");
        let still = projects.join("-b").join("still.jsonl");
        for f in [&old, &still] {
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "{}\n").unwrap();
        }
        let roots = vec![Root {
            projects: projects.clone(),
            explicit: true,
        }];
        // As if listed well after everything settled: the directories are trusted.
        let later = jiff::Timestamp::now().as_millisecond() + 10_000;
        let first = listed(&roots, later);
        assert_eq!(first.files.len(), 2);
        assert!(first.changes(&roots).files.is_empty());
        // An append in a trusted directory, a session in a new one, one beside it.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&old, "{}\n{}\n").unwrap();
        let new_dir = projects
            .join("-c")
            .join("s")
            .join("subagents")
            .join("x.jsonl");
        std::fs::create_dir_all(new_dir.parent().unwrap()).unwrap();
        std::fs::write(&new_dir, "{}\n").unwrap();
        let beside = projects.join("-b").join("beside.jsonl");
        std::fs::write(&beside, "{}\n").unwrap();
        let mut want = vec![old, beside, new_dir];
        want.sort_by(|a, b| path_order(a, b));
        let changes = first.changes(&roots);
        assert_eq!(changes.files, want);
        // The directories made since are named, each new tree once, by its top.
        assert_eq!(changes.new_dirs, [projects.join("-c")]);
        std::fs::create_dir_all(projects.join("-a").join("t").join("subagents")).unwrap();
        assert_eq!(
            first.changes(&roots).new_dirs,
            [projects.join("-a").join("t"), projects.join("-c")]
        );
    }
}
