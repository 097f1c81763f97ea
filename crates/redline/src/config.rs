//! The daemon's configuration: a TOML file, `REDLINE_*` variables and flags, in rising
//! order of precedence, resolved into one [`Config`] that remembers where each value came
//! from (for `redline doctor`).
//!
//! The file is `$XDG_CONFIG_HOME/redline/config.toml` (`~/.config/redline/config.toml`),
//! or `--config` / `REDLINE_CONFIG`. A missing default file is fine; a named file that is
//! missing, an unknown key or a bad value is an error that names the file and line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use clap::parser::ValueSource;
use jiff::tz::TimeZone;
use redline_core::gauges::{Dial, Scales};
use redline_core::lamps::Thresholds;
use redline_engine::live::{Budget, Pick, Settings, SourceName, SourcePicks, ValueName};
use redline_engine::prices::CostMode;
use redline_engine::roots::RootEnv;
use serde::Deserialize;

/// The default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

/// The default address of the OTLP gRPC receiver (the port OpenTelemetry exporters use).
pub const DEFAULT_OTLP_GRPC: &str = "127.0.0.1:4317";

/// Flags shared by `serve`, `watch` and `doctor`. Each also reads a `REDLINE_*` variable
/// and a key of the config file.
#[derive(Clone, Debug, Default, Args)]
pub struct DaemonArgs {
    /// Config file [default: $XDG_CONFIG_HOME/redline/config.toml].
    #[arg(long, env = "REDLINE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to serve on. Anything but loopback exposes the gauge endpoints to the
    /// network and puts everything else behind the token [default: 127.0.0.1:7878].
    #[arg(long, env = "REDLINE_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Bearer token for the protected endpoints [default: generated and kept in the
    /// state directory when serving beyond loopback].
    #[arg(long, env = "REDLINE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// More names (or addresses) the web page, /api/* and the POSTs answer to, beside
    /// this machine's own: a DNS name of yours, a reverse proxy's name [default: none].
    #[arg(long, env = "REDLINE_ALLOWED_HOSTS", value_name = "HOST,HOST")]
    pub allowed_hosts: Option<String>,
    /// Tokens per minute where the tach's red zone starts [default: 20000].
    #[arg(long, env = "REDLINE_TACH_REDLINE", value_name = "TOKENS")]
    pub tach_redline: Option<String>,
    /// Seconds of trailing window for the tach [default: 60].
    #[arg(long, env = "REDLINE_TACH_WINDOW", value_name = "SECONDS")]
    pub tach_window: Option<String>,
    /// Tokens in a full 5-hour block: a number, or `max` (the largest completed block)
    /// [default: max].
    #[arg(long, env = "REDLINE_BLOCK_BUDGET", value_name = "TOKENS|max")]
    pub block_budget: Option<String>,
    /// Dollars at the cost gauge's full scale [default: 50].
    #[arg(long, env = "REDLINE_COST_FULL_SCALE", value_name = "USD")]
    pub cost_full_scale: Option<String>,
    /// Time zone for "today" (IANA name or UTC) [default: the system's].
    #[arg(long, env = "REDLINE_TIMEZONE", value_name = "TZ")]
    pub timezone: Option<String>,
    /// Cost source: auto, calculate or display [default: auto].
    #[arg(long, env = "REDLINE_COST_MODE", value_name = "MODE")]
    pub cost_mode: Option<String>,
    /// A prices file laid over the bundled table [default: $XDG_CONFIG_HOME/redline/prices.toml
    /// when present].
    #[arg(long, env = "REDLINE_PRICES", value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// Seconds an API error keeps the STALL lamp blinking [default: 300].
    #[arg(long, env = "REDLINE_API_ERROR_WINDOW", value_name = "SECONDS")]
    pub api_error_window: Option<String>,
    /// The dials on the four needles, left to right: four of fuel, tach, temp, boost,
    /// cost, context, weekly [default: fuel,tach,temp,boost].
    #[arg(long, env = "REDLINE_NEEDLES", value_name = "D,D,D,D")]
    pub needles: Option<String>,
    /// Seconds a session may wait for the model, mid-turn, before STALL lights
    /// [default: 180].
    #[arg(long, env = "REDLINE_STALL_AFTER", value_name = "SECONDS")]
    pub stall_after: Option<String>,
    /// Seconds after the newest event at which the thinking ratio, cache hit rate,
    /// context and model are no longer shown [default: 18000].
    #[arg(long, env = "REDLINE_STALE_AFTER", value_name = "SECONDS")]
    pub stale_after: Option<String>,
    /// Directory for the daemon's own state (its generated token)
    /// [default: $XDG_STATE_HOME/redline].
    #[arg(long, env = "REDLINE_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Read every transcript at start, neither using nor writing the scan index kept in
    /// $XDG_CACHE_HOME/redline/ (the values are the same either way; see docs/index.md).
    #[arg(long, env = "REDLINE_NO_INDEX", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_index: bool,
    /// Address of the OTLP gRPC receiver, or `off` [default: 127.0.0.1:4317]. OTLP over
    /// HTTP is always served on --listen (`/v1/metrics`, `/v1/logs`).
    #[arg(long, env = "REDLINE_OTLP_GRPC", value_name = "ADDR|off")]
    pub otlp_grpc: Option<String>,
    /// Where the values come from: `transcripts` (Claude Code's files, with OpenTelemetry
    /// received) or `prometheus=URL` (an existing Prometheus) [default: transcripts].
    #[arg(
        long,
        env = "REDLINE_SOURCE",
        value_name = "transcripts|prometheus=URL"
    )]
    pub source: Option<String>,
    /// Turn the text statistics off: no em-dash or phrase counters, no Character view's
    /// text [default: on, unless `[text] enabled = false`].
    #[arg(long, env = "REDLINE_NO_TEXT")]
    pub no_text: bool,
}

