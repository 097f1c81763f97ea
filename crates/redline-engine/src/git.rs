//! Git correlation: which commits were made while a session was active, and what the
//! session spent on each. Pure: sessions (their repositories and their responses' times,
//! tokens and dollars) and commits (times and line counts, read by the binary with the
//! `git` program) come in; the figures go out. No I/O, no clock.
//!
//! The rules (docs/stats.md says them to users):
//!
//! - A session's **span** runs from its first response to its last. A commit belongs to
//!   a session when it is in one of the session's repositories and its *author* time is
//!   within the span widened by the **slack** on both sides (the user commits a few
//!   minutes after the last answer, or Claude commits just before the first one is
//!   written).
//! - A commit goes to **one** session only. When the widened spans of several sessions
//!   hold it (two sessions in one repository, or worktrees of one repository that see
//!   the same commit), it goes to the session with the latest response at or before the
//!   commit; when none has one yet, to the one whose first response comes soonest; then
//!   by session id. A commit is known by its hash, so a commit seen from several
//!   worktrees counts once.
//! - **Per commit**, the tokens and dollars are what its session spent since the
//!   session's previous commit (for its first commit, since the session began): the
//!   responses with times in (previous commit, this commit]. A session's spend after its
//!   last commit goes to no commit. Per changed line is that over lines added + removed.
//! - **Per project and per day**, tokens and dollars are *all* the spend of the sessions
//!   that ran in a repository (those with commits and those without), so dollars per
//!   commit is what a commit cost on the whole, exploration included. A day's spend is its
//!   responses' local days; a day's commits are their author times' local days.
//!
//! Tokens are all four kinds (input, output, cache writes, cache reads), as `totalTokens`
//! in the reports.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::ledger::FileMeta;
use crate::timestamp::instant;

/// The default slack, in minutes, on each side of a session's span.
pub const DEFAULT_SLACK_MINUTES: u32 = 15;

/// What one response spent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spend {
    /// When, in milliseconds since the epoch.
    pub ts_ms: i64,
    /// Tokens, all four kinds.
    pub tokens: u64,
    /// Dollars.
    pub cost_usd: f64,
}

/// A session, as the correlation sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Session {
    /// The session id.
    pub id: String,
    /// The project (the directory name under `projects/`).
    pub project: String,
    /// The repositories its working directories are in (worktree roots, as the caller
    /// names them); empty when none is one: such a session is left out.
    pub repos: Vec<String>,
    /// The last `gitBranch` it named, for display.
    pub branch: Option<String>,
    /// Its responses, in any order.
    pub spend: Vec<Spend>,
}

/// A commit, counts only: no subject, no author.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The repository it was listed in (as [`Session::repos`] names it).
    pub repo: String,
    /// Its hash (the full one: commits seen from several worktrees are told apart by it).
    pub hash: String,
    /// Author time, milliseconds since the epoch.
    pub author_ms: i64,
    /// Lines added.
    pub added: u64,
    /// Lines removed.
    pub removed: u64,
    /// Files changed.
    pub files: u64,
}

