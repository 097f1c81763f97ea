//! The command line's shape: every subcommand and flag, each flag with its `REDLINE_*`
//! variable where one makes sense, and the parse tests right under the definitions.

use std::path::PathBuf;

#[cfg(test)]
use clap::CommandFactory;
use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::config::DaemonArgs;
use jiff::civil::Date;

/// A desk instrument cluster for Claude Code usage.
#[derive(Debug, Parser)]
#[command(name = "redline", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do [default: serve].
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Follow Claude Code's transcripts and serve the five values over HTTP (the default).
    Serve(ServeArgs),
    /// The five values in the terminal, once a second: the running daemon's, else from a
    /// scan of its own.
    #[command(
        after_help = SERVE_FLAGS_NOTE,
        mut_arg("otlp_grpc", hide),
        mut_arg("source", hide),
        mut_arg("api_error_window", hide),
        mut_arg("state_dir", hide),
        mut_arg("allowed_hosts", hide),
        mut_arg("no_text", hide)
    )]
    Watch(WatchArgs),
    /// The resolved configuration, the roots and what each source has seen.
    #[command(
        after_help = "Every flag of `redline serve` is accepted too, to show what it would resolve to (`redline serve --help`).",
        mut_arg("token", hide),
        mut_arg("allowed_hosts", hide),
        mut_arg("tach_redline", hide),
        mut_arg("tach_window", hide),
        mut_arg("block_budget", hide),
        mut_arg("cost_full_scale", hide),
        mut_arg("timezone", hide),
        mut_arg("cost_mode", hide),
        mut_arg("prices", hide),
        mut_arg("api_error_window", hide),
        mut_arg("needles", hide),
        mut_arg("stall_after", hide),
        mut_arg("stale_after", hide),
        mut_arg("otlp_grpc", hide),
        mut_arg("no_text", hide)
    )]
    Doctor(DoctorArgs),
    /// The instrument cluster in the terminal: a daemon's values through the firmware's
    /// own motion and lamp logic.
    Cluster(ClusterArgs),
    /// Claude Code's statusLine command: forwards its JSON to the daemon, prints a line.
    #[command(
        after_help = SERVE_FLAGS_NOTE,
        mut_args(only_address)
    )]
    Statusline(StatuslineArgs),
    /// Usage reports from Claude Code's transcripts, as ccusage prints them.
    Report(ReportArgs),
    /// Statistics beyond usage: the character of the conversation's text, the commits
    /// made while sessions ran, and other systems' events laid beside cost and tokens.
    #[command(subcommand)]
    Stats(StatsCommand),
    /// Made-up transcripts to try redline on, or to time it.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Connects Claude Code to redline: prints its settings snippet (statusLine and hooks),
    /// or merges it into settings.json (--write) or takes it out again (--remove).
    #[command(
        after_help = SERVE_FLAGS_NOTE,
        mut_args(only_address),
        mut_arg("otlp_grpc", |a| a.hide(false))
    )]
    InstallClaude(InstallClaudeArgs),
    /// `redline serve` as a user service: systemd on Linux, launchd on macOS.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Draws the dial faces for printing at 1:1 (SVG and PDF, one per mounted needle, and
    /// A4 and Letter sheets with the annunciator legend) from the configured scales.
    #[command(
        after_help = "The faces follow the configuration as `serve` resolves it: `needles`, `tach_redline`, `cost_full_scale` and the zones (`temp_cool`, `temp_hot`, `cache_floor`, ...). Print at 100 % and check the 10 mm scale bar; see hardware/README.md, \"Enclosure\".",
        mut_args(faces_only)
    )]
    Faces(FacesArgs),
    /// Proposes the calibration variables (tach_redline, block_budget, tach_window,
    /// stall_after, the cache floor, TEMP's zones) from your own history, with the
    /// evidence; --write puts them into config.toml, --check replays the days through the
    /// daemon's live path.
    #[command(
        after_help = "Reads what `redline report` reads (the transcripts and the daemon's kept history) and the config file as `serve` resolves it: the values in force are the current ones. The rules: docs/calibration.md.",
        mut_args(calibrate_only)
    )]
    Calibrate(CalibrateArgs),
}

/// Of `serve`'s flags, shows only those that say what is in force and where it is kept.
fn calibrate_only(a: clap::Arg) -> clap::Arg {
    match a.get_id().as_str() {
        "config" | "state_dir" | "timezone" | "prices" | "cost_mode" => a,
        "tach_redline" | "tach_window" | "block_budget" | "stall_after" => a,
        "days" | "since" | "until" | "json" | "write" | "plot" | "check" => a,
        "transcripts_only" => a,
        _ => a.hide(true),
    }
}

