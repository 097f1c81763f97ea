//! The decisions the redline daemon and the ESP32 firmware share.
//!
//! This crate does no I/O and reads no clock: time reaches it as an argument, so every rule
//! here runs the same on the host (in tests, in virtual time) and on the chip. It holds
//! the token arithmetic and model families, the wire types of `/usage`, the gauge scales
//! and zones, the turn rule and lamp rules, the lamp LEDs' colours, and the needle
//! motion planner, homing, smoothing and poll logic the firmware runs, and the firmware's
//! wire code (the mDNS query and answer, the HTTP request and response) and poll schedule.
#![cfg_attr(not(any(test, feature = "std")), no_std)]

pub mod calibration;
pub mod face;
pub mod fixed;
pub mod follow;
pub mod gauges;
pub mod homing;
pub mod http;
pub mod lamps;
pub mod led;
pub mod mdns;
pub mod model;
pub mod motion;
pub mod poll;
pub mod schedule;
pub mod sweep;
pub mod tokens;
pub mod turn;
pub mod wire;

pub use gauges::Dial;
pub use model::ModelFamily;
pub use tokens::TokenCounts;
pub use wire::{GaugeReport, Lamp, LampState, Lamps, Rgb};
