//! A `[[correlate]]` entry of config.toml, checked: where the events are (a file, or an
//! HTTP(S) URL polled at an interval), how they are read, and what they are laid against.
//! A mistake names the file, the line and the key (`config.toml:12: correlate[2].time:
//! ...`), as every config error does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, anyhow};
use redline_engine::correlate::{Against, Aggregate, Fields, Format, Missing, TimeFormat};
use serde::Deserialize;

/// How often a URL is fetched unless `interval` says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
/// The shortest `interval`: a source is someone's server.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);

/// One `[[correlate]]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCorrelate {
    name: Option<String>,
    path: Option<PathBuf>,
    url: Option<String>,
    format: Option<String>,
    time: Option<String>,
    value: Option<String>,
    items: Option<String>,
    time_format: Option<String>,
    delimiter: Option<String>,
    aggregate: Option<String>,
    missing: Option<String>,
    interval: Option<toml::Value>,
    against: Option<String>,
}

/// Where a source's events are.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Place {
    /// A file (re-read when it changes).
    File(PathBuf),
    /// An `http://` or `https://` URL (fetched every `interval`).
    Url(String),
}

impl Place {
    /// The file name or URL, as places in messages name it.
    pub fn origin(&self) -> String {
        match self {
            Place::File(p) => p.display().to_string(),
            Place::Url(u) => u.clone(),
        }
    }

    /// `file` or `url`.
    pub fn kind(&self) -> &'static str {
        match self {
            Place::File(_) => "file",
            Place::Url(_) => "url",
        }
    }
}

/// A checked `[[correlate]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// `name`: what tables, readings and the JSON call it.
    pub name: String,
    /// `path` or `url`.
    pub place: Place,
    /// `format`; `None` for a URL whose format its extension or `Content-Type` will say
    /// (JSON if neither does).
    pub format: Option<Format>,
    /// `time`, `value`, `items`, `time_format`, `delimiter`.
    pub fields: Fields,
    /// `aggregate` (default sum).
    pub aggregate: Aggregate,
    /// `missing` (default zero, skip for mean).
    pub missing: Missing,
    /// `interval` between fetches of a URL (default 5 minutes).
    pub interval: Duration,
    /// `against`: cost, tokens, or both (the default).
    pub against: Vec<Against>,
}

/// Checks every `[[correlate]]` entry of the config file (`text`, read from `file`).
/// Relative paths are taken from the config file's directory; `~/` is `home`.
pub fn sources(
    items: &[FileCorrelate],
    text: &str,
    file: Option<&Path>,
    home: Option<&Path>,
) -> Result<Vec<Source>> {
    let mut out: Vec<Source> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let fail = |key: &str, why: &str| {
            let at = file.map_or_else(|| "config".to_owned(), |p| p.display().to_string());
            let key_name = format!("correlate[{}].{key}", i + 1);
            match line_in_entry(text, i, key) {
                Some(l) => anyhow!("{at}:{l}: {key_name}: {why}"),
                None => anyhow!("{at}: {key_name}: {why}"),
            }
        };
        let s = source(item, file, home).map_err(|(key, why)| fail(key, &why))?;
        if out.iter().any(|o| o.name == s.name) {
            return Err(fail(
                "name",
                &format!(
                    "{:?} names another [[correlate]] entry too; give each its own name",
                    s.name
                ),
            ));
        }
        out.push(s);
    }
    Ok(out)
}

/// The 1-based line of `key = ...` within the `index`-th `[[correlate]]` table, else of
/// the table's header.
fn line_in_entry(text: &str, index: usize, key: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let header = |l: &str| l.trim().replace(' ', "") == "[[correlate]]";
    let start = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| header(l))
        .nth(index)?
        .0;
    for (j, l) in lines.iter().enumerate().skip(start + 1) {
        let t = l.trim_start();
        if t.starts_with('[') {
            break;
        }
        if t.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return Some(j + 1);
        }
    }
    Some(start + 1)
}

