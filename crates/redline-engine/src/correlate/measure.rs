//! Pearson's r and Spearman's ρ over paired daily figures, and the sentence a person reads
//! instead of the numbers. Pure arithmetic: no dates, no sources.

/// Fewer days than this with both figures, and no coefficient is given: five points make
/// almost any line look straight.
pub const MIN_DAYS: usize = 5;

/// Below this many days a coefficient is given, with a word that it is a hint.
const FEW_DAYS: usize = 10;

/// Pearson's product-moment correlation of `xs` and `ys` (the same length). `None` for
/// fewer than two pairs or when either side does not vary (the coefficient is 0/0).
pub fn pearson(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len().min(ys.len());
    if n < 2 {
        return None;
    }
    let mean = |v: &[f64]| v[..n].iter().sum::<f64>() / n as f64;
    let (mx, my) = (mean(xs), mean(ys));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs[..n].iter().zip(&ys[..n]) {
        let (dx, dy) = (x - mx, y - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    // Rounding can carry |r| a hair past 1 for a perfect line.
    Some((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// Each value's rank, 1 for the smallest; tied values share the average of the ranks they
/// span (2 and 3 tied make 2.5 each), as Spearman's ρ wants them.
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0.0; v.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1, averaged.
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

/// Spearman's rank correlation: Pearson's r of the ranks (ties averaged), which stays
/// right with ties where the 1 - 6Σd²/(n(n²-1)) shortcut does not.
pub fn spearman(xs: &[f64], ys: &[f64]) -> Option<f64> {
    let n = xs.len().min(ys.len());
    pearson(&ranks(&xs[..n]), &ranks(&ys[..n]))
}

/// What a source is laid against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Against {
    /// Dollars a day.
    Cost,
    /// Tokens a day (all four kinds).
    Tokens,
}

impl Against {
    /// Both, in the order reports list them.
    pub const ALL: [Against; 2] = [Against::Cost, Against::Tokens];

    /// `cost` or `tokens`.
    pub fn name(self) -> &'static str {
        match self {
            Against::Cost => "cost",
            Against::Tokens => "tokens",
        }
    }

    /// How a reading names the usage side: "you spend more on Claude".
    fn more(self) -> &'static str {
        match self {
            Against::Cost => "you spend more on Claude",
            Against::Tokens => "you use more Claude tokens",
        }
    }

    /// The usage side as a noun.
    fn noun(self) -> &'static str {
        match self {
            Against::Cost => "your Claude cost",
            Against::Tokens => "your Claude tokens",
        }
    }
}

/// One source against one usage series.
#[derive(Clone, Debug, PartialEq)]
pub struct Correlation {
    /// Cost or tokens.
    pub against: Against,
    /// Days with both figures.
    pub n: usize,
    /// Pearson's r; `None` below [`MIN_DAYS`] or when a side does not vary.
    pub pearson: Option<f64>,
    /// Spearman's ρ, likewise.
    pub spearman: Option<f64>,
    /// The plain-words reading.
    pub reading: String,
}

/// How strong |r| is, in the words of Cohen's rule of thumb (0.1 small, 0.3 medium, 0.5
/// large).
fn strength(r: f64) -> Option<&'static str> {
    let a = r.abs();
    if a < 0.1 {
        None
    } else if a < 0.3 {
        Some("weak")
    } else if a < 0.5 {
        Some("moderate")
    } else {
        Some("strong")
    }
}

