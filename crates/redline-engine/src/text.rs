//! Character statistics of the conversation's text: em-dashes, en-dashes and words, the
//! most repeated phrases and a watch list, for the assistant's visible text (main chain
//! and subagents apart) and the user's own prompts.
//!
//! Pure: the caller hands in each distinct piece of text once, with where it belongs
//! (side, day, model, project, session); [`crate::textscan`] reads the transcripts and does
//! the dedup. Counts only: no text is kept but the phrases of the bounded [`TopK`] sketch
//! and the watch list itself.

use std::collections::{BTreeMap, HashMap};

/// The em-dash, U+2014.
pub const EM_DASH: char = '\u{2014}';
/// The en-dash, U+2013.
pub const EN_DASH: char = '\u{2013}';

/// How many phrases the top-k sketch holds: its memory does not grow past this.
pub const TOP_K_CAPACITY: usize = 1000;

/// The most bars a phrase's sparkline has: a longer range puts several days in a bar, so
/// the sketch's memory stays `TOP_K_CAPACITY` x this many counters.
pub const SPARK_MAX_BARS: usize = 92;

/// Phrases watched by default (`[text] watch` in config.toml replaces the list).
pub const DEFAULT_WATCH: [&str; 8] = [
    "You're absolutely right",
    "Perfect!",
    "Great question",
    "Let me check",
    "I apologize",
    "You're right",
    "Excellent",
    "Now I understand",
];

/// Dashes and words of some text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Em-dashes (U+2014).
    pub em_dashes: u64,
    /// En-dashes (U+2013).
    pub en_dashes: u64,
    /// Whitespace-separated words.
    pub words: u64,
    /// Pieces of text counted (response text blocks, or prompts).
    pub pieces: u64,
}

impl Counts {
    /// Counts `text` as one piece.
    pub fn of(text: &str) -> Counts {
        let mut c = Counts {
            pieces: 1,
            ..Counts::default()
        };
        // U+2014 is E2 80 94 in UTF-8, U+2013 is E2 80 93: found by their lead byte.
        let b = text.as_bytes();
        for i in memchr::memchr_iter(0xE2, b) {
            match b.get(i + 1..i + 3) {
                Some([0x80, 0x94]) => c.em_dashes += 1,
                Some([0x80, 0x93]) => c.en_dashes += 1,
                _ => {}
            }
        }
        c.words = text.split_whitespace().count() as u64;
        c
    }

    /// Adds `o`.
    pub fn add(&mut self, o: &Counts) {
        self.em_dashes += o.em_dashes;
        self.en_dashes += o.en_dashes;
        self.words += o.words;
        self.pieces += o.pieces;
    }

    /// Em-dashes per 1,000 words (0 without words).
    pub fn em_per_1k_words(&self) -> f64 {
        if self.words == 0 {
            0.0
        } else {
            self.em_dashes as f64 * 1000.0 / self.words as f64
        }
    }
}

/// Whose text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The assistant on the main chain.
    Main,
    /// The assistant in a subagent (`isSidechain`).
    Subagent,
    /// The user's own typed prompts.
    User,
}

impl Side {
    /// The name used in JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            Side::Main => "main",
            Side::Subagent => "subagent",
            Side::User => "user",
        }
    }
}

/// Lower case, typographic apostrophes and quotes made plain, markdown emphasis dropped,
/// whitespace collapsed: the form phrases and the watch list are compared in.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    // ASCII, which most text is, a byte at a time; anything else a char at a time.
    let mut rest = text;
    while let Some(&b) = rest.as_bytes().first() {
        if b.is_ascii() {
            rest = &rest[1..];
            match b {
                b'*' | b'_' | b'#' | b'`' => {}
                b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => space = !out.is_empty(),
                _ => {
                    if space {
                        out.push(' ');
                        space = false;
                    }
                    out.push(char::from(b.to_ascii_lowercase()));
                }
            }
            continue;
        }
        let Some(ch) = rest.chars().next() else { break };
        rest = &rest[ch.len_utf8()..];
        let ch = match ch {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            '*' | '_' | '#' | '`' => continue,
            c => c,
        };
        if ch.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        if ch.is_ascii() {
            out.push(ch.to_ascii_lowercase());
        } else {
            out.extend(ch.to_lowercase());
        }
    }
    out
}

