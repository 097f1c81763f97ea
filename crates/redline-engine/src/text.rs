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
}

impl TopK {
    /// An empty sketch of `capacity` phrases (at least 1).
    pub fn new(capacity: usize) -> TopK {
        TopK {
            capacity: capacity.max(1),
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
        self.offered += 1;
        if let Some(&s) = self.index.get(phrase) {
            self.slots[s].count += 1;
            self.sift_down(self.pos[s]);
            return;
        }
        if self.slots.len() < self.capacity {
            let s = self.slots.len();
            self.slots.push(Slot {
                phrase: phrase.to_owned(),
                count: 1,
                error: 0,
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
    needles: Vec<String>,
}

impl Watch {
    /// The watch list of `phrases` (empty ones dropped).
    pub fn new<S: AsRef<str>>(phrases: &[S]) -> Watch {
        let (phrases, needles) = phrases
            .iter()
            .map(|p| (p.as_ref().to_owned(), normalise(p.as_ref())))
            .filter(|(_, n)| !n.is_empty())
            .unzip();
        Watch { phrases, needles }
    }

    /// How often each watched phrase occurs in `normalised` (text passed through
    /// [`normalise`]), in the list's order.
    pub fn count<'a>(&'a self, normalised: &'a str) -> impl Iterator<Item = u64> + 'a {
        self.needles
            .iter()
            .map(move |n| normalised.matches(n.as_str()).count() as u64)
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
    /// The assistant's most repeated phrases (main chain and subagents).
    pub phrases: TopK,
    /// The watch list.
    pub watch: Watch,
    /// The watch list's counts in the assistant's text, in its order.
    pub watch_counts: Vec<u64>,
    /// The watch list's counts per model, in its order.
    pub watch_by_model: BTreeMap<String, Vec<u64>>,
}

impl Character {
    /// Nothing counted yet, with this watch list.
    pub fn new(watch: Watch) -> Character {
        Character {
            totals: BTreeMap::new(),
            by_model: BTreeMap::new(),
            by_day: BTreeMap::new(),
            by_project: BTreeMap::new(),
            by_session: BTreeMap::new(),
            phrases: TopK::new(TOP_K_CAPACITY),
            watch_counts: vec![0; watch.phrases.len()],
            watch_by_model: BTreeMap::new(),
            watch,
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
        self.totals.entry(place.side).or_default().add(c);
        self.by_model
            .entry((place.side, place.model.to_owned()))
            .or_default()
            .add(c);
        add_at(&mut self.by_day, place.day, place.side, c);
        add_at(&mut self.by_project, place.project, place.side, c);
        add_at(&mut self.by_session, place.session, place.side, c);
        if place.side == Side::User {
            return;
        }
        for phrase in &p.phrases {
            self.phrases.offer(phrase);
        }
        for (held, n) in self.watch_counts.iter_mut().zip(&p.watch) {
            *held += n;
        }
        if p.watch.iter().any(|n| *n > 0) {
            let per_model = self
                .watch_by_model
                .entry(place.model.to_owned())
                .or_insert_with(|| vec![0; p.watch.len()]);
            for (held, n) in per_model.iter_mut().zip(&p.watch) {
                *held += n;
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

fn add_at(map: &mut BTreeMap<(String, Side), Counts>, key: &str, side: Side, c: &Counts) {
    match map.get_mut(&(key.to_owned(), side)) {
        Some(held) => held.add(c),
        None => {
            map.insert((key.to_owned(), side), *c);
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
    }
}
