//! SPEC's Exposure against a web page in the user's own browser, on the real daemon: POST
//! bodies only as JSON (a cross-site form cannot pin FUEL), no cross-origin `Origin`, and
//! a `Host` check (DNS rebinding) on the web page, `/api/*` and every POST while the gauge
//! endpoints answer any name; then the token (its scheme, where it may travel, its file)
//! and the configuration mistakes that must stop the daemon with a clear word.

mod common;

use std::path::Path;

use common::{Daemon, Home, Reply, serve_fails};

/// A statusLine object whose plan window is `used` percent used.
fn status_json(used: f64) -> String {
    let resets = jiff::Timestamp::now().as_second() + 3600;
    serde_json::json!({
        "session_id": "s", "version": "2.1.90",
        "model": {"id": "claude-opus-4-6", "display_name": "Opus 4.6"},
        "rate_limits": {"five_hour": {"used_percentage": used, "resets_at": resets}}
    })
    .to_string()
}

const HOOK: &str = r#"{"hook_event_name":"Notification","session_id":"s","message":"hi"}"#;

/// A request with exactly these header lines (each ending in CRLF) and body.
fn send(d: &Daemon, method: &str, path: &str, headers: &str, body: &str) -> Reply {
    let length = if method == "POST" {
        format!("Content-Length: {}\r\n", body.len())
    } else {
        String::new()
    };
    d.request(&format!(
        "{method} {path} HTTP/1.1\r\n{headers}{length}Connection: close\r\n\r\n{body}"
    ))
}

/// `Host: <the daemon's own address>`.
fn own_host(d: &Daemon) -> String {
    format!("Host: {}\r\n", d.addr)
}

fn port(d: &Daemon) -> &str {
    d.addr.rsplit(':').next().unwrap()
}

fn machine_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
}

#[test]
fn a_text_plain_post_is_refused_and_fuel_stays() {
    let home = Home::new();
    let d = Daemon::start(&home, &[]);
    let host = own_host(&d);
    let before = d.usage()["fuel"].clone();
    // What a cross-site form or a no-cors fetch can send without a preflight.
    for ct in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let headers = format!("{host}Content-Type: {ct}\r\n");
        let r = send(&d, "POST", "/statusline", &headers, &status_json(99.0));
        assert_eq!(r.status, 415, "{ct}: {}", r.body);
        assert!(r.body.contains("application/json"), "{}", r.body);
        let r = send(&d, "POST", "/hook", &headers, HOOK);
        assert_eq!(r.status, 415, "{ct}: {}", r.body);
    }
    // No Content-Type at all is no JSON either.
    assert_eq!(
        send(&d, "POST", "/hook", &host, HOOK).status,
        415,
        "no Content-Type"
    );
    d.settle();
    assert_eq!(d.usage()["fuel"], before, "FUEL moved on a refused POST");
    // JSON, in any case and with parameters, is taken: the same body moves FUEL.
    let headers = format!("{host}Content-Type: Application/JSON; charset=utf-8\r\n");
    let r = send(&d, "POST", "/statusline", &headers, &status_json(99.0));
    assert_eq!(r.status, 200, "{}", r.body);
    d.until("FUEL from the statusLine", |d| {
        d.usage()["fuel"]["remaining"] == 0.01
    });
    // OTLP over HTTP keeps protobuf (an empty export is a valid one).
    let headers = format!("{host}Content-Type: application/x-protobuf\r\n");
    assert_eq!(send(&d, "POST", "/v1/metrics", &headers, "").status, 200);
    let headers = format!("{host}Content-Type: text/plain\r\n");
    assert_eq!(send(&d, "POST", "/v1/logs", &headers, "{}").status, 415);
}