/// The config file's keys. Zones (`[zones]`) and lamp thresholds (`[lamps]`) live only
/// here.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    needles: Option<Vec<String>>,
    stall_after: Option<u64>,
    stale_after: Option<u64>,
    ratio_window: Option<u64>,
    #[serde(default)]
    zones: FileZones,
    listen: Option<String>,
    token: Option<String>,
    allowed_hosts: Option<Vec<String>>,
    tach_redline: Option<u64>,
    tach_window: Option<u64>,
    block_budget: Option<toml::Value>,
    cost_full_scale: Option<f64>,
    timezone: Option<String>,
    cost_mode: Option<String>,
    prices: Option<PathBuf>,
    api_error_window: Option<u64>,
    state_dir: Option<PathBuf>,
    otlp_grpc: Option<String>,
    source: Option<String>,
    #[serde(default)]
    lamps: FileLamps,
    #[serde(default)]
    sources: FileSources,
    #[serde(default)]
    text: FileText,
    /// `[[correlate]]`: other systems' events (see `crate::correlate::source`).
    #[serde(default)]
    correlate: Vec<crate::correlate::FileCorrelate>,
    #[serde(default)]
    git: FileGit,
}

/// `[text]`: the character statistics (`redline stats character`, the daemon's counters).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileText {
    enabled: Option<bool>,
    watch: Option<Vec<String>>,
}

/// `[git]`: the git correlation (`redline stats git`, the daemon's commit counter).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGit {
    enabled: Option<bool>,
    slack_minutes: Option<u32>,
}

/// `[sources]`: each value's source (see `redline_engine::live::ValueName::groups`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSources {
    fuel: Option<String>,
    tach: Option<String>,
    cost: Option<String>,
    thinking: Option<String>,
    cache: Option<String>,
    context: Option<String>,
    model: Option<String>,
}

impl FileSources {
    fn get(&self, value: ValueName) -> Option<String> {
        match value {
            ValueName::Fuel => &self.fuel,
            ValueName::Tach => &self.tach,
            ValueName::Cost => &self.cost,
            ValueName::Thinking => &self.thinking,
            ValueName::Cache => &self.cache,
            ValueName::Context => &self.context,
            ValueName::Model => &self.model,
        }
        .clone()
    }
}

/// The `[sources]` key of a value.
fn sources_key(value: ValueName) -> &'static str {
    match value {
        ValueName::Fuel => "sources.fuel",
        ValueName::Tach => "sources.tach",
        ValueName::Cost => "sources.cost",
        ValueName::Thinking => "sources.thinking",
        ValueName::Cache => "sources.cache",
        ValueName::Context => "sources.context",
        ValueName::Model => "sources.model",
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileZones {
    temp_cool: Option<f64>,
    temp_hot: Option<f64>,
    cache_floor: Option<f64>,
    plan_red: Option<f64>,
    context_red: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLamps {
    warn_used: Option<f64>,
    warn_blink_used: Option<f64>,
    cache_min_prompt_tokens: Option<u64>,
    active: Option<u64>,
    // The first cluster's lamps (REDLINE, FUEL, HOT, CHECK): read only to say what
    // replaced them.
    fuel_low: Option<toml::Value>,
    fuel_critical: Option<toml::Value>,
    hot: Option<toml::Value>,
    hot_critical: Option<toml::Value>,
}

/// What replaced a key of the first cluster's `[lamps]`.
fn replaced_lamp_key(key: &str) -> &'static str {
    match key {
        "fuel_low" | "fuel_critical" => {
            "FUEL is a needle now (the 5-hour window left) and its lamp is gone: WARN lights at [lamps] warn_used (share of the window used, default 0.80) and blinks at warn_blink_used (default 0.95)"
        }
        _ => {
            "HOT is the tach's lamp now (on at tach_redline, blinking past 1.25 x it); the context's red zone is [zones] context_red (default 0.80)"
        }
    }
}

/// Reads `needles`: four distinct dial names.
fn parse_needles(names: &[String]) -> Result<[Dial; 4], String> {
    let all = Dial::ALL.map(Dial::name).join(", ");
    let dials = names
        .iter()
        .map(|n| {
            Dial::from_name(n.trim().to_ascii_lowercase().as_str())
                .ok_or_else(|| format!("{n:?} is not a dial; the dials are {all}"))
        })
        .collect::<Result<Vec<Dial>, String>>()?;
    let four: [Dial; 4] = dials.try_into().map_err(|d: Vec<Dial>| {
        format!(
            "{} needles named; the cluster has 4 (any of {all})",
            d.len()
        )
    })?;
    for (i, d) in four.iter().enumerate() {
        if four[..i].contains(d) {
            return Err(format!(
                "{} is named twice; each needle shows its own dial",
                d.name()
            ));
        }
    }
    Ok(four)
}

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag.
    Flag,
    /// A `REDLINE_*` variable.
    Env,
    /// The config file.
    File,
    /// Built in.
    Default,
}

/// One resolved value, as `redline doctor` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The config file key.
    pub key: &'static str,
    /// The value, as text (the token is masked).
    pub value: String,
    /// Where it came from.
    pub origin: Origin,
}

/// Everything the daemon runs with.
#[derive(Clone, Debug)]
pub struct Config {
    /// The config file read, if any.
    pub file: Option<PathBuf>,
    /// Where to serve.
    pub listen: SocketAddr,
    /// A configured token.
    pub token: Option<String>,
    /// Names and addresses the guarded routes answer to beside this machine's own.
    pub allowed_hosts: Vec<String>,
    /// The values' settings.
    pub settings: Settings,
    /// Cost mode.
    pub cost_mode: CostMode,
    /// A user prices file.
    pub prices: Option<PathBuf>,
    /// The state directory.
    pub state_dir: PathBuf,
    /// Where the OTLP gRPC receiver listens; `None` when it is off.
    pub otlp_grpc: Option<SocketAddr>,
    /// The Prometheus the values are read from, instead of the transcripts.
    pub prometheus: Option<String>,
    /// Each value and its origin.
    pub resolved: Vec<Resolved>,
    /// `[text]`: the character statistics.
    pub text: TextConfig,
    /// `[[correlate]]`: the sources laid beside cost and tokens.
    pub correlate: Vec<crate::correlate::Source>,
    /// `[git]`: the git correlation.
    pub git: GitConfig,
}

