//! `redline install-claude`: connects Claude Code to redline. It owns the settings snippet
//! (a statusLine running `redline statusline`, and an http hook to the daemon's `/hook` for
//! each event the engine reads) and merging it into, or taking it out of, Claude Code's
//! `settings.json`.
//!
//! Nothing of redline's bookkeeping is stored in the settings: redline's entries are
//! recognised by what they are (a statusLine whose command is `redline statusline ...`, a
//! hook whose url is `/hook` on the daemon's address), and a statusLine that was there
//! before is kept as the `--then` argument of redline's, from which `--remove` parses it
//! back. Every other key, and the order of keys, is left as it was: the file is read into
//! an order-keeping JSON value (`crate::ordered_json`); serde_json's own `preserve_order`
//! would reorder every report's JSON, so it stays off. Each write is
//! preceded by a timestamped backup and replaces the file in one rename.
//!
//! `--otel` is the other half: the variables that send Claude Code's OpenTelemetry to the
//! daemon, printed as shell lines for this machine and for others, or (`--otel --write`)
//! put into the settings' `env` object, whose keys redline recognises by their values
//! (the endpoint on the daemon's address) when `--otel --remove` takes them out again.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::cli::{InstallClaudeArgs, OtlpProtocol};
use crate::config::{self, Config, DEFAULT_LISTEN};
use crate::ordered_json::{Json, Object};
use anyhow::{Context, Result, anyhow, bail};
use clap::parser::ValueSource;
use redline_engine::roots::RootEnv;

/// The hook events the engine reads (SPEC.md, data source 5).
pub const HOOK_EVENTS: [&str; 7] = [
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "Stop",
    "StopFailure",
    "SessionStart",
    "SessionEnd",
];

/// Seconds Claude Code waits for the daemon's answer to a hook.
const HOOK_TIMEOUT_S: u64 = 2;

/// Prints the snippet, or merges it into (`--write`) or takes it out of (`--remove`)
/// Claude Code's settings.
pub fn run(
    args: &InstallClaudeArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
) -> Result<()> {
    let cfg = config::resolve(&args.daemon, source, env)?;
    let program = std::env::current_exe().context("cannot find the path of this redline binary")?;
    let target = Target::new(cfg.listen, cfg.token.is_some() || cfg.exposed(), &program);
    let path = match &args.settings {
        Some(p) => p.clone(),
        None => settings_path(env)?,
    };
    if args.otel {
        let setup = Otel::new(&cfg, args.protocol)?;
        return otel(args, &setup, &path);
    }
    let token_note = if cfg.token.is_some() {
        Some("REDLINE_TOKEN must be set in Claude Code's environment, to the token: the hooks send `Authorization: Bearer $REDLINE_TOKEN`, and the token itself is never written to settings.json.".to_owned())
    } else if cfg.exposed() {
        Some(format!(
            "REDLINE_TOKEN must be set in Claude Code's environment to the daemon's token (in {}): the daemon listens beyond loopback, so the hooks send `Authorization: Bearer $REDLINE_TOKEN`.",
            cfg.token_file().display()
        ))
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    if args.write || args.remove {
        let report = edit(&path, args.remove, |settings| {
            if args.remove {
                Ok(disconnect(settings, &target))
            } else {
                connect(settings, &target)
            }
        })?;
        write!(out, "{report}")?;
        if args.write {
            if let Some(n) = &token_note {
                writeln!(out, "{n}")?;
            }
            for w in where_warnings(&program, &target) {
                eprintln!("redline: warning: {w}");
            }
        }
        if report.changed {
            writeln!(
                out,
                "Claude Code reads hooks when it starts: restart running sessions."
            )?;
        }
        return Ok(());
    }
    let mut snippet = Object::default();
    connect(&mut snippet, &target)?;
    writeln!(out, "{}", pretty(&snippet)?.trim_end())?;
    writeln!(out)?;
    writeln!(
        out,
        "Run `redline install-claude --write` to merge this into {} (after a backup; a statusLine you already have keeps running after redline's, and `--remove` takes it all out again).",
        path.display()
    )?;
    if let Some(n) = &token_note {
        writeln!(out, "{n}")?;
    }
    for w in where_warnings(&program, &target) {
        eprintln!("redline: warning: {w}");
    }
    Ok(())
}

/// What may break the written settings later: a binary in a cargo build directory (a
/// `cargo clean` or a checkout moved takes Claude Code's status line with it), and no
/// daemon answering where the hooks and the status line will look for it.
fn where_warnings(program: &Path, target: &Target) -> Vec<String> {
    let mut warnings = Vec::new();
    if in_build_dir(program) {
        warnings.push(format!(
            "{} is a cargo build output: Claude Code's status line runs it by that path, so `cargo clean` or moving the checkout breaks it. Install redline with `cargo install --path crates/redline` and run `redline install-claude --write` again.",
            program.display()
        ));
    }
    let timeout = std::time::Duration::from_millis(300);
    if std::net::TcpStream::connect_timeout(&target.addr, timeout).is_err() {
        warnings.push(format!(
            "no redline daemon answers at {} now: the hooks post to {} and the status line reads it there. Start one with `redline serve` (or `redline service install`) on that address.",
            target.addr,
            target.hook_url()
        ));
    }
    warnings
}

/// Whether a binary sits in a cargo build directory: `target/release/`, `target/debug/`
/// or `target/<triple>/release/` (and debug).
fn in_build_dir(program: &Path) -> bool {
    let dirs: Vec<&std::ffi::OsStr> = program
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .map(|c| c.as_os_str())
        .collect();
    let profile =
        |d: Option<&&std::ffi::OsStr>| d.is_some_and(|d| *d == "release" || *d == "debug");
    dirs.iter()
        .enumerate()
        .any(|(i, d)| *d == "target" && (profile(dirs.get(i + 1)) || profile(dirs.get(i + 2))))
}

/// Claude Code's user settings: `$CLAUDE_CONFIG_DIR/settings.json` when that names one
/// directory, else `~/.claude/settings.json`.
pub fn settings_path(env: &RootEnv) -> Result<PathBuf> {
    let named = env
        .claude_config_dir
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty() && !d.contains(','));
    if let Some(dir) = named {
        return Ok(Path::new(dir).join("settings.json"));
    }
    let home = env
        .home
        .as_ref()
        .context("HOME is not set: name Claude Code's settings file with --settings")?;
    Ok(home.join(".claude").join("settings.json"))
}