/// The phrases of `text`, each normalised and given to `each` once: for every sentence,
/// the whole sentence when it has at most 6 words, else its opener (the first clause,
/// before a comma or colon, when it has 2 to 6 words, else its first 3 words). A lone
/// word counts as a sentence only when it ends with `!` ("Perfect!").
pub fn phrases(text: &str, mut each: impl FnMut(&str)) {
    for sentence in sentences(text) {
        // Only the first 7 words matter: a sentence of at most 6 is whole, a longer one
        // gives its opener.
        let head: Vec<&str> = sentence.split_whitespace().take(7).collect();
        let n = normalise(&head.join(" "));
        let words: Vec<&str> = n.split(' ').filter(|w| !w.is_empty()).collect();
        if words.is_empty() || !words[0].chars().next().is_some_and(char::is_alphabetic) {
            continue;
        }
        if head.len() <= 6 {
            if words.len() >= 2 || sentence.trim_end().ends_with('!') {
                each(&trim_phrase(&n));
            }
            continue;
        }
        let clause = n.split([',', ':', ';']).next().unwrap_or("");
        let clause_words = clause.split(' ').filter(|w| !w.is_empty()).count();
        if (2..=6).contains(&clause_words) {
            each(&trim_phrase(clause));
        } else {
            let opener: Vec<&str> = words
                .iter()
                .take(3)
                .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\''))
                .collect();
            each(&trim_phrase(&opener.join(" ")));
        }
    }
}

/// Trailing punctuation off a phrase, except one `!` or `?`, which says what it was.
fn trim_phrase(p: &str) -> String {
    let t = p.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '!' && c != '?');
    let t = t.trim_end_matches(['!', '?']);
    let end = &p[t.len()..];
    let mark = end.chars().find(|c| *c == '!' || *c == '?');
    let mut s = t
        .trim_end_matches(|c: char| !c.is_alphanumeric() && c != '\'')
        .to_owned();
    if let Some(m) = mark {
        s.push(m);
    }
    s
}

/// Sentences of `text`: split at line ends and after `.`, `!` or `?` followed by a space.
/// Code blocks (between lines starting with three backticks) and list markers are passed
/// over.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    let mut in_code = false;
    text.lines()
        .filter(move |l| {
            if l.trim_start().starts_with("```") {
                in_code = !in_code;
                return false;
            }
            !in_code
        })
        .flat_map(|l| {
            let l = l.trim_start_matches(|c: char| {
                c.is_whitespace() || c == '-' || c == '>' || c == '|' || c == '*'
            });
            let l = l.trim_start_matches(|c: char| c.is_ascii_digit());
            let l = l.strip_prefix(". ").unwrap_or(l);
            split_sentences(l)
        })
}

fn split_sentences(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let b = line.as_bytes();
    for i in 0..b.len() {
        if matches!(b[i], b'.' | b'!' | b'?') && b.get(i + 1).is_none_or(|c| *c == b' ') {
            let s = line[start..=i].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = i + 1;
        }
    }
    let s = line[start..].trim();
    if !s.is_empty() {
        out.push(s);
    }
    out
}

/// A Space-Saving top-k sketch (Metwally et al.): at most `capacity` phrases, each with a
/// count that overestimates its true count by at most its `error`. Any phrase seen more
/// than n / capacity times is held. A full sketch gives the least counted slot to a new
/// phrase, found through a min-heap, so an update costs O(log capacity).
#[derive(Clone, Debug)]
pub struct TopK {
    capacity: usize,
    /// Bars per sparkline (0: none kept).
    bars: usize,
    slots: Vec<Slot>,
    index: HashMap<String, usize>,
    /// Slot numbers, a min-heap on count.
    heap: Vec<usize>,
    /// Where each slot stands in `heap`.
    pos: Vec<usize>,
    /// Phrases offered in all.
    pub offered: u64,
}

