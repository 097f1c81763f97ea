//! One transcript line into the few facts accounting needs.
//!
//! Most lines carry no usage (user turns, tool results, progress, snapshots); they are
//! recognised by the absence of the bytes `"usage"` and skipped without parsing. The rest
//! are read with the [`crate::json`] cursor into borrowed fields only: the message
//! content, often large, is measured (characters of thinking, text and tool input, for
//! [`crate::thinking`]) but never decoded (the usage-limit reset time of an API-error
//! line is found in the line's bytes).

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem::Finder;

use redline_core::TokenCounts;

use crate::json::{Cursor, ErrorKind, JsonError};
use crate::thinking::{self, Content, LastBlock};
use crate::timestamp;

/// The usage facts of one line.
#[derive(Clone, Debug, PartialEq)]
pub struct Record<'a> {
    /// Milliseconds since the epoch.
    pub ts_ms: i64,
    /// The four token counts.
    pub tokens: TokenCounts,
    /// The part of `tokens.cache_creation` written with the 1-hour lifetime.
    pub cache_write_1h: u64,
    /// `message.model`, if present.
    pub model: Option<Cow<'a, str>>,
    /// The dedup key: a hash of `message.id` and `requestId`, or `None` when the line has no
    /// `message.id` (such lines are never deduplicated).
    pub key: Option<u64>,
    /// A hash of `message.id` alone: a sidechain copy of a response may carry another
    /// `requestId` and is still the same response. For a line without `message.id`, a hash
    /// of the whole line.
    pub id_hash: u64,
    /// `isSidechain`.
    pub sidechain: bool,
    /// The line's own `costUSD` (written by old Claude Code versions).
    pub cost_usd: Option<f64>,
    /// `usage.speed == "fast"`.
    pub fast: bool,
    /// Whether `usage.speed` is present at all (a dedup tie-breaker, as in ccusage).
    pub has_speed: bool,
    /// `usage.inference_geo == "us"`.
    pub geo_us: bool,
    /// `isApiErrorMessage`.
    pub api_error: bool,
    /// The reset time (seconds since the epoch) of a `Claude AI usage limit reached|<epoch>`
    /// message.
    pub limit_reset_s: Option<i64>,
    /// Whether ccusage 20 would read this line too. Lines redline accepts beyond it (spaced
    /// JSON, `null` fields, other timestamp precisions, odd `speed` or `version` values) are
    /// counted, and counted apart, so parity holds on what Claude Code itself writes.
    pub canonical: bool,
    /// What the line's content blocks say about thinking (and the exact figure, when
    /// `usage.output_tokens_details.thinking_tokens` is there).
    pub content: Content,
    /// The kind of the line's last content block (for the turn rule).
    pub last_block: Option<LastBlock>,
    /// A hash of the `content` value as written (0 without one): a run of a response's
    /// lines that shows the same block twice is a replay (see [`crate::ledger::Run`]).
    pub content_hash: u64,
}

/// Why a line could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineProblem {
    /// Not JSON at all, or cut off.
    Malformed(String),
    /// JSON, with usage, but a field has the wrong type or value.
    BadField(String),
    /// Not UTF-8 (a converted file: UTF-16, Latin-1, a byte order mark).
    Encoding(String),
}

/// What a line that starts with `{` but does not end with `}` is (a write cut short).
pub const CUT_OFF: &str = "line is cut off (no closing brace)";
/// What a line that does not start with `{` is.
pub const NOT_AN_OBJECT: &str = "line does not start with '{'";

impl std::fmt::Display for LineProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LineProblem::Malformed(m) => write!(f, "malformed JSON: {m}"),
            LineProblem::BadField(m) | LineProblem::Encoding(m) => write!(f, "{m}"),
        }
    }
}

/// The fields of a line that accounting reads; everything else is stepped over.
#[derive(Default)]
struct Line<'a> {
    timestamp: Option<Cow<'a, str>>,
    /// JSON text as written.
    version: Option<&'a str>,
    /// JSON text as written.
    session_id: Option<&'a str>,
    is_sidechain: Option<bool>,
    message: Option<Message<'a>>,
    /// JSON text as written.
    request_id: Option<&'a str>,
    cost_usd: Option<f64>,
    is_api_error: Option<bool>,
}

#[derive(Default)]
struct Message<'a> {
    /// JSON text as written.
    id: Option<&'a str>,
    model: Option<Cow<'a, str>>,
    usage: Option<Usage<'a>>,
    content: Content,
    last_block: Option<LastBlock>,
    content_hash: u64,
}

#[derive(Default)]
struct Usage<'a> {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation: Option<CacheCreation>,
    speed: Option<Cow<'a, str>>,
    inference_geo: Option<Cow<'a, str>>,
    /// `output_tokens_details.thinking_tokens`.
    thinking_tokens: Option<u64>,
}

#[derive(Default)]
struct CacheCreation {
    ephemeral_5m_input_tokens: Option<u64>,
    ephemeral_1h_input_tokens: Option<u64>,
}

