//! `/metrics`: every metric name the daemon exposes, declared here and nowhere else, and
//! the Prometheus text rendering of a [`Snapshot`].
//!
//! Token and cost counters use the names an OpenTelemetry collector gives Claude Code's
//! own metrics (`claude_code_token_usage_tokens_total{type,model}`,
//! `claude_code_cost_usage_USD_total{model}`), so dashboards written for those (Grafana
//! 25255) read redline unchanged. Like any Prometheus counter they count from the
//! daemon's start; history read at start-up is in `/usage`, not here. Labels come from
//! closed sets (the four token types, lamp and gauge names), model ids or project names.

use std::fmt::Write;

use redline_core::{Lamp, LampState};

use crate::hub::Snapshot;

/// Tokens by `type` and `model`, since the daemon started.
pub const TOKENS: &str = "claude_code_token_usage_tokens_total";
/// Dollars by `model`, since the daemon started.
pub const COST: &str = "claude_code_cost_usage_USD_total";
/// Tokens per minute over the tach window.
pub const TACH: &str = "redline_tach_tokens_per_minute";
/// Share of the 5-hour window left (the FUEL needle).
pub const FUEL: &str = "redline_fuel_remaining_ratio";
/// Share of the 5-hour window used (`window_5h_pct`).
pub const WINDOW_USED: &str = "redline_window_5h_used_ratio";
/// Thinking tokens over output tokens in the ratio window (TEMP).
pub const THINKING: &str = "redline_thinking_ratio";
/// Cache reads over prompt tokens in the ratio window (BOOST).
pub const CACHE_HIT: &str = "redline_cache_hit_ratio";
/// Share of the 7-day window used.
pub const WEEKLY_USED: &str = "redline_weekly_used_ratio";
/// Tokens in the open 5-hour block.
pub const BLOCK_TOKENS: &str = "redline_block_tokens";
/// The block budget.
pub const BUDGET: &str = "redline_block_budget_tokens";
/// Dollars today.
pub const COST_TODAY: &str = "redline_cost_today_usd";
/// Context tokens in use.
pub const CONTEXT_USED: &str = "redline_context_used_tokens";
/// The context window.
pub const CONTEXT_WINDOW: &str = "redline_context_window_tokens";
/// The current model, as labels.
pub const MODEL_INFO: &str = "redline_model_info";
/// Needle positions, by `gauge`.
pub const GAUGE: &str = "redline_gauge_position";
/// Lamp states by `lamp`: 0 off, 1 on, 2 blinking, 3 pulsing.
pub const LAMP: &str = "redline_lamp_state";
/// Whether a source is healthy, by `source`.
pub const SOURCE_UP: &str = "redline_source_up";
/// Transcript lines read (the start-up scan included).
pub const LINES: &str = "redline_lines_read_total";
/// Lines that could not be read.
pub const PARSE_ERRORS: &str = "redline_parse_errors_total";
/// Lines longer than the reader's bound, passed over unread.
pub const LONG_LINES: &str = "redline_long_lines_total";
/// Distinct responses counted.
pub const RESPONSES: &str = "redline_responses_total";
/// Copies folded into a response already counted.
pub const DUPLICATES: &str = "redline_duplicate_copies_total";
/// Transcript files followed.
pub const FILES: &str = "redline_files_watched";
/// Em-dashes in the assistant's visible text, by `model`.
pub const EMDASH: &str = "redline_emdash_total";
/// Occurrences of each watch-list phrase in the assistant's text, by `phrase`.
pub const PHRASE: &str = "redline_phrase_total";
/// Commits attributed to sessions since the daemon started, by `project`.
pub const GIT_COMMITS: &str = "redline_git_commits_total";
/// Commits Claude Code's OpenTelemetry reported since the daemon started (the name a
/// collector gives `claude_code.commit.count`).
pub const OTEL_COMMITS: &str = "claude_code_commit_count_total";
/// Lines Claude Code's OpenTelemetry reported, by `type` (added, removed).
pub const OTEL_LINES: &str = "claude_code_lines_of_code_count_total";

