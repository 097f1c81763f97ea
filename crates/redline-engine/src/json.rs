//! A small JSON cursor for one transcript line: it walks an object's members, reads the
//! few values accounting needs and steps over everything else without decoding it.
//!
//! A general deserializer spends most of its time on a usage line identifying keys and
//! validating text that is thrown away (message content, tool input). This cursor checks
//! the grammar of what it skips (so a cut-off or garbled line is still an error) but
//! does not decode skipped strings: it finds their closing quote eight bytes at a time,
//! then with `memchr2` once a string is long.

use std::borrow::Cow;

/// Deepest nesting the cursor follows before calling a line malformed.
const MAX_DEPTH: u32 = 256;

/// What was wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset in the line.
    pub at: usize,
    /// What kind of problem.
    pub kind: ErrorKind,
    /// Said for a person.
    pub what: String,
}

/// Kinds of [`JsonError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The line ends before the JSON does.
    Eof,
    /// Not JSON.
    Syntax,
    /// JSON, but a value read has the wrong type.
    Type,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at column {}", self.what, self.at + 1)
    }
}

/// A position in one line of JSON.
#[derive(Clone)]
pub struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
    depth: u32,
}

type R<T> = Result<T, JsonError>;

impl<'a> Cursor<'a> {
    /// A cursor at the start of `b`.
    pub fn new(b: &'a [u8]) -> Cursor<'a> {
        Cursor { b, i: 0, depth: 0 }
    }

    fn err(&self, kind: ErrorKind, what: impl Into<String>) -> JsonError {
        let kind = if self.i >= self.b.len() && kind == ErrorKind::Syntax {
            ErrorKind::Eof
        } else {
            kind
        };
        JsonError {
            at: self.i,
            kind,
            what: what.into(),
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> R<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(ErrorKind::Syntax, format!("expected '{}'", c as char)))
        }
    }