/// What redline writes, for one daemon address.
#[derive(Clone, Debug)]
pub struct Target {
    /// Where Claude Code reaches the daemon (an unspecified bind becomes 127.0.0.1).
    addr: SocketAddr,
    /// Whether the hooks carry `Authorization: Bearer $REDLINE_TOKEN`.
    auth: bool,
    /// The redline binary the status line runs, as a shell word: its absolute path, so
    /// the line works whether or not `redline` is on Claude Code's PATH.
    program: String,
}

impl Target {
    /// The daemon bound to `listen`; `auth` when it wants the token for POSTs; `program`
    /// is the binary the status line runs (this one, by its absolute path).
    pub fn new(listen: SocketAddr, auth: bool, program: &Path) -> Target {
        Target {
            addr: config::local_addr(listen),
            auth,
            program: shell_word(&program.to_string_lossy()),
        }
    }

    /// `http://ADDR/hook`.
    pub fn hook_url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// `/path/to/redline statusline [--listen ADDR] [--then 'CMD']`. The address is named
    /// only when it is not the default, so the usual command stays the short one.
    pub fn statusline_command(&self, then: Option<&str>) -> String {
        let mut c = format!("{} statusline", self.program);
        if self.addr.to_string() != DEFAULT_LISTEN {
            c.push_str(" --listen ");
            c.push_str(&shell_word(&self.addr.to_string()));
        }
        if let Some(t) = then {
            c.push_str(" --then ");
            c.push_str(&shell_quote(t));
        }
        c
    }

    /// One http hook handler.
    fn hook(&self) -> Json {
        let mut h = Object::from([
            ("type", "http".into()),
            ("url", self.hook_url().into()),
            ("timeout", HOOK_TIMEOUT_S.into()),
        ]);
        if self.auth {
            h.insert(
                "headers",
                Object::from([("Authorization", "Bearer $REDLINE_TOKEN".into())]).into(),
            );
            h.insert("allowedEnvVars", Json::Array(vec!["REDLINE_TOKEN".into()]));
        }
        h.into()
    }

    /// The matcher group added to `hooks.<event>`.
    fn group(&self, event: &str) -> Json {
        let hooks = ("hooks", Json::Array(vec![self.hook()]));
        // Tool events take a matcher; "*" is every tool.
        if event == "PreToolUse" || event == "PostToolUse" {
            Object::from([("matcher", "*".into()), hooks]).into()
        } else {
            Object::from([hooks]).into()
        }
    }

    /// Whether a hook handler is redline's: its url is `/hook` on the daemon's address
    /// (any loopback spelling of it when the daemon is on loopback).
    fn is_ours(&self, hook: &Json) -> bool {
        let Some(rest) = hook
            .get("url")
            .and_then(Json::as_str)
            .and_then(|u| u.strip_prefix("http://"))
        else {
            return false;
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if path.trim_end_matches('/') != "hook" {
            return false;
        }
        if authority == self.addr.to_string() {
            return true;
        }
        let port = self.addr.port();
        self.addr.ip().is_loopback()
            && [
                format!("localhost:{port}"),
                format!("127.0.0.1:{port}"),
                format!("[::1]:{port}"),
            ]
            .iter()
            .any(|a| a == authority)
    }
}

/// A redline statusLine command, taken apart.
#[derive(Debug, PartialEq, Eq)]
struct Ours {
    /// The command it runs after its own line: the statusLine that was there before.
    then: Option<String>,
    /// Whether it is what [`Target::statusline_command`] writes (a `redline` binary, by
    /// name or by any path, then `statusline` with at most `--listen` and `--then`), so it
    /// may be rewritten: a line naming another path to redline gets this binary's.
    plain: bool,
}

/// Reads a statusLine command as redline's, or `None` when it is someone else's.
fn parse_ours(command: &str) -> Option<Ours> {
    let words = split_words(command)?;
    let (program, rest) = words.split_first()?;
    if Path::new(program).file_name()? != "redline" || rest.first()? != "statusline" {
        return None;
    }
    let mut ours = Ours {
        then: None,
        plain: true,
    };
    let mut it = rest[1..].iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "--then" => ours.then = Some(it.next()?.clone()),
            "--listen" => {
                it.next()?;
            }
            w if w.starts_with("--then=") => ours.then = Some(w["--then=".len()..].to_owned()),
            w if w.starts_with("--listen=") => {}
            _ => ours.plain = false,
        }
    }
    Some(ours)
}