/// Groups responses into sessions (by session id; a subagent's file already names its
/// parent session), with the files each session's responses came from, in first-seen
/// order: where its working directories are read. Repositories are left empty for the
/// caller to fill.
pub fn sessions<'a>(
    responses: impl IntoIterator<Item = (&'a FileMeta, Spend)>,
) -> Vec<(Session, Vec<&'a Path>)> {
    let mut index: HashMap<&'a str, usize> = HashMap::new();
    let mut out: Vec<(Session, Vec<&'a Path>)> = Vec::new();
    for (meta, spend) in responses {
        let i = *index.entry(&*meta.session).or_insert_with(|| {
            out.push((
                Session {
                    id: meta.session.to_string(),
                    project: meta.project.to_string(),
                    ..Session::default()
                },
                Vec::new(),
            ));
            out.len() - 1
        });
        let (s, files) = &mut out[i];
        s.spend.push(spend);
        let path = meta.path.as_path();
        if files.last() != Some(&path) && !files.contains(&path) {
            files.push(path);
        }
    }
    out
}

/// How commits are attributed.
#[derive(Clone, Debug)]
pub struct Options {
    /// The slack on each side of a session's span, in milliseconds.
    pub slack_ms: i64,
    /// Commits authored before this are left out of the figures (they still end the
    /// spend of the commit before them). `i64::MIN` for none.
    pub since_ms: i64,
    /// The zone whose local dates make the days.
    pub tz: TimeZone,
}

/// Totals of a group (all, a project, a day).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Figures {
    /// Sessions that ran in a repository (with a response in the group).
    pub sessions: u64,
    /// Commits attributed.
    pub commits: u64,
    /// Lines added by them.
    pub added: u64,
    /// Lines removed by them.
    pub removed: u64,
    /// Tokens the sessions spent.
    pub tokens: u64,
    /// Dollars the sessions spent.
    pub cost_usd: f64,
}

impl Figures {
    /// Lines added and removed.
    pub fn lines(&self) -> u64 {
        self.added + self.removed
    }
    /// Tokens per commit; `None` without commits.
    pub fn tokens_per_commit(&self) -> Option<f64> {
        ratio(self.tokens as f64, self.commits)
    }
    /// Dollars per commit; `None` without commits.
    pub fn cost_per_commit(&self) -> Option<f64> {
        ratio(self.cost_usd, self.commits)
    }
    /// Tokens per changed line; `None` without changed lines.
    pub fn tokens_per_line(&self) -> Option<f64> {
        ratio(self.tokens as f64, self.lines())
    }
    /// Dollars per changed line; `None` without changed lines.
    pub fn cost_per_line(&self) -> Option<f64> {
        ratio(self.cost_usd, self.lines())
    }
}

fn ratio(v: f64, n: u64) -> Option<f64> {
    (n > 0).then(|| v / n as f64)
}

/// A commit with its session and figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Attributed {
    /// The commit.
    pub commit: Commit,
    /// Its author time's local date.
    pub date: Date,
    /// The session it went to.
    pub session: String,
    /// That session's project.
    pub project: String,
    /// That session's branch.
    pub branch: Option<String>,
    /// Responses since the session's previous commit.
    pub responses: u64,
    /// Their tokens.
    pub tokens: u64,
    /// Their dollars.
    pub cost_usd: f64,
}

impl Attributed {
    /// Lines added and removed.
    pub fn lines(&self) -> u64 {
        self.commit.added + self.commit.removed
    }
    /// Tokens per changed line; `None` for a commit that changed none (binary files only,
    /// or an empty commit).
    pub fn tokens_per_line(&self) -> Option<f64> {
        ratio(self.tokens as f64, self.lines())
    }
    /// Dollars per changed line.
    pub fn cost_per_line(&self) -> Option<f64> {
        ratio(self.cost_usd, self.lines())
    }
}

/// What [`attribute`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Correlation {
    /// The commits attributed, by author time (then hash).
    pub commits: Vec<Attributed>,
    /// Everything.
    pub totals: Figures,
    /// Per project.
    pub by_project: BTreeMap<String, Figures>,
    /// Per local day.
    pub by_day: BTreeMap<Date, Figures>,
}

/// A session's place in the attribution.
struct Span<'a> {
    s: &'a Session,
    /// Its responses, by time.
    spend: Vec<Spend>,
}

impl Span<'_> {
    fn first(&self) -> i64 {
        self.spend[0].ts_ms
    }
    fn last(&self) -> i64 {
        self.spend[self.spend.len() - 1].ts_ms
    }
    fn holds(&self, t: i64, slack: i64) -> bool {
        self.first().saturating_sub(slack) <= t && t <= self.last().saturating_add(slack)
    }
    /// The latest response at or before `t`.
    fn last_before(&self, t: i64) -> Option<i64> {
        let n = self.spend.partition_point(|x| x.ts_ms <= t);
        n.checked_sub(1).map(|i| self.spend[i].ts_ms)
    }
}

