//! What Claude Code tells redline directly, besides its transcripts: the statusLine JSON
//! (piped to `redline statusline` on each assistant message, forwarded to the daemon) and
//! the bodies of its HTTP hooks. Only the fields that move a gauge or lamp are read;
//! everything else is ignored, and a field of an unexpected type is ignored too rather than
//! refusing the whole body (Claude Code's shapes change between versions).

use serde::Deserialize;
use serde_json::Value;

/// One of Claude Code's plan limits as the statusLine reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LimitWindow {
    /// Share used, 0..1 (the statusLine says 0..100).
    pub used: f64,
    /// When the window resets, seconds since the epoch.
    pub resets_at_s: i64,
}

/// The facts of one statusLine object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatusFeed {
    /// `session_id`.
    pub session_id: Option<String>,
    /// `model.id`.
    pub model_id: Option<String>,
    /// `model.display_name`.
    pub model_name: Option<String>,
    /// `context_window.context_window_size`.
    pub context_window_size: Option<u64>,
    /// `context_window.used_percentage` as a share.
    pub context_used: Option<f64>,
    /// `cost.total_cost_usd` (the session's).
    pub session_cost_usd: Option<f64>,
    /// `rate_limits.five_hour`.
    pub five_hour: Option<LimitWindow>,
    /// `rate_limits.seven_day`.
    pub seven_day: Option<LimitWindow>,
}

/// Why a body was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedError(pub String);

impl std::fmt::Display for FeedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FeedError {}

fn object(body: &[u8]) -> Result<serde_json::Map<String, Value>, FeedError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(FeedError("the body is JSON but not an object".into())),
        Err(e) => Err(FeedError(format!("the body is not JSON: {e}"))),
    }
}

/// A number, or a string holding one (Claude Code writes both in places).
fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

fn string(v: Option<&Value>) -> Option<String> {
    v?.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

fn path<'a>(v: &'a serde_json::Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    let (first, rest) = keys.split_first()?;
    rest.iter().try_fold(v.get(*first)?, |at, k| at.get(*k))
}

fn window(v: &serde_json::Map<String, Value>, name: &str) -> Option<LimitWindow> {
    let used = number(path(v, &["rate_limits", name, "used_percentage"]))?;
    let resets = number(path(v, &["rate_limits", name, "resets_at"]))?;
    Some(LimitWindow {
        used: (used / 100.0).clamp(0.0, 1.0),
        resets_at_s: resets as i64,
    })
}

impl StatusFeed {
    /// Reads a statusLine object.
    pub fn parse(body: &[u8]) -> Result<StatusFeed, FeedError> {
        let v = object(body)?;
        Ok(StatusFeed {
            session_id: string(v.get("session_id")),
            model_id: string(path(&v, &["model", "id"])),
            model_name: string(path(&v, &["model", "display_name"])),
            context_window_size: number(path(&v, &["context_window", "context_window_size"]))
                .filter(|&n| n >= 1.0)
                .map(|n| n as u64),
            context_used: number(path(&v, &["context_window", "used_percentage"]))
                .map(|p| (p / 100.0).clamp(0.0, 1.0)),
            session_cost_usd: number(path(&v, &["cost", "total_cost_usd"])),
            five_hour: window(&v, "five_hour"),
            seven_day: window(&v, "seven_day"),
        })
    }
}

/// The hook events redline acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookKind {
    /// A session started (or resumed).
    SessionStart,
    /// The user sent a prompt: a turn begins.
    UserPromptSubmit,
    /// A tool is about to run: not a stall, however long it takes.
    PreToolUse,
    /// A tool finished: the turn goes on.
    PostToolUse,
    /// The turn ended.
    Stop,
    /// The turn ended with an error.
    StopFailure,
    /// The session ended.
    SessionEnd,
    /// Any other event: accepted, changes nothing.
    Other,
}

/// The facts of one hook body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookEvent {
    /// `hook_event_name`.
    pub kind: HookKind,
    /// `session_id`.
    pub session_id: Option<String>,
    /// `StopFailure`'s `error` (`rate_limit`, ...).
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct HookBody {
    hook_event_name: String,
}