#[derive(Clone, Debug)]
struct Slot {
    phrase: String,
    count: u64,
    error: u64,
    /// The phrase's occurrences since it took this slot, per sparkline bar (empty when
    /// the sketch keeps no sparklines).
    bars: Vec<u32>,
}

/// One phrase of a [`TopK`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Phrase {
    /// The normalised phrase.
    pub phrase: String,
    /// Its count (an overestimate by at most `error`).
    pub count: u64,
    /// How much of `count` may belong to phrases it displaced.
    pub error: u64,
    /// Its occurrences per bar of the range's [`Spark`] since it was last given a slot
    /// (they add up to `count - error`); empty without a sparkline range.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bars: Vec<u32>,
}

impl TopK {
    /// An empty sketch of `capacity` phrases (at least 1).
    pub fn new(capacity: usize) -> TopK {
        TopK::with_bars(capacity, 0)
    }

    /// An empty sketch of `capacity` phrases that also keeps, for each phrase it holds, a
    /// sparkline of `bars` bars (at most [`SPARK_MAX_BARS`]).
    pub fn with_bars(capacity: usize, bars: usize) -> TopK {
        TopK {
            capacity: capacity.max(1),
            bars: bars.min(SPARK_MAX_BARS),
            slots: Vec::new(),
            index: HashMap::new(),
            heap: Vec::new(),
            pos: Vec::new(),
            offered: 0,
        }
    }

    /// Phrases held (never more than the capacity).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether nothing was offered.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Counts one occurrence of `phrase`.
    pub fn offer(&mut self, phrase: &str) {
        self.offer_at(phrase, None);
    }

    /// Counts one occurrence of `phrase` in sparkline bar `bar` (ignored when out of
    /// range or when the sketch keeps no sparklines).
    pub fn offer_at(&mut self, phrase: &str, bar: Option<usize>) {
        self.offered += 1;
        let bar = bar.filter(|b| *b < self.bars);
        if let Some(&s) = self.index.get(phrase) {
            let slot = &mut self.slots[s];
            slot.count += 1;
            if let Some(b) = bar {
                slot.bars[b] += 1;
            }
            self.sift_down(self.pos[s]);
            return;
        }
        if self.slots.len() < self.capacity {
            let s = self.slots.len();
            let mut bars = vec![0; self.bars];
            if let Some(b) = bar {
                bars[b] = 1;
            }
            self.slots.push(Slot {
                phrase: phrase.to_owned(),
                count: 1,
                error: 0,
                bars,
            });
            self.index.insert(phrase.to_owned(), s);
            self.heap.push(s);
            self.pos.push(self.heap.len() - 1);
            self.sift_up(self.heap.len() - 1);
            return;
        }
        let s = self.heap[0];
        let old = std::mem::replace(&mut self.slots[s].phrase, phrase.to_owned());
        self.index.remove(&old);
        self.index.insert(phrase.to_owned(), s);
        let slot = &mut self.slots[s];
        slot.error = slot.count;
        slot.count += 1;
        // The bars are the new phrase's own: what the slot counted before was another's.
        slot.bars.fill(0);
        if let Some(b) = bar {
            slot.bars[b] = 1;
        }
        self.sift_down(0);
    }

    /// The `n` most counted phrases, most first (ties by phrase).
    pub fn top(&self, n: usize) -> Vec<Phrase> {
        let mut all: Vec<Phrase> = self
            .slots
            .iter()
            .map(|s| Phrase {
                phrase: s.phrase.clone(),
                count: s.count,
                error: s.error,
                bars: s.bars.clone(),
            })
            .collect();
        all.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.phrase.cmp(&b.phrase)));
        all.truncate(n);
        all
    }

    fn less(&self, a: usize, b: usize) -> bool {
        self.slots[self.heap[a]].count < self.slots[self.heap[b]].count
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.pos[self.heap[a]] = a;
        self.pos[self.heap[b]] = b;
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.less(i, parent) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut least = i;
            if l < self.heap.len() && self.less(l, least) {
                least = l;
            }
            if r < self.heap.len() && self.less(r, least) {
                least = r;
            }
            if least == i {
                return;
            }
            self.swap(i, least);
            i = least;
        }
    }
}

