//! `redline service install|uninstall`: `redline serve` as a user service, a systemd user
//! unit on Linux and a launchd agent on macOS.
//!
//! The files are `contrib/redline.service` and `contrib/com.github.redline.plist`, built
//! in with `include_str!`; installing substitutes only the running binary's absolute path
//! (and a `--listen`), so the shipped files and the installed ones never drift. Starting
//! the service is left to `systemctl`/`launchctl`; when they are missing or fail, the
//! commands are printed for the user to run, and that is not an error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use redline_engine::roots::RootEnv;

use crate::cli::{ServiceInstallArgs, ServiceManager, ServiceUninstallArgs};

/// The systemd user unit, as shipped.
pub const SYSTEMD_UNIT: &str = include_str!("../../../../contrib/redline.service");
/// The launchd agent, as shipped.
pub const LAUNCHD_PLIST: &str = include_str!("../../../../contrib/com.github.redline.plist");

/// The unit's name.
const UNIT: &str = "redline.service";
/// The agent's label, and its file's stem.
const LABEL: &str = "com.github.redline";
/// The binary path in the shipped unit, replaced on install.
const UNIT_EXEC: &str = "ExecStart=%h/.cargo/bin/redline serve";
/// The binary argument in the shipped plist, replaced on install.
const PLIST_EXEC: &str =
    "<string>/Users/you/.cargo/bin/redline</string>\n    <string>serve</string>";
/// The home directory in the shipped plist's paths.
const PLIST_HOME: &str = "<string>/Users/you/";

/// Writes (or prints) the service file and starts the service.
pub fn install(args: &ServiceInstallArgs, env: &RootEnv) -> Result<()> {
    let manager = args.manager.unwrap_or_else(ServiceManager::native);
    if let Some(l) = &args.listen {
        crate::config::parse_listen(l).map_err(|e| anyhow::anyhow!("--listen: {e}"))?;
    }
    let bin = std::env::current_exe().context("cannot find the path of this redline binary")?;
    let home = home(env)?;
    let text = match manager {
        ServiceManager::Systemd => systemd_unit(&bin, args.listen.as_deref()),
        ServiceManager::Launchd => launchd_plist(&bin, &home, args.listen.as_deref()),
    };
    let mut out = std::io::stdout().lock();
    if args.print {
        write!(out, "{text}")?;
        return Ok(());
    }
    let path = file_path(manager, env)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(out, "wrote {}", path.display())?;
    let p = path.display().to_string();
    let steps: Vec<Vec<String>> = match manager {
        ServiceManager::Systemd => vec![
            words(&["systemctl", "--user", "daemon-reload"]),
            words(&["systemctl", "--user", "enable", "--now", UNIT]),
        ],
        ServiceManager::Launchd => vec![words(&["launchctl", "load", "-w", &p])],
    };
    if args.no_enable {
        writeln!(out, "To start it now and at each login, run:")?;
        print_steps(&mut out, &steps)?;
    } else if run_steps(&mut out, &steps)? {
        match manager {
            ServiceManager::Systemd => writeln!(
                out,
                "redline serve runs now and at each login; `systemctl --user status {UNIT}` and `journalctl --user -u {UNIT}` show it."
            )?,
            ServiceManager::Launchd => writeln!(
                out,
                "redline serve runs now and at each login; its log is {}.",
                home.join("Library/Logs/redline.log").display()
            )?,
        }
    }
    Ok(())
}

/// Stops the service and removes its file.
pub fn uninstall(args: &ServiceUninstallArgs, env: &RootEnv) -> Result<()> {
    let manager = args.manager.unwrap_or_else(ServiceManager::native);
    let path = file_path(manager, env)?;
    let mut out = std::io::stdout().lock();
    if !path.exists() {
        writeln!(
            out,
            "no service file at {}: nothing to remove",
            path.display()
        )?;
        return Ok(());
    }
    let p = path.display().to_string();
    let stop = match manager {
        ServiceManager::Systemd => words(&["systemctl", "--user", "disable", "--now", UNIT]),
        ServiceManager::Launchd => words(&["launchctl", "unload", "-w", &p]),
    };
    if args.no_disable {
        writeln!(out, "Not stopping it; to stop it yourself, run:")?;
        print_steps(&mut out, std::slice::from_ref(&stop))?;
    } else {
        run_steps(&mut out, std::slice::from_ref(&stop))?;
    }
    std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    writeln!(out, "removed {}", path.display())?;
    if manager == ServiceManager::Systemd {
        let reload = [words(&["systemctl", "--user", "daemon-reload"])];
        if args.no_disable {
            print_steps(&mut out, &reload)?;
        } else {
            run_steps(&mut out, &reload)?;
        }
    }
    Ok(())
}

impl ServiceManager {
    /// launchd on macOS, systemd elsewhere.
    pub fn native() -> ServiceManager {
        if cfg!(target_os = "macos") {
            ServiceManager::Launchd
        } else {
            ServiceManager::Systemd
        }
    }
}

/// Where the service file goes: `$XDG_CONFIG_HOME/systemd/user/redline.service`, or
/// `~/Library/LaunchAgents/com.github.redline.plist`.
pub fn file_path(manager: ServiceManager, env: &RootEnv) -> Result<PathBuf> {
    Ok(match manager {
        ServiceManager::Systemd => env
            .config_home()
            .context("neither XDG_CONFIG_HOME nor HOME is set")?
            .join("systemd")
            .join("user")
            .join(UNIT),
        ServiceManager::Launchd => home(env)?
            .join("Library")
            .join("LaunchAgents")
            .join(format!("{LABEL}.plist")),
    })
}