/// The Prometheus text exposition of a snapshot.
pub fn render(s: &Snapshot) -> String {
    let mut out = String::with_capacity(4096);
    let u = &s.usage;
    head(
        &mut out,
        TOKENS,
        "counter",
        "Tokens used since the daemon started, by type and model.",
    );
    for (model, c) in &s.counters {
        for (kind, n) in [
            ("input", c.tokens.input),
            ("output", c.tokens.output),
            ("cacheRead", c.tokens.cache_read),
            ("cacheCreation", c.tokens.cache_creation),
        ] {
            let _ = writeln!(
                out,
                "{TOKENS}{{type=\"{kind}\",model=\"{}\"}} {n}",
                escape(model)
            );
        }
    }
    head(
        &mut out,
        COST,
        "counter",
        "US dollars spent since the daemon started, by model.",
    );
    for (model, c) in &s.counters {
        let _ = writeln!(out, "{COST}{{model=\"{}\"}} {}", escape(model), c.cost_usd);
    }
    let count = |v: Option<u64>| v.map(|v| v as f64);
    let values: [(&str, &str, Option<f64>); 11] = [
        (
            TACH,
            "Tokens per minute over the tach window.",
            Some(u.tach.tokens_per_min),
        ),
        (FUEL, "Share of the 5-hour window left.", u.fuel.remaining),
        (
            WINDOW_USED,
            "Share of the 5-hour window used.",
            u.window_5h_pct,
        ),
        (
            THINKING,
            "Thinking tokens over output tokens in the ratio window.",
            u.thinking_ratio,
        ),
        (
            CACHE_HIT,
            "Cache reads over prompt tokens in the ratio window.",
            u.cache_hit_rate,
        ),
        (
            WEEKLY_USED,
            "Share of the 7-day window used.",
            u.fuel.weekly_used,
        ),
        (
            BLOCK_TOKENS,
            "Tokens in the open 5-hour block.",
            count(u.fuel.block_tokens),
        ),
        (
            BUDGET,
            "Tokens in a full 5-hour block.",
            count(u.fuel.budget_tokens),
        ),
        (
            COST_TODAY,
            "US dollars spent today.",
            Some(u.cost.today_usd),
        ),
        (
            CONTEXT_USED,
            "Context tokens the active session uses.",
            count(u.context.used_tokens),
        ),
        (
            CONTEXT_WINDOW,
            "The active session's context window.",
            count(u.context.window_tokens),
        ),
    ];
    for (name, help, v) in values {
        gauge(&mut out, name, help, v);
    }
    head(
        &mut out,
        MODEL_INFO,
        "gauge",
        "The model of the most recent main-chain response.",
    );
    if let (Some(id), Some(family)) = (&u.model.id, u.model.family) {
        let _ = writeln!(
            out,
            "{MODEL_INFO}{{model=\"{}\",family=\"{family}\"}} 1",
            escape(id)
        );
    }
    head(
        &mut out,
        GAUGE,
        "gauge",
        "Needle positions, 0 to 1 (absent when unknown).",
    );
    for (slot, (dial, v)) in u.gauges.0.iter().enumerate() {
        if let Some(v) = v {
            let _ = writeln!(
                out,
                "{GAUGE}{{gauge=\"{}\",needle=\"{}\"}} {v}",
                dial.name(),
                slot + 1
            );
        }
    }
    head(
        &mut out,
        LAMP,
        "gauge",
        "Lamp states: 0 off, 1 on, 2 blinking, 3 pulsing.",
    );
    for lamp in Lamp::ALL {
        let v = match u.lamps.get(lamp) {
            LampState::Off => 0,
            LampState::On => 1,
            LampState::Blink => 2,
            LampState::Pulse => 3,
        };
        let _ = writeln!(out, "{LAMP}{{lamp=\"{}\"}} {v}", lamp.name());
    }
    head(
        &mut out,
        SOURCE_UP,
        "gauge",
        "1 when a configured source is healthy, 0 while it fails.",
    );
    for (name, source) in [
        ("jsonl", &u.sources.jsonl),
        ("otlp", &u.sources.otlp),
        ("prometheus", &u.sources.prometheus),
        ("statusline", &u.sources.statusline),
        ("hooks", &u.sources.hooks),
    ] {
        if let Some(ok) = source.ok {
            let _ = writeln!(out, "{SOURCE_UP}{{source=\"{name}\"}} {}", u8::from(ok));
        }
    }
    counter(
        &mut out,
        LINES,
        "Transcript lines read, the start-up scan included.",
        s.stats.lines,
    );
    counter(
        &mut out,
        PARSE_ERRORS,
        "Transcript lines that could not be read.",
        s.stats.bad_lines,
    );
    counter(
        &mut out,
        LONG_LINES,
        "Transcript lines longer than 64 MiB, passed over unread.",
        s.stats.long_lines,
    );
    counter(
        &mut out,
        RESPONSES,
        "Distinct API responses counted.",
        s.stats.responses,
    );
    counter(
        &mut out,
        DUPLICATES,
        "Copies folded into a response already counted.",
        s.stats.duplicates,
    );
    gauge(
        &mut out,
        FILES,
        "Transcript files followed.",
        Some(s.files_watched as f64),
    );
    if !s.emdash.is_empty() || !s.phrases.is_empty() {
        head(
            &mut out,
            EMDASH,
            "counter",
            "Em-dashes in the assistant's visible text, by model (history read at start-up included).",
        );
        for (model, n) in &s.emdash {
            let _ = writeln!(out, "{EMDASH}{{model=\"{}\"}} {n}", escape(model));
        }
        head(
            &mut out,
            PHRASE,
            "counter",
            "Occurrences of each watch-list phrase ([text] watch) in the assistant's text.",
        );
        for (phrase, n) in &s.phrases {
            let _ = writeln!(out, "{PHRASE}{{phrase=\"{}\"}} {n}", escape(phrase));
        }
    }
    git(&mut out, &s.git);
    out
}

/// The git counters; OpenTelemetry's only once a sender reported some.
fn git(out: &mut String, g: &crate::gitwatch::Counters) {
    head(
        out,
        GIT_COMMITS,
        "counter",
        "Commits made in sessions' repositories while they ran, since the daemon started, by project.",
    );
    for (project, n) in g.commits() {
        let _ = writeln!(out, "{GIT_COMMITS}{{project=\"{}\"}} {n}", escape(&project));
    }
    let o = g.otel();
    if o.seen {
        head(
            out,
            OTEL_COMMITS,
            "counter",
            "Commits Claude Code's OpenTelemetry reported since the daemon started.",
        );
        let _ = writeln!(out, "{OTEL_COMMITS} {}", o.commits);
        head(
            out,
            OTEL_LINES,
            "counter",
            "Lines Claude Code's OpenTelemetry reported since the daemon started, by type.",
        );
        let _ = writeln!(out, "{OTEL_LINES}{{type=\"added\"}} {}", o.lines_added);
        let _ = writeln!(out, "{OTEL_LINES}{{type=\"removed\"}} {}", o.lines_removed);
    }
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, v: Option<f64>) {
    head(out, name, "gauge", help);
    if let Some(v) = v {
        let _ = writeln!(out, "{name} {v}");
    }
}

fn counter(out: &mut String, name: &str, help: &str, v: u64) {
    head(out, name, "counter", help);
    let _ = writeln!(out, "{name} {v}");
}

/// Label values escape backslash, double quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
