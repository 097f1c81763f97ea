//! One module per subcommand.

pub mod ack;
pub mod calibrate;
pub mod cluster;
pub mod correlate;
pub mod demo;
pub mod doctor;
pub mod faces;
pub mod install_claude;
pub mod report;
pub mod serve;
pub mod service;
pub mod stats;
pub mod stats_git;
pub mod statusline;
pub mod watch;
