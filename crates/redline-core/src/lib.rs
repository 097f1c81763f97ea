//! The decisions the redline daemon and the ESP32 firmware share.
//!
//! This crate does no I/O and reads no clock: time reaches it as an argument, so every rule
//! here runs the same on the host (in tests, in virtual time) and on the chip. It holds
//! the token arithmetic and model families now; the wire types of `/usage`, gauge scales,
//! lamp rules and the needle motion planner join it as those parts are built.
#![cfg_attr(not(any(test, feature = "std")), no_std)]

pub mod calibration;
pub mod follow;
pub mod gauges;
pub mod homing;
pub mod lamps;
pub mod led;
pub mod model;
pub mod motion;
pub mod poll;
pub mod tokens;
pub mod wire;

pub use model::ModelFamily;
pub use tokens::TokenCounts;
pub use wire::{GaugeReport, Gauges, LampState, Lamps};
