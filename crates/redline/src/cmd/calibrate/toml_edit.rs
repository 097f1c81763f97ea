//! `--write`'s edit of the config file: the calibration keys set in the text itself, so
//! every comment, blank line, other key and table stays as the user wrote it. Pure text
//! in, text out.
//!
//! The text is read statement by statement (comments, table headers, `key = value` with
//! strings, multi-line strings, arrays and inline tables stepped over whole), so a key
//! is only ever found where TOML would find it. A key already set gets its value
//! replaced in place (its comment after it kept; an equal value is left as written); a
//! missing top-level key goes after the last top-level key, a missing `[zones]` key after
//! the last key of `[zones]` (a `[zones]` table is added at the end when there is none).
//! The result is parsed again and must read as the old file with exactly the new values:
//! otherwise nothing is written.

/// A config file made from nothing starts with this line.
pub const NEW_FILE: &str = "# redline's configuration: see docs/daemon.md#configuration\n";

/// A value to set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A whole number (written with `_` between thousands from 10,000 up).
    Int(u64),
    /// A share.
    Float(f64),
}

impl Value {
    /// As TOML writes it.
    fn text(self) -> String {
        match self {
            Value::Int(n) if n >= 10_000 => {
                let digits = n.to_string();
                let mut out = String::new();
                for (i, c) in digits.chars().enumerate() {
                    if i > 0 && (digits.len() - i) % 3 == 0 {
                        out.push('_');
                    }
                    out.push(c);
                }
                out
            }
            Value::Int(n) => n.to_string(),
            Value::Float(v) => {
                let t = format!("{v}");
                if t.contains(['.', 'e', 'E']) || !v.is_finite() {
                    t
                } else {
                    t + ".0"
                }
            }
        }
    }

    fn toml(self) -> toml::Value {
        match self {
            Value::Int(n) => toml::Value::Integer(i64::try_from(n).unwrap_or(i64::MAX)),
            Value::Float(v) => toml::Value::Float(v),
        }
    }

    /// Whether `v` (as the file has it) is this value already.
    fn is(self, v: &toml::Value) -> bool {
        match (self, v) {
            (Value::Int(n), toml::Value::Integer(i)) => u64::try_from(*i).ok() == Some(n),
            (Value::Float(f), toml::Value::Float(g)) => f == *g,
            (Value::Float(f), toml::Value::Integer(i)) => f == *i as f64,
            _ => false,
        }
    }
}

/// One key to set: `table` `None` for a top-level key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Edit {
    /// The table (`zones`), or `None` at the top level.
    pub table: Option<&'static str>,
    /// The key.
    pub key: &'static str,
    /// Its new value.
    pub value: Value,
}

impl Edit {
    fn path(&self) -> Vec<String> {
        self.table
            .into_iter()
            .chain([self.key])
            .map(str::to_owned)
            .collect()
    }
}

/// `text` with every edit made, or why it cannot be done safely.
pub fn apply(text: &str, edits: &[Edit]) -> Result<String, String> {
    let old: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("not valid TOML ({})", e.message().trim()))?;
    let mut out = text.to_owned();
    for e in edits {
        if lookup(&old, &e.path()).is_some_and(|v| e.value.is(v)) {
            continue;
        }
        out = apply_one(&out, e)?;
    }
    verify(&old, &out, edits)?;
    Ok(out)
}

fn lookup<'a>(t: &'a toml::Table, path: &[String]) -> Option<&'a toml::Value> {
    let (last, tables) = path.split_last()?;
    let mut at = t;
    for name in tables {
        at = at.get(name)?.as_table()?;
    }
    at.get(last)
}

/// The new text must read as the old one with the edits' values, and nothing else.
fn verify(old: &toml::Table, new: &str, edits: &[Edit]) -> Result<(), String> {
    let got: toml::Table = new.parse().map_err(|e: toml::de::Error| {
        format!("the edit would not be valid TOML ({})", e.message().trim())
    })?;
    let mut want = old.clone();
    for e in edits {
        let mut at = &mut want;
        if let Some(t) = e.table {
            at = at
                .entry(t)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .ok_or_else(|| format!("{t} is not a table"))?;
        }
        match at.get(e.key) {
            Some(v) if e.value.is(v) => {}
            _ => {
                at.insert(e.key.to_owned(), e.value.toml());
            }
        }
    }
    if got == want {
        Ok(())
    } else {
        Err(
            "the edit would not read back as written (an unusual layout?); set the values by hand"
                .into(),
        )
    }
}

