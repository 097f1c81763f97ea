//! The repositories sessions name, read with the `git` program: which repository a
//! working directory is in, the commits made there in a time window, and their line
//! counts. Only repositories that sessions name are read, each command under a timeout
//! ([`TIMEOUT`]); a directory that is gone, one that is not in a repository, a repository
//! git cannot read and a machine without git are each skipped with a one-line note
//! ([`Skipped`]). Nothing of a commit but its hash, author time and line counts is kept;
//! the author's address is compared with the repository's `user.email` and dropped.
//!
//! The attribution itself is `redline_engine::git`'s.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redline_engine::cwds::Places;
use redline_engine::git::{Commit, Session};

/// The longest one git command may take before it is stopped and its repository skipped.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Commits whose line counts are asked for in one `git show`.
const SHOW_AT_ONCE: usize = 200;

/// Why git gave no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GitError {
    /// No `git` on the `PATH`.
    Missing,
    /// Stopped after [`TIMEOUT`].
    Timeout,
    /// It failed: the first line of what it said.
    Failed(String),
}

impl std::fmt::Display for GitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitError::Missing => f.write_str("git is not installed (no `git` on the PATH)"),
            GitError::Timeout => write!(f, "git took longer than {} s", TIMEOUT.as_secs()),
            GitError::Failed(why) => f.write_str(why),
        }
    }
}

/// A directory or repository passed over, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The session directory or repository; `None` when nothing could be read at all
    /// (no git).
    pub cwd: Option<String>,
    /// Sessions that named it.
    pub sessions: u64,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.sessions;
        let s = if n == 1 { "session" } else { "sessions" };
        match &self.cwd {
            Some(cwd) => write!(f, "{cwd} ({n} {s}): {}", self.reason),
            None => write!(f, "{n} {s}: {}", self.reason),
        }
    }
}

/// Runs `git -C dir args`, quietly (no pager, no prompt, no optional locks, messages in
/// English so they can be told apart), for at most [`TIMEOUT`].
pub fn run(dir: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["--no-pager", "-c", "log.showSignature=false"])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => GitError::Missing,
            _ => GitError::Failed(format!("cannot run git: {e}")),
        })?;
    // Both pipes drained on threads of their own, so a large log never blocks git.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut v);
            }
            v
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + TIMEOUT;
    let mut nap = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(GitError::Timeout);
            }
            Ok(None) => {
                std::thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(GitError::Failed(format!("cannot wait for git: {e}"))),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if status.success() {
        Ok(out)
    } else {
        let text = String::from_utf8_lossy(&err);
        let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        Err(GitError::Failed(match line.trim() {
            "" => format!("git failed ({status})"),
            l => l.strip_prefix("fatal: ").unwrap_or(l).to_owned(),
        }))
    }
}