/// Phrases counted exactly: case-insensitive, apostrophes normalised, occurrences anywhere
/// in the text (not overlapping).
#[derive(Clone, Debug)]
pub struct Watch {
    /// As configured, for display.
    pub phrases: Vec<String>,
    /// Each phrase normalised, with its searcher built once (not once per text).
    needles: Vec<memchr::memmem::Finder<'static>>,
}

impl Watch {
    /// The watch list of `phrases` (empty ones dropped).
    pub fn new<S: AsRef<str>>(phrases: &[S]) -> Watch {
        let (phrases, needles) = phrases
            .iter()
            .map(|p| (p.as_ref().to_owned(), normalise(p.as_ref())))
            .filter(|(_, n)| !n.is_empty())
            .map(|(p, n)| (p, memchr::memmem::Finder::new(n.as_bytes()).into_owned()))
            .unzip();
        Watch { phrases, needles }
    }

    /// How often each watched phrase occurs in `normalised` (text passed through
    /// [`normalise`]), in the list's order; occurrences do not overlap.
    pub fn count<'a>(&'a self, normalised: &'a str) -> impl Iterator<Item = u64> + 'a {
        let hay = normalised.as_bytes();
        self.needles.iter().map(move |f| {
            let (mut n, mut at) = (0, 0);
            while let Some(i) = f.find(&hay[at..]) {
                n += 1;
                at += i + f.needle().len();
            }
            n
        })
    }
}

/// What a piece of text adds, worked out apart from where it goes (so that workers can
/// do it while one thread adds them up): its counts, and for the assistant's text its
/// watch-list counts and phrases.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prepared {
    /// Dashes and words.
    pub counts: Counts,
    /// The watch list's counts, in its order (empty for prompts).
    pub watch: Vec<u64>,
    /// The phrases, normalised (empty for prompts).
    pub phrases: Vec<String>,
}

impl Prepared {
    /// Works out what `text` of `side` adds, with the watch list `watch`.
    pub fn new(watch: &Watch, side: Side, text: &str) -> Prepared {
        let counts = Counts::of(text);
        if side == Side::User {
            return Prepared {
                counts,
                ..Prepared::default()
            };
        }
        let mut phrases_of = Vec::new();
        phrases(text, |p| phrases_of.push(p.to_owned()));
        Prepared {
            counts,
            watch: watch.count(&normalise(text)).collect(),
            phrases: phrases_of,
        }
    }
}

/// Where a piece of text belongs.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    /// Whose text.
    pub side: Side,
    /// The local day, `YYYY-MM-DD`.
    pub day: &'a str,
    /// The model (assistant text), or `""`.
    pub model: &'a str,
    /// The project (directory name under `projects/`).
    pub project: &'a str,
    /// The session.
    pub session: &'a str,
}

/// The days a sparkline covers: `days` local days from `first`, drawn as `bars` bars
/// (one a day up to [`SPARK_MAX_BARS`] days, else several days a bar).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spark {
    /// The first day.
    pub first: jiff::civil::Date,
    /// How many days.
    pub days: u32,
    /// How many bars.
    pub bars: u32,
}

impl Spark {
    /// `days` days (at least 1) from `first`.
    pub fn new(first: jiff::civil::Date, days: u32) -> Spark {
        let days = days.max(1);
        Spark {
            first,
            days,
            bars: days.min(SPARK_MAX_BARS as u32),
        }
    }

    /// The bar of local day `day` (`YYYY-MM-DD`), if the range holds it.
    pub fn bar(&self, day: &str) -> Option<usize> {
        let d: jiff::civil::Date = day.parse().ok()?;
        let offset = self.first.until(d).ok()?.get_days();
        let offset = u32::try_from(offset).ok().filter(|o| *o < self.days)?;
        Some((u64::from(offset) * u64::from(self.bars) / u64::from(self.days)) as usize)
    }
}