/// Adds redline's statusLine and hooks to a settings object; a note for each change.
pub fn connect(settings: &mut Object, t: &Target) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    match settings.get_mut("statusLine") {
        None => {
            let line = Object::from([
                ("type", "command".into()),
                ("command", t.statusline_command(None).into()),
            ]);
            settings.insert("statusLine", line.into());
            notes.push(format!("statusLine: {}", t.statusline_command(None)));
        }
        Some(Json::Object(line)) => {
            let Some(command) = line.get("command").and_then(Json::as_str) else {
                bail!(
                    "statusLine has no command: set it up by hand (see `redline install-claude`)"
                );
            };
            let new = match parse_ours(command) {
                Some(Ours { plain: false, .. }) => None,
                Some(Ours { then, plain: true }) => Some(t.statusline_command(then.as_deref())),
                None => {
                    notes.push(format!(
                        "statusLine: redline's line first, then yours ({command})"
                    ));
                    Some(t.statusline_command(Some(command)))
                }
            };
            if let Some(new) = new {
                line.insert("command", new.into());
            }
        }
        Some(_) => bail!("statusLine is not an object"),
    }

    let Json::Object(hooks) = settings.get_or_insert("hooks", || Object::default().into()) else {
        bail!("hooks is not an object");
    };
    let (mut added, mut updated) = (Vec::new(), Vec::new());
    for event in HOOK_EVENTS {
        let Json::Array(groups) = hooks.get_or_insert(event, || Json::Array(Vec::new())) else {
            bail!("hooks.{event} is not a list");
        };
        let mut found = false;
        for hook in groups
            .iter_mut()
            .filter_map(|g| g.get_mut("hooks").and_then(Json::as_array_mut))
            .flatten()
        {
            if t.is_ours(hook) {
                let new = t.hook();
                if *hook != new {
                    *hook = new;
                    updated.push(event);
                }
                found = true;
            }
        }
        if !found {
            groups.push(t.group(event));
            added.push(event);
        }
    }
    if !added.is_empty() {
        notes.push(format!("hooks: {} -> {}", added.join(", "), t.hook_url()));
    }
    if !updated.is_empty() {
        notes.push(format!("hooks: updated for {}", updated.join(", ")));
    }
    Ok(notes)
}

/// Takes redline's statusLine and hooks out of a settings object again, restoring the
/// statusLine that was there before; a note for each change.
pub fn disconnect(settings: &mut Object, t: &Target) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(Json::Object(line)) = settings.get_mut("statusLine")
        && let Some(ours) = line
            .get("command")
            .and_then(Json::as_str)
            .and_then(parse_ours)
    {
        match ours.then {
            Some(original) => {
                notes.push(format!("statusLine: back to {original}"));
                line.insert("command", original.into());
            }
            None => {
                notes.push("statusLine: removed".into());
                settings.remove("statusLine");
            }
        }
    }

    let mut removed_any = false;
    if let Some(Json::Object(hooks)) = settings.get_mut("hooks") {
        let mut emptied = Vec::new();
        let mut removed = Vec::new();
        for (event, groups) in hooks.iter_mut() {
            let Json::Array(groups) = groups else {
                continue;
            };
            let mut removed_here = false;
            groups.retain_mut(|g| {
                let Some(handlers) = g.get_mut("hooks").and_then(Json::as_array_mut) else {
                    return true;
                };
                let before = handlers.len();
                handlers.retain(|h| !t.is_ours(h));
                if handlers.len() == before {
                    return true;
                }
                removed_here = true;
                // A group left without handlers was redline's own.
                !handlers.is_empty()
            });
            if removed_here {
                removed.push(event.clone());
                if groups.is_empty() {
                    emptied.push(event.clone());
                }
            }
        }
        for event in &emptied {
            hooks.remove(event);
        }
        if !removed.is_empty() {
            removed_any = true;
            notes.push(format!("hooks: removed from {}", removed.join(", ")));
        }
    }
    if removed_any
        && settings
            .get("hooks")
            .and_then(Json::as_object)
            .is_some_and(Object::is_empty)
    {
        settings.remove("hooks");
    }
    notes
}

/// The variable that names where Claude Code exports to: the one by which `--otel --remove`
/// knows the others are redline's.
const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The variable that carries the token. It is printed, never written to settings.json.
const HEADERS_VAR: &str = "OTEL_EXPORTER_OTLP_HEADERS";

/// Milliseconds between metric exports (Claude Code's default is a minute: too slow for a
/// needle).
const METRIC_INTERVAL_MS: &str = "10000";

/// Milliseconds between event exports (Claude Code's default).
const LOGS_INTERVAL_MS: &str = "5000";

/// Where Claude Code's OpenTelemetry goes: the daemon's receivers and token, and this
/// machine's name, as `serve` would run with the same configuration.
#[derive(Clone, Debug)]
pub struct Otel {
    /// The protocol chosen.
    protocol: OtlpProtocol,
    /// The daemon's HTTP bind (`/v1/metrics`, `/v1/logs`).
    listen: SocketAddr,
    /// The gRPC receiver's bind, `None` when it is off.
    grpc: Option<SocketAddr>,
    /// This machine's name: its `host.name`, the same row as its transcripts in
    /// `/api/hosts`.
    host: String,
    /// The token, when it is known here (configured, or kept by `serve`).
    token: Option<String>,
    /// Where `serve` keeps the token it generates.
    token_file: PathBuf,
}

impl Otel {
    /// The set-up for `cfg`; an error when `protocol` is grpc and the gRPC receiver is off.
    pub fn new(cfg: &Config, protocol: OtlpProtocol) -> Result<Otel> {
        let otel = Otel {
            protocol,
            listen: cfg.listen,
            grpc: cfg.otlp_grpc,
            host: config::this_host(),
            token: cfg.known_token(),
            token_file: cfg.token_file(),
        };
        if otel.bind(protocol).is_none() {
            bail!(
                "the daemon's gRPC receiver is off (otlp_grpc = \"off\"): use --protocol http/protobuf (OTLP over HTTP on {}), or serve gRPC with `redline serve --otlp-grpc {}`",
                cfg.listen,
                config::DEFAULT_OTLP_GRPC
            );
        }
        Ok(otel)
    }

    /// The address the receiver for `protocol` is bound to.
    fn bind(&self, protocol: OtlpProtocol) -> Option<SocketAddr> {
        match protocol {
            OtlpProtocol::Grpc => self.grpc,
            OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => Some(self.listen),
        }
    }

