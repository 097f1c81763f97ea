//! `[[correlate]]`: another system's events beside Claude cost and tokens. The arithmetic
//! is `redline_engine::correlate`'s; here are the sources as the config file names them
//! ([`source`]), reading a file or fetching a URL ([`fetch`], [`load`]), the daemon's kept
//! copies ([`keeper`]), the JSON both `redline stats correlate --json` and
//! `/api/correlate` answer ([`document`]) and the daemon's two routes ([`api`]).

pub mod api;
pub mod document;
pub mod fetch;
pub mod keeper;
pub mod load;
pub mod source;

pub use source::{FileCorrelate, Source};