/// `redline calibrate [flags]`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// Days of history to read, today included.
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub days: u32,
    /// First day to read instead (YYYYMMDD or YYYY-MM-DD, in the time zone).
    #[arg(long, short = 's', value_parser = parse_date)]
    pub since: Option<Date>,
    /// Last day to read [default: today].
    #[arg(long, short = 'u', value_parser = parse_date)]
    pub until: Option<Date>,
    /// Print JSON: one object per config key with `current`, `proposed`, `rule` and
    /// `figures`.
    #[arg(long)]
    pub json: bool,
    /// Write the proposals into the config file (a timestamped backup of it first).
    #[arg(long)]
    pub write: bool,
    /// Draw the figures' histograms, with the current and the proposed marks, into FILE
    /// (SVG).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Replay the days through the daemon's live path: the fuel gauge at each block's end
    /// against `redline report blocks`, and when HOT and WARN would have lit.
    #[arg(long)]
    pub check: bool,
    /// Count only the transcripts on disk, without the hours the daemon kept of
    /// transcripts Claude Code has since deleted.
    #[arg(long)]
    pub transcripts_only: bool,
    /// The configuration in force, as `serve` resolves it.
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// Of `serve`'s flags, shows only those that change what a face prints.
fn faces_only(a: clap::Arg) -> clap::Arg {
    match a.get_id().as_str() {
        "config" | "tach_redline" | "cost_full_scale" | "needles" => a,
        "out" | "diameter" | "hole" | "lamp_pitch" | "paper" | "all" => a,
        _ => a.hide(true),
    }
}

/// `redline faces --out DIR [flags]`.
#[derive(Debug, Args)]
pub struct FacesArgs {
    /// Directory to write into (made if missing).
    #[arg(long, value_name = "DIR", default_value = "faces")]
    pub out: PathBuf,
    /// Face diameter in millimetres (the enclosure's face pocket).
    #[arg(long, value_name = "MM", default_value_t = crate::faces::DEFAULT_DIAMETER)]
    pub diameter: f64,
    /// Diameter of the centre hole for the motor's shaft, in millimetres.
    #[arg(long, value_name = "MM", default_value_t = crate::faces::DEFAULT_HOLE)]
    pub hole: f64,
    /// Lamp spacing of the annunciator legend strip, in millimetres.
    #[arg(long, value_name = "MM", default_value_t = crate::faces::DEFAULT_LAMP_PITCH)]
    pub lamp_pitch: f64,
    /// Which sheets to write.
    #[arg(long, value_enum, default_value_t = PaperArg::Both)]
    pub paper: PaperArg,
    /// Write all seven dials' faces, not only the four mounted ones.
    #[arg(long)]
    pub all: bool,
    /// The configuration the scales come from, as `serve` resolves it.
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// Sheet sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PaperArg {
    /// ISO A4.
    A4,
    /// US Letter.
    Letter,
    /// Both.
    Both,
}

/// Said under the help of a command that shows only some of `serve`'s flags.
const SERVE_FLAGS_NOTE: &str = "The other flags of `redline serve` are accepted too and resolve as they do there; its REDLINE_* variables and the config file apply to every command (`redline serve --help`).";

/// Hides a flag from a command's help that accepts it but has no use for it shown.
fn hide(a: clap::Arg) -> clap::Arg {
    a.hide(true)
}

/// Of `serve`'s flags, shows only those that say where the daemon is (`--config`,
/// `--listen`, `--token`), in a client's words; the command's own flags stay as they are.
fn only_address(a: clap::Arg) -> clap::Arg {
    const SERVE_ONLY: [&str; 16] = [
        "no_text",
        "allowed_hosts",
        "tach_redline",
        "tach_window",
        "block_budget",
        "cost_full_scale",
        "timezone",
        "cost_mode",
        "prices",
        "api_error_window",
        "needles",
        "stall_after",
        "stale_after",
        "otlp_grpc",
        "source",
        "no_index",
    ];
    match a.get_id().as_str() {
        "listen" => a.help("Where the daemon serves: its --listen, resolved as `serve` does [default: 127.0.0.1:7878]"),
        "token" => a.help("The daemon's token, when it wants one [default: the one `serve` generated and kept in its state directory]"),
        id if SERVE_ONLY.contains(&id) || id == "state_dir" => a.hide(true),
        _ => a,
    }
}