/// The character statistics of everything handed in.
#[derive(Clone, Debug)]
pub struct Character {
    /// Per side.
    pub totals: BTreeMap<Side, Counts>,
    /// Per (side, model).
    pub by_model: BTreeMap<(Side, String), Counts>,
    /// Per (day, side).
    pub by_day: BTreeMap<(String, Side), Counts>,
    /// Per (project, side).
    pub by_project: BTreeMap<(String, Side), Counts>,
    /// Per (session, side).
    pub by_session: BTreeMap<(String, Side), Counts>,
    /// The assistant's (main chain and subagents) per (day, model).
    pub by_day_model: BTreeMap<(String, String), Counts>,
    /// The assistant's most repeated phrases (main chain and subagents).
    pub phrases: TopK,
    /// The watch list.
    pub watch: Watch,
    /// The watch list's counts in the assistant's text, in its order.
    pub watch_counts: Vec<u64>,
    /// The watch list's counts per model, in its order.
    pub watch_by_model: BTreeMap<String, Vec<u64>>,
    /// The watch list's counts per day, in its order (days with none left out).
    pub watch_by_day: BTreeMap<String, Vec<u64>>,
    /// The range the phrases' sparklines cover, if they are kept.
    pub spark: Option<Spark>,
    /// The last day looked up in `spark`, and its bar.
    last_bar: Option<(String, Option<usize>)>,
    keys: Keys,
}

impl Character {
    /// Nothing counted yet, with this watch list.
    pub fn new(watch: Watch) -> Character {
        Character::with_spark(watch, None)
    }

    /// Nothing counted yet, with this watch list, keeping a sparkline over `spark` for each
    /// phrase of the sketch.
    pub fn with_spark(watch: Watch, spark: Option<Spark>) -> Character {
        let bars = spark.map_or(0, |s| s.bars as usize);
        Character {
            totals: BTreeMap::new(),
            by_model: BTreeMap::new(),
            by_day: BTreeMap::new(),
            by_project: BTreeMap::new(),
            by_session: BTreeMap::new(),
            by_day_model: BTreeMap::new(),
            phrases: TopK::with_bars(TOP_K_CAPACITY, bars),
            watch_counts: vec![0; watch.phrases.len()],
            watch_by_model: BTreeMap::new(),
            watch_by_day: BTreeMap::new(),
            watch,
            spark,
            last_bar: None,
            keys: Keys::default(),
        }
    }

    /// The sparkline bar of `day`, remembering the last day asked (pieces come in runs
    /// of one day).
    fn bar(&mut self, day: &str) -> Option<usize> {
        let spark = self.spark?;
        match &self.last_bar {
            Some((d, bar)) if d == day => *bar,
            _ => {
                let bar = spark.bar(day);
                self.last_bar = Some((day.to_owned(), bar));
                bar
            }
        }
    }

    /// Counts one distinct piece of text at `place`; assistant text also feeds the phrases
    /// and the watch list. Returns the piece's counts and its watch-list counts.
    pub fn add(&mut self, place: Place<'_>, text: &str) -> (Counts, Vec<u64>) {
        let p = Prepared::new(&self.watch, place.side, text);
        self.add_prepared(place, &p);
        (p.counts, p.watch)
    }

