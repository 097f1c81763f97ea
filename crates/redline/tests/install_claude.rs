//! `redline install-claude` on temporary settings files, through the real binary: what
//! `--write` adds and keeps, that it is idempotent and backs up each change, that
//! `--remove` gives back the original, and the refusals.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};

/// A temporary home, removed when dropped.
struct Home(PathBuf);

impl Home {
    fn new() -> Home {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "redline-install-claude-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Home(dir)
    }

    fn settings(&self) -> PathBuf {
        self.0.join("claude").join("settings.json")
    }

    /// Writes the settings file as Claude Code (and redline) do: two spaces, a final
    /// newline (serde_json's objects here sort their keys).
    fn write_settings(&self, v: &Value) -> String {
        let mut text = serde_json::to_string_pretty(v).unwrap();
        text.push('\n');
        self.write_text(&text)
    }

    fn write_text(&self, text: &str) -> String {
        std::fs::create_dir_all(self.settings().parent().unwrap()).unwrap();
        std::fs::write(self.settings(), text).unwrap();
        text.to_owned()
    }

    fn read(&self) -> String {
        std::fs::read_to_string(self.settings()).unwrap()
    }

    fn value(&self) -> Value {
        serde_json::from_str(&self.read()).unwrap()
    }

    fn backups(&self) -> Vec<PathBuf> {
        let mut b: Vec<PathBuf> = std::fs::read_dir(self.settings().parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("settings.json.redline-backup-")
            })
            .collect();
        b.sort();
        b
    }

    /// Runs `redline install-claude --settings FILE ARGS` with only `vars` set.
    fn run(&self, args: &[&str], vars: &[(&str, &str)]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_redline"))
            .arg("install-claude")
            .arg("--settings")
            .arg(self.settings())
            .args(args)
            .env_clear()
            .env("HOME", &self.0)
            .env("XDG_CONFIG_HOME", self.0.join("config"))
            .env("XDG_STATE_HOME", self.0.join("state"))
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args, &[]);
        assert!(ok, "install-claude {args:?} failed: {err}");
        out
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const URL: &str = "http://127.0.0.1:7878/hook";
const EVENTS: [&str; 7] = [
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "Stop",
    "StopFailure",
    "SessionStart",
    "SessionEnd",
];

/// The status line install-claude writes: this binary by its absolute path, `statusline`,
/// then `rest`.
fn line(rest: &str) -> String {
    format!("{} statusline{rest}", env!("CARGO_BIN_EXE_redline"))
}

fn ours() -> Value {
    json!({"type": "http", "url": URL, "timeout": 2})
}