#[test]
fn a_foreign_origin_is_refused() {
    let home = Home::new();
    let d = Daemon::start(&home, &[]);
    let host = own_host(&d);
    let json = format!("{host}Content-Type: application/json\r\n");
    let other_port = if port(&d) == "7878" { "7879" } else { "7878" };
    for origin in [
        "http://evil.example".to_owned(),
        format!("http://evil.example:{}", port(&d)),
        "null".to_owned(),
        // Another program on this machine is another origin.
        format!("http://127.0.0.1:{other_port}"),
        format!("http://localhost:{}", port(&d)),
        format!("https://{}", d.addr),
    ] {
        let o = format!("Origin: {origin}\r\n");
        let r = send(&d, "POST", "/hook", &format!("{json}{o}"), HOOK);
        assert_eq!(r.status, 403, "{origin}: {}", r.body);
        let r = send(&d, "GET", "/api/status", &format!("{host}{o}"), "");
        assert_eq!(r.status, 403, "{origin}: {}", r.body);
    }
    // The daemon's own page is its own origin.
    let o = format!("Origin: http://{}\r\n", d.addr);
    assert_eq!(
        send(&d, "POST", "/hook", &format!("{json}{o}"), HOOK).status,
        204
    );
    assert_eq!(
        send(&d, "GET", "/api/status", &format!("{host}{o}"), "").status,
        200
    );
}

#[test]
fn a_rebinding_host_is_refused_where_it_matters() {
    let home = Home::new();
    let d = Daemon::start(&home, &[]);
    let evil = format!("Host: evil.example:{}\r\n", port(&d));
    let json = "Content-Type: application/json\r\n";
    for path in [
        "/",
        "/api/status",
        "/api/stats",
        "/api/hosts",
        "/api/git",
        "/api/config",
        "/faces/tach.svg",
    ] {
        let r = send(&d, "GET", path, &evil, "");
        assert_eq!(r.status, 421, "{path}: {}", r.body);
        assert!(r.body.contains("allowed_hosts"), "{path}: {}", r.body);
    }
    for path in ["/hook", "/statusline", "/v1/metrics"] {
        let r = send(&d, "POST", path, &format!("{evil}{json}"), HOOK);
        assert_eq!(r.status, 421, "{path}: {}", r.body);
    }
    // The gauge endpoints answer whatever name found the machine.
    for path in ["/usage", "/usage/gauge", "/healthz", "/metrics"] {
        assert_eq!(send(&d, "GET", path, &evil, "").status, 200, "{path}");
    }
    // Loopback names and addresses, this machine's name and its mDNS name are ours.
    let p = port(&d);
    let mut ours = vec![
        format!("127.0.0.1:{p}"),
        format!("127.8.9.10:{p}"),
        format!("localhost:{p}"),
        format!("LocalHost.:{p}"),
        format!("[::1]:{p}"),
        format!("[::ffff:127.0.0.1]:{p}"),
        "localhost".to_owned(),
    ];
    if let Some(name) = machine_name() {
        ours.push(format!("{name}:{p}"));
        ours.push(format!("{name}.local:{p}"));
    }
    for h in ours {
        let r = send(&d, "GET", "/api/status", &format!("Host: {h}\r\n"), "");
        assert_eq!(r.status, 200, "{h}: {}", r.body);
    }
    for h in [
        "evil.example",
        "127.0.0.1.evil.example",
        "localhost.evil.example",
    ] {
        let r = send(&d, "GET", "/api/status", &format!("Host: {h}\r\n"), "");
        assert_eq!(r.status, 421, "{h}: {}", r.body);
    }
}

#[test]
fn allowed_hosts_let_a_name_in() {
    let home = Home::new();
    let check = |d: &Daemon, name: &str| {
        let h = format!("Host: {name}:{}\r\n", port(d));
        let r = send(d, "GET", "/api/status", &h, "");
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let o = format!("Origin: http://{name}:{}\r\n", port(d));
        let json = "Content-Type: application/json\r\n";
        let r = send(d, "POST", "/hook", &format!("{h}{o}{json}"), HOOK);
        assert_eq!(r.status, 204, "{name}: {}", r.body);
        let r = send(d, "GET", "/api/status", "Host: other.example\r\n", "");
        assert_eq!(r.status, 421, "{}", r.body);
    };
    // By flag.
    let d = Daemon::start(&home, &["--allowed-hosts", "desk.example, Proxy.Example."]);
    check(&d, "desk.example");
    check(&d, "proxy.example");
    drop(d);
    // By variable.
    let d = Daemon::run(
        &home,
        &["serve", "--listen", "127.0.0.1:0", "--otlp-grpc", "off"],
        &[("REDLINE_ALLOWED_HOSTS", "desk.example,10.9.8.7")],
    );
    check(&d, "desk.example");
    check(&d, "10.9.8.7");
    drop(d);
    // By the config file.
    let dir = home.dir.join("config/redline");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "allowed_hosts = [\"desk.example\"]\n",
    )
    .unwrap();
    let d = Daemon::start(&home, &[]);
    check(&d, "desk.example");
}