    /// Counts a piece [`Prepared`] beforehand (on another thread) at `place`.
    pub fn add_prepared(&mut self, place: Place<'_>, p: &Prepared) {
        let c = &p.counts;
        let k = &mut self.keys;
        self.totals.entry(place.side).or_default().add(c);
        k.by_model.0 = place.side;
        set(&mut k.by_model.1, place.model);
        add_to(&mut self.by_model, &k.by_model, c);
        k.by_side.1 = place.side;
        for (map, key) in [
            (&mut self.by_day, place.day),
            (&mut self.by_project, place.project),
            (&mut self.by_session, place.session),
        ] {
            set(&mut k.by_side.0, key);
            add_to(map, &k.by_side, c);
        }
        if place.side == Side::User {
            return;
        }
        set(&mut k.pair.0, place.day);
        set(&mut k.pair.1, place.model);
        add_to(&mut self.by_day_model, &k.pair, c);
        let bar = self.bar(place.day);
        for phrase in &p.phrases {
            self.phrases.offer_at(phrase, bar);
        }
        for (held, n) in self.watch_counts.iter_mut().zip(&p.watch) {
            *held += n;
        }
        if p.watch.iter().any(|n| *n > 0) {
            for (map, key) in [
                (&mut self.watch_by_model, place.model),
                (&mut self.watch_by_day, place.day),
            ] {
                if !map.contains_key(key) {
                    map.insert(key.to_owned(), vec![0; p.watch.len()]);
                }
                if let Some(row) = map.get_mut(key) {
                    for (held, n) in row.iter_mut().zip(&p.watch) {
                        *held += n;
                    }
                }
            }
        }
    }

    /// The assistant's counts, main chain and subagents together.
    pub fn assistant(&self) -> Counts {
        let mut c = Counts::default();
        for side in [Side::Main, Side::Subagent] {
            if let Some(s) = self.totals.get(&side) {
                c.add(s);
            }
        }
        c
    }
}

/// Keys made in place, so that adding to a key already there allocates nothing.
#[derive(Clone, Debug)]
struct Keys {
    by_side: (String, Side),
    by_model: (Side, String),
    pair: (String, String),
}

impl Default for Keys {
    fn default() -> Keys {
        Keys {
            by_side: (String::new(), Side::Main),
            by_model: (Side::Main, String::new()),
            pair: (String::new(), String::new()),
        }
    }
}

/// `key` into `buf`, reusing its allocation.
fn set(buf: &mut String, key: &str) {
    buf.clear();
    buf.push_str(key);
}

