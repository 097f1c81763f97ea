//! The turn rule: whether a session is in a turn, waiting for the model, or running a
//! tool, from its hooks when it sends them and from its transcript otherwise (SPEC.md,
//! "The cluster").
//!
//! A turn runs from a prompt to its `Stop`, `StopFailure` or `SessionEnd`. A session is
//! *waiting for the model* when, by its hooks (once it has sent any), the latest
//! `UserPromptSubmit` or `PostToolUse` is later than the latest `PreToolUse`, `Stop`,
//! `StopFailure` or `SessionEnd`; without hooks, when its newest main-chain line is a
//! prompt or a tool result. A tool that is running (a `PreToolUse` without its
//! `PostToolUse`, or a newest line that is an assistant `tool_use`) is not waiting: a
//! ten-minute build keeps STALL dark. Anything older than the stale limit is over: a
//! session that went quiet for hours is not "in a turn".
//!
//! Times are milliseconds since the epoch, passed in; nothing here reads a clock.

/// A hook event, as the turn rule reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookMark {
    /// `UserPromptSubmit`: a turn begins.
    Prompt,
    /// `PreToolUse`: a tool starts.
    PreTool,
    /// `PostToolUse`: a tool finished; the model has the turn again.
    PostTool,
    /// `Stop` or `StopFailure`: the turn is over.
    Stop,
    /// `SessionEnd`.
    SessionEnd,
}

/// The kind of a session's main-chain transcript line, as the turn rule reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineMark {
    /// A user prompt: the model has the turn.
    Prompt,
    /// A tool's result went back: the model has the turn.
    ToolResult,
    /// An assistant line whose last block is a `tool_use`: a tool runs.
    ToolUse,
    /// Any other assistant line (thinking, text, an API error): the model answered.
    Reply,
    /// A line that closes the turn (`system` `turn_duration`, an interruption).
    TurnEnd,
}

/// Where a session's turn state came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Claude Code's hooks.
    Hooks,
    /// The transcript's newest main-chain line.
    Transcript,
}

impl Basis {
    /// The word `/usage`'s `turn.basis` uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Basis::Hooks => "hooks",
            Basis::Transcript => "transcript",
        }
    }
}

/// Where a session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// No turn open.
    Idle,
    /// In a turn, the model's move.
    Waiting,
    /// In a turn, a tool running.
    Tool,
}

/// One session's turn state at some moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TurnView {
    /// Where it stands.
    pub phase: Phase,
    /// When the open turn began (`None` when idle).
    pub since_ms: Option<i64>,
    /// Where the state came from.
    pub basis: Basis,
    /// The session's newest telemetry of any kind.
    pub telemetry_ms: Option<i64>,
}

/// What a session told about its turns: hook times and its newest main-chain line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionTurn {
    hooks: bool,
    prompt_ms: Option<i64>,
    post_tool_ms: Option<i64>,
    pre_tool_ms: Option<i64>,
    end_ms: Option<i64>,
    line: Option<(i64, LineMark)>,
    /// When the turn the transcript shows began.
    line_turn_ms: Option<i64>,
    telemetry_ms: Option<i64>,
}

fn later(held: &mut Option<i64>, at: i64) {
    *held = Some(held.map_or(at, |h| h.max(at)));
}

impl SessionTurn {
    /// A hook arrived at `at_ms`. From now on this session's state comes from its hooks.
    pub fn hook(&mut self, mark: HookMark, at_ms: i64) {
        self.hooks = true;
        match mark {
            HookMark::Prompt => later(&mut self.prompt_ms, at_ms),
            HookMark::PreTool => later(&mut self.pre_tool_ms, at_ms),
            HookMark::PostTool => later(&mut self.post_tool_ms, at_ms),
            HookMark::Stop | HookMark::SessionEnd => later(&mut self.end_ms, at_ms),
        }
        self.telemetry(at_ms);
    }

