//! One transcript line into the pieces of text [`crate::text`] counts, and the dedup that
//! keeps each piece once.
//!
//! Pieces are the `text` blocks of assistant responses (not thinking, not tool input) and
//! the user's own typed prompts (not tool results, not meta lines). Claude Code writes a
//! response as one line per content block under one `message.id` + `requestId`, may write
//! a block's line twice, and a resumed session replays earlier lines in a new file: a
//! piece is therefore known by its response's key (the accounting's dedup key) and a hash
//! of its text, and each key is counted the first time it is seen. Prompts are known by
//! their line's `uuid` and text. The scan reads files in sorted path order, so the copy
//! that counts (and so its session and project) is the one from the earliest file, as in
//! the accounting's tie-break. Only 8 bytes per piece are kept for the dedup; no text.
//!
//! Pure: no I/O and no clock; [`crate::textscan`] reads the files.

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use jiff::tz::TimeZone;
use memchr::memmem::Finder;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::record::dedup_key;
use crate::text::{Character, Counts, Place, Prepared, Side, Spark, Watch};
use crate::timestamp;

/// A piece of text of a line, with what places it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece<'a> {
    /// The dedup hash (response key and text, or prompt uuid and text).
    pub hash: u64,
    /// Whose text.
    pub side: Side,
    /// Milliseconds since the epoch.
    pub ts_ms: i64,
    /// The response's model (`""` for prompts).
    pub model: Cow<'a, str>,
    /// The text.
    pub text: Cow<'a, str>,
}

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Message<'a>>,
    #[serde(rename = "requestId", borrow, default)]
    request_id: Option<Cow<'a, str>>,
    #[serde(rename = "isSidechain", default)]
    sidechain: Option<bool>,
    #[serde(rename = "isMeta", default)]
    meta: Option<bool>,
    #[serde(rename = "isCompactSummary", default)]
    compact_summary: Option<bool>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    uuid: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<Content<'a>>,
}

/// `message.content`: a plain string (a typed prompt) or blocks.
enum Content<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<Block<'a>>),
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Content<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of content blocks")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Content::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Content::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Content::Text(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut blocks = Vec::new();
                while let Some(b) = seq.next_element::<Block<'a>>()? {
                    blocks.push(b);
                }
                Ok(Content::Blocks(blocks))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

static TEXT_BLOCK: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"text\""));
static TOOL_RESULT: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(b"\"type\":\"tool_result\""));

/// Prompts that are not the user's typing: a command's output, an interruption notice,
/// Claude Code's caveat before command output.
const NOT_TYPED: [&str; 5] = [
    "<local-command-",
    "<bash-std",
    "[Request interrupted",
    "Caveat: The messages below",
    "<command-stdout>",
];

/// The pieces of text of one line (none for most lines). `Err` for a line that is not
/// JSON.
pub fn pieces(line: &[u8]) -> Result<Vec<Piece<'_>>, String> {
    let trimmed = line.trim_ascii();
    // Cheap tests first: a line without a "text" key or string holds no text block, and a
    // line of tool results holds no prompt.
    if trimmed.is_empty() || TOOL_RESULT.find(trimmed).is_some() {
        return Ok(Vec::new());
    }
    let plain_prompt = memchr::memmem::find(trimmed, b"\"content\":\"").is_some();
    if TEXT_BLOCK.find(trimmed).is_none() && !plain_prompt {
        return Ok(Vec::new());
    }
    let l: Line<'_> = serde_json::from_slice(trimmed).map_err(|e| e.to_string())?;
    let (Some(kind), Some(message)) = (l.kind.as_deref(), l.message) else {
        return Ok(Vec::new());
    };
    let Some(content) = message.content else {
        return Ok(Vec::new());
    };
    let Some(ts_ms) = l
        .timestamp
        .as_deref()
        .and_then(timestamp::parse)
        .map(|p| p.ms)
    else {
        return Ok(Vec::new());
    };
    let sidechain = l.sidechain.unwrap_or(false);
    let texts: Vec<Cow<'_, str>> = match content {
        Content::Text(t) => vec![t],
        Content::Blocks(b) => b
            .into_iter()
            .filter(|b| b.kind.as_deref() == Some("text"))
            .filter_map(|b| b.text)
            .collect(),
    };
    let mut out = Vec::new();
    match kind {
        "assistant" => {
            let model = message.model.unwrap_or(Cow::Borrowed(""));
            if model == "<synthetic>" {
                return Ok(out);
            }
            // The accounting's key; without an id, the line's uuid stands in.
            let key = match message.id.as_deref() {
                Some(id) => dedup_key(id, l.request_id.as_deref()),
                None => hash(&[b"line", l.uuid.as_deref().unwrap_or("").as_bytes()]),
            };
            for text in texts {
                if text.trim().is_empty() {
                    continue;
                }
                out.push(Piece {
                    hash: hash(&[&key.to_le_bytes(), text.as_bytes()]),
                    side: if sidechain {
                        Side::Subagent
                    } else {
                        Side::Main
                    },
                    ts_ms,
                    model: model.clone(),
                    text,
                });
            }
        }
        "user" if !sidechain && !l.meta.unwrap_or(false) && !l.compact_summary.unwrap_or(false) => {
            let uuid = l.uuid.as_deref().unwrap_or("");
            for text in texts {
                let t = text.trim_start();
                if t.is_empty() || NOT_TYPED.iter().any(|p| t.starts_with(p)) {
                    continue;
                }
                out.push(Piece {
                    hash: hash(&[b"user", uuid.as_bytes(), text.as_bytes()]),
                    side: Side::User,
                    ts_ms,
                    model: Cow::Borrowed(""),
                    text,
                });
            }
        }
        _ => {}
    }
    Ok(out)
}

