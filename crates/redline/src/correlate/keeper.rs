//! The daemon's copy of each source: a URL is fetched every `interval` by a thread of its
//! own, a file is read again when its modification time or size changes (looked at when
//! asked). A failed read keeps the rows of the last good one, says so in the log once
//! (and again when it recovers), and shows as `error` in `/api/correlate` and
//! `/api/status`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use redline_engine::correlate::{Format, Rows};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::load::{Loaded, read};
use super::source::{Place, Source};
use crate::config::printable;

/// How often the polling thread looks for a URL that is due.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// What is kept of one source.
#[derive(Debug)]
struct Kept {
    loaded: Loaded,
    /// A file's modification time and size when it was read.
    stamp: Option<(SystemTime, u64)>,
    /// When a URL is next fetched; `None` before its first fetch.
    next: Option<Instant>,
}

/// The sources' kept rows, shared by the polling thread and the HTTP handlers.
#[derive(Debug, Default)]
pub struct Keeper {
    kept: Mutex<Vec<Kept>>,
}

impl Keeper {
    /// An empty keeper.
    pub fn new() -> Arc<Keeper> {
        Arc::new(Keeper::default())
    }

    /// Starts the thread that fetches the URL sources of the configuration in force
    /// (`page`, which follows config.toml) when each is due.
    pub fn poll(self: &Arc<Self>, page: watch::Receiver<Arc<crate::web::Page>>) {
        let keeper = self.clone();
        let started = std::thread::Builder::new()
            .name("correlate".into())
            .spawn(move || {
                loop {
                    let sources = page.borrow().cfg.correlate.clone();
                    keeper.forget_others(&sources);
                    for s in sources.iter().filter(|s| matches!(s.place, Place::Url(_))) {
                        if keeper.due(s) {
                            let read = read(s);
                            keeper.store(s, read, None);
                        }
                    }
                    std::thread::sleep(LOOK_EVERY);
                }
            });
        if let Err(e) = started {
            eprintln!("redline: warning: cannot start fetching the [[correlate]] URLs: {e}");
        }
    }

    /// `sources` with what is kept of each, read first where needed: a file that changed
    /// (or was never read), a URL never fetched. Blocks while reading.
    pub fn current(&self, sources: &[Source]) -> Vec<Loaded> {
        self.forget_others(sources);
        for s in sources {
            match &s.place {
                Place::File(path) => {
                    let stamp = std::fs::metadata(path)
                        .ok()
                        .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
                    let changed = {
                        let kept = self.lock();
                        kept.iter()
                            .find(|k| &k.loaded.source == s)
                            .is_none_or(|k| stamp.is_none() || k.stamp != stamp)
                    };
                    if changed {
                        self.store(s, read(s), stamp);
                    }
                }
                Place::Url(_) => {
                    // Never read: fetched now, or, when the polling thread is at it,
                    // waited for (a first answer should not be "nothing yet").
                    let deadline = Instant::now() + super::fetch::TIMEOUT + LOOK_EVERY;
                    while !self.read_once(s) && Instant::now() < deadline {
                        if self.due(s) {
                            self.store(s, read(s), None);
                        } else {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            }
        }
        let kept = self.lock();
        sources
            .iter()
            .map(|s| {
                kept.iter()
                    .find(|k| &k.loaded.source == s)
                    .map_or_else(|| Loaded::new(s.clone()), |k| k.loaded.clone())
            })
            .collect()
    }

    /// Each source as `/api/status` lists it.
    pub fn status(&self) -> Value {
        let kept = self.lock();
        Value::Array(
            kept.iter()
                .map(|k| {
                    let l = &k.loaded;
                    json!({
                        "name": l.source.name,
                        "kind": l.source.place.kind(),
                        "origin": l.source.place.origin(),
                        "rows": l.rows.as_ref().map(|r| r.events.len()),
                        "bad_rows": l.rows.as_ref().map(|r| r.bad),
                        "read_at": l.read_at.map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
                        "error": l.error,
                    })
                })
                .collect(),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Kept>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a read of `s` has ended (well or not).
    fn read_once(&self, s: &Source) -> bool {
        self.lock()
            .iter()
            .find(|k| &k.loaded.source == s)
            .is_some_and(|k| k.loaded.rows.is_some() || k.loaded.error.is_some())
    }

    /// Drops what is kept of sources no longer configured.
    fn forget_others(&self, sources: &[Source]) {
        self.lock().retain(|k| sources.contains(&k.loaded.source));
    }

    /// Whether a URL is due, and if so, notes its next fetch (so that it is fetched by
    /// one caller).
    fn due(&self, s: &Source) -> bool {
        let mut kept = self.lock();
        let now = Instant::now();
        let k = entry(&mut kept, s);
        if k.next.is_some_and(|n| n > now) {
            return false;
        }
        k.next = Some(now + s.interval);
        true
    }

    /// Keeps a read's outcome, and logs a failure (once until it changes) or a recovery.
    fn store(
        &self,
        s: &Source,
        read: Result<(Rows, Format), String>,
        stamp: Option<(SystemTime, u64)>,
    ) {
        let mut kept = self.lock();
        let k = entry(&mut kept, s);
        let before = k.loaded.error.clone();
        let had_rows = k.loaded.rows.is_some();
        let ok = read.is_ok();
        k.loaded.take(read);
        if ok {
            k.stamp = stamp;
        }
        match (&k.loaded.error, before) {
            (Some(now), before) if before.as_deref() != Some(now.as_str()) => {
                let keeping = if had_rows {
                    "; keeping the rows read before"
                } else {
                    ""
                };
                eprintln!(
                    "redline: warning: correlate source {:?}: {}{keeping}",
                    s.name,
                    printable(now)
                );
            }
            (None, Some(_)) => eprintln!(
                "redline: correlate source {:?} is read again ({} rows)",
                s.name,
                k.loaded.rows.as_ref().map_or(0, |r| r.events.len())
            ),
            _ => {}
        }
    }
}

/// The kept entry of `s`, made empty when there is none yet.
fn entry<'a>(kept: &'a mut Vec<Kept>, s: &Source) -> &'a mut Kept {
    let i = match kept.iter().position(|k| &k.loaded.source == s) {
        Some(i) => i,
        None => {
            kept.push(Kept {
                loaded: Loaded::new(s.clone()),
                stamp: None,
                next: None,
            });
            kept.len() - 1
        }
    };
    &mut kept[i]
}
