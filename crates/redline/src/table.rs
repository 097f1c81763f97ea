//! Plain-text tables with box-drawing borders, for reports a person reads in a terminal.

/// How a column's cells line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
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

    /// The table as text, ending in a newline.
    pub fn render(&self) -> String {
        let n = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|(h, _)| width(h)).collect();
        for row in self.rows.iter().map(|(r, _)| r).chain(self.footer.iter()) {
            for (i, cell) in row.iter().enumerate().take(n) {
                for line in cell.lines() {
                    widths[i] = widths[i].max(width(line));
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
        let height = cells
            .iter()
            .map(|c| c.lines().count().max(1))
            .max()
            .unwrap_or(1);
        let mut out = String::new();
        for k in 0..height {
            out.push('│');
            for (i, w) in widths.iter().enumerate() {
                let text = cells.get(i).and_then(|c| c.lines().nth(k)).unwrap_or("");
                let pad = w - width(text);
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

fn width(s: &str) -> usize {
    s.chars().count()
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
        let text = t.render();
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
    }
}