/// `redline report <kind> [flags]`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Which report.
    #[arg(value_enum)]
    pub kind: ReportKind,
    /// Print JSON in ccusage's shapes instead of a table.
    #[arg(long)]
    pub json: bool,
    /// First day to include (YYYYMMDD or YYYY-MM-DD, in --timezone).
    #[arg(long, short = 's', value_parser = parse_date)]
    pub since: Option<Date>,
    /// Last day to include (YYYYMMDD or YYYY-MM-DD, in --timezone).
    #[arg(long, short = 'u', value_parser = parse_date)]
    pub until: Option<Date>,
    /// Time zone for days (IANA name such as Europe/Berlin, or UTC) [default: the config
    /// file's `timezone`, else the system's].
    #[arg(long, short = 'z', env = "REDLINE_TIMEZONE")]
    pub timezone: Option<String>,
    /// Cost source: auto (a line's own costUSD, else computed), calculate, display
    /// [default: the config file's `cost_mode`, else auto].
    #[arg(long, short = 'm', value_enum, env = "REDLINE_COST_MODE")]
    pub mode: Option<Mode>,
    /// Row order by date.
    #[arg(long, short = 'o', value_enum, default_value_t = OrderArg::Asc)]
    pub order: OrderArg,
    /// Show each model's figures under each row (tables only; JSON always has them).
    #[arg(long, short = 'b')]
    pub breakdown: bool,
    /// Force the compact table (no cache or total-token columns), whatever the width.
    #[arg(long)]
    pub compact: bool,
    /// Only this project (its directory name under projects/).
    #[arg(long, short = 'p')]
    pub project: Option<String>,
    /// Accepted for ccusage compatibility: redline never goes online.
    #[arg(long, short = 'O')]
    pub offline: bool,
    /// First day of the week for the weekly report.
    #[arg(long, value_enum, default_value_t = WeekStart::Sunday, env = "REDLINE_START_OF_WEEK")]
    pub start_of_week: WeekStart,
    /// A prices file laid over the bundled table (same format as data/prices.toml).
    #[arg(long, env = "REDLINE_PRICES")]
    pub prices: Option<PathBuf>,
    /// Blocks: only the active block.
    #[arg(long, short = 'a')]
    pub active: bool,
    /// Blocks: only blocks of the last 3 days (and the active one).
    #[arg(long, short = 'r')]
    pub recent: bool,
    /// Blocks: token budget of a block, a number or `max` (largest completed block)
    /// [default: the config file's `block_budget` when it sets one, else none].
    #[arg(long, short = 't', value_parser = parse_limit, env = "REDLINE_BLOCK_BUDGET")]
    pub token_limit: Option<TokenLimit>,
    /// Count only the transcripts on disk, leaving out the hours the daemon kept of
    /// transcripts Claude Code has since deleted.
    #[arg(long)]
    pub transcripts_only: bool,
    /// Read every transcript, neither using nor writing the scan index kept in
    /// $XDG_CACHE_HOME/redline/ (the output is the same either way; see docs/index.md).
    #[arg(long, env = "REDLINE_NO_INDEX", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_index: bool,
    /// The daemon's state directory, where its store is [default: $XDG_STATE_HOME/redline].
    #[arg(long, env = "REDLINE_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The daemon's config file, whose `timezone`, `cost_mode`, `prices`, `state_dir` and
    /// `block_budget` a report uses as `serve` does [default:
    /// $XDG_CONFIG_HOME/redline/config.toml].
    #[arg(long, env = "REDLINE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `redline serve [flags]`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Play a scripted Claude Code session in real time instead of reading yours: every
    /// needle and lamp moves within a minute.
    #[arg(long)]
    pub demo: bool,
    /// With --demo: play it this many times faster.
    #[arg(long, default_value_t = 1.0, requires = "demo", value_name = "FACTOR")]
    pub demo_speed: f64,
    /// Drive every needle through 0, 25, 50, 75 and 100 % and back, holding each mark
    /// 3 s, to check printed faces against the needles (until stopped; lamps stay live).
    #[arg(long)]
    pub sweep: bool,
    /// Where to read from and how to serve.
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// `redline doctor [--ack] [flags]`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Acknowledge the store's damaged records (kept in `store.damaged.jsonl` beside the
    /// store): STALL stops blinking for them, until more damage is found.
    #[arg(long)]
    pub ack: bool,
    /// What would be resolved, as `serve` takes it.
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// `redline watch [flags]`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Print the values once and exit.
    #[arg(long)]
    pub once: bool,
    /// Scan the transcripts here even when a daemon answers at --listen (by default its
    /// values are shown then, with its own settings).
    #[arg(long)]
    pub scan: bool,
    /// Everything `serve` reads (only the values' settings matter here).
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// `redline statusline [--then CMD]`.
#[derive(Debug, Args)]
pub struct StatuslineArgs {
    /// Another statusLine command to run on the same input; its output is appended.
    #[arg(long, value_name = "CMD")]
    pub then: Option<String>,
    /// Where the daemon is (its --listen, config file and token).
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// `redline cluster [flags]`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// The daemon to poll.
    #[arg(long, env = "REDLINE_URL", default_value = "http://127.0.0.1:7878")]
    pub url: String,
    /// The motors to simulate: quad (1/12 degree microsteps through the quad driver) or
    /// direct (1/3 degree steps on four pins).
    #[arg(long, value_enum, default_value_t = MotorProfile::Quad, env = "REDLINE_MOTOR_PROFILE")]
    pub profile: MotorProfile,
    /// Milliseconds between polls, as the firmware's poll interval.
    #[arg(long, default_value_t = 1000, env = "REDLINE_POLL_MS")]
    pub poll_ms: u64,
    /// Run this many seconds, then print the last frame as plain text and exit.
    #[arg(long = "for", value_name = "SECONDS")]
    pub run_for: Option<f64>,
}

