//! The poll task in virtual time: the schedule, the HTTP reader and the `Cluster` driven
//! the way the firmware drives them, against a simulated daemon that answers with the real
//! recorded `/usage/gauge` bytes (`tests/wire/`) fast, a byte at a time, not at all, or
//! with garbage, and lookups that succeed, fail or hang. Each run records when every task
//! began and ended, so the tests check the timing rules themselves: no GETs back to back
//! after a timeout, a lookup bounded by its deadline, lookups backing off, and the panel's
//! 5 s failure rule and recovery.

use redline_core::calibration::Calibration;
use redline_core::http::{Body, FetchError, RESPONSE_MAX, Response};
use redline_core::motion::QUAD_MICROSTEP;
use redline_core::poll::{Cluster, PollConfig};
use redline_core::schedule::{Note, Schedule, ScheduleConfig, Task};

const S: u64 = 1_000_000;
const MS: u64 = 1_000;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/wire/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// What the simulated daemon does with one GET.
#[derive(Clone)]
enum Answer {
    /// These bytes, `per_byte_us` apart after a 20 ms first byte, then the close.
    Bytes { raw: Vec<u8>, per_byte_us: u64 },
    /// Connection refused after 5 ms.
    Refused,
    /// Accepts and never answers.
    Silent,
}

/// What a lookup does.
#[derive(Clone, Copy)]
enum Lookup {
    Found {
        after_us: u64,
    },
    NotFound {
        after_us: u64,
    },
    /// A DNS query that never returns.
    Hangs,
}

/// One task as it ran.
#[derive(Clone, Debug, PartialEq)]
struct Ran {
    task: Task,
    began: u64,
    ended: u64,
    ok: bool,
    note: Note,
}

struct Sim {
    now: u64,
    schedule: Schedule,
    cluster: Cluster,
    ran: Vec<Ran>,
    /// When the cluster's failure rule held, checked at every task's end and every 100 ms.
    failed_at: Vec<(u64, bool)>,
}

impl Sim {
    fn new() -> Sim {
        let poll = PollConfig::for_profile(&QUAD_MICROSTEP);
        let cals = [Calibration::linear(QUAD_MICROSTEP.full_scale()); 4];
        Sim {
            now: 0,
            schedule: Schedule::new(ScheduleConfig::every(S), 0),
            cluster: Cluster::new(poll, cals, 0),
            ran: Vec::new(),
            failed_at: Vec::new(),
        }
    }

    /// Advances to `t`, ticking the cluster every 100 ms on the way (the panel does every
    /// 10 ms; 100 is enough to see the failure rule start and end).
    fn advance(&mut self, t: u64) {
        while self.now + 100 * MS <= t {
            self.now += 100 * MS;
            self.cluster.tick(self.now);
            self.failed_at.push((self.now, self.cluster.is_failed()));
        }
        self.now = self.now.max(t);
    }

    /// Runs tasks until `until`, the lookups and GETs answered by `lookup` and `answer`
    /// (each given how many of its kind came before).
    fn run(
        &mut self,
        until: u64,
        mut lookup: impl FnMut(usize) -> Lookup,
        mut answer: impl FnMut(usize) -> Answer,
    ) {
        let (mut lookups, mut fetches) = (0, 0);
        while self.schedule.due_at() < until {
            let due = self.schedule.due_at();
            self.advance(due);
            let job = self.schedule.begin(self.now);
            let began = self.now;
            let (ok, note) = match job.task {
                Task::Lookup => {
                    let (found, end) = match lookup(lookups) {
                        Lookup::Found { after_us } => (true, began + after_us),
                        Lookup::NotFound { after_us } => (false, began + after_us),
                        // The firmware's `with_deadline` gives up here.
                        Lookup::Hangs => (false, job.deadline_us),
                    };
                    lookups += 1;
                    let end = end.min(job.deadline_us);
                    self.advance(end);
                    (found, self.schedule.looked_up(found, self.now))
                }
                Task::Fetch => {
                    let (result, end) = fetch(&answer(fetches), began, job.deadline_us);
                    fetches += 1;
                    self.advance(end);
                    if let Ok(body) = &result {
                        let _ = self.cluster.answer(body.as_slice(), self.now);
                    }
                    let ok = result.is_ok();
                    (ok, self.schedule.fetched(result.map(|_| ()), self.now))
                }
            };
            self.ran.push(Ran {
                task: job.task,
                began,
                ended: self.now,
                ok,
                note,
            });
            self.cluster.tick(self.now);
            self.failed_at.push((self.now, self.cluster.is_failed()));
        }
        self.advance(until);
    }

