//! The poll task's schedule: when to look the daemon up (mDNS or DNS), when to fetch
//! `/usage/gauge`, how long each may take, and what is worth a log line.
//!
//! The firmware asks [`Schedule::due_at`] when to act, waits until then, calls
//! [`Schedule::begin`] for the task and its deadline, runs it with that deadline and
//! reports back with [`Schedule::looked_up`] or [`Schedule::fetched`]. The rules:
//!
//! - A lookup gives up at its deadline ([`ScheduleConfig::lookup_timeout_us`]; a DNS query
//!   has no timeout of its own). A failed one is retried after 2 s, doubling to 30 s; a
//!   successful one is followed by a fetch at once.
//! - A GET gives up at its deadline ([`ScheduleConfig::fetch_timeout_us`]). The next one
//!   starts one interval after the last one started, and never sooner than a quarter
//!   interval after it ended; after a failure, one full interval after it ended. So a GET
//!   that timed out is never followed by GETs back to back (a fixed ticker would fire all
//!   the ticks it missed at once).
//! - After [`ScheduleConfig::relook_after`] failures in a row the daemon is looked up
//!   again, since a restarted daemon or a new DHCP lease may have moved it.
//!
//! Failed fetches are only counted here: the 5 s failure rule (needles to zero, STALL
//! blinking) is the `Cluster`'s, which sees no body and applies it by itself.

use crate::http::FetchError;

/// The schedule's timing, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// How often to fetch.
    pub interval_us: u64,
    /// How long one GET may take, connection to last byte.
    pub fetch_timeout_us: u64,
    /// How long one lookup may take (mDNS asks three times, 1.5 s each, and may then ask
    /// for the address as often).
    pub lookup_timeout_us: u64,
    /// Failed GETs in a row before the daemon is looked up again.
    pub relook_after: u32,
    /// The wait after the first failed lookup; it doubles with each failure.
    pub backoff_min_us: u64,
    /// The longest wait between lookups.
    pub backoff_max_us: u64,
}

impl ScheduleConfig {
    /// A GET every `interval_us`, 3 s for each, 10 s for a lookup, a new lookup after 10
    /// failures, lookups retried from 2 s to 30 s apart.
    pub const fn every(interval_us: u64) -> ScheduleConfig {
        ScheduleConfig {
            interval_us,
            fetch_timeout_us: 3_000_000,
            lookup_timeout_us: 10_000_000,
            relook_after: 10,
            backoff_min_us: 2_000_000,
            backoff_max_us: 30_000_000,
        }
    }
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// Find the daemon.
    Lookup,
    /// GET its document.
    Fetch,
}

/// A task begun: what, and when to give it up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    /// The task.
    pub task: Task,
    /// When it fails with a timeout if it has not finished.
    pub deadline_us: u64,
}

/// What the outcome of a task is worth saying (the firmware words it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    /// Nothing new.
    Quiet,
    /// The daemon was found; fetching starts.
    Found,
    /// No daemon found; the next lookup is this far off.
    LookupFailed {
        /// Microseconds until the next lookup.
        retry_in_us: u64,
    },
    /// The first answer from this endpoint, or the first after failures.
    Answered {
        /// Failed GETs just before it.
        after_failures: u32,
    },
    /// The first GET of a run of failures failed.
    Failing(FetchError),
    /// Too many GETs in a row failed: the daemon is looked up again now.
    Relook {
        /// The last failure.
        error: FetchError,
        /// How many failed in a row.
        failures: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Looking,
    Polling,
}

/// The poll task's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    config: ScheduleConfig,
    phase: Phase,
    due_us: u64,
    started_us: u64,
    backoff_us: u64,
    failures: u32,
    answered: bool,
}

impl Schedule {
    /// Starts at `now_us` with a lookup due at once.
    pub const fn new(config: ScheduleConfig, now_us: u64) -> Schedule {
        Schedule {
            config,
            phase: Phase::Looking,
            due_us: now_us,
            started_us: now_us,
            backoff_us: config.backoff_min_us,
            failures: 0,
            answered: false,
        }
    }

    /// The configuration.
    pub const fn config(&self) -> &ScheduleConfig {
        &self.config
    }

    /// When the next task is due.
    pub const fn due_at(&self) -> u64 {
        self.due_us
    }

    /// The next task.
    pub const fn task(&self) -> Task {
        match self.phase {
            Phase::Looking => Task::Lookup,
            Phase::Polling => Task::Fetch,
        }
    }

    /// GETs failed in a row so far.
    pub const fn failures(&self) -> u32 {
        self.failures
    }

    /// The next task begins at `now_us` (at or after [`Schedule::due_at`]).
    pub fn begin(&mut self, now_us: u64) -> Job {
        self.started_us = now_us;
        let timeout = match self.phase {
            Phase::Looking => self.config.lookup_timeout_us,
            Phase::Polling => self.config.fetch_timeout_us,
        };
        Job {
            task: self.task(),
            deadline_us: now_us + timeout,
        }
    }

    /// The lookup begun last ended at `now_us`, with the daemon `found` or not.
    pub fn looked_up(&mut self, found: bool, now_us: u64) -> Note {
        if found {
            self.phase = Phase::Polling;
            self.backoff_us = self.config.backoff_min_us;
            self.failures = 0;
            self.answered = false;
            self.due_us = now_us;
            Note::Found
        } else {
            let wait = self.backoff_us;
            self.backoff_us = (wait * 2).min(self.config.backoff_max_us);
            self.due_us = now_us + wait;
            Note::LookupFailed { retry_in_us: wait }
        }
    }

    /// The GET begun last ended at `now_us` with `result`.
    pub fn fetched(&mut self, result: Result<(), FetchError>, now_us: u64) -> Note {
        let interval = self.config.interval_us;
        match result {
            Ok(()) => {
                let after_failures = core::mem::take(&mut self.failures);
                let first = !core::mem::replace(&mut self.answered, true);
                self.due_us = (self.started_us + interval).max(now_us + interval / 4);
                if first || after_failures > 0 {
                    Note::Answered { after_failures }
                } else {
                    Note::Quiet
                }
            }
            Err(error) => {
                self.failures += 1;
                if self.failures >= self.config.relook_after {
                    let failures = core::mem::take(&mut self.failures);
                    self.phase = Phase::Looking;
                    self.due_us = now_us;
                    return Note::Relook { error, failures };
                }
                self.due_us = now_us + interval;
                if self.failures == 1 {
                    Note::Failing(error)
                } else {
                    Note::Quiet
                }
            }
        }
    }
}
