//! The least a warm run that keeps each response's facts must do after its listing: open
//! the scan index and decode every file's record, on as many threads as a scan uses.
//! `bench/run` adds this to the warm run's listing to show how far the warm run is from
//! the floor of its design (docs/index.md, "How fast").
//!
//! ```text
//! cargo run --release -p redline-engine --example facts_floor -- \
//!     <projects dir> <cache dir: $XDG_CACHE_HOME/redline> [runs]
//! ```
//!
//! Prints one line per run and, last, the medians: `floor <load ms> <decode ms>
//! <responses>`.

use std::path::PathBuf;
use std::time::Instant;

use redline_engine::index::{Loaded, format, path_for};

fn main() {
    let mut args = std::env::args_os().skip(1);
    let (Some(projects), Some(cache)) = (args.next(), args.next()) else {
        eprintln!("usage: facts_floor <projects dir> <cache dir> [runs]");
        std::process::exit(2);
    };
    let (projects, cache) = (PathBuf::from(projects), PathBuf::from(cache));
    let runs: usize = args
        .next()
        .and_then(|r| r.to_str()?.parse().ok())
        .unwrap_or(5);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (mut loads, mut decodes, mut responses) = (Vec::new(), Vec::new(), 0);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let loaded = match Loaded::read(&path_for(&cache, &projects), &projects) {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "facts_floor: no usable index for {}: {e:?}",
                    projects.display()
                );
                std::process::exit(1);
            }
        };
        let read = Instant::now();
        let n = loaded.len();
        let share = n.div_ceil(threads).max(1);
        // Each thread decodes its share of the records and adds up the tokens, so the
        // decoding cannot be left out by the compiler.
        let counted: Vec<(usize, u64)> = std::thread::scope(|s| {
            let parts: Vec<_> = (0..n)
                .step_by(share)
                .map(|from| {
                    let loaded = &loaded;
                    s.spawn(move || {
                        let (mut parts, mut count, mut tokens) = (Vec::new(), 0, 0u64);
                        for at in from..(from + share).min(n) {
                            if format::get_facts_into(loaded.record(at), &mut parts).is_ok() {
                                count += parts.len();
                                tokens += parts
                                    .iter()
                                    .map(|(_, p)| {
                                        p.counts.iter().map(|&c| u64::from(c)).sum::<u64>()
                                    })
                                    .sum::<u64>();
                            }
                        }
                        (count, tokens)
                    })
                })
                .collect();
            parts.into_iter().map(|p| p.join().unwrap()).collect()
        });
        let done = Instant::now();
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
        responses = counted.iter().map(|c| c.0).sum();
        let tokens: u64 = counted.iter().map(|c| c.1).sum();
        println!(
            "run: load {:.1} ms, decode {:.1} ms, {responses} responses, {tokens} tokens",
            ms(started, read),
            ms(read, done)
        );
        loads.push(ms(started, read));
        decodes.push(ms(read, done));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "floor {:.2} {:.2} {responses}",
        median(&mut loads),
        median(&mut decodes)
    );
}