/// `[git]`: whether the daemon reads repositories, and the slack around sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GitConfig {
    /// `enabled` (default true): false keeps the daemon from running git.
    pub enabled: bool,
    /// `slack_minutes` (default [`redline_engine::git::DEFAULT_SLACK_MINUTES`]): how far
    /// before a session's first response and after its last a commit still counts.
    pub slack_minutes: u32,
}

/// `[text]`: whether the text statistics run, and the phrases watched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextConfig {
    /// `enabled` (default true); `--no-text` turns it off too.
    pub enabled: bool,
    /// `watch`, else [`redline_engine::text::DEFAULT_WATCH`].
    pub watch: Vec<String>,
}

impl Config {
    /// Whether the address is beyond loopback (so the token is needed for everything but
    /// the gauge endpoints).
    pub fn exposed(&self) -> bool {
        !is_loopback(self.listen.ip())
    }

    /// Where a client on this machine reaches the daemon (see [`local_addr`]).
    pub fn local_addr(&self) -> SocketAddr {
        local_addr(self.listen)
    }

    /// The file that keeps the token `serve` generated.
    pub fn token_file(&self) -> PathBuf {
        self.state_dir.join("token")
    }

    /// The token clients send: the configured one, else the one `serve` generated and
    /// kept (8 characters at least, as `serve` itself accepts it).
    pub fn known_token(&self) -> Option<String> {
        self.token.clone().or_else(|| {
            std::fs::read_to_string(self.token_file())
                .ok()
                .map(|t| t.trim().to_owned())
                .filter(|t| t.len() >= 8)
        })
    }
}

/// Whether `ip` is a loopback address, an IPv4 one written as IPv6 (`::ffff:127.0.0.1`)
/// included: the standard library calls that one not loopback.
pub fn is_loopback(ip: std::net::IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// `allowed_hosts` checked and made plain: each a host name (lower case, no trailing dot)
/// or an address (IPv6 with or without brackets), without a port.
pub fn parse_allowed_hosts(items: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in items {
        let t = item.trim();
        if t.is_empty() {
            continue;
        }
        let bare = t
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .unwrap_or(t);
        if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
            out.push(ip.to_canonical().to_string());
            continue;
        }
        let name = t.strip_suffix('.').unwrap_or(t).to_ascii_lowercase();
        if name.contains(':') {
            return Err(format!(
                "{t:?}: give the name without a port (desk.example, not desk.example:7878)"
            ));
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if !name.split('.').all(label_ok) {
            return Err(format!(
                "{t:?} is not a host name or an address (such as desk.example or 192.168.1.20)"
            ));
        }
        out.push(name);
    }
    Ok(out)
}

/// Why a token file is not private, when it is not: `None` for one only its owner may
/// read (or none at all).
pub fn token_file_problem(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        (mode & 0o077 != 0).then(|| {
            format!(
                "{} can be read by others (mode {:o}): chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// `text` fit for one log line: control bytes (0x00 to 0x1f, 0x7f), which a file name or
/// anything a client sent may hold, written as escapes (`\n`, `\x1b`), so none can start a
/// forged line or drive the terminal. Everything else, other scripts included, is kept.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\x7f' => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// This machine's name, as the kernel knows it (`hostname` where there is no /proc): the
/// `host.name` its OpenTelemetry carries and its row in `/api/hosts`.
pub fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| {
            std::process::Command::new("hostname")
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
        })
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

/// This machine as the store and `/api/hosts` name it: [`host_name`], else `localhost`.
/// The daemon tags its rollups with it and reports and `doctor` pick theirs by it, so
/// every one of them asks here.
pub fn this_host() -> String {
    host_name().unwrap_or_else(|| "localhost".into())
}

/// An address to serve on: `IP:PORT`, or `HOST:PORT` with a name this machine resolves
/// (`localhost:7878`, the machine's own name), taken as its first IPv4 address when it has
/// one (the ESP32 and most clients speak IPv4), else its first.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let text = text.trim();
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    let shape = "an address such as 127.0.0.1:7878, 0.0.0.0:7878 or localhost:7878";
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("{text:?} has no port: give {shape}"));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!("{text:?} is not {shape}"));
    }
    let found: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|e| format!("{text:?}: cannot resolve {host:?} ({e}); give {shape}"))?
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or(found.first())
        .copied()
        .ok_or_else(|| format!("{text:?}: {host:?} resolves to no address; give {shape}"))
}

/// The address a client on this machine uses for a daemon bound to `listen`: a daemon
/// bound to every address is reached through loopback.
pub fn local_addr(listen: SocketAddr) -> SocketAddr {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    addr
}

