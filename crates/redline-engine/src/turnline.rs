//! A transcript line as the turn rule reads it: when it was written, whether it is on the
//! main chain, and what it says of the turn (a prompt, a tool's result, a tool starting,
//! an answer, the turn's end). See `redline_core::turn` for the rule itself.
//!
//! Only the live reader asks this, a line at a time as lines arrive (and for the last
//! lines of recent files at start-up), so the line is read whole; the cold scan never
//! does. A usage line, already read for its usage, gives its turn from that record
//! ([`of_record`]) rather than being read again.

use redline_core::turn::LineMark;

use crate::json::{Cursor, JsonError};
use crate::record::Record;
use crate::thinking::{self, LastBlock};
use crate::timestamp;

/// What a line says of its session's turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TurnLine {
    /// The line's `timestamp`, milliseconds since the epoch.
    pub ts_ms: i64,
    /// Its place in the turn: `None` for lines that say nothing of it (progress,
    /// snapshots, sidechain lines, local commands, `isMeta` lines).
    pub mark: Option<LineMark>,
}

/// User texts that do not go to the model: local commands and their output, shell lines.
const LOCAL_PREFIXES: [&[u8]; 6] = [
    b"<command-name>",
    b"<command-message>",
    b"<local-command-stdout>",
    b"<local-command-stderr>",
    b"<bash-input>",
    b"<bash-stdout>",
];
/// What Claude Code writes as a user line when the user stops a turn.
const INTERRUPTED: &[u8] = b"[Request interrupted by user";

#[derive(Default)]
struct Fields<'a> {
    kind: Option<&'a [u8]>,
    subtype: Option<&'a [u8]>,
    timestamp: Option<&'a [u8]>,
    sidechain: bool,
    meta: bool,
    /// user: the content's verdict; assistant: its last block.
    user: Option<LineMark>,
    user_local: bool,
    last_block: Option<LastBlock>,
}

/// Reads a line; `None` for a line without a readable `timestamp` (or not JSON).
pub fn read(line: &[u8]) -> Option<TurnLine> {
    let f = fields(line.trim_ascii()).ok()?;
    let ts_ms = timestamp::parse(std::str::from_utf8(f.timestamp?).ok()?)?.ms;
    let mark = if f.sidechain || f.meta {
        None
    } else {
        match f.kind {
            Some(b"user") if !f.user_local => f.user,
            Some(b"assistant") => Some(answer(f.last_block)),
            Some(b"system") if f.subtype == Some(b"turn_duration") => Some(LineMark::TurnEnd),
            _ => None,
        }
    };
    Some(TurnLine { ts_ms, mark })
}

/// What a usage line (an assistant line, read by [`crate::record`]) says of the turn.
pub fn of_record(rec: &Record<'_>) -> TurnLine {
    TurnLine {
        ts_ms: rec.ts_ms,
        mark: (!rec.sidechain).then(|| answer(rec.last_block)),
    }
}

/// An assistant line: a tool starting when its last block is a `tool_use`, else an answer.
fn answer(last_block: Option<LastBlock>) -> LineMark {
    match last_block {
        Some(LastBlock::ToolUse) => LineMark::ToolUse,
        _ => LineMark::Reply,
    }
}

fn fields(line: &[u8]) -> Result<Fields<'_>, JsonError> {
    let mut f = Fields::default();
    let mut c = Cursor::new(line);
    let mut message: Option<Cursor<'_>> = None;
    c.object(|key, c| {
        match key {
            b"type" => f.kind = c.str_or_skip()?,
            b"subtype" => f.subtype = c.str_or_skip()?,
            b"timestamp" => f.timestamp = c.str_or_skip()?,
            b"isSidechain" => f.sidechain = flag(c)?,
            b"isMeta" | b"isCompactSummary" => f.meta |= flag(c)?,
            b"message" => {
                // Read after the loop, once `type` is known (it may come later).
                message = Some(c.clone());
                c.skip()?;
            }
            _ => c.skip()?,
        }
        Ok(())
    })?;
    if let Some(mut m) = message {
        match f.kind {
            Some(b"user") => read_user(&mut m, &mut f)?,
            Some(b"assistant") => {
                m.object_or_skip(|key, c| {
                    match key {
                        b"content" => f.last_block = thinking::read_content(c)?.1,
                        _ => c.skip()?,
                    }
                    Ok(())
                })?;
            }
            _ => {}
        }
    }
    Ok(f)
}

/// `true` for a JSON `true`; any other value is stepped over as `false`.
fn flag(c: &mut Cursor<'_>) -> Result<bool, JsonError> {
    if c.peek_byte() == Some(b't') {
        return c.opt_bool("flag").map(|b| b == Some(true));
    }
    c.skip().map(|()| false)
}

