//! `redline service install|uninstall` through the real binary, in a temporary
//! XDG_CONFIG_HOME and without touching systemctl or launchctl.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A temporary home, removed when dropped.
struct Home(PathBuf);

impl Home {
    fn new() -> Home {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "redline-service-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Home(dir)
    }

    fn unit(&self) -> PathBuf {
        self.0.join("config/systemd/user/redline.service")
    }

    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_redline"))
            .arg("service")
            .args(args)
            .env_clear()
            .env("HOME", &self.0)
            .env("XDG_CONFIG_HOME", self.0.join("config"))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn binary() -> String {
    PathBuf::from(env!("CARGO_BIN_EXE_redline"))
        .display()
        .to_string()
}

#[test]
fn install_writes_the_unit_for_this_binary_and_uninstall_removes_it() {
    let h = Home::new();
    let (ok, out, err) = h.run(&[
        "install",
        "--manager",
        "systemd",
        "--no-enable",
        "--listen",
        "0.0.0.0:7878",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("wrote {}", h.unit().display())),
        "{out}"
    );
    assert!(
        out.contains("systemctl --user enable --now redline.service"),
        "{out}"
    );
    let unit = std::fs::read_to_string(h.unit()).unwrap();
    let exec = format!("\nExecStart={} serve --listen 0.0.0.0:7878\n", binary());
    assert!(unit.contains(&exec), "{unit}");
    assert!(unit.contains("\nWantedBy=default.target\n"), "{unit}");
    // Only ExecStart differs from the shipped file.
    let shipped = include_str!("../../../contrib/redline.service");
    assert_eq!(
        unit.replace(exec.trim(), "ExecStart=%h/.cargo/bin/redline serve"),
        shipped
    );

    let (ok, out, err) = h.run(&["uninstall", "--manager", "systemd", "--no-enable"]);
    assert!(ok, "{err}");
    assert!(out.contains("removed"), "{out}");
    assert!(!h.unit().exists());
    let (ok, out, _) = h.run(&["uninstall", "--manager", "systemd", "--no-disable"]);
    assert!(ok && out.contains("nothing to remove"), "{out}");
}

#[test]
fn print_writes_nothing() {
    let h = Home::new();
    let (ok, out, err) = h.run(&["install", "--manager", "systemd", "--print"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("\nExecStart={} serve\n", binary())),
        "{out}"
    );
    assert!(!h.0.join("config").exists());

    let (ok, out, err) = h.run(&["install", "--manager", "launchd", "--print"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!(
            "<string>{}</string>\n    <string>serve</string>\n",
            binary()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "<string>{}/Library/Logs/redline.log</string>",
            h.0.display()
        )),
        "{out}"
    );
    assert!(!h.0.join("Library").exists());
}

#[test]
fn a_bad_listen_address_is_refused() {
    let h = Home::new();
    let (ok, _, err) = h.run(&["install", "--no-enable", "--listen", "everywhere"]);
    assert!(!ok && err.contains("--listen"), "{err}");
    assert!(!h.unit().exists());
}
