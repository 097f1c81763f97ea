//! Plain-text tables with box-drawing borders, for reports a person reads in a terminal,
//! fitted to the terminal's width: text cells wrap inside their column instead of the
//! terminal wrapping whole lines, and callers pick a compact layout when the width is small
//! (see [`Fit`]).

/// Below this many columns a report uses its compact layout, as ccusage 20 does.
pub const COMPACT_BELOW: usize = 100;

/// A text column is not narrowed below this (unless its text is narrower).
const MIN_TEXT: usize = 10;

/// A text column is narrowed no further than its longest unbreakable piece, up to this
/// many columns; longer pieces are cut anywhere.
const MAX_PIECE: usize = 16;

/// Where a text cell's line may be broken: after one of these (a space is dropped), but
/// see [`breaks_after`].
const BREAKS: [char; 4] = [' ', '-', '/', '_'];

/// How wide a report's table may be, and whether its compact layout is forced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fit {
    /// The width to fit, in columns; `None` is no limit.
    pub width: Option<usize>,
    /// `--compact`: the compact layout whatever the width.
    pub force_compact: bool,
}

impl Fit {
    /// For standard output: `COLUMNS` when it is a positive number, else the terminal's
    /// width when standard output is a terminal, else no limit (piped output keeps the
    /// full table, as `ls` does).
    pub fn stdout(force_compact: bool) -> Fit {
        let columns = std::env::var("COLUMNS").ok();
        Fit {
            width: output_width(columns.as_deref(), terminal_width),
            force_compact,
        }
    }

    /// Whether the compact layout is the only one to try: forced, or a width below
    /// [`COMPACT_BELOW`].
    pub fn compact(&self) -> bool {
        self.force_compact || self.width.is_some_and(|w| w < COMPACT_BELOW)
    }

    /// Whether `table` fits the width with its text columns wrapped as far as they go.
    pub fn fits(&self, table: &Table) -> bool {
        self.width.is_none_or(|w| table.min_width() <= w)
    }

    /// Whether `table` fits the width with no text wrapped (numbers' headers may be).
    pub fn fits_unwrapped(&self, table: &Table) -> bool {
        self.width.is_none_or(|w| table.unwrapped_width() <= w)
    }
}

/// The width from `COLUMNS` when it is a positive number, else from `terminal`.
fn output_width(columns: Option<&str>, terminal: impl FnOnce() -> Option<usize>) -> Option<usize> {
    columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&w| w > 0)
        .or_else(terminal)
}

