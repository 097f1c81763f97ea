//! How many of a response's output tokens were thinking: TEMP's basis.
//!
//! A usage line has one `output_tokens` for the whole response, thinking included. Where
//! the line carries `output_tokens_details.thinking_tokens`, that is the figure (exact).
//! Otherwise the output is split by character share between the thinking, the visible
//! text and the tool-use input of the response's content blocks (an estimate). Since
//! Claude Code 2.1.69 a `thinking` block's text is usually empty and only its
//! `signature` remains; the signature is base64 of a message that carries the thinking
//! encrypted, so its length grows with the hidden text. Fitted by least squares on the
//! 111 thinking blocks with text in `fixtures/claude-real2/` (text 32 to 1,967
//! characters), a signature is 242.5 + 1.2864 characters per thinking character long,
//! within -137..+50 characters of the line; the thinking is estimated from that. A
//! signature that is not plausible base64 of such a length (`[REDACTED_SIGNATURE]`), or
//! a `redacted_thinking` block, says nothing: such a response is left out of the ratio.
//!
//! Claude Code writes a response as one line per content block, so the counts are added
//! up over the lines of one copy of the response (see [`crate::ledger`] for which copy).

use crate::json::{Cursor, JsonError};

/// Signature length with no thinking text, in characters (the fit's intercept).
pub const SIGNATURE_BASE: f64 = 242.5;
/// Signature characters per thinking character (the fit's slope).
pub const SIGNATURE_PER_CHAR: f64 = 1.2864;
/// The shortest signature read as plausible: the fit's intercept, rounded up to whole
/// base64 quads. A shorter one cannot hold the fixed part of the message.
const SIGNATURE_MIN: usize = 244;

/// A thinking block with text: its characters are counted.
pub const THINKING_TEXT: u8 = 1;
/// A thinking block without text: its characters are estimated from the signature.
pub const THINKING_SIGNATURE: u8 = 2;
/// A thinking block that says nothing of its size (a redacted signature, a
/// `redacted_thinking` block): the response is left out of the ratio.
pub const THINKING_UNKNOWN: u8 = 4;
/// `output_tokens_details.thinking_tokens` was on the line: the thinking figure is
/// tokens, exact.
pub const THINKING_EXACT: u8 = 8;
/// Set by a reader on the copy it offers when that line continues the run of lines that
/// holds the response's first copy (see [`crate::ledger::Ledger::offer`]); never kept.
pub const CONTINUES: u8 = 128;

/// What a response's content blocks say about its thinking: counts of characters (or,
/// with [`THINKING_EXACT`], thinking tokens), and the `THINKING_*` flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Content {
    /// Thinking characters (counted or estimated), or exact thinking tokens.
    pub thinking: u32,
    /// Visible characters: text and tool-use input.
    pub visible: u32,
    /// `THINKING_*` flags.
    pub flags: u8,
}

impl Content {
    /// Adds another line's blocks of the same copy.
    pub fn add(&mut self, other: &Content) {
        if self.flags & THINKING_EXACT != 0 {
            return;
        }
        self.thinking = self.thinking.saturating_add(other.thinking);
        self.visible = self.visible.saturating_add(other.visible);
        self.flags |= other.flags & !CONTINUES;
    }

    /// The exact figure a usage line carried, which outranks any count (the largest
    /// copy's, as for tokens).
    pub fn set_exact(&mut self, tokens: u32) {
        if self.flags & THINKING_EXACT == 0 || tokens > self.thinking {
            self.thinking = tokens;
        }
        self.flags |= THINKING_EXACT;
    }

    /// The thinking tokens of a response with `output` output tokens, and how they were
    /// found; `None` when the blocks say nothing of it.
    pub fn thinking_tokens(&self, output: u64) -> Option<(f64, Basis)> {
        if self.flags & THINKING_EXACT != 0 {
            return Some((f64::from(self.thinking).min(output as f64), Basis::Exact));
        }
        if self.flags & THINKING_UNKNOWN != 0 {
            return None;
        }
        if self.flags & (THINKING_TEXT | THINKING_SIGNATURE) == 0 {
            // No thinking block at all: no thinking, for certain.
            return Some((0.0, Basis::Exact));
        }
        let (t, v) = (f64::from(self.thinking), f64::from(self.visible));
        let share = if t + v > 0.0 { t / (t + v) } else { 0.0 };
        Some((output as f64 * share, Basis::Estimate))
    }
}

