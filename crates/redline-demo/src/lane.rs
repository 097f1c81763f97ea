//! One lane of the corpus: a person working through sessions in a few projects, period
//! by period, written in Claude Code's own line shapes.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::rng::{B62, Rng};
use crate::text::{WORDS, days_from_civil, iso, js};
use crate::{Error, Options, Stats};

pub(crate) const HOUR: i64 = 3_600_000;
pub(crate) const DAY: i64 = 24 * HOUR;
const FIVE_H: i64 = 5 * HOUR;

const OPUS_46: &str = "claude-opus-4-6";
const SONNET_45: &str = "claude-sonnet-4-5-20250929";
const HAIKU_45: &str = "claude-haiku-4-5-20251001";
const OPUS_41: &str = "claude-opus-4-1-20250805";

/// $/MTok: input, output, 5-minute cache write, cache read (1-hour write = 2 x input).
fn rates(model: &str) -> (f64, f64, f64, f64) {
    match model {
        OPUS_46 => (5.0, 25.0, 6.25, 0.5),
        SONNET_45 => (3.0, 15.0, 3.75, 0.3),
        HAIKU_45 => (1.0, 5.0, 1.25, 0.1),
        _ => (15.0, 75.0, 18.75, 1.5),
    }
}

#[derive(Clone, Copy)]
struct Usage {
    input: u64,
    cc5: u64,
    cc1h: u64,
    read: u64,
    output: u64,
    fast: bool,
}

impl Usage {
    fn with_output(self, output: u64) -> Usage {
        Usage { output, ..self }
    }
    /// While streaming: the split in 5m/1h order, no server_tool_use.
    fn early(&self, geo: &str) -> String {
        format!(
            "{{\"input_tokens\":{},\"cache_creation_input_tokens\":{},\"cache_read_input_tokens\":{},\"cache_creation\":{{\"ephemeral_5m_input_tokens\":{},\"ephemeral_1h_input_tokens\":{}}},\"output_tokens\":{},\"service_tier\":\"standard\",\"inference_geo\":\"{geo}\"{}}}",
            self.input,
            self.cc5 + self.cc1h,
            self.read,
            self.cc5,
            self.cc1h,
            self.output,
            if self.fast { ",\"speed\":\"fast\"" } else { "" }
        )
    }
    /// The final copy: Claude Code rewrites the object in the API's order.
    fn last(&self, geo: &str) -> String {
        format!(
            "{{\"input_tokens\":{},\"cache_creation_input_tokens\":{},\"cache_read_input_tokens\":{},\"output_tokens\":{},\"server_tool_use\":{{\"web_search_requests\":0,\"web_fetch_requests\":0}},\"service_tier\":\"standard\",\"cache_creation\":{{\"ephemeral_1h_input_tokens\":{},\"ephemeral_5m_input_tokens\":{}}},\"inference_geo\":\"{geo}\",\"iterations\":[]{}}}",
            self.input,
            self.cc5 + self.cc1h,
            self.read,
            self.output,
            self.cc1h,
            self.cc5,
            if self.fast { ",\"speed\":\"fast\"" } else { "" }
        )
    }
    /// Claude Code 1.0: no split, no geo.
    fn legacy(&self) -> String {
        format!(
            "{{\"input_tokens\":{},\"cache_creation_input_tokens\":{},\"cache_read_input_tokens\":{},\"output_tokens\":{},\"service_tier\":\"standard\"}}",
            self.input,
            self.cc5 + self.cc1h,
            self.read,
            self.output
        )
    }
    fn cost(&self, model: &str) -> f64 {
        let (i, o, cw, cr) = rates(model);
        (self.input as f64 * i
            + self.output as f64 * o
            + self.cc5 as f64 * cw
            + self.cc1h as f64 * 2.0 * i
            + self.read as f64 * cr)
            / 1e6
    }
}

struct Session {
    project: usize,
    id: String,
    cwd: String,
    branch: String,
    slug: String,
    version: &'static str,
    legacy: bool,
    no_request_id: bool,
    model: &'static str,
    one_hour: bool,
    geo: &'static str,
    context: u64,
    last_uuid: Option<String>,
    lines: Vec<String>,
    subagents: Vec<(String, Vec<String>)>,
    /// The uuid of the running subagent's last line (its next line's parent).
    agent_last_uuid: Option<String>,
}

/// Who writes a line: the main thread or a subagent of the session.
#[derive(Clone)]
struct Writer {
    session: usize,
    /// Index into the session's `subagents`.
    agent: Option<usize>,
    model: &'static str,
}

struct Gen {
    rng: Rng,
    cursor: i64,
    /// The latest timestamp of a counted line so far.
    last_usage: i64,
    /// The next response lands exactly here.
    force: Option<i64>,
    /// A response lands here once the clock passes it.
    soft: Option<i64>,
    /// The next response starts a new 5-hour block.
    fresh_block: bool,
    /// The last period ended on a usage limit; the clock moved to its reset.
    after_limit: bool,
    options: Options,
    projects: Vec<(String, String)>,
    sessions: Vec<Session>,
    stats: Stats,
    target: usize,
    /// Draws for malformed lines, apart from `rng` so that they do not move the rest.
    junk: Rng,
    /// This lane has a marathon session: one that gets most of the periods.
    marathon: bool,
    marathon_session: Option<usize>,
}