    /// After the value read last: only whitespace may follow.
    pub fn end(&mut self) -> R<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.err(ErrorKind::Syntax, "trailing characters after the object")),
        }
    }

    /// Walks the object at the cursor, calling `f(key, cursor)` for each member; `f` must
    /// read or skip the value. Keys are handed over raw (escapes not decoded).
    pub fn object(&mut self, mut f: impl FnMut(&'a [u8], &mut Cursor<'a>) -> R<()>) -> R<()> {
        self.sequence(b'{', b'}', |c| {
            if c.peek() != Some(b'"') {
                return Err(c.err(ErrorKind::Syntax, "expected a key"));
            }
            let key = c.raw_str()?;
            c.expect(b':')?;
            f(key, c)
        })
    }

    fn array(&mut self) -> R<()> {
        self.sequence(b'[', b']', Cursor::skip)
    }

    /// `open`, then items separated by commas, each read by `item`, then `close`.
    fn sequence(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Cursor<'a>) -> R<()>,
    ) -> R<()> {
        self.expect(open)?;
        self.enter()?;
        if self.peek() == Some(close) {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            item(self)?;
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => {
                    let what = format!("expected ',' or '{}'", close as char);
                    return Err(self.err(ErrorKind::Syntax, what));
                }
            }
        }
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(ErrorKind::Syntax, "nested too deeply"));
        }
        Ok(())
    }

    /// The text between the quotes of the string at the cursor, escapes as written.
    fn raw_str(&mut self) -> R<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.i;
        loop {
            match quote_or_backslash(&self.b[self.i..]) {
                None => {
                    self.i = self.b.len();
                    return Err(self.err(ErrorKind::Eof, "unterminated string"));
                }
                Some(k) if self.b[self.i + k] == b'\\' => {
                    self.i += k + 2;
                    if self.i > self.b.len() {
                        self.i = self.b.len();
                        return Err(self.err(ErrorKind::Eof, "unterminated string"));
                    }
                }
                Some(k) => {
                    let end = self.i + k;
                    self.i = end + 1;
                    return Ok(&self.b[start..end]);
                }
            }
        }
    }

    /// Steps over one value of any kind, checking its grammar.
    pub fn skip(&mut self) -> R<()> {
        match self.peek() {
            Some(b'"') => self.raw_str().map(|_| ()),
            Some(b'{') => self.object(|_, c| c.skip()),
            Some(b'[') => self.array(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number().map(|_| ()),
            Some(c) => Err(self.err(
                ErrorKind::Syntax,
                format!("unexpected '{}'", c.escape_ascii()),
            )),
            None => Err(self.err(ErrorKind::Eof, "expected a value")),
        }
    }

    /// The JSON text of the value at the cursor, stepped over.
    pub fn raw_value(&mut self) -> R<&'a str> {
        self.ws();
        let start = self.i;
        self.skip()?;
        // Only ASCII structure was matched at both ends; the slice is whole characters.
        std::str::from_utf8(&self.b[start..self.i]).map_err(|_| JsonError {
            at: start,
            kind: ErrorKind::Syntax,
            what: "invalid UTF-8".into(),
        })
    }

    fn literal(&mut self, word: &[u8]) -> R<()> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(())
        } else if word.starts_with(&self.b[self.i..]) {
            self.i = self.b.len();
            Err(self.err(ErrorKind::Eof, "cut off inside a literal"))
        } else {
            Err(self.err(ErrorKind::Syntax, "unknown literal"))
        }
    }

    /// The text of the number at the cursor: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> R<&'a [u8]> {
        let start = self.i;
        let digits = |c: &mut Cursor<'a>| {
            let from = c.i;
            while c.b.get(c.i).is_some_and(u8::is_ascii_digit) {
                c.i += 1;
            }
            c.i - from
        };
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        let n = digits(self);
        if n == 0 || (n > 1 && self.b[int_start] == b'0') {
            return Err(self.err(ErrorKind::Syntax, "invalid number"));
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(self.err(ErrorKind::Syntax, "invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.b.get(self.i) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(self.err(ErrorKind::Syntax, "invalid number"));
            }
        }
        Ok(&self.b[start..self.i])
    }

    /// `null` at the cursor: consumed, `true`.
    fn take_null(&mut self) -> R<bool> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// The text of a number and where it starts, or `None` for `null`; anything else is
    /// a type error saying `wanted`.
    fn opt_number(&mut self, field: &str, wanted: &str) -> R<Option<(usize, &'a [u8])>> {
        if self.take_null()? {
            return Ok(None);
        }
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {
                let at = self.i;
                Ok(Some((at, self.number()?)))
            }
            _ => Err(self.type_error(field, wanted)),
        }
    }

    /// A whole non-negative number, or `None` for `null`.
    pub fn opt_u64(&mut self, field: &str) -> R<Option<u64>> {
        let Some((at, text)) = self.opt_number(field, "a whole number")? else {
            return Ok(None);
        };
        // `number` matched the grammar: only digits, with no fraction or exponent, make a
        // whole number.
        text.iter()
            .try_fold(0u64, |n, &d| {
                if d.is_ascii_digit() {
                    n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                } else {
                    None
                }
            })
            .map(Some)
            .ok_or_else(|| JsonError {
                at,
                kind: ErrorKind::Type,
                what: format!(
                    "{field}: expected a whole number, found {}",
                    text.escape_ascii()
                ),
            })
    }

    /// A number, or `None` for `null`. Parsed by serde_json, so the value is the one
    /// ccusage reads to the last bit.
    pub fn opt_f64(&mut self, field: &str) -> R<Option<f64>> {
        let Some((at, text)) = self.opt_number(field, "a number")? else {
            return Ok(None);
        };
        serde_json::from_slice::<f64>(text)
            .map(Some)
            .map_err(|e| JsonError {
                at,
                kind: ErrorKind::Type,
                what: format!("{field}: {e}"),
            })
    }

    /// `true`/`false`, or `None` for `null`.
    pub fn opt_bool(&mut self, field: &str) -> R<Option<bool>> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| Some(true)),
            Some(b'f') => self.literal(b"false").map(|()| Some(false)),
            Some(b'n') => self.literal(b"null").map(|()| None),
            _ => Err(self.type_error(field, "true or false")),
        }
    }

    /// A string, decoded, or `None` for `null`.
    pub fn opt_string(&mut self, field: &str) -> R<Option<Cow<'a, str>>> {
        if self.take_null()? {
            return Ok(None);
        }
        if self.peek() != Some(b'"') {
            return Err(self.type_error(field, "a string"));
        }
        let start = self.i;
        let raw = self.raw_str()?;
        let bad = |what: String| JsonError {
            at: start,
            kind: ErrorKind::Type,
            what,
        };
        if memchr::memchr(b'\\', raw).is_none() {
            return std::str::from_utf8(raw)
                .map(|s| Some(Cow::Borrowed(s)))
                .map_err(|_| bad(format!("{field}: invalid UTF-8")));
        }
        serde_json::from_slice::<String>(&self.b[start..self.i])
            .map(|s| Some(Cow::Owned(s)))
            .map_err(|e| bad(format!("{field}: {e}")))
    }

    /// Whether an object starts at the cursor (`null` is consumed and is `false`).
    pub fn opt_object(&mut self, field: &str) -> R<bool> {
        if self.take_null()? {
            return Ok(false);
        }
        match self.peek() {
            Some(b'{') => Ok(true),
            _ => Err(self.type_error(field, "an object")),
        }
    }

    /// Where the next value starts (whitespace stepped over), as an offset in the line.
    pub fn position(&mut self) -> usize {
        self.ws();
        self.i
    }

    /// The line's bytes from `from` to where the cursor stands.
    pub fn since(&self, from: usize) -> &'a [u8] {
        &self.b[from.min(self.i)..self.i]
    }

    /// The next byte that is not whitespace, if any, without consuming it.
    pub fn peek_byte(&mut self) -> Option<u8> {
        self.peek()
    }

    /// The bytes between the quotes of a string value (escapes as written), or `None`
    /// after stepping over a value of any other type: for fields read leniently, whose
    /// odd types must not make a line unreadable.
    pub fn str_or_skip(&mut self) -> R<Option<&'a [u8]>> {
        if self.peek() == Some(b'"') {
            return self.raw_str().map(Some);
        }
        self.skip().map(|()| None)
    }

    /// Calls `item` on each value of an array; steps over a value of another type and
    /// says `false`.
    pub fn items_or_skip(&mut self, item: impl FnMut(&mut Cursor<'a>) -> R<()>) -> R<bool> {
        if self.peek() != Some(b'[') {
            return self.skip().map(|()| false);
        }
        self.sequence(b'[', b']', item).map(|()| true)
    }

    /// Reads an object with `f`; steps over a value of another type and says `false`.
    pub fn object_or_skip(&mut self, f: impl FnMut(&'a [u8], &mut Cursor<'a>) -> R<()>) -> R<bool> {
        if self.peek() != Some(b'{') {
            return self.skip().map(|()| false);
        }
        self.object(f).map(|()| true)
    }

    /// How many bytes the next value takes as written, stepping over it.
    pub fn skip_len(&mut self) -> R<usize> {
        self.ws();
        let start = self.i;
        self.skip()?;
        Ok(self.i - start)
    }

    fn type_error(&mut self, field: &str, wanted: &str) -> JsonError {
        if self.peek().is_none() {
            return self.err(ErrorKind::Eof, "expected a value");
        }
        let at = self.i;
        let found = match self.raw_value() {
            Ok(v) if v.chars().count() > 40 => {
                format!("{}...", v.chars().take(40).collect::<String>())
            }
            Ok(v) => v.to_string(),
            Err(e) => return e,
        };
        JsonError {
            at,
            kind: ErrorKind::Type,
            what: format!("{field}: expected {wanted}, found {found}"),
        }
    }
}

