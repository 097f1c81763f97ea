//! Prices: a table of per-model rates kept as data (`data/prices.toml`), and the cost of
//! one response under the three cost modes ccusage users know.
//!
//! The bundled table is Anthropic's list prices with the date each was read. A user file
//! of the same format adds models or replaces entries by id. Tiers are whole-request: once
//! a request's prompt passes a tier's threshold, every token of it is billed at the tier's
//! rates, as Anthropic bills long context (ccusage instead tiers each token field apart,
//! which under-prices such requests).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::ledger::{Entry, FLAG_FAST, FLAG_GEO_US};

/// The price table shipped inside the binary.
pub const BUNDLED: &str = include_str!("../data/prices.toml");

/// Rates in US dollars per million tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rates {
    /// Uncached input.
    pub input: f64,
    /// Output (thinking included).
    pub output: f64,
    /// Cache writes with the 5-minute lifetime.
    pub cache_write_5m: f64,
    /// Cache writes with the 1-hour lifetime.
    pub cache_write_1h: f64,
    /// Cache reads.
    pub cache_read: f64,
}

/// A whole-request premium above a prompt size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tier {
    /// The tier applies when input + cache writes + cache reads exceed this.
    pub above_input_tokens: u64,
    /// The rates for every token of such a request.
    pub rates: Rates,
    /// The same per token, worked out once when the table is loaded.
    per_token: Rates,
}

/// One model's entry in the table.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelPrice {
    /// Display name.
    pub name: String,
    /// Model ids as transcripts write them.
    pub ids: Vec<String>,
    /// Base rates.
    pub rates: Rates,
    /// The same per token, worked out once when the table is loaded.
    per_token: Rates,
    /// Multiplier on every rate for `speed: "fast"` requests, when the model has fast mode.
    pub fast_multiplier: Option<f64>,
    /// Multiplier on every rate for `inference_geo: "us"` requests.
    pub us_geo_multiplier: Option<f64>,
    /// Prompt-size tiers.
    pub tiers: Vec<Tier>,
    /// Where the figures were read.
    pub source: Option<String>,
    /// When they were read.
    pub read: Option<String>,
    /// Free text.
    pub note: Option<String>,
}

// The file's own shape: flat fields (no `flatten`, which would hide the line of a bad
// value and let misspelt keys through).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    version: u32,
    #[serde(default)]
    model: Vec<RawModel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    name: String,
    ids: Vec<String>,
    input: f64,
    output: f64,
    cache_write_5m: f64,
    cache_write_1h: f64,
    cache_read: f64,
    #[serde(default)]
    fast_multiplier: Option<f64>,
    #[serde(default)]
    us_geo_multiplier: Option<f64>,
    #[serde(default)]
    tier: Vec<RawTier>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    read: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    above_input_tokens: u64,
    input: f64,
    output: f64,
    cache_write_5m: f64,
    cache_write_1h: f64,
    cache_read: f64,
}

impl From<RawModel> for ModelPrice {
    fn from(m: RawModel) -> ModelPrice {
        let rates = Rates {
            input: m.input,
            output: m.output,
            cache_write_5m: m.cache_write_5m,
            cache_write_1h: m.cache_write_1h,
            cache_read: m.cache_read,
        };
        let tiers = m
            .tier
            .into_iter()
            .map(|t| {
                let rates = Rates {
                    input: t.input,
                    output: t.output,
                    cache_write_5m: t.cache_write_5m,
                    cache_write_1h: t.cache_write_1h,
                    cache_read: t.cache_read,
                };
                Tier {
                    above_input_tokens: t.above_input_tokens,
                    rates,
                    per_token: rates.per_token(),
                }
            })
            .collect();
        ModelPrice {
            name: m.name,
            ids: m.ids,
            rates,
            per_token: rates.per_token(),
            fast_multiplier: m.fast_multiplier,
            us_geo_multiplier: m.us_geo_multiplier,
            tiers,
            source: m.source,
            read: m.read,
            note: m.note,
        }
    }
}