#[test]
fn an_ipv4_mapped_loopback_bind_is_loopback() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--listen", "[::ffff:127.0.0.1]:0"]);
    assert!(d.addr.starts_with("[::ffff:127.0.0.1]:"), "{}", d.addr);
    // No token is demanded, none generated, and nothing is advertised.
    let r = send(&d, "GET", "/api/status", &own_host(&d), "");
    assert_eq!(r.status, 200, "{}", r.body);
    d.settle();
    let said = d.stderr.lock().unwrap().join("\n");
    for not in ["mDNS", "beyond loopback", "token"] {
        assert!(!said.contains(not), "{not}: {said}");
    }
    assert!(!home.dir.join("state/redline/token").exists());
}

#[test]
fn the_bearer_scheme_is_any_case_and_the_query_token_opens_only_the_page() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--listen", "0.0.0.0:0", "--token", "s3cret-token"]);
    let host = own_host(&d);
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let h = format!("{host}Authorization: {scheme} s3cret-token\r\n");
        let r = send(&d, "GET", "/api/status", &h, "");
        assert_eq!(r.status, 200, "{scheme}: {}", r.body);
    }
    let h = format!("{host}Authorization: Basic s3cret-token\r\n");
    assert_eq!(send(&d, "GET", "/api/status", &h, "").status, 401);
    // The printed link opens the page and sets the cookie; /api/* wants the header.
    let r = send(&d, "GET", "/?token=s3cret-token", &host, "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.head.contains("set-cookie: redline_token="), "{}", r.head);
    for path in [
        "/api/status?token=s3cret-token",
        "/api/stats?token=s3cret-token",
        "/assets/app.js?token=s3cret-token",
    ] {
        let r = send(&d, "GET", path, &host, "");
        assert_eq!(r.status, 401, "{path}: {}", r.body);
    }
    let json = format!("{host}Content-Type: application/json\r\n");
    let r = send(&d, "POST", "/hook?token=s3cret-token", &json, HOOK);
    assert_eq!(r.status, 401, "{}", r.body);
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
fn chmod(p: &Path, m: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

#[cfg(unix)]
#[test]
fn a_token_file_others_can_read_is_named_with_the_fix() {
    let home = Home::new();
    let state = home.dir.join("state/redline");
    std::fs::create_dir_all(&state).unwrap();
    let token = state.join("token");
    std::fs::write(&token, "0123456789abcdef\n").unwrap();
    chmod(&token, 0o644);
    let d = Daemon::start(&home, &["--listen", "0.0.0.0:0"]);
    let h = format!("{}Authorization: Bearer 0123456789abcdef\r\n", own_host(&d));
    assert_eq!(send(&d, "GET", "/api/status", &h, "").status, 200);
    let said = d.stderr.lock().unwrap().join("\n");
    let path = token.display().to_string();
    assert!(
        said.contains(&format!("chmod 600 {path}")) && said.contains("read by others"),
        "{said}"
    );
    // doctor says the same, and that a private one is private.
    let doctor = |h: &Home| {
        let out = h
            .redline()
            .args(["doctor", "--listen", "127.0.0.1:9"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let said = doctor(&home);
    assert!(
        said.contains(&format!("token file: {path} can be read by others")),
        "{said}"
    );
    chmod(&token, 0o600);
    let said = doctor(&home);
    assert!(
        said.contains(&format!("token file: {path} (yours alone)")),
        "{said}"
    );
}

#[cfg(unix)]
#[test]
fn the_token_file_is_replaced_never_written_through_and_stays_private() {
    // A link at the token file (to a file the token is too short to be read from): the
    // new token replaces the link, and the file it pointed at is untouched.
    let home = Home::new();
    let state = home.dir.join("state/redline");
    std::fs::create_dir_all(&state).unwrap();
    let victim = home.dir.join("victim.txt");
    std::fs::write(&victim, "keep\n").unwrap();
    let token = state.join("token");
    std::os::unix::fs::symlink(&victim, &token).unwrap();
    let d = Daemon::start(&home, &["--listen", "0.0.0.0:0"]);
    drop(d);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
    assert!(std::fs::symlink_metadata(&token).unwrap().is_file());
    assert_eq!(mode(&token), 0o600);
    assert!(std::fs::read_to_string(&token).unwrap().trim().len() >= 16);

    // A file others could read, replaced by a new token, is private afterwards.
    std::fs::remove_file(&token).unwrap();
    std::fs::write(&token, "short").unwrap();
    chmod(&token, 0o644);
    let d = Daemon::start(&home, &["--listen", "0.0.0.0:0"]);
    drop(d);
    assert_eq!(mode(&token), 0o600);
    assert!(std::fs::read_to_string(&token).unwrap().trim().len() >= 16);
    let leftovers: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[cfg(unix)]
#[test]
fn a_new_state_directory_is_private() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--listen", "0.0.0.0:0"]);
    drop(d);
    let state = home.dir.join("state/redline");
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&state.join("token")), 0o600);
}

#[test]
fn a_bad_variable_is_named_as_the_variable() {
    let home = Home::new();
    for (var, value, says) in [
        (
            "REDLINE_TACH_REDLINE",
            "abc",
            "\"abc\" is not a whole number",
        ),
        ("REDLINE_TACH_WINDOW", "-5", "is not a whole number"),
        ("REDLINE_STALL_AFTER", "3m", "is not a whole number"),
        ("REDLINE_STALE_AFTER", "soon", "is not a whole number"),
        ("REDLINE_API_ERROR_WINDOW", "1.5", "is not a whole number"),
        ("REDLINE_COST_FULL_SCALE", "lots", "is not a number"),
        (
            "REDLINE_COST_FULL_SCALE",
            "inf",
            "positive number of dollars, not inf",
        ),
        (
            "REDLINE_COST_FULL_SCALE",
            "NaN",
            "positive number of dollars, not NaN",
        ),
        (
            "REDLINE_ALLOWED_HOSTS",
            "desk.example:7878",
            "without a port",
        ),
        ("REDLINE_ALLOWED_HOSTS", "desk/x", "not a host name"),
    ] {
        let e = serve_fails(&home, &[], &[(var, value)]);
        assert!(
            e.contains(&format!("{var}: ")) && e.contains(says),
            "{var}={value}: {e}"
        );
        let flag = format!("--{}", var["REDLINE_".len()..].to_ascii_lowercase());
        let flag = flag.replace('_', "-");
        assert!(!e.contains(&flag), "{var}={value} named the flag: {e}");
    }
    // The flag is named when the flag was given.
    let e = serve_fails(&home, &["--tach-redline", "abc"], &[]);
    assert!(e.contains("--tach-redline: \"abc\""), "{e}");
}

#[test]
fn config_file_mistakes_stop_the_daemon_with_their_place() {
    let home = Home::new();
    let dir = home.dir.join("config/redline");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    for (text, says) in [
        (
            "[zones]\ntemp_cool = 0.7\ntemp_hot = 0.5\n",
            "config.toml:2: zones.temp_cool: must not be above temp_hot",
        ),
        (
            "[lamps]\nwarn_used = 0.9\nwarn_blink_used = 0.5\n",
            "config.toml:3: lamps.warn_blink_used: must not be below warn_used",
        ),
        (
            "cost_full_scale = inf\n",
            "config.toml:1: cost_full_scale: must be a positive number of dollars, not inf",
        ),
        (
            "allowed_hosts = [\"desk:7878\"]\n",
            "config.toml:1: allowed_hosts: ",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let e = serve_fails(&home, &[], &[]);
        assert!(e.contains(says), "{text}: {e}");
    }
    // A directory where the default file goes is no config to pass over.
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let e = serve_fails(&home, &[], &[]);
    assert!(
        e.contains("config.toml is a directory") && e.contains(&file.display().to_string()),
        "{e}"
    );
}