fn hash(parts: &[&[u8]]) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.digest()
}

/// What the counter saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TextStats {
    /// Pieces counted.
    pub pieces: u64,
    /// Copies passed over as already counted (streamed copies, replays).
    pub duplicates: u64,
    /// Pieces before the first day asked for (not counted).
    pub before_range: u64,
    /// Lines that were not JSON.
    pub bad_lines: u64,
}

/// A piece made ready to count: placed in its day and worked out ([`Prepared`]), which
/// the scan's workers do in parallel. Holds no text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ready {
    /// The dedup hash.
    pub hash: u64,
    /// Whose text.
    pub side: Side,
    /// Milliseconds since the epoch.
    pub ts_ms: i64,
    /// The local day, `YYYY-MM-DD`.
    pub day: String,
    /// The model (`""` for prompts).
    pub model: String,
    /// What it adds.
    pub prepared: Prepared,
}

/// Makes pieces [`Ready`]: the watch list and the time zone, shareable with workers.
#[derive(Clone, Debug)]
pub struct Preparer {
    watch: Watch,
    tz: TimeZone,
}

impl Preparer {
    /// The piece made ready to count.
    pub fn ready(&self, piece: &Piece<'_>) -> Ready {
        Ready {
            hash: piece.hash,
            side: piece.side,
            ts_ms: piece.ts_ms,
            day: jiff::Timestamp::from_millisecond(piece.ts_ms)
                .map(|t| self.tz.to_datetime(t).date().to_string())
                .unwrap_or_default(),
            model: piece.model.to_string(),
            prepared: Prepared::new(&self.watch, piece.side, &piece.text),
        }
    }
}

/// The character statistics kept up to date piece by piece, each piece once.
#[derive(Clone, Debug)]
pub struct TextCounter {
    /// What was counted.
    pub character: Character,
    /// What was seen.
    pub stats: TextStats,
    /// The pieces counted, by their hash (already a hash: not hashed again).
    seen: crate::hashed::KeySet,
    preparer: Preparer,
    since_ms: i64,
}

/// What one new piece added, for a reader that keeps running totals (the daemon's
/// counters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Added {
    /// Whose text.
    pub side: Side,
    /// The model.
    pub model: String,
    /// The piece's counts.
    pub counts: Counts,
    /// The watch list's counts in it (empty for prompts).
    pub watch: Vec<u64>,
}

impl TextCounter {
    /// Counts pieces from `since_ms` on (`i64::MIN` for all), days in `tz`.
    pub fn new(watch: Watch, tz: TimeZone, since_ms: i64) -> TextCounter {
        TextCounter::with_spark(watch, tz, since_ms, None)
    }

    /// As [`TextCounter::new`], keeping a sparkline over `spark` for each top phrase.
    pub fn with_spark(
        watch: Watch,
        tz: TimeZone,
        since_ms: i64,
        spark: Option<Spark>,
    ) -> TextCounter {
        TextCounter {
            character: Character::with_spark(watch.clone(), spark),
            stats: TextStats::default(),
            seen: crate::hashed::KeySet::default(),
            preparer: Preparer { watch, tz },
            since_ms,
        }
    }

    /// What makes pieces ready for [`TextCounter::add_ready`], for other threads.
    pub fn preparer(&self) -> Preparer {
        self.preparer.clone()
    }

    /// Counts `piece` of a file of `project` and `session`, unless a copy of it was
    /// counted before.
    pub fn add(&mut self, piece: &Piece<'_>, project: &str, session: &str) -> Option<Added> {
        // The hash first: a copy already counted is not worked out again.
        if self.seen.contains(&piece.hash) {
            self.stats.duplicates += 1;
            return None;
        }
        let ready = self.preparer.ready(piece);
        self.add_ready(&ready, project, session)
    }

    /// Counts a [`Ready`] piece of a file of `project` and `session`, unless a copy of it
    /// was counted before.
    pub fn add_ready(&mut self, r: &Ready, project: &str, session: &str) -> Option<Added> {
        if !self.seen.insert(r.hash) {
            self.stats.duplicates += 1;
            return None;
        }
        if r.ts_ms < self.since_ms {
            self.stats.before_range += 1;
            return None;
        }
        self.stats.pieces += 1;
        let place = Place {
            side: r.side,
            day: &r.day,
            model: &r.model,
            project,
            session,
        };
        self.character.add_prepared(place, &r.prepared);
        Some(Added {
            side: r.side,
            model: r.model.clone(),
            counts: r.prepared.counts,
            watch: r.prepared.watch.clone(),
        })
    }