impl HookEvent {
    /// Reads a hook body. It must name its event.
    pub fn parse(body: &[u8]) -> Result<HookEvent, FeedError> {
        let v = object(body)?;
        let name = serde_json::from_value::<HookBody>(Value::Object(v.clone()))
            .map_err(|_| FeedError("a hook body names its event in \"hook_event_name\"".into()))?
            .hook_event_name;
        let kind = match name.as_str() {
            "SessionStart" => HookKind::SessionStart,
            "UserPromptSubmit" => HookKind::UserPromptSubmit,
            "PreToolUse" => HookKind::PreToolUse,
            "PostToolUse" => HookKind::PostToolUse,
            "Stop" => HookKind::Stop,
            "StopFailure" => HookKind::StopFailure,
            "SessionEnd" => HookKind::SessionEnd,
            _ => HookKind::Other,
        };
        // `error` may be a string or an object with a `type`.
        let error = match v.get("error") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(o)) => string(o.get("type")),
            _ => None,
        };
        Ok(HookEvent {
            kind,
            session_id: string(v.get("session_id")),
            error,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_shaped_status_line() {
        let body = br#"{"session_id":"abc","transcript_path":"/x.jsonl","cwd":"/p","version":"2.1.90",
            "model":{"id":"claude-opus-4-6","display_name":"Opus 4.6"},
            "workspace":{"current_dir":"/p","project_dir":"/p"},
            "cost":{"total_cost_usd":1.25,"total_duration_ms":5000},
            "context_window":{"total_input_tokens":1000,"context_window_size":1000000,"used_percentage":12.5},
            "exceeds_200k_tokens":false,
            "rate_limits":{"five_hour":{"used_percentage":62,"resets_at":1795000000},
                           "seven_day":{"used_percentage":"18.5","resets_at":1795500000}}}"#;
        let f = StatusFeed::parse(body).unwrap();
        assert_eq!(f.session_id.as_deref(), Some("abc"));
        assert_eq!(f.model_id.as_deref(), Some("claude-opus-4-6"));
        assert_eq!(f.context_window_size, Some(1_000_000));
        assert_eq!(f.context_used, Some(0.125));
        assert_eq!(
            f.five_hour,
            Some(LimitWindow {
                used: 0.62,
                resets_at_s: 1_795_000_000
            })
        );
        assert_eq!(f.seven_day.map(|w| w.used), Some(0.185));
    }

    #[test]
    fn missing_and_odd_fields_are_ignored_not_fatal() {
        let f = StatusFeed::parse(
            br#"{"model":"opus","rate_limits":{"five_hour":{"used_percentage":50}}}"#,
        )
        .unwrap();
        assert_eq!(f, StatusFeed::default());
        assert!(
            StatusFeed::parse(b"[1,2]")
                .unwrap_err()
                .0
                .contains("not an object")
        );
        assert!(
            StatusFeed::parse(b"{oops")
                .unwrap_err()
                .0
                .contains("not JSON")
        );
    }

    #[test]
    fn hook_bodies() {
        let h = HookEvent::parse(
            br#"{"session_id":"s","hook_event_name":"StopFailure","error":"rate_limit"}"#,
        )
        .unwrap();
        assert_eq!(
            (h.kind, h.error.as_deref()),
            (HookKind::StopFailure, Some("rate_limit"))
        );
        let h =
            HookEvent::parse(br#"{"hook_event_name":"StopFailure","error":{"type":"rate_limit"}}"#)
                .unwrap();
        assert_eq!(h.error.as_deref(), Some("rate_limit"));
        assert_eq!(
            HookEvent::parse(br#"{"hook_event_name":"PreCompact"}"#)
                .unwrap()
                .kind,
            HookKind::Other
        );
        assert!(
            HookEvent::parse(br#"{"session_id":"s"}"#)
                .unwrap_err()
                .0
                .contains("hook_event_name")
        );
    }
}