/// Chance that a tool result is large (4,000-12,000 words); sets the corpus's bytes per
/// response.
const BIG_TOOL_RESULT: f64 = 0.05;
/// A lane's share of periods that go to its marathon session.
const MARATHON_SHARE: f64 = 0.75;
/// Chance that a line is followed by a cut copy of itself, or by a line that is not JSON.
const TRUNCATED: f64 = 0.001;
const GARBAGE: f64 = 0.0003;
/// Chance that a file ends in a cut copy of its last line.
const TRUNCATED_TAIL: f64 = 0.02;
/// Lines that are not JSON, as found in real transcripts after crashes and bad merges.
const GARBAGE_LINES: &[&str] = &[
    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
    "Killed",
    "<<<<<<< Updated upstream",
    "undefined",
    "{\"type\":\"assistant\",\"message\":{\"usage\":",
];

/// Generates one lane of `responses` responses and writes its files under `dir/projects`.
/// The start date comes from the corpus's `seed`, everything else from `lane_seed`.
pub(crate) fn generate(
    dir: &Path,
    seed: u64,
    lane_seed: u64,
    responses: usize,
    options: &Options,
    marathon: bool,
) -> Result<Stats, Error> {
    let mut rng = Rng(lane_seed ^ 0x5EED_F0C0_DE00);
    let names = [
        ("-home-dev-code-atlas", "/home/dev/code/atlas"),
        ("-home-dev-code-beacon-api", "/home/dev/code/beacon-api"),
        ("-home-dev-code-cinder", "/home/dev/code/cinder"),
        ("-home-dev-scratch", "/home/dev/scratch"),
        (
            "-home-dev-code-delta-worktrees-delta-7fq",
            "/home/dev/code/delta-worktrees/delta-7fq",
        ),
    ];
    let n = rng.range(3, 5) as usize;
    let projects = names[..n]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let start = days_from_civil(2026, 3, 2 + (seed % 9) as i64) * DAY + rng.ms(7 * HOUR, 20 * HOUR);
    let mut g = Gen {
        rng,
        cursor: start,
        last_usage: start,
        force: None,
        soft: None,
        fresh_block: true,
        after_limit: false,
        options: options.clone(),
        projects,
        sessions: Vec::new(),
        stats: Stats::default(),
        target: responses,
        junk: Rng(lane_seed ^ 0xBAD_11E5),
        marathon,
        marathon_session: None,
    };
    let mut first = true;
    while g.stats.responses < g.target {
        if !first {
            g.gap();
        }
        first = false;
        g.period();
    }
    g.write(dir)?;
    Ok(g.stats)
}

impl Gen {
    /// Time of the next counted line, `delta` after the cursor, honouring anchors and
    /// sometimes snapping to just before or after midnight.
    fn advance(&mut self, delta: i64) -> i64 {
        let mut t = self.cursor + delta.max(1);
        if let Some(f) = self.force.take() {
            t = f.max(self.cursor + 1);
        } else if let Some(a) = self.soft.filter(|&a| t >= a && a > self.cursor) {
            t = a;
            self.soft = None;
            self.stats.block_edges += 1;
        } else {
            let midnight = (self.last_usage.div_euclid(DAY) + 1) * DAY;
            if t >= midnight && self.rng.chance(0.85) {
                let before = midnight - self.rng.ms(1, 2500);
                t = if before > self.cursor && self.rng.chance(0.5) {
                    before
                } else {
                    midnight + self.rng.ms(0, 1500)
                };
                self.stats.midnight_edges += 1;
            }
        }
        self.cursor = t;
        self.last_usage = self.last_usage.max(t);
        t
    }

    /// Time of a line that is not counted; never passes a pending anchor.
    fn tick(&mut self, delta: i64) -> i64 {
        let mut t = self.cursor + delta.max(1);
        for a in [self.force, self.soft].into_iter().flatten() {
            if t >= a {
                t = (a - 1).max(self.cursor);
            }
        }
        self.cursor = t;
        t
    }

    fn gap(&mut self) {
        let r = self.rng.next() % 100;
        let gap = match r {
            0..=9 => FIVE_H,
            10..=14 => FIVE_H + 1,
            15..=19 => FIVE_H + self.rng.ms(2, 900),
            20..=49 => self.rng.ms(10 * 60_000, 4 * HOUR),
            _ => self.rng.ms(5 * HOUR + 60_000, 40 * HOUR),
        };
        if r < 20 && !self.after_limit {
            self.stats.gap_edges += 1;
        }
        self.after_limit = false;
        self.fresh_block = gap >= FIVE_H;
        let at = self.last_usage.max(self.cursor) + gap;
        self.force = Some(at);
        self.cursor = at - self.rng.ms(2_000, 60_000).min(gap - 1);
        self.soft = None;
    }

    fn words(&mut self, n: usize) -> String {
        let mut s = String::new();
        for i in 0..n {
            if i > 0 {
                s.push(if self.rng.chance(0.08) { '\n' } else { ' ' });
            }
            s.push_str(self.rng.word(WORDS));
        }
        s
    }

    fn words_between(&mut self, lo: u64, hi: u64) -> String {
        let n = self.rng.range(lo, hi) as usize;
        self.words(n)
    }

