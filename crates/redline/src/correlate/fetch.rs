//! Fetching a URL source with the system's `curl`: one code path for `http://` and
//! `https://` (TLS, proxies from the usual variables, redirects) without a TLS stack in
//! redline. `curl` runs without a shell and without `~/.curlrc` (`-q`), only for http and
//! https (also after a redirect), for at most [`TIMEOUT`], and takes at most [`MAX_BYTES`];
//! the URL reaches it on stdin, out of the process list.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long one fetch may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest body taken.
pub const MAX_BYTES: u64 = 32 * 1024 * 1024;

/// What a fetch brought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The body, as text.
    pub body: String,
    /// The `Content-Type`, if the server sent one.
    pub content_type: Option<String>,
}

/// GETs `url` (an `http://` or `https://` URL, as the config checks) with `curl`. The
/// error says why in curl's words (`curl: (7) Failed to connect ...`), or that curl could
/// not be run.
pub fn fetch(url: &str) -> Result<Fetched, String> {
    // The content type goes after the body, on a line of its own: the body is
    // everything before the last line break. The URL goes in on stdin (`--config -`), not
    // in the arguments, so a key in it is not in every user's process list.
    let mut child = Command::new("curl")
        .args([
            "-q",
            "--silent",
            "--show-error",
            "--fail",
            "--location",
            "--max-redirs",
            "5",
            "--proto",
            "=http,https",
            "--proto-redir",
            "=http,https",
            "--max-time",
            &TIMEOUT.as_secs().to_string(),
            "--max-filesize",
            &MAX_BYTES.to_string(),
            "--header",
            "Accept: application/json, application/x-ndjson;q=0.9, text/csv;q=0.9, */*;q=0.1",
            "--user-agent",
            concat!("redline/", env!("CARGO_PKG_VERSION")),
            "--write-out",
            "\n%{content_type}",
            "--config",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run curl, which fetches URL sources ({e}); install curl"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A failed write shows as curl's own error (no URL).
        let _ = stdin.write_all(curl_config_url(url).as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("curl did not finish: {e}"))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(if said.is_empty() {
            format!("curl ended with {}", out.status)
        } else {
            said
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let (body, ct) = text.rsplit_once('\n').unwrap_or((&text, ""));
    Ok(Fetched {
        body: body.to_owned(),
        content_type: Some(ct.trim().to_owned()).filter(|c| !c.is_empty()),
    })
}

/// `url = "..."` as a curl config line: backslashes and quotes escaped (the config checks
/// that a URL has no whitespace, so no line break can end it early).
fn curl_config_url(url: &str) -> String {
    format!(
        "url = \"{}\"\n",
        url.replace('\\', "\\\\").replace('"', "\\\"")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_quoted_for_curls_config() {
        assert_eq!(
            curl_config_url(r#"https://x/a?q="b"\c"#),
            "url = \"https://x/a?q=\\\"b\\\"\\\\c\"\n"
        );
    }
}