/// Motor wiring, as in the firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MotorProfile {
    /// The quad driver: STEP/DIR, 1/12 degree microsteps.
    Quad,
    /// One motor on four GPIOs: 1/3 degree partial steps.
    Direct,
}

/// `redline stats <command>`.
#[derive(Debug, Subcommand)]
pub enum StatsCommand {
    /// Em-dashes, en-dashes and words of the assistant's text and your prompts, the
    /// assistant's most repeated phrases and the watch list (`[text]` in config.toml).
    Character(CharacterArgs),
    /// Another system's events (`[[correlate]]` in config.toml: a CSV or JSON file, an
    /// HTTP JSON URL) by day beside Claude cost and tokens, with Pearson's r, Spearman's ρ
    /// and what they mean.
    Correlate(CorrelateArgs),
    /// Commits made in each session's repository while it was active, with the tokens and
    /// dollars spent per commit and per changed line, per project and per day.
    Git(GitArgs),
}

/// `redline stats correlate [--days N] [--json]`.
#[derive(Debug, Args)]
pub struct CorrelateArgs {
    /// The last N days (today included, days in --timezone).
    #[arg(long, short = 'd', default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub days: u32,
    /// Print JSON (the shape of the daemon's /api/correlate) instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Time zone for days (IANA name such as Europe/Berlin, or UTC) [default: the config
    /// file's `timezone`, else the system's].
    #[arg(long, short = 'z', env = "REDLINE_TIMEZONE")]
    pub timezone: Option<String>,
    /// The daemon's config file, whose `[[correlate]]` entries are read
    /// [default: $XDG_CONFIG_HOME/redline/config.toml].
    #[arg(long, env = "REDLINE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `redline stats git [--days N] [--json] [--slack MIN]`.
#[derive(Debug, Args)]
pub struct GitArgs {
    /// Only the last N days (today included, days in --timezone).
    #[arg(long, short = 'd', value_parser = clap::value_parser!(u32).range(1..))]
    pub days: Option<u32>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Minutes before a session's first response and after its last in which a commit
    /// still counts as the session's [default: the config file's `[git] slack_minutes`,
    /// else 15].
    #[arg(long, value_name = "MIN", env = "REDLINE_GIT_SLACK",
          value_parser = clap::value_parser!(u32).range(0..=i64::from(crate::config::MAX_SLACK_MINUTES)))]
    pub slack: Option<u32>,
    /// Time zone for days (IANA name such as Europe/Berlin, or UTC) [default: the config
    /// file's `timezone`, else the system's].
    #[arg(long, short = 'z', env = "REDLINE_TIMEZONE")]
    pub timezone: Option<String>,
    /// The daemon's config file, whose `timezone`, prices, cost mode and `[git]` table are
    /// used [default: $XDG_CONFIG_HOME/redline/config.toml].
    #[arg(long, env = "REDLINE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `redline stats character [--days N] [--json] [--no-text]`.
#[derive(Debug, Args)]
pub struct CharacterArgs {
    /// Only the last N days (today included, days in --timezone).
    #[arg(long, short = 'd', value_parser = clap::value_parser!(u32).range(1..))]
    pub days: Option<u32>,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Turn the text statistics off (as `[text] enabled = false` does): nothing is read.
    #[arg(long, env = "REDLINE_NO_TEXT")]
    pub no_text: bool,
    /// How many of the most repeated phrases to show.
    #[arg(long, default_value_t = 15, value_name = "N")]
    pub top: usize,
    /// Time zone for days (IANA name such as Europe/Berlin, or UTC) [default: the config
    /// file's `timezone`, else the system's].
    #[arg(long, short = 'z', env = "REDLINE_TIMEZONE")]
    pub timezone: Option<String>,
    /// The daemon's config file, whose `timezone` and `[text]` table are used
    /// [default: $XDG_CONFIG_HOME/redline/config.toml].
    #[arg(long, env = "REDLINE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `redline demo <command>`.
#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Write a corpus of made-up Claude Code transcripts under DIR/projects.
    Generate(GenerateArgs),
}

/// `redline demo generate --out DIR [flags]`. No `REDLINE_*` variables: a corpus is made
/// on purpose, one command at a time.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Where to write; point CLAUDE_CONFIG_DIR at it to report on the corpus.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// How many responses (about 6 KB of transcript each; 300000 is about 1.9 GB).
    #[arg(long, short = 'n', default_value_t = 3000, value_parser = parse_count)]
    pub responses: usize,
    /// The seed: the same seed and count give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Leave out the malformed lines (cut copies of lines and lines that are not JSON).
    #[arg(long)]
    pub no_malformed: bool,
    /// Leave out the two constructs ccusage 20's own reports count differently (sidechain
    /// re-requests, streamed copies without requestId), to compare totals with ccusage.
    #[arg(long)]
    pub comparable: bool,
    /// Write into a directory that is not empty (files of the same names are replaced).
    #[arg(long, short = 'f')]
    pub force: bool,
}

