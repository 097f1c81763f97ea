//! Exhaustive checks of the motion planner and homing that are loops rather than stories:
//! every move length from rest, every length from several speeds, random retargeting, the
//! speed bound at every step, and the acceleration the table implies.

use redline_core::homing::{Homing, HomingOptions};
use redline_core::motion::{
    ACCEL_DPS2, DIRECT_DRIVE, Direction, MAX_SPEED_DPS, Planner, Profile, QUAD_MICROSTEP,
    START_STOP_DPS,
};

const PROFILES: [Profile; 2] = [QUAD_MICROSTEP, DIRECT_DRIVE];

/// One step as the tests see it.
#[derive(Clone, Copy, Debug)]
struct Taken {
    at_us: u64,
    direction: Direction,
    position: u16,
    level: u16,
}

/// A repeatable stream of pseudo-random numbers from `seed` (a 64-bit LCG's high bits).
fn numbers(mut seed: u64) -> impl FnMut() -> u32 {
    move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as u32
    }
}

/// Steps the planner at its exact deadlines until it rests (or `limit` steps), checking
/// after every step what must hold for any move: the speed cap, the level moving by at
/// most one per step, reversals only at the start speed, and the needle in range.
fn run(planner: &mut Planner, now: &mut u64, limit: usize, taken: &mut Vec<Taken>) {
    let full_scale = planner.profile().full_scale();
    for _ in 0..limit {
        let Some(deadline) = planner.next_deadline() else {
            return;
        };
        *now = (*now).max(deadline);
        let level_before = planner.level();
        let step = planner
            .next_step(*now)
            .expect("a step is due at its deadline");
        let after = Taken {
            at_us: *now,
            direction: step.direction,
            position: planner.position(),
            level: planner.level(),
        };
        if let Some(prev) = taken.last() {
            let interval = after.at_us - prev.at_us;
            assert!(
                interval >= u64::from(planner.min_interval_us()),
                "{:?} came {interval} us after {:?}",
                after,
                prev
            );
            if prev.direction != after.direction {
                assert!(
                    level_before <= 1,
                    "reversed at level {level_before}: {prev:?} -> {after:?}"
                );
            }
        }
        // Level 0 after a step means it arrived at level 1.
        let level_now = after.level.max(1);
        assert!(
            level_now.abs_diff(level_before.max(1)) <= 1,
            "level jumped from {level_before} to {level_now} at {after:?}"
        );
        assert!(after.position <= full_scale);
        taken.push(after);
    }
    panic!("the planner did not come to rest within {limit} steps");
}

#[test]
fn every_move_from_rest_arrives_exactly_without_overshoot() {
    for profile in PROFILES {
        let full_scale = profile.full_scale();
        let mut moves = 0;
        let mut taken = Vec::new();
        for length in 1..=full_scale {
            for (from, to) in [(0, length), (full_scale, full_scale - length)] {
                let mut planner = Planner::new(profile);
                planner.reset(from);
                planner.set_target(to);
                let mut now = 1_000_000;
                taken.clear();
                run(&mut planner, &mut now, 10_000, &mut taken);
                let direction = if to > from {
                    Direction::Up
                } else {
                    Direction::Down
                };
                assert!(
                    taken.iter().all(|t| t.direction == direction),
                    "{} move {from} -> {to} turned back (overshoot)",
                    profile.name
                );
                assert_eq!(usize::from(length), taken.len());
                assert_eq!(planner.position(), to);
                assert!(planner.is_idle());
                moves += 1;
            }
        }
        assert_eq!(moves, 2 * usize::from(full_scale));
    }
}

#[test]
fn the_full_sweep_reaches_600_dps_and_takes_about_two_thirds_of_a_second() {
    for profile in PROFILES {
        let mut planner = Planner::new(profile);
        planner.set_target(profile.full_scale());
        let (mut now, mut taken) = (0, Vec::new());
        run(&mut planner, &mut now, 10_000, &mut taken);
        let fastest = taken
            .windows(2)
            .map(|w| w[1].at_us - w[0].at_us)
            .min()
            .unwrap();
        let top_dps = 1_000_000.0 / (fastest as f64 * f64::from(profile.steps_per_degree));
        assert!(
            top_dps <= 600.0 && top_dps > 590.0,
            "{}: {top_dps}",
            profile.name
        );
        let sweep_ms = now / 1000;
        // 313 degrees: 58 degrees up the ramp, 58 down, the rest at 600 deg/s.
        assert!(
            (600..=720).contains(&sweep_ms),
            "{}: {sweep_ms} ms",
            profile.name
        );
    }
}

