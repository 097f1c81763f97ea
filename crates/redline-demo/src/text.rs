//! Text pieces: the words of prompts and tool output, timestamps in Claude Code's
//! `YYYY-MM-DDTHH:MM:SS.mmmZ`, and JSON strings escaped as `serde_json` escapes them.

use crate::lane::{DAY, HOUR};

pub(crate) const WORDS: &[&str] = &[
    "the",
    "parser",
    "returns",
    "an",
    "error",
    "when",
    "buffer",
    "is",
    "empty",
    "fix",
    "test",
    "module",
    "config",
    "value",
    "spawn",
    "thread",
    "async",
    "retry",
    "cache",
    "read",
    "write",
    "index",
    "file",
    "line",
    "token",
    "budget",
    "gauge",
    "needle",
    "stepper",
    "block",
    "session",
    "daily",
    "report",
    "ok",
    "failed",
    "warning",
    "unused",
    "import",
    "struct",
    "impl",
    "fn",
    "let",
    "match",
    "Some",
    "None",
    "println",
    "assert_eq",
    "cargo",
    "build",
    "check",
];

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for Unix milliseconds.
pub(crate) fn iso(ms: i64) -> String {
    let days = ms.div_euclid(DAY);
    let rem = ms.rem_euclid(DAY);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / HOUR,
        rem % HOUR / 60_000,
        rem % 60_000 / 1000,
        rem % 1000
    )
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn js(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    push_js(&mut out, s);
    out
}

/// Appends `s` as a JSON string, escaped the way `serde_json` does (and Claude Code).
fn push_js(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}
