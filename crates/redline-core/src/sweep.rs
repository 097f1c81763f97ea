//! The needle sweep for checking printed faces (`redline serve --sweep`): every needle
//! goes through 0, 25, 50, 75 and 100 % of its dial and back, holding each mark long
//! enough for a person to compare needle and tick, and moving between marks slowly, so the
//! firmware's planner follows without a jump. A pure function of the time since the sweep
//! began; it repeats until the daemon stops.

/// The marks, in the order the needles visit them (then back to the first).
pub const MARKS: [f32; 8] = [0.0, 0.25, 0.5, 0.75, 1.0, 0.75, 0.5, 0.25];

/// How long a needle stays on a mark.
pub const HOLD_MS: u64 = 3_000;

/// How long the move from one mark to the next takes.
pub const MOVE_MS: u64 = 2_000;

/// One lap: every mark held and left.
pub const LAP_MS: u64 = MARKS.len() as u64 * (HOLD_MS + MOVE_MS);

/// Where the needles stand `elapsed_ms` after the sweep began, and the mark they hold
/// (`None` while moving).
pub fn position(elapsed_ms: u64) -> (f32, Option<f32>) {
    let t = elapsed_ms % LAP_MS;
    let step = (t / (HOLD_MS + MOVE_MS)) as usize;
    let within = t % (HOLD_MS + MOVE_MS);
    let from = MARKS[step];
    if within < HOLD_MS {
        return (from, Some(from));
    }
    let to = MARKS[(step + 1) % MARKS.len()];
    // Smoothstep between the marks: it leaves and arrives at rest.
    let x = (within - HOLD_MS) as f32 / MOVE_MS as f32;
    let eased = x * x * (3.0 - 2.0 * x);
    (from + (to - from) * eased, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_each_mark_then_moves_on() {
        assert_eq!(position(0), (0.0, Some(0.0)));
        assert_eq!(position(2_999), (0.0, Some(0.0)));
        let (p, held) = position(4_000);
        assert_eq!(held, None);
        assert!((p - 0.125).abs() < 1e-6, "half way between 0 and 25 %: {p}");
        assert_eq!(position(5_000), (0.25, Some(0.25)));
        assert_eq!(position(20_000), (1.0, Some(1.0)));
        assert_eq!(position(25_000), (0.75, Some(0.75)));
        assert_eq!(position(35_000), (0.25, Some(0.25)));
        // The lap closes on the zero mark and starts again.
        assert_eq!(position(LAP_MS), (0.0, Some(0.0)));
        assert_eq!(position(LAP_MS + 10_000), (0.5, Some(0.5)));
    }

    #[test]
    fn never_jumps_or_leaves_the_dial() {
        let mut last = position(0).0;
        for ms in (0..2 * LAP_MS).step_by(50) {
            let (p, _) = position(ms);
            assert!((0.0..=1.0).contains(&p));
            // 50 ms apart, at most the steepest part of a 25 % smoothstep over 2 s.
            assert!(
                (p - last).abs() <= 0.25 * 1.5 * 50.0 / 2000.0 + 1e-6,
                "{ms}: {last} -> {p}"
            );
            last = p;
        }
    }
}
