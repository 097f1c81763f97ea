//! Report tables fit the terminal: `COLUMNS` (else the terminal's width) bounds every
//! line, narrow widths get ccusage's compact table, `--compact` forces it, piped output
//! without `COLUMNS` keeps the full table, and `blocks` shows ccusage's `%` column when a
//! token limit is set. Run on a corpus `redline demo generate` writes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// A generated corpus (3000 responses, 4 models, long project names), written once.
fn corpus() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("redline-report-tables-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(env!("CARGO_BIN_EXE_redline"))
            .args(["demo", "generate", "-n", "3000", "--seed", "5", "--out"])
            .arg(dir.join("claude"))
            .output()
            .expect("run redline demo generate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// `redline report ARGS` on the corpus with `vars` set (and no `COLUMNS` unless given);
/// its standard output, a pipe.
fn report(args: &[&str], vars: &[(&str, &str)]) -> String {
    let home = corpus();
    let out = Command::new(env!("CARGO_BIN_EXE_redline"))
        .arg("report")
        .args(args)
        .arg("--transcripts-only")
        .env_clear()
        .env("HOME", home)
        .env("CLAUDE_CONFIG_DIR", home.join("claude"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("TZ", "UTC")
        .env("REDLINE_TIMEZONE", "UTC")
        .envs(vars.iter().copied())
        .output()
        .expect("run redline report");
    assert!(
        out.status.success(),
        "report {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The widest line, in display columns (the output is ASCII and box-drawing characters,
/// one column each).
fn widest(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// The cells of the table's lines that start with `first` (trimmed, borders dropped).
fn rows_starting<'a>(text: &'a str, first: &str) -> Vec<Vec<&'a str>> {
    text.lines()
        .filter(|l| l.starts_with('│'))
        .map(|l| {
            l.trim_matches('│')
                .split('│')
                .map(str::trim)
                .collect::<Vec<_>>()
        })
        .filter(|cells| cells[0] == first)
        .collect()
}

const KINDS: [&[&str]; 10] = [
    &["daily"],
    &["daily", "--breakdown"],
    &["weekly"],
    &["monthly", "--breakdown"],
    &["session"],
    &["session", "--breakdown"],
    &["blocks"],
    &["blocks", "--token-limit", "max"],
    &["blocks", "--token-limit", "50000000"],
    &["daily", "--compact"],
];

#[test]
fn every_table_fits_80_and_100_columns() {
    // The corpus makes tables far wider than a terminal when nothing bounds them.
    assert!(widest(&report(&["session"], &[])) > 150);
    assert!(widest(&report(&["daily", "--breakdown"], &[])) > 100);
    for columns in [80, 100] {
        let c = columns.to_string();
        for args in KINDS {
            let text = report(args, &[("COLUMNS", &c)]);
            assert!(text.contains('┌'), "no table for {args:?}:\n{text}");
            for line in text.lines() {
                assert!(
                    line.chars().count() <= columns,
                    "report {args:?} at COLUMNS={columns}: a line of {} columns:\n{line}\n\n{text}",
                    line.chars().count()
                );
            }
        }
    }
}

#[test]
fn narrow_terminals_get_the_compact_table() {
    for columns in ["80", "99"] {
        let text = report(&["session"], &[("COLUMNS", columns)]);
        assert!(!text.contains("Cache"), "COLUMNS={columns}:\n{text}");
        assert!(
            !text.contains("Last Activity"),
            "COLUMNS={columns}:\n{text}"
        );
        assert!(text.contains("Output"), "COLUMNS={columns}:\n{text}");
        assert!(
            text.ends_with(
                "\nRunning in Compact Mode\nExpand terminal width to see cache metrics and total tokens\n"
            ),
            "COLUMNS={columns}:\n{text}"
        );
    }
    // At 100 and beyond, the daily table keeps every column (its text wrapped if need be).
    for columns in ["100", "120", "250"] {
        let text = report(&["daily"], &[("COLUMNS", columns)]);
        for column in ["Cache", "Read", "Total", "Models"] {
            assert!(text.contains(column), "COLUMNS={columns}:\n{text}");
        }
        assert!(!text.contains("Compact Mode"), "COLUMNS={columns}:\n{text}");
    }
    // The numbers are the same in both layouts.
    let full = report(&["session"], &[]);
    let compact = report(&["session"], &[("COLUMNS", "80")]);
    let (full, compact) = (
        &rows_starting(&full, "Total")[0],
        &rows_starting(&compact, "Total")[0],
    );
    // Total, Project, Models, Input, Output, then (full) three cache columns, Cost.
    assert_eq!(compact[3..5], full[3..5]);
    assert_eq!(compact[5], full[8]);
}

#[test]
fn compact_flag_at_any_width() {
    let compact = report(&["daily", "--compact"], &[]);
    for columns in ["80", "120", "250"] {
        let text = report(&["daily", "--compact"], &[("COLUMNS", columns)]);
        assert_eq!(text, compact, "COLUMNS={columns}");
    }
    assert!(!compact.contains("Cache"), "{compact}");
    assert!(compact.contains("│ Date "), "{compact}");
    for column in ["Models", "Input", "Output", "Cost (USD)"] {
        assert!(compact.contains(column), "{compact}");
    }
    // Asked for, so no advice to widen the terminal.
    assert!(!compact.contains("Compact Mode"), "{compact}");
    // Compact blocks write a block's start as MM-DD HH:MM.
    let blocks = report(&["blocks", "--compact"], &[]);
    let starts: Vec<&str> = blocks
        .lines()
        .filter(|l| l.starts_with("│ 0") || l.starts_with("│ 1"))
        .collect();
    assert!(starts.len() > 5, "{blocks}");
    assert!(!blocks.lines().any(|l| l.starts_with("│ 20")), "{blocks}");
}

#[test]
fn piped_output_keeps_the_full_table() {
    for vars in [
        &[][..],
        &[("COLUMNS", "")],
        &[("COLUMNS", "0")],
        &[("COLUMNS", "wide")],
    ] {
        let text = report(&["session"], vars);
        let header = &rows_starting(&text, "Session")[0];
        assert_eq!(
            header,
            &[
                "Session",
                "Project",
                "Models",
                "Input",
                "Output",
                "Cache Create",
                "Cache Read",
                "Total Tokens",
                "Cost (USD)",
                "Last Activity"
            ],
            "{vars:?}"
        );
        assert!(!text.contains("Compact Mode"));
        // Nothing wrapped: every session's project is a whole directory name.
        let projects: Vec<String> = std::fs::read_dir(corpus().join("claude/projects"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let sessions: Vec<Vec<&str>> = text
            .lines()
            .filter(|l| l.starts_with('│'))
            .map(|l| {
                l.trim_matches('│')
                    .split('│')
                    .map(str::trim)
                    .collect::<Vec<_>>()
            })
            .filter(|cells| cells[0].ends_with('…'))
            .collect();
        assert!(sessions.len() > 10, "{text}");
        for cells in sessions {
            assert!(projects.iter().any(|p| p == cells[1]), "{cells:?}");
        }
    }
}

#[test]
fn blocks_show_the_share_of_a_token_limit() {
    let limit = 5_000_000u64;
    let without = report(&["blocks"], &[]);
    assert!(!rows_starting(&without, "Block Start")[0].contains(&"%"));
    let flag = report(&["blocks", "--token-limit", &limit.to_string()], &[]);
    let variable = report(&["blocks"], &[("REDLINE_BLOCK_BUDGET", &limit.to_string())]);
    assert_eq!(flag, variable);
    let header = &rows_starting(&flag, "Block Start")[0];
    assert_eq!(
        header,
        &[
            "Block Start",
            "Duration/Status",
            "Models",
            "Tokens",
            "%",
            "Cost"
        ]
    );
    let mut checked = 0;
    for line in flag.lines().filter(|l| l.starts_with("│ 20")) {
        let cells: Vec<&str> = line.trim_matches('│').split('│').map(str::trim).collect();
        if cells[1].starts_with("(gap") {
            assert_eq!(cells[4], "", "{line}");
            continue;
        }
        let tokens: u64 = cells[3].replace(',', "").parse().expect("a token count");
        let want = format!("{:.1}%", tokens as f64 * 100.0 / limit as f64);
        assert_eq!(cells[4], want, "{line}");
        checked += 1;
    }
    assert!(checked > 5, "{flag}");
    // `max`: the largest completed block is the limit, so it is at 100.0%.
    let max = report(&["blocks", "--token-limit", "max"], &[]);
    assert!(max.contains("│ 100.0% │"), "{max}");
}