/// Adds `c` at `key`, cloning the key only when it is new.
fn add_to<K: Ord + Clone>(map: &mut BTreeMap<K, Counts>, key: &K, c: &Counts) {
    match map.get_mut(key) {
        Some(held) => held.add(c),
        None => {
            map.insert(key.clone(), *c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_dashes_and_words() {
        let c = Counts::of("One \u{2014} two\u{2014}three, 1\u{2013}2  four\n");
        assert_eq!(c.em_dashes, 2);
        assert_eq!(c.en_dashes, 1);
        assert_eq!(c.words, 5);
        assert_eq!(Counts::of("").words, 0);
        let mut k = Counts::default();
        k.add(&Counts {
            em_dashes: 3,
            words: 1500,
            ..Counts::default()
        });
        assert_eq!(k.em_per_1k_words(), 2.0);
    }

    #[test]
    fn normalisation_folds_case_apostrophes_and_markup() {
        assert_eq!(
            normalise("  **You\u{2019}re   ABSOLUTELY** right!\n"),
            "you're absolutely right!"
        );
        assert_eq!(normalise("You're"), normalise("YOU\u{2018}RE"));
        assert_eq!(normalise("## Perfect"), "perfect");
    }

    fn all_phrases(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        phrases(text, |p| out.push(p.to_owned()));
        out
    }

    #[test]
    fn phrases_are_short_sentences_and_openers() {
        assert_eq!(
            all_phrases(
                "You\u{2019}re absolutely right! Perfect! Let me check the configuration file for the port.\n\
                 Now, I will read every one of the files in the directory. Yes"
            ),
            [
                "you're absolutely right!",
                "perfect!",
                "let me check",
                "now i will"
            ]
        );
        assert_eq!(
            all_phrases("Now, I will read every one of the files in the directory."),
            ["now i will"]
        );
        assert_eq!(
            all_phrases("Looking at the code: it reads every file twice over."),
            ["looking at the code"]
        );
        // Code, lone words without `!`, and numbers are not phrases.
        assert!(all_phrases("```\nlet x = 1;\nfoo bar baz\n```\nYes\n42 things").is_empty());
        assert_eq!(all_phrases("- Done."), Vec::<String>::new());
        assert_eq!(all_phrases("1. Fixed the bug."), ["fixed the bug"]);
    }

    #[test]
    fn the_sketch_stays_bounded_and_finds_heavy_hitters() {
        let mut k = TopK::new(50);
        let mut n = 0u64;
        for i in 0..100_000u64 {
            // Three heavy hitters among 20,000 distinct rare phrases.
            let p = match i % 10 {
                0..=2 => "perfect!".to_owned(),
                3 | 4 => "let me check".to_owned(),
                5 => "you're absolutely right!".to_owned(),
                _ => format!("rare {}", i % 20_000),
            };
            k.offer(&p);
            n += 1;
            assert!(k.len() <= 50);
        }
        assert_eq!(k.offered, n);
        let top = k.top(3);
        let names: Vec<&str> = top.iter().map(|p| p.phrase.as_str()).collect();
        assert_eq!(
            names,
            ["perfect!", "let me check", "you're absolutely right!"]
        );
        // Space-Saving overestimates by at most `error`, and never underestimates.
        for (p, truth) in top.iter().zip([30_000u64, 20_000, 10_000]) {
            assert!(p.count >= truth && p.count - p.error <= truth, "{p:?}");
        }
        assert!(k.index.len() <= 50 && k.heap.len() <= 50);
    }

    #[test]
    fn the_sketch_counts_exactly_below_capacity() {
        let mut k = TopK::new(10);
        for p in ["a b", "c d", "a b", "e f", "a b", "c d"] {
            k.offer(p);
        }
        let top = k.top(10);
        assert_eq!(top[0].phrase, "a b");
        assert_eq!((top[0].count, top[0].error), (3, 0));
        assert_eq!(top[1].count, 2);
        assert_eq!(top.len(), 3);
    }

    #[test]
    fn the_watch_list_counts_exactly_and_ignores_case() {
        let w = Watch::new(&["You're absolutely right", "Perfect!", ""]);
        assert_eq!(w.phrases.len(), 2);
        let text =
            normalise("YOU\u{2019}RE ABSOLUTELY RIGHT. You're absolutely right! Perfect! perfect.");
        assert_eq!(w.count(&text).collect::<Vec<_>>(), [2, 1]);
    }

    #[test]
    fn character_splits_sides_models_and_days() {
        let mut c = Character::new(Watch::new(&DEFAULT_WATCH));
        let place = |side, day, model| Place {
            side,
            day,
            model,
            project: "p",
            session: "s",
        };
        c.add(
            place(Side::Main, "2026-01-01", "opus"),
            "A \u{2014} b. You're absolutely right!",
        );
        c.add(
            place(Side::Subagent, "2026-01-02", "haiku"),
            "x\u{2014}y\u{2014}z",
        );
        c.add(place(Side::User, "2026-01-01", ""), "fix it \u{2014} now");
        assert_eq!(c.totals[&Side::Main].em_dashes, 1);
        assert_eq!(c.totals[&Side::Subagent].em_dashes, 2);
        assert_eq!(c.totals[&Side::User].em_dashes, 1);
        assert_eq!(c.assistant().em_dashes, 3);
        assert_eq!(c.by_day[&("2026-01-01".to_owned(), Side::Main)].words, 6);
        assert_eq!(c.watch_counts[0], 1);
        assert_eq!(c.watch_by_model["opus"][0], 1);
        // The user's prompts feed no phrases.
        assert_eq!(c.phrases.offered, 2);
        // Day by model: the assistant's only.
        let dm = |d: &str, m: &str| c.by_day_model.get(&(d.to_owned(), m.to_owned())).copied();
        assert_eq!(dm("2026-01-01", "opus").unwrap().em_dashes, 1);
        assert_eq!(dm("2026-01-02", "haiku").unwrap().em_dashes, 2);
        assert_eq!(dm("2026-01-01", ""), None);
        assert_eq!(c.watch_by_day["2026-01-01"][0], 1);
        assert!(!c.watch_by_day.contains_key("2026-01-02"));
    }

    /// `normalise` a char at a time, as it was before its ASCII fast path.
    fn normalise_by_chars(text: &str) -> String {
        let mut out = String::new();
        let mut space = false;
        for ch in text.chars() {
            let ch = match ch {
                '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
                '\u{201C}' | '\u{201D}' => '"',
                '*' | '_' | '#' | '`' => continue,
                c => c,
            };
            if ch.is_whitespace() {
                space = !out.is_empty();
                continue;
            }
            if space {
                out.push(' ');
                space = false;
            }
            out.extend(ch.to_lowercase());
        }
        out
    }

    #[test]
    fn the_ascii_fast_path_normalises_as_char_by_char_does() {
        let pieces = [
            "You\u{2019}re *Absolutely* right \u{2014} OK.",
            " \t\n lead",
            "trail \u{a0}\u{3000} ",
            "\u{0130}STANBUL \u{1F600} \u{201C}quoted\u{201D}",
            "`code`_x_#h",
            "\u{0b}\u{0c}\r\n",
            "",
            "ÀÉÎ õü ß",
            "a\u{85}b\u{2028}c",
            "\u{1c}\u{1f}x",
        ];
        let mut x = 0x9e37_79b9_u32;
        let mut random = String::new();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let piece = pieces[(x % pieces.len() as u32) as usize];
            random.push_str(piece);
            random.push(char::from_u32(32 + x % 96).unwrap());
        }
        for text in pieces.iter().copied().chain([random.as_str()]) {
            assert_eq!(normalise(text), normalise_by_chars(text), "{text:?}");
        }
    }

    #[test]
    fn the_watch_list_counts_occurrences_without_overlap() {
        let w = Watch::new(&["aa", "Let me check"]);
        let counts: Vec<u64> = w
            .count(&normalise("aaaa a aaa. LET ME check, let me checkers"))
            .collect();
        assert_eq!(counts, vec![3, 2]);
    }

    #[test]
    fn a_spark_puts_days_in_bars() {
        let first: jiff::civil::Date = "2026-01-30".parse().unwrap();
        let week = Spark::new(first, 7);
        assert_eq!(week.bars, 7);
        assert_eq!(week.bar("2026-01-30"), Some(0));
        assert_eq!(week.bar("2026-02-05"), Some(6));
        assert_eq!(week.bar("2026-02-06"), None);
        assert_eq!(week.bar("2026-01-29"), None);
        assert_eq!(week.bar("not a day"), None);
        // A long range: several days a bar, the last day in the last bar.
        let year = Spark::new(first, 365);
        assert_eq!(year.bars, SPARK_MAX_BARS as u32);
        assert_eq!(year.bar("2026-01-30"), Some(0));
        let last = first.checked_add(jiff::Span::new().days(364)).unwrap();
        assert_eq!(year.bar(&last.to_string()), Some(SPARK_MAX_BARS - 1));
    }

    #[test]
    fn sparklines_hold_each_phrase_own_occurrences() {
        let first: jiff::civil::Date = "2026-01-01".parse().unwrap();
        let mut c = Character::with_spark(Watch::new(&DEFAULT_WATCH), Some(Spark::new(first, 3)));
        let place = |day| Place {
            side: Side::Main,
            day,
            model: "opus",
            project: "p",
            session: "s",
        };
        c.add(place("2026-01-01"), "Perfect! Perfect!");
        c.add(place("2026-01-03"), "Perfect!");
        // Outside the range: counted, not drawn.
        c.add(place("2025-12-31"), "Perfect!");
        let top = c.phrases.top(1);
        assert_eq!(top[0].phrase, "perfect!");
        assert_eq!((top[0].count, top[0].bars.clone()), (4, vec![2, 0, 1]));
        // A phrase that takes a full sketch's slot starts its bars afresh.
        let mut k = TopK::with_bars(1, 2);
        k.offer_at("a", Some(0));
        k.offer_at("a", Some(0));
        k.offer_at("b", Some(1));
        let b = &k.top(1)[0];
        assert_eq!((b.phrase.as_str(), b.count, b.error), ("b", 3, 2));
        assert_eq!(b.bars, vec![0, 1]);
    }
}
