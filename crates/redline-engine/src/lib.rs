//! Reading and accounting for Claude Code's transcripts: where they are, how their lines
//! are read, which copies of a response count, what they cost, and the reports built on
//! them. No HTTP and no clock: whatever depends on the time takes `now` as an argument.
//!
//! The pieces, in the order data flows through them:
//! [`roots`] finds the files, [`reader`] splits them into lines, [`record`] reads a line (with [`json`]),
//! [`ledger`] keeps each response once, [`scan`] does all of that on every core,
//! [`prices`] prices a response, [`blocks`] and [`report`] group responses for people;
//! [`live`] keeps a ledger going as lines arrive and computes the five values of
//! [`usage`] for any `now`, [`tail`] follows files as they grow and [`follow`] says
//! when to look. [`calibrate`] proposes the calibration variables from history and
//! replays it through [`live`] in virtual time. Apart from the accounting, [`text`]
//! counts the character of the conversation's text (em-dashes, words, phrases),
//! [`textline`] reads its pieces from a line, each once, and [`textscan`] reads every
//! transcript for it in a pass of its own, which reports never run. [`git`] attributes
//! commits to the sessions active when they were made, from the working directories
//! [`cwds`] reads in a light pass of its own. [`correlate`] lays another system's events
//! (a budget app's, deploys, hours) beside cost and tokens. [`relist`] finds what changed
//! in the transcripts before the file watches were in place.

pub mod archive;
pub mod blocks;
pub mod bulk;
pub mod calibrate;
pub mod correlate;
pub mod cwds;
pub mod days;
pub mod feed;
pub mod follow;
pub mod git;
pub mod hashed;
pub mod hosts;
pub mod index;
pub mod journal;
pub mod json;
pub mod ledger;
pub mod live;
pub mod otlp;
pub mod prices;
pub mod reader;
pub mod record;
pub mod relist;
pub mod report;
pub mod roots;
pub mod scan;
pub mod stats;
pub mod store;
pub mod tail;
pub mod text;
pub mod textline;
pub mod textscan;
pub mod thinking;
pub mod timestamp;
pub mod turnline;
pub mod usage;
