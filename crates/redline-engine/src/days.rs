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
}