fn read_line(b: &[u8]) -> Result<Line<'_>, JsonError> {
    let mut c = Cursor::new(b);
    let mut line = Line::default();
    c.object(|key, c| {
        match key {
            b"timestamp" => line.timestamp = c.opt_string("timestamp")?,
            b"version" => line.version = Some(c.raw_value()?),
            b"sessionId" => line.session_id = Some(c.raw_value()?),
            b"isSidechain" => line.is_sidechain = c.opt_bool("isSidechain")?,
            b"message" => line.message = read_message(c)?,
            b"requestId" => line.request_id = Some(c.raw_value()?),
            b"costUSD" => line.cost_usd = c.opt_f64("costUSD")?,
            b"isApiErrorMessage" => line.is_api_error = c.opt_bool("isApiErrorMessage")?,
            _ => c.skip()?,
        }
        Ok(())
    })?;
    c.end()?;
    Ok(line)
}

fn read_message<'a>(c: &mut Cursor<'a>) -> Result<Option<Message<'a>>, JsonError> {
    if !c.opt_object("message")? {
        return Ok(None);
    }
    let mut m = Message::default();
    c.object(|key, c| {
        match key {
            b"id" => m.id = Some(c.raw_value()?),
            b"model" => m.model = c.opt_string("message.model")?,
            b"usage" => m.usage = read_usage(c)?,
            b"content" => {
                let from = c.position();
                (m.content, m.last_block) = thinking::read_content(c)?;
                m.content_hash = content_hash(c.since(from));
            }
            _ => c.skip()?,
        }
        Ok(())
    })?;
    Ok(Some(m))
}

fn read_usage<'a>(c: &mut Cursor<'a>) -> Result<Option<Usage<'a>>, JsonError> {
    if !c.opt_object("usage")? {
        return Ok(None);
    }
    let mut u = Usage::default();
    c.object(|key, c| {
        match key {
            b"input_tokens" => u.input_tokens = c.opt_u64("input_tokens")?,
            b"output_tokens" => u.output_tokens = c.opt_u64("output_tokens")?,
            b"cache_creation_input_tokens" => {
                u.cache_creation_input_tokens = c.opt_u64("cache_creation_input_tokens")?
            }
            b"cache_read_input_tokens" => {
                u.cache_read_input_tokens = c.opt_u64("cache_read_input_tokens")?
            }
            b"cache_creation" => {
                if c.opt_object("cache_creation")? {
                    let mut cc = CacheCreation::default();
                    c.object(|key, c| {
                        match key {
                            b"ephemeral_5m_input_tokens" => {
                                cc.ephemeral_5m_input_tokens =
                                    c.opt_u64("ephemeral_5m_input_tokens")?
                            }
                            b"ephemeral_1h_input_tokens" => {
                                cc.ephemeral_1h_input_tokens =
                                    c.opt_u64("ephemeral_1h_input_tokens")?
                            }
                            _ => c.skip()?,
                        }
                        Ok(())
                    })?;
                    u.cache_creation = Some(cc);
                }
            }
            b"output_tokens_details" => {
                // Read leniently: not a field ccusage reads, so an odd shape is ignored.
                c.object_or_skip(|key, c| {
                    match key {
                        b"thinking_tokens" => match c.opt_u64("thinking_tokens") {
                            Ok(v) => u.thinking_tokens = v,
                            // A value of another type was stepped over: ignored.
                            Err(e) if e.kind == ErrorKind::Type => {}
                            Err(e) => return Err(e),
                        },
                        _ => c.skip()?,
                    }
                    Ok(())
                })?;
            }
            b"speed" => u.speed = c.opt_string("usage.speed")?,
            b"inference_geo" => u.inference_geo = c.opt_string("usage.inference_geo")?,
            _ => c.skip()?,
        }
        Ok(())
    })?;
    Ok(Some(u))
}

// Searchers built once: building one per call cost more than some of the searches.
static USAGE_KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"usage\""));
static USAGE_OBJECT: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"usage\":{"));
static NULL: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"null"));
static LIMIT: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(LIMIT_MARKER.as_bytes()));

/// Reads one line. `Ok(None)`: the line carries no usage (or is blank). `Err`: the line is
/// broken; the caller reports it with its path and line number and goes on.
pub fn parse_line(line: &[u8]) -> Result<Option<Record<'_>>, LineProblem> {
    let trimmed = line.trim_ascii();
    if trimmed.is_empty() {
        return Ok(None);
    }
    // A cheap shape check catches cut-off lines even when they carry no usage.
    if trimmed[0] != b'{' || trimmed[trimmed.len() - 1] != b'}' {
        if let Some(e) = encoding_problem(trimmed) {
            return Err(e);
        }
        return Err(LineProblem::Malformed(if trimmed[0] == b'{' {
            CUT_OFF.into()
        } else {
            NOT_AN_OBJECT.into()
        }));
    }
    let Some(usage_at) = USAGE_KEY.find(trimmed) else {
        return Ok(None);
    };
    let parsed = read_line(trimmed)
        .map_err(|e| encoding_problem(trimmed).unwrap_or_else(|| classify(&e)))?;
    finish(parsed, trimmed, usage_at)
}

