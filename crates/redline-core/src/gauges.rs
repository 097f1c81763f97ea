//! Gauge scales: which dials there are, where each needle points for a value (a fraction
//! of its sweep), and the coloured zones printed on each face.
//!
//! Every scale is a pure function of the value and its calibration, clamped to 0..1, and
//! `None` when the value is unknown (the needle then rests at its zero stop). SPEC.md's
//! gauge table is the contract: FUEL shows the 5-hour window left (E..F), TACH tokens per
//! minute up to 1.25 x the redline, TEMP the thinking share of output (C..H), BOOST the
//! cache hit rate; COST, CONTEXT and WEEKLY are the other needle choices. Faces (the web
//! page, the terminal, printed dials) draw their zones from [`zones`], so a zone moved in
//! the configuration moves on every face.

/// TACH's full scale as a multiple of the redline: the red zone is the top fifth.
pub const TACH_FULL_SCALE: f64 = 1.25;

/// A dial a needle can show. Four of them are mounted, in the order `needles` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dial {
    /// The 5-hour plan window left (E..F).
    Fuel,
    /// Tokens per minute.
    Tach,
    /// Thinking tokens over output tokens (C..H).
    Temp,
    /// Cache hit rate.
    Boost,
    /// Dollars today.
    Cost,
    /// The active session's context window in use.
    Context,
    /// The 7-day plan window left (E..F).
    Weekly,
}

/// How a face labels a dial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Face {
    /// The big word on the face (`FUEL`).
    pub title: &'static str,
    /// What it measures, printed small (`5H PLAN`).
    pub legend: &'static str,
    /// The label at the zero stop.
    pub low: &'static str,
    /// The label at full scale (`None`: the face prints the scale's number).
    pub high: Option<&'static str>,
}

impl Dial {
    /// Every dial, in the order the documentation lists them.
    pub const ALL: [Dial; 7] = [
        Dial::Fuel,
        Dial::Tach,
        Dial::Temp,
        Dial::Boost,
        Dial::Cost,
        Dial::Context,
        Dial::Weekly,
    ];

    /// The cluster as designed, left to right.
    pub const DEFAULT_NEEDLES: [Dial; 4] = [Dial::Fuel, Dial::Tach, Dial::Temp, Dial::Boost];

    /// The name in the configuration (`needles`), on the wire (`gauges`) and in the page's
    /// `data-gauge` hooks.
    pub const fn name(self) -> &'static str {
        match self {
            Dial::Fuel => "fuel",
            Dial::Tach => "tach",
            Dial::Temp => "temp",
            Dial::Boost => "boost",
            Dial::Cost => "cost",
            Dial::Context => "context",
            Dial::Weekly => "weekly",
        }
    }

    /// The dial with this name.
    pub fn from_name(name: &str) -> Option<Dial> {
        Dial::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Its face's labels (SPEC.md's gauge table).
    pub const fn face(self) -> Face {
        const fn f(
            title: &'static str,
            legend: &'static str,
            low: &'static str,
            high: Option<&'static str>,
        ) -> Face {
            Face {
                title,
                legend,
                low,
                high,
            }
        }
        match self {
            Dial::Fuel => f("FUEL", "5H PLAN", "E", Some("F")),
            Dial::Tach => f("TACH", "TOKENS/MIN", "0", None),
            Dial::Temp => f("TEMP", "THINKING/OUTPUT", "C", Some("H")),
            Dial::Boost => f("BOOST", "CACHE HIT", "0", Some("100%")),
            Dial::Cost => f("COST", "USD TODAY", "$0", None),
            Dial::Context => f("CONTEXT", "WINDOW USED", "E", Some("F")),
            Dial::Weekly => f("WEEKLY", "7D PLAN", "E", Some("F")),
        }
    }
}

/// The values the needles show, as the daemon knows them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Readings {
    /// Tokens per minute over the trailing window.
    pub tokens_per_min: Option<f64>,
    /// Share of the 5-hour window used, 0..1 (`window_5h_pct`).
    pub window_5h_used: Option<f64>,
    /// Thinking tokens over output tokens, 0..1.
    pub thinking_ratio: Option<f64>,
    /// Cache reads over all prompt tokens, 0..1.
    pub cache_hit_rate: Option<f64>,
    /// US dollars spent today.
    pub cost_today_usd: Option<f64>,
    /// Context tokens in use and the window they fill, for the active session.
    pub context: Option<(u64, u64)>,
    /// Share of the 7-day window used, 0..1.
    pub weekly_used: Option<f64>,
}

