//! Local days: the first of the last N days, and the instant a day begins. Every range
//! of "the last N days, today included" in reports, stats and the daemon is these two.

use jiff::civil::Date;
use jiff::tz::TimeZone;

/// The first of the `days` days that end with `last` (`days` at least 1; a single day is
/// `last` itself). `None` before the calendar's start.
pub fn first_of(last: Date, days: u32) -> Option<Date> {
    last.checked_sub(jiff::Span::new().days(i64::from(days.max(1)) - 1))
        .ok()
}

/// The instant local day `day` begins in `tz`, in milliseconds since the epoch (a day
/// whose midnight a clock change skips begins at the first instant after it). `None`
/// where `tz` cannot place it.
pub fn start_ms(day: Date, tz: &TimeZone) -> Option<i64> {
    tz.to_ambiguous_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
        .compatible()
        .ok()
        .map(|t| t.as_millisecond())
}

/// The local day of instants, in `tz`, remembering the last day's bounds: instants
/// that come in time order, as a transcript's do, cost a comparison each instead of a
/// time-zone lookup. Only a day with one offset throughout is remembered, so the answer
/// is always what `tz.to_datetime(..).date()` gives.
#[derive(Clone, Debug)]
pub struct DayOf<'a> {
    tz: &'a TimeZone,
    /// The last day worked out, and the instants it covers: `from..until`.
    from: i64,
    until: i64,
    day: Date,
}

impl<'a> DayOf<'a> {
    /// Days in `tz`.
    pub fn new(tz: &'a TimeZone) -> DayOf<'a> {
        DayOf {
            tz,
            from: 0,
            until: 0,
            day: Date::default(),
        }
    }

    /// The local day of `ms` (milliseconds since the epoch).
    pub fn of(&mut self, ms: i64) -> Date {
        if (self.from..self.until).contains(&ms) {
            return self.day;
        }
        let day = self.tz.to_datetime(crate::timestamp::instant(ms)).date();
        let bounds =
            start_ms(day, self.tz).zip(day.tomorrow().ok().and_then(|d| start_ms(d, self.tz)));
        let one_offset = |(from, until): (i64, i64)| {
            let offset = |t: i64| self.tz.to_offset(crate::timestamp::instant(t));
            from <= ms && ms < until && offset(from) == offset(until - 1)
        };
        match bounds.filter(|&b| one_offset(b)) {
            Some((from, until)) => (self.from, self.until) = (from, until),
            None => (self.from, self.until) = (0, 0),
        }
        self.day = day;
        day
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_days_end_with_the_day_given() {
        let d: Date = "2026-03-05".parse().unwrap();
        assert_eq!(first_of(d, 1), Some(d));
        assert_eq!(first_of(d, 0), Some(d));
        assert_eq!(first_of(d, 3).unwrap().to_string(), "2026-03-03");
        assert_eq!(first_of(d, 366).unwrap().to_string(), "2025-03-05");
        let start: Date = "-009999-01-02".parse().unwrap();
        assert_eq!(first_of(start, 3), None);
    }

    #[test]
    fn a_day_begins_at_local_midnight_or_the_instant_after_a_skipped_one() {
        let d: Date = "2026-03-05".parse().unwrap();
        let utc: jiff::Timestamp = "2026-03-05T00:00:00Z".parse().unwrap();
        assert_eq!(start_ms(d, &TimeZone::UTC), Some(utc.as_millisecond()));
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let cet: jiff::Timestamp = "2026-03-04T23:00:00Z".parse().unwrap();
        assert_eq!(start_ms(d, &berlin), Some(cet.as_millisecond()));
        // Santiago skips midnight when summer time starts (2026-09-06): the day begins at 01:00.
        let santiago = TimeZone::get("America/Santiago").unwrap();
        let day: Date = "2026-09-06".parse().unwrap();
        let one_am: jiff::Timestamp = "2026-09-06T04:00:00Z".parse().unwrap();
        assert_eq!(start_ms(day, &santiago), Some(one_am.as_millisecond()));
    }

    /// The remembered day never gives another answer than the time zone itself, in time
    /// order and out of it, across clock changes (Santiago skips midnight, Lord Howe
    /// moves by half an hour, Apia skipped a whole day in 2011).
    #[test]
    fn the_remembered_day_is_the_time_zones_day() {
        let zones = [
            "UTC",
            "Europe/Berlin",
            "America/Santiago",
            "Australia/Lord_Howe",
            "Pacific/Apia",
        ];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let start = 1_293_840_000_000i64; // 2011-01-01
        for name in zones {
            let tz = TimeZone::get(name).unwrap();
            let mut days = DayOf::new(&tz);
            let direct = |ms: i64| tz.to_datetime(crate::timestamp::instant(ms)).date();
            // Every 20 minutes across 16 years, in order...
            let mut ms = start;
            while ms < start + 16 * 366 * 86_400_000 {
                assert_eq!(days.of(ms), direct(ms), "{name} at {ms}");
                ms += 1_200_000;
            }
            // ...and at random instants, out of order.
            for _ in 0..20_000 {
                let ms = start + (next() % (16 * 366 * 86_400_000)) as i64;
                assert_eq!(days.of(ms), direct(ms), "{name} at {ms}");
            }
        }
    }
}