    /// A main-chain transcript line stamped `ts_ms`. Only the newest line counts; lines
    /// read out of order (an older file read later) do not move the state back.
    pub fn line(&mut self, mark: LineMark, ts_ms: i64) {
        self.telemetry(ts_ms);
        if self.line.is_some_and(|(t, _)| t > ts_ms) {
            return;
        }
        let open = matches!(
            self.line.map(|l| l.1),
            Some(LineMark::Prompt | LineMark::ToolResult | LineMark::ToolUse)
        );
        match mark {
            LineMark::Prompt => self.line_turn_ms = Some(ts_ms),
            LineMark::ToolResult | LineMark::ToolUse if !open => self.line_turn_ms = Some(ts_ms),
            LineMark::ToolResult | LineMark::ToolUse => {}
            LineMark::Reply | LineMark::TurnEnd => self.line_turn_ms = None,
        }
        self.line = Some((ts_ms, mark));
    }

    /// Any telemetry of this session at `at_ms` (a transcript line of any kind, a
    /// statusLine object, a hook).
    pub fn telemetry(&mut self, at_ms: i64) {
        later(&mut self.telemetry_ms, at_ms);
    }

    /// Whether the session ever sent a hook.
    pub const fn has_hooks(&self) -> bool {
        self.hooks
    }

    /// Where the session stands at `now_ms`. A session whose newest telemetry is older
    /// than `stale_after_ms` is idle, whatever it last said.
    pub fn view(&self, now_ms: i64, stale_after_ms: i64) -> TurnView {
        let fresh = self
            .telemetry_ms
            .is_some_and(|t| now_ms.saturating_sub(t) < stale_after_ms);
        let (phase, since_ms, basis) = if self.hooks {
            let model_turn = self.prompt_ms.max(self.post_tool_ms);
            let stop = self.end_ms;
            let tool = self.pre_tool_ms;
            let open = model_turn.max(tool) > stop;
            let phase = if !open {
                Phase::Idle
            } else if model_turn > tool {
                Phase::Waiting
            } else {
                Phase::Tool
            };
            // The turn began at its prompt; a turn whose prompt came before the daemon
            // started began, as far as it knows, with the first hook after the stop.
            let since = match self.prompt_ms {
                Some(p) if Some(p) > stop => Some(p),
                _ => model_turn.max(tool),
            };
            (phase, since, Basis::Hooks)
        } else {
            let phase = match self.line.map(|l| l.1) {
                Some(LineMark::Prompt | LineMark::ToolResult) => Phase::Waiting,
                Some(LineMark::ToolUse) => Phase::Tool,
                _ => Phase::Idle,
            };
            (phase, self.line_turn_ms, Basis::Transcript)
        };
        let phase = if fresh { phase } else { Phase::Idle };
        TurnView {
            phase,
            since_ms: since_ms.filter(|_| phase != Phase::Idle),
            basis,
            telemetry_ms: self.telemetry_ms,
        }
    }
}

/// The sessions' turns taken together, as the lamps and `/usage`'s `turn` read them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TurnSummary {
    /// Some session is in a turn.
    pub in_progress: bool,
    /// The turn shown: the open turn with the newest telemetry.
    pub since_ms: Option<i64>,
    /// Where that turn's state came from.
    pub basis: Option<Basis>,
    /// The oldest newest-telemetry among the sessions waiting for the model: STALL is on
    /// once it is older than the stall limit.
    pub waiting_since_ms: Option<i64>,
}

