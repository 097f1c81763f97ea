//! The build-time configuration `build.rs` wrote from the `REDLINE_*` environment
//! variables: Wi-Fi credentials, the daemon URL, the poll interval, dimming and the pin
//! map (as the `take_pins!` macro, so each pin is a checked peripheral field).
//!
//! Nothing here is read at run time from flash: a changed setting means a rebuild, which
//! keeps the firmware free of a settings store and a provisioning UI.

include!(concat!(env!("OUT_DIR"), "/config.rs"));
include!(concat!(env!("OUT_DIR"), "/pins.rs"));

pub(crate) use take_pins;