    /// The receiver's bind for the chosen protocol.
    fn receiver(&self) -> SocketAddr {
        self.bind(self.protocol).unwrap_or(self.listen)
    }

    /// Whether the receiver is bound beyond loopback: only then can other machines reach
    /// it, and then it wants the token from every sender, this machine's too.
    fn exposed(&self) -> bool {
        !self.receiver().ip().is_loopback()
    }

    /// This machine's variables for `protocol` (`None` when its receiver is off), in the
    /// order they are printed and written: everything but the token.
    fn local_vars(&self, protocol: OtlpProtocol) -> Option<Vec<(&'static str, String)>> {
        let endpoint = format!("http://{}", config::local_addr(self.bind(protocol)?));
        Some(vars(protocol, endpoint, format!("host.name={}", self.host)))
    }

    /// Where another machine sends: the bound address when it is one address, else this
    /// machine's name (`NAME.local`, the mDNS name, when it has no domain); and whether
    /// that is a name.
    fn remote_endpoint(&self) -> (String, bool) {
        let bind = self.receiver();
        let ip = bind.ip();
        if !ip.is_loopback() && !ip.is_unspecified() {
            return (format!("http://{bind}"), false);
        }
        let name = if self.host.contains('.') || self.host == "localhost" {
            self.host.clone()
        } else {
            format!("{}.local", self.host)
        };
        (format!("http://{name}:{}", bind.port()), true)
    }

    /// `Authorization=Bearer <token>` as one shell word: the token when it is known, else
    /// (`local`) read from the token file when the line runs, or (elsewhere) a placeholder
    /// naming the file.
    fn header_word(&self, local: bool) -> String {
        match (&self.token, local) {
            (Some(t), _) => shell_quote(&format!("Authorization=Bearer {t}")),
            (None, true) => format!(
                "\"Authorization=Bearer $(cat {})\"",
                shell_word(&self.token_file.display().to_string())
            ),
            (None, false) => shell_quote(&format!(
                "Authorization=Bearer <the token in {} on {}>",
                self.token_file.display(),
                self.host
            )),
        }
    }

    /// What `--otel` prints: shell lines for this machine and for others, with `#`
    /// comments, so all of it can be pasted into a shell.
    pub fn text(&self, settings: &Path) -> String {
        let mut t = Lines::default();
        let p = self.protocol;
        let (transport, receiver) = match p {
            OtlpProtocol::Grpc => ("OTLP over gRPC", "The daemon's gRPC receiver"),
            OtlpProtocol::HttpProtobuf => ("OTLP over HTTP, protobuf", "The daemon"),
            OtlpProtocol::HttpJson => ("OTLP over HTTP, JSON", "The daemon"),
        };
        t.line(format!(
            "# Claude Code's OpenTelemetry to redline: {transport} (--protocol grpc|http/protobuf|http/json)."
        ));
        t.line("");
        t.line("# This machine: add these to your shell profile (~/.bashrc, ~/.zshrc), or run");
        t.line(format!(
            "# `redline install-claude --otel --write` to put them in {}.",
            settings.display()
        ));
        for (name, value) in self.local_vars(p).unwrap_or_default() {
            t.line(format!("export {name}={}", shell_word(&value)));
        }
        if self.exposed() {
            t.line(format!(
                "# {receiver} listens beyond loopback ({}): every export needs its token.",
                self.receiver()
            ));
            t.line(
                "# Keep this line in the profile: --write never puts the token in settings.json.",
            );
            t.line(format!("export {HEADERS_VAR}={}", self.header_word(true)));
        }

        t.line("");
        t.line("# Other machines that send to this one: add these to their shell profiles.");
        if !self.exposed() {
            let flag = match p {
                OtlpProtocol::Grpc => "--otlp-grpc",
                OtlpProtocol::HttpProtobuf | OtlpProtocol::HttpJson => "--listen",
            };
            let port = self.receiver().port();
            t.line(format!(
                "# {receiver} listens on {}, for this machine only: other machines reach it",
                self.receiver()
            ));
            t.line(format!(
                "# once it is started with `redline serve {flag} 0.0.0.0:{port}` (every export"
            ));
            t.line("# then needs its token).");
        }
        let (endpoint, named) = self.remote_endpoint();
        for (name, value) in vars(p, endpoint.clone(), String::new()) {
            if name == "OTEL_RESOURCE_ATTRIBUTES" {
                t.line(format!("export {name}=\"host.name=$(hostname)\""));
            } else {
                t.line(format!("export {name}={}", shell_word(&value)));
            }
        }
        t.line(format!("export {HEADERS_VAR}={}", self.header_word(false)));
        if self.token.is_none() {
            t.line(format!(
                "# In place of <...>, the daemon's token: `cat {}` here, once `redline serve` has made it.",
                shell_word(&self.token_file.display().to_string())
            ));
        }
        if named {
            let authority = endpoint.trim_start_matches("http://");
            let name = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
            t.line(format!(
                "# If {name} does not resolve there, use this machine's LAN address."
            ));
        }
        t.line("");
        t.line("# Claude Code reads these when it starts: restart running sessions. Then each");
        let auth = if self.listen.ip().is_loopback() {
            String::new()
        } else {
            let token = match &self.token {
                Some(tok) => tok.clone(),
                None => format!(
                    "$(cat {})",
                    shell_word(&self.token_file.display().to_string())
                ),
            };
            format!("-H \"Authorization: Bearer {token}\" ")
        };
        t.line(format!(
            "# sender has a row in: curl -s {auth}http://{}/api/hosts",
            config::local_addr(self.listen)
        ));
        t.0
    }
}

/// Text built a line at a time.
#[derive(Default)]
struct Lines(String);

impl Lines {
    fn line(&mut self, l: impl AsRef<str>) {
        self.0.push_str(l.as_ref());
        self.0.push('\n');
    }
}