/// Takes the sessions together at `now_ms`.
pub fn summarize<'a>(
    sessions: impl IntoIterator<Item = &'a SessionTurn>,
    now_ms: i64,
    stale_after_ms: i64,
) -> TurnSummary {
    let mut out = TurnSummary::default();
    let mut shown: Option<i64> = None;
    for s in sessions {
        let v = s.view(now_ms, stale_after_ms);
        if v.phase == Phase::Idle {
            continue;
        }
        out.in_progress = true;
        let t = v.telemetry_ms.unwrap_or(i64::MIN);
        if shown.is_none_or(|best| t > best) {
            shown = Some(t);
            out.since_ms = v.since_ms;
            out.basis = Some(v.basis);
        }
        if v.phase == Phase::Waiting {
            out.waiting_since_ms = Some(out.waiting_since_ms.map_or(t, |w| w.min(t)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALE: i64 = 5 * 3600 * 1000;

    #[test]
    fn hooks_open_wait_run_and_close_a_turn() {
        let mut s = SessionTurn::default();
        s.hook(HookMark::Prompt, 1_000);
        assert_eq!(s.view(2_000, STALE).phase, Phase::Waiting);
        assert_eq!(s.view(2_000, STALE).since_ms, Some(1_000));
        s.hook(HookMark::PreTool, 3_000);
        assert_eq!(s.view(4_000, STALE).phase, Phase::Tool);
        s.hook(HookMark::PostTool, 600_000);
        assert_eq!(s.view(600_001, STALE).phase, Phase::Waiting);
        assert_eq!(s.view(600_001, STALE).since_ms, Some(1_000));
        s.hook(HookMark::Stop, 700_000);
        let v = s.view(700_001, STALE);
        assert_eq!(
            (v.phase, v.since_ms, v.basis),
            (Phase::Idle, None, Basis::Hooks)
        );
    }

    #[test]
    fn hooks_outrank_the_transcript_once_seen() {
        let mut s = SessionTurn::default();
        s.line(LineMark::ToolResult, 1_000);
        assert_eq!(s.view(1_500, STALE).phase, Phase::Waiting);
        s.hook(HookMark::Stop, 2_000);
        s.line(LineMark::ToolResult, 2_500);
        assert_eq!(s.view(3_000, STALE).phase, Phase::Idle);
        assert_eq!(s.view(3_000, STALE).basis, Basis::Hooks);
    }

    #[test]
    fn the_transcript_alone() {
        let mut s = SessionTurn::default();
        s.line(LineMark::Prompt, 1_000);
        s.line(LineMark::ToolUse, 2_000);
        let v = s.view(3_000, STALE);
        assert_eq!((v.phase, v.since_ms), (Phase::Tool, Some(1_000)));
        s.line(LineMark::ToolResult, 4_000);
        assert_eq!(s.view(5_000, STALE).since_ms, Some(1_000));
        // An older line read late does not move the state back.
        s.line(LineMark::Reply, 3_500);
        assert_eq!(s.view(5_000, STALE).phase, Phase::Waiting);
        s.line(LineMark::Reply, 6_000);
        assert_eq!(s.view(7_000, STALE).phase, Phase::Idle);
        s.line(LineMark::ToolResult, 8_000);
        assert_eq!(s.view(9_000, STALE).since_ms, Some(8_000));
        s.line(LineMark::TurnEnd, 9_000);
        assert_eq!(s.view(9_500, STALE).phase, Phase::Idle);
    }

    #[test]
    fn stale_sessions_are_idle() {
        let mut s = SessionTurn::default();
        s.line(LineMark::Prompt, 0);
        assert_eq!(s.view(STALE - 1, STALE).phase, Phase::Waiting);
        assert_eq!(s.view(STALE, STALE).phase, Phase::Idle);
        // Telemetry of another kind (a statusLine) keeps it fresh.
        s.telemetry(STALE - 10);
        assert_eq!(s.view(STALE, STALE).phase, Phase::Waiting);
    }

    #[test]
    fn summary_of_several_sessions() {
        let mut a = SessionTurn::default();
        a.line(LineMark::Prompt, 1_000);
        let mut b = SessionTurn::default();
        b.hook(HookMark::Prompt, 5_000);
        b.hook(HookMark::PreTool, 6_000);
        let mut c = SessionTurn::default();
        c.line(LineMark::Reply, 7_000);
        let sum = summarize([&a, &b, &c], 8_000, STALE);
        assert!(sum.in_progress);
        assert_eq!(sum.basis, Some(Basis::Hooks));
        assert_eq!(sum.since_ms, Some(5_000));
        assert_eq!(sum.waiting_since_ms, Some(1_000));
        let idle = summarize([&c], 8_000, STALE);
        assert_eq!(idle, TurnSummary::default());
    }
}