/// Why a line that failed to read is not UTF-8, when that is why: Claude Code writes UTF-8,
/// so such a line comes from a file something converted. `None` for valid UTF-8.
fn encoding_problem(line: &[u8]) -> Option<LineProblem> {
    let zeros = line.iter().filter(|&&b| b == 0).count();
    let why = if line.starts_with(&[0xEF, 0xBB, 0xBF]) {
        "line starts with a UTF-8 byte order mark, which Claude Code never writes (the file was saved by an editor that adds one)".to_owned()
    } else if zeros == line.len() {
        "line is all NUL bytes (what a crash or a full disk leaves where a write did not finish)"
            .to_owned()
    } else if line.starts_with(&[0xFF, 0xFE])
        || line.starts_with(&[0xFE, 0xFF])
        || zeros * 3 >= line.len()
    {
        // UTF-16 text is mostly ASCII: every other byte is NUL.
        "line is UTF-16, not UTF-8 as Claude Code writes it (the file was converted)".to_owned()
    } else if zeros > 0 {
        "line holds NUL bytes (what a crash or a full disk leaves where a write did not finish)"
            .to_owned()
    } else {
        let e = std::str::from_utf8(line).err()?;
        let at = e.valid_up_to();
        format!(
            "line is not UTF-8 (byte 0x{:02X} at column {}), as Claude Code writes it: the file was converted to another encoding",
            line[at],
            at + 1
        )
    };
    Some(LineProblem::Encoding(why))
}

/// From the fields read to the record, whichever reader read them. `usage_at` is where
/// the bytes `"usage"` first occur.
fn finish<'a>(
    parsed: Line<'a>,
    trimmed: &'a [u8],
    usage_at: usize,
) -> Result<Option<Record<'a>>, LineProblem> {
    let Some(message) = parsed.message else {
        return Ok(None);
    };
    let Some(usage) = message.usage else {
        return Ok(None);
    };
    // ccusage looks for these exact bytes before it parses a line.
    // `"usage":{` cannot occur before the first `"usage"`.
    let mut canonical =
        USAGE_OBJECT.find(&trimmed[usage_at..]).is_some() && !has_rejected_null(trimmed);

    let ts = parsed
        .timestamp
        .ok_or_else(|| LineProblem::BadField("usage line without a timestamp".into()))?;
    let parsed_ts = timestamp::parse(&ts)
        .ok_or_else(|| LineProblem::BadField(format!("timestamp {ts:?} is not RFC 3339")))?;
    canonical &= parsed_ts.ccusage;

    let (Some(input), Some(output)) = (usage.input_tokens, usage.output_tokens) else {
        return Err(LineProblem::BadField(
            "usage lacks input_tokens or output_tokens".into(),
        ));
    };
    // When the 5-minute/1-hour split is present it is the figure (as ccusage reads it);
    // the flat `cache_creation_input_tokens` is its sum on every line Claude Code writes.
    let (cache_creation, cache_write_1h) = match &usage.cache_creation {
        Some(cc) => {
            let h1 = cc.ephemeral_1h_input_tokens.unwrap_or(0);
            (cc.ephemeral_5m_input_tokens.unwrap_or(0) + h1, h1)
        }
        None => (usage.cache_creation_input_tokens.unwrap_or(0), 0),
    };
    let tokens = TokenCounts {
        input,
        output,
        cache_creation,
        cache_read: usage.cache_read_input_tokens.unwrap_or(0),
    };
    if [
        tokens.input,
        tokens.output,
        tokens.cache_creation,
        tokens.cache_read,
    ]
    .iter()
    .any(|&n| n > u64::from(u32::MAX))
    {
        return Err(LineProblem::BadField(format!(
            "a token count above {} is not a real response: {tokens:?}",
            u32::MAX
        )));
    }

    let id = id_field(message.id, "message.id", &mut canonical)?;
    let request_id = id_field(parsed.request_id, "requestId", &mut canonical)?;
    id_field(parsed.session_id, "sessionId", &mut canonical)?;
    // Without an id, the whole line stands in: a live reader that re-reads a truncated or
    // replaced file recognises the unkeyed lines it already counted from it.
    let id_hash = id_hash(id.as_deref().map_or(trimmed, str::as_bytes));
    // The dedup key (as `dedup_key` makes it), from the id hash already worked out.
    let key = id
        .is_some()
        .then(|| key_of(id_hash, request_tag(request_id.as_deref())));

    let model = match message.model {
        Some(m) if m.is_empty() => {
            canonical = false;
            None
        }
        m => m,
    };
    if let Some(speed) = usage.speed.as_deref() {
        canonical &= speed == "standard" || speed == "fast";
    }
    if let Some(v) = parsed.version {
        canonical &= is_semver_like(v);
    }

    let mut content = message.content;
    if let Some(t) = usage.thinking_tokens {
        content.set_exact(u32::try_from(t.min(output)).unwrap_or(u32::MAX));
    }

    let api_error = parsed.is_api_error.unwrap_or(false);
    let limit_reset_s = if api_error {
        usage_limit_reset(trimmed)
    } else {
        None
    };

    Ok(Some(Record {
        ts_ms: parsed_ts.ms,
        tokens,
        cache_write_1h,
        model,
        key,
        id_hash,
        sidechain: parsed.is_sidechain.unwrap_or(false),
        cost_usd: parsed.cost_usd,
        fast: usage.speed.as_deref() == Some("fast"),
        has_speed: usage.speed.is_some(),
        geo_us: usage.inference_geo.as_deref() == Some("us"),
        api_error,
        limit_reset_s,
        canonical,
        content,
        last_block: message.last_block,
        content_hash: message.content_hash,
    }))
}

