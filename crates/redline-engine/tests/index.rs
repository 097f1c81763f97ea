//! The scan index never changes a number: random corpora, changed between runs by random
//! appends (whole lines and partial ones), truncations, rewrites of the same length,
//! deletions and moves, are scanned with the index and without it, and every report,
//! every count, every error and every file's end must come out the same; the live
//! values (`/usage`) too. A small seeded generator drives it: a failure names its seed
//! (`REDLINE_INDEX_SEED=<seed>` runs that one alone; `REDLINE_INDEX_DUMP=1` prints the
//! corpus when it fails).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use redline_engine::index::{IndexSet, IndexStats, Loaded};
use redline_engine::live::{Live, Settings};
use redline_engine::prices::{CostMode, PriceTable};
use redline_engine::report::{self, BlockFilter, Kind, ModelNames, ReportOptions};
use redline_engine::roots::{Root, survey};
use redline_engine::scan::{Scan, ScanOptions, scan_indexed, scan_with};

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

/// A corpus, its cache directory, and a clock of its own (file times follow it).
struct World {
    dir: PathBuf,
    clock_ms: i64,
    /// File times are floored to this (1: nanosecond-ish; 1000: a coarse file system).
    granule_ms: i64,
    files: Vec<PathBuf>,
    made: u64,
    /// Files rewritten in place since the last scan: they are not grown before the next
    /// one (a file changed in the middle and then grown is read on from its old end, as
    /// docs/index.md says under "What it does not catch"; Claude Code only appends).
    rewritten: Vec<PathBuf>,
}

const MODELS: [&str; 4] = [
    "claude-opus-4-6",
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5-20251001",
    "<synthetic>",
];

