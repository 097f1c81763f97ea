//! A source's text read into events, each a time and a value: CSV with a header row,
//! JSON Lines, or one JSON document whose array of items is found at a pointer. A row
//! that cannot be read is counted and the first few are named by place and why; the
//! read goes on. Only a source that cannot be read at all (no such column, not JSON, no
//! array where the items should be) is an error.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{Timestamp, fmt::strtime};
use serde_json::Value;

/// How a source's text is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// One JSON document: an array of objects, or an object holding one (`items`).
    Json,
}

impl Format {
    /// Every format's name, as `format` takes it.
    pub const NAMES: [&'static str; 3] = ["csv", "jsonl", "json"];

    /// The format named (`ndjson` is `jsonl`).
    pub fn from_name(name: &str) -> Option<Format> {
        match name.trim().to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Json => "json",
        }
    }

    /// The format a file name or URL says by its extension (a URL's query and fragment
    /// left aside).
    pub fn from_extension(path: &str) -> Option<Format> {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let last = path.rsplit('/').next().unwrap_or(path);
        let (_, ext) = last.rsplit_once('.')?;
        match ext.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    /// The format an HTTP `Content-Type` says.
    pub fn from_content_type(ct: &str) -> Option<Format> {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "text/csv" | "application/csv" => Some(Format::Csv),
            "application/x-ndjson"
            | "application/jsonl"
            | "application/x-jsonlines"
            | "application/jsonlines" => Some(Format::Jsonl),
            e if e == "application/json" || e.ends_with("+json") => Some(Format::Json),
            _ => None,
        }
    }
}

/// How the time field is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeFormat {
    /// Whichever of the others fits: RFC 3339, a date and time without an offset (local),
    /// a plain date (local), or a number (seconds below 10¹¹, else milliseconds).
    Auto,
    /// An instant with its offset: `2026-03-05T14:30:00Z`, `...+01:00`.
    Rfc3339,
    /// A plain local date, `2026-03-05`.
    Date,
    /// Seconds since 1970 (a number, or a string of one).
    Unix,
    /// Milliseconds since 1970.
    UnixMs,
    /// A strftime pattern such as `%d/%m/%Y %H:%M` (local unless it reads an offset).
    Pattern(String),
}

/// A number this size or above is milliseconds, below it seconds: 10¹¹ seconds is the
/// year 5138, 10¹¹ milliseconds is March 1973, so nothing a source holds is ambiguous.
pub const MS_FROM: f64 = 1e11;

impl TimeFormat {
    /// `auto`, `rfc3339`, `date`, `unix`, `unix_ms`, or a pattern with a `%` in it.
    pub fn parse(text: &str) -> Result<TimeFormat, String> {
        let t = text.trim();
        Ok(match t.to_ascii_lowercase().as_str() {
            "auto" | "" => TimeFormat::Auto,
            "rfc3339" => TimeFormat::Rfc3339,
            "date" => TimeFormat::Date,
            "unix" | "unix_s" => TimeFormat::Unix,
            "unix_ms" => TimeFormat::UnixMs,
            _ if t.contains('%') => TimeFormat::Pattern(t.to_owned()),
            _ => {
                return Err(format!(
                    "{t:?} is not a time format: give auto, rfc3339, date, unix, unix_ms or a strftime pattern such as \"%d/%m/%Y\""
                ));
            }
        })
    }

    /// Its name, as `time_format` takes it.
    pub fn name(&self) -> &str {
        match self {
            TimeFormat::Auto => "auto",
            TimeFormat::Rfc3339 => "rfc3339",
            TimeFormat::Date => "date",
            TimeFormat::Unix => "unix",
            TimeFormat::UnixMs => "unix_ms",
            TimeFormat::Pattern(p) => p,
        }
    }
}

/// When an event happened, as the source says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// An instant (it had an offset, or was a number).
    Instant(Timestamp),
    /// A local date and time (no offset given): taken in the user's zone.
    Civil(DateTime),
    /// A local day with no time: it counts for its day, not for any hour.
    Day(Date),
}

impl When {
    /// Its local day and hour (none for a plain date) in `tz`.
    pub fn local(&self, tz: &TimeZone) -> (Date, Option<i8>) {
        match self {
            When::Instant(t) => {
                let dt = tz.to_datetime(*t);
                (dt.date(), Some(dt.hour()))
            }
            When::Civil(dt) => (dt.date(), Some(dt.hour())),
            When::Day(d) => (*d, None),
        }
    }
}