/// A hash of a `content` value that tells one block's line from another's: its length
/// and its first and last 64 bytes (a block's type, id and opening words are in the
/// first, its close in the last). Hashing the whole value, often kilobytes of tool input,
/// cost a tenth of the scan.
fn content_hash(raw: &[u8]) -> u64 {
    const EDGE: usize = 64;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&(raw.len() as u64).to_le_bytes());
    if raw.len() <= 2 * EDGE {
        h.update(raw);
    } else {
        h.update(&raw[..EDGE]);
        h.update(&raw[raw.len() - EDGE..]);
    }
    h.digest() | 1
}

/// Keys whose `null` value makes ccusage skip the whole line, wherever they occur in it.
const NULL_REJECTING_KEYS: [&[u8]; 11] = [
    b"id",
    b"cwd",
    b"model",
    b"speed",
    b"costUSD",
    b"version",
    b"sessionId",
    b"requestId",
    b"isApiErrorMessage",
    b"cache_read_input_tokens",
    b"cache_creation_input_tokens",
];

/// Whether one of [`NULL_REJECTING_KEYS`] is `null` somewhere in the line.
fn has_rejected_null(line: &[u8]) -> bool {
    NULL.find_iter(line).any(|at| {
        let before = line[..at].trim_ascii_end();
        let Some(before) = before.strip_suffix(b":") else {
            return false;
        };
        let Some(before) = before.trim_ascii_end().strip_suffix(b"\"") else {
            return false;
        };
        NULL_REJECTING_KEYS
            .iter()
            .any(|k| before.ends_with(k) && before[..before.len() - k.len()].ends_with(b"\""))
    })
}

/// `version` as ccusage wants it: a JSON string starting `<digits>.<digits>.<digit>`.
fn is_semver_like(raw: &str) -> bool {
    let Some(v) = raw.strip_prefix('"') else {
        return false;
    };
    let mut parts = v.splitn(3, '.');
    let digits =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next())
        && digits(parts.next())
        && parts
            .next()
            .is_some_and(|rest| rest.as_bytes().first().is_some_and(u8::is_ascii_digit))
}

/// An id field (its JSON text): a string, absent, or (beyond what ccusage reads) `null`,
/// empty, or a number.
fn id_field<'a>(
    raw: Option<&'a str>,
    field: &str,
    canonical: &mut bool,
) -> Result<Option<Cow<'a, str>>, LineProblem> {
    let Some(text) = raw else { return Ok(None) };
    if text.starts_with('"') {
        // The cursor matched both quotes; without escapes (or control characters, which
        // JSON does not allow raw) the text between is the value.
        let plain = &text[1..text.len() - 1];
        let s: Cow<'a, str> = if plain.bytes().any(|b| b == b'\\' || b < 0x20) {
            Cow::Owned(
                serde_json::from_str::<String>(text)
                    .map_err(|e| LineProblem::BadField(format!("{field}: {e}")))?,
            )
        } else {
            Cow::Borrowed(plain)
        };
        if s.is_empty() {
            *canonical = false;
            return Ok(None);
        }
        return Ok(Some(s));
    }
    *canonical = false;
    match text {
        "null" => Ok(None),
        t if t.bytes().all(|b| b.is_ascii_digit() || b == b'-') => Ok(Some(Cow::Borrowed(t))),
        t => Err(LineProblem::BadField(format!(
            "{field} is not a string: {t}"
        ))),
    }
}

/// The key two copies of one response share: the 64-bit hash of `message.id` (as
/// [`id_hash`] gives it) mixed with 32 bits of the `requestId`'s (see [`key_of`]). A
/// chance collision needs two responses' id hashes to line up in 64 bits (about 1 in 400
/// million among 300k responses), or one message's two request ids in 32 bits; and the
/// scan index stores a key as the request's 4 bytes beside the id hash it holds anyway.
pub fn dedup_key(message_id: &str, request_id: Option<&str>) -> u64 {
    key_of(id_hash(message_id.as_bytes()), request_tag(request_id))
}

/// The hash of a `message.id` (odd, so never 0).
pub fn id_hash(message_id: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(message_id) | 1
}

/// 32 bits of a `requestId`'s hash, odd; 0 for none.
pub fn request_tag(request_id: Option<&str>) -> u32 {
    request_id.map_or(0, |r| (xxhash_rust::xxh3::xxh3_64(r.as_bytes()) as u32) | 1)
}

/// The multiplier of [`key_of`]: odd, so [`tag_of`] can undo it.
const TAG_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// The dedup key of a response whose `message.id` hashes to `id_hash` and whose request
/// tag is `tag` ([`request_tag`]).
pub fn key_of(id_hash: u64, tag: u32) -> u64 {
    id_hash ^ u64::from(tag).wrapping_mul(TAG_MIX)
}