/// The variables of one sender, in order; `resource` is `OTEL_RESOURCE_ATTRIBUTES`.
fn vars(protocol: OtlpProtocol, endpoint: String, resource: String) -> Vec<(&'static str, String)> {
    vec![
        ("CLAUDE_CODE_ENABLE_TELEMETRY", "1".into()),
        ("OTEL_METRICS_EXPORTER", "otlp".into()),
        ("OTEL_LOGS_EXPORTER", "otlp".into()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.as_str().into()),
        (ENDPOINT_VAR, endpoint),
        ("OTEL_METRIC_EXPORT_INTERVAL", METRIC_INTERVAL_MS.into()),
        ("OTEL_LOGS_EXPORT_INTERVAL", LOGS_INTERVAL_MS.into()),
        (
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            "delta".into(),
        ),
        ("OTEL_RESOURCE_ATTRIBUTES", resource),
    ]
}

/// `--otel`: prints the variables, or writes this machine's into settings.json's `env`
/// (`--write`) or takes them out (`--remove`).
fn otel(args: &InstallClaudeArgs, setup: &Otel, path: &Path) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if !(args.write || args.remove) {
        write!(out, "{}", setup.text(path))?;
        return Ok(());
    }
    let report = edit(path, args.remove, |settings| {
        if args.remove {
            Ok(otel_disconnect(settings, setup))
        } else {
            otel_connect(settings, setup)
        }
    })?;
    write!(out, "{report}")?;
    if args.write && setup.exposed() {
        writeln!(
            out,
            "The daemon listens beyond loopback ({}), so every export needs its token; settings.json never holds it. Export it where Claude Code starts (your shell profile):",
            setup.receiver()
        )?;
        writeln!(out, "  export {HEADERS_VAR}={}", setup.header_word(true))?;
    }
    if report.changed {
        writeln!(
            out,
            "Claude Code reads its settings when it starts: restart running sessions."
        )?;
    }
    Ok(())
}

/// Puts this machine's variables into the settings' `env` object (made at the end when
/// missing); a note for each change. A variable that held another value is replaced, and
/// named with its old value (the backup keeps it).
pub fn otel_connect(settings: &mut Object, setup: &Otel) -> Result<Vec<String>> {
    let wanted = setup.local_vars(setup.protocol).unwrap_or_default();
    let Json::Object(env) = settings.get_or_insert("env", || Object::default().into()) else {
        bail!("env is not an object");
    };
    let (mut added, mut replaced) = (Vec::new(), Vec::new());
    for (name, value) in &wanted {
        match env.get(name) {
            Some(Json::String(old)) if old == value => continue,
            Some(old) => {
                let old = match old {
                    Json::String(s) => s.clone(),
                    other => serde_json::to_string(other).unwrap_or_default(),
                };
                replaced.push(format!("{name} (was {old})"));
            }
            None => added.push(*name),
        }
        env.insert(name, value.clone().into());
    }
    let mut notes = Vec::new();
    if !added.is_empty() {
        let endpoint = wanted
            .iter()
            .find(|(n, _)| *n == ENDPOINT_VAR)
            .map_or("", |(_, v)| v.as_str());
        notes.push(format!("env: {} -> {endpoint}", added.join(", ")));
    }
    if !replaced.is_empty() {
        notes.push(format!("env: replaced {}", replaced.join(", ")));
    }
    Ok(notes)
}

/// Takes redline's variables out of the settings' `env` object again: only when its
/// endpoint is the daemon's, and of the others only those that still hold redline's
/// values (for any protocol that endpoint serves); an `env` left empty goes. A note for
/// each change.
pub fn otel_disconnect(settings: &mut Object, setup: &Otel) -> Vec<String> {
    let Some(Json::Object(env)) = settings.get_mut("env") else {
        return Vec::new();
    };
    let Some(endpoint) = env
        .get(ENDPOINT_VAR)
        .and_then(Json::as_str)
        .map(str::to_owned)
    else {
        return Vec::new();
    };
    let candidates: Vec<Vec<(&'static str, String)>> = OtlpProtocol::ALL
        .iter()
        .filter_map(|&p| setup.local_vars(p))
        .filter(|vs| vs.iter().any(|(n, v)| *n == ENDPOINT_VAR && *v == endpoint))
        .collect();
    let Some(first) = candidates.first() else {
        return vec![format!(
            "env: {ENDPOINT_VAR} is {endpoint}, not this daemon's: left alone"
        )];
    };
    let (mut removed, mut kept) = (Vec::new(), Vec::new());
    for (name, _) in first {
        let Some(held) = env.get(name) else {
            continue;
        };
        let ours = candidates.iter().any(|vs| {
            vs.iter()
                .any(|(n, v)| n == name && held.as_str() == Some(v.as_str()))
        });
        if ours {
            env.remove(name);
            removed.push(*name);
        } else {
            kept.push(*name);
        }
    }
    let mut notes = Vec::new();
    if !removed.is_empty() {
        notes.push(format!("env: removed {}", removed.join(", ")));
    }
    if !kept.is_empty() {
        notes.push(format!(
            "env: kept {} (changed since: not redline's values)",
            kept.join(", ")
        ));
    }
    if !removed.is_empty() && env.is_empty() {
        settings.remove("env");
    }
    notes
}

/// What `--write` or `--remove` did, as printed.
#[derive(Debug)]
struct Report {
    path: PathBuf,
    changed: bool,
    backup: Option<PathBuf>,
    notes: Vec<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.backup, self.changed) {
            (_, false) => writeln!(f, "{}: nothing to change", self.path.display())?,
            (Some(b), true) => {
                writeln!(f, "wrote {} (backup: {})", self.path.display(), b.display())?;
            }
            (None, true) => writeln!(f, "wrote {}", self.path.display())?,
        }
        for n in &self.notes {
            writeln!(f, "  {n}")?;
        }
        Ok(())
    }
}