/// Standard output's terminal width (`TIOCGWINSZ`), if it is a terminal.
#[cfg(unix)]
#[allow(unsafe_code)]
fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` through the pointer, which points at ours
    // for the length of the call; the descriptor is only read.
    let r = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (r == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

/// No terminal width outside Unix: `COLUMNS` or no limit.
#[cfg(not(unix))]
fn terminal_width() -> Option<usize> {
    None
}

/// How a column's cells line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text: wraps inside its column when the table must be narrower.
    Left,
    /// Numbers: never wrapped (only the header may be).
    Right,
}

/// A table: a header, rows of cells (a cell may hold several lines), and an optional
/// footer row set off by a rule.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<(String, Align)>,
    /// Cells, and whether the row hangs under the one before it (no rule between).
    rows: Vec<(Vec<String>, bool)>,
    footer: Option<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub fn new(columns: &[(&str, Align)]) -> Table {
        Table {
            header: columns.iter().map(|(h, a)| (h.to_string(), *a)).collect(),
            ..Table::default()
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push((cells, false));
    }

    /// Adds a row that belongs to the one before it (a breakdown): no rule between them.
    pub fn sub_row(&mut self, cells: Vec<String>) {
        self.rows.push((cells, true));
    }

    /// Sets the footer (the totals).
    pub fn footer(&mut self, cells: Vec<String>) {
        self.footer = Some(cells);
    }

    /// Every line of column `i`'s cells (not the header).
    fn column_lines(&self, i: usize) -> impl Iterator<Item = &str> {
        self.rows
            .iter()
            .map(|(r, _)| r)
            .chain(self.footer.iter())
            .filter_map(move |r| r.get(i))
            .flat_map(|c| c.lines())
    }

    /// Each column's width with nothing wrapped.
    fn natural_widths(&self) -> Vec<usize> {
        (0..self.header.len())
            .map(|i| {
                self.column_lines(i)
                    .map(width)
                    .chain(self.header[i].0.lines().map(width))
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    /// Each column's narrowest width: a number column keeps its numbers whole (its header
    /// may wrap); a text column goes down to [`MIN_TEXT`], or to its longest unbreakable
    /// piece when that is wider (up to [`MAX_PIECE`]), never wider than it is. With
    /// `whole_versions`, a `-` before a digit does not break a piece (`sonnet-4-5`).
    fn min_widths(&self, whole_versions: bool) -> Vec<usize> {
        let natural = self.natural_widths();
        let piece = |l: &str| longest_piece(l, whole_versions);
        self.header
            .iter()
            .enumerate()
            .map(|(i, (h, align))| {
                let header = h.lines().map(piece).max().unwrap_or(0);
                match align {
                    Align::Right => self.column_lines(i).map(width).fold(header, usize::max),
                    Align::Left => {
                        let longest = self.column_lines(i).map(piece).fold(header, usize::max);
                        natural[i].min(MIN_TEXT.max(longest.min(MAX_PIECE)))
                    }
                }
            })
            .collect()
    }

    /// The narrowest this table can be drawn (borders included).
    pub fn min_width(&self) -> usize {
        frame(self.header.len()) + self.min_widths(false).iter().sum::<usize>()
    }

    /// The narrowest this table can be drawn with no text cell wrapped: only number
    /// columns' headers.
    pub fn unwrapped_width(&self) -> usize {
        let mins = self.min_widths(false);
        let natural = self.natural_widths();
        let columns = self
            .header
            .iter()
            .enumerate()
            .map(|(i, (_, align))| match align {
                Align::Right => mins[i],
                Align::Left => natural[i],
            });
        frame(self.header.len()) + columns.sum::<usize>()
    }

    /// The table as text, ending in a newline, at most `limit` columns wide when it can
    /// be: number columns give up the width their headers take beyond their numbers
    /// (the header wraps), then text columns are narrowed, the widest first, their text
    /// wrapping inside them. A table that cannot be that narrow is drawn at its narrowest
    /// ([`Table::min_width`]).
    pub fn render(&self, limit: Option<usize>) -> String {
        let mut widths = self.natural_widths();
        if let Some(limit) = limit {
            let (whole, any) = (self.min_widths(true), self.min_widths(false));
            let mut total = frame(widths.len()) + widths.iter().sum::<usize>();
            // Number columns' headers wrap first (one more header line), then text
            // columns (more lines in every row), the widest narrowed first, keeping
            // versions and dates whole as long as that is enough.
            for (align, mins) in [
                (Align::Right, &any),
                (Align::Left, &whole),
                (Align::Left, &any),
            ] {
                while total > limit {
                    let Some(i) = (0..widths.len())
                        .filter(|&i| self.header[i].1 == align && widths[i] > mins[i])
                        .max_by_key(|&i| widths[i])
                    else {
                        break;
                    };
                    widths[i] -= 1;
                    total -= 1;
                }
            }
        }
        let rule = |l: &str, m: &str, r: &str| {
            let parts: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
            format!("{l}{}{r}\n", parts.join(m))
        };
        let mut out = rule("┌", "┬", "┐");
        let header: Vec<String> = self.header.iter().map(|(h, _)| h.clone()).collect();
        out += &self.line(&header, &widths, true);
        out += &rule("├", "┼", "┤");
        for (i, (row, attached)) in self.rows.iter().enumerate() {
            if i > 0 && !attached {
                out += &rule("├", "┼", "┤");
            }
            out += &self.line(row, &widths, false);
        }
        if let Some(f) = &self.footer {
            out += &rule("╞", "╪", "╡").replace('─', "═");
            out += &self.line(f, &widths, false);
        }
        out += &rule("└", "┴", "┘");
        out
    }

    fn line(&self, cells: &[String], widths: &[usize], header: bool) -> String {
        // Each cell as the lines it takes at its column's width.
        let cells: Vec<Vec<String>> = widths
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let cell = cells.get(i).map_or("", String::as_str);
                let wraps = header || self.header[i].1 == Align::Left;
                cell.lines()
                    .flat_map(|l| {
                        if wraps {
                            wrap(l, w)
                        } else {
                            vec![l.to_string()]
                        }
                    })
                    .collect()
            })
            .collect();
        let height = cells.iter().map(|c| c.len().max(1)).max().unwrap_or(1);
        let mut out = String::new();
        for k in 0..height {
            out.push('│');
            for (i, w) in widths.iter().enumerate() {
                let text = cells[i].get(k).map_or("", String::as_str);
                let pad = w.saturating_sub(width(text));
                let align = if header {
                    Align::Left
                } else {
                    self.header[i].1
                };
                match align {
                    Align::Left => out += &format!(" {text}{} │", " ".repeat(pad)),
                    Align::Right => out += &format!(" {}{text} │", " ".repeat(pad)),
                }
            }
            out.push('\n');
        }
        out
    }
}

/// The columns a table's borders and padding take: `│ ` before each cell, ` │` after the
/// last, ` ` between.
fn frame(columns: usize) -> usize {
    3 * columns + 1
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// How far the lines a text line wraps into are indented: its leading spaces and a list
/// marker (`- `, `└─ `), so a wrapped model name stays under its bullet.
fn hanging_indent(line: &str) -> usize {
    let spaces = line.len() - line.trim_start_matches(' ').len();
    let rest = &line[spaces..];
    let marker = ["- ", "└─ "]
        .iter()
        .find(|m| rest.starts_with(**m))
        .map_or(0, |m| width(m));
    spaces + marker
}

/// Whether a line may break between `c` and `next`: after a [`BREAKS`] character, except
/// a `-` before a digit, so versions and dates stay whole (`sonnet-4-5`, `2026-03-03`).
fn breaks_after(c: char, next: Option<char>) -> bool {
    BREAKS.contains(&c) && !(c == '-' && next.is_some_and(|n| n.is_ascii_digit()))
}

/// The widest piece `line` cannot be broken inside (with its hanging indent); with
/// `whole_versions`, by [`breaks_after`], else after any of [`BREAKS`].
fn longest_piece(line: &str, whole_versions: bool) -> usize {
    let indent = hanging_indent(line);
    let (mut longest, mut current) = (0, 0);
    let mut chars = line.chars().skip(indent).peekable();
    while let Some(c) = chars.next() {
        current += 1;
        let breaks = if whole_versions {
            breaks_after(c, chars.peek().copied())
        } else {
            BREAKS.contains(&c)
        };
        if breaks {
            // A space at a break is dropped.
            longest = longest.max(current - usize::from(c == ' '));
            current = 0;
        }
    }
    indent + longest.max(current)
}

/// One line of text as lines at most `w` columns wide: broken after the last space, `-`,
/// `/` or `_` that fits (a `-` before a digit only when there is no other), else cut at
/// `w`; the lines after the first are indented by the line's [`hanging_indent`] when that
/// leaves room.
pub fn wrap(line: &str, w: usize) -> Vec<String> {
    let w = w.max(1);
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= w {
        return vec![line.to_string()];
    }
    // An indent that leaves too little room is dropped, leading spaces and all.
    let (line, chars) = if hanging_indent(line) * 2 > w {
        let line = line.trim_start_matches(' ');
        (line, line.chars().collect())
    } else {
        (line, chars)
    };
    let indent = Some(hanging_indent(line))
        .filter(|i| i * 2 <= w)
        .unwrap_or(0);
    let mut out = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let first = out.is_empty();
        let pad = if first { 0 } else { indent };
        let room = w - pad;
        let rest = &chars[start..];
        if rest.len() <= room {
            out.push(" ".repeat(pad) + &rest.iter().collect::<String>());
            break;
        }
        // Never break inside the first line's own indent.
        let floor = if first { indent } else { 0 };
        // The last break that fits: one between words first, then one before a version
        // (`haiku-` `4-5`), then any; else a cut.
        let rank = |i: usize| {
            let (c, next) = (rest[i - 1], rest.get(i).copied());
            if breaks_after(c, next) {
                Some(0)
            } else if c == '-' && i >= 2 && !rest[i - 2].is_ascii_digit() {
                Some(1)
            } else if BREAKS.contains(&c) {
                Some(2)
            } else {
                None
            }
        };
        let cut = (0..3)
            .find_map(|r| (floor + 1..=room).rev().find(|&i| rank(i) == Some(r)))
            .unwrap_or(room);
        let piece: String = rest[..cut].iter().collect();
        out.push(" ".repeat(pad) + piece.trim_end_matches(' '));
        start += cut;
        while chars.get(start) == Some(&' ') {
            start += 1;
        }
    }
    out
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Dollars with cents.
pub fn usd(x: f64) -> String {
    format!("${:.2}", x + 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(79_011_296), "79,011,296");
        assert_eq!(usd(50.813731799999985), "$50.81");
        assert_eq!(usd(-0.0), "$0.00");
    }

    #[test]
    fn cells_align_and_wrap() {
        let mut t = Table::new(&[("Date", Align::Left), ("Cost", Align::Right)]);
        t.row(vec!["2026-02-11\nsecond".into(), "$1.00".into()]);
        t.sub_row(vec!["  └─ x".into(), "$0.50".into()]);
        t.row(vec!["2026-02-12".into(), "$9.00".into()]);
        t.footer(vec!["Total".into(), "$10.00".into()]);
        let text = t.render(None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "│ Date       │ Cost   │");
        assert_eq!(lines[3], "│ 2026-02-11 │  $1.00 │");
        assert_eq!(lines[4], "│ second     │        │");
        assert_eq!(lines[5], "│   └─ x     │  $0.50 │");
        assert_eq!(lines[6], "├────────────┼────────┤");
        assert_eq!(lines[7], "│ 2026-02-12 │  $9.00 │");
        assert_eq!(lines[9], "│ Total      │ $10.00 │");
        assert!(
            lines
                .iter()
                .all(|l| l.chars().count() == lines[0].chars().count())
        );
        // A limit it already fits changes nothing.
        assert_eq!(t.render(Some(23)), text);
        assert_eq!(t.render(Some(200)), text);
    }

    #[test]
    fn text_wraps_at_breaks_under_its_bullet() {
        assert_eq!(wrap("short", 10), ["short"]);
        assert_eq!(
            wrap("-home-dev-code-delta-worktrees", 12),
            ["-home-dev-", "code-delta-", "worktrees"]
        );
        assert_eq!(wrap("- opus-4-6-fast", 12), ["- opus-4-6-", "  fast"]);
        assert_eq!(
            wrap("  └─ claude-sonnet-4-5", 15),
            ["  └─ claude-", "     sonnet-4-5"]
        );
        // A version or a date is cut only where nothing else fits.
        assert_eq!(wrap("- sonnet-4-5", 10), ["- sonnet-", "  4-5"]);
        assert_eq!(wrap("- haiku-4-5", 10), ["- haiku-", "  4-5"]);
        assert_eq!(
            wrap("- claude-3-5-haiku", 10),
            ["- claude-", "  3-5-", "  haiku"]
        );
        assert_eq!(wrap("2026-03-03 13:00", 8), ["2026-03-", "03 13:00"]);
        assert_eq!(wrap("2026-03-03 13:00", 12), ["2026-03-03", "13:00"]);
        assert_eq!(wrap("-home-dev-delta-7fq", 12), ["-home-dev-", "delta-7fq"]);
        assert_eq!(wrap("Cost (USD)", 6), ["Cost", "(USD)"]);
        assert_eq!(wrap("Duration/Status", 10), ["Duration/", "Status"]);
        // Nowhere to break: cut.
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        // An indent that leaves no room is not kept.
        assert_eq!(wrap("    - abcdef", 4), ["- ab", "  cd", "  ef"]);
        for w in 1..30 {
            for line in [
                "- claude-opus-4-6-20260101-fast",
                "  └─ haiku-4-5",
                "a b  c   d",
                "-home-dev-code-delta-worktrees-delta-7fq",
            ] {
                let lines = wrap(line, w);
                assert!(
                    lines.iter().all(|l| width(l) <= w),
                    "{line:?} at {w}: {lines:?}"
                );
                let joined: String = lines.concat().chars().filter(|c| *c != ' ').collect();
                let want: String = line.chars().filter(|c| *c != ' ').collect();
                assert_eq!(joined, want, "{line:?} at {w} loses text");
            }
        }
    }

    fn sample() -> Table {
        let mut t = Table::new(&[
            ("Session", Align::Left),
            ("Project", Align::Left),
            ("Models", Align::Left),
            ("Input", Align::Right),
            ("Cache Create", Align::Right),
            ("Cost (USD)", Align::Right),
        ]);
        t.row(vec![
            "a9d45395…".into(),
            "-home-dev-code-delta-worktrees-delta-7fq".into(),
            "- haiku-4-5\n- opus-4-6-fast".into(),
            "42,990".into(),
            "1,631,780".into(),
            "$40.28".into(),
        ]);
        t.footer(vec![
            "Total".into(),
            String::new(),
            String::new(),
            "619,869".into(),
            "18,420,062".into(),
            "$334.66".into(),
        ]);
        t
    }

    #[test]
    fn a_table_never_exceeds_a_width_it_can_fit() {
        let t = sample();
        let natural = t.render(None);
        let full = natural.lines().map(width).max().unwrap();
        assert_eq!(full, 112);
        let min = t.min_width();
        // Session 9, Project 10 ("worktrees-"), Models 10, numbers whole, "Cost (USD)"
        // wrapped.
        assert_eq!(min, frame(6) + 9 + 10 + 10 + 7 + 10 + 7);
        for limit in 20..=130 {
            let text = t.render(Some(limit));
            let lines: Vec<&str> = text.lines().collect();
            let widest = lines.iter().map(|l| width(l)).max().unwrap();
            assert!(
                lines.iter().all(|l| width(l) == widest),
                "ragged at {limit}:\n{text}"
            );
            assert_eq!(widest, full.min(limit.max(min)), "at {limit}:\n{text}");
            // Numbers stay whole, text stays all there.
            for n in ["42,990", "1,631,780", "$40.28", "18,420,062", "$334.66"] {
                assert!(text.contains(n), "{n} cut at {limit}:\n{text}");
            }
            assert!(text.contains("a9d45395…"));
        }
        // One column more and "- haiku-4-5" stays whole.
        let roomier = t.render(Some(min + 1));
        assert!(roomier.contains("│ - haiku-4-5 │"), "{roomier}");
        assert!(roomier.contains("│ - opus-4-6- │"), "{roomier}");
        assert!(roomier.contains("│   fast      │"), "{roomier}");
        let narrow = t.render(Some(60));
        assert!(narrow.contains("│ Cost    │"), "{narrow}");
        assert!(narrow.contains("│ (USD)   │"), "{narrow}");
        assert!(narrow.contains("│ - haiku-   │"), "{narrow}");
        assert!(narrow.contains("│   4-5      │"), "{narrow}");
        assert!(narrow.contains("│ worktrees- │"), "{narrow}");
    }

    #[test]
    fn compact_below_the_threshold_or_when_forced() {
        let at = |width: Option<usize>, force_compact| Fit {
            width,
            force_compact,
        };
        assert!(at(Some(80), false).compact());
        assert!(at(Some(99), false).compact());
        assert!(!at(Some(100), false).compact());
        assert!(!at(None, false).compact());
        assert!(at(None, true).compact());
        assert!(at(Some(250), true).compact());
        let t = sample();
        assert!(at(None, false).fits(&t));
        assert!(at(Some(t.min_width()), false).fits(&t));
        assert!(!at(Some(t.min_width() - 1), false).fits(&t));
        // Unwrapped: the text columns whole, "Cache Create" and "Cost (USD)" wrapped.
        assert_eq!(t.unwrapped_width(), frame(6) + 9 + 40 + 15 + 7 + 10 + 7);
        assert!(at(Some(t.unwrapped_width()), false).fits_unwrapped(&t));
        assert!(!at(Some(t.unwrapped_width() - 1), false).fits_unwrapped(&t));
        let unwrapped = t.render(Some(t.unwrapped_width()));
        assert!(unwrapped.contains("│ -home-dev-code-delta-worktrees-delta-7fq │"));
        assert!(unwrapped.contains("│ Cache      │"), "{unwrapped}");
    }

    #[test]
    fn width_from_columns_else_the_terminal() {
        let tty = || Some(132);
        let none = || None;
        assert_eq!(output_width(Some("80"), tty), Some(80));
        assert_eq!(output_width(Some(" 100 "), none), Some(100));
        assert_eq!(output_width(Some("0"), tty), Some(132));
        assert_eq!(output_width(Some("-5"), tty), Some(132));
        assert_eq!(output_width(Some("wide"), none), None);
        assert_eq!(output_width(Some(""), none), None);
        assert_eq!(output_width(None, tty), Some(132));
        assert_eq!(output_width(None, none), None);
    }
}