/// Resolves `args` (whose origins `source` tells, by argument id) over the config file.
pub fn resolve(
    args: &DaemonArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
) -> Result<Config> {
    let default_file = env
        .config_home()
        .map(|h| h.join("redline").join("config.toml"));
    let named = args.config.clone();
    // A missing default file is fine; anything else there (a directory, a file that
    // cannot be read) is a mistake to name, not to pass over.
    let path = named.or_else(|| default_file.filter(|p| std::fs::metadata(p).is_ok()));
    let (file_path, text) = match path {
        Some(p) => {
            if p.is_dir() {
                bail!(
                    "config file {} is a directory: give a file (--config, REDLINE_CONFIG), or remove the directory",
                    p.display()
                );
            }
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read config file {}", p.display()))?;
            (Some(p), text)
        }
        None => (None, String::new()),
    };
    let file: FileConfig = match toml::from_str(&text) {
        Ok(f) => f,
        Err(e) => {
            let at = file_path
                .as_deref()
                .map_or_else(|| "config".to_owned(), |p| p.display().to_string());
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            match line {
                Some(l) => bail!("{at}:{l}: {}", e.message()),
                None => bail!("{at}: {}", e.message()),
            }
        }
    };
    let mut r = Resolver {
        source,
        text: &text,
        file_path: file_path.as_deref(),
        resolved: Vec::new(),
    };

    let listen_text = r.pick(
        "listen",
        args.listen.clone(),
        file.listen.clone(),
        DEFAULT_LISTEN.into(),
    );
    let listen = parse_listen(&listen_text).map_err(|e| r.error("listen", &e))?;
    let token = r.pick_opt("token", args.token.clone(), file.token.clone());
    if let Some(last) = r.resolved.last_mut()
        && token.is_some()
    {
        last.value = "(set)".into();
    }
    if token.as_deref().is_some_and(|t| t.trim().len() < 8) {
        return Err(r.error("token", "a token needs at least 8 characters"));
    }
    let hosts_text = r.pick(
        "allowed_hosts",
        args.allowed_hosts.clone(),
        file.allowed_hosts.as_ref().map(|h| h.join(",")),
        String::new(),
    );
    let items: Vec<String> = hosts_text.split(',').map(str::to_owned).collect();
    let allowed_hosts = parse_allowed_hosts(&items).map_err(|e| r.error("allowed_hosts", &e))?;
    if allowed_hosts.is_empty()
        && let Some(last) = r.resolved.last_mut()
    {
        last.value = "(none)".into();
    }
    let count = "a whole number";
    let arg = r.number("tach_redline", args.tach_redline.as_deref(), count)?;
    let tach_redline = r.pick("tach_redline", arg, file.tach_redline, 20_000);
    if tach_redline == 0 {
        return Err(r.error(
            "tach_redline",
            "must be a positive number of tokens per minute",
        ));
    }
    let arg = r.number("tach_window", args.tach_window.as_deref(), count)?;
    let tach_window = r.pick("tach_window", arg, file.tach_window, 60);
    if !(1..=3600).contains(&tach_window) {
        return Err(r.error("tach_window", "must be 1 to 3600 seconds"));
    }
    let budget_text = r.pick(
        "block_budget",
        args.block_budget.clone(),
        file.block_budget.as_ref().map(|v| match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(n) => n.to_string(),
            _ => "(not a number or \"max\")".to_owned(),
        }),
        "max".into(),
    );
    let budget: Budget = budget_text
        .parse()
        .map_err(|e: String| r.error("block_budget", &e))?;
    let arg = r.number(
        "cost_full_scale",
        args.cost_full_scale.as_deref(),
        "a number",
    )?;
    let cost_full_scale = r.pick("cost_full_scale", arg, file.cost_full_scale, 50.0);
    if !cost_full_scale.is_finite() || cost_full_scale <= 0.0 {
        let not = if cost_full_scale.is_finite() {
            String::new()
        } else {
            format!(", not {cost_full_scale}")
        };
        return Err(r.error(
            "cost_full_scale",
            &format!("must be a positive number of dollars{not}"),
        ));
    }
    let tz_name = r.pick_opt("timezone", args.timezone.clone(), file.timezone.clone());
    let tz = time_zone(tz_name.as_deref()).map_err(|e| r.error("timezone", &e))?;
    if tz_name.is_none()
        && let Some(last) = r.resolved.last_mut()
    {
        last.value = tz.iana_name().unwrap_or("system").to_owned();
    }
    let mode_text = r.pick(
        "cost_mode",
        args.cost_mode.clone(),
        file.cost_mode.clone(),
        "auto".into(),
    );
    let cost_mode: CostMode = mode_text
        .parse()
        .map_err(|e: String| r.error("cost_mode", &e))?;
    let prices = r
        .pick_opt("prices", args.prices.clone(), file.prices.clone())
        .or_else(|| default_prices_file(env));
    let arg = r.number("api_error_window", args.api_error_window.as_deref(), count)?;
    let api_error_window = r.pick("api_error_window", arg, file.api_error_window, 300);
    let default_state = state_home(env).join("redline");
    let state_dir = r.pick(
        "state_dir",
        args.state_dir.clone(),
        file.state_dir.clone(),
        default_state,
    );
    let grpc_text = r.pick(
        "otlp_grpc",
        args.otlp_grpc.clone(),
        file.otlp_grpc.clone(),
        DEFAULT_OTLP_GRPC.into(),
    );
    let source_text = r.pick(
        "source",
        args.source.clone(),
        file.source.clone(),
        "transcripts".into(),
    );
    let prometheus = match source_text.trim() {
        "transcripts" | "jsonl" => None,
        other => match other.strip_prefix("prometheus=") {
            Some(url) if url.trim().starts_with("http://") => Some(url.trim().to_owned()),
            _ => {
                return Err(r.error(
                    "source",
                    &format!(
                        "{other:?} is neither `transcripts` nor `prometheus=URL` with an http:// URL such as prometheus=http://127.0.0.1:9090"
                    ),
                ));
            }
        },
    };
    let mut sources = SourcePicks::default();
    for value in ValueName::ALL {
        let key = sources_key(value);
        let text = r.pick(key, None, file.sources.get(value), "auto".into());
        let pick = value.parse_pick(&text).map_err(|e| r.error(key, &e))?;
        if pick == Pick::Only(SourceName::Prometheus) && prometheus.is_none() {
            return Err(r.error(
                key,
                "prometheus is not configured: set source = \"prometheus=URL\" (or --source prometheus=URL)",
            ));
        }
        sources.set(value, pick);
    }
    let otlp_grpc = if grpc_text.trim().eq_ignore_ascii_case("off") {
        None
    } else {
        Some(grpc_text.trim().parse::<SocketAddr>().map_err(|_| {
            r.error(
                "otlp_grpc",
                &format!("{grpc_text:?} is neither `off` nor an address such as 127.0.0.1:4317"),
            )
        })?)
    };

    let needles_text = r.pick(
        "needles",
        args.needles.clone(),
        file.needles.as_ref().map(|n| n.join(",")),
        Dial::DEFAULT_NEEDLES.map(Dial::name).join(","),
    );
    let names: Vec<String> = needles_text.split(',').map(str::to_owned).collect();
    let needles = parse_needles(&names).map_err(|e| r.error("needles", &e))?;
    let arg = r.number("stall_after", args.stall_after.as_deref(), count)?;
    let stall_after = r.pick("stall_after", arg, file.stall_after, 180);
    let arg = r.number("stale_after", args.stale_after.as_deref(), count)?;
    let stale_after = r.pick("stale_after", arg, file.stale_after, 18_000);
    let ratio_window = r.pick("ratio_window", None, file.ratio_window, 300);
    if !(1..=86_400).contains(&ratio_window) {
        return Err(r.error("ratio_window", "must be 1 to 86400 seconds"));
    }

    for (key, set) in [
        ("fuel_low", file.lamps.fuel_low.is_some()),
        ("fuel_critical", file.lamps.fuel_critical.is_some()),
        ("hot", file.lamps.hot.is_some()),
        ("hot_critical", file.lamps.hot_critical.is_some()),
    ] {
        if set {
            let why = format!(
                "a key of the first cluster's lamps, no longer read; {}",
                replaced_lamp_key(key)
            );
            return Err(r.in_file(&format!("lamps.{key}"), &why));
        }
    }
    let dz = Scales::default();
    let scales = Scales {
        tach_redline: tach_redline as f64,
        cost_full_scale_usd: cost_full_scale,
        temp_cool: r.pick("zones.temp_cool", None, file.zones.temp_cool, dz.temp_cool),
        temp_hot: r.pick("zones.temp_hot", None, file.zones.temp_hot, dz.temp_hot),
        cache_floor: r.pick(
            "zones.cache_floor",
            None,
            file.zones.cache_floor,
            dz.cache_floor,
        ),
        fuel_red_used: r.pick(
            "zones.plan_red",
            None,
            file.zones.plan_red,
            dz.fuel_red_used,
        ),
        context_red: r.pick(
            "zones.context_red",
            None,
            file.zones.context_red,
            dz.context_red,
        ),
    };
    if let Some((key, what)) = scales.problem() {
        let key = match key {
            "fuel_red_used" => "zones.plan_red",
            "temp_cool" => "zones.temp_cool",
            "temp_hot" => "zones.temp_hot",
            "cache_floor" => "zones.cache_floor",
            "context_red" => "zones.context_red",
            other => other,
        };
        return Err(r.error(key, what));
    }
    let dl = Thresholds::default();
    let secs = |s: u64| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX);
    let thresholds = Thresholds {
        warn_used: r.pick("lamps.warn_used", None, file.lamps.warn_used, dl.warn_used),
        warn_blink_used: r.pick(
            "lamps.warn_blink_used",
            None,
            file.lamps.warn_blink_used,
            dl.warn_blink_used,
        ),
        cache_floor: scales.cache_floor,
        cache_min_prompt_tokens: r.pick(
            "lamps.cache_min_prompt_tokens",
            None,
            file.lamps.cache_min_prompt_tokens,
            dl.cache_min_prompt_tokens,
        ),
        active_ms: secs(r.pick("lamps.active", None, file.lamps.active, 120)),
        stall_after_ms: secs(stall_after),
        stale_after_ms: secs(stale_after),
    };
    if let Some((key, what)) = thresholds.problem() {
        let key = match key {
            "warn_used" => "lamps.warn_used",
            "warn_blink_used" => "lamps.warn_blink_used",
            "active" => "lamps.active",
            other => other,
        };
        return Err(r.error(key, what));
    }

    let correlate = crate::correlate::source::sources(
        &file.correlate,
        &text,
        file_path.as_deref(),
        env.home.as_deref(),
    )?;
    let slack_minutes = file
        .git
        .slack_minutes
        .unwrap_or(redline_engine::git::DEFAULT_SLACK_MINUTES);
    if slack_minutes > MAX_SLACK_MINUTES {
        return Err(r.in_file(
            "git.slack_minutes",
            &format!("must be 0 to {MAX_SLACK_MINUTES} minutes"),
        ));
    }

    Ok(Config {
        file: file_path.clone(),
        listen,
        token,
        allowed_hosts,
        settings: Settings {
            tach_window_s: tach_window,
            budget,
            needles,
            scales,
            thresholds,
            tz,
            api_error_window_s: api_error_window,
            ratio_window_s: ratio_window,
            sources,
        },
        cost_mode,
        prices,
        state_dir,
        otlp_grpc,
        prometheus,
        resolved: r.resolved,
        text: TextConfig {
            enabled: !args.no_text && file.text.enabled.unwrap_or(true),
            watch: file.text.watch.clone().unwrap_or_else(|| {
                redline_engine::text::DEFAULT_WATCH
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect()
            }),
        },
        correlate,
        git: GitConfig {
            enabled: file.git.enabled.unwrap_or(true),
            slack_minutes,
        },
    })
}