/// One row of a source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event {
    /// When.
    pub when: When,
    /// Its value (1 when the source names no value field).
    pub value: f64,
}

/// Which fields of a row are read, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields {
    /// The time: a CSV column, a JSON key, or a JSON pointer (`/meta/at`).
    pub time: String,
    /// The value, likewise; `None` counts each row as 1.
    pub value: Option<String>,
    /// JSON documents: the pointer to the array of items (`/transactions`); `None` for a
    /// document that is the array.
    pub items: Option<String>,
    /// How the time is written.
    pub time_format: TimeFormat,
    /// CSV: the field separator.
    pub delimiter: u8,
}

impl Fields {
    /// The time field and value field, everything else as usual (auto times, commas).
    pub fn new(time: &str, value: Option<&str>) -> Fields {
        Fields {
            time: time.to_owned(),
            value: value.map(str::to_owned),
            items: None,
            time_format: TimeFormat::Auto,
            delimiter: b',',
        }
    }
}

/// A row passed over, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    /// `file:line`, or a URL and the item's pointer (`https://x/api:/transactions/3`).
    pub place: String,
    /// What is wrong with it.
    pub why: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.place, self.why)
    }
}

/// How many bad rows are named; the rest are counted.
pub const NAMED_BAD: usize = 5;

/// What a source's text held.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    /// The rows read.
    pub events: Vec<Event>,
    /// Rows passed over.
    pub bad: u64,
    /// The first [`NAMED_BAD`] of them.
    pub first_bad: Vec<BadRow>,
}

impl Rows {
    fn pass_over(&mut self, place: String, why: String) {
        self.bad += 1;
        if self.first_bad.len() < NAMED_BAD {
            self.first_bad.push(BadRow { place, why });
        }
    }

    fn take(&mut self, place: impl FnOnce() -> String, row: Result<Event, String>) {
        match row {
            Ok(e) => self.events.push(e),
            Err(why) => self.pass_over(place(), why),
        }
    }
}

/// Reads `text` (from `origin`, a file name or URL, which places name) as `format`.
pub fn parse(text: &str, format: Format, fields: &Fields, origin: &str) -> Result<Rows, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        Format::Csv => csv(text, fields, origin),
        Format::Jsonl => {
            let mut rows = Rows::default();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let row = serde_json::from_str::<Value>(line)
                    .map_err(|e| format!("not JSON: {e}"))
                    .and_then(|v| json_event(&v, fields));
                rows.take(|| format!("{origin}:{}", i + 1), row);
            }
            Ok(rows)
        }
        Format::Json => {
            let doc: Value = serde_json::from_str(text)
                .map_err(|e| format!("{origin}: not a JSON document: {e}"))?;
            let pointer = fields.items.as_deref().unwrap_or("");
            let Some(found) = doc.pointer(pointer) else {
                return Err(format!(
                    "{origin}: nothing at items = {pointer:?} in the document{}",
                    arrays_hint(&doc)
                ));
            };
            let Value::Array(items) = found else {
                let at = if pointer.is_empty() {
                    "the document is not an array".to_owned()
                } else {
                    format!("items = {pointer:?} is not an array")
                };
                return Err(format!("{origin}: {at}{}", arrays_hint(found)));
            };
            let mut rows = Rows::default();
            for (i, item) in items.iter().enumerate() {
                rows.take(
                    || format!("{origin}:{pointer}/{i}"),
                    json_event(item, fields),
                );
            }
            Ok(rows)
        }
    }
}

/// `; the arrays in it: /a, /b` for an object holding arrays, to say what `items` to give.
fn arrays_hint(v: &Value) -> String {
    let Value::Object(m) = v else {
        return String::new();
    };
    let arrays: Vec<String> = m
        .iter()
        .filter(|(_, v)| v.is_array())
        .map(|(k, _)| format!("/{}", k.replace('~', "~0").replace('/', "~1")))
        .collect();
    if arrays.is_empty() {
        String::new()
    } else {
        format!(
            "; name its array with items = {:?} (arrays found: {})",
            arrays[0],
            arrays.join(", ")
        )
    }
}

/// A field of a JSON item: by pointer when the name starts with `/`, else by key.
fn field<'a>(item: &'a Value, name: &str) -> Option<&'a Value> {
    if name.starts_with('/') {
        item.pointer(name)
    } else {
        item.get(name)
    }
}