    /// Reads `line` of a file of `project` and `session` and counts its new pieces.
    pub fn ingest(&mut self, line: &[u8], project: &str, session: &str) -> Vec<Added> {
        match pieces(line) {
            Ok(ps) => ps
                .iter()
                .filter_map(|p| self.add(p, project, session))
                .collect(),
            Err(_) => {
                self.stats.bad_lines += 1;
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::DEFAULT_WATCH;

    fn assistant(id: &str, req: &str, block: &str, sidechain: bool) -> String {
        format!(
            r#"{{"type":"assistant","isSidechain":{sidechain},"requestId":"{req}","timestamp":"2026-03-01T10:00:00.000Z","uuid":"u-{id}","message":{{"id":"{id}","model":"claude-opus-4-8","content":[{block}],"usage":{{"input_tokens":1,"output_tokens":2}}}}}}"#
        )
    }

    fn text_block(t: &str) -> String {
        format!(r#"{{"type":"text","text":"{t}"}}"#)
    }

    fn counter() -> TextCounter {
        TextCounter::new(Watch::new(&DEFAULT_WATCH), TimeZone::UTC, i64::MIN)
    }

    #[test]
    fn a_streamed_copy_and_a_replay_count_once() {
        let mut c = counter();
        let thinking = r#"{"type":"thinking","thinking":"hmm \u2014 no"}"#;
        let tool =
            r#"{"type":"tool_use","id":"t","name":"Bash","input":{"command":"echo \u2014"}}"#;
        let lines = [
            assistant("m1", "r1", thinking, false),
            assistant(
                "m1",
                "r1",
                &text_block("You\\u2019re absolutely right \\u2014 sorry."),
                false,
            ),
            // The same block's line written again, then the tool call.
            assistant(
                "m1",
                "r1",
                &text_block("You\\u2019re absolutely right \\u2014 sorry."),
                false,
            ),
            assistant("m1", "r1", tool, false),
        ];
        for l in &lines {
            c.ingest(l.as_bytes(), "p", "s1");
        }
        // A resumed session replays the response in another file.
        c.ingest(lines[1].as_bytes(), "p", "s2");
        let main = c.character.totals[&Side::Main];
        assert_eq!((main.em_dashes, main.pieces, main.words), (1, 1, 5));
        assert_eq!(c.stats.duplicates, 2);
        assert_eq!(c.character.watch_counts[0], 1);
        assert_eq!(c.character.by_session.len(), 1);
        // Another response with the same words counts.
        c.ingest(
            assistant(
                "m2",
                "r2",
                &text_block("You\\u2019re absolutely right \\u2014 sorry."),
                true,
            )
            .as_bytes(),
            "p",
            "s1",
        );
        assert_eq!(c.character.totals[&Side::Subagent].em_dashes, 1);
        assert_eq!(c.character.watch_counts[0], 2);
    }

    #[test]
    fn prompts_are_typed_text_only() {
        let mut c = counter();
        let user = |content: &str, extra: &str| {
            format!(
                r#"{{"type":"user","uuid":"u1","timestamp":"2026-03-01T10:00:00Z"{extra},"message":{{"role":"user","content":{content}}}}}"#
            )
        };
        c.ingest(user(r#""fix it \u2014 now""#, "").as_bytes(), "p", "s");
        c.ingest(user(r#""fix it \u2014 now""#, "").as_bytes(), "p", "s");
        c.ingest(
            user(
                r#"[{"type":"tool_result","tool_use_id":"t","content":"a \u2014 b"}]"#,
                "",
            )
            .as_bytes(),
            "p",
            "s",
        );
        c.ingest(
            user(r#""meta \u2014""#, r#","isMeta":true"#).as_bytes(),
            "p",
            "s",
        );
        c.ingest(
            user(
                r#""<local-command-stdout>x \u2014</local-command-stdout>""#,
                "",
            )
            .as_bytes(),
            "p",
            "s",
        );
        let u = c.character.totals[&Side::User];
        assert_eq!((u.em_dashes, u.pieces, u.words), (1, 1, 4));
        // Prompts feed no phrases.
        assert!(c.character.phrases.is_empty());
    }

    #[test]
    fn synthetic_lines_and_bad_lines() {
        let mut c = counter();
        let synthetic = assistant(
            "m3",
            "r3",
            &text_block("No response \\u2014 requested."),
            false,
        )
        .replace("claude-opus-4-8", "<synthetic>");
        c.ingest(synthetic.as_bytes(), "p", "s");
        c.ingest(br#"{"type":"assistant","text" oops"#, "p", "s");
        assert!(c.character.totals.is_empty());
        assert_eq!(c.stats.bad_lines, 1);
    }
}
