//! The thinking estimate on real transcripts (`../shared/fixtures/claude-real2/`, whose
//! thinking blocks keep their text and a real signature): for every session with thinking
//! text, the ratio estimated from the signatures alone, with the text taken out as Claude
//! Code does since 2.1.69, is within 10 % of the ratio from the text, and never unknown.
//! `claude-real/`'s signatures were redacted by their publisher: with the text taken
//! out there, those responses are unknown, never a made-up figure.
//!
//! Skips with the reason when `../shared` is absent, unless `CI=true`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use redline_engine::prices::PriceTable;
use redline_engine::report::{self, ModelNames, ReportOptions};
use redline_engine::roots::{Root, list_transcripts};
use redline_engine::scan::scan;
use redline_engine::thinking::{Basis, Ratio};
use serde_json::Value;

fn fixture(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(name);
    if dir.join("projects").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {} is missing",
        dir.display()
    );
    eprintln!(
        "skipped: {} is missing (../shared is not beside the project)",
        dir.display()
    );
    None
}

/// Each session's thinking over output, read from `claude_dir`.
fn sessions(claude_dir: &Path) -> BTreeMap<String, Ratio> {
    let roots = [Root {
        projects: claude_dir.join("projects"),
        explicit: true,
    }];
    let s = scan(list_transcripts(&roots).unwrap(), Some(2));
    let names = ModelNames::new(&s.models);
    let opts = ReportOptions::default();
    let data = report::prepare(&s, &PriceTable::bundled(), &opts, &names);
    report::session(&data, &opts)
        .rows
        .into_iter()
        .map(|r| (r.key, r.thinking))
        .collect()
}

/// A copy of `from` with every thinking block's text emptied (the signature kept), as
/// Claude Code 2.1.69 and later write them. Lines that are not JSON stay as they are.
fn without_thinking_text(from: &Path, to: &Path) -> usize {
    let mut emptied = 0;
    let mut stack = vec![from.join("projects")];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(from).unwrap();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let text = fs::read_to_string(&p).unwrap();
            let mut out = String::new();
            for line in text.lines() {
                match serde_json::from_str::<Value>(line) {
                    Ok(mut v) => {
                        if let Some(blocks) = v["message"]["content"].as_array_mut() {
                            for b in blocks {
                                if b["type"] == "thinking" && b["thinking"] != "" {
                                    b["thinking"] = Value::from("");
                                    emptied += 1;
                                }
                            }
                        }
                        out.push_str(&v.to_string());
                    }
                    Err(_) => out.push_str(line),
                }
                out.push('\n');
            }
            let dest = to.join(rel);
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::write(dest, out).unwrap();
        }
    }
    emptied
}

struct Temp(PathBuf);
impl Drop for Temp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn temp(name: &str) -> Temp {
    let d = std::env::temp_dir().join(format!("redline-thinking-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    Temp(d)
}

#[test]
fn signatures_alone_give_each_sessions_ratio_within_ten_percent() {
    let Some(dir) = fixture("claude-real2") else {
        return;
    };
    let from_text = sessions(&dir);
    let hidden = temp("real2");
    let emptied = without_thinking_text(&dir, &hidden.0);
    assert!(emptied >= 100, "{emptied} thinking blocks emptied");
    let from_signature = sessions(&hidden.0);
    let mut checked = 0;
    for (session, text) in &from_text {
        let sig = &from_signature[session];
        // Token counts do not change with the text.
        assert_eq!(text.output, sig.output, "{session}");
        if text.thinking == 0.0 {
            continue;
        }
        let (a, b) = (text.value().unwrap(), sig.value());
        let b = b.unwrap_or_else(|| panic!("{session}: no ratio from the signatures"));
        let off = (b - a).abs() / a;
        eprintln!(
            "{session}: text {a:.4}, signature {b:.4}, {:.1} % apart",
            off * 100.0
        );
        assert!(off <= 0.10, "{session}: text {a:.4}, signature {b:.4}");
        assert_eq!(sig.basis(), Some(Basis::Estimate));
        checked += 1;
    }
    assert!(checked >= 3, "{checked} sessions with thinking");
}

#[test]
fn redacted_signatures_without_text_are_unknown() {
    let Some(dir) = fixture("claude-real") else {
        return;
    };
    let from_text = sessions(&dir);
    let hidden = temp("real");
    assert!(without_thinking_text(&dir, &hidden.0) > 0);
    let hidden = sessions(&hidden.0);
    let mut unknown = 0;
    for (session, text) in &from_text {
        let h = &hidden[session];
        if text.thinking > 0.0 {
            // Every response with a thinking block is left out; the rest still count.
            assert!(h.left_out > 0, "{session}");
            assert!(h.thinking == 0.0, "{session}: nothing is made up");
            unknown += 1;
        }
    }
    assert!(unknown > 0);
}