/// A price table could not be read.
#[derive(Debug)]
pub struct PriceError {
    /// Which table: a path or `bundled`.
    pub origin: String,
    /// What was wrong, with the line when the parser knows it.
    pub message: String,
}

impl fmt::Display for PriceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

impl std::error::Error for PriceError {}

/// Model id to price entry.
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    models: Vec<ModelPrice>,
    by_id: HashMap<String, usize>,
}

impl PriceTable {
    /// The bundled table.
    pub fn bundled() -> PriceTable {
        match PriceTable::parse(BUNDLED, "bundled prices.toml") {
            Ok(t) => t,
            // The bundled file is tested; this cannot happen in a released binary.
            Err(e) => panic!("{e}"),
        }
    }

    /// The bundled table with a user file's entries laid over it (an entry replaces every
    /// bundled id it names).
    pub fn bundled_with(user_file: Option<&Path>) -> Result<PriceTable, PriceError> {
        let mut table = PriceTable::bundled();
        if let Some(path) = user_file {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|e| PriceError {
                origin: origin.clone(),
                message: e.to_string(),
            })?;
            table.overlay(PriceTable::parse(&text, &origin)?);
        }
        Ok(table)
    }

    /// Parses a table in the `prices.toml` format.
    pub fn parse(text: &str, origin: &str) -> Result<PriceTable, PriceError> {
        let err = |message: String| PriceError {
            origin: origin.to_string(),
            message,
        };
        let file: TableFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            err(match line {
                Some(l) => format!("line {l}: {}", e.message()),
                None => e.message().to_string(),
            })
        })?;
        if file.version != 1 {
            return Err(err(format!(
                "unsupported version {} (this redline reads 1)",
                file.version
            )));
        }
        let mut table = PriceTable::default();
        for m in file.model {
            if m.ids.is_empty() {
                return Err(err(format!("model {:?} lists no ids", m.name)));
            }
            table.insert(m.into());
        }
        Ok(table)
    }

    fn insert(&mut self, m: ModelPrice) {
        let index = self.models.len();
        for id in &m.ids {
            self.by_id.insert(normalize(id), index);
        }
        self.models.push(m);
    }

    fn overlay(&mut self, other: PriceTable) {
        for m in other.models {
            self.insert(m);
        }
    }

    /// The entry for a model id as written in a transcript. Tried in order: the id as it
    /// is (case-insensitive, `.` and `@` read as `-`); without a provider prefix
    /// (`anthropic/`, `anthropic.`, `us.anthropic.`), a `[1m]`-style suffix or a `-v1:0`
    /// version tag; without a trailing `-YYYYMMDD` date; and last, the longest known id
    /// that stands inside it as whole dash-separated parts (`claude-opus-4-6-thinking`
    /// is Opus 4.6), where a known id ending in a number never matches a longer version
    /// (`claude-opus-4` is not `claude-opus-4-6`) but does match a date after it.
    pub fn lookup(&self, model: &str) -> Option<&ModelPrice> {
        let mut id = normalize(model);
        if let Some(&i) = self.by_id.get(&id) {
            return Some(&self.models[i]);
        }
        for prefix in ["us-anthropic-", "eu-anthropic-", "anthropic/", "anthropic-"] {
            if let Some(rest) = id.strip_prefix(prefix) {
                id = rest.to_string();
            }
        }
        for cut in ["[", "-v1:"] {
            if let Some(i) = id.find(cut) {
                id.truncate(i);
            }
        }
        if let Some(&i) = self
            .by_id
            .get(&id)
            .or_else(|| self.by_id.get(strip_date(&id)))
        {
            return Some(&self.models[i]);
        }
        self.by_id
            .iter()
            .filter(|(known, _)| contains_as_parts(&id, known))
            .max_by(|a, b| a.0.len().cmp(&b.0.len()).then(b.0.cmp(a.0)))
            .map(|(_, &i)| &self.models[i])
    }

    /// Every entry.
    pub fn models(&self) -> &[ModelPrice] {
        &self.models
    }
}

