//! Reading a source once: the file read or the URL fetched, then parsed into rows. The
//! terminal reads each source once per command; the daemon keeps what it read
//! ([`super::keeper`]).

use std::sync::Arc;

use redline_engine::correlate::{Format, Rows, parse};

use super::fetch::fetch;
use super::source::{Place, Source};

/// A source with what was last read of it.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The source.
    pub source: Source,
    /// The rows of the last good read; `None` when no read has succeeded.
    pub rows: Option<Arc<Rows>>,
    /// The format they were read as.
    pub format: Option<Format>,
    /// Why the last read failed (the rows, if any, are from an earlier one).
    pub error: Option<String>,
    /// When the rows were read.
    pub read_at: Option<jiff::Timestamp>,
}

impl Loaded {
    /// The source, not read yet.
    pub fn new(source: Source) -> Loaded {
        Loaded {
            source,
            rows: None,
            format: None,
            error: None,
            read_at: None,
        }
    }

    /// Takes the outcome of a read: good rows replace the old ones; a failure keeps them.
    pub fn take(&mut self, read: Result<(Rows, Format), String>) {
        match read {
            Ok((rows, format)) => {
                self.rows = Some(Arc::new(rows));
                self.format = Some(format);
                self.error = None;
                self.read_at = Some(jiff::Timestamp::now());
            }
            Err(e) => self.error = Some(e),
        }
    }
}

/// Reads `source` now: its rows and the format they were read as, or why not (naming the
/// file or URL).
pub fn read(source: &Source) -> Result<(Rows, Format), String> {
    let origin = source.place.origin();
    let (text, format) = match &source.place {
        Place::File(path) => {
            let text = std::fs::read(path).map_err(|e| format!("cannot read {origin}: {e}"))?;
            // Validated when the config was read: a file's format is known.
            (text_of(text), source.format.unwrap_or(Format::Csv))
        }
        Place::Url(url) => {
            let got = fetch(url).map_err(|e| format!("cannot fetch {url}: {e}"))?;
            let format = source
                .format
                .or_else(|| {
                    got.content_type
                        .as_deref()
                        .and_then(Format::from_content_type)
                })
                .unwrap_or(Format::Json);
            (got.body, format)
        }
    };
    let rows = parse(&text, format, &source.fields, &origin)?;
    Ok((rows, format))
}

fn text_of(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Every source read once, in order.
pub fn read_all(sources: &[Source]) -> Vec<Loaded> {
    sources
        .iter()
        .map(|s| {
            let mut l = Loaded::new(s.clone());
            l.take(read(s));
            l
        })
        .collect()
}