fn json_event(item: &Value, fields: &Fields) -> Result<Event, String> {
    if !item.is_object() {
        return Err(format!("not an object but {}", kind(item)));
    }
    let when = match field(item, &fields.time) {
        None | Some(Value::Null) => return Err(format!("no time field {:?}", fields.time)),
        Some(Value::Number(n)) => {
            let n = n.as_f64().unwrap_or(f64::NAN);
            epoch(n, &fields.time_format)?
        }
        Some(Value::String(s)) => time(s, &fields.time_format)?,
        Some(other) => return Err(format!("the time {:?} is {}", fields.time, kind(other))),
    };
    let value = match &fields.value {
        None => 1.0,
        Some(name) => match field(item, name) {
            None | Some(Value::Null) => return Err(format!("no value field {name:?}")),
            Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Some(Value::String(s)) => number(s).map_err(|e| format!("the value {name:?} {e}"))?,
            Some(other) => return Err(format!("the value {name:?} is {}", kind(other))),
        },
    };
    Ok(Event { when, value })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value written as text: a finite number, spaces around it allowed.
fn number(s: &str) -> Result<f64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("is empty".to_owned());
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("{t:?} is not a number")),
    }
}

/// A number of seconds or milliseconds since 1970 (by [`MS_FROM`] under `auto`).
fn epoch(n: f64, format: &TimeFormat) -> Result<When, String> {
    let ms = match format {
        TimeFormat::Auto if n.abs() >= MS_FROM => n,
        TimeFormat::Auto | TimeFormat::Unix => n * 1000.0,
        TimeFormat::UnixMs => n,
        other => {
            return Err(format!(
                "the time is a number, not {} as time_format says",
                other.name()
            ));
        }
    };
    if !ms.is_finite() || ms.abs() > 8.0e15 {
        return Err(format!("{n} is not a time"));
    }
    Timestamp::from_millisecond(ms.round() as i64)
        .map(When::Instant)
        .map_err(|e| format!("{n} is not a time: {e}"))
}

/// A time written as text.
fn time(s: &str, format: &TimeFormat) -> Result<When, String> {
    let t = s.trim();
    let bad = |what: &str| format!("{t:?} is not {what}");
    match format {
        TimeFormat::Auto => {
            if let Ok(n) = t.parse::<f64>() {
                return epoch(n, format);
            }
            if let Ok(ts) = t.parse::<Timestamp>() {
                return Ok(When::Instant(ts));
            }
            if t.len() > 10
                && let Ok(dt) = t.parse::<DateTime>()
            {
                return Ok(When::Civil(dt));
            }
            t.parse::<Date>().map(When::Day).map_err(|_| {
                bad("a time (RFC 3339, YYYY-MM-DD, or seconds since 1970); set time_format for others")
            })
        }
        TimeFormat::Rfc3339 => t
            .parse::<Timestamp>()
            .map(When::Instant)
            .map_err(|_| bad("an RFC 3339 time such as 2026-03-05T14:30:00Z")),
        TimeFormat::Date => t
            .parse::<Date>()
            .map(When::Day)
            .map_err(|_| bad("a date such as 2026-03-05")),
        TimeFormat::Unix | TimeFormat::UnixMs => match t.parse::<f64>() {
            Ok(n) => epoch(n, format),
            Err(_) => Err(bad("a number")),
        },
        TimeFormat::Pattern(p) => {
            let tm = strtime::parse(p, t).map_err(|_| bad(&format!("in the form {p:?}")))?;
            if tm.offset().is_some() {
                tm.to_timestamp().map(When::Instant)
            } else if tm.hour().is_some() {
                tm.to_datetime().map(When::Civil)
            } else {
                tm.to_date().map(When::Day)
            }
            .map_err(|e| format!("{t:?} in the form {p:?}: {e}"))
        }
    }
}