#[test]
fn every_move_from_speed_brakes_no_further_than_it_must() {
    for profile in PROFILES {
        let full_scale = profile.full_scale();
        for start_level in [2, 10, 60, 200, 400, u16::MAX] {
            // Get up to speed on a long move, then change the target.
            let mut base = Planner::new(profile);
            base.set_target(full_scale);
            let mut now = 0;
            let mut taken = Vec::new();
            while base.level() < start_level && base.stopping_distance() < full_scale / 3 {
                let d = base.next_deadline().unwrap();
                now = now.max(d);
                base.next_step(now).unwrap();
                taken.push(Taken {
                    at_us: now,
                    direction: Direction::Up,
                    position: base.position(),
                    level: base.level(),
                });
                if base.level() == 0 || base.level() == start_level {
                    break;
                }
                // The top level: it stops climbing.
                if taken.len() > 2 && taken[taken.len() - 2].level == base.level() {
                    break;
                }
            }
            let from = base.position();
            let braking = base.stopping_distance();
            for target in (0..=full_scale).step_by(usize::from(profile.steps_per_degree)) {
                let mut planner = base;
                let mut now = now;
                let mut taken = taken.clone();
                let start = taken.len();
                planner.set_target(target);
                run(&mut planner, &mut now, 20_000, &mut taken);
                assert_eq!(planner.position(), target);
                let peak = taken[start..]
                    .iter()
                    .map(|t| t.position)
                    .max()
                    .unwrap_or(from);
                let must_reach = from + braking;
                let allowed = target.max(must_reach);
                assert!(
                    peak <= allowed,
                    "{} at level {} from {from}: target {target} peaked at {peak}, allowed {allowed}",
                    profile.name,
                    base.level()
                );
                if target > must_reach {
                    assert!(
                        taken[start..].iter().all(|t| t.direction == Direction::Up),
                        "{} target {target} ahead of the braking point turned back",
                        profile.name
                    );
                }
            }
        }
    }
}

#[test]
fn random_retargeting_keeps_every_guarantee() {
    let mut next = numbers(0x5eed);
    for profile in PROFILES {
        let mut planner =
            Planner::new(profile).with_max_speed(if profile.name == "quad" { 600 } else { 450 });
        let mut now = 0;
        let mut taken = Vec::new();
        for _ in 0..3000 {
            planner.set_target((next() % u32::from(profile.full_scale() + 1)) as u16);
            // Let it run a random number of steps (often fewer than it needs).
            let steps = (next() % 400) as usize;
            for _ in 0..steps {
                let Some(d) = planner.next_deadline() else {
                    break;
                };
                now = now.max(d);
                let before = planner.level();
                let step = planner.next_step(now).unwrap();
                if let Some(prev) = taken.last() {
                    let prev: &Taken = prev;
                    assert!(now - prev.at_us >= u64::from(planner.min_interval_us()));
                    if prev.direction != step.direction {
                        assert!(before <= 1, "reversed at level {before}");
                    }
                }
                assert!(planner.level().max(1).abs_diff(before.max(1)) <= 1);
                taken.push(Taken {
                    at_us: now,
                    direction: step.direction,
                    position: planner.position(),
                    level: planner.level(),
                });
            }
        }
        // And it still settles exactly.
        planner.set_target(17);
        let mut tail = Vec::new();
        run(&mut planner, &mut now, 20_000, &mut tail);
        assert_eq!(planner.position(), 17);
    }
}

#[test]
fn a_lower_needle_speed_caps_every_step_even_when_set_mid_move() {
    for profile in PROFILES {
        let mut planner = Planner::new(profile).with_max_speed(250);
        assert_eq!(planner.min_interval_us(), profile.interval_at_dps(250));
        planner.set_target(profile.full_scale());
        let (mut now, mut taken) = (0, Vec::new());
        run(&mut planner, &mut now, 10_000, &mut taken);
        // Mid-move: from full speed down to 150 deg/s brakes one level per step.
        let mut planner = Planner::new(profile);
        planner.set_target(profile.full_scale());
        for _ in 0..u32::from(profile.full_scale()) / 2 {
            let d = planner.next_deadline().unwrap();
            now = now.max(d);
            planner.next_step(now).unwrap();
        }
        planner.set_max_speed(150);
        let mut taken = Vec::new();
        run(&mut planner, &mut now, 10_000, &mut taken);
        let tail = &taken[taken.len() / 2..];
        let slowest_allowed = profile.interval_at_dps(150);
        assert!(
            tail.windows(2)
                .all(|w| w[1].at_us - w[0].at_us >= u64::from(slowest_allowed))
        );
    }
}