    fn fetches(&self) -> Vec<&Ran> {
        self.ran.iter().filter(|r| r.task == Task::Fetch).collect()
    }

    fn lookups(&self) -> Vec<&Ran> {
        self.ran.iter().filter(|r| r.task == Task::Lookup).collect()
    }

    /// When the failure rule first held at or after `from`, and when it next ended.
    fn failure_between(&self, from: u64) -> (Option<u64>, Option<u64>) {
        let start = self
            .failed_at
            .iter()
            .find(|(t, f)| *t >= from && *f)
            .map(|(t, _)| *t);
        let end = start.and_then(|s| {
            self.failed_at
                .iter()
                .find(|(t, f)| *t > s && !*f)
                .map(|(t, _)| *t)
        });
        (start, end)
    }
}

/// One GET in virtual time, as the firmware's socket loop runs it: bytes as they arrive
/// into the reader, given up at the deadline. The result and when it ended.
fn fetch(answer: &Answer, began: u64, deadline: u64) -> (Result<Body, FetchError>, u64) {
    match answer {
        Answer::Refused => (Err(FetchError::Connect), began + 5 * MS),
        Answer::Silent => (Err(FetchError::Timeout), deadline),
        Answer::Bytes { raw, per_byte_us } => {
            let mut buf = [0u8; RESPONSE_MAX];
            let mut response = Response::new(&mut buf);
            let mut at = began + 20 * MS;
            for &b in raw {
                if at > deadline {
                    return (Err(FetchError::Timeout), deadline);
                }
                let space = match response.space() {
                    Ok(space) => space,
                    Err(e) => return (Err(e), at),
                };
                space[0] = b;
                match response.received(1) {
                    Ok(None) => {}
                    Ok(Some(body)) => return (Ok(body), at),
                    Err(e) => return (Err(e), at),
                }
                at += per_byte_us;
            }
            match response.received(0) {
                Ok(Some(body)) => (Ok(body), at),
                Ok(None) => (Err(FetchError::Truncated), at),
                Err(e) => (Err(e), at),
            }
        }
    }
}

fn gauge() -> Answer {
    Answer::Bytes {
        raw: fixture("gauge-demo.http"),
        per_byte_us: 0,
    }
}

fn found(_: usize) -> Lookup {
    Lookup::Found { after_us: 300 * MS }
}

#[test]
fn a_steady_daemon_is_polled_once_an_interval_from_each_start() {
    let mut sim = Sim::new();
    sim.run(20 * S, found, |_| gauge());
    let fetches = sim.fetches();
    assert_eq!(sim.lookups().len(), 1);
    assert_eq!(
        fetches[0].began,
        300 * MS,
        "the first GET follows the lookup at once"
    );
    assert_eq!(fetches[0].note, Note::Answered { after_failures: 0 });
    for pair in fetches.windows(2) {
        assert!(pair[1].ok);
        assert_eq!(pair[1].began - pair[0].began, S, "{pair:?}");
        assert_eq!(pair[1].note, Note::Quiet);
    }
    assert_eq!(fetches.len(), 20);
    assert!(sim.failed_at.iter().all(|(_, f)| !f));
}