/// The largest slack around a session: a day.
pub const MAX_SLACK_MINUTES: u32 = 1440;

/// Picks each value from flag/variable, file or default, noting where it came from.
struct Resolver<'a> {
    source: &'a dyn Fn(&str) -> Option<ValueSource>,
    text: &'a str,
    file_path: Option<&'a Path>,
    resolved: Vec<Resolved>,
}

impl Resolver<'_> {
    fn pick<T: ToDisplay>(
        &mut self,
        key: &'static str,
        arg: Option<T>,
        file: Option<T>,
        default: T,
    ) -> T {
        let (v, origin) = match (arg, file) {
            (Some(a), _) => (a, self.arg_origin(key)),
            (None, Some(f)) => (f, Origin::File),
            (None, None) => (default, Origin::Default),
        };
        self.resolved.push(Resolved {
            key,
            value: v.to_display(),
            origin,
        });
        v
    }

    fn pick_opt<T: ToDisplay>(
        &mut self,
        key: &'static str,
        arg: Option<T>,
        file: Option<T>,
    ) -> Option<T> {
        let (v, origin) = match (arg, file) {
            (Some(a), _) => (Some(a), self.arg_origin(key)),
            (None, Some(f)) => (Some(f), Origin::File),
            (None, None) => (None, Origin::Default),
        };
        self.resolved.push(Resolved {
            key,
            value: v.as_ref().map_or("(none)".into(), ToDisplay::to_display),
            origin,
        });
        v
    }

    /// A number given as a flag or variable (text to clap, so that a bad one is named
    /// here by where it came from, the variable rather than the flag).
    fn number<T: std::str::FromStr>(
        &self,
        key: &str,
        arg: Option<&str>,
        what: &str,
    ) -> Result<Option<T>> {
        arg.map(|text| {
            text.trim().parse::<T>().map_err(|_| {
                self.error_at(
                    Some(self.arg_origin(key)),
                    key,
                    &format!("{text:?} is not {what}"),
                )
            })
        })
        .transpose()
    }

    fn arg_origin(&self, key: &str) -> Origin {
        match (self.source)(key) {
            Some(ValueSource::EnvVariable) => Origin::Env,
            _ => Origin::Flag,
        }
    }

    /// An error about `key` that names where its value came from: the file and line, the
    /// variable, or the flag.
    fn error(&self, key: &str, message: &str) -> anyhow::Error {
        let origin = self
            .resolved
            .iter()
            .rev()
            .find(|r| r.key == key)
            .map(|r| r.origin.clone());
        self.error_at(origin, key, message)
    }

    /// An error about `key`, whose value came from `origin`.
    fn error_at(&self, origin: Option<Origin>, key: &str, message: &str) -> anyhow::Error {
        let flag = key.replace('_', "-");
        let var = format!("REDLINE_{}", key.to_ascii_uppercase());
        match origin {
            Some(Origin::File) => self.in_file(key, message),
            Some(Origin::Env) => anyhow::anyhow!("{var}: {message}"),
            _ => anyhow::anyhow!("--{flag}: {message}"),
        }
    }

    /// An error about `key` as the config file sets it: `path:line: key: message`.
    fn in_file(&self, key: &str, message: &str) -> anyhow::Error {
        let at = self
            .file_path
            .map_or_else(|| "config".to_owned(), |p| p.display().to_string());
        let leaf = key.rsplit('.').next().unwrap_or(key);
        match line_of_key(self.text, leaf) {
            Some(l) => anyhow::anyhow!("{at}:{l}: {key}: {message}"),
            None => anyhow::anyhow!("{at}: {key}: {message}"),
        }
    }
}