/// The hook groups of `event` that hold redline's hook.
fn our_groups(v: &Value, event: &str) -> Vec<Value> {
    v["hooks"][event]
        .as_array()
        .map(|gs| {
            gs.iter()
                .filter(|g| {
                    g["hooks"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|h| h["url"] == URL)
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// A file without statusLine or hooks: both are added, and taken out again to the byte.
#[test]
fn settings_without_statusline_or_hooks() {
    let h = Home::new();
    let original = h.write_settings(&json!({"model": "opus", "theme": "dark"}));
    let out = h.ok(&["--write"]);
    assert!(out.contains("wrote ") && out.contains("backup: "), "{out}");
    let v = h.value();
    assert_eq!(
        v["statusLine"],
        json!({"type": "command", "command": line("")})
    );
    for event in EVENTS {
        let groups = our_groups(&v, event);
        assert_eq!(groups.len(), 1, "{event}");
        let expected = if event == "PreToolUse" || event == "PostToolUse" {
            json!({"matcher": "*", "hooks": [ours()]})
        } else {
            json!({"hooks": [ours()]})
        };
        assert_eq!(groups[0], expected, "{event}");
    }
    assert_eq!(
        (v["model"].clone(), v["theme"].clone()),
        (json!("opus"), json!("dark"))
    );
    // The new keys come after the old ones.
    let text = h.read();
    assert!(
        text.find("\"theme\"") < text.find("\"statusLine\""),
        "{text}"
    );
    assert!(text.ends_with("}\n") && text.contains("\n  \"statusLine\": {\n    \"type\""));
    assert_eq!(h.backups().len(), 1);
    assert_eq!(std::fs::read_to_string(&h.backups()[0]).unwrap(), original);

    h.ok(&["--remove"]);
    assert_eq!(h.read(), original);
    assert_eq!(h.backups().len(), 2);
}

/// A foreign statusLine (with padding) and hooks of the user's own: all kept, the
/// statusLine wrapped; twice is once; `--remove` restores the file to the byte.
#[test]
fn foreign_statusline_and_hooks_are_kept() {
    let h = Home::new();
    let their_line = r#"bash -c 'printf "%s" "$(jq -r .model.display_name)"' # it's mine"#;
    // Written as Claude Code writes it, keys in no sorted order.
    let original = h.write_text(&format!(
        r#"{{
  "$schema": "https://json.schemastore.org/claude-code-settings.json",
  "statusLine": {{
    "type": "command",
    "command": {},
    "padding": 0
  }},
  "zeta": {{
    "b": 1,
    "a": 2
  }},
  "hooks": {{
    "Stop": [
      {{
        "hooks": [
          {{
            "type": "command",
            "command": "notify-send 'done'"
          }}
        ]
      }}
    ],
    "PreToolUse": [
      {{
        "matcher": "Bash",
        "hooks": [
          {{
            "type": "command",
            "command": "guard.sh"
          }}
        ]
      }}
    ]
  }},
  "permissions": {{
    "allow": [
      "Bash(ls:*)"
    ],
    "deny": []
  }}
}}
"#,
        json!(their_line)
    ));
    let out = h.ok(&["--write"]);
    assert!(out.contains("redline's line first, then yours"), "{out}");
    let once = h.read();
    let v = h.value();
    // Their statusLine runs after redline's; its other keys stay.
    let command = v["statusLine"]["command"].as_str().unwrap();
    assert!(command.starts_with(&line(" --then '")), "{command}");
    assert_eq!(v["statusLine"]["padding"], 0);
    assert_eq!(v["statusLine"]["type"], "command");
    // The shell reads the --then argument back as their exact command.
    let echoed = Command::new("sh")
        .arg("-c")
        .arg(command.replacen(&line(" --then"), "printf %s", 1))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&echoed.stdout), their_line);
    // Their hooks stay, first; redline's are added.
    assert_eq!(
        v["hooks"]["Stop"][0],
        json!({"hooks": [{"type": "command", "command": "notify-send 'done'"}]})
    );
    assert_eq!(v["hooks"]["Stop"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["hooks"]["PreToolUse"][0],
        json!({"matcher": "Bash", "hooks": [{"type": "command", "command": "guard.sh"}]})
    );
    assert_eq!(v["hooks"]["PreToolUse"].as_array().unwrap().len(), 2);
    for event in EVENTS {
        assert_eq!(our_groups(&v, event).len(), 1, "{event}");
    }
    assert_eq!(
        v["permissions"],
        json!({"allow": ["Bash(ls:*)"], "deny": []})
    );
    assert!(once.find("\"zeta\"") < once.find("\"hooks\""), "{once}");
    assert!(once.find("\"b\": 1") < once.find("\"a\": 2"), "{once}");
    assert!(
        once.find("\"hooks\"") < once.find("\"permissions\""),
        "{once}"
    );

    // Twice is once, and the second run writes nothing (so makes no backup).
    let out = h.ok(&["--write"]);
    assert!(out.contains("nothing to change"), "{out}");
    assert_eq!(h.read(), once);
    assert_eq!(h.backups().len(), 1);

    h.ok(&["--remove"]);
    assert_eq!(h.read(), original);
    assert_eq!(h.backups().len(), 2);
    assert_eq!(std::fs::read_to_string(&h.backups()[0]).unwrap(), original);
    // Removing again changes nothing.
    let out = h.ok(&["--remove"]);
    assert!(out.contains("nothing to change"), "{out}");
    assert_eq!(h.backups().len(), 2);
}

/// The written status line runs where `redline` is not on PATH (Claude Code's shell after
/// the README's `cargo run` route), keeps the user's own line, and a binary in a cargo
/// build directory, or no daemon at the address, is warned about.
#[test]
fn the_status_line_runs_without_redline_on_path() {
    let h = Home::new();
    h.write_settings(&json!({"statusLine": {"type": "command", "command": "printf mine"}}));
    let (ok, _, err) = h.run(&["--write", "--listen", "127.0.0.1:9"], &[]);
    assert!(ok, "{err}");
    assert!(err.contains("cargo build output"), "{err}");
    assert!(
        err.contains("no redline daemon answers at 127.0.0.1:9"),
        "{err}"
    );
    let command = h.value()["statusLine"]["command"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&command)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", &h.0)
        .env("XDG_CONFIG_HOME", h.0.join("config"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"session_id": "s", "model": {"display_name": "Opus"}}"#)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!stderr.contains("not found"), "{command}: {stderr}");
    assert!(stdout.contains("mine"), "{command}: {stdout} {stderr}");
}

/// A file in another format comes back as the same JSON value, not the same bytes.
#[test]
fn other_formatting_comes_back_as_the_same_value() {
    let h = Home::new();
    let original =
        r#"{"statusLine":{"command":"~/line.sh","type":"command"},"hooks":{"Stop":[]},"n":1.5}"#;
    std::fs::create_dir_all(h.settings().parent().unwrap()).unwrap();
    std::fs::write(h.settings(), original).unwrap();
    h.ok(&["--write"]);
    assert_eq!(
        h.value()["statusLine"]["command"],
        line(" --then '~/line.sh'")
    );
    h.ok(&["--remove"]);
    let back: Value = h.value();
    let mut expected: Value = serde_json::from_str(original).unwrap();
    // A `Stop` list that was empty before is emptied by redline's removal and dropped.
    expected["hooks"].as_object_mut().unwrap().remove("Stop");
    expected.as_object_mut().unwrap().remove("hooks");
    assert_eq!(back, expected);
}

/// No settings file (nor its directory): `--write` makes both, without a backup.
#[test]
fn a_missing_file_is_created() {
    let h = Home::new();
    let out = h.ok(&["--write"]);
    assert!(out.contains("wrote ") && !out.contains("backup"), "{out}");
    assert_eq!(h.value()["statusLine"]["command"], line(""));
    assert!(h.backups().is_empty());
    h.ok(&["--remove"]);
    assert_eq!(h.read(), "{}\n");
}

/// Without --write or --remove: the snippet and a word on --write, and nothing written.
#[test]
fn printing_writes_nothing() {
    let h = Home::new();
    let out = h.ok(&[]);
    let json_end = out.find("\n\n").unwrap();
    let snippet: Value = serde_json::from_str(&out[..json_end]).unwrap();
    assert_eq!(snippet["statusLine"]["command"], line(""));
    assert_eq!(snippet["hooks"].as_object().unwrap().len(), 7);
    assert!(out.contains("--write"), "{out}");
    assert!(!h.settings().exists());
}

/// A settings.json that is not JSON is refused, naming the file, line and column, and
/// left alone.
#[test]
fn invalid_json_is_refused_with_its_place() {
    let h = Home::new();
    std::fs::create_dir_all(h.settings().parent().unwrap()).unwrap();
    let bad = "{\n  \"model\": \"opus\",\n  \"hooks\": {,}\n}\n";
    std::fs::write(h.settings(), bad).unwrap();
    for mode in ["--write", "--remove"] {
        let (ok, _, err) = h.run(&[mode], &[]);
        assert!(!ok);
        let at = format!("{}:3:", h.settings().display());
        assert!(err.contains(&at) && err.contains("not valid JSON"), "{err}");
    }
    assert_eq!(h.read(), bad);
    assert!(h.backups().is_empty());
    std::fs::write(h.settings(), "[1, 2]\n").unwrap();
    let (ok, _, err) = h.run(&["--write"], &[]);
    assert!(!ok && err.contains("not a JSON object"), "{err}");
}

/// A configured token puts `Bearer $REDLINE_TOKEN` in the hooks, never the token.
#[test]
fn a_token_adds_the_header_by_name_only() {
    let h = Home::new();
    let secret = "s3cret-token-for-tests";
    let (ok, out, err) = h.run(&["--write"], &[("REDLINE_TOKEN", secret)]);
    assert!(ok, "{err}");
    assert!(out.contains("REDLINE_TOKEN must be set"), "{out}");
    let text = h.read();
    assert!(!text.contains(secret), "{text}");
    let v = h.value();
    for event in EVENTS {
        let hook = &our_groups(&v, event)[0]["hooks"][0];
        assert_eq!(
            hook["headers"],
            json!({"Authorization": "Bearer $REDLINE_TOKEN"})
        );
        assert_eq!(hook["allowedEnvVars"], json!(["REDLINE_TOKEN"]));
    }
    // Written again without a token, the hooks lose the header and stay one each.
    let out = h.ok(&["--write"]);
    assert!(out.contains("hooks: updated for UserPromptSubmit"), "{out}");
    let v = h.value();
    assert_eq!(our_groups(&v, "Stop"), vec![json!({"hooks": [ours()]})]);
}

/// The daemon's address as `serve` resolves it: an unspecified bind is reached on
/// loopback, with the token (the daemon wants it for POSTs beyond loopback).
#[test]
fn the_listen_address_names_the_hooks() {
    let h = Home::new();
    let (ok, out, err) = h.run(&["--write", "--listen", "0.0.0.0:9000"], &[]);
    assert!(ok, "{err}");
    assert!(out.contains("state/redline/token"), "{out}");
    let v = h.value();
    assert_eq!(v["statusLine"]["command"], line(" --listen 127.0.0.1:9000"));
    let hook = &v["hooks"]["SessionEnd"][0]["hooks"][0];
    assert_eq!(hook["url"], "http://127.0.0.1:9000/hook");
    assert_eq!(hook["allowedEnvVars"], json!(["REDLINE_TOKEN"]));
    // Redline's entries for another address are someone else's.
    h.ok(&["--remove"]);
    let (ok, _, err) = h.run(&["--write", "--listen", "127.0.0.1:9000"], &[]);
    assert!(ok, "{err}");
    h.ok(&["--write"]);
    let v = h.value();
    assert_eq!(v["hooks"]["Stop"].as_array().unwrap().len(), 2);
    h.ok(&["--remove"]);
    let v = h.value();
    assert_eq!(
        v["hooks"]["Stop"][0]["hooks"][0]["url"],
        "http://127.0.0.1:9000/hook"
    );
}

/// Without --settings: `$CLAUDE_CONFIG_DIR/settings.json`.
#[test]
fn claude_config_dir_names_the_file() {
    let h = Home::new();
    let dir = h.0.join("elsewhere");
    let out = Command::new(env!("CARGO_BIN_EXE_redline"))
        .args(["install-claude", "--write"])
        .env_clear()
        .env("HOME", &h.0)
        .env("XDG_CONFIG_HOME", h.0.join("config"))
        .env("CLAUDE_CONFIG_DIR", &dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(Path::new(&dir.join("settings.json")).is_file());
    assert!(!h.settings().exists());
}

/// This machine's name as the daemon reads it.
fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| {
            Command::new("hostname")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        })
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `--otel`'s two blocks, "This machine" and "Other machines", each as its `export`
/// lines (name, shell text of the value) in order.
struct Blocks {
    local: Vec<(String, String)>,
    remote: Vec<(String, String)>,
    text: String,
}

impl Blocks {
    fn parse(text: &str) -> Blocks {
        let split = text
            .find("# Other machines")
            .unwrap_or_else(|| panic!("no second block:\n{text}"));
        let exports = |part: &str| -> Vec<(String, String)> {
            part.lines()
                .filter_map(|l| l.strip_prefix("export "))
                .map(|l| {
                    let (n, v) = l.split_once('=').unwrap();
                    (n.to_owned(), v.to_owned())
                })
                .collect()
        };
        assert!(
            text.lines()
                .all(|l| l.is_empty() || l.starts_with('#') || l.starts_with("export ")),
            "{text}"
        );
        Blocks {
            local: exports(&text[..split]),
            remote: exports(&text[split..]),
            text: text.to_owned(),
        }
    }

    fn get<'a>(block: &'a [(String, String)], name: &str) -> Option<&'a str> {
        block
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// What a shell makes of `names` after running the whole text.
    fn evaluated(&self, names: &[&str]) -> Vec<String> {
        let script = format!(
            "{}\nprintf '%s\\n' {}",
            self.text,
            names
                .iter()
                .map(|n| format!("\"${n}\""))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The variables every sender gets, in order, up to the endpoint's place.
fn common(protocol: &str, endpoint: &str, resource: &str) -> Vec<(String, String)> {
    [
        ("CLAUDE_CODE_ENABLE_TELEMETRY", "1"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        ("OTEL_LOGS_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_METRIC_EXPORT_INTERVAL", "10000"),
        ("OTEL_LOGS_EXPORT_INTERVAL", "5000"),
        ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delta"),
        ("OTEL_RESOURCE_ATTRIBUTES", resource),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
    .collect()
}

const HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// A loopback daemon: this machine sends to 127.0.0.1:7878 without a token; the block for
/// other machines names this host and the port, says the daemon must listen beyond
/// loopback first, and carries a placeholder for the token that will then be needed.
/// Nothing is written.
#[test]
fn otel_for_a_loopback_daemon() {
    let h = Home::new();
    let host = this_host();
    let b = Blocks::parse(&h.ok(&["--otel"]));
    assert_eq!(
        b.local,
        common(
            "http/protobuf",
            "http://127.0.0.1:7878",
            &format!("host.name={host}")
        ),
        "{}",
        b.text
    );
    assert_eq!(Blocks::get(&b.local, HEADERS), None);
    let endpoint = Blocks::get(&b.remote, ENDPOINT).unwrap();
    assert!(
        endpoint.starts_with(&format!("http://{host}")) && endpoint.ends_with(":7878"),
        "{endpoint}"
    );
    assert!(
        b.text.contains("redline serve --listen 0.0.0.0:7878"),
        "{}",
        b.text
    );
    assert_eq!(
        Blocks::get(&b.remote, "OTEL_RESOURCE_ATTRIBUTES"),
        Some("\"host.name=$(hostname)\"")
    );
    let header = Blocks::get(&b.remote, HEADERS).unwrap();
    assert!(
        header.contains("Authorization=Bearer <") && header.contains("state/redline/token"),
        "{header}"
    );
    // The names and values other than endpoint, resource and token are this machine's.
    let names = |bl: &[(String, String)]| bl.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&b.remote)[..9], names(&b.local)[..]);
    // The text is a shell script: `$(hostname)` runs, the quotes hold.
    let shell = b.evaluated(&["OTEL_RESOURCE_ATTRIBUTES", ENDPOINT]);
    assert!(shell[0].starts_with("host.name=") && !shell[0].contains('$'));
    assert_eq!(shell[1], endpoint);
    assert!(!h.settings().exists());
    assert!(!h.0.join("state").exists());
}

/// A daemon beyond loopback: every sender needs the token, this machine's too. The real
/// token when it is known (configured, or stored by serve), else the token file.
#[test]
fn otel_for_an_exposed_daemon() {
    let h = Home::new();
    let host = this_host();
    let secret = "s3cret-token-for-otel";
    let (ok, out, err) = h.run(
        &["--otel", "--listen", "0.0.0.0:9000"],
        &[("REDLINE_TOKEN", secret)],
    );
    assert!(ok, "{err}");
    let b = Blocks::parse(&out);
    let mut expected = common(
        "http/protobuf",
        "http://127.0.0.1:9000",
        &format!("host.name={host}"),
    );
    expected.push((HEADERS.into(), format!("'Authorization=Bearer {secret}'")));
    assert_eq!(b.local, expected, "{out}");
    let endpoint = Blocks::get(&b.remote, ENDPOINT).unwrap();
    assert!(
        endpoint.ends_with(":9000") && !endpoint.contains("127.0.0.1"),
        "{endpoint}"
    );
    assert_eq!(
        Blocks::get(&b.remote, HEADERS),
        Some(format!("'Authorization=Bearer {secret}'").as_str())
    );
    assert!(!out.contains("--listen 0.0.0.0"), "{out}");
    assert_eq!(
        b.evaluated(&[HEADERS]),
        [format!("Authorization=Bearer {secret}")]
    );

    // One address: other machines send to it.
    let b = Blocks::parse(&h.ok(&["--otel", "--listen", "192.168.7.9:7878"]));
    assert_eq!(
        Blocks::get(&b.remote, ENDPOINT),
        Some("http://192.168.7.9:7878")
    );
    assert_eq!(
        Blocks::get(&b.local, ENDPOINT),
        Some("http://192.168.7.9:7878")
    );

    // No token yet: this machine reads the file when the line runs, others get a
    // placeholder naming it.
    let file = h.0.join("state").join("redline").join("token");
    let b = Blocks::parse(&h.ok(&["--otel", "--listen", "0.0.0.0:7878"]));
    assert_eq!(
        Blocks::get(&b.local, HEADERS),
        Some(format!("\"Authorization=Bearer $(cat {})\"", file.display()).as_str())
    );
    let placeholder = Blocks::get(&b.remote, HEADERS).unwrap();
    assert!(
        placeholder.contains(&file.display().to_string()) && placeholder.contains('<'),
        "{placeholder}"
    );
    // The token serve stored is known.
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "0123456789abcdef\n").unwrap();
    let b = Blocks::parse(&h.ok(&["--otel", "--listen", "0.0.0.0:7878"]));
    for block in [&b.local, &b.remote] {
        assert_eq!(
            Blocks::get(block, HEADERS),
            Some("'Authorization=Bearer 0123456789abcdef'")
        );
    }
}

/// `--protocol grpc`: the gRPC receiver's address (4317 unless otlp_grpc says otherwise);
/// refused when the receiver is off.
#[test]
fn otel_over_grpc() {
    let h = Home::new();
    let host = this_host();
    let b = Blocks::parse(&h.ok(&["--otel", "--protocol", "grpc"]));
    assert_eq!(
        b.local,
        common(
            "grpc",
            "http://127.0.0.1:4317",
            &format!("host.name={host}")
        )
    );
    let endpoint = Blocks::get(&b.remote, ENDPOINT).unwrap();
    assert!(endpoint.ends_with(":4317"), "{endpoint}");
    assert_eq!(
        Blocks::get(&b.remote, "OTEL_EXPORTER_OTLP_PROTOCOL"),
        Some("grpc")
    );
    assert!(
        b.text.contains("redline serve --otlp-grpc 0.0.0.0:4317"),
        "{}",
        b.text
    );

    // The HTTP daemon beyond loopback does not matter to gRPC; the gRPC port does.
    let b = Blocks::parse(&h.ok(&["--otel", "--protocol", "grpc", "--listen", "0.0.0.0:7878"]));
    assert_eq!(Blocks::get(&b.local, HEADERS), None);
    let (ok, out, err) = h.run(
        &["--otel", "--protocol", "grpc"],
        &[("REDLINE_OTLP_GRPC", "0.0.0.0:4400")],
    );
    assert!(ok, "{err}");
    let b = Blocks::parse(&out);
    assert_eq!(
        Blocks::get(&b.local, ENDPOINT),
        Some("http://127.0.0.1:4400")
    );
    assert!(Blocks::get(&b.local, HEADERS).is_some(), "{out}");
    assert!(Blocks::get(&b.remote, ENDPOINT).unwrap().ends_with(":4400"));

    let (ok, _, err) = h.run(&["--otel", "--protocol", "grpc", "--otlp-grpc", "off"], &[]);
    assert!(!ok && err.contains("gRPC receiver is off"), "{err}");
    // http/json goes to the daemon's own address.
    let b = Blocks::parse(&h.ok(&["--otel", "--protocol", "http/json"]));
    assert_eq!(
        Blocks::get(&b.local, ENDPOINT),
        Some("http://127.0.0.1:7878")
    );
    assert_eq!(
        Blocks::get(&b.local, "OTEL_EXPORTER_OTLP_PROTOCOL"),
        Some("http/json")
    );
}

/// `--otel --write` puts this machine's variables (never the token) in `env` after the
/// keys there; twice is once; `--otel --remove` takes exactly those out again and gives
/// the file back byte for byte. statusLine and hooks are another matter.
#[test]
fn otel_write_then_remove() {
    let h = Home::new();
    let host = this_host();
    let original = h.write_text(
        r#"{
  "model": "opus",
  "env": {
    "ZED": "1",
    "ANTHROPIC_MODEL": "claude-opus-4-6"
  },
  "hooks": {
    "Stop": [
      {
        "hooks": [
          {
            "type": "command",
            "command": "notify-send done"
          }
        ]
      }
    ]
  },
  "theme": "dark"
}
"#,
    );
    let secret = "s3cret-token-for-otel";
    let (ok, out, err) = h.run(
        &["--otel", "--write", "--listen", "0.0.0.0:7878"],
        &[("REDLINE_TOKEN", secret)],
    );
    assert!(ok, "{err}");
    assert!(out.contains("wrote ") && out.contains("backup: "), "{out}");
    assert!(out.contains(HEADERS), "{out}");
    let text = h.read();
    assert!(!text.contains(secret) && !text.contains(HEADERS), "{text}");
    let v = h.value();
    let env = v["env"].as_object().unwrap();
    for (name, value) in common(
        "http/protobuf",
        "http://127.0.0.1:7878",
        &format!("host.name={host}"),
    ) {
        assert_eq!(env[&name], json!(value), "{name}");
    }
    assert_eq!(env["ZED"], "1");
    assert_eq!(env["ANTHROPIC_MODEL"], "claude-opus-4-6");
    assert!(
        text.find("\"ANTHROPIC_MODEL\"") < text.find("\"CLAUDE_CODE_ENABLE_TELEMETRY\"")
            && text.find("\"OTEL_RESOURCE_ATTRIBUTES\"") < text.find("\"hooks\""),
        "{text}"
    );
    assert_eq!(
        v["hooks"],
        json!({"Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}]})
    );
    assert!(v.get("statusLine").is_none());
    assert_eq!(h.backups().len(), 1);
    assert_eq!(std::fs::read_to_string(&h.backups()[0]).unwrap(), original);

    let out = h.ok(&["--otel", "--write"]);
    assert!(out.contains("nothing to change"), "{out}");
    assert_eq!(h.backups().len(), 1);

    // The statusLine and hooks come and go on their own, leaving env as it is.
    h.ok(&["--write"]);
    let with_both = h.value();
    assert_eq!(with_both["env"], v["env"]);
    h.ok(&["--remove"]);
    assert_eq!(h.read(), text);

    let out = h.ok(&["--otel", "--remove"]);
    assert!(out.contains("env: removed"), "{out}");
    assert_eq!(h.read(), original);
    let out = h.ok(&["--otel", "--remove"]);
    assert!(out.contains("nothing to change"), "{out}");
}

/// Without an `env` before, `--otel --remove` drops the one it made; a variable changed
/// since, or an endpoint that is not the daemon's, stays.
#[test]
fn otel_remove_takes_only_its_own_values() {
    let h = Home::new();
    let original = h.write_settings(&json!({"model": "opus"}));
    h.ok(&["--otel", "--write", "--protocol", "grpc"]);
    let v = h.value();
    assert_eq!(v["env"][ENDPOINT], "http://127.0.0.1:4317");
    assert_eq!(v["env"]["OTEL_EXPORTER_OTLP_PROTOCOL"], "grpc");
    // Taken out whatever --protocol says now: the endpoint is the daemon's gRPC one.
    h.ok(&["--otel", "--remove"]);
    assert_eq!(h.read(), original);

    // A value the user changed afterwards is theirs.
    h.ok(&["--otel", "--write"]);
    let mut v = h.value();
    v["env"]["OTEL_METRIC_EXPORT_INTERVAL"] = json!("30000");
    h.write_settings(&v);
    let out = h.ok(&["--otel", "--remove"]);
    assert!(out.contains("kept OTEL_METRIC_EXPORT_INTERVAL"), "{out}");
    assert_eq!(
        h.value(),
        json!({"model": "opus", "env": {"OTEL_METRIC_EXPORT_INTERVAL": "30000"}})
    );

    // Someone else's collector: nothing is taken out.
    let theirs = json!({"env": {
        "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
        "OTEL_METRICS_EXPORTER": "otlp",
        ENDPOINT: "http://collector:4318"
    }});
    let before = h.write_settings(&theirs);
    let out = h.ok(&["--otel", "--remove"]);
    assert!(
        out.contains("nothing to change") && out.contains("not this daemon's"),
        "{out}"
    );
    assert_eq!(h.read(), before);
    // Writing over it names what it replaced.
    let out = h.ok(&["--otel", "--write"]);
    assert!(
        out.contains("replaced OTEL_EXPORTER_OTLP_ENDPOINT (was http://collector:4318)"),
        "{out}"
    );
    assert_eq!(h.value()["env"][ENDPOINT], "http://127.0.0.1:7878");
}