/// The request tag a key was made with from `id_hash` (`None` when it was not made by
/// [`key_of`] from that id hash).
pub fn tag_of(key: u64, id_hash: u64) -> Option<u32> {
    u32::try_from((key ^ id_hash).wrapping_mul(TAG_MIX_INVERSE)).ok()
}

/// The inverse of [`TAG_MIX`] modulo 2^64, worked out once by Newton's iteration (each
/// step doubles the bits that are right; an odd number is its own inverse to 3 bits).
const TAG_MIX_INVERSE: u64 = {
    let mut inv = TAG_MIX;
    let mut i = 0;
    while i < 5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(TAG_MIX.wrapping_mul(inv)));
        i += 1;
    }
    inv
};

const LIMIT_MARKER: &str = "Claude AI usage limit reached";

/// `Claude AI usage limit reached|<epoch seconds>`: the digits after the first `|` that
/// follows the marker anywhere in the line (as ccusage reads it; the message content is
/// never decoded for it); 0 or no digits is no reset time.
fn usage_limit_reset(line: &[u8]) -> Option<i64> {
    let at = LIMIT.find(line)? + LIMIT_MARKER.len();
    let rest = &line[at..];
    let rest = &rest[memchr::memchr(b'|', rest)? + 1..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits])
        .ok()?
        .parse()
        .ok()
        .filter(|&s: &i64| s > 0)
}