/// What the scales and zones are measured against. The defaults are SPEC.md's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scales {
    /// Tokens per minute where the red zone starts (`REDLINE_TACH_REDLINE`).
    pub tach_redline: f64,
    /// Dollars at COST's full scale.
    pub cost_full_scale_usd: f64,
    /// FUEL's and WEEKLY's red zone: at or above this share used.
    pub fuel_red_used: f64,
    /// TEMP is blue (cool) below this ratio.
    pub temp_cool: f64,
    /// TEMP is red (hot) above this ratio; white between.
    pub temp_hot: f64,
    /// BOOST is red below this hit rate (WARN's cache floor too).
    pub cache_floor: f64,
    /// CONTEXT is red from this share (Claude Code's auto-compact point).
    pub context_red: f64,
}

impl Default for Scales {
    fn default() -> Self {
        Scales {
            tach_redline: 20_000.0,
            cost_full_scale_usd: 50.0,
            fuel_red_used: 0.80,
            temp_cool: 0.2,
            temp_hot: 0.6,
            cache_floor: 0.5,
            context_red: 0.80,
        }
    }
}

impl Scales {
    /// Why these scales cannot be drawn (a zone outside 0..1, TEMP's bands crossed), as
    /// `(key, what)`; `None` when they are sound.
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        let share = |v: f64| (0.0..=1.0).contains(&v);
        if self.tach_redline.is_nan() || self.tach_redline <= 0.0 {
            return Some(("tach_redline", "must be a positive number"));
        }
        if !self.cost_full_scale_usd.is_finite() || self.cost_full_scale_usd <= 0.0 {
            return Some(("cost_full_scale", "must be a positive, finite number"));
        }
        for (key, v) in [
            ("fuel_red_used", self.fuel_red_used),
            ("temp_cool", self.temp_cool),
            ("temp_hot", self.temp_hot),
            ("cache_floor", self.cache_floor),
            ("context_red", self.context_red),
        ] {
            if !share(v) {
                return Some((key, "must be a share from 0 to 1"));
            }
        }
        if self.temp_cool > self.temp_hot {
            return Some(("temp_cool", "must not be above temp_hot"));
        }
        None
    }
}

/// `value / full`, clamped to 0..1; `None` for an unknown value or a scale that is not a
/// positive number (a misconfigured scale must not send the needle to a random place).
pub fn fraction(value: Option<f64>, full: f64) -> Option<f32> {
    let value = value?;
    if full.is_nan() || full <= 0.0 || !value.is_finite() {
        return None;
    }
    Some((value / full).clamp(0.0, 1.0) as f32)
}

/// The share of the context window in use, clamped.
pub fn context_fraction(used: u64, window: u64) -> Option<f32> {
    if window == 0 {
        return None;
    }
    fraction(Some(used as f64), window as f64)
}

/// Where `dial`'s needle stands for these readings: 0 at the zero stop, 1 at full scale.
pub fn position(dial: Dial, r: &Readings, s: &Scales) -> Option<f32> {
    let left = |used: Option<f64>| fraction(used.map(|u| 1.0 - u), 1.0);
    match dial {
        Dial::Fuel => left(r.window_5h_used),
        Dial::Tach => fraction(r.tokens_per_min, s.tach_redline * TACH_FULL_SCALE),
        Dial::Temp => fraction(r.thinking_ratio, 1.0),
        Dial::Boost => fraction(r.cache_hit_rate, 1.0),
        Dial::Cost => fraction(r.cost_today_usd, s.cost_full_scale_usd),
        Dial::Context => r.context.and_then(|(used, w)| context_fraction(used, w)),
        Dial::Weekly => left(r.weekly_used),
    }
}

/// The needle positions of four mounted dials, in their order.
pub fn positions(needles: &[Dial; 4], r: &Readings, s: &Scales) -> [Option<f32>; 4] {
    needles.map(|d| position(d, r, s))
}

/// A zone's colour on the face.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZoneColor {
    /// Danger: past the redline, the plan nearly used, a cold cache, heavy thinking.
    Red,
    /// TEMP's cool band: little thinking.
    Blue,
    /// TEMP's middle band.
    White,
}

impl ZoneColor {
    /// The lowercase name the page and `/api/config` use.
    pub const fn name(self) -> &'static str {
        match self {
            ZoneColor::Red => "red",
            ZoneColor::Blue => "blue",
            ZoneColor::White => "white",
        }
    }
}

/// A coloured arc on a face, in needle positions (0 = zero stop, 1 = full scale).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Zone {
    /// Where it starts.
    pub from: f32,
    /// Where it ends.
    pub to: f32,
    /// Its colour.
    pub color: ZoneColor,
}

