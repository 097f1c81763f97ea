//! `redline doctor`'s part about the store's damage, and `redline doctor --ack`. A store
//! record that fails its checksum or does not decode is moved to a side file beside the
//! store (see [`redline_engine::journal`]); STALL blinks until the user has looked at it
//! and acknowledged it. The acknowledgement is a marker with the side file's size and
//! checksum, so the running daemon puts the lamp out at its next check (within a second)
//! and lights it again if more damage is found.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use clap::parser::ValueSource;
use redline_engine::journal;
use redline_engine::roots::RootEnv;
use redline_engine::store;

use crate::config;

/// Prints what the store's side file holds, for `redline doctor`.
pub fn explain(out: &mut impl Write, state_dir: &Path) -> Result<()> {
    let path = state_dir.join(store::FILE);
    writeln!(out, "\nstore {}", path.display())?;
    match journal::damage(&path) {
        Ok(None) => writeln!(out, "  no damaged records")?,
        Ok(Some(d)) => {
            writeln!(
                out,
                "  {} damaged {} (a checksum or format that did not hold: a flipped bit, a \
                 bad disk, an edit) moved out of the store, as found, into {} ({} bytes); \
                 they are not counted",
                d.records,
                if d.records == 1 { "record" } else { "records" },
                d.side.display(),
                d.bytes
            )?;
            if d.acknowledged {
                writeln!(out, "  acknowledged: STALL does not blink for them")?;
            } else {
                writeln!(
                    out,
                    "  not acknowledged: STALL blinks; look at them, then run `redline doctor --ack`"
                )?;
            }
        }
        Err(e) => writeln!(out, "  cannot read the damaged records: {e}")?,
    }
    Ok(())
}

/// `redline doctor --ack`: acknowledges the side file as it is now.
pub fn run(
    args: &config::DaemonArgs,
    source: &dyn Fn(&str) -> Option<ValueSource>,
    env: &RootEnv,
) -> Result<()> {
    let cfg = config::resolve(args, source, env)?;
    let path = cfg.state_dir.join(store::FILE);
    let mut out = std::io::stdout().lock();
    match journal::acknowledge(&path).with_context(|| {
        format!(
            "cannot acknowledge {}",
            journal::damaged_path(&path).display()
        )
    })? {
        None => writeln!(
            out,
            "no damaged records in {}: nothing to acknowledge",
            path.display()
        )?,
        Some(d) => writeln!(
            out,
            "acknowledged {} damaged {} in {}; STALL stops blinking for them within a second \
             (more damage lights it again). The file stays; delete it once you no longer need it.",
            d.records,
            if d.records == 1 { "record" } else { "records" },
            d.side.display()
        )?,
    }
    Ok(())
}