/// The correlation of `source` (named `name` in the reading) with `usage`, day by day:
/// the two slices hold the same days in the same order.
pub fn correlate(name: &str, against: Against, usage: &[f64], source: &[f64]) -> Correlation {
    let n = usage.len().min(source.len());
    let days = |n: usize| format!("{n} day{}", if n == 1 { "" } else { "s" });
    let mut c = Correlation {
        against,
        n,
        pearson: None,
        spearman: None,
        reading: String::new(),
    };
    if n < MIN_DAYS {
        c.reading = format!(
            "too few days to say: {} with both {name} and {}, {MIN_DAYS} are needed",
            days(n),
            against.noun()
        );
        return c;
    }
    let (u, s) = (&usage[..n], &source[..n]);
    let flat = |v: &[f64]| v.iter().all(|x| *x == v[0]);
    if flat(s) || flat(u) {
        let which = if flat(s) { name } else { against.noun() };
        c.reading = format!(
            "{which} was the same on each of the {}: there is nothing to correlate",
            days(n)
        );
        return c;
    }
    c.pearson = pearson(u, s);
    c.spearman = spearman(u, s);
    let (Some(r), Some(rho)) = (c.pearson, c.spearman) else {
        return c;
    };
    let figures = format!("r = {r:.2}, \u{3c1} = {rho:.2}, {}", days(n));
    let hint = if n < FEW_DAYS {
        "; few days, so take it as a hint"
    } else {
        ""
    };
    c.reading = match strength(r) {
        None => format!(
            "no clear link: {name} does not move with {} ({figures}){hint}",
            against.noun()
        ),
        Some(word) => {
            let (sign, way) = if r > 0.0 {
                ("positive", "higher")
            } else {
                ("negative", "lower")
            };
            format!(
                "{word} {sign}: on days {}, {name} is {way} ({figures}){hint}",
                against.more()
            )
        }
    };
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn pearson_of_a_textbook_example() {
        // x = 1..5, y = 2, 4, 5, 4, 5: means 3 and 4, Σdxdy = 6, Σdx² = 10, Σdy² = 6,
        // so r = 6 / √60.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 4.0, 5.0, 4.0, 5.0];
        assert!(close(pearson(&x, &y).unwrap(), 6.0 / 60f64.sqrt()));
        assert!(close(pearson(&x, &x).unwrap(), 1.0));
        let down: Vec<f64> = x.iter().map(|v| 10.0 - 2.0 * v).collect();
        assert!(close(pearson(&x, &down).unwrap(), -1.0));
        assert_eq!(pearson(&x, &[3.0; 5]), None, "a flat side has no r");
        assert_eq!(pearson(&[1.0], &[2.0]), None);
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[10.0, 30.0, 20.0]), [1.0, 3.0, 2.0]);
        assert_eq!(
            ranks(&[5.0, 1.0, 5.0, 3.0, 5.0]),
            [4.0, 1.0, 4.0, 2.0, 4.0],
            "three tied for ranks 3, 4, 5 share 4"
        );
        assert_eq!(ranks(&[2.0, 2.0]), [1.5, 1.5]);
    }

    #[test]
    fn spearman_without_ties_is_the_textbook_shortcut() {
        // Ranks of x: 1..5; of y (3, 1, 4, 2, 5): the values themselves. d = -2, 1, -1,
        // 2, 0, so Σd² = 10 and ρ = 1 - 6·10 / (5·24) = 0.5.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [3.0, 1.0, 4.0, 2.0, 5.0];
        let d2: f64 = ranks(&x)
            .iter()
            .zip(ranks(&y))
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        assert_eq!(d2, 10.0);
        assert!(close(spearman(&x, &y).unwrap(), 0.5));
        // Any increasing function gives ρ = 1 where r is below it.
        let cubes: Vec<f64> = x.iter().map(|v| v * v * v).collect();
        assert!(close(spearman(&x, &cubes).unwrap(), 1.0));
        assert!(pearson(&x, &cubes).unwrap() < 0.99);
    }

    #[test]
    fn spearman_with_ties_is_pearson_of_averaged_ranks() {
        // x = 1, 2, 2, 3, 4 ranks 1, 2.5, 2.5, 4, 5; y = 1, 3, 2, 5, 4 ranks as its
        // values. Mean rank 3 on both sides, so dx = -2, -.5, -.5, 1, 2 and
        // dy = -2, 0, -1, 2, 1: Σdxdy = 4 + 0 + .5 + 2 + 2 = 8.5, Σdx² = 9.5, Σdy² = 10.
        let x = [1.0, 2.0, 2.0, 3.0, 4.0];
        let y = [1.0, 3.0, 2.0, 5.0, 4.0];
        let want = 8.5 / (9.5f64 * 10.0).sqrt();
        assert!(close(spearman(&x, &y).unwrap(), want));
    }

    #[test]
    fn readings_say_what_the_numbers_mean() {
        let usage = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        let more: Vec<f64> = usage.iter().map(|v| v * 2.0 + 1.0).collect();
        let c = correlate("deploys", Against::Cost, &usage, &more);
        assert_eq!(
            c.reading,
            "strong positive: on days you spend more on Claude, deploys is higher (r = 1.00, \u{3c1} = 1.00, 10 days)"
        );
        let less: Vec<f64> = usage.iter().map(|v| -v).collect();
        let c = correlate("hours", Against::Tokens, &usage[..6], &less[..6]);
        assert!(
            c.reading
                .starts_with("strong negative: on days you use more Claude tokens, hours is lower")
                && c.reading
                    .ends_with("6 days); few days, so take it as a hint"),
            "{}",
            c.reading
        );
        let c = correlate("hours", Against::Cost, &usage[..4], &more[..4]);
        assert_eq!((c.n, c.pearson, c.spearman), (4, None, None));
        assert_eq!(
            c.reading,
            "too few days to say: 4 days with both hours and your Claude cost, 5 are needed"
        );
        let c = correlate("hours", Against::Cost, &usage[..5], &[2.0; 5]);
        assert_eq!(c.pearson, None);
        assert!(
            c.reading
                .contains("hours was the same on each of the 5 days")
        );
        // Against 1..10, Σxy = 1 - 2 - 3 + 4 + 5 - 6 - 7 + 8 + 9 - 10 = -1 and Σy = 0:
        // r = -1 / √(82.5 · 10), near 0.
        let zig = [1.0, -1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0, -1.0];
        assert!(close(
            pearson(&usage, &zig).unwrap(),
            -1.0 / (82.5f64 * 10.0).sqrt()
        ));
        let c = correlate("x", Against::Cost, &usage, &zig);
        assert!(
            c.reading
                .starts_with("no clear link: x does not move with your Claude cost")
        );
    }
}