/// Report kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportKind {
    /// One row per day.
    Daily,
    /// One row per week.
    Weekly,
    /// One row per month.
    Monthly,
    /// One row per session, costliest first.
    Session,
    /// 5-hour billing blocks.
    Blocks,
}

/// `--mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// A line's own costUSD when present, else computed from tokens.
    Auto,
    /// Always computed from tokens.
    Calculate,
    /// Only lines' own costUSD.
    Display,
}

/// `--order`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

/// `--start-of-week`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
#[allow(missing_docs)]
pub enum WeekStart {
    Sunday,
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
}

/// `--token-limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenLimit {
    /// A fixed budget.
    Tokens(u64),
    /// The largest completed block.
    Max,
}

/// `YYYYMMDD` or `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<Date, String> {
    let t = s.trim();
    let dashed = if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &t[..4], &t[4..6], &t[6..])
    } else {
        t.to_string()
    };
    dashed
        .parse::<Date>()
        .map_err(|_| format!("{s:?} is not a date (use YYYYMMDD or YYYY-MM-DD)"))
}

/// A count, with `_` allowed as a separator.
fn parse_count(s: &str) -> Result<usize, String> {
    s.trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{s:?} is not a count"))
}

fn parse_limit(s: &str) -> Result<TokenLimit, String> {
    match s.trim() {
        "max" | "" => Ok(TokenLimit::Max),
        n => n
            .replace('_', "")
            .parse()
            .map(TokenLimit::Tokens)
            .map_err(|_| format!("{s:?} is neither a token count nor `max`")),
    }
}

/// `redline install-claude [--otel [--protocol P]] [--write | --remove] [--settings FILE]`.
#[derive(Debug, Args)]
pub struct InstallClaudeArgs {
    /// Merge the snippet into Claude Code's settings.json, after a timestamped backup.
    #[arg(long, conflicts_with = "remove")]
    pub write: bool,
    /// Take redline's statusLine and hooks out of settings.json again (restoring a
    /// statusLine it wrapped), after a timestamped backup.
    #[arg(long)]
    pub remove: bool,
    /// Claude Code's OpenTelemetry instead: print the variables that send it to the
    /// daemon, for this machine and for others; with --write put this machine's into
    /// settings.json's `env`, with --remove take them out again.
    #[arg(long)]
    pub otel: bool,
    /// The OTLP protocol Claude Code exports with (with --otel): grpc goes to the gRPC
    /// receiver (otlp_grpc), the others to the daemon's own address.
    #[arg(long, value_enum, default_value_t = OtlpProtocol::HttpProtobuf, requires = "otel")]
    pub protocol: OtlpProtocol,
    /// Claude Code's settings file [default: $CLAUDE_CONFIG_DIR/settings.json, else
    /// ~/.claude/settings.json].
    #[arg(long, env = "REDLINE_CLAUDE_SETTINGS", value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Where the daemon is (its --listen, config file and token), as `serve` resolves it.
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// `--protocol`: OTEL_EXPORTER_OTLP_PROTOCOL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OtlpProtocol {
    /// OTLP over gRPC, to the gRPC receiver (127.0.0.1:4317 by default).
    #[value(name = "grpc")]
    Grpc,
    /// OTLP over HTTP, protobuf bodies, to `/v1/metrics` and `/v1/logs`.
    #[value(name = "http/protobuf")]
    HttpProtobuf,
    /// OTLP over HTTP, JSON bodies, to `/v1/metrics` and `/v1/logs`.
    #[value(name = "http/json")]
    HttpJson,
}

impl OtlpProtocol {
    /// Every protocol.
    pub const ALL: [OtlpProtocol; 3] = [
        OtlpProtocol::Grpc,
        OtlpProtocol::HttpProtobuf,
        OtlpProtocol::HttpJson,
    ];

    /// The value of OTEL_EXPORTER_OTLP_PROTOCOL.
    pub fn as_str(self) -> &'static str {
        match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
            OtlpProtocol::HttpJson => "http/json",
        }
    }
}

/// `redline service <command>`.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Write the user service for this binary's `redline serve` and start it now and at
    /// each login.
    Install(ServiceInstallArgs),
    /// Stop the user service and remove its file.
    Uninstall(ServiceUninstallArgs),
}