/// Where the first `"` or `\\` in `b` is. Most strings in a transcript line are keys
/// and ids of a few dozen bytes, for which a call into `memchr2` costs more than the
/// search: the first bytes are looked at eight at a time in a `u64`, and only a longer
/// string goes on with `memchr2`.
fn quote_or_backslash(b: &[u8]) -> Option<usize> {
    const SHORT: usize = 64;
    let mut i = 0;
    while i + 8 <= b.len().min(SHORT) {
        let w = u64::from_le_bytes([
            b[i],
            b[i + 1],
            b[i + 2],
            b[i + 3],
            b[i + 4],
            b[i + 5],
            b[i + 6],
            b[i + 7],
        ]);
        let hits = zero_bytes(w ^ splat(b'"')) | zero_bytes(w ^ splat(b'\\'));
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if i < SHORT {
        // Fewer than eight bytes left in the line.
        return b[i..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\')
            .map(|k| i + k);
    }
    memchr::memchr2(b'"', b'\\', &b[i..]).map(|k| i + k)
}

/// `c` in every byte of a word.
const fn splat(c: u8) -> u64 {
    u64::from_ne_bytes([c; 8])
}

/// The high bit set in the lowest zero byte of `w` (and perhaps in higher bytes, where a
/// borrow ran on: only the lowest set bit is exact).
const fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(splat(1)) & !w & splat(0x80)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Skips a whole document the way the scanner reads a line.
    fn check(doc: &str) -> R<()> {
        let mut c = Cursor::new(doc.as_bytes());
        c.skip()?;
        c.end()
    }

    #[test]
    fn accepts_what_serde_accepts() {
        for doc in [
            r#"{}"#,
            r#"{"a":[1,-2.5e+3,0,true,false,null,"x\"y\\",{"b":[]}]}"#,
            " { \"a\" : [ ] , \"b\" : { } } ",
            r#"{"s":"caf\u00e9 \ud83d\ude00"}"#,
            r#"[0.5, 1E9, -0]"#,
        ] {
            assert!(
                serde_json::from_str::<serde_json::Value>(doc).is_ok(),
                "{doc}"
            );
            assert_eq!(check(doc), Ok(()), "{doc}");
        }
    }

    #[test]
    fn rejects_what_serde_rejects_in_the_structure() {
        for doc in [
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":tru}"#,
            r#"{"a":[1 2]}"#,
            r#"{a:1}"#,
            r#"{"a":1}x"#,
            r#"{"a":-}"#,
        ] {
            assert!(
                serde_json::from_str::<serde_json::Value>(doc).is_err(),
                "{doc}"
            );
            assert!(check(doc).is_err(), "{doc}");
        }
    }

    #[test]
    fn every_cut_of_a_document_is_an_error() {
        let doc = r#"{"a":[1,-2.5e+3,true,null,"x\"y"],"b":{"c":"d"},"e":false}"#;
        for n in 0..doc.len() {
            let e = check(&doc[..n]).expect_err(&doc[..n]);
            // A cut after a complete number is read as that number, then a missing ','.
            assert!(
                matches!(e.kind, ErrorKind::Eof | ErrorKind::Syntax),
                "{}: {e:?}",
                &doc[..n]
            );
        }
        assert_eq!(check(doc), Ok(()));
    }

    #[test]
    fn the_word_search_finds_what_a_byte_search_finds() {
        for len in 0..200 {
            for at in 0..=len {
                for c in [b'"', b'\\'] {
                    let mut b = vec![b'x'; len];
                    if at < len {
                        b[at] = c;
                    }
                    // A second hit later never wins over the first.
                    if at + 3 < len {
                        b[at + 3] = b'"';
                    }
                    let want = b.iter().position(|&x| x == b'"' || x == b'\\');
                    assert_eq!(quote_or_backslash(&b), want, "len {len} at {at}");
                }
            }
        }
        // Bytes that differ from a quote or backslash in one bit are not hits.
        assert_eq!(
            quote_or_backslash(&[0x23, 0x5d, 0xa2, 0xdc, 0x02, 0x1c, 0, 0xff, 0x21]),
            None
        );
    }

    #[test]
    fn whole_numbers_to_the_last_one() {
        let read = |doc: &str| {
            let mut c = Cursor::new(doc.as_bytes());
            c.opt_u64("n")
        };
        assert_eq!(read("18446744073709551615"), Ok(Some(u64::MAX)));
        assert_eq!(read("0"), Ok(Some(0)));
        assert_eq!(read("null"), Ok(None));
        for bad in ["18446744073709551616", "1e3", "-0", "2.0"] {
            let e = read(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Type, "{bad}");
            assert!(
                e.what.contains("expected a whole number"),
                "{bad}: {}",
                e.what
            );
        }
    }

    #[test]
    fn typed_reads() {
        let doc =
            br#"{"n":42,"f":1.25,"b":true,"s":"a\nb","z":null,"neg":-1,"fl":3.0,"o":{"k":1}}"#;
        let mut c = Cursor::new(doc);
        let mut seen = Vec::new();
        c.object(|k, c| {
            match k {
                b"n" => seen.push(format!("{:?}", c.opt_u64("n")?)),
                b"f" => seen.push(format!("{:?}", c.opt_f64("f")?)),
                b"b" => seen.push(format!("{:?}", c.opt_bool("b")?)),
                b"s" => seen.push(format!("{:?}", c.opt_string("s")?)),
                b"z" => seen.push(format!("{:?}", c.opt_u64("z")?)),
                b"neg" => seen.push(c.opt_u64("neg").unwrap_err().what),
                b"fl" => seen.push(c.opt_u64("fl").unwrap_err().what),
                b"o" => {
                    assert!(c.opt_object("o")?);
                    c.skip()?;
                }
                _ => c.skip()?,
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                "Some(42)",
                "Some(1.25)",
                "Some(true)",
                "Some(\"a\\nb\")",
                "None",
                "neg: expected a whole number, found -1",
                "fl: expected a whole number, found 3.0",
            ]
        );
        let mut c = Cursor::new(br#"{"s":5}"#);
        let e = c.object(|_, c| c.opt_string("s").map(|_| ())).unwrap_err();
        assert_eq!(
            (e.kind, e.what.as_str()),
            (ErrorKind::Type, "s: expected a string, found 5")
        );
    }
}