impl World {
    fn new(seed: u64, rng: &mut Rng) -> World {
        let dir =
            std::env::temp_dir().join(format!("redline-index-prop-{}-{seed}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("projects")).unwrap();
        World {
            dir,
            clock_ms: 1_780_000_000_000,
            granule_ms: if rng.chance(30) { 1000 } else { 1 },
            files: Vec::new(),
            made: 0,
            rewritten: Vec::new(),
        }
    }

    fn projects(&self) -> PathBuf {
        self.dir.join("projects")
    }

    fn cache(&self) -> PathBuf {
        self.dir.join("cache")
    }

    /// The clock moves on; the file just written gets the time.
    fn touch(&mut self, path: &Path, rng: &mut Rng) {
        self.clock_ms += 1 + rng.below_u64(1500) as i64;
        let t = self.clock_ms - self.clock_ms.rem_euclid(self.granule_ms);
        let f = fs::OpenOptions::new().write(true).open(path).unwrap();
        f.set_modified(UNIX_EPOCH + Duration::from_millis(t as u64))
            .unwrap();
    }

    /// Every file gets the clock's time.
    fn date_all(&self) {
        let when = UNIX_EPOCH + Duration::from_millis(self.clock_ms as u64);
        for p in &self.files {
            let f = fs::OpenOptions::new().write(true).open(p).unwrap();
            f.set_modified(when).unwrap();
        }
    }

    fn new_path(&mut self, rng: &mut Rng) -> PathBuf {
        self.made += 1;
        let project = format!("-p{}", rng.below_u64(3));
        let rel = if rng.chance(25) && !self.files.is_empty() {
            // A subagent of an existing session.
            let parent = rng.choose(&self.files).cloned().unwrap();
            let stem = parent.file_stem().unwrap().to_string_lossy().into_owned();
            let project = parent.parent().unwrap().file_name().unwrap().to_owned();
            PathBuf::from(project)
                .join(stem)
                .join("subagents")
                .join(format!("agent-{}.jsonl", self.made))
        } else {
            PathBuf::from(project).join(format!("s{}.jsonl", self.made))
        };
        let p = self.projects().join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        p
    }

    /// One random transcript line (with its newline).
    fn line(&mut self, rng: &mut Rng) -> String {
        let ts_ms =
            self.clock_ms - 3_600_000 * rng.below_u64(60) as i64 - rng.below_u64(60_000) as i64;
        let ts = jiff::Timestamp::from_millisecond(ts_ms).unwrap();
        let ts = format!("{}", ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"));
        match rng.below_u64(20) {
            0 => "{\"type\":\"user\",\"message\":{\"role\":\"user\",\"content\":\"hi\"}}\n".into(),
            1 => "{not json at all\n".into(),
            2 => format!(
                "{{\"type\":\"assistant\",\"timestamp\":\"{ts}\",\"isApiErrorMessage\":true,\"message\":{{\"id\":\"err{}\",\"model\":\"<synthetic>\",\"content\":[{{\"type\":\"text\",\"text\":\"Claude AI usage limit reached|{}\"}}],\"usage\":{{\"input_tokens\":0,\"output_tokens\":0}}}},\"requestId\":\"rq{}\"}}\n",
                rng.below_u64(5),
                ts_ms / 1000 + 3600,
                rng.below_u64(5)
            ),
            n => {
                // A response line: ids from small pools, so copies meet across files.
                let id = rng.below_u64(40);
                let keyed = n != 3;
                // One request id (or none, for every seventh) per message id; ids from 30
                // up are a subagent's own. Copies of ids from 10 up may be on a sidechain,
                // and such a replay may carry another request id: one response with
                // main-chain copies in several files and a replay under another key.
                // Copies of ids below 10 may carry a second request id on the main chain
                // (a retry: two responses). (A sidechain copy of an id with two main-chain
                // keys counts the same in any order, but may add its place to either
                // response, see the ledger; the id pools keep that apart.)
                let sidechain = id >= 30 || (id >= 10 && rng.chance(20));
                let req = if !id.is_multiple_of(7) {
                    let other = if sidechain && rng.chance(50) {
                        100
                    } else if id < 10 && rng.chance(15) {
                        200
                    } else {
                        0
                    };
                    format!(",\"requestId\":\"req{}\"", id + other)
                } else {
                    String::new()
                };
                let model = rng.pick(&MODELS);
                let cost = if rng.chance(10) {
                    format!(",\"costUSD\":{}.{}", rng.below_u64(3), rng.below_u64(1000))
                } else {
                    String::new()
                };
                let thinking = if rng.chance(40) {
                    format!(
                        "{{\"type\":\"thinking\",\"thinking\":\"{}\",\"signature\":\"\"}},",
                        "hmm ".repeat(rng.below_u64(30) as usize)
                    )
                } else {
                    String::new()
                };
                let speed = if rng.chance(30) {
                    ",\"speed\":\"standard\""
                } else {
                    ""
                };
                format!(
                    "{{\"parentUuid\":null,\"isSidechain\":{sidechain},\"type\":\"assistant\",\"timestamp\":\"{ts}\",\"sessionId\":\"s\",\"version\":\"2.1.39\"{cost}{req},\"message\":{{{}\"model\":\"{model}\",\"role\":\"assistant\",\"content\":[{thinking}{{\"type\":\"text\",\"text\":\"{}\"}}],\"usage\":{{\"input_tokens\":{},\"cache_creation_input_tokens\":{},\"cache_read_input_tokens\":{},\"output_tokens\":{}{speed}}}}}}}\n",
                    if keyed {
                        format!("\"id\":\"msg{id}\",")
                    } else {
                        String::new()
                    },
                    "word ".repeat(rng.below_u64(20) as usize),
                    rng.below_u64(50),
                    rng.below_u64(5000),
                    rng.below_u64(200_000),
                    rng.below_u64(3000)
                )
            }
        }
    }

    fn lines(&mut self, rng: &mut Rng, n: u64) -> String {
        (0..n).map(|_| self.line(rng)).collect()
    }

    /// One random change to the corpus.
    fn change(&mut self, rng: &mut Rng) -> &'static str {
        let op = if self.files.is_empty() {
            0
        } else {
            rng.below_u64(10)
        };
        if op == 0 || op == 1 {
            let p = self.new_path(rng);
            let n = 1 + rng.below_u64(12);
            let text = self.lines(rng, n);
            fs::write(&p, text).unwrap();
            self.touch(&p, rng);
            self.files.push(p);
            return "create";
        }
        let i = rng.below_u64(self.files.len() as u64) as usize;
        let p = self.files[i].clone();
        let op = if self.rewritten.contains(&p) && (2..=5).contains(&op) {
            7
        } else {
            op
        };
        let mut bytes = fs::read(&p).unwrap();
        let what = match op {
            2..=4 => {
                // Append whole lines, perhaps ending in half of one (a writer mid-line).
                let n = 1 + rng.below_u64(6);
                let mut add = self.lines(rng, n).into_bytes();
                if rng.chance(30) {
                    let cut = rng.below_u64(add.len() as u64 - 1) as usize + 1;
                    add.truncate(cut);
                }
                bytes.extend_from_slice(&add);
                "append"
            }
            5 => {
                // Finish a partial last line, or append one more.
                let mut add = self.lines(rng, 1).into_bytes();
                if bytes.last().is_some_and(|&b| b != b'\n') {
                    add = b"\"}\n".to_vec();
                }
                bytes.extend_from_slice(&add);
                "finish"
            }
            6 => {
                let keep = rng.below_u64(bytes.len() as u64 + 1) as usize;
                bytes.truncate(keep);
                if rng.chance(50) {
                    let n = 1 + rng.below_u64(8);
                    bytes.extend_from_slice(self.lines(rng, n).as_bytes());
                    "truncate and grow"
                } else {
                    "truncate"
                }
            }
            7 => {
                // The same length, other content: a digit changed somewhere, not in an
                // id (`msg12`, `req3`), which would mix the id pools kept apart above.
                let in_id = |j: usize| {
                    let run = bytes[..j].iter().rev().take_while(|b| b.is_ascii_digit());
                    let before = j - run.count();
                    before > 0 && bytes[before - 1].is_ascii_alphabetic()
                };
                let digits: Vec<usize> = (0..bytes.len())
                    .filter(|&j| bytes[j].is_ascii_digit() && !in_id(j))
                    .collect();
                if let Some(&j) = digits.get(rng.below_u64(digits.len() as u64) as usize) {
                    bytes[j] = if bytes[j] == b'9' { b'1' } else { bytes[j] + 1 };
                }
                self.rewritten.push(p.clone());
                "same-length rewrite"
            }
            8 => {
                fs::remove_file(&p).unwrap();
                self.files.remove(i);
                return "delete";
            }
            _ => {
                // Moved to a new name, or over another file.
                let to = if rng.chance(30) && self.files.len() > 1 {
                    let j = (i + 1) % self.files.len();
                    self.files.remove(j)
                } else {
                    self.new_path(rng)
                };
                fs::rename(&p, &to).unwrap();
                let at = self.files.iter().position(|f| *f == p).unwrap();
                self.files[at] = to;
                return "move";
            }
        };
        fs::write(&p, &bytes).unwrap();
        self.touch(&p, rng);
        what
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Everything a scan says, in a form that compares: reports, counts, errors, ends, the
/// responses themselves (by model name, not id), and the live values.
fn summary(s: Scan, now_ms: i64) -> Vec<String> {
    let prices = PriceTable::bundled();
    let opts = ReportOptions::default();
    let names = ModelNames::new(&s.models);
    let data = report::prepare(&s, &prices, &opts, &names);
    let mut out = vec![
        report::report_json(Kind::Daily, &report::daily(&data, &opts), None).to_string(),
        report::report_json(Kind::Session, &report::session(&data, &opts), None).to_string(),
        redline_engine::blocks::blocks_json(
            &report::blocks(&data, &opts, BlockFilter::default(), now_ms),
            now_ms,
            None,
        )
        .to_string(),
        format!("{:?}", s.stats),
        format!("{:?}", s.errors),
        format!("{:?}", s.retry),
    ];
    for (i, e) in s.ends.iter().enumerate() {
        out.push(format!("{} {e:?}", s.files.get(i as u32).path.display()));
    }
    let mut entries: Vec<String> = s
        .ledger
        .entries()
        .map(|e| {
            format!(
                "{} {} {} {} {} {:?} {:?} {:?} {} {:?} {:?} {}",
                e.first_file,
                e.first_line,
                e.file,
                e.line,
                e.ts_ms,
                e.tokens(),
                e.cost_usd(),
                e.model().map(|m| s.models.name(m)),
                e.flags,
                e.content(),
                e.limit_reset_s(),
                e.id_hash
            )
        })
        .collect();
    entries.sort();
    out.extend(entries);
    out.push(format!("duplicates {}", s.ledger.duplicates_dropped()));
    let mut live = Live::from_scan(s, prices, CostMode::Auto);
    let mut usage = serde_json::to_value(live.usage(now_ms, &Settings::default())).unwrap();
    usage["updated_at"] = serde_json::Value::Null;
    out.push(usage.to_string());
    out
}

/// Scans `w`'s corpus with its index (writing the next one) and without, as of `w`'s
/// clock: the two must say the same (`what` names the round when they do not). Gives the
/// indexed scan's response count and what it did with each file.
fn indexed_against_plain(w: &World, options: ScanOptions, what: &str) -> (usize, IndexStats) {
    let roots = [Root {
        projects: w.projects(),
        explicit: true,
    }];
    let listing = survey(&roots);
    let set = IndexSet::open(&w.cache(), &[w.projects()], w.clock_ms, true);
    let (indexed, set) = scan_indexed(listing.transcripts.clone(), options, Some(set));
    let mut set = set.unwrap();
    set.finish(&indexed.files, &indexed.ledger);
    let responses = indexed.ledger.len();
    let plain = scan_with(listing.transcripts, options);
    assert_eq!(
        summary(plain, w.clock_ms),
        summary(indexed, w.clock_ms),
        "{what}"
    );
    (responses, set.stats)
}

fn run_seed(seed: u64, steps: u64, totals: &mut IndexStats, quiet_runs: &mut u64) {
    let mut rng = Rng::new(seed);
    let mut w = World::new(seed, &mut rng);
    for _ in 0..1 + rng.below_u64(8) {
        w.change(&mut rng);
    }
    let roots = [Root {
        projects: w.projects(),
        explicit: true,
    }];
    let mut history = Vec::new();
    for step in 0..steps {
        let now_ms = w.clock_ms;
        let options = ScanOptions {
            threads: Some(1 + rng.below_u64(3) as usize),
            hold_partial_last: rng.chance(40),
        };
        let listing = survey(&roots);
        let plain = scan_with(listing.transcripts.clone(), options);
        let set = IndexSet::open(&w.cache(), &[w.projects()], now_ms, true);
        assert!(
            set.problems.is_empty(),
            "seed {seed} step {step}: {:?}",
            set.problems
        );
        let (indexed, set) = scan_indexed(listing.transcripts, options, Some(set));
        let mut set = set.unwrap();
        set.finish(&indexed.files, &indexed.ledger);
        assert!(
            set.problems.is_empty(),
            "seed {seed} step {step}: {:?}",
            set.problems
        );
        totals.add(&set.stats);
        let st = &set.stats;
        if st.grown + st.reread + st.new == 0 && st.alone > 0 && !options.hold_partial_last {
            // Every file unchanged, and no more lines to come: responses the index says
            // no other file holds were kept without a dedup index at all.
            *quiet_runs += 1;
        }
        let (a, b) = (summary(plain, now_ms), summary(indexed, now_ms));
        if a != b {
            if std::env::var_os("REDLINE_INDEX_DUMP").is_some() {
                for t in survey(&roots).transcripts {
                    eprintln!(
                        "FILE {}\n{}",
                        t.path.display(),
                        fs::read_to_string(&t.path).unwrap_or_default()
                    );
                }
            }
            for (x, y) in a.iter().zip(&b).filter(|(x, y)| x != y).skip(1).take(6) {
                eprintln!("also differs:\n  plain:   {x}\n  indexed: {y}");
            }
            let first = a
                .iter()
                .zip(&b)
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            panic!(
                "seed {seed} step {step} ({options:?}) after {history:?}: indexed differs from --no-index at item {first}:\n  plain:   {}\n  indexed: {}\n(run alone: REDLINE_INDEX_SEED={seed})",
                a.get(first).map_or("-", String::as_str),
                b.get(first).map_or("-", String::as_str),
            );
        }
        // The index read back is whole and holds every file listed.
        let loaded = Loaded::read(
            &redline_engine::index::path_for(&w.cache(), &w.projects()),
            &w.projects(),
        );
        if let Ok(l) = loaded {
            assert_eq!(
                l.len(),
                w.files.len(),
                "seed {seed} step {step}: files indexed"
            );
        }
        history.clear();
        w.rewritten.clear();
        w.clock_ms += rng.below_u64(6000) as i64;
        for _ in 0..rng.below_u64(4) {
            history.push(w.change(&mut rng));
        }
        w.clock_ms += rng.below_u64(6000) as i64;
    }
}

#[test]
fn indexed_scans_equal_plain_ones_through_random_changes() {
    let mut totals = IndexStats::default();
    if let Some(seed) = rng::seed_from_env("REDLINE_INDEX_SEED") {
        run_seed(seed, 12, &mut totals, &mut 0);
        return;
    }
    let mut quiet_runs = 0;
    for seed in 0..60 {
        run_seed(seed, 10, &mut totals, &mut quiet_runs);
    }
    eprintln!("runs that found every file unchanged: {quiet_runs}");
    assert!(quiet_runs > 10, "{quiet_runs}");
    assert!(totals.alone > 100, "{totals:?}");
    eprintln!("index use over every run: {totals:?}");
    // The index was really used, in each of its ways.
    assert!(totals.unchanged > 100, "{totals:?}");
    assert!(totals.grown > 20, "{totals:?}");
    assert!(totals.reread > 20, "{totals:?}");
    assert!(totals.bytes_skipped > 0, "{totals:?}");
}

/// A file ending in a whole response without its newline: a report counts it, the index
/// does not hold it, and the bits that say which responses no other file holds still sit
/// on the right responses (of this file and of the files after it, one of which shares
/// a response with it), so the next runs, warm or not, count every response once.
#[test]
fn a_last_line_without_its_newline_leaves_the_index_right() {
    let mut rng = Rng::new(11);
    let mut w = World::new(2000, &mut rng);
    let response = |id: &str, out: u32| {
        format!(
            "{{\"type\":\"assistant\",\"timestamp\":\"2026-05-27T10:00:00.000Z\",\"requestId\":\"r{id}\",\"message\":{{\"id\":\"{id}\",\"model\":\"claude-opus-4-6\",\"role\":\"assistant\",\"content\":[],\"usage\":{{\"input_tokens\":3,\"output_tokens\":{out}}}}}}}"
        )
    };
    let a = w.projects().join("-p/a.jsonl");
    let b = w.projects().join("-p/b.jsonl");
    fs::create_dir_all(a.parent().unwrap()).unwrap();
    // a: two responses, then a third with no newline; b: a copy of a's first, then two
    // of its own.
    fs::write(
        &a,
        format!(
            "{}\n{}\n{}",
            response("m1", 10),
            response("m2", 20),
            response("m3", 30)
        ),
    )
    .unwrap();
    fs::write(
        &b,
        format!(
            "{}\n{}\n{}\n",
            response("m1", 10),
            response("m4", 40),
            response("m5", 50)
        ),
    )
    .unwrap();
    for p in [&a, &b] {
        w.touch(p, &mut rng);
        w.files.push(p.clone());
    }
    for round in 0..4 {
        w.clock_ms += 10_000;
        let options = ScanOptions {
            threads: Some(1 + round % 2),
            hold_partial_last: false,
        };
        let (responses, _) = indexed_against_plain(&w, options, &format!("round {round}"));
        assert_eq!(responses, 5, "round {round}: every response once");
        if round == 2 {
            // The last line gets its newline.
            let mut f = fs::OpenOptions::new().append(true).open(&a).unwrap();
            std::io::Write::write_all(&mut f, b"\n").unwrap();
            drop(f);
            w.touch(&a, &mut rng);
        }
    }
}

/// A transcript far larger than a read (several chunks), ending in half a line, then
/// grown: its edges are the hashes of its first and last bytes read, and it is read on
/// from where the index stopped, to the numbers of a plain scan.
#[test]
fn a_large_file_keeps_its_edges_and_is_read_on() {
    let mut rng = Rng::new(7);
    let mut w = World::new(1000, &mut rng);
    let p = w.projects().join("-big/s.jsonl");
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    let mut text = String::new();
    while text.len() < 1_500_000 {
        text.push_str(&w.line(&mut rng));
    }
    text.push_str("{\"type\":\"assistant\",\"half");
    fs::write(&p, &text).unwrap();
    w.touch(&p, &mut rng);
    w.files.push(p.clone());
    for round in 0..3 {
        w.clock_ms += 10_000;
        let options = ScanOptions {
            threads: Some(2),
            hold_partial_last: round == 1,
        };
        let (_, stats) = indexed_against_plain(&w, options, &format!("round {round}"));
        if round > 0 {
            assert_eq!(stats.grown, 1, "round {round}: {stats:?}");
        }
        let l = Loaded::read(
            &redline_engine::index::path_for(&w.cache(), &w.projects()),
            &w.projects(),
        )
        .unwrap();
        let h = l.facts(0).unwrap().head;
        let bytes = fs::read(&p).unwrap();
        let end = h.identity.offset as usize;
        assert!(end < bytes.len(), "the partial line is not indexed");
        assert_eq!(h.head, redline_engine::index::edge_hash(&bytes[..4096]));
        assert_eq!(
            h.tail,
            redline_engine::index::edge_hash(&bytes[end - 4096..end])
        );
        // More lines, and half of another.
        let more = w.lines(&mut rng, 50);
        let mut f = fs::OpenOptions::new().append(true).open(&p).unwrap();
        std::io::Write::write_all(&mut f, format!("x\"}}\n{more}{{\"half").as_bytes()).unwrap();
        drop(f);
        w.touch(&p, &mut rng);
    }
}

/// A history of many files (enough that the plan looks their records up on several
/// threads): each file gets its own verdict, in the listing's order. Unchanged files are
/// taken from the index, the one that grew is read on, the one rewritten and the new one
/// are read, the one deleted is gone, and the numbers are a plain scan's.
/// A response of its own (`r<id>`, `m<id>`) with `out` output tokens, as a line.
fn response(id: usize, out: usize) -> String {
    format!(
        "{{\"type\":\"assistant\",\"timestamp\":\"2026-05-27T10:00:00.000Z\",\"requestId\":\"r{id}\",\"message\":{{\"id\":\"m{id}\",\"model\":\"claude-opus-4-6\",\"role\":\"assistant\",\"content\":[],\"usage\":{{\"input_tokens\":3,\"output_tokens\":{out}}}}}}}\n"
    )
}

/// Two workers, reading every line (a report's scan).
const TWO_THREADS: ScanOptions = ScanOptions {
    threads: Some(2),
    hold_partial_last: false,
};

#[test]
fn a_large_history_is_planned_file_by_file() {
    let mut rng = Rng::new(5);
    let mut w = World::new(3000, &mut rng);
    w.granule_ms = 1;
    let n = 9_000;
    for i in 0..n {
        let p = w.projects().join(format!("-p{}/s{i:05}.jsonl", i % 7));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, response(i, 10)).unwrap();
        w.files.push(p);
    }
    w.date_all();
    let options = TWO_THREADS;
    let run = |w: &World| indexed_against_plain(w, options, "").1;
    w.clock_ms += 60_000;
    let first = run(&w);
    assert_eq!(first.new, n as u64);

    w.clock_ms += 60_000;
    // Grown: a line appended to the 17th file; rewritten with as many bytes: the 4,600th;
    // deleted: the 8,000th; new: one more.
    let grown = w.files[17].clone();
    let mut f = fs::OpenOptions::new().append(true).open(&grown).unwrap();
    std::io::Write::write_all(&mut f, response(n + 1, 20).as_bytes()).unwrap();
    drop(f);
    w.touch(&grown, &mut rng);
    let rewritten = w.files[4_600].clone();
    fs::write(&rewritten, response(n + 2, 10)).unwrap();
    w.touch(&rewritten, &mut rng);
    fs::remove_file(&w.files[8_000]).unwrap();
    let new = w.projects().join("-p0/t.jsonl");
    fs::write(&new, response(n + 3, 30)).unwrap();
    w.touch(&new, &mut rng);
    w.clock_ms += 60_000;
    let second = run(&w);
    assert_eq!(
        (second.unchanged, second.grown, second.reread, second.new),
        (n as u64 - 3, 1, 1, 1),
        "{second:?}"
    );
}

/// Unchanged files are decoded by two workers at once but merged in path order: the
/// responses of a history taken whole from its index come out in the order reports walk
/// them in (the first copy's file in path order, then its line), which spares a report
/// moving them. Files of very different sizes make the workers' runs take unequal times.
#[test]
fn an_unchanged_history_comes_back_in_path_order() {
    let mut rng = Rng::new(6);
    let mut w = World::new(3001, &mut rng);
    w.granule_ms = 1;
    let mut id = 0;
    for i in 0..4_000 {
        let p = w.projects().join(format!("-p{}/s{i:05}.jsonl", i % 5));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let lines = if i % 97 == 0 { 3_000 } else { 1 + i % 4 };
        let text: String = (0..lines)
            .map(|_| {
                id += 1;
                response(id, id)
            })
            .collect();
        fs::write(&p, text).unwrap();
        w.files.push(p);
    }
    w.date_all();
    let options = TWO_THREADS;
    w.clock_ms += 60_000;
    indexed_against_plain(&w, options, "first");
    w.clock_ms += 60_000;
    // Two workers, and more than there are cores: a run left while another worker
    // merges must still be merged, in its turn.
    for threads in [2, 3, 8] {
        let listing = survey(&[Root {
            projects: w.projects(),
            explicit: true,
        }]);
        let set = IndexSet::open(&w.cache(), &[w.projects()], w.clock_ms, true);
        let options = ScanOptions {
            threads: Some(threads),
            ..options
        };
        let (scan, set) = scan_indexed(listing.transcripts, options, Some(set));
        assert_eq!(set.unwrap().stats.unchanged, 4_000);
        assert_eq!(scan.ledger.len(), id, "{threads} threads");
        let place = scan.files.places();
        let keys: Vec<(u32, u32)> = scan
            .ledger
            .entries()
            .map(|e| (place[e.first_file as usize], e.first_line))
            .collect();
        assert!(
            keys.is_sorted(),
            "{threads} threads: responses out of path order"
        );
    }
}