    fn new_session(&mut self, project: usize) -> usize {
        // The second and third sessions are Claude Code 1.0 ones, the second without
        // request ids; later ones are sometimes.
        let nth = self.sessions.len();
        let legacy = nth == 1 || nth == 2 || self.rng.chance(0.12);
        let model = if legacy {
            *self.rng.pick(&[OPUS_41, OPUS_41, SONNET_45])
        } else {
            *self
                .rng
                .pick(&[OPUS_46, OPUS_46, OPUS_46, SONNET_45, HAIKU_45])
        };
        let s = Session {
            project,
            id: self.rng.uuid(),
            cwd: self.projects[project].1.clone(),
            branch: self
                .rng
                .pick(&["main", "main", "fix-parser", "feat-gauges"])
                .to_string(),
            slug: format!("{}-{}", self.rng.pick(WORDS), self.rng.pick(WORDS)),
            version: if legacy {
                self.rng.word(&["1.0.51", "1.0.72"])
            } else {
                self.rng.word(&["2.1.38", "2.1.39", "2.1.41"])
            },
            legacy,
            no_request_id: legacy && (nth == 1 || self.rng.chance(0.5)),
            model,
            one_hour: self.rng.chance(0.3),
            geo: self.rng.word(&["global", "not_available"]),
            context: 0,
            last_uuid: None,
            lines: Vec::new(),
            subagents: Vec::new(),
            agent_last_uuid: None,
        };
        self.sessions.push(s);
        self.sessions.len() - 1
    }

    /// A session to work in: continue one, start one, or resume one in a new file.
    fn choose_session(&mut self) -> usize {
        if self.marathon && self.rng.chance(MARATHON_SHARE) {
            if let Some(m) = self.marathon_session {
                return m;
            }
            let project = (self.rng.next() % self.projects.len() as u64) as usize;
            // A current Claude Code session, whatever the draw.
            let m = self.new_session(project);
            let s = &mut self.sessions[m];
            (s.legacy, s.no_request_id) = (false, false);
            (s.version, s.model) = ("2.1.41", OPUS_46);
            self.marathon_session = Some(m);
            return m;
        }
        let project = (self.rng.next() % self.projects.len() as u64) as usize;
        let existing: Vec<usize> = (0..self.sessions.len())
            .filter(|&i| self.sessions[i].project == project)
            .collect();
        let r = self.rng.next() % 100;
        if let Some(&last) = existing.last() {
            if r < 45 {
                return last;
            }
            if r < 75 {
                let old = *self.rng.pick(&existing);
                return self.resume(old);
            }
        }
        self.new_session(project)
    }

    fn resume(&mut self, old: usize) -> usize {
        let new = self.new_session(self.sessions[old].project);
        self.sessions[new].legacy = self.sessions[old].legacy;
        self.sessions[new].no_request_id = self.sessions[old].no_request_id;
        self.sessions[new].model = self.sessions[old].model;
        self.sessions[new].version = self.sessions[old].version;
        self.sessions[new].context = self.sessions[old].context;
        let summary = format!(
            "{{\"type\":\"summary\",\"summary\":{},\"leafUuid\":\"{}\"}}",
            js(&self.words(5)),
            self.rng.uuid()
        );
        self.sessions[new].lines.push(summary);
        let old_lines = self.sessions[old].lines.clone();
        let take = (self.rng.range(6, 60) as usize).min(old_lines.len());
        let mut replayed = Vec::new();
        for line in &old_lines[old_lines.len() - take..] {
            let mut l = line.clone();
            if l.contains("\"iterations\":[]}")
                && !l.contains("\"speed\":")
                && !l.contains(OPUS_41)
                && self.rng.chance(0.15)
            {
                l = l.replace(
                    "\"iterations\":[]}",
                    "\"iterations\":[],\"speed\":\"standard\"}",
                );
                self.stats.speed_replays += 1;
            }
            replayed.push(l);
        }
        self.stats.replayed_lines += replayed.len();
        self.stats.resumed_sessions += 1;
        let s = &mut self.sessions[new];
        s.last_uuid = old_lines
            .last()
            .and_then(|l| l.split("\"uuid\":\"").nth(1))
            .map(|u| u[..36.min(u.len())].to_string());
        s.lines.extend(replayed);
        new
    }

    fn envelope(&self, w: &Writer, sidechain: bool, parent: Option<&str>) -> String {
        let s = &self.sessions[w.session];
        let mut e = format!(
            "{{\"parentUuid\":{},\"isSidechain\":{sidechain},\"userType\":\"external\",\"cwd\":{},\"sessionId\":\"{}\",\"version\":\"{}\",\"gitBranch\":{}",
            parent.map_or_else(|| "null".to_string(), js),
            js(&s.cwd),
            s.id,
            s.version,
            js(&s.branch)
        );
        if let Some(a) = w.agent {
            e.push_str(&format!(
                ",\"agentId\":\"{}\",\"slug\":\"{}\"",
                s.subagents[a].0, s.slug
            ));
        }
        e
    }

