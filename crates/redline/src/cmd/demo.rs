//! `redline demo generate`: writes a corpus of made-up transcripts (the `redline-demo`
//! crate) for trying the reports or timing them, and says on stderr what it wrote.

use std::io::ErrorKind;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use redline_demo::Options;

use crate::cli::GenerateArgs;

/// Writes the corpus, refusing a directory that holds anything unless `--force`.
pub fn generate(args: &GenerateArgs) -> Result<()> {
    if !args.force && !is_empty_or_absent(&args.out)? {
        bail!(
            "{} is not empty; pass --force to write into it anyway",
            args.out.display()
        );
    }
    let options = Options {
        malformed: !args.no_malformed,
        sidechain_rerequests: !args.comparable,
        streamed_without_request_id: !args.comparable,
    };
    let started = Instant::now();
    let stats = redline_demo::generate_with(&args.out, args.seed, args.responses, &options)?;
    let secs = started.elapsed().as_secs_f64();
    let mb = stats.bytes as f64 / 1e6;
    eprintln!(
        "wrote {} responses in {} lines, {} files, {mb:.1} MB (largest file {:.1} MB) under {} \
         in {secs:.1} s ({:.0} MB/s); malformed lines: {}",
        stats.responses,
        stats.lines,
        stats.files,
        stats.largest_file as f64 / 1e6,
        args.out.join("projects").display(),
        mb / secs.max(1e-9),
        stats.truncated + stats.garbage,
    );
    eprintln!(
        "try: CLAUDE_CONFIG_DIR={} redline report daily",
        args.out.display()
    );
    Ok(())
}

fn is_empty_or_absent(dir: &Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}
