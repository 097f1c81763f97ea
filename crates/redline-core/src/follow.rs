//! Smoothing for slow data: turns a needle goal that changes about once a second into a
//! target that moves at a steady pace, for the planner to chase.
//!
//! Handing the planner each new value directly would make the needle sprint and stop once
//! per poll. Instead the [`Follower`] walks its target linearly from wherever it is to the
//! newest goal over the expected poll interval, so with steadily changing data the needle
//! keeps moving at an even pace and reaches each value by the time the next one is due:
//! never more than one poll behind. A small deadband drops goals that differ from the
//! current one by less than a few steps, so noise in the data does not twitch the needle;
//! the two ends of the scale are always accepted so a needle can reach zero and full scale
//! exactly.

/// The target of one needle, in steps, moving between goals at a steady pace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Follower {
    from: u16,
    goal: u16,
    start_us: u64,
    duration_us: u64,
    deadband: u16,
    full_scale: u16,
}

impl Follower {
    /// A follower resting at `position`, ignoring goal changes of `deadband` steps or
    /// fewer, for a needle whose scale ends at `full_scale`.
    pub const fn new(position: u16, deadband: u16, full_scale: u16) -> Follower {
        Follower {
            from: position,
            goal: position,
            start_us: 0,
            duration_us: 0,
            deadband,
            full_scale,
        }
    }

    /// A new goal arrived at `now_us`: the target walks from where it is now to `goal`
    /// over `duration_us` (the expected time to the next poll). Returns false when the
    /// goal was within the deadband of the current one and is ignored.
    pub fn update(&mut self, goal: u16, now_us: u64, duration_us: u64) -> bool {
        let goal = goal.min(self.full_scale);
        let at_an_end = goal == 0 || goal == self.full_scale;
        if goal.abs_diff(self.goal) <= self.deadband && !(at_an_end && goal != self.goal) {
            return false;
        }
        self.walk_to(goal, now_us, duration_us);
        true
    }

    /// Walks the target to `goal` at `steps_per_s`, whatever the deadband: the failure
    /// rule's gentle return to zero.
    pub fn ease_to(&mut self, goal: u16, now_us: u64, steps_per_s: u32) {
        let goal = goal.min(self.full_scale);
        let distance = u64::from(self.target(now_us).abs_diff(goal));
        let duration = distance * 1_000_000 / u64::from(steps_per_s.max(1));
        self.walk_to(goal, now_us, duration);
    }

    /// The target for the planner at `now_us`.
    pub fn target(&self, now_us: u64) -> u16 {
        let elapsed = now_us.saturating_sub(self.start_us);
        if elapsed >= self.duration_us {
            return self.goal;
        }
        let span = i64::from(self.goal) - i64::from(self.from);
        // elapsed < duration, so the product stays within the span and fits an i64.
        let moved = span * elapsed as i64 / self.duration_us as i64;
        (i64::from(self.from) + moved) as u16
    }

    /// The goal the target is walking to.
    pub const fn goal(&self) -> u16 {
        self.goal
    }

    /// Walks the target from where it is at `now_us` to `goal` over `duration_us`,
    /// whatever the deadband.
    pub fn walk_to(&mut self, goal: u16, now_us: u64, duration_us: u64) {
        let goal = goal.min(self.full_scale);
        self.from = self.target(now_us);
        self.goal = goal;
        self.start_us = now_us;
        self.duration_us = duration_us;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_walks_evenly_to_the_goal() {
        let mut f = Follower::new(0, 10, 3756);
        assert!(f.update(1000, 5_000_000, 1_000_000));
        assert_eq!(f.target(5_000_000), 0);
        assert_eq!(f.target(5_250_000), 250);
        assert_eq!(f.target(5_500_000), 500);
        assert_eq!(f.target(6_000_000), 1000);
        assert_eq!(f.target(9_000_000), 1000);
    }

    #[test]
    fn a_new_goal_mid_walk_starts_from_the_current_target() {
        let mut f = Follower::new(0, 10, 3756);
        f.update(1000, 0, 1_000_000);
        f.update(0, 500_000, 1_000_000);
        assert_eq!(f.target(500_000), 500);
        assert_eq!(f.target(1_000_000), 250);
    }

    #[test]
    fn small_changes_are_ignored_but_the_ends_are_not() {
        let mut f = Follower::new(500, 10, 3756);
        assert!(!f.update(510, 0, 1_000_000));
        assert!(!f.update(490, 0, 1_000_000));
        assert!(f.update(511, 0, 1_000_000));
        let mut f = Follower::new(5, 10, 3756);
        assert!(f.update(0, 0, 1_000_000));
        let mut f = Follower::new(3750, 10, 3756);
        assert!(f.update(3756, 0, 1_000_000));
    }

    #[test]
    fn easing_takes_time_in_proportion_to_the_distance() {
        let mut f = Follower::new(0, 10, 3756);
        f.update(1200, 0, 0);
        f.ease_to(0, 0, 600);
        assert_eq!(f.target(1_000_000), 600);
        assert_eq!(f.target(2_000_000), 0);
    }
}