type KeyError = (&'static str, String);

fn source(f: &FileCorrelate, file: Option<&Path>, home: Option<&Path>) -> Result<Source, KeyError> {
    let name = f
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or((
            "name",
            "each [[correlate]] entry needs a name, such as name = \"hours worked\"".to_owned(),
        ))?
        .to_owned();
    let place = match (&f.path, &f.url) {
        (Some(_), Some(_)) => {
            return Err(("url", "give path or url, not both".to_owned()));
        }
        (None, None) => {
            return Err((
                "path",
                "give the events' path (a CSV or JSON file) or url (HTTP JSON)".to_owned(),
            ));
        }
        (Some(p), None) => Place::File(resolve_path(p, file, home)),
        (None, Some(u)) => {
            let u = u.trim();
            let scheme_ok = u.starts_with("http://") || u.starts_with("https://");
            if !scheme_ok || u.len() <= "https://".len() || u.contains(char::is_whitespace) {
                return Err(("url", format!("{u:?} is not an http:// or https:// URL")));
            }
            Place::Url(u.to_owned())
        }
    };
    let format = match &f.format {
        Some(text) => Some(Format::from_name(text).ok_or_else(|| {
            (
                "format",
                format!("{text:?} is not a format; give {}", Format::NAMES.join(", ")),
            )
        })?),
        None => match &place {
            Place::File(p) => Some(
                Format::from_extension(&p.display().to_string()).ok_or((
                    "path",
                    format!(
                        "{} does not say its format by its extension: add format = \"csv\", \"jsonl\" or \"json\"",
                        p.display()
                    ),
                ))?,
            ),
            Place::Url(u) => Format::from_extension(u),
        },
    };
    let time = f
        .time
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or((
            "time",
            "say which field is the time, such as time = \"date\"".to_owned(),
        ))?;
    let mut fields = Fields::new(time, f.value.as_deref().map(str::trim));
    if let Some(items) = &f.items {
        if format == Some(Format::Csv) || format == Some(Format::Jsonl) {
            return Err((
                "items",
                "items points into a JSON document; this source is not one (format = \"json\")"
                    .to_owned(),
            ));
        }
        let items = items.trim();
        if !items.is_empty() && !items.starts_with('/') {
            return Err((
                "items",
                format!("{items:?} is not a JSON pointer: write it as \"/{items}\""),
            ));
        }
        fields.items = Some(items.to_owned());
    }
    if let Some(tf) = &f.time_format {
        fields.time_format = TimeFormat::parse(tf).map_err(|e| ("time_format", e))?;
    }
    if let Some(d) = &f.delimiter {
        let b = d.as_bytes();
        if b.len() != 1 || b[0] == b'"' || b[0] == b'\n' {
            return Err((
                "delimiter",
                format!("{d:?}: give one character such as \",\", \";\" or \"\\t\""),
            ));
        }
        fields.delimiter = b[0];
    }
    let aggregate = match &f.aggregate {
        Some(a) => Aggregate::from_name(a)
            .ok_or(("aggregate", format!("{a:?} is not sum, count or mean")))?,
        None => Aggregate::Sum,
    };
    if aggregate != Aggregate::Count && fields.value.is_none() && f.aggregate.is_some() {
        return Err((
            "aggregate",
            format!(
                "{} needs a value field (value = \"amount\"); without one each event counts as 1",
                aggregate.name()
            ),
        ));
    }
    let missing = match &f.missing {
        Some(m) => {
            Missing::from_name(m).ok_or(("missing", format!("{m:?} is not zero or skip")))?
        }
        None => aggregate.default_missing(),
    };
    let interval = match &f.interval {
        None => DEFAULT_INTERVAL,
        Some(v) => {
            let d = interval(v).map_err(|e| ("interval", e))?;
            if matches!(place, Place::File(_)) {
                return Err((
                    "interval",
                    "only a url is polled; a file is read again when it changes".to_owned(),
                ));
            }
            d
        }
    };
    let against = match f.against.as_deref().map(|a| a.trim().to_ascii_lowercase()) {
        None => Against::ALL.to_vec(),
        Some(a) if a == "both" => Against::ALL.to_vec(),
        Some(a) if a == "cost" => vec![Against::Cost],
        Some(a) if a == "tokens" => vec![Against::Tokens],
        Some(a) => {
            return Err(("against", format!("{a:?} is not cost, tokens or both")));
        }
    };
    Ok(Source {
        name,
        place,
        format,
        fields,
        aggregate,
        missing,
        interval,
        against,
    })
}

/// `~/x` from the home directory, a relative path from the config file's directory.
fn resolve_path(p: &Path, file: Option<&Path>, home: Option<&Path>) -> PathBuf {
    if let (Ok(rest), Some(h)) = (p.strip_prefix("~"), home) {
        return h.join(rest);
    }
    if p.is_relative()
        && let Some(dir) = file.and_then(Path::parent)
    {
        return dir.join(p);
    }
    p.to_path_buf()
}

/// `interval`: seconds as a number, or text such as `90s`, `5m`, `1h`.
fn interval(v: &toml::Value) -> Result<Duration, String> {
    let secs = match v {
        toml::Value::Integer(n) if *n > 0 => *n as u64,
        toml::Value::String(s) => {
            let t = s.trim();
            let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
            let n: u64 = num
                .parse()
                .map_err(|_| format!("{t:?} is not a time such as \"90s\", \"5m\" or \"1h\""))?;
            let mult = match unit.trim() {
                "" | "s" => 1,
                "m" => 60,
                "h" => 3600,
                _ => {
                    return Err(format!(
                        "{t:?} is not a time such as \"90s\", \"5m\" or \"1h\""
                    ));
                }
            };
            n.saturating_mul(mult)
        }
        _ => return Err("give seconds, or a time such as \"5m\"".to_owned()),
    };
    let d = Duration::from_secs(secs);
    if d < MIN_INTERVAL {
        return Err(format!(
            "{secs} s is too often: at least {} s",
            MIN_INTERVAL.as_secs()
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Doc {
        #[serde(default)]
        correlate: Vec<FileCorrelate>,
    }

    fn read(text: &str) -> Result<Vec<Source>> {
        let doc: Doc = toml::from_str(text).unwrap();
        sources(
            &doc.correlate,
            text,
            Some(Path::new("/c/redline/config.toml")),
            Some(Path::new("/home/al")),
        )
    }

    #[test]
    fn a_csv_file_and_a_url() {
        let s = read(
            "[[correlate]]\nname = \"hours\"\npath = \"hours.csv\"\ntime = \"date\"\nvalue = \"hours\"\n\n\
             [[correlate]]\nname = \"spend\"\nurl = \"http://127.0.0.1:9/tx\"\ntime = \"at\"\nvalue = \"amount\"\nitems = \"/transactions\"\ninterval = \"2m\"\nagainst = \"cost\"\naggregate = \"mean\"\n",
        )
        .unwrap();
        assert_eq!(s[0].place, Place::File("/c/redline/hours.csv".into()));
        assert_eq!(s[0].format, Some(Format::Csv));
        assert_eq!(s[0].against, Against::ALL);
        assert_eq!(
            (s[0].aggregate, s[0].missing),
            (Aggregate::Sum, Missing::Zero)
        );
        assert_eq!(
            s[1].format, None,
            "a URL's format waits for its Content-Type"
        );
        assert_eq!(s[1].fields.items.as_deref(), Some("/transactions"));
        assert_eq!(s[1].interval, Duration::from_secs(120));
        assert_eq!(s[1].missing, Missing::Skip);
        assert_eq!(s[1].against, [Against::Cost]);
    }

    #[test]
    fn mistakes_name_the_line_and_the_key() {
        let two = "[[correlate]]\nname = \"a\"\npath = \"~/a.csv\"\ntime = \"d\"\n\n[[correlate]]\nname = \"b\"\nurl = \"ftp://x\"\ntime = \"d\"\n";
        let e = read(two).unwrap_err().to_string();
        assert_eq!(
            e,
            "/c/redline/config.toml:8: correlate[2].url: \"ftp://x\" is not an http:// or https:// URL"
        );
        for (text, says) in [
            (
                "[[correlate]]\nname = \"a\"\npath = \"a.txt\"\ntime = \"d\"\n",
                ":3: correlate[1].path: /c/redline/a.txt does not say its format",
            ),
            (
                "[[correlate]]\nname = \"a\"\npath = \"a.csv\"\ntime = \"d\"\ninterval = \"5m\"\n",
                ":5: correlate[1].interval: only a url is polled",
            ),
            (
                "[[correlate]]\nname = \"a\"\nurl = \"https://x.example/a\"\ntime = \"d\"\ninterval = 3\n",
                ":5: correlate[1].interval: 3 s is too often",
            ),
            (
                "[[correlate]]\nname = \"a\"\npath = \"a.csv\"\ntime = \"d\"\ntime_format = \"iso\"\n",
                ":5: correlate[1].time_format: \"iso\" is not a time format",
            ),
            (
                "[[correlate]]\nname = \"a\"\npath = \"a.csv\"\ntime = \"d\"\n[[correlate]]\nname = \"a\"\npath = \"b.csv\"\ntime = \"d\"\n",
                ":6: correlate[2].name: \"a\" names another",
            ),
            (
                "[[correlate]]\nname = \"a\"\npath = \"a.json\"\ntime = \"d\"\naggregate = \"sum\"\n",
                ":5: correlate[1].aggregate: sum needs a value field",
            ),
        ] {
            let e = read(text).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
        let s = read("[[correlate]]\nname = \"a\"\npath = \"~/a.csv\"\ntime = \"d\"\n").unwrap();
        assert_eq!(s[0].place, Place::File("/home/al/a.csv".into()));
    }
}