#[test]
fn a_timed_out_get_is_followed_by_an_interval_of_rest_not_a_burst() {
    // GETs 3 to 6 get no answer: each gives up at its 3 s deadline.
    let mut sim = Sim::new();
    sim.run(40 * S, found, |i| match i {
        3..=6 => Answer::Silent,
        _ => gauge(),
    });
    let fetches = sim.fetches();
    for pair in fetches.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if a.ok {
            assert_eq!(b.began, a.began + S, "{a:?} -> {b:?}");
        } else {
            assert_eq!(a.ended - a.began, 3 * S, "the fetch deadline: {a:?}");
            // A ticker would have fired its three missed ticks at once here.
            assert_eq!(b.began, a.ended + S, "{a:?} -> {b:?}");
        }
    }
    assert_eq!(fetches[3].note, Note::Failing(FetchError::Timeout));
    assert_eq!(fetches[4].note, Note::Quiet);
    assert_eq!(fetches[7].note, Note::Answered { after_failures: 4 });
    // The panel saw no answer from GET 2's end: STALL from 5 s later, until GET 7.
    let (start, end) = sim.failure_between(0);
    let last_good = fetches[2].ended;
    assert_eq!(
        start,
        Some((last_good + 5 * S).div_ceil(100 * MS) * 100 * MS)
    );
    assert_eq!(end, Some(fetches[7].ended));
}

#[test]
fn a_slow_answer_a_byte_at_a_time_is_read_within_its_deadline_and_dropped_past_it() {
    let raw = fixture("gauge-demo.http");
    // 229 bytes 10 ms apart: 2.3 s, inside the 3 s deadline.
    let mut sim = Sim::new();
    sim.run(10 * S, found, |_| Answer::Bytes {
        raw: raw.clone(),
        per_byte_us: 10 * MS,
    });
    let fetches = sim.fetches();
    assert!(fetches.iter().all(|f| f.ok), "{fetches:?}");
    // A GET longer than the interval: the next starts a quarter interval after it.
    for pair in fetches.windows(2) {
        assert_eq!(pair[1].began, pair[0].ended + S / 4);
    }
    assert!(sim.failed_at.iter().all(|(_, f)| !f));

    // 20 ms apart: 4.6 s, given up at 3 s every time; STALL from 5 s after start-up.
    let mut sim = Sim::new();
    sim.run(12 * S, found, |_| Answer::Bytes {
        raw: raw.clone(),
        per_byte_us: 20 * MS,
    });
    let fetches = sim.fetches();
    assert!(fetches.iter().all(|f| !f.ok && f.ended - f.began == 3 * S));
    for pair in fetches.windows(2) {
        assert_eq!(pair[1].began, pair[0].ended + S);
    }
    assert_eq!(sim.failure_between(0).0, Some(5 * S));
}

#[test]
fn garbage_truncated_oversized_and_chunked_answers_in_the_loop() {
    let good = fixture("gauge-idle.http");
    let (cut, _) = good.split_at(good.len() - 10);
    let html = b"HTTP/1.0 200 OK\r\ncontent-length: 6\r\n\r\n<html>".to_vec();
    let text = String::from_utf8(good.clone()).unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap();
    let chunked = format!(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
        20,
        &body[..20],
        body.len() - 20,
        &body[20..]
    );
    let answers = [
        (cut.to_vec(), Err(FetchError::Truncated)),
        (fixture("usage.http"), Err(FetchError::TooLarge)),
        (fixture("not-found.http"), Err(FetchError::Status(404))),
        (b"\x00\x01garbage".to_vec(), Err(FetchError::Head)),
        // HTTP is fine, the body is not: the fetch succeeds, the panel refuses the body.
        (html, Ok(())),
        (chunked.into_bytes(), Ok(())),
        (good.clone(), Ok(())),
    ];
    let mut sim = Sim::new();
    sim.run(8 * S, found, |i| Answer::Bytes {
        raw: answers.get(i).map_or(good.clone(), |a| a.0.clone()),
        per_byte_us: MS,
    });
    let fetches = sim.fetches();
    for (i, (_, expected)) in answers.iter().enumerate() {
        assert_eq!(
            fetches[i].ok,
            expected.is_ok(),
            "answer {i}: {:?}",
            fetches[i]
        );
    }
    assert_eq!(fetches[0].note, Note::Failing(FetchError::Truncated));
    assert_eq!(fetches[4].note, Note::Answered { after_failures: 4 });
    assert_eq!(sim.cluster.refused(), 1, "the HTML body");
    // No valid body for 5 s from start-up (four failures and the HTML, a second apart):
    // the failure rule, over at the chunked answer.
    let (start, end) = sim.failure_between(0);
    assert!(
        (5 * S..5 * S + 100 * MS).contains(&start.unwrap()),
        "{start:?}"
    );
    assert_eq!(end, Some(fetches[5].ended));
}