/// Reads the settings file, lets `change` connect or disconnect (`remove`), and writes it
/// back when that changed anything.
fn edit(
    named: &Path,
    remove: bool,
    change: impl FnOnce(&mut Object) -> Result<Vec<String>>,
) -> Result<Report> {
    // A settings.json that is a link (a dotfiles repository) stays one: write its target.
    let path = match std::fs::symlink_metadata(named) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(named)
            .with_context(|| format!("cannot follow the link {}", named.display()))?,
        _ => named.to_path_buf(),
    };
    let (old, mut settings) = read(&path)?;
    let before = settings.clone();
    let notes = change(&mut settings).map_err(|e| anyhow!("{}: {e:#}", path.display()))?;
    let mut report = Report {
        path: path.clone(),
        changed: false,
        backup: None,
        notes,
    };
    if (old.is_some() && settings == before) || (old.is_none() && remove) {
        return Ok(report);
    }
    let text = pretty(&settings)?;
    if old.is_some() {
        report.backup = Some(backup(&path)?);
    }
    replace(&path, &text)?;
    report.changed = true;
    Ok(report)
}

/// The file's text (`None` when it does not exist) and its object.
fn read(path: &Path) -> Result<(Option<String>, Object)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((None, Object::default()));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if text.trim().is_empty() {
        return Ok((Some(text), Object::default()));
    }
    match serde_json::from_str::<Json>(&text) {
        Ok(Json::Object(m)) => Ok((Some(text), m)),
        Ok(_) => bail!(
            "{}: not a JSON object; fix it by hand, nothing was changed",
            path.display()
        ),
        Err(e) => {
            let message = e.to_string();
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m);
            bail!(
                "{}:{}:{}: not valid JSON ({message}); fix it by hand, nothing was changed",
                path.display(),
                e.line(),
                e.column()
            )
        }
    }
}

/// Two-space JSON with a trailing newline, as Claude Code writes it.
fn pretty(settings: &Object) -> Result<String> {
    let mut text = serde_json::to_string_pretty(settings)?;
    text.push('\n');
    Ok(text)
}

/// Copies the file to `<name>.redline-backup-YYYYMMDDTHHMMSS` (with `-2`, `-3` ... when
/// that name is taken, so no backup is ever overwritten).
pub(crate) fn backup(path: &Path) -> Result<PathBuf> {
    let tz = config::time_zone(None).unwrap_or(jiff::tz::TimeZone::UTC);
    let stamp = jiff::Timestamp::now()
        .to_zoned_datetime(tz)
        .strftime("%Y%m%dT%H%M%S")
        .to_string();
    let name = path.file_name().map_or_else(
        || "settings.json".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let base = path.with_file_name(format!("{name}.redline-backup-{stamp}"));
    let mut candidate = base.clone();
    let mut n = 2;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{}-{n}", base.display()));
        n += 1;
    }
    std::fs::copy(path, &candidate).with_context(|| {
        format!(
            "cannot back up {} to {}",
            path.display(),
            candidate.display()
        )
    })?;
    Ok(candidate)
}

/// Writes `text` to a temporary file beside `path` with the old file's permissions, then
/// renames it over `path`, so Claude Code never reads half a file.
pub(crate) fn replace(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    let tmp = PathBuf::from(format!("{}.redline-tmp", path.display()));
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// `s` as one single-quoted shell word; a `'` inside becomes `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `s` as it is when the shell reads it as one literal word, else single-quoted.
pub(crate) fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:=@%+,".contains(c));
    if plain { s.to_owned() } else { shell_quote(s) }
}

