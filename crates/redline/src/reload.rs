//! The config file, followed: when it changes (an edit, `redline calibrate --write`), the
//! daemon resolves its configuration again exactly as at start (the same flags and
//! variables over the new file) and applies what can change while it runs: the values'
//! settings (needles, scales, zones, thresholds, windows, budget) go to the hub, and the
//! page's faces, `/api/config` and `/api/status` are drawn again (and `[[correlate]]`
//! read from the new page). What needs a new
//! process (the address, token, allowed names, state directory, the OTLP gRPC port, the
//! Prometheus source) is named in the log instead. A file that no longer parses changes
//! nothing; the log says why, and the settings in force stay.
//!
//! The file is looked at every two seconds (its size and modification time: one `stat`),
//! so an idle daemon stays idle; an editor that replaces the file is seen like one that
//! writes it in place.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use clap::parser::ValueSource;
use redline_engine::roots::RootEnv;
use tokio::sync::watch;

use crate::config::{self, Config, DaemonArgs};
use crate::hub::Input;
use crate::web::Page;

/// How often the file is looked at.
const EVERY: Duration = Duration::from_secs(2);

/// The keys a running daemon cannot take over: the listening side and where it keeps
/// its state.
const RESTART_KEYS: [&str; 6] = [
    "listen",
    "token",
    "allowed_hosts",
    "state_dir",
    "otlp_grpc",
    "source",
];

/// What the reloader needs to resolve the configuration again as `serve` did.
pub struct Reloader {
    /// The flags `serve` was started with.
    pub args: DaemonArgs,
    /// Which of them came from the command line or a variable, by argument id.
    pub origins: HashMap<String, ValueSource>,
    /// The environment the roots and default paths came from.
    pub env: RootEnv,
    /// The configuration in force.
    pub current: Config,
}

/// The file `serve` reads: the one named, else the default path (followed even while it
/// does not exist, so one created later is read).
pub fn followed_file(args: &DaemonArgs, env: &RootEnv) -> Option<PathBuf> {
    args.config.clone().or_else(|| {
        env.config_home()
            .map(|h| h.join("redline").join("config.toml"))
    })
}

/// Every argument id of the daemon's flags with where its value came from, for resolving
/// again later.
pub fn origins(source: &dyn Fn(&str) -> Option<ValueSource>) -> HashMap<String, ValueSource> {
    let cmd = <DaemonArgs as clap::Args>::augment_args(clap::Command::new("serve"));
    cmd.get_arguments()
        .filter_map(|a| {
            let id = a.get_id().as_str();
            source(id).map(|s| (id.to_owned(), s))
        })
        .collect()
}

/// Starts following `path`; the hub gets new settings through `hub`, the page through
/// `page`.
pub fn start(
    r: Reloader,
    path: PathBuf,
    hub: mpsc::Sender<Input>,
    page: watch::Sender<Arc<Page>>,
    status: fn(&Config) -> serde_json::Value,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("redline-config".into())
        .spawn(move || {
            let mut r = r;
            let mut seen = signature(&path);
            loop {
                std::thread::sleep(EVERY);
                let now = signature(&path);
                if now == seen {
                    continue;
                }
                seen = now;
                match r.changed() {
                    Ok((next, true)) => {
                        if hub
                            .send(Input::Settings(Box::new(next.settings.clone())))
                            .is_err()
                        {
                            return;
                        }
                        let _ = page.send(Arc::new(Page::new(&next, status(&next))));
                        r.current = next;
                    }
                    // Only keys that need a restart changed (said), or nothing did.
                    Ok((next, false)) => r.current = next,
                    Err(e) => eprintln!(
                        "redline: config file {} changed but cannot be used: {}; the settings in force stay",
                        path.display(),
                        config::printable(&format!("{e:#}"))
                    ),
                }
            }
        })?;
    Ok(())
}

/// The file's size and modification time, or `None` while it does not exist.
fn signature(path: &std::path::Path) -> Option<(u64, Option<SystemTime>)> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.len(), m.modified().ok()))
}

impl Reloader {
    /// Resolves again: the new configuration, and whether a setting the daemon applies
    /// while running changed (each change is logged; keys that need a restart are named).
    pub fn changed(&self) -> anyhow::Result<(Config, bool)> {
        let origins = &self.origins;
        let next = config::resolve(&self.args, &|id| origins.get(id).copied(), &self.env)?;
        let before: HashMap<&str, &str> = self
            .current
            .resolved
            .iter()
            .map(|r| (r.key, r.value.as_str()))
            .collect();
        let mut applied = Vec::new();
        for r in &next.resolved {
            let old = before.get(r.key).copied().unwrap_or("");
            if old == r.value {
                continue;
            }
            let change = format!("{} {} -> {}", r.key, old, r.value);
            if RESTART_KEYS.contains(&r.key) {
                eprintln!(
                    "redline: config: {} changed; restart redline serve to use it",
                    r.key
                );
            } else {
                applied.push(change);
            }
        }
        // `[[correlate]]` is read where it is used, from the page's configuration.
        let sources = next.correlate != self.current.correlate;
        if sources {
            applied.push(format!("[[correlate]] ({} sources)", next.correlate.len()));
        }
        if next.settings == self.current.settings && !sources {
            return Ok((next, false));
        }
        eprintln!(
            "redline: config: applied {}",
            config::printable(&applied.join(", "))
        );
        Ok((next, true))
    }
}