#[test]
fn ten_failures_look_again_and_failed_lookups_back_off() {
    let mut sim = Sim::new();
    // The daemon is gone from 5 s to 150 s: GETs are refused, lookups find nothing.
    let mut lookups_found = Vec::new();
    sim.run(
        200 * S,
        |i| {
            lookups_found.push(i);
            if i == 0 {
                found(0)
            } else {
                Lookup::NotFound {
                    after_us: 4500 * MS,
                }
            }
        },
        |i| if i < 5 { gauge() } else { Answer::Refused },
    );
    let lookups = sim.lookups();
    let fetches = sim.fetches();
    // 5 good GETs, then 10 refused, then the second lookup.
    assert_eq!(
        fetches[14].note,
        Note::Relook {
            error: FetchError::Connect,
            failures: 10
        }
    );
    assert_eq!(lookups[1].began, fetches[14].ended);
    assert_eq!(fetches.len(), 15, "no GET while the daemon is not found");
    // Lookups: 2, 4, 8, 16, 30, 30 s apart after each failure.
    let waits: Vec<u64> = lookups[1..]
        .windows(2)
        .map(|p| (p[1].began - p[0].ended) / S)
        .collect();
    assert_eq!(&waits[..6], &[2, 4, 8, 16, 30, 30]);
    assert_eq!(lookups[1].note, Note::LookupFailed { retry_in_us: 2 * S });
}

#[test]
fn a_found_daemon_resets_the_backoff_and_is_fetched_at_once() {
    let mut sim = Sim::new();
    sim.run(
        60 * S,
        |i| match i {
            0..=3 => Lookup::NotFound { after_us: S },
            _ => found(i),
        },
        |_| gauge(),
    );
    let lookups = sim.lookups();
    assert_eq!(lookups[4].note, Note::Found);
    let first = sim.fetches()[0];
    assert_eq!(first.began, lookups[4].ended);
    // Waits of 2 + 4 + 8 + 16 s, each lookup 1 s, the fifth 0.3 s.
    assert_eq!(first.began, (4 + 2 + 4 + 8 + 16) * S + 300 * MS);
}

#[test]
fn a_lookup_that_hangs_is_given_up_at_its_deadline() {
    let mut sim = Sim::new();
    sim.run(
        40 * S,
        |i| if i < 2 { Lookup::Hangs } else { found(i) },
        |_| gauge(),
    );
    let lookups = sim.lookups();
    assert_eq!(lookups[0].ended - lookups[0].began, 10 * S);
    assert_eq!(lookups[1].began, lookups[0].ended + 2 * S);
    assert_eq!(lookups[1].ended - lookups[1].began, 10 * S);
    assert_eq!(lookups[2].began, lookups[1].ended + 4 * S);
    assert!(lookups[2].ok);
    // No daemon for 26 s: the panel's failure rule from 5 s, over at the first answer.
    let (start, end) = sim.failure_between(0);
    assert_eq!(start, Some(5 * S));
    assert_eq!(end, Some(sim.fetches()[0].ended));
}