/// CSV: the header names the columns; each later record is a row.
fn csv(text: &str, fields: &Fields, origin: &str) -> Result<Rows, String> {
    let mut records = Records::new(text, fields.delimiter);
    let Some((_, header)) = records.next() else {
        return Ok(Rows::default());
    };
    let header = header.map_err(|why| format!("{origin}:1: {why}"))?;
    let column = |name: &str| {
        let name = name.trim();
        header
            .iter()
            .position(|h| h.trim() == name)
            .or_else(|| {
                header
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| {
                let names: Vec<String> = header.iter().map(|h| format!("{:?}", h.trim())).collect();
                format!(
                    "{origin}:1: no column {name:?} in the header (its columns: {})",
                    names.join(", ")
                )
            })
    };
    let time_col = column(&fields.time)?;
    let value_col = fields.value.as_deref().map(column).transpose()?;
    let mut rows = Rows::default();
    for (line, record) in records {
        let row = record.and_then(|r| {
            if r.len() == 1 && r[0].trim().is_empty() {
                return Ok(None);
            }
            let cell = |i: usize| {
                r.get(i).ok_or_else(|| {
                    format!(
                        "has {} fields where the header has {}",
                        r.len(),
                        header.len()
                    )
                })
            };
            let when = time(cell(time_col)?, &fields.time_format)?;
            let value = match value_col {
                None => 1.0,
                Some(i) => number(cell(i)?).map_err(|e| {
                    format!("the value {:?} {e}", fields.value.as_deref().unwrap_or(""))
                })?,
            };
            Ok(Some(Event { when, value }))
        });
        match row {
            Ok(None) => {}
            Ok(Some(e)) => rows.events.push(e),
            Err(why) => rows.pass_over(format!("{origin}:{line}"), why),
        }
    }
    Ok(rows)
}

/// The records of a CSV text with the line each starts on: fields split at the
/// delimiter, `"..."` quoting (with `""` for a quote) across lines, CRLF or LF.
struct Records<'a> {
    text: &'a str,
    at: usize,
    line: usize,
    delimiter: char,
}