    fn push(&mut self, w: &Writer, line: String, uuid: Option<String>) {
        let junk = if !self.options.malformed {
            None
        } else if self.junk.chance(TRUNCATED) {
            self.stats.truncated += 1;
            Some(cut(&mut self.junk, &line))
        } else if self.junk.chance(GARBAGE) {
            self.stats.garbage += 1;
            Some(self.junk.word(GARBAGE_LINES).to_string())
        } else {
            None
        };
        let s = &mut self.sessions[w.session];
        if uuid.is_some() {
            match w.agent {
                Some(_) => s.agent_last_uuid = uuid,
                None => s.last_uuid = uuid,
            }
        }
        let lines = match w.agent {
            Some(a) => &mut s.subagents[a].1,
            None => &mut s.lines,
        };
        lines.push(line);
        lines.extend(junk);
    }

    fn parent(&self, w: &Writer) -> Option<String> {
        let s = &self.sessions[w.session];
        match w.agent {
            Some(_) => s.agent_last_uuid.clone(),
            None => s.last_uuid.clone(),
        }
    }

    fn user_prompt(&mut self, w: &Writer, ts: i64) {
        let uuid = self.rng.uuid();
        let parent = self.parent(w);
        let text = self.words_between(4, 40);
        let sidechain = w.agent.is_some();
        let mut line = self.envelope(w, sidechain, parent.as_deref());
        line.push_str(&format!(
            ",\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":{}}},\"uuid\":\"{uuid}\",\"timestamp\":\"{}\"",
            js(&text),
            iso(ts)
        ));
        if w.agent.is_none() {
            line.push_str(",\"thinkingMetadata\":{\"maxThinkingTokens\":31999},\"todos\":[],\"permissionMode\":\"bypassPermissions\"");
        }
        line.push('}');
        if w.agent.is_none() {
            let snap = format!(
                "{{\"type\":\"file-history-snapshot\",\"messageId\":\"{uuid}\",\"snapshot\":{{\"messageId\":\"{uuid}\",\"trackedFileBackups\":{{}},\"timestamp\":\"{}\"}},\"isSnapshotUpdate\":false}}",
                iso(ts)
            );
            self.push(w, snap, None);
        }
        self.push(w, line, Some(uuid));
    }

    fn tool_result(&mut self, w: &Writer, tool_id: &str, assistant_uuid: &str) {
        if w.agent.is_none() && self.rng.chance(0.3) {
            let d = self.rng.ms(200, 4000);
            let ts = self.tick(d);
            let parent = self.parent(w);
            let mut line = self.envelope(w, false, parent.as_deref());
            let out = self.words(8);
            line.push_str(&format!(
                ",\"type\":\"progress\",\"data\":{{\"type\":\"bash_progress\",\"output\":{},\"fullOutput\":{},\"elapsedTimeSeconds\":{},\"totalLines\":{}}},\"toolUseID\":\"bash-progress-0\",\"parentToolUseID\":\"{tool_id}\",\"uuid\":\"{}\",\"timestamp\":\"{}\"}}",
                js(&out),
                js(&out),
                self.rng.range(1, 30),
                self.rng.range(1, 200),
                self.rng.uuid(),
                iso(ts)
            ));
            self.push(w, line, None);
        }
        let d = self.rng.ms(100, 30_000);
        let ts = self.tick(d);
        let big = self.rng.chance(BIG_TOOL_RESULT);
        let n = if big {
            self.rng.range(4000, 12_000)
        } else {
            self.rng.range(3, 120)
        } as usize;
        let text = self.words(n);
        let uuid = self.rng.uuid();
        let parent = self.parent(w);
        let mut line = self.envelope(w, w.agent.is_some(), parent.as_deref());
        line.push_str(&format!(
            ",\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":[{{\"tool_use_id\":\"{tool_id}\",\"type\":\"tool_result\",\"content\":{},\"is_error\":false}}]}},\"uuid\":\"{uuid}\",\"timestamp\":\"{}\",\"toolUseResult\":{{\"stdout\":{},\"stderr\":\"\",\"interrupted\":false,\"isImage\":false}},\"sourceToolAssistantUUID\":\"{assistant_uuid}\"}}",
            js(&text),
            iso(ts),
            js(&text[..text.len().min(2000)])
        ));
        self.push(w, line, Some(uuid));
    }

    fn content(&mut self, kind: u64, tool_id: &str, tool: &str) -> String {
        match kind {
            0 => format!(
                "{{\"type\":\"thinking\",\"thinking\":{},\"signature\":\"[REDACTED_SIGNATURE]\"}}",
                js(&self.words_between(5, 60))
            ),
            1 => format!(
                "{{\"type\":\"text\",\"text\":{}}}",
                js(&self.words_between(3, 80))
            ),
            _ => {
                let input = match tool {
                    "Task" => format!(
                        "{{\"description\":{},\"prompt\":{},\"subagent_type\":\"general-purpose\"}}",
                        js(&self.words(4)),
                        js(&self.words(30))
                    ),
                    "Read" => format!(
                        "{{\"file_path\":\"/home/dev/code/src/{}.rs\"}}",
                        self.rng.pick(WORDS)
                    ),
                    _ => format!(
                        "{{\"command\":{},\"description\":{}}}",
                        js(&format!(
                            "cargo {} --{}",
                            self.rng.pick(WORDS),
                            self.rng.pick(WORDS)
                        )),
                        js(&self.words(5))
                    ),
                };
                format!(
                    "{{\"type\":\"tool_use\",\"id\":\"{tool_id}\",\"name\":\"{tool}\",\"input\":{input},\"caller\":{{\"type\":\"direct\"}}}}"
                )
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn assistant_line(
        &mut self,
        w: &Writer,
        sidechain: bool,
        msg_id: Option<&str>,
        req: Option<&str>,
        content: &str,
        usage: &Usage,
        last: bool,
        ts: i64,
    ) -> (String, String) {
        let uuid = self.rng.uuid();
        let parent = self.parent(w);
        let s = &self.sessions[w.session];
        let (legacy, geo) = (s.legacy, s.geo);
        let mut line = self.envelope(w, sidechain, parent.as_deref());
        let id = msg_id.map_or_else(String::new, |m| format!("\"id\":\"{m}\","));
        if legacy {
            let cost = (usage.cost(w.model) * 1.25 * 1e8).round() / 1e8;
            line.push_str(&format!(
                ",\"message\":{{{id}\"type\":\"message\",\"role\":\"assistant\",\"model\":\"{}\",\"content\":[{content}],\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{}}},\"costUSD\":{cost},\"durationMs\":{}",
                w.model,
                usage.legacy(),
                self.rng.range(800, 60_000)
            ));
            self.stats.cost_usd += 1;
        } else {
            let u = if last {
                usage.last(geo)
            } else {
                usage.early(geo)
            };
            let id = msg_id.map_or_else(String::new, |m| format!(",\"id\":\"{m}\""));
            line.push_str(&format!(
                ",\"message\":{{\"model\":\"{}\"{id},\"type\":\"message\",\"role\":\"assistant\",\"content\":[{content}],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{u}}}",
                w.model
            ));
        }
        if let Some(r) = req {
            line.push_str(&format!(",\"requestId\":\"{r}\""));
        } else {
            self.stats.no_request_id += 1;
        }
        if msg_id.is_none() {
            self.stats.no_message_id += 1;
        }
        if usage.fast {
            self.stats.fast += 1;
        }
        if usage.cc1h > 0 {
            self.stats.one_hour += 1;
        }
        line.push_str(&format!(
            ",\"type\":\"assistant\",\"uuid\":\"{uuid}\",\"timestamp\":\"{}\"}}",
            iso(ts)
        ));
        (line, uuid)
    }

    fn usage(&mut self, w: &Writer, fast: bool) -> Usage {
        let one_hour = self.sessions[w.session].one_hour;
        let s = &mut self.sessions[w.session];
        let fresh = s.context == 0 || s.context > 170_000;
        let grow = self.rng.range(200, 9000);
        let (read, cc) = if fresh {
            s.context = self.rng.range(9_000, 30_000);
            (if self.rng.chance(0.5) { 0 } else { 17_000 }, s.context)
        } else {
            let r = s.context;
            s.context += grow;
            (r, grow)
        };
        let (cc5, cc1h) = if one_hour {
            if self.rng.chance(0.3) {
                let h = cc / 3;
                (cc - h, h)
            } else {
                (0, cc)
            }
        } else {
            (cc, 0)
        };
        let output = if self.rng.chance(0.05) {
            self.rng.range(8000, 32_000)
        } else {
            self.rng.range(11, 2500)
        };
        Usage {
            input: if self.rng.chance(0.1) {
                self.rng.range(100, 4000)
            } else {
                self.rng.range(1, 12)
            },
            cc5,
            cc1h,
            read,
            output,
            fast,
        }
    }

    /// One response: 1-5 copies, the last at the advanced clock. Returns the final copy's
    /// uuid, the message id, the request id, the tool used (if any) and the usage.
    fn response(&mut self, w: &Writer, fast: bool, want_tool: Tool) -> Response {
        self.stats.responses += 1;
        let sidechain = w.agent.is_some();
        let s = &self.sessions[w.session];
        let (legacy, no_req) = (s.legacy, s.no_request_id);
        let has_id = !(legacy && self.rng.chance(0.06));
        let msg_id = has_id.then(|| self.rng.msg_id());
        let req = (!no_req).then(|| self.rng.req_id());
        let usage = self.usage(w, fast);
        let single = no_req && !self.options.streamed_without_request_id;
        let interrupted = has_id && !single && self.rng.chance(0.04);
        let copies = if single || (self.rng.chance(0.35) && !interrupted) {
            1
        } else {
            self.rng.range(2, 5) as usize
        };
        let delta = self.rng.ms(4_000, 90_000);
        let before = self.cursor;
        let t_last = self.advance(delta);
        let step = ((t_last - before) / (copies as i64 + 1)).clamp(1, 700);
        let placeholder = self.rng.range(1, 10);
        let tool = match want_tool {
            Tool::Use(t) => Some(t.to_string()),
            Tool::Never => None,
            Tool::Maybe => self
                .rng
                .chance(0.55)
                .then(|| self.rng.pick(&["Bash", "Read", "Bash", "Grep"]).to_string()),
        };
        let tool_id = self.rng.tool_id();
        let mut last_uuid = String::new();
        let mut first_line = String::new();
        for c in 0..copies {
            let final_copy = c + 1 == copies && !interrupted;
            let u = if final_copy {
                usage
            } else if self.rng.chance(0.8) {
                usage.with_output(placeholder)
            } else {
                usage.with_output(self.rng.range(1, 10))
            };
            let kind = if c + 1 == copies && tool.is_some() && !interrupted {
                2
            } else if c == 0 && copies > 1 {
                0
            } else {
                1
            };
            let content = self.content(kind, &tool_id, tool.as_deref().unwrap_or("Bash"));
            let ts = t_last - step * (copies - 1 - c) as i64;
            let (line, uuid) = self.assistant_line(
                w,
                sidechain,
                msg_id.as_deref(),
                req.as_deref(),
                &content,
                &u,
                final_copy || copies == 1,
                ts,
            );
            if c == 0 {
                first_line = line.clone();
            }
            self.push(w, line.clone(), Some(uuid.clone()));
            // A line without message.id, sometimes written twice: both count.
            if msg_id.is_none() && self.rng.chance(0.3) {
                self.push(w, line, None);
            }
            last_uuid = uuid;
        }
        if copies > 1 {
            self.stats.streamed += 1;
        }
        if interrupted {
            self.stats.interrupted += 1;
        }
        Response {
            uuid: last_uuid,
            msg_id,
            req,
            tool: if interrupted { None } else { tool },
            tool_id,
            usage,
            first_line,
        }
    }

    fn synthetic(&mut self, w: &Writer, text: &str, api_error: bool) {
        let d = self.rng.ms(500, 20_000);
        let ts = self.advance(d);
        let uuid = self.rng.uuid();
        let id = self.rng.uuid();
        let parent = self.parent(w);
        let mut line = self.envelope(w, w.agent.is_some(), parent.as_deref());
        line.push_str(&format!(
            ",\"type\":\"assistant\",\"uuid\":\"{uuid}\",\"timestamp\":\"{}\",\"message\":{{\"id\":\"{id}\",\"container\":null,\"model\":\"<synthetic>\",\"role\":\"assistant\",\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"\",\"type\":\"message\",\"usage\":{{\"input_tokens\":0,\"output_tokens\":0,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"server_tool_use\":{{\"web_search_requests\":0,\"web_fetch_requests\":0}},\"service_tier\":null,\"cache_creation\":{{\"ephemeral_1h_input_tokens\":0,\"ephemeral_5m_input_tokens\":0}}}},\"content\":[{{\"type\":\"text\",\"text\":{}}}]}}{}}}",
            iso(ts),
            js(text),
            if api_error { ",\"isApiErrorMessage\":true" } else { "" }
        ));
        self.stats.synthetic += 1;
        self.push(w, line, Some(uuid));
    }

    /// A subagent run for a Task tool call: its own file, sidechain lines.
    fn subagent(&mut self, main: &Writer, task_tool_id: &str, task_uuid: &str) {
        let s = main.session;
        let agent_id = if self.rng.chance(0.15) {
            format!("acompact-{}", self.rng.chars(6, b"0123456789abcdef"))
        } else {
            format!("a{}", self.rng.chars(6, b"0123456789abcdef"))
        };
        self.sessions[s]
            .subagents
            .push((agent_id.clone(), Vec::new()));
        self.sessions[s].agent_last_uuid = None;
        self.stats.subagent_files += 1;
        let legacy = self.sessions[s].legacy;
        let model = if legacy {
            self.sessions[s].model
        } else {
            *self.rng.pick(&[SONNET_45, HAIKU_45, OPUS_46])
        };
        let w = Writer {
            session: s,
            agent: Some(self.sessions[s].subagents.len() - 1),
            model,
        };
        let saved_context = self.sessions[s].context;
        self.sessions[s].context = 0;
        let d = self.rng.ms(300, 3000);
        let ts = self.tick(d);
        self.user_prompt(&w, ts);
        // Never past the lane's target by more than this one response.
        let left = self.target.saturating_sub(self.stats.responses).max(1);
        let n = self.rng.range(2, 12).min(left as u64);
        let mut done = Vec::new();
        for i in 0..n {
            let last = i + 1 == n;
            let r = self.response(
                &w,
                false,
                if last { Tool::Never } else { Tool::Use("Read") },
            );
            if r.tool.is_some() {
                let (id, uuid) = (r.tool_id.clone(), r.uuid.clone());
                self.tool_result(&w, &id, &uuid);
            }
            done.push(r);
        }
        // The same response written again by the subagent under another request id.
        let rerequest = done.iter().find(|r| r.msg_id.is_some() && r.req.is_some());
        let wanted = self.rng.chance(0.25) && self.options.sidechain_rerequests;
        if let (true, Some(r)) = (wanted, rerequest) {
            let bigger = r.usage.with_output(r.usage.output + self.rng.range(0, 40));
            let req = self.rng.req_id();
            let content = format!("{{\"type\":\"text\",\"text\":{}}}", js(&self.words(6)));
            let d = self.rng.ms(200, 2000);
            let ts = self.advance(d);
            let (line, uuid) = self.assistant_line(
                &w,
                true,
                r.msg_id.as_deref(),
                Some(&req),
                &content,
                &bigger,
                true,
                ts,
            );
            self.push(&w, line, Some(uuid));
            self.stats.sidechain_rerequests += 1;
        }
        self.sessions[s].context = saved_context;
        // The parent sometimes carries a non-sidechain copy of a subagent response: an
        // early, smaller copy or the full one. The parent's copy wins.
        let with_id = done.iter().find(|r| r.msg_id.is_some());
        if let (true, Some(r)) = (self.rng.chance(0.3), with_id) {
            let line = r
                .first_line
                .replacen("\"isSidechain\":true", "\"isSidechain\":false", 1);
            let line = line.replacen(&format!(",\"agentId\":\"{agent_id}\""), "", 1);
            self.push(main, line, None);
            self.stats.sidechain_main_copies += 1;
        }
        // The Task result: a user line whose toolUseResult carries a usage object.
        let d = self.rng.ms(200, 3000);
        let ts = self.tick(d);
        let total: Usage = done.last().map(|r| r.usage).expect("a response");
        let uuid = self.rng.uuid();
        let parent = self.parent(main);
        let mut line = self.envelope(main, false, parent.as_deref());
        let text = self.words_between(50, 400);
        let slug = self.sessions[s].slug.clone();
        line.push_str(&format!(
            ",\"slug\":\"{}\",\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":[{{\"tool_use_id\":\"{task_tool_id}\",\"type\":\"tool_result\",\"content\":[{{\"type\":\"text\",\"text\":{}}}]}}]}},\"uuid\":\"{uuid}\",\"timestamp\":\"{}\",\"toolUseResult\":{{\"status\":\"completed\",\"prompt\":{},\"agentId\":\"{agent_id}\",\"content\":[{{\"type\":\"text\",\"text\":{}}}],\"totalDurationMs\":{},\"totalTokens\":{},\"totalToolUseCount\":{},\"usage\":{}}},\"sourceToolAssistantUUID\":\"{task_uuid}\"}}",
            slug,
            js(&text),
            iso(ts),
            js(&self.words(20)),
            js(&text),
            self.rng.range(5_000, 300_000),
            total.input + total.output + total.cc5 + total.cc1h + total.read,
            n,
            total.last("not_available"),
        ));
        self.stats.task_results += 1;
        self.push(main, line, Some(uuid));
    }

    fn agent_progress(&mut self, w: &Writer, tool_id: &str) {
        let ts = self.tick(50);
        let parent = self.parent(w);
        let mut line = self.envelope(w, false, parent.as_deref());
        line.push_str(&format!(
            ",\"type\":\"progress\",\"data\":{{\"message\":{{\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":[{{\"type\":\"text\",\"text\":{}}}]}},\"uuid\":\"{}\",\"timestamp\":\"{}\"}},\"normalizedMessages\":[],\"type\":\"agent_progress\",\"prompt\":{},\"agentId\":\"a{}\"}},\"toolUseID\":\"agent_msg_01{}\",\"parentToolUseID\":\"{tool_id}\",\"uuid\":\"{}\",\"timestamp\":\"{}\"}}",
            js(&self.words(12)),
            self.rng.uuid(),
            iso(ts),
            js(&self.words(12)),
            self.rng.chars(6, b"0123456789abcdef"),
            self.rng.chars(22, B62),
            self.rng.uuid(),
            iso(ts)
        ));
        self.push(w, line, None);
    }

    fn period(&mut self) {
        let mut active = vec![self.choose_session()];
        if self.rng.chance(0.2) {
            let other = self.choose_session();
            if !active.contains(&other) {
                active.push(other);
            }
        }
        let long = self.rng.chance(0.3);
        let span = if long {
            self.rng.ms(5 * HOUR + 20 * 60_000, 8 * HOUR)
        } else {
            self.rng.ms(10 * 60_000, 3 * HOUR)
        };
        let first_at = self.force.unwrap_or(self.cursor + 60_000);
        if long && self.fresh_block {
            // Exactly 5 h after the block's start (the first response floored to the hour).
            self.soft = Some(first_at.div_euclid(HOUR) * HOUR + FIVE_H);
        }
        let end = first_at + span;
        let mut first_turn = true;
        while self.cursor < end && self.stats.responses < self.target {
            let s = *self.rng.pick(&active);
            let model = self.sessions[s].model;
            let w = Writer {
                session: s,
                agent: None,
                model,
            };
            if !first_turn {
                let think = self.rng.ms(5_000, 25 * 60_000);
                self.tick(think);
            }
            first_turn = false;
            if self.rng.chance(0.15) {
                let parent = self.parent(&w);
                let mut line = self.envelope(&w, false, parent.as_deref());
                let ts = self.tick(2);
                line.push_str(&format!(
                    ",\"type\":\"progress\",\"data\":{{\"type\":\"hook_progress\",\"hookEvent\":\"UserPromptSubmit\",\"hookName\":\"UserPromptSubmit\",\"command\":\"bd prime\"}},\"parentToolUseID\":\"{0}\",\"toolUseID\":\"{0}\",\"timestamp\":\"{1}\",\"uuid\":\"{2}\"}}",
                    self.rng.uuid(),
                    iso(ts),
                    self.rng.uuid()
                ));
                self.push(&w, line, None);
            }
            let ts = self.tick(1);
            self.user_prompt(&w, ts);
            let turn_start = ts;
            let fast = model == OPUS_46 && self.rng.chance(0.08);
            let steps = self.rng.range(1, 6);
            for i in 0..steps {
                let want = if i + 1 < steps && self.rng.chance(0.12) {
                    Tool::Use("Task")
                } else {
                    Tool::Maybe
                };
                let r = self.response(&w, fast, want);
                // A retry: same message id, a new request id, not a sidechain. Both count.
                let retry = self.rng.chance(0.01) && !self.sessions[s].legacy;
                if let (true, Some(id)) = (retry, r.msg_id.clone()) {
                    let req = self.rng.req_id();
                    let content = format!("{{\"type\":\"text\",\"text\":{}}}", js(&self.words(9)));
                    let d = self.rng.ms(2_000, 9_000);
                    let ts = self.advance(d);
                    let (line, uuid) = self.assistant_line(
                        &w,
                        false,
                        Some(&id),
                        Some(&req),
                        &content,
                        &r.usage,
                        true,
                        ts,
                    );
                    self.push(&w, line, Some(uuid));
                    self.stats.main_rerequests += 1;
                }
                match r.tool.as_deref() {
                    Some("Task") => {
                        self.agent_progress(&w, &r.tool_id);
                        self.subagent(&w, &r.tool_id, &r.uuid);
                    }
                    Some(_) => self.tool_result(&w, &r.tool_id, &r.uuid),
                    None => break,
                }
                if self.stats.responses >= self.target {
                    break;
                }
            }
            if self.rng.chance(0.03) {
                self.synthetic(
                    &w,
                    "API Error: 529 {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}",
                    true,
                );
            }
            if self.rng.chance(0.02) {
                self.synthetic(&w, "No response requested.", false);
            }
            let d = self.rng.ms(50, 900);
            let ts = self.tick(d);
            let parent = self.parent(&w);
            let mut line = self.envelope(&w, false, parent.as_deref());
            let uuid = self.rng.uuid();
            line.push_str(&format!(
                ",\"slug\":\"{}\",\"type\":\"system\",\"subtype\":\"turn_duration\",\"durationMs\":{},\"timestamp\":\"{}\",\"uuid\":\"{uuid}\",\"isMeta\":false}}",
                self.sessions[s].slug,
                ts - turn_start,
                iso(ts)
            ));
            self.push(&w, line, Some(uuid));
            if self.rng.chance(0.025) {
                // The limit resets on a full hour; work resumes after it.
                let reset = (self.cursor.div_euclid(HOUR) + self.rng.ms(1, 4)) * HOUR;
                let text = format!("Claude AI usage limit reached|{}", reset / 1000);
                self.synthetic(&w, &text, true);
                self.stats.usage_limit += 1;
                self.cursor = self.cursor.max(reset);
                self.after_limit = true;
                break;
            }
        }
        self.soft = None;
        self.force = None;
    }

    fn write(&mut self, dir: &Path) -> Result<(), Error> {
        let root = dir.join("projects");
        let sessions = std::mem::take(&mut self.sessions);
        for s in &sessions {
            let pdir = root.join(&self.projects[s.project].0);
            fs::create_dir_all(&pdir).map_err(|e| Error::new(&pdir, e))?;
            if !s.lines.is_empty() {
                self.write_file(&pdir.join(format!("{}.jsonl", s.id)), &s.lines)?;
            }
            if !s.subagents.is_empty() {
                let sub = pdir.join(&s.id).join("subagents");
                fs::create_dir_all(&sub).map_err(|e| Error::new(&sub, e))?;
                for (id, lines) in &s.subagents {
                    self.write_file(&sub.join(format!("agent-{id}.jsonl")), lines)?;
                }
            }
        }
        self.sessions = sessions;
        Ok(())
    }

    /// Writes one file, sometimes ending it in a cut copy of its last line.
    fn write_file(&mut self, path: &Path, lines: &[String]) -> Result<(), Error> {
        let fail = |e| Error::new(path, e);
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path).map_err(fail)?);
        let mut bytes = 0;
        for line in lines {
            out.write_all(line.as_bytes()).map_err(fail)?;
            out.write_all(b"\n").map_err(fail)?;
            bytes += line.len() as u64 + 1;
        }
        let mut n = lines.len();
        if let Some(last) = lines.last().filter(|_| self.options.malformed)
            && self.junk.chance(TRUNCATED_TAIL)
        {
            let tail = cut(&mut self.junk, last);
            out.write_all(tail.as_bytes()).map_err(fail)?;
            out.write_all(b"\n").map_err(fail)?;
            bytes += tail.len() as u64 + 1;
            n += 1;
            self.stats.truncated += 1;
        }
        out.flush().map_err(fail)?;
        self.stats.files += 1;
        self.stats.lines += n;
        self.stats.bytes += bytes;
        self.stats.largest_file = self.stats.largest_file.max(bytes);
        Ok(())
    }
}

/// The first 20-95% of `line` (never all of it, so never valid JSON): what a writer
/// that crashed mid-line leaves behind.
fn cut(rng: &mut Rng, line: &str) -> String {
    let len = line.len();
    let mut at =
        (rng.range(len as u64 / 5, len as u64 * 19 / 20) as usize).clamp(1, len.max(2) - 1);
    while !line.is_char_boundary(at) {
        at -= 1;
    }
    line[..at].to_string()
}

struct Response {
    uuid: String,
    msg_id: Option<String>,
    req: Option<String>,
    tool: Option<String>,
    tool_id: String,
    usage: Usage,
    first_line: String,
}

#[derive(Clone, Copy)]
enum Tool {
    Use(&'static str),
    Maybe,
    Never,
}