/// How a thinking figure was found (`/usage`'s `thinking.basis`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Basis {
    /// From `output_tokens_details.thinking_tokens`, or no thinking block at all.
    Exact,
    /// From the character share of the content blocks.
    Estimate,
    /// Nothing known: every response in view was left out.
    Unknown,
}

impl Basis {
    /// The word on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Basis::Exact => "exact",
            Basis::Estimate => "estimate",
            Basis::Unknown => "unknown",
        }
    }
}

/// Thinking tokens over output tokens over a set of responses.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Ratio {
    /// Thinking tokens of the responses whose thinking is known.
    pub thinking: f64,
    /// Their output tokens.
    pub output: u64,
    /// Responses left out (thinking unknown).
    pub left_out: u64,
    /// The least certain basis among those counted.
    pub basis: Option<Basis>,
}

impl Ratio {
    /// Adds one response with `output` output tokens, whose thinking is `thinking` (see
    /// [`Content::thinking_tokens`]); one whose thinking is unknown is left out, and
    /// counted as such if it wrote anything.
    pub fn add(&mut self, thinking: Option<(f64, Basis)>, output: u64) {
        match thinking {
            Some((t, basis)) => {
                self.thinking += t;
                self.output += output;
                self.basis = Some(self.basis.map_or(basis, |b| b.max(basis)));
            }
            None if output > 0 => self.left_out += 1,
            None => {}
        }
    }

    /// Adds another set of responses.
    pub fn merge(&mut self, o: &Ratio) {
        self.thinking += o.thinking;
        self.output += o.output;
        self.left_out += o.left_out;
        self.basis = match (self.basis, o.basis) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// The thinking tokens, rounded, when any response's thinking was known.
    pub fn tokens(&self) -> Option<u64> {
        self.basis.map(|_| self.thinking.round() as u64)
    }

    /// The ratio, 0..1; `None` without output of known thinking.
    pub fn value(&self) -> Option<f64> {
        (self.output > 0).then(|| (self.thinking / self.output as f64).clamp(0.0, 1.0))
    }

    /// How it was found: `unknown` when responses were seen but none could be counted.
    pub fn basis(&self) -> Option<Basis> {
        match self.basis {
            Some(b) => Some(b),
            None if self.left_out > 0 => Some(Basis::Unknown),
            None => None,
        }
    }
}

/// Characters in a JSON string's raw text (as written between its quotes): UTF-8
/// sequences count once, an escape (`\n`, `\u00e9`) as the one character it stands for.
/// Counted in straight passes the compiler turns into vector code, which reads an
/// escaped backslash (`\\`) as none rather than one: a share of characters does not
/// notice.
pub fn text_chars(raw: &[u8]) -> u32 {
    // Bytes that start a UTF-8 sequence (not 0x80..=0xBF continuation bytes).
    let starts = count(raw, |b| (b as i8) >= -0x40);
    let backslashes = count(raw, |b| b == b'\\');
    let n = if backslashes == 0 {
        starts
    } else {
        // An escape is a backslash and one more character; `\uXXXX` four more. A `u`
        // after a backslash is such an escape.
        let after = raw.get(1..).unwrap_or_default();
        let unicode = raw
            .chunks(255)
            .zip(after.chunks(255))
            .map(|(a, b)| {
                a.iter().zip(b).fold(0u8, |n, (&x, &y)| {
                    n.wrapping_add(u8::from(x == b'\\' && y == b'u'))
                }) as usize
            })
            .sum::<usize>();
        starts.saturating_sub(backslashes + 4 * unicode)
    };
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// How many bytes of `raw` pass `f`: counted in 255-byte stretches into a byte, the shape
/// the compiler turns into a few vector instructions a stretch.
fn count(raw: &[u8], f: impl Fn(u8) -> bool) -> usize {
    raw.chunks(255)
        .map(|c| c.iter().fold(0u8, |n, &b| n.wrapping_add(u8::from(f(b)))) as usize)
        .sum()
}

/// The thinking characters a signature stands for; `None` when it is not plausible
/// base64 of a signature (too short, not whole quads, other characters).
pub fn signature_chars(raw: &[u8]) -> Option<u32> {
    let plausible = raw.len() >= SIGNATURE_MIN
        && raw.len().is_multiple_of(4)
        && raw
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
    if !plausible {
        return None;
    }
    let chars = ((raw.len() as f64 - SIGNATURE_BASE) / SIGNATURE_PER_CHAR).max(0.0);
    Some(chars.round() as u32)
}

/// The kind of a message's last content block: what the turn rule needs of an assistant
/// line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LastBlock {
    /// A `tool_use` (or `server_tool_use`): a tool runs next.
    ToolUse,
    /// Anything else.
    Other,
}

/// Reads an assistant message's `content` (the cursor at its value). Odd shapes (a
/// string, blocks that are not objects, fields of other types) are read as far as they
/// make sense and never make the line unreadable; only broken JSON does.
pub fn read_content(c: &mut Cursor<'_>) -> Result<(Content, Option<LastBlock>), JsonError> {
    let mut content = Content::default();
    let mut last = None;
    if let Some(text) = peek_string(c)? {
        content.visible = text_chars(text);
        return Ok((content, Some(LastBlock::Other)));
    }
    c.items_or_skip(|c| {
        let Block {
            kind,
            text,
            thinking,
            signature,
            input,
        } = read_block(c)?;
        match kind {
            Some(b"thinking") => match (thinking.filter(|t| !t.is_empty()), signature) {
                (Some(t), _) => {
                    content.thinking = content.thinking.saturating_add(text_chars(t));
                    content.flags |= THINKING_TEXT;
                }
                (None, Some(sig)) => match signature_chars(sig) {
                    Some(n) => {
                        content.thinking = content.thinking.saturating_add(n);
                        content.flags |= THINKING_SIGNATURE;
                    }
                    None => content.flags |= THINKING_UNKNOWN,
                },
                (None, None) => content.flags |= THINKING_UNKNOWN,
            },
            Some(b"redacted_thinking") => content.flags |= THINKING_UNKNOWN,
            Some(b"text") => {
                content.visible = content.visible.saturating_add(text.map_or(0, text_chars));
            }
            Some(b"tool_use" | b"server_tool_use") => {
                content.visible = content
                    .visible
                    .saturating_add(u32::try_from(input).unwrap_or(u32::MAX));
            }
            _ => {}
        }
        last = Some(match kind {
            Some(b"tool_use" | b"server_tool_use") => LastBlock::ToolUse,
            _ => LastBlock::Other,
        });
        Ok(())
    })?;
    Ok((content, last))
}

/// The fields of a content block that redline reads, as written (strings between their
/// quotes); fields of other types are stepped over as absent.
#[derive(Default)]
pub(crate) struct Block<'a> {
    /// `type`.
    pub(crate) kind: Option<&'a [u8]>,
    /// `text`.
    pub(crate) text: Option<&'a [u8]>,
    /// `thinking`.
    pub(crate) thinking: Option<&'a [u8]>,
    /// `signature`.
    pub(crate) signature: Option<&'a [u8]>,
    /// How many bytes `input` takes as written.
    pub(crate) input: usize,
}