/// Attributes `commits` to `sessions` and sums the figures (see the module docs).
pub fn attribute(sessions: &[Session], commits: &[Commit], o: &Options) -> Correlation {
    let spans: Vec<Span> = sessions
        .iter()
        .filter(|s| !s.repos.is_empty() && !s.spend.is_empty())
        .map(|s| {
            let mut spend = s.spend.clone();
            spend.sort_by_key(|x| x.ts_ms);
            Span { s, spend }
        })
        .collect();
    let mut by_repo: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, span) in spans.iter().enumerate() {
        for r in &span.s.repos {
            let list = by_repo.entry(r.as_str()).or_default();
            if !list.contains(&i) {
                list.push(i);
            }
        }
    }
    // One commit per hash, with every repository it was listed in.
    let mut unique: BTreeMap<&str, (&Commit, Vec<&str>)> = BTreeMap::new();
    for c in commits {
        unique
            .entry(c.hash.as_str())
            .or_insert((c, Vec::new()))
            .1
            .push(c.repo.as_str());
    }
    let mut out = Correlation::default();
    // Each session's commits, to share its spend out.
    let mut per_span: Vec<Vec<&Commit>> = vec![Vec::new(); spans.len()];
    for (c, repos) in unique.values() {
        let t = c.author_ms;
        let mut candidates: Vec<usize> = repos
            .iter()
            .flat_map(|r| by_repo.get(r).into_iter().flatten().copied())
            .filter(|&i| spans[i].holds(t, o.slack_ms))
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let winner = candidates.into_iter().min_by(|&a, &b| {
            let (sa, sb) = (&spans[a], &spans[b]);
            let order = match (sa.last_before(t), sb.last_before(t)) {
                (Some(x), Some(y)) => y.cmp(&x),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => sa.first().cmp(&sb.first()),
            };
            order.then_with(|| sa.s.id.cmp(&sb.s.id))
        });
        if let Some(i) = winner {
            per_span[i].push(c);
        }
    }
    let day = |ms: i64| o.tz.to_datetime(instant(ms)).date();
    for (span, mut list) in spans.iter().zip(per_span) {
        let s = span.s;
        list.sort_by(|a, b| a.author_ms.cmp(&b.author_ms).then(a.hash.cmp(&b.hash)));
        let mut next = 0;
        for c in list {
            let mut a = Attributed {
                commit: c.clone(),
                date: day(c.author_ms),
                session: s.id.clone(),
                project: s.project.clone(),
                branch: s.branch.clone(),
                responses: 0,
                tokens: 0,
                cost_usd: 0.0,
            };
            while next < span.spend.len() && span.spend[next].ts_ms <= c.author_ms {
                let x = &span.spend[next];
                a.responses += 1;
                a.tokens += x.tokens;
                a.cost_usd += x.cost_usd;
                next += 1;
            }
            if c.author_ms < o.since_ms {
                continue;
            }
            for f in [
                &mut out.totals,
                out.by_project.entry(s.project.clone()).or_default(),
                out.by_day.entry(a.date).or_default(),
            ] {
                f.commits += 1;
                f.added += c.added;
                f.removed += c.removed;
            }
            out.commits.push(a);
        }
        // The spend, all of it, by project and day.
        let mut days: Vec<Date> = Vec::new();
        for x in &span.spend {
            let d = day(x.ts_ms);
            if days.last() != Some(&d) {
                days.push(d);
            }
            for f in [
                &mut out.totals,
                out.by_project.entry(s.project.clone()).or_default(),
                out.by_day.entry(d).or_default(),
            ] {
                f.tokens += x.tokens;
                f.cost_usd += x.cost_usd;
            }
        }
        out.totals.sessions += 1;
        out.by_project
            .entry(s.project.clone())
            .or_default()
            .sessions += 1;
        for d in days {
            out.by_day.entry(d).or_default().sessions += 1;
        }
    }
    out.commits.sort_by(|a, b| {
        a.commit
            .author_ms
            .cmp(&b.commit.author_ms)
            .then(a.commit.hash.cmp(&b.commit.hash))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    /// 2026-03-05T10:00:00Z.
    const T0: i64 = 1_772_704_800_000;

    fn spend(min: i64, tokens: u64, cost: f64) -> Spend {
        Spend {
            ts_ms: T0 + min * MIN,
            tokens,
            cost_usd: cost,
        }
    }

    fn session(id: &str, project: &str, repo: &str, spend: Vec<Spend>) -> Session {
        Session {
            id: id.into(),
            project: project.into(),
            repos: vec![repo.into()],
            branch: Some("main".into()),
            spend,
        }
    }

    fn commit(repo: &str, hash: &str, min: i64, added: u64, removed: u64) -> Commit {
        Commit {
            repo: repo.into(),
            hash: hash.into(),
            author_ms: T0 + min * MIN,
            added,
            removed,
            files: 1,
        }
    }

    fn opts() -> Options {
        Options {
            slack_ms: 15 * MIN,
            since_ms: i64::MIN,
            tz: TimeZone::UTC,
        }
    }

    #[test]
    fn each_commit_gets_the_spend_since_the_sessions_previous_commit() {
        let s = session(
            "s1",
            "p",
            "/r",
            vec![
                spend(0, 1000, 0.10),
                spend(5, 2000, 0.20),
                spend(12, 4000, 0.40),
                spend(30, 8000, 0.80),
            ],
        );
        let commits = [
            commit("/r", "a", 10, 30, 10),    // after the responses at 0 and 5
            commit("/r", "b", 40, 5, 0),      // after 12 and 30
            commit("/r", "c", 44, 0, 0),      // nothing since b: 0 tokens, no lines
            commit("/r", "d", 30 + 16, 1, 1), // past the slack: not this session's
            commit("/r", "e", -15, 2, 0),     // at the slack's edge before: in, spends 0
        ];
        let c = attribute(&[s], &commits, &opts());
        let got: Vec<(&str, u64, u64, u64)> = c
            .commits
            .iter()
            .map(|a| {
                (
                    a.commit.hash.as_str(),
                    a.responses,
                    a.tokens,
                    (a.cost_usd * 100.0).round() as u64,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("e", 0, 0, 0),
                ("a", 2, 3000, 30),
                ("b", 2, 12_000, 120),
                ("c", 0, 0, 0)
            ]
        );
        assert_eq!(c.commits[1].tokens_per_line(), Some(75.0));
        assert!((c.commits[1].cost_per_line().unwrap() - 0.0075).abs() < 1e-12);
        assert_eq!(c.commits[3].tokens_per_line(), None);
        let t = c.totals;
        assert_eq!(
            (t.sessions, t.commits, t.added, t.removed, t.tokens),
            (1, 4, 37, 10, 15_000)
        );
        assert!((t.cost_usd - 1.5).abs() < 1e-12);
        assert_eq!(t.tokens_per_commit(), Some(3750.0));
        assert!((t.tokens_per_line().unwrap() - 15_000.0 / 47.0).abs() < 1e-9);
        assert_eq!(c.by_project["p"], t);
        assert_eq!(c.by_day.len(), 1);
    }

    #[test]
    fn a_commit_two_sessions_hold_goes_to_the_one_active_last() {
        // s1 answered at 0 and 20, s2 at 10 and 50; a commit at 25 is after s1's 20 and
        // s2's 10: s1's. One at 5 is after s1's 0 only: s1's too. One at -5 precedes both:
        // the one starting soonest, s1.
        let s1 = session(
            "s1",
            "p1",
            "/r",
            vec![spend(0, 10, 0.0), spend(20, 20, 0.0)],
        );
        let s2 = session(
            "s2",
            "p2",
            "/r",
            vec![spend(10, 40, 0.0), spend(50, 80, 0.0)],
        );
        let commits = [
            commit("/r", "x", 25, 1, 0),
            commit("/r", "y", 5, 1, 0),
            commit("/r", "z", -5, 1, 0),
            commit("/r", "w", 55, 1, 0),
        ];
        let c = attribute(&[s2, s1], &commits, &opts());
        let got: Vec<(&str, &str, u64)> = c
            .commits
            .iter()
            .map(|a| (a.commit.hash.as_str(), a.session.as_str(), a.tokens))
            .collect();
        assert_eq!(
            got,
            [
                ("z", "s1", 0),
                ("y", "s1", 10),
                ("x", "s1", 20),
                ("w", "s2", 120)
            ]
        );
        assert_eq!(c.by_project["p1"].commits, 3);
        assert_eq!(c.by_project["p2"].commits, 1);
        assert_eq!(c.totals.sessions, 2);
    }

    #[test]
    fn a_commit_seen_from_two_worktrees_counts_once() {
        let mut s = session("s", "p", "/wt-a", vec![spend(0, 10, 0.01)]);
        s.repos.push("/wt-b".into());
        let commits = [commit("/wt-a", "h", 3, 4, 4), commit("/wt-b", "h", 3, 4, 4)];
        let c = attribute(&[s], &commits, &opts());
        assert_eq!(c.commits.len(), 1);
        assert_eq!(c.totals.lines(), 8);
    }

    #[test]
    fn days_split_spend_by_response_and_commits_by_author_time() {
        // 23:50 and 00:10 the next day (UTC); the commit at 00:05.
        let late = 13 * 60 + 50;
        let s = session(
            "s",
            "p",
            "/r",
            vec![spend(late, 100, 1.0), spend(late + 20, 300, 3.0)],
        );
        let c = attribute(&[s], &[commit("/r", "h", late + 15, 2, 2)], &opts());
        let d1: Date = "2026-03-05".parse().unwrap();
        let d2: Date = "2026-03-06".parse().unwrap();
        assert_eq!(
            (
                c.by_day[&d1].tokens,
                c.by_day[&d1].commits,
                c.by_day[&d1].sessions
            ),
            (100, 0, 1)
        );
        assert_eq!(
            (
                c.by_day[&d2].tokens,
                c.by_day[&d2].commits,
                c.by_day[&d2].sessions
            ),
            (300, 1, 1)
        );
        assert_eq!(c.commits[0].date, d2);
        assert_eq!(c.commits[0].tokens, 100);
    }

    #[test]
    fn commits_before_since_end_spend_but_are_not_listed() {
        let s = session("s", "p", "/r", vec![spend(0, 10, 0.0), spend(20, 20, 0.0)]);
        let mut o = opts();
        o.since_ms = T0 + 10 * MIN;
        let commits = [commit("/r", "old", 5, 1, 0), commit("/r", "new", 25, 1, 0)];
        let c = attribute(&[s], &commits, &o);
        assert_eq!(c.commits.len(), 1);
        assert_eq!(
            (c.commits[0].commit.hash.as_str(), c.commits[0].tokens),
            ("new", 20)
        );
        assert_eq!(c.totals.commits, 1);
    }

    #[test]
    fn sessions_without_a_repository_are_left_out() {
        let mut s = session("s", "p", "/r", vec![spend(0, 10, 0.0)]);
        s.repos.clear();
        let c = attribute(&[s], &[commit("/r", "h", 1, 1, 0)], &opts());
        assert_eq!(c.totals, Figures::default());
        assert_eq!(c.totals.tokens_per_commit(), None);
    }
}
