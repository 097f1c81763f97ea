//! `redline demo generate` end to end: it writes a corpus redline can report on, the same
//! bytes for the same seed, and it will not write into a directory that holds anything.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn redline(args: &[&str], config_dir: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_redline"));
    cmd.args(args);
    if let Some(dir) = config_dir {
        cmd.env("CLAUDE_CONFIG_DIR", dir);
    }
    cmd.output().expect("run redline")
}

/// `redline demo generate` into `dir`: 3000 responses, seed 3, and `extra` flags.
fn generate(dir: &Path, extra: &[&str]) -> Output {
    let dir = dir.to_str().expect("a UTF-8 temp path");
    let mut args = vec![
        "demo", "generate", "--out", dir, "-n", "3000", "--seed", "3",
    ];
    args.extend_from_slice(extra);
    redline(&args, None)
}

fn temp(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("redline-demo-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).expect("read file");
                out.push((p.strip_prefix(dir).expect("below dir").to_path_buf(), bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn generate_then_report() {
    let dir = temp("a");
    let out = generate(&dir, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("responses") && said.contains("redline report daily"),
        "{said}"
    );
    assert!(dir.join("projects").is_dir());

    let report = redline(
        &["report", "daily", "--json", "--timezone", "UTC"],
        Some(&dir),
    );
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&report.stdout).expect("JSON");
    assert!(!v["daily"].as_array().expect("rows").is_empty());
    assert!(v["totals"]["outputTokens"].as_u64().expect("tokens") > 0);
    // The malformed lines the generator writes are reported by place, not fatal.
    let malformed: u64 = said
        .rsplit("malformed lines: ")
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("the generator says how many malformed lines it wrote");
    assert!(malformed > 0, "{said}");
    let warnings = String::from_utf8_lossy(&report.stderr);
    assert!(
        warnings.contains(".jsonl:") && warnings.contains("malformed JSON"),
        "{warnings}"
    );

    // A directory that holds something is refused, unless --force.
    let again = generate(&dir, &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let forced = generate(&dir, &["--force"]);
    assert!(forced.status.success());

    // The same seed and count give the same bytes; --comparable changes them.
    let twin = temp("b");
    let out = generate(&twin, &[]);
    assert!(out.status.success());
    assert_eq!(tree(&dir), tree(&twin));
    let other = temp("c");
    let out = generate(&other, &["--comparable"]);
    assert!(out.status.success());
    assert_ne!(tree(&dir), tree(&other));
    for d in [dir, twin, other] {
        let _ = std::fs::remove_dir_all(d);
    }
}