fn home(env: &RootEnv) -> Result<PathBuf> {
    env.home.clone().context("HOME is not set")
}

/// The shipped unit with `ExecStart` running `bin serve [--listen ADDR]`.
pub fn systemd_unit(bin: &Path, listen: Option<&str>) -> String {
    let mut exec = format!(
        "ExecStart={} serve",
        systemd_word(&bin.display().to_string())
    );
    if let Some(l) = listen {
        exec.push_str(" --listen ");
        exec.push_str(&systemd_word(l));
    }
    SYSTEMD_UNIT.replacen(UNIT_EXEC, &exec, 1)
}

/// One word of an `ExecStart=` line: `%` and `$` doubled (systemd expands both), quoted
/// when it holds a space, a quote or a backslash.
fn systemd_word(s: &str) -> String {
    let s = s.replace('%', "%%").replace('$', "$$");
    if s.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '\\') {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        s
    }
}

/// The shipped plist with the binary, `home` and a `--listen` filled in.
pub fn launchd_plist(bin: &Path, home: &Path, listen: Option<&str>) -> String {
    let mut args = format!(
        "<string>{}</string>\n    <string>serve</string>",
        xml(&bin.display().to_string())
    );
    if let Some(l) = listen {
        args.push_str(&format!(
            "\n    <string>--listen</string>\n    <string>{}</string>",
            xml(l)
        ));
    }
    let home = format!("<string>{}/", xml(&home.display().to_string()));
    LAUNCHD_PLIST
        .replacen(PLIST_EXEC, &args, 1)
        .replace(PLIST_HOME, &home)
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn words(w: &[&str]) -> Vec<String> {
    w.iter().map(|s| (*s).to_owned()).collect()
}

fn print_steps(out: &mut impl Write, steps: &[Vec<String>]) -> Result<()> {
    for s in steps {
        writeln!(out, "  {}", shown(s))?;
    }
    Ok(())
}

/// A command as the user would type it.
fn shown(step: &[String]) -> String {
    step.iter()
        .map(|w| crate::cmd::install_claude::shell_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs each command in turn; at the first that cannot run or fails, says so, prints the
/// ones left for the user, and answers false.
fn run_steps(out: &mut impl Write, steps: &[Vec<String>]) -> Result<bool> {
    for (i, step) in steps.iter().enumerate() {
        let result = Command::new(&step[0]).args(&step[1..]).output();
        let why = match result {
            Ok(o) if o.status.success() => continue,
            Ok(o) => {
                let err = String::from_utf8_lossy(&o.stderr);
                let err = err.trim();
                if err.is_empty() {
                    format!("it exited with {}", o.status)
                } else {
                    err.to_owned()
                }
            }
            Err(e) => e.to_string(),
        };
        writeln!(out, "`{}` did not work: {why}", shown(step))?;
        writeln!(out, "Run this yourself:")?;
        print_steps(out, &steps[i..])?;
        return Ok(false);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_files_hold_what_install_replaces() {
        assert_eq!(SYSTEMD_UNIT.matches(UNIT_EXEC).count(), 1);
        assert!(SYSTEMD_UNIT.contains("Restart=on-failure"));
        assert!(SYSTEMD_UNIT.contains("WantedBy=default.target"));
        assert!(!SYSTEMD_UNIT.lines().any(|l| l.starts_with("ProtectHome=")));
        assert_eq!(LAUNCHD_PLIST.matches(PLIST_EXEC).count(), 1);
        assert_eq!(LAUNCHD_PLIST.matches(PLIST_HOME).count(), 3);
        assert!(LAUNCHD_PLIST.contains("<key>RunAtLoad</key>"));
        assert!(LAUNCHD_PLIST.contains("<key>KeepAlive</key>"));
    }

    #[test]
    fn the_unit_runs_this_binary() {
        let u = systemd_unit(Path::new("/home/u/bin/redline"), Some("0.0.0.0:7878"));
        assert!(
            u.contains("\nExecStart=/home/u/bin/redline serve --listen 0.0.0.0:7878\n"),
            "{u}"
        );
        assert_eq!(
            u.replace(
                "ExecStart=/home/u/bin/redline serve --listen 0.0.0.0:7878",
                UNIT_EXEC
            ),
            SYSTEMD_UNIT
        );
        let u = systemd_unit(Path::new("/opt/my tools/100%/redline"), None);
        assert!(
            u.contains("\nExecStart=\"/opt/my tools/100%%/redline\" serve\n"),
            "{u}"
        );
    }

    #[test]
    fn the_plist_runs_this_binary_and_logs_under_home() {
        let p = launchd_plist(
            Path::new("/Users/ann/.cargo/bin/redline"),
            Path::new("/Users/ann"),
            Some("0.0.0.0:7878"),
        );
        assert!(p.contains(
            "<string>/Users/ann/.cargo/bin/redline</string>\n    <string>serve</string>\n    <string>--listen</string>\n    <string>0.0.0.0:7878</string>\n"
        ), "{p}");
        assert_eq!(
            p.matches("<string>/Users/ann/Library/Logs/redline.log</string>")
                .count(),
            2
        );
        assert!(!p.contains("<string>/Users/you"), "{p}");
    }
}