/// One statement of the file.
#[derive(Clone, Debug, PartialEq)]
enum Stmt {
    /// `[a.b]` or `[[a.b]]`: the table the next keys belong to.
    Header {
        path: Vec<String>,
        /// Where its line starts.
        line: usize,
        /// Just after its line ends.
        end: usize,
    },
    /// `key = value`.
    KeyValue {
        /// The table's path and the key's.
        path: Vec<String>,
        /// The value's bytes.
        value: (usize, usize),
        /// Just after its line (the last line of a value over several) ends.
        end: usize,
    },
}

/// Reads the statements of `text` (which parses as TOML).
fn statements(text: &str) -> Result<Vec<Stmt>, String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut table: Vec<String> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let line = i;
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r') {
            i += 1;
        }
        match b.get(i) {
            None => break,
            Some(b'\n') => i += 1,
            Some(b'#') => i = line_end(b, i),
            Some(b'[') => {
                let double = b.get(i + 1) == Some(&b'[');
                let start = i + if double { 2 } else { 1 };
                let close = find_close(b, start, b']')?;
                table = key_path(&text[start..close])?;
                i = line_end(b, close);
                out.push(Stmt::Header {
                    path: table.clone(),
                    line,
                    end: i,
                });
            }
            Some(_) => {
                let eq = find_close(b, i, b'=')?;
                let mut path = table.clone();
                path.extend(key_path(&text[i..eq])?);
                let mut v = eq + 1;
                while v < b.len() && matches!(b[v], b' ' | b'\t') {
                    v += 1;
                }
                let value_end = skip_value(b, v)?;
                i = line_end(b, value_end);
                out.push(Stmt::KeyValue {
                    path,
                    value: (v, value_end),
                    end: i,
                });
            }
        }
    }
    Ok(out)
}

/// Just after the newline ending the line at `i` (the text's end without one).
fn line_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    (i + 1).min(b.len())
}

/// The position of `close` at `from` or after, stepping over quoted keys.
fn find_close(b: &[u8], mut i: usize, close: u8) -> Result<usize, String> {
    while i < b.len() {
        match b[i] {
            c if c == close => return Ok(i),
            b'"' | b'\'' => i = skip_string(b, i)?,
            b'\n' => break,
            _ => i += 1,
        }
    }
    Err("a line that is neither a key, a table nor a comment".into())
}

/// A dotted key's parts, unquoted.
fn key_path(key: &str) -> Result<Vec<String>, String> {
    let b = key.as_bytes();
    let mut parts = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        let part = match b.get(i) {
            Some(q @ (b'"' | b'\'')) => {
                let end = skip_string(b, i)?;
                let inner = &key[i + 1..end - 1];
                i = end;
                if *q == b'"' && inner.contains('\\') {
                    return Err(format!(
                        "a key with escapes ({key:?}): set the values by hand"
                    ));
                }
                inner.to_owned()
            }
            Some(_) => {
                let start = i;
                while i < b.len() && !matches!(b[i], b'.' | b' ' | b'\t') {
                    i += 1;
                }
                key[start..i].to_owned()
            }
            None => return Err(format!("an empty key in {key:?}")),
        };
        parts.push(part);
        while i < b.len() && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        match b.get(i) {
            Some(b'.') => i += 1,
            None => return Ok(parts),
            Some(_) => return Err(format!("an unusual key {key:?}")),
        }
    }
}

/// Just after the string starting at `i` (any of TOML's four kinds).
fn skip_string(b: &[u8], i: usize) -> Result<usize, String> {
    let q = b[i];
    let triple = b.get(i..i + 3) == Some(&[q, q, q][..]);
    let mut j = i + if triple { 3 } else { 1 };
    while j < b.len() {
        if q == b'"' && b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == q {
            if !triple {
                return Ok(j + 1);
            }
            if b.get(j..j + 3) == Some(&[q, q, q][..]) {
                // A closing run may hold one or two quotes of the string's own.
                let mut k = j + 3;
                while b.get(k) == Some(&q) && k < j + 5 {
                    k += 1;
                }
                return Ok(k);
            }
        }
        if !triple && b[j] == b'\n' {
            break;
        }
        j += 1;
    }
    Err("a string that does not end".into())
}