/// The repository (worktree) root `cwd` is in.
fn toplevel(cwd: &str) -> Result<String, String> {
    let dir = Path::new(cwd);
    if !dir.is_dir() {
        return Err("no such directory (moved or deleted)".into());
    }
    match run(dir, &["rev-parse", "--show-toplevel"]) {
        Ok(out) => {
            let top = String::from_utf8_lossy(&out).trim_end().to_owned();
            if top.is_empty() {
                Err("not in a git work tree".into())
            } else {
                Ok(top)
            }
        }
        Err(GitError::Failed(why)) if why.contains("not a git repository") => {
            Err("not in a git repository".into())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// What reading the repositories gave.
#[derive(Clone, Debug, Default)]
pub struct Repos {
    /// The commits listed, with their line counts.
    pub commits: Vec<Commit>,
    /// What was passed over.
    pub skipped: Vec<Skipped>,
}

/// Fills each session's repositories from the directories its files name (`places`, one
/// list per session), then lists the commits of each repository authored within its
/// sessions' spans widened by `slack_ms`, by the repository's `user.email` when it has
/// one, merges left out (see docs/stats.md).
pub fn read(sessions: &mut [Session], places: &[Vec<Places>], slack_ms: i64) -> Repos {
    let mut out = Repos::default();
    // Each directory, and the sessions that name it.
    let mut cwds: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (i, list) in places.iter().enumerate() {
        for p in list {
            for c in &p.cwds {
                cwds.entry(c.as_str()).or_default().insert(i);
            }
        }
    }
    if cwds.is_empty() {
        return out;
    }
    if let Err(GitError::Missing) = run(Path::new("."), &["--version"]) {
        out.skipped.push(Skipped {
            cwd: None,
            sessions: sessions.len() as u64,
            reason: format!("{}: no repository was read", GitError::Missing),
        });
        return out;
    }
    for (cwd, who) in &cwds {
        match toplevel(cwd) {
            Ok(top) => {
                for &i in who {
                    if !sessions[i].repos.contains(&top) {
                        sessions[i].repos.push(top.clone());
                    }
                }
            }
            Err(reason) => out.skipped.push(Skipped {
                cwd: Some((*cwd).to_owned()),
                sessions: who.len() as u64,
                reason,
            }),
        }
    }
    for (i, s) in sessions.iter_mut().enumerate() {
        s.branch = places[i].iter().rev().find_map(|p| p.last_branch.clone());
    }
    // Each repository: its sessions' widened spans and branches.
    let mut repos: BTreeMap<String, (i64, i64, BTreeSet<String>, Vec<usize>)> = BTreeMap::new();
    for (i, s) in sessions.iter().enumerate() {
        let (Some(first), Some(last)) = (
            s.spend.iter().map(|x| x.ts_ms).min(),
            s.spend.iter().map(|x| x.ts_ms).max(),
        ) else {
            continue;
        };
        for r in &s.repos {
            let e =
                repos
                    .entry(r.clone())
                    .or_insert((i64::MAX, i64::MIN, BTreeSet::new(), Vec::new()));
            e.0 = e.0.min(first.saturating_sub(slack_ms));
            e.1 = e.1.max(last.saturating_add(slack_ms));
            e.2.extend(places[i].iter().flat_map(|p| p.branches.iter().cloned()));
            e.3.push(i);
        }
    }
    for (repo, (from, to, branches, who)) in repos {
        match commits(&repo, from, to, &branches) {
            Ok(mut list) => out.commits.append(&mut list),
            Err(e) => {
                for &i in &who {
                    sessions[i].repos.retain(|r| r != &repo);
                }
                out.skipped.push(Skipped {
                    cwd: Some(repo),
                    sessions: who.len() as u64,
                    reason: e.to_string(),
                });
            }
        }
    }
    out
}

/// The commits of `repo` authored in `[from_ms, to_ms]` on its `HEAD` or one of
/// `branches` (the sessions' own branches, which may be checked out elsewhere), by its
/// `user.email` when it has one, without merges, with their line counts.
fn commits(
    repo: &str,
    from_ms: i64,
    to_ms: i64,
    branches: &BTreeSet<String>,
) -> Result<Vec<Commit>, GitError> {
    let dir = Path::new(repo);
    let email = match run(dir, &["config", "--get", "user.email"]) {
        Ok(out) => Some(String::from_utf8_lossy(&out).trim().to_ascii_lowercase()),
        // Exit 1: not set.
        Err(GitError::Failed(_)) => None,
        Err(e) => return Err(e),
    };
    // `--since` is on commit times, never earlier than author times: a sound first cut.
    let since = format!("--since={}", iso(from_ms));
    let mut args = vec![
        "log",
        "--no-merges",
        "--format=%H%x09%at%x09%ae",
        since.as_str(),
        "HEAD",
    ];
    let patterns: Vec<String> = branches.iter().map(|b| format!("--branches={b}")).collect();
    args.extend(patterns.iter().map(String::as_str));
    let listed = match run(dir, &args) {
        Ok(out) => out,
        // A repository without a commit yet.
        Err(GitError::Failed(why))
            if why.contains("unknown revision") || why.contains("does not have any commits") =>
        {
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    let mut kept: Vec<(String, i64)> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for line in String::from_utf8_lossy(&listed).lines() {
        let mut f = line.split('\t');
        let (Some(hash), Some(at), Some(author)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let Ok(at) = at.parse::<i64>() else { continue };
        let at_ms = at.saturating_mul(1000);
        let mine = email
            .as_deref()
            .is_none_or(|e| author.trim().eq_ignore_ascii_case(e));
        if mine && (from_ms..=to_ms).contains(&at_ms) && seen.insert(hash.to_owned()) {
            kept.push((hash.to_owned(), at_ms));
        }
    }
    let mut counts: HashMap<String, (u64, u64, u64)> = HashMap::new();
    for chunk in kept.chunks(SHOW_AT_ONCE) {
        let mut args = vec!["show", "--numstat", "-M", "--format=%x00%H"];
        args.extend(chunk.iter().map(|(h, _)| h.as_str()));
        let out = run(dir, &args)?;
        numstat(&out, &mut counts);
    }
    Ok(kept
        .into_iter()
        .map(|(hash, author_ms)| {
            let (added, removed, files) = counts.get(&hash).copied().unwrap_or_default();
            Commit {
                repo: repo.to_owned(),
                hash,
                author_ms,
                added,
                removed,
                files,
            }
        })
        .collect())
}

/// Reads `git show --numstat --format=%x00%H`: a NUL and the hash open each commit, then
/// `added<TAB>removed<TAB>path` per file (`-` for a binary file's counts).
fn numstat(out: &[u8], counts: &mut HashMap<String, (u64, u64, u64)>) {
    let text = String::from_utf8_lossy(out);
    let mut current: Option<&mut (u64, u64, u64)> = None;
    for line in text.lines() {
        if let Some(hash) = line.strip_prefix('\0') {
            current = Some(counts.entry(hash.trim().to_owned()).or_default());
            continue;
        }
        let mut f = line.splitn(3, '\t');
        let (Some(a), Some(r), Some(_)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if let Some(c) = current.as_deref_mut() {
            c.0 += a.parse::<u64>().unwrap_or(0);
            c.1 += r.parse::<u64>().unwrap_or(0);
            c.2 += 1;
        }
    }
}

/// Milliseconds since the epoch as an ISO 8601 UTC time git reads (`2026-03-05T10:00:00Z`).
fn iso(ms: i64) -> String {
    redline_engine::timestamp::instant(ms)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numstat_counts_lines_and_files_binary_ones_without_lines() {
        let out = b"\0aaa\n\n3\t1\tsrc/a.rs\n-\t-\timg.png\n\0bbb\n\n0\t7\tb => c\n";
        let mut counts = HashMap::new();
        numstat(out, &mut counts);
        assert_eq!(counts["aaa"], (3, 1, 2));
        assert_eq!(counts["bbb"], (0, 7, 1));
    }

    #[test]
    fn git_reads_iso_times() {
        assert_eq!(iso(1_772_704_800_000), "2026-03-05T10:00:00Z");
    }

    #[test]
    fn skipped_notes_read_as_one_line() {
        let s = Skipped {
            cwd: Some("/gone".into()),
            sessions: 2,
            reason: "no such directory (moved or deleted)".into(),
        };
        assert_eq!(
            s.to_string(),
            "/gone (2 sessions): no such directory (moved or deleted)"
        );
    }
}