impl<'a> Records<'a> {
    fn new(text: &'a str, delimiter: u8) -> Records<'a> {
        Records {
            text,
            at: 0,
            line: 1,
            delimiter: char::from(delimiter),
        }
    }
}

impl Iterator for Records<'_> {
    type Item = (usize, Result<Vec<String>, String>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.text.len() {
            return None;
        }
        let start_line = self.line;
        let mut fields = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut was_quoted = false;
        let mut chars = self.text[self.at..].char_indices().peekable();
        let mut end = self.text.len() - self.at;
        let mut stray = false;
        while let Some((i, c)) = chars.next() {
            if quoted {
                match c {
                    '"' if chars.peek().is_some_and(|(_, n)| *n == '"') => {
                        cur.push('"');
                        chars.next();
                    }
                    '"' => quoted = false,
                    '\n' => {
                        self.line += 1;
                        cur.push(c);
                    }
                    _ => cur.push(c),
                }
                continue;
            }
            match c {
                '"' if cur.trim().is_empty() && !was_quoted => {
                    cur.clear();
                    quoted = true;
                    was_quoted = true;
                }
                '"' => stray = true,
                '\r' if chars.peek().is_some_and(|(_, n)| *n == '\n') => {}
                '\n' => {
                    self.line += 1;
                    end = i + 1;
                    break;
                }
                c if c == self.delimiter => {
                    fields.push(std::mem::take(&mut cur));
                    was_quoted = false;
                }
                _ if was_quoted && !c.is_whitespace() => stray = true,
                _ => cur.push(c),
            }
        }
        self.at += end;
        if quoted {
            return Some((
                start_line,
                Err("a quoted field is not closed before the end".to_owned()),
            ));
        }
        fields.push(cur);
        if stray {
            return Some((
                start_line,
                Err("a quote inside a field that is not quoted as a whole".to_owned()),
            ));
        }
        Some((start_line, Ok(fields)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn csv_with_quotes_and_a_bad_row_named_by_line() {
        let text = "\u{feff}Date,\"Memo, long\",Amount\r\n\
                    2026-03-01,\"coffee, \"\"large\"\"\",4.50\r\n\
                    2026-03-02,\"two\nlines\",-12\n\
                    \n\
                    2026-03-03,rent,lots\n\
                    2026-03-04T10:15:00Z,x, 7 \n\
                    2026-03-05\n";
        let rows = parse(
            text,
            Format::Csv,
            &Fields::new("date", Some("Amount")),
            "b.csv",
        )
        .unwrap();
        let got: Vec<(When, f64)> = rows.events.iter().map(|e| (e.when, e.value)).collect();
        assert_eq!(
            got,
            [
                (When::Day(date("2026-03-01")), 4.5),
                (When::Day(date("2026-03-02")), -12.0),
                (When::Instant("2026-03-04T10:15:00Z".parse().unwrap()), 7.0),
            ]
        );
        assert_eq!(rows.bad, 2);
        assert_eq!(
            rows.first_bad[0].to_string(),
            "b.csv:6: the value \"Amount\" \"lots\" is not a number"
        );
        assert_eq!(
            rows.first_bad[1].to_string(),
            "b.csv:8: has 1 fields where the header has 3"
        );
    }

    #[test]
    fn a_missing_column_names_the_columns_there_are() {
        let e = parse(
            "when,amount\n",
            Format::Csv,
            &Fields::new("date", None),
            "h.csv",
        )
        .unwrap_err();
        assert_eq!(
            e,
            "h.csv:1: no column \"date\" in the header (its columns: \"when\", \"amount\")"
        );
    }

    #[test]
    fn jsonl_counts_rows_without_a_value_field_as_one() {
        let text = "{\"at\": 1772668800}\n{\"at\": 1772668800000}\nnot json\n{\"at\": true}\n";
        let rows = parse(text, Format::Jsonl, &Fields::new("at", None), "d.jsonl").unwrap();
        let t: Timestamp = "2026-03-05T00:00:00Z".parse().unwrap();
        assert_eq!(
            rows.events,
            [
                Event {
                    when: When::Instant(t),
                    value: 1.0
                },
                Event {
                    when: When::Instant(t),
                    value: 1.0
                }
            ],
            "seconds and milliseconds told apart by size"
        );
        assert_eq!(rows.bad, 2);
        assert!(
            rows.first_bad[0]
                .to_string()
                .starts_with("d.jsonl:3: not JSON")
        );
        assert_eq!(
            rows.first_bad[1].to_string(),
            "d.jsonl:4: the time \"at\" is true or false"
        );
    }

    #[test]
    fn a_json_document_with_its_items_at_a_pointer() {
        let text = r#"{"meta": {}, "transactions": [
            {"when": "2026-03-05T09:00:00+01:00", "amount": {"value": "12.5"}},
            {"when": "2026-03-05 23:30", "amount": {"value": 3}},
            {"when": "2026-03-06", "amount": {}},
            7
        ]}"#;
        let mut f = Fields::new("when", Some("/amount/value"));
        f.items = Some("/transactions".into());
        let rows = parse(text, Format::Json, &f, "https://x/api").unwrap();
        assert_eq!(rows.events.len(), 2);
        let utc = TimeZone::UTC;
        assert_eq!(
            rows.events[0].when.local(&utc),
            (date("2026-03-05"), Some(8))
        );
        assert_eq!(
            rows.events[1].when.local(&utc),
            (date("2026-03-05"), Some(23))
        );
        assert_eq!(rows.events[0].value, 12.5);
        assert_eq!(
            rows.first_bad
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            [
                "https://x/api:/transactions/2: no value field \"/amount/value\"",
                "https://x/api:/transactions/3: not an object but a number"
            ]
        );
        // Without `items`, the document's arrays are named.
        f.items = None;
        let e = parse(text, Format::Json, &f, "u").unwrap_err();
        assert_eq!(
            e,
            "u: the document is not an array; name its array with items = \"/transactions\" (arrays found: /transactions)"
        );
    }

    #[test]
    fn time_formats() {
        let auto = TimeFormat::Auto;
        assert_eq!(time("2026-03-05", &auto), Ok(When::Day(date("2026-03-05"))));
        assert_eq!(
            time("1772668800", &auto),
            time("2026-03-05T00:00:00Z", &auto)
        );
        let p = TimeFormat::parse("%d/%m/%Y").unwrap();
        assert_eq!(time("05/03/2026", &p), Ok(When::Day(date("2026-03-05"))));
        let p = TimeFormat::parse("%d/%m/%Y %H:%M").unwrap();
        assert_eq!(
            time("05/03/2026 14:30", &p).unwrap().local(&TimeZone::UTC),
            (date("2026-03-05"), Some(14))
        );
        assert!(time("2026-03-05", &TimeFormat::Rfc3339).is_err());
        assert_eq!(
            time("1772668800000", &TimeFormat::UnixMs),
            time("1772668800", &TimeFormat::Unix)
        );
        assert!(TimeFormat::parse("iso").is_err());
    }

    #[test]
    fn formats_by_extension_and_content_type() {
        assert_eq!(Format::from_extension("a/b.CSV"), Some(Format::Csv));
        assert_eq!(
            Format::from_extension("https://x/e.ndjson?since=1"),
            Some(Format::Jsonl)
        );
        assert_eq!(Format::from_extension("https://x.example/api"), None);
        assert_eq!(
            Format::from_content_type("application/json; charset=utf-8"),
            Some(Format::Json)
        );
        assert_eq!(Format::from_content_type("text/csv"), Some(Format::Csv));
        assert_eq!(Format::from_content_type("text/html"), None);
    }
}