#[test]
fn the_table_accelerates_within_ten_percent_of_the_design_figure() {
    for profile in PROFILES {
        let spd = f64::from(profile.steps_per_degree);
        for level in 1..2000u16 {
            let v0 = f64::from(profile.level_speed_mdps(level)) / 1000.0;
            let v1 = f64::from(profile.level_speed_mdps(level + 1)) / 1000.0;
            let accel = (v1 * v1 - v0 * v0) / (2.0 / spd);
            assert!(
                accel <= f64::from(ACCEL_DPS2) * 1.1,
                "{} level {level}: {v0} -> {v1} deg/s is {accel} deg/s^2",
                profile.name
            );
        }
        let top = Planner::new(profile).min_interval_us();
        let top_dps = 1e6 / (f64::from(top) * spd);
        assert!(top_dps <= f64::from(MAX_SPEED_DPS));
    }
}

#[test]
fn homing_never_exceeds_the_start_stop_speed_and_covers_more_than_the_sweep() {
    for profile in PROFILES {
        for speed in [180, 200, 400] {
            let options = HomingOptions {
                speed_dps: speed,
                ..HomingOptions::DEFAULT
            };
            let mut homing = Homing::with_options(profile, options);
            let (mut now, mut last, mut back, mut up) = (0u64, None::<u64>, 0u32, 0u32);
            while let Some(d) = homing.next_deadline() {
                now = now.max(d);
                let step = homing.next_step(now).unwrap();
                if let Some(last) = last {
                    let dps = 1e6 / ((now - last) as f64 * f64::from(profile.steps_per_degree));
                    assert!(
                        dps <= f64::from(START_STOP_DPS),
                        "{} at {dps}",
                        profile.name
                    );
                }
                last = Some(now);
                match step.direction {
                    Direction::Down => back += 1,
                    Direction::Up => up += 1,
                }
            }
            assert!(homing.is_done());
            let spd = u32::from(profile.steps_per_degree);
            assert_eq!(back, u32::from(profile.sweep_steps) + 20 * spd);
            assert_eq!(up, 10 * spd + u32::from(profile.zero_offset));
            assert!(now < 2_500_000, "{} homing took {now} us", profile.name);
        }
    }
}

/// The step interrupt's call (`step_due` at fixed ticks, trusting its cached deadline) takes
/// the same steps at the same ticks as `next_step` asked at every tick, through random
/// retargeting, and the deadline it hands back is `next_deadline`'s.
#[test]
fn step_due_at_fixed_ticks_takes_the_steps_next_step_would() {
    const TICK_US: u64 = 35;
    let mut next = numbers(0x71c4);
    for profile in PROFILES {
        let (mut isr, mut asked) = (Planner::new(profile), Planner::new(profile));
        let mut deadline = isr.next_deadline();
        let mut steps = 0u32;
        for tick in 0..400_000u64 {
            let now = tick * TICK_US;
            if next().is_multiple_of(2_000) {
                let target = (next() % u32::from(profile.full_scale() + 1)) as u16;
                isr.set_target(target);
                asked.set_target(target);
                deadline = isr.next_deadline();
            }
            let by_isr = match deadline {
                Some(d) if d <= now => {
                    let (step, after) = isr.step_due(now).expect("a step at its deadline");
                    deadline = after;
                    Some(step)
                }
                _ => None,
            };
            assert_eq!(by_isr, asked.next_step(now), "{} at {now} us", profile.name);
            assert_eq!(isr.position(), asked.position());
            assert_eq!(
                deadline,
                asked.next_deadline(),
                "{} at {now} us",
                profile.name
            );
            steps += u32::from(by_isr.is_some());
        }
        assert!(steps > 10_000, "{}: only {steps} steps", profile.name);
    }
}