/// The 1-based line where `key = ...` is set in a TOML text.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

trait ToDisplay {
    fn to_display(&self) -> String;
}
impl ToDisplay for String {
    fn to_display(&self) -> String {
        self.clone()
    }
}
impl ToDisplay for PathBuf {
    fn to_display(&self) -> String {
        self.display().to_string()
    }
}
impl ToDisplay for u64 {
    fn to_display(&self) -> String {
        self.to_string()
    }
}
impl ToDisplay for f64 {
    fn to_display(&self) -> String {
        self.to_string()
    }
}

/// `$XDG_CONFIG_HOME/redline/prices.toml` when it exists: the prices file used when none
/// is named.
pub fn default_prices_file(env: &RootEnv) -> Option<PathBuf> {
    Some(env.config_home()?.join("redline").join("prices.toml")).filter(|p| p.is_file())
}

/// A time zone by IANA name or `UTC`; the system's when none is named.
pub fn time_zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        None => Ok(TimeZone::try_system().unwrap_or(TimeZone::UTC)),
        Some(n) if n.eq_ignore_ascii_case("utc") => Ok(TimeZone::UTC),
        Some(n) => TimeZone::get(n).map_err(|_| format!("unknown time zone {n:?}")),
    }
}

/// `$XDG_STATE_HOME`, else `~/.local/state`.
pub fn state_home(env: &RootEnv) -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| env.home.as_ref().map(|h| h.join(".local").join("state")))
        .unwrap_or_else(|| PathBuf::from(".redline-state"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_takes_addresses_and_host_names() {
        assert_eq!(
            parse_listen("0.0.0.0:7878").unwrap().to_string(),
            "0.0.0.0:7878"
        );
        assert_eq!(
            parse_listen("[::1]:9000").unwrap().to_string(),
            "[::1]:9000"
        );
        let local = parse_listen("localhost:7879").unwrap();
        assert!(local.ip().is_loopback() && local.port() == 7879, "{local}");
        assert_eq!(parse_listen(" localhost:7879 ").unwrap(), local);
        for (bad, why) in [
            ("localhost", "has no port"),
            ("localhost:http", "is not an address"),
            (":7878", "is not an address"),
            ("no-such-host.invalid:7878", "cannot resolve"),
        ] {
            let e = parse_listen(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    fn env_in(dir: &Path) -> RootEnv {
        RootEnv {
            claude_config_dir: None,
            xdg_config_home: Some(dir.display().to_string()),
            home: Some(dir.to_path_buf()),
        }
    }

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("redline-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("redline")).unwrap();
        d
    }

    fn no_source(_: &str) -> Option<ValueSource> {
        None
    }

    #[test]
    fn defaults_without_a_file() {
        let d = temp("defaults");
        let c = resolve(&DaemonArgs::default(), &no_source, &env_in(&d)).unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert!(!c.exposed());
        assert_eq!(c.settings.tach_redline(), 20_000);
        assert_eq!(c.settings.tach_window_s, 60);
        assert_eq!(c.settings.needles, Dial::DEFAULT_NEEDLES);
        assert_eq!(c.settings.thresholds.stall_after_ms, 180_000);
        assert_eq!(c.settings.thresholds.stale_after_ms, 18_000_000);
        assert_eq!(c.settings.budget, Budget::Max);
        assert!(c.resolved.iter().all(|r| r.origin == Origin::Default));
        assert_eq!(c.file, None);
    }

    #[test]
    fn sources_are_checked_against_what_each_source_knows() {
        let d = temp("sources");
        let file = d.join("redline/config.toml");
        std::fs::write(
            &file,
            "tach_window = 60\n[sources]\nfuel = \"auto\"\nthinking = \"otlp\"\n",
        )
        .unwrap();
        let e = resolve(&DaemonArgs::default(), &no_source, &env_in(&d))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("config.toml:4: sources.thinking: otlp cannot know thinking"),
            "{e}"
        );
        std::fs::write(&file, "[sources]\ncost = \"prometheus\"\n").unwrap();
        let e = resolve(&DaemonArgs::default(), &no_source, &env_in(&d))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(":2: sources.cost: prometheus is not configured"),
            "{e}"
        );
        std::fs::write(
            &file,
            "source = \"prometheus=http://127.0.0.1:9090\"\n[sources]\ncost = \"prometheus\"\ntach = \"jsonl\"\n",
        )
        .unwrap();
        let c = resolve(&DaemonArgs::default(), &no_source, &env_in(&d)).unwrap();
        assert_eq!(
            c.settings.sources.get(ValueName::Cost),
            Pick::Only(SourceName::Prometheus)
        );
        assert_eq!(
            c.settings.sources.get(ValueName::Tach),
            Pick::Only(SourceName::Jsonl)
        );
        assert_eq!(c.settings.sources.get(ValueName::Fuel), Pick::Auto);
    }

    #[test]
    fn file_then_variable_then_flag() {
        let d = temp("layers");
        std::fs::write(
            d.join("redline/config.toml"),
            "listen = \"0.0.0.0:9000\"\ntach_redline = 30000\nblock_budget = 5000000\nneedles = [\"cost\", \"tach\", \"weekly\", \"boost\"]\n[zones]\ntemp_hot = 0.7\n[lamps]\nwarn_used = 0.75\n",
        )
        .unwrap();
        let args = DaemonArgs {
            tach_redline: Some("40000".into()),
            tach_window: Some("30".into()),
            ..DaemonArgs::default()
        };
        let source = |id: &str| match id {
            "tach_redline" => Some(ValueSource::EnvVariable),
            "tach_window" => Some(ValueSource::CommandLine),
            _ => None,
        };
        let c = resolve(&args, &source, &env_in(&d)).unwrap();
        assert!(c.exposed());
        assert_eq!(c.settings.tach_redline(), 40_000);
        assert_eq!(c.settings.budget, Budget::Tokens(5_000_000));
        assert_eq!(c.settings.scales.temp_hot, 0.7);
        assert_eq!(c.settings.thresholds.warn_used, 0.75);
        assert_eq!(
            c.settings.needles,
            [Dial::Cost, Dial::Tach, Dial::Weekly, Dial::Boost]
        );
        let origin = |k: &str| {
            c.resolved
                .iter()
                .find(|r| r.key == k)
                .unwrap()
                .origin
                .clone()
        };
        assert_eq!(origin("listen"), Origin::File);
        assert_eq!(origin("tach_redline"), Origin::Env);
        assert_eq!(origin("tach_window"), Origin::Flag);
        assert_eq!(origin("zones.temp_hot"), Origin::File);
        assert_eq!(origin("needles"), Origin::File);
        assert_eq!(origin("cost_full_scale"), Origin::Default);
    }

    #[test]
    fn the_git_table() {
        let d = temp("git");
        let f = d.join("redline/config.toml");
        let c = resolve(&DaemonArgs::default(), &no_source, &env_in(&d)).unwrap();
        assert_eq!((c.git.enabled, c.git.slack_minutes), (true, 15));
        std::fs::write(&f, "[git]\nenabled = false\nslack_minutes = 30\n").unwrap();
        let c = resolve(&DaemonArgs::default(), &no_source, &env_in(&d)).unwrap();
        assert_eq!((c.git.enabled, c.git.slack_minutes), (false, 30));
        std::fs::write(&f, "[git]\nslack_minutes = 2000\n").unwrap();
        let e = resolve(&DaemonArgs::default(), &no_source, &env_in(&d))
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("config.toml:2: git.slack_minutes: must be 0 to 1440 minutes"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn errors_name_file_and_line_or_variable() {
        let d = temp("errors");
        let f = d.join("redline/config.toml");
        std::fs::write(&f, "# redline\ntach_window = 60\n[lamps]\nwarn_used = 3\n").unwrap();
        let e = resolve(&DaemonArgs::default(), &no_source, &env_in(&d))
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("config.toml:4: lamps.warn_used: must be a share from 0 to 1"),
            "{e}"
        );
        std::fs::write(&f, "tach_windw = 60\n").unwrap();
        let e = resolve(&DaemonArgs::default(), &no_source, &env_in(&d))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("config.toml:1:") && e.contains("tach_windw"),
            "{e}"
        );
        std::fs::write(&f, "").unwrap();
        let args = DaemonArgs {
            block_budget: Some("lots".into()),
            ..DaemonArgs::default()
        };
        let env_source = |_: &str| Some(ValueSource::EnvVariable);
        let e = resolve(&args, &env_source, &env_in(&d))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("REDLINE_BLOCK_BUDGET: "), "{e}");
        let args = DaemonArgs {
            listen: Some("everywhere".into()),
            ..DaemonArgs::default()
        };
        let flag_source = |_: &str| Some(ValueSource::CommandLine);
        let e = resolve(&args, &flag_source, &env_in(&d))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--listen: "), "{e}");
        let args = DaemonArgs {
            config: Some(d.join("missing.toml")),
            ..DaemonArgs::default()
        };
        let e = resolve(&args, &no_source, &env_in(&d))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.toml"), "{e}");
    }

    #[test]
    fn the_first_clusters_lamp_keys_name_what_replaced_them() {
        let d = temp("old-lamps");
        let f = d.join("redline/config.toml");
        for (text, key, names) in [
            ("[lamps]\nfuel_low = 0.2\n", "lamps.fuel_low", "warn_used"),
            (
                "[lamps]\nhot_critical = 0.9\n",
                "lamps.hot_critical",
                "context_red",
            ),
        ] {
            std::fs::write(&f, text).unwrap();
            let e = resolve(&DaemonArgs::default(), &no_source, &env_in(&d))
                .unwrap_err()
                .to_string();
            assert!(e.contains("config.toml:2: ") && e.contains(key), "{e}");
            assert!(e.contains(names), "{e}");
        }
    }

    #[test]
    fn needles_zones_and_limits_are_checked() {
        let d = temp("needles");
        let f = d.join("redline/config.toml");
        std::fs::write(&f, "").unwrap();
        let flag = |_: &str| Some(ValueSource::CommandLine);
        let env = |_: &str| Some(ValueSource::EnvVariable);
        let with = |needles: &str| DaemonArgs {
            needles: Some(needles.into()),
            ..DaemonArgs::default()
        };
        let c = resolve(&with("temp, fuel,context,TACH"), &flag, &env_in(&d)).unwrap();
        assert_eq!(
            c.settings.needles,
            [Dial::Temp, Dial::Fuel, Dial::Context, Dial::Tach]
        );
        for (bad, says) in [
            ("fuel,tach,temp", "3 needles"),
            ("fuel,tach,temp,boost,cost", "5 needles"),
            ("fuel,tach,fuel,boost", "fuel is named twice"),
            ("fuel,tach,oil,boost", "\"oil\" is not a dial"),
        ] {
            let e = resolve(&with(bad), &env, &env_in(&d))
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with("REDLINE_NEEDLES: ") && e.contains(says),
                "{e}"
            );
        }
        let args = DaemonArgs {
            stall_after: Some("0".into()),
            ..DaemonArgs::default()
        };
        let e = resolve(&args, &env, &env_in(&d)).unwrap_err().to_string();
        assert!(e.starts_with("REDLINE_STALL_AFTER: "), "{e}");
        std::fs::write(&f, "[zones]\ntemp_cool = 0.7\ntemp_hot = 0.5\n").unwrap();
        let e = resolve(&DaemonArgs::default(), &no_source, &env_in(&d))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("config.toml:2: zones.temp_cool: must not be above temp_hot"),
            "{e}"
        );
        std::fs::write(&f, "[zones]\ncache_floor = 0.3\n").unwrap();
        let c = resolve(&DaemonArgs::default(), &no_source, &env_in(&d)).unwrap();
        assert_eq!(
            (
                c.settings.scales.cache_floor,
                c.settings.thresholds.cache_floor
            ),
            (0.3, 0.3),
            "BOOST's red zone and WARN's floor are one setting"
        );
    }

    #[test]
    fn an_ipv4_mapped_loopback_address_is_loopback() {
        let d = temp("mapped");
        let args = DaemonArgs {
            listen: Some("[::ffff:127.0.0.1]:7878".into()),
            ..DaemonArgs::default()
        };
        let c = resolve(&args, &no_source, &env_in(&d)).unwrap();
        assert!(!c.exposed());
        assert!(is_loopback("::ffff:127.9.0.1".parse().unwrap()));
        assert!(!is_loopback("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!is_loopback("0.0.0.0".parse().unwrap()));
    }

    #[test]
    fn allowed_hosts_are_names_or_addresses_without_ports() {
        let items = |t: &str| t.split(',').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            parse_allowed_hosts(&items(
                " Desk.Example. ,10.0.0.2,[fe80::1],::ffff:10.0.0.3,"
            )),
            Ok(vec![
                "desk.example".to_owned(),
                "10.0.0.2".into(),
                "fe80::1".into(),
                "10.0.0.3".into()
            ])
        );
        for (bad, says) in [
            ("desk:7878", "without a port"),
            ("http://desk", "without a port"),
            ("desk/x", "not a host name"),
            ("*.example", "not a host name"),
            ("a..b", "not a host name"),
        ] {
            let e = parse_allowed_hosts(&items(bad)).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let d = temp("allowed");
        std::fs::write(
            d.join("redline/config.toml"),
            "allowed_hosts = [\"desk.example\"]\n",
        )
        .unwrap();
        let c = resolve(&DaemonArgs::default(), &no_source, &env_in(&d)).unwrap();
        assert_eq!(c.allowed_hosts, vec!["desk.example".to_owned()]);
        let args = DaemonArgs {
            allowed_hosts: Some("a.example,b.example".into()),
            ..DaemonArgs::default()
        };
        let env = |_: &str| Some(ValueSource::EnvVariable);
        let c = resolve(&args, &env, &env_in(&d)).unwrap();
        assert_eq!(c.allowed_hosts, vec!["a.example", "b.example"]);
    }

    #[test]
    fn a_bad_number_names_the_variable_or_the_flag_it_came_from() {
        let d = temp("numbers");
        let env = |_: &str| Some(ValueSource::EnvVariable);
        let flag = |_: &str| Some(ValueSource::CommandLine);
        let args = DaemonArgs {
            tach_redline: Some("abc".into()),
            ..DaemonArgs::default()
        };
        let e = resolve(&args, &env, &env_in(&d)).unwrap_err().to_string();
        assert_eq!(e, "REDLINE_TACH_REDLINE: \"abc\" is not a whole number");
        let e = resolve(&args, &flag, &env_in(&d)).unwrap_err().to_string();
        assert_eq!(e, "--tach-redline: \"abc\" is not a whole number");
        for v in ["inf", "-inf", "NaN", "0", "-3"] {
            let args = DaemonArgs {
                cost_full_scale: Some(v.into()),
                ..DaemonArgs::default()
            };
            let e = resolve(&args, &env, &env_in(&d)).unwrap_err().to_string();
            assert!(
                e.starts_with("REDLINE_COST_FULL_SCALE: must be a positive number of dollars"),
                "{v}: {e}"
            );
        }
        let args = DaemonArgs {
            stale_after: Some(" 600 ".into()),
            cost_full_scale: Some("12.5".into()),
            ..DaemonArgs::default()
        };
        let c = resolve(&args, &env, &env_in(&d)).unwrap();
        assert_eq!(c.settings.thresholds.stale_after_ms, 600_000);
        assert_eq!(c.settings.scales.cost_full_scale_usd, 12.5);
    }

    #[test]
    fn a_directory_at_the_config_file_is_an_error() {
        let d = temp("config-dir");
        let f = d.join("redline/config.toml");
        std::fs::create_dir(&f).unwrap();
        let e = resolve(&DaemonArgs::default(), &no_source, &env_in(&d))
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.toml is a directory"), "{e}");
        let args = DaemonArgs {
            config: Some(d.clone()),
            ..DaemonArgs::default()
        };
        let e = resolve(&args, &no_source, &env_in(&d))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a directory"), "{e}");
    }

    #[test]
    fn log_text_keeps_no_control_bytes() {
        assert!(matches!(
            printable("plain ✓ text"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(
            printable("a\nredline: forged\r\t\x1b[31m\x00\x7fz"),
            "a\\nredline: forged\\r\\t\\x1b[31m\\x00\\x7fz"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_others_may_read_is_a_problem() {
        use std::os::unix::fs::PermissionsExt;
        let d = temp("token-mode");
        let f = d.join("token");
        assert_eq!(token_file_problem(&f), None);
        std::fs::write(&f, "0123456789").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(token_file_problem(&f), None);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let why = token_file_problem(&f).unwrap();
        assert!(
            why.contains("(mode 640)") && why.ends_with(&format!("chmod 600 {}", f.display())),
            "{why}"
        );
    }
}