fn normalize(id: &str) -> String {
    id.trim()
        .chars()
        .map(|c| match c {
            '.' | '@' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Whether `known` occurs in `id` as whole parts: not glued to letters or digits on either
/// side, and when it ends in a digit, not followed by `-<digits>` unless those are an
/// eight-digit date.
fn contains_as_parts(id: &str, known: &str) -> bool {
    let (hay, needle) = (id.as_bytes(), known.as_bytes());
    if needle.is_empty() || needle.len() > hay.len() {
        return false;
    }
    (0..=hay.len() - needle.len()).any(|at| {
        if &hay[at..at + needle.len()] != needle {
            return false;
        }
        if at > 0 && hay[at - 1].is_ascii_alphanumeric() {
            return false;
        }
        let after = &hay[at + needle.len()..];
        match after.first() {
            None => true,
            Some(c) if c.is_ascii_alphanumeric() => false,
            Some(_) if needle.last().is_some_and(u8::is_ascii_digit) => {
                let digits = after[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                digits == 0
                    || (digits == 8 && after.get(9).is_none_or(|c| !c.is_ascii_alphanumeric()))
            }
            Some(_) => true,
        }
    })
}

/// A model id without a trailing release date (`-20250929` or `@20250929`).
pub fn strip_date(id: &str) -> &str {
    let b = id.as_bytes();
    if b.len() > 9
        && (b[b.len() - 9] == b'-' || b[b.len() - 9] == b'@')
        && b[b.len() - 8..].iter().all(u8::is_ascii_digit)
    {
        &id[..id.len() - 9]
    } else {
        id
    }
}

/// The cost of one response at these prices, in US dollars.
///
/// Each token kind is multiplied by its per-token rate and the products are added in a
/// fixed order (input, output, 5-minute writes, 1-hour writes, reads), the way ccusage
/// adds them, so equal inputs give equal dollars to the last digit.
pub fn cost_of(price: &ModelPrice, e: &Entry) -> f64 {
    let t = e.tokens();
    let prompt = t.prompt();
    let rates = price
        .tiers
        .iter()
        .filter(|tier| prompt > tier.above_input_tokens)
        .max_by_key(|tier| tier.above_input_tokens)
        .map_or(price.per_token, |tier| tier.per_token);
    let write_1h = e.cache_write_1h().min(t.cache_creation);
    let write_5m = t.cache_creation - write_1h;
    let part = |n: u64, rate: f64| if n == 0 { 0.0 } else { n as f64 * rate };
    let cost = part(t.input, rates.input)
        + part(t.output, rates.output)
        + part(write_5m, rates.cache_write_5m)
        + part(write_1h, rates.cache_write_1h)
        + part(t.cache_read, rates.cache_read);
    let mut mult = 1.0;
    if e.has(FLAG_FAST) {
        mult *= price.fast_multiplier.unwrap_or(1.0);
    }
    if e.has(FLAG_GEO_US) {
        mult *= price.us_geo_multiplier.unwrap_or(1.0);
    }
    cost * mult
}

impl Rates {
    /// Per-million rates as per-token rates: each the double nearest the decimal rate x
    /// 10^-6 (shifting the exponent in text, since dividing by 10^6 can land one bit off,
    /// and ccusage's table holds per-token rates written in decimal).
    fn per_token(&self) -> Rates {
        let shift = |per_million: f64| -> f64 {
            format!("{per_million}e-6")
                .parse()
                .unwrap_or(per_million / 1_000_000.0)
        };
        Rates {
            input: shift(self.input),
            output: shift(self.output),
            cache_write_5m: shift(self.cache_write_5m),
            cache_write_1h: shift(self.cache_write_1h),
            cache_read: shift(self.cache_read),
        }
    }
}

/// How a response's cost is found (ccusage's `--mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CostMode {
    /// The line's own `costUSD` when it has one, else computed from tokens.
    #[default]
    Auto,
    /// Always computed from tokens.
    Calculate,
    /// Only the line's own `costUSD` (0 without one).
    Display,
}

impl std::str::FromStr for CostMode {
    type Err = String;
    fn from_str(s: &str) -> Result<CostMode, String> {
        match s {
            "auto" => Ok(CostMode::Auto),
            "calculate" => Ok(CostMode::Calculate),
            "display" => Ok(CostMode::Display),
            other => Err(format!(
                "unknown cost mode {other:?} (auto, calculate or display)"
            )),
        }
    }
}

/// What pricing one response came to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Priced {
    /// A cost in US dollars.
    Cost(f64),
    /// The model is not in the table (and the line had no `costUSD` to use): reported,
    /// counted as 0 in sums.
    UnknownModel,
}

impl Priced {
    /// The dollars, 0 for an unknown model.
    pub fn usd(self) -> f64 {
        match self {
            Priced::Cost(c) => c,
            Priced::UnknownModel => 0.0,
        }
    }
}

/// Prices one response. `price` is its model's entry, when the model is in the table
/// (look it up once per model with [`PriceTable::lookup`], not once per response).
pub fn price_entry(mode: CostMode, price: Option<&ModelPrice>, e: &Entry) -> Priced {
    let computed = || match price {
        Some(p) => Priced::Cost(cost_of(p, e)),
        // Tokenless lines (synthetic error messages) cost nothing whatever their model.
        None if e.tokens().total() == 0 => Priced::Cost(0.0),
        None => Priced::UnknownModel,
    };
    if e.has(crate::ledger::FLAG_AGGREGATE) {
        return Priced::Cost(e.cost_usd().unwrap_or(0.0));
    }
    match (mode, e.cost_usd()) {
        (CostMode::Display, c) => Priced::Cost(c.unwrap_or(0.0)),
        (CostMode::Auto, Some(c)) => Priced::Cost(c),
        (CostMode::Auto, None) | (CostMode::Calculate, _) => computed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_core::TokenCounts;

    fn entry(t: TokenCounts, h1: u64, flags: u8, cost: Option<f64>) -> Entry {
        let mut e = Entry::with_usage(0, t, h1, cost, None, 0, 1);
        e.flags = flags;
        e
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn bundled_table_loads_and_names_every_family() {
        let t = PriceTable::bundled();
        assert!(t.models().len() >= 15);
        for m in t.models() {
            assert!(
                m.read.is_some() && m.source.is_some(),
                "{} lacks provenance",
                m.name
            );
            assert!(
                m.rates.input > 0.0 && m.rates.output > m.rates.input,
                "{}",
                m.name
            );
        }
        for id in [
            "claude-opus-4-6",
            "claude-sonnet-4-5-20250929",
            "claude-haiku-4-5-20251001",
        ] {
            assert!(t.lookup(id).is_some(), "{id}");
        }
    }

    #[test]
    fn ids_match_through_dates_prefixes_and_suffixes() {
        let t = PriceTable::bundled();
        let name = |id: &str| t.lookup(id).map(|m| m.name.clone());
        let opus46 = name("claude-opus-4-6");
        assert!(opus46.is_some());
        assert_eq!(name("claude-opus-4-6-20260205"), opus46);
        assert_eq!(name("anthropic/claude-opus-4-6"), opus46);
        assert_eq!(name("claude-opus-4-6[1m]"), opus46);
        assert_eq!(name("CLAUDE-OPUS-4-6"), opus46);
        assert_eq!(name("claude-opus-4-6@20260205"), opus46);
        assert_eq!(name("claude-opus-4.6"), opus46);
        assert_eq!(name("claude-opus-4-6-thinking"), opus46);
        assert_eq!(name("us.anthropic.claude-opus-4-6-v1:0"), opus46);
        // A known id ending in a number never stands for a later version.
        assert_ne!(name("claude-opus-4-9"), name("claude-opus-4"));
        assert_eq!(name("claude-sonnet-4-5-2"), None);
        assert_eq!(name("gpt-5"), None);
        assert_eq!(name("<synthetic>"), None);
    }

    #[test]
    fn opus_4_6_rates_with_both_cache_lifetimes() {
        let t = PriceTable::bundled();
        let p = t.lookup("claude-opus-4-6").unwrap();
        // 1M each of input, output, 5m write (2M writes of which 1M 1h), read.
        let e = entry(
            TokenCounts::new(1_000_000, 1_000_000, 2_000_000, 1_000_000),
            1_000_000,
            0,
            None,
        );
        assert!(close(cost_of(p, &e), 5.0 + 25.0 + 6.25 + 10.0 + 0.5));
        let fast = entry(e.tokens(), e.cache_write_1h(), FLAG_FAST, None);
        assert!(close(
            cost_of(p, &fast),
            6.0 * (5.0 + 25.0 + 6.25 + 10.0 + 0.5)
        ));
        let us = entry(e.tokens(), e.cache_write_1h(), FLAG_GEO_US, None);
        assert!(close(
            cost_of(p, &us),
            1.1 * (5.0 + 25.0 + 6.25 + 10.0 + 0.5)
        ));
    }

    #[test]
    fn long_context_prices_the_whole_request_at_the_premium() {
        let t = PriceTable::bundled();
        let p = t.lookup("claude-sonnet-4-5").unwrap();
        // Exactly 200k prompt: base rates.
        let at = entry(TokenCounts::new(1_000, 10_000, 0, 199_000), 0, 0, None);
        let base = (1_000.0 * 3.0 + 10_000.0 * 15.0 + 199_000.0 * 0.3) / 1e6;
        assert!(close(cost_of(p, &at), base));
        // One token more: every token at 6 / 22.50 / 0.60.
        let over = entry(TokenCounts::new(1_001, 10_000, 0, 199_000), 0, 0, None);
        let premium = (1_001.0 * 6.0 + 10_000.0 * 22.5 + 199_000.0 * 0.6) / 1e6;
        assert!(close(cost_of(p, &over), premium));
    }

    #[test]
    fn cost_modes() {
        let t = PriceTable::bundled();
        let e = entry(TokenCounts::new(1_000_000, 0, 0, 0), 0, 0, Some(42.0));
        let m = t.lookup("claude-opus-4-6");
        assert_eq!(price_entry(CostMode::Auto, m, &e), Priced::Cost(42.0));
        assert_eq!(price_entry(CostMode::Calculate, m, &e), Priced::Cost(5.0));
        assert_eq!(price_entry(CostMode::Display, m, &e), Priced::Cost(42.0));
        let no_cost = entry(e.tokens(), 0, 0, None);
        assert_eq!(
            price_entry(CostMode::Display, m, &no_cost),
            Priced::Cost(0.0)
        );
        assert_eq!(
            price_entry(CostMode::Auto, t.lookup("mystery-1"), &no_cost),
            Priced::UnknownModel
        );
        // The line's own cost still counts for a model the table lacks.
        assert_eq!(
            price_entry(CostMode::Auto, t.lookup("mystery-1"), &e),
            Priced::Cost(42.0)
        );
    }

    #[test]
    fn user_file_overrides_by_id_and_errors_name_the_line() {
        let user = "version = 1\n[[model]]\nname = \"Mine\"\nids = [\"claude-opus-4-6\", \"house-model\"]\ninput = 1.0\noutput = 2.0\ncache_write_5m = 0.0\ncache_write_1h = 0.0\ncache_read = 0.0\n";
        let mut t = PriceTable::bundled();
        t.overlay(PriceTable::parse(user, "mine.toml").unwrap());
        assert_eq!(t.lookup("claude-opus-4-6").unwrap().name, "Mine");
        assert_eq!(t.lookup("house-model").unwrap().name, "Mine");
        let bad = user.replace("input = 1.0", "input = \"one\"");
        let e = PriceTable::parse(&bad, "mine.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("mine.toml: line ") && e.contains("invalid type"),
            "{e}"
        );
    }
}