/// Splits a command into words as `sh` does for a simple command of literal words
/// (quotes and backslashes); `None` for anything else (pipes, expansions, globs,
/// unbalanced quotes), which is then nobody's business but its owner's.
fn split_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '$' | '`' => return None,
                        '\\' => match chars.next()? {
                            '\n' => {}
                            c @ ('$' | '`' | '"' | '\\') => word.push(c),
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next()? {
                    '\n' => {}
                    c => word.push(c),
                }
            }
            ';' | '&' | '|' | '<' | '>' | '(' | ')' | '$' | '`' | '#' | '*' | '?' | '[' | ']'
            | '{' | '}' | '~' | '!' => return None,
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const BIN: &str = "/usr/local/bin/redline";

    fn target() -> Target {
        Target::new(DEFAULT_LISTEN.parse().unwrap(), false, Path::new(BIN))
    }

    /// An object read from JSON text, its keys in the text's order.
    fn object(text: &str) -> Object {
        match serde_json::from_str(text).unwrap() {
            Json::Object(o) => o,
            _ => panic!("not an object"),
        }
    }

    /// The same as a serde_json value (whose objects ignore key order).
    fn value(o: &Object) -> Value {
        serde_json::to_value(o).unwrap()
    }

    fn hook(v: Value) -> Json {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn quoting_round_trips_through_the_word_splitter() {
        for s in [
            "plain",
            "echo 'hi'",
            r#"jq -r '.model.display_name' | sed "s/a/b/""#,
            "it's $HOME and `date` \\ \"quoted\"",
            "",
            "'''",
        ] {
            let words = split_words(&format!("x {}", shell_quote(s))).unwrap();
            assert_eq!(words, ["x", s], "{s:?}");
        }
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_word("127.0.0.1:9000"), "127.0.0.1:9000");
        assert_eq!(shell_word("[::1]:7878"), "'[::1]:7878'");
        assert_eq!(
            split_words(r#"a "b c" d\ e 'f'"g""#).unwrap(),
            ["a", "b c", "d e", "fg"]
        );
        assert_eq!(split_words("a | b"), None);
        assert_eq!(split_words("echo $HOME"), None);
        assert_eq!(split_words("'open"), None);
    }

    #[test]
    fn statusline_commands_are_recognised() {
        let t = target();
        assert_eq!(
            t.statusline_command(None),
            "/usr/local/bin/redline statusline"
        );
        // A line another copy of redline wrote, or an older version with the bare name, is
        // redline's own and is rewritten to this binary.
        for other in [
            "redline statusline",
            "/home/a/x/target/release/redline statusline",
        ] {
            let ours = parse_ours(other).unwrap();
            assert!(ours.plain && ours.then.is_none(), "{other}");
        }
        let spaced = Target::new(
            DEFAULT_LISTEN.parse().unwrap(),
            false,
            Path::new("/opt/my tools/redline"),
        );
        let line = spaced.statusline_command(None);
        assert_eq!(line, "'/opt/my tools/redline' statusline");
        assert!(parse_ours(&line).unwrap().plain);
        let wrapped = t.statusline_command(Some("bash ~/.claude/line.sh 'x'"));
        assert_eq!(
            wrapped,
            r"/usr/local/bin/redline statusline --then 'bash ~/.claude/line.sh '\''x'\'''"
        );
        assert_eq!(
            parse_ours(&wrapped),
            Some(Ours {
                then: Some("bash ~/.claude/line.sh 'x'".into()),
                plain: true
            })
        );
        assert_eq!(
            parse_ours("/opt/bin/redline statusline --config c.toml"),
            Some(Ours {
                then: None,
                plain: false
            })
        );
        assert_eq!(parse_ours("redline statusline | tee log"), None);
        assert_eq!(parse_ours("redline-fork statusline"), None);
        assert_eq!(parse_ours("ccusage statusline"), None);
        let lan = Target::new("192.168.1.5:7878".parse().unwrap(), true, Path::new(BIN));
        assert_eq!(
            lan.statusline_command(Some("x")),
            "/usr/local/bin/redline statusline --listen 192.168.1.5:7878 --then 'x'"
        );
        assert_eq!(
            parse_ours(&lan.statusline_command(Some("x"))).unwrap().then,
            Some("x".into())
        );
    }

    #[test]
    fn build_directories_are_told_apart() {
        for p in [
            "/home/a/redline/target/release/redline",
            "/home/a/redline/target/debug/redline",
            "/w/target/x86_64-unknown-linux-gnu/release/redline",
        ] {
            assert!(in_build_dir(Path::new(p)), "{p}");
        }
        for p in [
            "/home/a/.cargo/bin/redline",
            "/usr/local/bin/redline",
            "/srv/target/redline",
            "/opt/release/redline",
        ] {
            assert!(!in_build_dir(Path::new(p)), "{p}");
        }
    }

    #[test]
    fn hooks_are_ours_by_address() {
        let t = target();
        let ours = |u: &str| t.is_ours(&hook(json!({"type": "http", "url": u})));
        assert!(ours("http://127.0.0.1:7878/hook"));
        assert!(ours("http://localhost:7878/hook/"));
        assert!(!ours("http://127.0.0.1:7879/hook"));
        assert!(!ours("http://127.0.0.1:7878/statusline"));
        assert!(!t.is_ours(&hook(json!({"type": "command", "command": "x"}))));
        let any = Target::new("0.0.0.0:9000".parse().unwrap(), false, Path::new(BIN));
        assert_eq!(any.hook_url(), "http://127.0.0.1:9000/hook");
    }

    #[test]
    fn connect_wraps_and_disconnect_unwraps() {
        let text = r#"{
            "model": "opus",
            "statusLine": {"type": "command", "command": "npx ccusage statusline", "padding": 0},
            "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]},
            "env": {"Z": "1", "A": "2"}
        }"#;
        let original = object(text);
        let t = target();
        let mut s = original.clone();
        connect(&mut s, &t).unwrap();
        let v = value(&s);
        assert_eq!(
            v["statusLine"]["command"],
            "/usr/local/bin/redline statusline --then 'npx ccusage statusline'"
        );
        assert_eq!(v["statusLine"]["padding"], 0);
        assert_eq!(v["hooks"]["Stop"].as_array().unwrap().len(), 2);
        assert_eq!(v["hooks"]["PostToolUse"][0]["matcher"], "*");
        assert_eq!(
            v["hooks"]["Stop"][1],
            json!({"hooks": [{"type": "http", "url": "http://127.0.0.1:7878/hook", "timeout": 2}]})
        );
        let pretty_once = pretty(&s).unwrap();
        assert!(
            pretty_once.find("\"model\"") < pretty_once.find("\"statusLine\"")
                && pretty_once.find("\"Z\"") < pretty_once.find("\"A\""),
            "{pretty_once}"
        );
        let once = s.clone();
        assert!(connect(&mut s, &t).unwrap().is_empty());
        assert_eq!(s, once);
        disconnect(&mut s, &t);
        assert_eq!(s, original);
    }

    #[test]
    fn disconnect_leaves_foreign_hooks_in_a_shared_group() {
        let t = target();
        let mut s = object(
            r#"{"hooks": {"Stop": [{"hooks": [
                {"type": "command", "command": "say done"},
                {"type": "http", "url": "http://127.0.0.1:7878/hook", "timeout": 2}
            ]}]}}"#,
        );
        disconnect(&mut s, &t);
        assert_eq!(
            value(&s),
            json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]}})
        );
    }

    #[test]
    fn a_token_adds_the_header_by_variable() {
        let mut s = Object::default();
        connect(
            &mut s,
            &Target::new("0.0.0.0:7878".parse().unwrap(), true, Path::new(BIN)),
        )
        .unwrap();
        assert_eq!(
            value(&s)["hooks"]["Stop"][0]["hooks"][0],
            json!({"type": "http", "url": "http://127.0.0.1:7878/hook", "timeout": 2,
                   "headers": {"Authorization": "Bearer $REDLINE_TOKEN"},
                   "allowedEnvVars": ["REDLINE_TOKEN"]})
        );
    }

    #[test]
    fn a_statusline_without_a_command_is_refused() {
        let mut s = object(r#"{"statusLine": {"type": "static"}}"#);
        let e = connect(&mut s, &target()).unwrap_err().to_string();
        assert!(e.contains("statusLine has no command"), "{e}");
        let mut s = object(r#"{"hooks": {"Stop": {}}}"#);
        let e = connect(&mut s, &target()).unwrap_err().to_string();
        assert!(e.contains("hooks.Stop is not a list"), "{e}");
    }

    #[test]
    fn json_keeps_key_order_and_numbers() {
        let text = "{\n  \"b\": [1, -2, 3.5, 1e300, null, true],\n  \"a\": {\"y\": \"\u{e9}\", \"x\": {}}\n}";
        let o = object(text);
        assert_eq!(
            serde_json::to_string(&o).unwrap(),
            r#"{"b":[1,-2,3.5,1e+300,null,true],"a":{"y":"é","x":{}}}"#
        );
    }

    fn otel(listen: &str, host: &str, token: Option<&str>) -> Otel {
        Otel {
            protocol: OtlpProtocol::HttpProtobuf,
            listen: listen.parse().unwrap(),
            grpc: Some(config::DEFAULT_OTLP_GRPC.parse().unwrap()),
            host: host.into(),
            token: token.map(str::to_owned),
            token_file: PathBuf::from("/home/u/.local/state/redline/token"),
        }
    }

    #[test]
    fn other_machines_send_to_the_name_or_the_one_address() {
        let remote = |listen: &str, host: &str| otel(listen, host, None).remote_endpoint();
        assert_eq!(
            remote("0.0.0.0:7878", "desk"),
            ("http://desk.local:7878".into(), true)
        );
        assert_eq!(
            remote("127.0.0.1:9000", "desk.example.org"),
            ("http://desk.example.org:9000".into(), true)
        );
        assert_eq!(
            remote("10.0.0.2:7878", "desk"),
            ("http://10.0.0.2:7878".into(), false)
        );
        assert_eq!(
            remote("[fd00::2]:7878", "desk"),
            ("http://[fd00::2]:7878".into(), false)
        );
        let mut g = otel("127.0.0.1:7878", "desk", None);
        g.protocol = OtlpProtocol::Grpc;
        g.grpc = Some("0.0.0.0:4317".parse().unwrap());
        assert!(g.exposed());
        assert_eq!(g.remote_endpoint().0, "http://desk.local:4317");
        g.grpc = None;
        assert_eq!(g.local_vars(OtlpProtocol::Grpc), None);
    }

    #[test]
    fn otel_env_goes_in_and_out_by_value() {
        let o = otel("127.0.0.1:7878", "desk", Some("s3cret-token"));
        let original = object(r#"{"env": {"KEEP": "x", "OTEL_LOGS_EXPORTER": "console"}}"#);
        let mut s = original.clone();
        let notes = otel_connect(&mut s, &o).unwrap();
        assert!(
            notes
                .iter()
                .any(|n| n == "env: replaced OTEL_LOGS_EXPORTER (was console)"),
            "{notes:?}"
        );
        let v = value(&s);
        assert_eq!(v["env"]["OTEL_RESOURCE_ATTRIBUTES"], "host.name=desk");
        assert_eq!(
            v["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"],
            "http://127.0.0.1:7878"
        );
        assert!(v["env"].get(HEADERS_VAR).is_none());
        assert!(otel_connect(&mut s, &o).unwrap().is_empty());
        otel_disconnect(&mut s, &o);
        // The replaced value is not known any more: the backup has it.
        assert_eq!(value(&s), json!({"env": {"KEEP": "x"}}));
        // Written for another daemon: not ours.
        let mut s = original.clone();
        otel_connect(&mut s, &otel("127.0.0.1:9000", "desk", None)).unwrap();
        let written = s.clone();
        let notes = otel_disconnect(&mut s, &o);
        assert_eq!(s, written);
        assert!(notes[0].contains("not this daemon's"), "{notes:?}");
    }

    #[test]
    fn otel_text_is_a_shell_script() {
        let text = otel("0.0.0.0:7878", "desk", Some("s3cret-token")).text(Path::new("/s.json"));
        assert!(text.contains("export OTEL_RESOURCE_ATTRIBUTES=host.name=desk\n"));
        assert!(text.contains("export OTEL_RESOURCE_ATTRIBUTES=\"host.name=$(hostname)\"\n"));
        assert_eq!(
            text.matches("export OTEL_EXPORTER_OTLP_HEADERS='Authorization=Bearer s3cret-token'\n")
                .count(),
            2,
            "{text}"
        );
        assert!(text.contains("OTEL_EXPORTER_OTLP_ENDPOINT=http://desk.local:7878\n"));
        assert!(
            text.lines()
                .all(|l| l.is_empty() || l.starts_with("# ") || l.starts_with("export ")),
            "{text}"
        );
    }

    #[test]
    fn settings_path_follows_claude_config_dir() {
        let env = |dir: Option<&str>| RootEnv {
            claude_config_dir: dir.map(str::to_owned),
            xdg_config_home: None,
            home: Some(PathBuf::from("/home/u")),
        };
        assert_eq!(
            settings_path(&env(None)).unwrap(),
            PathBuf::from("/home/u/.claude/settings.json")
        );
        assert_eq!(
            settings_path(&env(Some("/cfg/claude"))).unwrap(),
            PathBuf::from("/cfg/claude/settings.json")
        );
        assert_eq!(
            settings_path(&env(Some("/a,/b"))).unwrap(),
            PathBuf::from("/home/u/.claude/settings.json")
        );
    }
}