/// The zones printed on `dial`'s face (at most three; unused places are `None`), from
/// the zero stop up.
pub fn zones(dial: Dial, s: &Scales) -> [Option<Zone>; 3] {
    let z = |from: f64, to: f64, color| {
        (to > from).then_some(Zone {
            from: from.clamp(0.0, 1.0) as f32,
            to: to.clamp(0.0, 1.0) as f32,
            color,
        })
    };
    match dial {
        // Red at or above the share used: the first part of the sweep from E.
        Dial::Fuel | Dial::Weekly => [z(0.0, 1.0 - s.fuel_red_used, ZoneColor::Red), None, None],
        Dial::Tach => [z(1.0 / TACH_FULL_SCALE, 1.0, ZoneColor::Red), None, None],
        Dial::Temp => [
            z(0.0, s.temp_cool, ZoneColor::Blue),
            z(s.temp_cool, s.temp_hot, ZoneColor::White),
            z(s.temp_hot, 1.0, ZoneColor::Red),
        ],
        Dial::Boost => [z(0.0, s.cache_floor, ZoneColor::Red), None, None],
        Dial::Cost => [None, None, None],
        Dial::Context => [z(s.context_red, 1.0, ZoneColor::Red), None, None],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_readings() -> Readings {
        Readings {
            tokens_per_min: Some(8123.0),
            window_5h_used: Some(0.38),
            thinking_ratio: Some(0.22),
            cache_hit_rate: Some(0.93),
            cost_today_usd: Some(12.34),
            context: Some((120_000, 200_000)),
            weekly_used: Some(0.18),
        }
    }

    #[test]
    fn spec_example_positions() {
        let s = Scales::default();
        let got = positions(&Dial::DEFAULT_NEEDLES, &spec_readings(), &s);
        let want = [0.62, 0.32, 0.22, 0.93];
        for (g, w) in got.iter().zip(want) {
            assert!((g.unwrap() - w).abs() < 0.005, "{got:?}");
        }
        let r = spec_readings();
        let near = |d: Dial, w: f32| (position(d, &r, &s).unwrap() - w).abs() < 0.005;
        assert!(near(Dial::Cost, 0.2468));
        assert!(near(Dial::Context, 0.60));
        assert!(near(Dial::Weekly, 0.82));
    }

    #[test]
    fn clamped_and_unknown() {
        let r = Readings {
            tokens_per_min: Some(1e9),
            window_5h_used: Some(1.3),
            thinking_ratio: Some(f64::NAN),
            cache_hit_rate: None,
            cost_today_usd: None,
            context: Some((10, 0)),
            weekly_used: Some(-0.5),
        };
        let s = Scales::default();
        assert_eq!(position(Dial::Tach, &r, &s), Some(1.0));
        assert_eq!(position(Dial::Fuel, &r, &s), Some(0.0));
        assert_eq!(position(Dial::Temp, &r, &s), None);
        assert_eq!(position(Dial::Boost, &r, &s), None);
        assert_eq!(position(Dial::Cost, &r, &s), None);
        assert_eq!(position(Dial::Context, &r, &s), None);
        assert_eq!(position(Dial::Weekly, &r, &s), Some(1.0));
        assert_eq!(fraction(Some(5.0), 0.0), None);
        assert_eq!(fraction(Some(f64::NAN), 1.0), None);
        assert_eq!(fraction(Some(5.0), -1.0), None);
    }

    #[test]
    fn zones_follow_the_scales() {
        let s = Scales::default();
        let red = |d| zones(d, &s)[0].unwrap();
        assert_eq!((red(Dial::Tach).from, red(Dial::Tach).to), (0.8, 1.0));
        assert!((red(Dial::Fuel).to - 0.2).abs() < 1e-6);
        assert_eq!(red(Dial::Boost).to, 0.5);
        let t = zones(Dial::Temp, &s).map(|z| z.map(|z| (z.from, z.to, z.color)));
        assert_eq!(
            t,
            [
                Some((0.0, 0.2, ZoneColor::Blue)),
                Some((0.2, 0.6, ZoneColor::White)),
                Some((0.6, 1.0, ZoneColor::Red)),
            ]
        );
        assert_eq!(zones(Dial::Cost, &s), [None, None, None]);
        // An empty band leaves no zone.
        let flat = Scales {
            temp_cool: 0.0,
            ..s
        };
        assert_eq!(zones(Dial::Temp, &flat)[0], None);
    }

    #[test]
    fn names_and_faces() {
        for d in Dial::ALL {
            assert_eq!(Dial::from_name(d.name()), Some(d));
        }
        assert_eq!(Dial::from_name("oil"), None);
        assert_eq!(Dial::Temp.face().legend, "THINKING/OUTPUT");
        assert_eq!(Dial::Fuel.face().low, "E");
    }

    #[test]
    fn unsound_scales_are_named() {
        let s = Scales::default();
        assert_eq!(s.problem(), None);
        let crossed = Scales {
            temp_cool: 0.7,
            ..s
        };
        assert_eq!(crossed.problem().map(|p| p.0), Some("temp_cool"));
        let wide = Scales {
            cache_floor: 1.5,
            ..s
        };
        assert_eq!(wide.problem().map(|p| p.0), Some("cache_floor"));
        let inf = Scales {
            cost_full_scale_usd: f64::INFINITY,
            ..s
        };
        assert_eq!(inf.problem().map(|p| p.0), Some("cost_full_scale"));
    }
}