/// Reads one content block (the cursor at its value); anything but an object is an empty
/// block.
pub(crate) fn read_block<'a>(c: &mut Cursor<'a>) -> Result<Block<'a>, JsonError> {
    let mut b = Block::default();
    c.object_or_skip(|key, c| {
        match key {
            b"type" => b.kind = c.str_or_skip()?,
            b"text" => b.text = c.str_or_skip()?,
            b"thinking" => b.thinking = c.str_or_skip()?,
            b"signature" => b.signature = c.str_or_skip()?,
            b"input" => b.input = c.skip_len()?,
            _ => c.skip()?,
        }
        Ok(())
    })?;
    Ok(b)
}

/// A string value's raw bytes, consumed; `None` (nothing consumed) for another type.
fn peek_string<'a>(c: &mut Cursor<'a>) -> Result<Option<&'a [u8]>, JsonError> {
    if c.peek_byte() == Some(b'"') {
        return c.str_or_skip();
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> (Content, Option<LastBlock>) {
        let mut c = Cursor::new(json.as_bytes());
        read_content(&mut c).unwrap()
    }

    #[test]
    fn characters_count_as_written() {
        assert_eq!(text_chars(b"abc"), 3);
        assert_eq!(text_chars(br"a\nb"), 3);
        assert_eq!(text_chars(br"caf\u00e9"), 4);
        assert_eq!(text_chars("café".as_bytes()), 4);
        assert_eq!(text_chars(br#"say \"hi\""#), 8);
        assert_eq!(
            text_chars(br"a\\b"),
            2,
            "an escaped backslash is read as none"
        );
        assert_eq!(text_chars(b""), 0);
    }

    #[test]
    fn signatures_by_length_and_shape() {
        let sig = |n: usize| "A".repeat(n);
        assert_eq!(signature_chars(b"[REDACTED_SIGNATURE]"), None);
        assert_eq!(signature_chars(sig(240).as_bytes()), None);
        assert_eq!(
            signature_chars(sig(246).as_bytes()),
            None,
            "not whole quads"
        );
        assert_eq!(signature_chars(sig(244).as_bytes()), Some(1));
        // 276 characters stood for 32 of text in the fixtures.
        assert_eq!(signature_chars(sig(276).as_bytes()), Some(26));
        // 2,636 for 1,967.
        assert_eq!(signature_chars(sig(2636).as_bytes()), Some(1861));
        let mut bad = sig(400);
        bad.replace_range(100..101, "_");
        assert_eq!(signature_chars(bad.as_bytes()), None);
    }

    #[test]
    fn blocks_of_each_kind() {
        let (c, last) = read(r#"[{"type":"thinking","thinking":"abcd","signature":"x"}]"#);
        assert_eq!((c.thinking, c.visible, c.flags), (4, 0, THINKING_TEXT));
        assert_eq!(last, Some(LastBlock::Other));
        let sig = "A".repeat(500);
        let (c, _) = read(&format!(
            r#"[{{"type":"thinking","thinking":"","signature":"{sig}"}}]"#
        ));
        assert_eq!((c.thinking, c.flags), (200, THINKING_SIGNATURE));
        let (c, _) =
            read(r#"[{"type":"thinking","thinking":"","signature":"[REDACTED_SIGNATURE]"}]"#);
        assert_eq!(c.flags, THINKING_UNKNOWN);
        let (c, last) = read(
            r#"[{"type":"text","text":"hello"},{"type":"tool_use","id":"t","name":"Bash","input":{"command":"ls"}}]"#,
        );
        assert_eq!((c.thinking, c.visible, c.flags), (0, 5 + 16, 0));
        assert_eq!(last, Some(LastBlock::ToolUse));
        let (c, _) = read(r#"[{"type":"redacted_thinking","data":"zzz"}]"#);
        assert_eq!(c.flags, THINKING_UNKNOWN);
        // Odd shapes read leniently.
        let (c, last) = read(r#""plain text""#);
        assert_eq!((c.visible, last), (10, Some(LastBlock::Other)));
        let (c, last) = read(r#"[1, null, {"type":7,"text":["x"]}]"#);
        assert_eq!((c, last), (Content::default(), Some(LastBlock::Other)));
        let (c, last) = read("null");
        assert_eq!((c, last), (Content::default(), None));
    }

    #[test]
    fn splitting_the_output() {
        let c = Content {
            thinking: 300,
            visible: 100,
            flags: THINKING_TEXT,
        };
        assert_eq!(c.thinking_tokens(400), Some((300.0, Basis::Estimate)));
        let none = Content::default();
        assert_eq!(none.thinking_tokens(400), Some((0.0, Basis::Exact)));
        let unknown = Content {
            flags: THINKING_UNKNOWN | THINKING_TEXT,
            thinking: 5,
            visible: 5,
        };
        assert_eq!(unknown.thinking_tokens(400), None);
        let mut exact = c;
        exact.set_exact(120);
        exact.add(&Content {
            thinking: 1000,
            visible: 0,
            flags: THINKING_TEXT,
        });
        assert_eq!(exact.thinking_tokens(400), Some((120.0, Basis::Exact)));
        let mut r = Ratio::default();
        r.add(c.thinking_tokens(400), 400);
        r.add(none.thinking_tokens(600), 600);
        r.add(unknown.thinking_tokens(1_000_000), 1_000_000);
        r.add(None, 0);
        assert_eq!(r.value(), Some(0.3));
        assert_eq!((r.basis(), r.left_out), (Some(Basis::Estimate), 1));
        assert_eq!(r.tokens(), Some(300));
        let mut only_unknown = Ratio::default();
        only_unknown.add(unknown.thinking_tokens(10), 10);
        assert_eq!(only_unknown.tokens(), None);
        let mut both = r;
        both.merge(&only_unknown);
        assert_eq!(
            (both.left_out, both.basis(), both.value()),
            (2, Some(Basis::Estimate), Some(0.3))
        );
        assert_eq!(
            (only_unknown.value(), only_unknown.basis()),
            (None, Some(Basis::Unknown))
        );
        assert_eq!(Ratio::default().basis(), None);
    }
}
