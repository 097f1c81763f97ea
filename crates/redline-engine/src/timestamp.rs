//! Timestamps as milliseconds since the Unix epoch.
//!
//! Claude Code writes `2026-02-12T14:12:01.177Z`; that shape is parsed by hand because it
//! is on every line. Anything else RFC 3339 allows (other precisions, offsets) goes
//! through `jiff`, and the result says whether ccusage would read it too, so the scan can
//! count the lines it would skip apart.

/// A parsed timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// Milliseconds since 1970-01-01T00:00:00Z (sub-millisecond digits are truncated).
    pub ms: i64,
    /// Whether ccusage 20 reads this timestamp too (see [`ccusage_accepts`]).
    pub ccusage: bool,
}

/// Parses an RFC 3339 timestamp. Returns `None` when it is not one.
pub fn parse(s: &str) -> Option<Parsed> {
    if let Some(ms) = parse_canonical(s.as_bytes()) {
        return Some(Parsed { ms, ccusage: true });
    }
    let ts: jiff::Timestamp = s.trim().parse().ok()?;
    Some(Parsed {
        ms: ts.as_millisecond(),
        ccusage: ccusage_shape(s.as_bytes()),
    })
}

/// Whether ccusage 20 reads this timestamp: `YYYY-MM-DDTHH:MM:SS`, optionally `.mmm`
/// (exactly three digits), then `Z` or `+HH:MM`/`-HH:MM`, and a real date.
pub fn ccusage_accepts(s: &str) -> bool {
    parse(s).is_some_and(|p| p.ccusage)
}

/// The shape half of [`ccusage_accepts`], for text that already parsed as a timestamp.
fn ccusage_shape(b: &[u8]) -> bool {
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let base = b.len() >= 19
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    if !base {
        return false;
    }
    let mut rest = &b[19..];
    if rest.first() == Some(&b'.') {
        if !(rest.len() >= 4 && rest[1..4].iter().all(u8::is_ascii_digit)) {
            return false;
        }
        rest = &rest[4..];
    }
    rest == b"Z"
        || (rest.len() == 6
            && (rest[0] == b'+' || rest[0] == b'-')
            && rest[1..3].iter().all(u8::is_ascii_digit)
            && rest[3] == b':'
            && rest[4..6].iter().all(u8::is_ascii_digit))
}

fn parse_canonical(b: &[u8]) -> Option<i64> {
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    Some(((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Milliseconds since the epoch as an instant (the epoch itself for a value out of
/// jiff's range, which no transcript timestamp reaches).
pub fn instant(ms: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Formats milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`, as ccusage prints
/// block times.
pub fn format_ms(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => String::from("invalid"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn canonical_shape_matches_jiff() {
        for s in [
            "1970-01-01T00:00:00.000Z",
            "2026-02-12T14:12:01.177Z",
            "2024-02-29T23:59:59.999Z",
            "2000-03-01T00:00:00.001Z",
            "1969-12-31T23:59:59.999Z",
        ] {
            assert_eq!(
                parse(s),
                Some(Parsed {
                    ms: reference(s),
                    ccusage: true
                }),
                "{s}"
            );
        }
    }

    #[test]
    fn other_rfc3339_shapes_parse_and_say_whether_ccusage_reads_them() {
        let p = parse("2026-02-12T15:12:01+01:00").unwrap();
        assert_eq!(
            p,
            Parsed {
                ms: reference("2026-02-12T14:12:01Z"),
                ccusage: true
            }
        );
        let p = parse("2026-02-12T14:12:01.177123Z").unwrap();
        assert_eq!(p.ms, reference("2026-02-12T14:12:01.177Z"));
        assert!(!p.ccusage);
    }

    #[test]
    fn nonsense_is_rejected() {
        for s in [
            "",
            "yesterday",
            "2026-02-30T00:00:00.000Z",
            "2026-13-01T00:00:00.000Z",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
    }

    #[test]
    fn ccusage_shapes() {
        for s in [
            "2026-02-12T14:12:01Z",
            "2026-02-12T14:12:01.177Z",
            "2026-02-12T14:12:01+02:00",
        ] {
            assert!(ccusage_accepts(s), "{s}");
        }
        for s in [
            "2026-02-12T14:12:01.177123Z",
            "2026-02-12T14:12:01+0200",
            "2026-02-30T00:00:00Z",
            "2026-02-12 14:12:01Z",
        ] {
            assert!(!ccusage_accepts(s), "{s}");
        }
    }

    #[test]
    fn formats_like_ccusage() {
        assert_eq!(
            format_ms(reference("2026-02-10T22:16:56.821Z")),
            "2026-02-10T22:16:56.821Z"
        );
    }
}