fn classify(e: &JsonError) -> LineProblem {
    match e.kind {
        ErrorKind::Type => LineProblem::BadField(e.what.clone()),
        ErrorKind::Eof => LineProblem::Malformed(format!("cut off ({e})")),
        ErrorKind::Syntax => LineProblem::Malformed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gives_back_its_request_tag() {
        for (id, req) in [
            ("msg_01", Some("req_01")),
            ("msg_01", Some("req_02")),
            ("msg_01", None),
            ("", Some("")),
            (
                "msg_017pJxqKrv2bSyMDnWxXfzW9",
                Some("req_011CUMvD4b5Mb3Ya5N7kqgBf"),
            ),
        ] {
            let k = dedup_key(id, req);
            let tag = request_tag(req);
            assert_eq!(k, key_of(id_hash(id.as_bytes()), tag));
            assert_eq!(tag_of(k, id_hash(id.as_bytes())), Some(tag), "{id} {req:?}");
            assert!(tag == 0 || tag % 2 == 1);
        }
        // Copies of one message under two request ids are two keys; one id, one key.
        assert_ne!(dedup_key("m", Some("r1")), dedup_key("m", Some("r2")));
        assert_ne!(dedup_key("m", Some("r1")), dedup_key("m", None));
        assert_ne!(dedup_key("m1", Some("r")), dedup_key("m2", Some("r")));
        assert_eq!(TAG_MIX.wrapping_mul(TAG_MIX_INVERSE), 1);
        // A key not made from that id hash gives no tag (almost always: 1 in 2^32).
        assert_eq!(tag_of(0x1234_5678_9ABC_DEF0, id_hash(b"m")), None);
    }

    #[test]
    fn lines_in_another_encoding_say_which() {
        let say = |b: &[u8]| {
            parse_line(b)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let good = b"{\"type\":\"assistant\",\"message\":{\"usage\":{\"input_tokens\":1}},\"note\":\"caf\xc3\xa9\"}";
        assert!(!say(good).contains("UTF"), "{}", say(good));
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(good);
        assert!(say(&bom).contains("byte order mark"), "{}", say(&bom));
        let utf16: Vec<u8> = "{\"type\":\"assistant\"}"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let mut with_bom = vec![0xFF, 0xFE];
        with_bom.extend_from_slice(&utf16);
        for b in [&with_bom[..], &utf16[..], &utf16[1..]] {
            assert!(say(b).contains("UTF-16"), "{}", say(b));
        }
        // Latin-1 (a bare 0xE9 where UTF-8 has two bytes) in a line that does not read.
        let latin1 = b"{\"type\":\"assistant\",\"note\":\"caf\xe9";
        assert!(
            say(latin1).contains("not UTF-8 (byte 0xE9 at column 32)"),
            "{}",
            say(latin1)
        );
        let latin1_start = b"\xe9t\xe9 {}";
        assert!(
            say(latin1_start).contains("byte 0xE9 at column 1"),
            "{}",
            say(latin1_start)
        );
        assert!(say(&[0; 32]).contains("all NUL bytes"), "{}", say(&[0; 32]));
        let torn = b"{\"type\":\"assistant\",\"x\":\"\0\0";
        assert!(say(torn).contains("holds NUL bytes"), "{}", say(torn));
        // A line that is simply not JSON keeps its own message.
        assert!(
            say(b"hello").contains("does not start with"),
            "{}",
            say(b"hello")
        );
    }

    /// The same fields read by serde_json into a `Value`: the reference the cursor must
    /// agree with.
    fn reference(b: &[u8]) -> Result<Line<'static>, LineProblem> {
        use serde_json::Value;
        let v: Value =
            serde_json::from_slice(b).map_err(|e| LineProblem::Malformed(e.to_string()))?;
        let bad = |f: &str| LineProblem::BadField(f.to_string());
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let text = |v: Option<&Value>| v.map(|v| leak(v.to_string()));
        let string = |v: Option<&Value>, f: &str| match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(Cow::Owned(s.clone()))),
            Some(_) => Err(bad(f)),
        };
        let boolean = |v: Option<&Value>, f: &str| match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(bad(f)),
        };
        let int = |v: Option<&Value>, f: &str| match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| bad(f)),
            Some(_) => Err(bad(f)),
        };
        let object = |v: Option<&Value>, f: &str| match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o.clone())),
            Some(_) => Err(bad(f)),
        };
        let Value::Object(top) = v else {
            return Err(bad("top"));
        };
        let message = match object(top.get("message"), "message")? {
            None => None,
            Some(m) => {
                let (content, last_block) = reference_content(m.get("content"));
                Some(Message {
                    id: text(m.get("id")),
                    model: string(m.get("model"), "model")?,
                    usage: match object(m.get("usage"), "usage")? {
                        None => None,
                        Some(u) => Some(Usage {
                            input_tokens: int(u.get("input_tokens"), "input")?,
                            output_tokens: int(u.get("output_tokens"), "output")?,
                            cache_creation_input_tokens: int(
                                u.get("cache_creation_input_tokens"),
                                "cc",
                            )?,
                            cache_read_input_tokens: int(u.get("cache_read_input_tokens"), "cr")?,
                            cache_creation: match object(u.get("cache_creation"), "cache_creation")?
                            {
                                None => None,
                                Some(c) => Some(CacheCreation {
                                    ephemeral_5m_input_tokens: int(
                                        c.get("ephemeral_5m_input_tokens"),
                                        "5m",
                                    )?,
                                    ephemeral_1h_input_tokens: int(
                                        c.get("ephemeral_1h_input_tokens"),
                                        "1h",
                                    )?,
                                }),
                            },
                            speed: string(u.get("speed"), "speed")?,
                            inference_geo: string(u.get("inference_geo"), "geo")?,
                            thinking_tokens: u
                                .get("output_tokens_details")
                                .and_then(|d| d.get("thinking_tokens"))
                                .and_then(Value::as_u64),
                        }),
                    },
                    content,
                    last_block,
                    content_hash: 0,
                })
            }
        };
        Ok(Line {
            timestamp: string(top.get("timestamp"), "timestamp")?,
            version: text(top.get("version")),
            session_id: text(top.get("sessionId")),
            is_sidechain: boolean(top.get("isSidechain"), "isSidechain")?,
            message,
            request_id: text(top.get("requestId")),
            cost_usd: match top.get("costUSD") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => n.as_f64(),
                Some(_) => return Err(bad("costUSD")),
            },
            is_api_error: boolean(top.get("isApiErrorMessage"), "isApiErrorMessage")?,
        })
    }

    /// The content blocks as serde_json decodes them, counted apart from the cursor:
    /// characters of each string as serde_json writes it back (the counting itself is
    /// `text_chars`'s, tested on its own), tool input as serde_json writes it compactly.
    fn reference_content(v: Option<&serde_json::Value>) -> (Content, Option<LastBlock>) {
        use crate::thinking::{THINKING_SIGNATURE, THINKING_TEXT, THINKING_UNKNOWN};
        use serde_json::Value;
        let mut c = Content::default();
        let chars = |s: &str| {
            let written = serde_json::to_string(s).unwrap();
            thinking::text_chars(&written.as_bytes()[1..written.len() - 1])
        };
        match v {
            Some(Value::String(s)) => {
                c.visible = chars(s);
                (c, Some(LastBlock::Other))
            }
            Some(Value::Array(blocks)) => {
                let mut last = None;
                for b in blocks {
                    let kind = b.get("type").and_then(Value::as_str);
                    let s = |k: &str| b.get(k).and_then(Value::as_str);
                    match kind {
                        Some("thinking") => {
                            match (s("thinking").filter(|t| !t.is_empty()), s("signature")) {
                                (Some(t), _) => {
                                    c.thinking += chars(t);
                                    c.flags |= THINKING_TEXT;
                                }
                                (None, Some(sig)) => {
                                    match thinking::signature_chars(sig.as_bytes()) {
                                        Some(n) => {
                                            c.thinking += n;
                                            c.flags |= THINKING_SIGNATURE;
                                        }
                                        None => c.flags |= THINKING_UNKNOWN,
                                    }
                                }
                                (None, None) => c.flags |= THINKING_UNKNOWN,
                            }
                        }
                        Some("redacted_thinking") => c.flags |= THINKING_UNKNOWN,
                        Some("text") => c.visible += s("text").map_or(0, chars),
                        Some("tool_use" | "server_tool_use") => {
                            c.visible += b
                                .get("input")
                                .map_or(0, |i| serde_json::to_string(i).unwrap().len() as u32)
                        }
                        _ => {}
                    }
                    last = Some(match kind {
                        Some("tool_use" | "server_tool_use") => LastBlock::ToolUse,
                        _ => LastBlock::Other,
                    });
                }
                (c, last)
            }
            Some(Value::Null) | None => (c, None),
            Some(_) => (c, None),
        }
    }

    /// Both readers, through the same finish: equal records, or both an error (of the same
    /// kind unless the line has both a type and a syntax problem: the reference parses
    /// the whole document before it looks at types).
    fn agree(line: &[u8]) {
        let trimmed = line.trim_ascii();
        let fast = parse_line(line);
        if trimmed.first() != Some(&b'{') || trimmed.last() != Some(&b'}') {
            return;
        }
        let Some(usage_at) = USAGE_KEY.find(trimmed) else {
            return;
        };
        let slow = reference(trimmed).and_then(|l| finish(l, trimmed, usage_at));
        let kind = |r: &Result<Option<Record<'_>>, LineProblem>| match r {
            Ok(_) => 0,
            Err(LineProblem::Malformed(_) | LineProblem::Encoding(_)) => 1,
            Err(LineProblem::BadField(_)) => 2,
        };
        match (&fast, &slow) {
            (Ok(a), Ok(b)) => {
                // The hash is of the bytes as written, which the reference does not keep.
                let a = a.as_ref().map(|r| Record {
                    content_hash: 0,
                    ..r.clone()
                });
                assert_eq!(&a, b, "{}", String::from_utf8_lossy(line))
            }
            (Err(_), Err(_)) => {}
            _ => assert_eq!(
                kind(&fast),
                kind(&slow),
                "{fast:?} vs {slow:?}: {}",
                String::from_utf8_lossy(line)
            ),
        }
    }

    #[test]
    fn the_cursor_reads_what_serde_reads() {
        let mut lines: Vec<Vec<u8>> = vec![LINE.as_bytes().to_vec()];
        let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/fixtures/claude-real/projects");
        let mut stack = vec![shared];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(text) = std::fs::read(&p) {
                    lines.extend(
                        text.split(|&b| b == b'\n')
                            .filter(|l| USAGE_KEY.find(l).is_some())
                            .map(<[u8]>::to_vec),
                    );
                }
            }
        }
        let mut checked = 0;
        for (i, l) in lines.iter().enumerate() {
            agree(l);
            // Mutations a damaged or foreign file might hold.
            let s = String::from_utf8_lossy(l);
            for (from, to) in [
                ("\"output_tokens\":", "\"output_tokens\":\"1\"+"),
                ("\"input_tokens\":", "\"input_tokens\": -"),
                (":", " : "),
                (",", " ,\t"),
                ("\"usage\":{", "\"usage\":["),
                ("\"message\":{", "\"message\":\"x\",\"m\":{"),
                ("\"isSidechain\":false", "\"isSidechain\":0"),
                ("\"requestId\":\"", "\"requestId\":null,\"r\":\""),
                ("}}", "}},\"costUSD\":1.5e-3"),
                ("\"model\":\"", "\"model\":\"\\u00e9"),
            ] {
                agree(s.replacen(from, to, 1).as_bytes());
            }
            for cut in [l.len() / 3, l.len() / 2, l.len().saturating_sub(2)] {
                let mut m = l[..cut].to_vec();
                m.push(b'}');
                agree(&m);
            }
            if i % 50 == 0 {
                for cut in 1..l.len() {
                    let mut m = l[..cut].to_vec();
                    m.push(b'}');
                    agree(&m);
                }
            }
            checked += 1;
        }
        assert!(checked >= 1);
    }

    const LINE: &str = r#"{"isSidechain":false,"message":{"model":"claude-opus-4-6","id":"msg_1","content":[{"type":"text","text":"hi"}],"usage":{"input_tokens":3,"cache_creation_input_tokens":8165,"cache_read_input_tokens":17842,"cache_creation":{"ephemeral_5m_input_tokens":8000,"ephemeral_1h_input_tokens":165},"output_tokens":9,"service_tier":"standard","inference_geo":"global"}},"requestId":"req_1","type":"assistant","timestamp":"2026-02-12T14:12:01.177Z"}"#;

    #[test]
    fn reads_claude_codes_shape() {
        let r = parse_line(LINE.as_bytes()).unwrap().unwrap();
        assert_eq!(
            r.tokens,
            TokenCounts {
                input: 3,
                output: 9,
                cache_creation: 8165,
                cache_read: 17842
            }
        );
        assert_eq!(r.cache_write_1h, 165);
        assert_eq!(r.model.as_deref(), Some("claude-opus-4-6"));
        assert_eq!(r.key, Some(dedup_key("msg_1", Some("req_1"))));
        assert!(r.canonical && !r.sidechain && !r.fast && !r.geo_us && !r.api_error);
    }

    #[test]
    fn lines_without_usage_are_skipped_unparsed() {
        assert_eq!(
            parse_line(br#"{"type":"user","message":{"content":"x"}}"#),
            Ok(None)
        );
        // Usage nested in a progress line is not the line's own usage.
        let nested = r#"{"type":"progress","data":{"message":{"message":{"usage":{"input_tokens":1,"output_tokens":1}}}},"timestamp":"2026-02-12T14:12:01.177Z"}"#;
        assert_eq!(parse_line(nested.as_bytes()), Ok(None));
        assert_eq!(parse_line(b"   "), Ok(None));
    }

    #[test]
    fn broken_lines_say_what_is_wrong() {
        let cut = &LINE[..LINE.len() - 40];
        assert!(matches!(
            parse_line(cut.as_bytes()),
            Err(LineProblem::Malformed(_))
        ));
        let cut_inside = format!("{}}}", &LINE[..LINE.find("output_tokens").unwrap()]);
        assert!(matches!(
            parse_line(cut_inside.as_bytes()),
            Err(LineProblem::Malformed(_))
        ));
        let bad = LINE.replace(r#""output_tokens":9"#, r#""output_tokens":"nine""#);
        let err = parse_line(bad.as_bytes()).unwrap_err();
        assert!(
            matches!(err, LineProblem::BadField(ref m) if m.contains("output_tokens") || m.contains("invalid type")),
            "{err}"
        );
        let no_ts = LINE.replace(r#","timestamp":"2026-02-12T14:12:01.177Z""#, "");
        assert!(
            parse_line(no_ts.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("timestamp")
        );
    }

    #[test]
    fn spaced_json_nulls_and_other_precisions_are_accepted_apart() {
        let spaced = r#"{ "message" : { "id" : "m", "model" : "claude-sonnet-4-5", "usage" : { "input_tokens" : 1, "output_tokens" : 2 } }, "requestId" : null, "timestamp" : "2026-02-12T14:12:01Z" }"#;
        let r = parse_line(spaced.as_bytes()).unwrap().unwrap();
        assert_eq!(r.key, Some(dedup_key("m", None)));
        assert_eq!(r.tokens.total(), 3);
        assert!(!r.canonical);
        // Each of these alone makes ccusage skip the line; redline counts it, apart.
        for (from, to) in [
            (r#""requestId":"req_1""#, r#""requestId":null"#),
            (r#""model":"claude-opus-4-6""#, r#""model": null"#),
            (r#""text":"hi""#, r#""text":"hi","id":null"#),
            (
                r#""cache_read_input_tokens":17842"#,
                r#""cache_read_input_tokens":null"#,
            ),
            ("14:12:01.177Z", "14:12:01.177123Z"),
            (
                r#""type":"assistant""#,
                r#""type":"assistant","version":"2.1""#,
            ),
            (
                r#""type":"assistant""#,
                r#""type":"assistant","sessionId":"""#,
            ),
            (r#""service_tier""#, r#""speed":"turbo","service_tier""#),
        ] {
            let l = LINE.replace(from, to);
            assert_ne!(l, LINE, "{to}");
            let r = parse_line(l.as_bytes()).unwrap().unwrap();
            assert!(!r.canonical, "{to}");
        }
        // And these ccusage reads too.
        for (from, to) in [
            (r#""isSidechain":false"#, r#""isSidechain":null"#),
            ("14:12:01.177Z", "14:12:01Z"),
            ("14:12:01.177Z", "15:12:01.177+01:00"),
            (
                r#""type":"assistant""#,
                r#""type":"assistant","version":"2.1.3-beta""#,
            ),
            (r#""service_tier""#, r#""speed":"standard","service_tier""#),
        ] {
            let l = LINE.replace(from, to);
            assert_ne!(l, LINE, "{to}");
            let r = parse_line(l.as_bytes()).unwrap().unwrap();
            assert!(r.canonical, "{to}");
            assert_eq!(
                r.ts_ms,
                parse_line(LINE.as_bytes()).unwrap().unwrap().ts_ms
                    - if to.contains("01Z") { 177 } else { 0 }
            );
        }
    }

    #[test]
    fn cache_split_replaces_the_flat_figure() {
        let l = LINE.replace(
            r#""cache_creation_input_tokens":8165"#,
            r#""cache_creation_input_tokens":1"#,
        );
        let r = parse_line(l.as_bytes()).unwrap().unwrap();
        assert_eq!((r.tokens.cache_creation, r.cache_write_1h), (8165, 165));
        // Without the split, the flat figure is all 5-minute writes.
        let flat = LINE.replace(
            r#","cache_creation":{"ephemeral_5m_input_tokens":8000,"ephemeral_1h_input_tokens":165}"#,
            "",
        );
        let r = parse_line(flat.as_bytes()).unwrap().unwrap();
        assert_eq!((r.tokens.cache_creation, r.cache_write_1h), (8165, 0));
    }

    #[test]
    fn usage_limit_reset_time_is_read() {
        let l = r#"{"message":{"id":"e","model":"<synthetic>","content":[{"type":"text","text":"Claude AI usage limit reached|1760000000"}],"usage":{"input_tokens":0,"output_tokens":0}},"isApiErrorMessage":true,"timestamp":"2026-02-12T14:12:01.177Z"}"#;
        let r = parse_line(l.as_bytes()).unwrap().unwrap();
        assert!(r.api_error);
        assert_eq!(r.limit_reset_s, Some(1_760_000_000));
    }

    #[test]
    fn fast_and_us_geo_flags() {
        let l = LINE.replace(
            r#""inference_geo":"global""#,
            r#""inference_geo":"us","speed":"fast""#,
        );
        let r = parse_line(l.as_bytes()).unwrap().unwrap();
        assert!(r.fast && r.geo_us);
    }
}