/// `redline service install [--print] [--no-enable] [--listen ADDR]`.
#[derive(Debug, Args)]
pub struct ServiceInstallArgs {
    /// Print the unit (or plist) instead of writing it.
    #[arg(long)]
    pub print: bool,
    /// Write the file but leave systemctl (launchctl) alone; the commands are printed.
    #[arg(long)]
    pub no_enable: bool,
    /// The address the service's `redline serve` listens on (put in its command line)
    /// [default: the config file's, else 127.0.0.1:7878].
    #[arg(long, env = "REDLINE_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// The service manager [default: launchd on macOS, systemd elsewhere].
    #[arg(long, value_enum, env = "REDLINE_SERVICE_MANAGER")]
    pub manager: Option<ServiceManager>,
}

/// `redline service uninstall [--no-disable]`.
#[derive(Debug, Args)]
pub struct ServiceUninstallArgs {
    /// Remove the file but leave systemctl (launchctl) alone; the commands are printed.
    #[arg(long, alias = "no-enable")]
    pub no_disable: bool,
    /// The service manager [default: launchd on macOS, systemd elsewhere].
    #[arg(long, value_enum, env = "REDLINE_SERVICE_MANAGER")]
    pub manager: Option<ServiceManager>,
}

/// Service managers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ServiceManager {
    /// A systemd user unit.
    Systemd,
    /// A launchd agent.
    Launchd,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_character_flags() {
        let cli = Cli::try_parse_from([
            "redline",
            "stats",
            "character",
            "--days",
            "7",
            "--json",
            "--no-text",
            "--top",
            "5",
        ])
        .unwrap();
        let Some(Command::Stats(StatsCommand::Character(a))) = cli.command else {
            panic!("not stats character")
        };
        assert_eq!((a.days, a.json, a.no_text, a.top), (Some(7), true, true, 5));
        assert!(Cli::try_parse_from(["redline", "stats", "character", "--days", "0"]).is_err());
    }

    #[test]
    fn stats_correlate_flags() {
        let cli =
            Cli::try_parse_from(["redline", "stats", "correlate", "-d", "14", "--json"]).unwrap();
        let Some(Command::Stats(StatsCommand::Correlate(a))) = cli.command else {
            panic!("not stats correlate")
        };
        assert_eq!((a.days, a.json), (14, true));
        let cli = Cli::try_parse_from(["redline", "stats", "correlate"]).unwrap();
        let Some(Command::Stats(StatsCommand::Correlate(a))) = cli.command else {
            panic!("not stats correlate")
        };
        assert_eq!(a.days, 30);
        assert!(Cli::try_parse_from(["redline", "stats", "correlate", "--days", "0"]).is_err());
    }

    #[test]
    fn stats_git_flags() {
        let cli = Cli::try_parse_from([
            "redline", "stats", "git", "--days", "7", "--json", "--slack", "30",
        ])
        .unwrap();
        let Some(Command::Stats(StatsCommand::Git(a))) = cli.command else {
            panic!("not stats git")
        };
        assert_eq!((a.days, a.json, a.slack), (Some(7), true, Some(30)));
        assert!(Cli::try_parse_from(["redline", "stats", "git", "--slack", "1441"]).is_err());
        assert!(Cli::try_parse_from(["redline", "stats", "git", "--days", "0"]).is_err());
    }

    fn parse(args: &[&str]) -> Result<ReportArgs, clap::Error> {
        let mut v = vec!["redline", "report"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).map(|c| match c.command {
            Some(Command::Report(r)) => r,
            _ => unreachable!("parsed as a report"),
        })
    }

    fn generate(args: &[&str]) -> Result<GenerateArgs, clap::Error> {
        let mut v = vec!["redline", "demo", "generate"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v).map(|c| match c.command {
            Some(Command::Demo(DemoCommand::Generate(g))) => g,
            _ => unreachable!("parsed as demo generate"),
        })
    }

    /// The long flags a subcommand's help lists.
    fn shown_flags(sub: &str) -> Vec<String> {
        let cmd = Cli::command();
        let c = cmd.find_subcommand(sub).unwrap();
        c.get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(str::to_owned))
            .collect()
    }

    #[test]
    fn each_command_shows_the_flags_it_uses() {
        let serve = shown_flags("serve");
        assert_eq!(serve.len(), 23, "{serve:?}");
        assert_eq!(
            shown_flags("faces"),
            [
                "out",
                "diameter",
                "hole",
                "lamp-pitch",
                "paper",
                "all",
                "config",
                "tach-redline",
                "cost-full-scale",
                "needles"
            ]
        );
        assert_eq!(
            shown_flags("statusline"),
            ["then", "config", "listen", "token"]
        );
        assert_eq!(
            shown_flags("install-claude"),
            [
                "write",
                "remove",
                "otel",
                "protocol",
                "settings",
                "config",
                "listen",
                "token",
                "otlp-grpc"
            ]
        );
        assert_eq!(
            shown_flags("doctor"),
            ["ack", "config", "listen", "state-dir", "no-index", "source"]
        );
        let watch = shown_flags("watch");
        for f in ["otlp-grpc", "source", "api-error-window", "state-dir"] {
            assert!(!watch.contains(&f.to_owned()), "{watch:?}");
        }
        assert!(watch.contains(&"tach-redline".to_owned()), "{watch:?}");
        // Hidden is not refused: a script that passes serve's flags still runs.
        for sub in ["doctor", "statusline", "install-claude", "watch"] {
            let parsed = Cli::try_parse_from([
                "redline",
                sub,
                "--tach-redline",
                "9000",
                "--otlp-grpc",
                "off",
            ]);
            assert!(parsed.is_ok(), "{sub}: {:?}", parsed.err());
        }
    }

    #[test]
    fn calibrate_flags() {
        let parse = |args: &[&str]| {
            let mut v = vec!["redline", "calibrate"];
            v.extend_from_slice(args);
            Cli::try_parse_from(v).map(|c| match c.command {
                Some(Command::Calibrate(a)) => a,
                _ => unreachable!("parsed as calibrate"),
            })
        };
        let a = parse(&[]).unwrap();
        assert_eq!(a.days, 30);
        assert!(!a.json && !a.write && !a.check && a.plot.is_none() && a.since.is_none());
        let a = parse(&[
            "--days",
            "7",
            "--json",
            "--write",
            "--check",
            "--plot",
            "c.svg",
            "-s",
            "20261101",
            "--until",
            "2026-11-30",
            "--tach-redline",
            "9000",
        ])
        .unwrap();
        assert_eq!((a.days, a.json, a.write, a.check), (7, true, true, true));
        assert_eq!(a.plot, Some(PathBuf::from("c.svg")));
        assert_eq!(a.since.map(|d| d.to_string()), Some("2026-11-01".into()));
        assert_eq!(a.until.map(|d| d.to_string()), Some("2026-11-30".into()));
        assert_eq!(a.daemon.tach_redline.as_deref(), Some("9000"));
        assert!(parse(&["--days", "0"]).is_err());
        let shown = shown_flags("calibrate");
        for f in [
            "days",
            "json",
            "write",
            "plot",
            "check",
            "config",
            "tach-window",
        ] {
            assert!(shown.contains(&f.to_owned()), "{f}: {shown:?}");
        }
        for f in ["listen", "token", "needles", "otlp-grpc"] {
            assert!(!shown.contains(&f.to_owned()), "{f}: {shown:?}");
        }
    }

    #[test]
    fn demo_generate_needs_out_and_has_defaults() {
        assert!(generate(&[]).is_err());
        let g = generate(&["--out", "/tmp/c"]).unwrap();
        assert_eq!(g.out, PathBuf::from("/tmp/c"));
        assert_eq!((g.responses, g.seed), (3000, 1));
        assert!(!g.no_malformed && !g.force && !g.comparable);
    }

    #[test]
    fn demo_generate_flags() {
        let g = generate(&[
            "-o",
            "c",
            "--responses",
            "300_000",
            "--seed",
            "7",
            "--no-malformed",
            "--force",
            "--comparable",
        ])
        .unwrap();
        assert_eq!((g.responses, g.seed), (300_000, 7));
        assert!(g.no_malformed && g.force && g.comparable);
        let e = generate(&["-o", "c", "-n", "lots"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not a count"), "{e}");
        assert!(generate(&["-o", "c", "--seed", "-1"]).is_err());
    }

    #[test]
    fn dates_in_both_forms() {
        let r = parse(&["daily", "--since", "20260211", "--until", "2026-02-12"]).unwrap();
        assert_eq!(r.since, Some(jiff::civil::date(2026, 2, 11)));
        assert_eq!(r.until, Some(jiff::civil::date(2026, 2, 12)));
        let e = parse(&["daily", "--since", "2026021"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not a date"), "{e}");
        assert!(parse(&["daily", "--since", "20260230"]).is_err());
    }

    #[test]
    fn token_limit_is_a_number_or_max() {
        let r = parse(&["blocks", "--token-limit", "max"]).unwrap();
        assert_eq!(r.token_limit, Some(TokenLimit::Max));
        let r = parse(&["blocks", "-t", "8_000_000"]).unwrap();
        assert_eq!(r.token_limit, Some(TokenLimit::Tokens(8_000_000)));
        assert!(parse(&["blocks", "-t", "lots"]).is_err());
    }

    #[test]
    fn ccusage_flags_are_accepted() {
        let r = parse(&[
            "session",
            "--json",
            "--offline",
            "--mode",
            "calculate",
            "--order",
            "desc",
            "--breakdown",
            "--project",
            "p",
            "--timezone",
            "UTC",
        ])
        .unwrap();
        assert_eq!(r.kind, ReportKind::Session);
        assert!(r.json && r.offline && r.breakdown);
        assert_eq!((r.mode, r.order), (Some(Mode::Calculate), OrderArg::Desc));
        assert!(parse(&["hourly"]).is_err());
        assert!(parse(&["daily", "--mode", "guess"]).is_err());
    }

    #[test]
    fn no_subcommand_is_serve_and_daemon_flags_parse() {
        assert!(Cli::try_parse_from(["redline"]).unwrap().command.is_none());
        let c = Cli::try_parse_from([
            "redline",
            "serve",
            "--listen",
            "0.0.0.0:7878",
            "--tach-redline",
            "30000",
            "--block-budget",
            "max",
        ])
        .unwrap();
        let Some(Command::Serve(ServeArgs {
            daemon: d, demo, ..
        })) = c.command
        else {
            panic!("parsed as serve")
        };
        assert!(!demo);
        assert_eq!(d.listen.as_deref(), Some("0.0.0.0:7878"));
        // Numbers are text to clap and read by the config resolver, which names a bad one
        // by its flag or variable.
        assert_eq!(d.tach_redline.as_deref(), Some("30000"));
        let c = Cli::try_parse_from(["redline", "watch", "--once", "--tach-window", "30"]).unwrap();
        let Some(Command::Watch(w)) = c.command else {
            panic!("parsed as watch")
        };
        assert!(w.once);
        assert_eq!(w.daemon.tach_window.as_deref(), Some("30"));
    }

    #[test]
    fn cluster_flags() {
        let c = Cli::try_parse_from(["redline", "cluster"]).unwrap();
        let Some(Command::Cluster(a)) = c.command else {
            panic!("parsed as cluster")
        };
        assert_eq!(
            (a.url.as_str(), a.profile, a.poll_ms, a.run_for),
            ("http://127.0.0.1:7878", MotorProfile::Quad, 1000, None)
        );
        let c = Cli::try_parse_from([
            "redline",
            "cluster",
            "--url",
            "http://desk:7878",
            "--profile",
            "direct",
            "--for",
            "2.5",
        ])
        .unwrap();
        let Some(Command::Cluster(a)) = c.command else {
            panic!("parsed as cluster")
        };
        assert_eq!((a.profile, a.run_for), (MotorProfile::Direct, Some(2.5)));
        assert!(Cli::try_parse_from(["redline", "cluster", "--profile", "x27"]).is_err());
    }

    #[test]
    fn install_claude_flags() {
        let c = Cli::try_parse_from(["redline", "install-claude"]).unwrap();
        let Some(Command::InstallClaude(a)) = c.command else {
            panic!("parsed as install-claude")
        };
        assert!(!a.write && !a.remove && a.settings.is_none());
        let c = Cli::try_parse_from([
            "redline",
            "install-claude",
            "--write",
            "--settings",
            "/tmp/s.json",
            "--listen",
            "0.0.0.0:7878",
        ])
        .unwrap();
        let Some(Command::InstallClaude(a)) = c.command else {
            panic!("parsed as install-claude")
        };
        assert!(a.write && !a.remove);
        assert_eq!(a.settings, Some(PathBuf::from("/tmp/s.json")));
        assert_eq!(a.daemon.listen.as_deref(), Some("0.0.0.0:7878"));
        assert!(Cli::try_parse_from(["redline", "install-claude", "--write", "--remove"]).is_err());
        assert!(!a.otel && a.protocol == OtlpProtocol::HttpProtobuf);
        let c = Cli::try_parse_from([
            "redline",
            "install-claude",
            "--otel",
            "--protocol",
            "grpc",
            "--remove",
        ])
        .unwrap();
        let Some(Command::InstallClaude(a)) = c.command else {
            panic!("parsed as install-claude")
        };
        assert!(a.otel && a.remove && a.protocol == OtlpProtocol::Grpc);
        assert!(
            Cli::try_parse_from(["redline", "install-claude", "--protocol", "http/json"]).is_err()
        );
        assert!(
            Cli::try_parse_from(["redline", "install-claude", "--otel", "--protocol", "http"])
                .is_err()
        );
    }

    #[test]
    fn service_flags() {
        let c = Cli::try_parse_from([
            "redline",
            "service",
            "install",
            "--print",
            "--no-enable",
            "--listen",
            "0.0.0.0:7878",
            "--manager",
            "launchd",
        ])
        .unwrap();
        let Some(Command::Service(ServiceCommand::Install(a))) = c.command else {
            panic!("parsed as service install")
        };
        assert!(a.print && a.no_enable);
        assert_eq!(a.listen.as_deref(), Some("0.0.0.0:7878"));
        assert_eq!(a.manager, Some(ServiceManager::Launchd));
        for flag in ["--no-disable", "--no-enable"] {
            let c = Cli::try_parse_from(["redline", "service", "uninstall", flag]).unwrap();
            let Some(Command::Service(ServiceCommand::Uninstall(a))) = c.command else {
                panic!("parsed as service uninstall")
            };
            assert!(a.no_disable && a.manager.is_none());
        }
        assert!(Cli::try_parse_from(["redline", "service"]).is_err());
        assert!(
            Cli::try_parse_from(["redline", "service", "install", "--manager", "runit"]).is_err()
        );
    }
}