/// Just after the value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> Result<usize, String> {
    match b.get(i) {
        Some(b'"' | b'\'') => skip_string(b, i),
        Some(b'[' | b'{') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'[' | b'{' => {
                        depth += 1;
                        j += 1;
                    }
                    b']' | b'}' => {
                        depth -= 1;
                        j += 1;
                        if depth == 0 {
                            return Ok(j);
                        }
                    }
                    b'"' | b'\'' => j = skip_string(b, j)?,
                    b'#' => j = line_end(b, j),
                    _ => j += 1,
                }
            }
            Err("an array or table that does not end".into())
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b' ' | b'\t' | b'\r' | b'\n' | b'#' | b',') {
                j += 1;
            }
            Ok(j)
        }
    }
}

/// `text` with one edit made.
fn apply_one(text: &str, e: &Edit) -> Result<String, String> {
    let stmts = statements(text)?;
    let want = e.path();
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let value = e.value.text();
    for s in &stmts {
        let Stmt::KeyValue {
            path,
            value: (a, z),
            ..
        } = s
        else {
            continue;
        };
        if *path == want {
            return Ok(format!("{}{value}{}", &text[..*a], &text[*z..]));
        }
        if want.starts_with(path) {
            return Err(format!(
                "{} is set as one value (an inline table?); set {} by hand",
                path.join("."),
                want.join(".")
            ));
        }
    }
    let line = format!("{} = {value}{newline}", e.key);
    let header_at = |name: &[String]| {
        stmts
            .iter()
            .position(|s| matches!(s, Stmt::Header { path, .. } if path == name))
    };
    let first_header = stmts.iter().position(|s| matches!(s, Stmt::Header { .. }));
    let (section_start, section_path): (usize, Vec<String>) = match e.table {
        None => (0, Vec::new()),
        Some(t) => match header_at(&[t.to_owned()]) {
            Some(h) => (h + 1, vec![t.to_owned()]),
            None => {
                // No such table yet: a new one at the end.
                let mut out = text.to_owned();
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push_str(newline);
                }
                if !out.is_empty() {
                    out.push_str(newline);
                }
                out.push_str(&format!("[{t}]{newline}{line}"));
                return Ok(out);
            }
        },
    };
    // After the last key of the section (the table's own keys, not dotted ones of
    // another table), else right after its header (top level: before the first header).
    let section_end = stmts[section_start..]
        .iter()
        .position(|s| matches!(s, Stmt::Header { .. }))
        .map_or(stmts.len(), |n| section_start + n);
    let last_key = stmts[section_start..section_end]
        .iter()
        .rev()
        .find_map(|s| match s {
            Stmt::KeyValue { path, end, .. } if path.len() == section_path.len() + 1 => Some(*end),
            _ => None,
        });
    let at = match (last_key, e.table, first_header) {
        (Some(end), _, _) => end,
        (None, Some(_), _) => match &stmts[section_start - 1] {
            Stmt::Header { end, .. } => *end,
            Stmt::KeyValue { end, .. } => *end,
        },
        (None, None, Some(h)) => {
            // No top-level key yet: before the first table, a blank line after it.
            if let Stmt::Header { line: start, .. } = &stmts[h] {
                let mut out = text.to_owned();
                out.insert_str(*start, &format!("{line}{newline}"));
                return Ok(out);
            }
            text.len()
        }
        (None, None, None) => text.len(),
    };
    let mut out = text.to_owned();
    let mut insert = line;
    if at > 0 && !text[..at].ends_with('\n') {
        insert = format!("{newline}{insert}");
    }
    out.insert_str(at, &insert);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(key: &'static str, n: u64) -> Edit {
        Edit {
            table: None,
            key,
            value: Value::Int(n),
        }
    }

    fn zone(key: &'static str, v: f64) -> Edit {
        Edit {
            table: Some("zones"),
            key,
            value: Value::Float(v),
        }
    }

    fn all() -> Vec<Edit> {
        vec![
            int("tach_redline", 15_000),
            int("tach_window", 45),
            int("block_budget", 8_240_000),
            int("stall_after", 60),
            zone("cache_floor", 0.45),
            zone("temp_cool", 0.15),
            zone("temp_hot", 0.5),
        ]
    }

    #[test]
    fn values_as_toml_writes_them() {
        assert_eq!(Value::Int(15_000).text(), "15_000");
        assert_eq!(Value::Int(8_240_000).text(), "8_240_000");
        assert_eq!(Value::Int(9_999).text(), "9999");
        assert_eq!(Value::Float(0.45).text(), "0.45");
        assert_eq!(Value::Float(0.0).text(), "0.0");
        assert_eq!(Value::Float(1.0).text(), "1.0");
    }

    #[test]
    fn keys_set_in_place_with_their_comments() {
        let text = "\
# my redline
tach_redline = 20000        # the red zone
needles = [\"fuel\", \"tach\",
           \"temp\", \"boost\"]  # tach_window = 1 is not a key here
block_budget = \"max\"

[zones]   # faces
# cool below
temp_cool = 0.2
plan_red = 0.8

[lamps]
warn_used = 0.8
";
        let out = apply(text, &all()).unwrap();
        let want = "\
# my redline
tach_redline = 15_000        # the red zone
needles = [\"fuel\", \"tach\",
           \"temp\", \"boost\"]  # tach_window = 1 is not a key here
block_budget = 8_240_000
tach_window = 45
stall_after = 60

[zones]   # faces
# cool below
temp_cool = 0.15
plan_red = 0.8
cache_floor = 0.45
temp_hot = 0.5

[lamps]
warn_used = 0.8
";
        assert_eq!(out, want);
        // Again: nothing moves.
        assert_eq!(apply(&out, &all()).unwrap(), out);
    }

    #[test]
    fn an_empty_or_new_file_and_a_file_of_tables() {
        let out = apply(NEW_FILE, &all()).unwrap();
        assert_eq!(
            out,
            format!(
                "{NEW_FILE}tach_redline = 15_000\ntach_window = 45\nblock_budget = 8_240_000\nstall_after = 60\n\n[zones]\ncache_floor = 0.45\ntemp_cool = 0.15\ntemp_hot = 0.5\n"
            )
        );
        assert_eq!(apply(&out, &all()).unwrap(), out);
        // Only tables: top-level keys go before the first, a blank line after them.
        let tables = "[lamps]\nactive = 60";
        let out = apply(tables, &[int("tach_window", 45), zone("temp_hot", 0.5)]).unwrap();
        assert_eq!(
            out,
            "tach_window = 45\n\n[lamps]\nactive = 60\n\n[zones]\ntemp_hot = 0.5\n"
        );
        assert_eq!(
            apply("", &[int("stall_after", 30)]).unwrap(),
            "stall_after = 30\n"
        );
    }

    #[test]
    fn equal_values_are_left_as_written() {
        let text = "tach_redline = 15000\n[zones]\ncache_floor = 0.45\n";
        assert_eq!(
            apply(
                text,
                &[int("tach_redline", 15_000), zone("cache_floor", 0.45)]
            )
            .unwrap(),
            text
        );
    }

    #[test]
    fn dotted_and_quoted_keys_and_crlf() {
        let text = "zones.cache_floor = 0.5\r\n\"tach_window\" = 60 # s\r\n";
        let out = apply(text, &[zone("cache_floor", 0.3), int("tach_window", 90)]).unwrap();
        assert_eq!(
            out,
            "zones.cache_floor = 0.3\r\n\"tach_window\" = 90 # s\r\n"
        );
        let inline = "zones = { temp_hot = 0.6 }\n";
        let e = apply(inline, &[zone("cache_floor", 0.3)]).unwrap_err();
        assert!(e.contains("inline table"), "{e}");
    }

    #[test]
    fn strings_that_look_like_keys_are_not_keys() {
        let text = "prices = '''\ntach_redline = 1\n'''\n[zones]\ncontext_red = 0.8\n";
        let out = apply(text, &[int("tach_redline", 15_000)]).unwrap();
        assert_eq!(
            out,
            "prices = '''\ntach_redline = 1\n'''\ntach_redline = 15_000\n[zones]\ncontext_red = 0.8\n"
        );
    }

    #[test]
    fn a_file_that_is_not_toml_is_left_alone() {
        let e = apply("tach_redline = = 3\n", &all()).unwrap_err();
        assert!(e.starts_with("not valid TOML"), "{e}");
    }
}