fn read_user<'a>(m: &mut Cursor<'a>, f: &mut Fields<'a>) -> Result<(), JsonError> {
    let verdict = |text: &[u8], f: &mut Fields<'a>| {
        let text = text.trim_ascii_start();
        if text.starts_with(INTERRUPTED) {
            f.user = Some(LineMark::TurnEnd);
        } else if LOCAL_PREFIXES.iter().any(|p| text.starts_with(p)) {
            f.user_local = true;
        } else if f.user.is_none() {
            f.user = Some(LineMark::Prompt);
        }
    };
    m.object_or_skip(|key, c| {
        if key != b"content" {
            return c.skip();
        }
        if c.peek_byte() == Some(b'"') {
            if let Some(text) = c.str_or_skip()? {
                verdict(text, f);
            }
            return Ok(());
        }
        c.items_or_skip(|c| {
            let thinking::Block { kind, text, .. } = thinking::read_block(c)?;
            match kind {
                Some(b"tool_result") => f.user = Some(LineMark::ToolResult),
                Some(b"text") => verdict(text.unwrap_or_default(), f),
                Some(_) if f.user.is_none() => f.user = Some(LineMark::Prompt),
                _ => {}
            }
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(())
}

/// The whole lines among the last `max_bytes` of the file at `path`, oldest first (a line
/// cut by the start of that stretch, or one not ended yet, is left out).
pub fn tail_lines(path: &std::path::Path, max_bytes: u64) -> std::io::Result<Vec<Vec<u8>>> {
    use std::io::{Read, Seek, SeekFrom};
    // Only a regular file is opened: opening a FIFO would wait for a writer.
    if !std::fs::metadata(path)?.is_file() {
        return Ok(Vec::new());
    }
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let from = len.saturating_sub(max_bytes);
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::new();
    f.take(max_bytes).read_to_end(&mut buf)?;
    let mut parts: Vec<&[u8]> = buf.split(|&b| b == b'\n').collect();
    // The last part is what follows the final newline: unfinished (or empty).
    parts.pop();
    if from > 0 && !parts.is_empty() {
        parts.remove(0);
    }
    Ok(parts.into_iter().map(<[u8]>::to_vec).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(line: &str) -> Option<LineMark> {
        read(line.as_bytes()).and_then(|t| t.mark)
    }

    const TS: &str = r#""timestamp":"2026-11-23T19:42:40.000Z""#;

    #[test]
    fn user_lines() {
        let prompt = format!(
            r#"{{"isSidechain":false,"type":"user","message":{{"role":"user","content":"fix it"}},{TS}}}"#
        );
        assert_eq!(mark(&prompt), Some(LineMark::Prompt));
        assert_eq!(read(prompt.as_bytes()).unwrap().ts_ms, 1_795_462_960_000);
        let result = format!(
            r#"{{"type":"user","message":{{"content":[{{"tool_use_id":"t","type":"tool_result","content":"ok"}}]}},{TS}}}"#
        );
        assert_eq!(mark(&result), Some(LineMark::ToolResult));
        let blocks = format!(
            r#"{{"type":"user","message":{{"content":[{{"type":"text","text":"look"}},{{"type":"image","source":{{}}}}]}},{TS}}}"#
        );
        assert_eq!(mark(&blocks), Some(LineMark::Prompt));
        let stop = format!(
            r#"{{"type":"user","message":{{"content":[{{"type":"text","text":"[Request interrupted by user for tool use]"}}]}},{TS}}}"#
        );
        assert_eq!(mark(&stop), Some(LineMark::TurnEnd));
        for local in [
            "<command-name>/model</command-name>",
            "<local-command-stdout>Set model</local-command-stdout>",
        ] {
            let l = format!(r#"{{"type":"user","message":{{"content":"{local}"}},{TS}}}"#);
            assert_eq!(mark(&l), None, "{local}");
        }
        let meta = format!(r#"{{"type":"user","isMeta":true,"message":{{"content":"x"}},{TS}}}"#);
        assert_eq!(mark(&meta), None);
        let side =
            format!(r#"{{"type":"user","isSidechain":true,"message":{{"content":"x"}},{TS}}}"#);
        assert_eq!(mark(&side), None);
        assert!(read(side.as_bytes()).is_some(), "still telemetry");
    }

    #[test]
    fn the_tail_of_a_file() {
        let dir = std::env::temp_dir().join(format!("redline-turnline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.jsonl");
        std::fs::write(&p, "first line\nsecond\nthird\npartial").unwrap();
        let all = tail_lines(&p, 1 << 20).unwrap();
        assert_eq!(
            all,
            vec![
                b"first line".to_vec(),
                b"second".to_vec(),
                b"third".to_vec()
            ]
        );
        // 16 bytes back starts inside "second": that line is left out.
        let some = tail_lines(&p, 16).unwrap();
        assert_eq!(some, vec![b"third".to_vec()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn assistant_and_system_lines() {
        // `message` before `type`, as Claude Code writes assistant lines.
        let tool = format!(
            r#"{{"isSidechain":false,"message":{{"content":[{{"type":"tool_use","id":"t","name":"Bash","input":{{}}}}]}},"type":"assistant",{TS}}}"#
        );
        assert_eq!(mark(&tool), Some(LineMark::ToolUse));
        let text = format!(
            r#"{{"message":{{"content":[{{"type":"text","text":"done"}}]}},"type":"assistant",{TS}}}"#
        );
        assert_eq!(mark(&text), Some(LineMark::Reply));
        let end = format!(r#"{{"type":"system","subtype":"turn_duration","durationMs":5,{TS}}}"#);
        assert_eq!(mark(&end), Some(LineMark::TurnEnd));
        let progress = format!(r#"{{"type":"progress","data":{{}},{TS}}}"#);
        assert_eq!(mark(&progress), None);
        assert!(read(progress.as_bytes()).is_some());
        assert_eq!(read(b"{\"type\":\"user\"}"), None, "no timestamp");
        assert_eq!(read(b"not json"), None);
    }
}
