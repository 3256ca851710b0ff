//! `ckptsim diagram`: a space-time (Lamport) diagram of one checkpoint, as SVG. One lane per
//! task, time left to right; data messages as thin arrows (sampled when dense — the caption says
//! so), barriers as bold arrows (blue in-band, red priority), each task's snapshot as a dot and
//! the cut through them; blocked inputs (aligned) and recorded channels (Chandy-Lamport,
//! unaligned) shaded on the receiving lane; failures and restarts marked.
//!
//! A message *crosses the cut* when it was sent before its sender's snapshot and taken after its
//! receiver's: it is in flight at the cut, so it must be channel state (drawn orange). One sent
//! after the sender's snapshot but taken before the receiver's is an *orphan* (purple) — what
//! at-least-once produces. The diagram is built as data ([`Diagram`]) before it is drawn, so
//! tests check it against the run.

use crate::engine::RunResult;
use crate::graph::{ChannelId, Graph, TaskId};
use crate::protocol::{ChannelStateRule, CheckpointId};
use crate::report::html::esc;
use crate::scenario::{OperatorKind, ProtocolName, Scenario};
use crate::sim::{SimTime, fmt_ms};
use crate::trace::TraceEvent;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// How a data message relates to the checkpoint's cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crossing {
    /// Both ends on the same side of the cut.
    None,
    /// Sent before the sender's snapshot, taken after the receiver's (or never): channel state.
    ChannelState,
    /// Sent after the sender's snapshot, taken before the receiver's: an orphan.
    Orphan,
}

impl Crossing {
    /// A message sent at `sent` and taken at `consumed` (if ever), against a cut through its
    /// sender at `ts` and its receiver at `tr`.
    pub fn of(sent: SimTime, consumed: Option<SimTime>, ts: SimTime, tr: SimTime) -> Crossing {
        if sent <= ts && consumed.is_none_or(|c| c > tr) {
            Crossing::ChannelState
        } else if sent > ts && consumed.is_some_and(|c| c <= tr) {
            Crossing::Orphan
        } else {
            Crossing::None
        }
    }
}

/// A data message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Msg {
    /// Its channel.
    pub ch: ChannelId,
    /// Sent.
    pub sent: SimTime,
    /// Taken by the receiver, if it was.
    pub consumed: Option<SimTime>,
    /// Against the cut.
    pub crossing: Crossing,
    /// Its sequence number on the channel (COS 418: the message's id).
    pub seq: u64,
    /// A dataflow record's key and the source record it derives from (source task, offset in
    /// its log partition); `None` for COS 418's tokens.
    pub origin: Option<(u64, crate::operator::Lineage)>,
}

/// A barrier (or marker) from its sender's snapshot to its arrival.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BarrierArrow {
    /// Its channel.
    pub ch: ChannelId,
    /// Emitted (the sender's snapshot, or the trigger for a source's input).
    pub sent: SimTime,
    /// Arrived at the receiver.
    pub arrived: SimTime,
    /// Priority (overtaking) barrier.
    pub priority: bool,
}

/// A barrier waiting in its receiver's input queue: from its arrival until the task takes it,
/// behind the records queued before it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QueueWait {
    /// Its channel.
    pub ch: ChannelId,
    /// Reached the receiver's queue.
    pub arrived: SimTime,
    /// Taken by the receiving task.
    pub taken: SimTime,
    /// Records the task took from the channel in between: the ones queued before the barrier.
    pub records_ahead: usize,
}

/// The elements of a diagram.
#[derive(Clone, Debug)]
pub struct Diagram {
    /// Title.
    pub title: String,
    /// Lane names (one per task or server), indexed by `TaskId`.
    pub lanes: Vec<String>,
    /// Operator chains of two or more tasks, head first: Flink runs each as one task. Their
    /// lanes are drawn together inside one box.
    pub chains: Vec<Vec<TaskId>>,
    /// Channels `(from, to, name)`, indexed by `ChannelId`.
    pub channels: Vec<(TaskId, TaskId, String)>,
    /// Times are ticks (1 tick = 1 ms of `SimTime`), as in the COS 418 world.
    pub ticks: bool,
    /// The checkpoint.
    pub cp: CheckpointId,
    /// Time window shown.
    pub from: SimTime,
    /// Time window shown.
    pub to: SimTime,
    /// Snapshot of each task that took one.
    pub snapshots: BTreeMap<TaskId, SimTime>,
    /// Barrier arrows.
    pub barriers: Vec<BarrierArrow>,
    /// Barriers' waits in the receivers' queues (empty where a barrier was taken on arrival).
    pub waits: Vec<QueueWait>,
    /// Every captured data message (the drawing may sample the ordinary ones).
    pub messages: Vec<Msg>,
    /// Intervals an input was blocked.
    pub blocked: Vec<(ChannelId, SimTime, SimTime)>,
    /// Intervals an input was being recorded as channel state.
    pub recording: Vec<(ChannelId, SimTime, SimTime)>,
    /// Crashes.
    pub crashes: Vec<(TaskId, SimTime)>,
    /// Restarts, with the checkpoint each restored (`None`: from the start).
    pub restarts: Vec<(SimTime, Option<CheckpointId>)>,
    /// Sink commits: the sink task, when, and the checkpoint whose transactions it committed.
    pub commits: Vec<(TaskId, SimTime, CheckpointId)>,
    /// Replays after a restart: from the restart until the sources were back where they had been,
    /// the source lanes, and the records read again (when one restart is in the run).
    pub replays: Vec<(SimTime, SimTime, Vec<TaskId>, Option<u64>)>,
    /// Uncoordinated checkpoints: every local checkpoint in the window (the cut is the recovery
    /// line through some of them).
    pub local_checkpoints: Vec<(TaskId, SimTime)>,
}

/// A legend swatch, drawn as the diagram draws the element.
enum Swatch {
    /// A line: colour, width, dash pattern (`""`: solid).
    Line(&'static str, f64, &'static str),
    /// A filled box (a colour or a pattern).
    Fill(&'static str),
    /// A snapshot dot on the dashed cut.
    Cut,
    /// A local checkpoint's hollow dot.
    Local,
    /// The crash cross.
    Crash,
    /// The commit diamond.
    Commit,
    /// A chain's box.
    Chain,
}

impl Swatch {
    /// The swatch in a 24 × 12 box whose left middle is `(x, y)`.
    fn svg(&self, x: f64, y: f64) -> String {
        match *self {
            Swatch::Line(color, w, dash) => format!(
                r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="{w}" stroke-dasharray="{dash}"/>"#,
                x + 24.0
            ),
            Swatch::Fill(fill) => {
                format!(r#"<rect x="{x:.1}" y="{:.1}" width="24" height="12" fill="{fill}"/>"#, y - 6.0)
            }
            Swatch::Cut => format!(
                r##"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e377c2" stroke-width="1.5" stroke-dasharray="5,3"/><circle cx="{:.1}" cy="{y:.1}" r="5" fill="black"/>"##,
                x + 24.0,
                x + 12.0
            ),
            Swatch::Local => format!(
                r##"<circle cx="{:.1}" cy="{y:.1}" r="4" fill="white" stroke="#555555" stroke-width="1.5"/>"##,
                x + 12.0
            ),
            Swatch::Crash => format!(
                r##"<path d="M{:.1},{:.1} L{:.1},{:.1} M{:.1},{:.1} L{:.1},{:.1}" stroke="#d62728" stroke-width="3"/>"##,
                x + 6.0,
                y - 6.0,
                x + 18.0,
                y + 6.0,
                x + 6.0,
                y + 6.0,
                x + 18.0,
                y - 6.0
            ),
            Swatch::Commit => format!(
                r##"<path d="M{0:.1},{1:.1} L{2:.1},{3:.1} L{0:.1},{4:.1} L{5:.1},{3:.1} Z" fill="#2ca02c"/>"##,
                x + 12.0,
                y - 7.0,
                x + 17.0,
                y,
                y + 7.0,
                x + 7.0
            ),
            Swatch::Chain => format!(
                r##"<rect x="{x:.1}" y="{:.1}" width="24" height="12" rx="4" fill="#f3f3f8" stroke="#b8b8cc"/>"##,
                y - 6.0
            ),
        }
    }
}

/// The trigger and end time of checkpoint `cp` in a run's protocol trace.
pub fn checkpoint_span(r: &RunResult, cp: CheckpointId) -> Option<(SimTime, SimTime)> {
    let start = r.protocol_trace.iter().find(|(_, e)| *e == TraceEvent::Triggered { cp })?.0;
    let end = r
        .protocol_trace
        .iter()
        .find(|(_, e)| matches!(e, TraceEvent::Completed { cp: c } | TraceEvent::Aborted { cp: c } if *c == cp))
        .map_or(start, |x| x.0);
    Some((start, end))
}

/// Builds the diagram of checkpoint `cp` from a run that kept its protocol trace and captured
/// its messages; `window` defaults to the checkpoint with a margin.
pub fn build(s: &Scenario, r: &RunResult, cp: CheckpointId, window: Option<(SimTime, SimTime)>) -> Option<Diagram> {
    let g = Graph::build(s);
    let (start, _) = checkpoint_span(r, cp)?;
    // By default: the protocol at work — from the trigger to the last snapshot or barrier
    // arrival (the uploads after it are not drawn), with a margin.
    let last = r
        .protocol_trace
        .iter()
        .filter(|(_, e)| matches!(e, TraceEvent::Snapshot { cp: c, .. } | TraceEvent::BarrierArrive { cp: c, .. } if *c == cp))
        .map(|x| x.0)
        .max()
        .unwrap_or(start);
    let margin = ((last - start) / 5).max(100_000);
    let (from, to) = window.unwrap_or((start.saturating_sub(margin), last + margin));
    let protocol = ProtocolName::parse(&r.summary.protocol).unwrap_or(ProtocolName::NONE);
    let mut snapshots = BTreeMap::new();
    let mut deadline = None;
    let mut arrivals = Vec::new();
    let mut taken: BTreeMap<ChannelId, SimTime> = BTreeMap::new();
    let (mut blocked, mut open) = (Vec::new(), BTreeMap::new());
    let (mut crashes, mut restarts, mut commits) = (Vec::new(), Vec::new(), Vec::new());
    let mut last_completed = None;
    for &(t, ev) in &r.protocol_trace {
        match ev {
            TraceEvent::Snapshot { task, cp: c } if c == cp => {
                snapshots.insert(task, t);
            }
            TraceEvent::BarrierArrive { ch, cp: c, priority } if c == cp => arrivals.push((ch, t, priority)),
            TraceEvent::BarrierTaken { ch, cp: c } if c == cp => {
                taken.entry(ch).or_insert(t);
            }
            TraceEvent::Deadline { cp: c } if c == cp => deadline = Some(t),
            TraceEvent::Block { ch } => {
                open.insert(ch, t);
            }
            TraceEvent::Unblock { ch } => {
                if let Some(b) = open.remove(&ch)
                    && t >= from
                    && b <= to
                {
                    blocked.push((ch, b, t));
                }
            }
            TraceEvent::Crash { task } if t >= from && t <= to => crashes.push((task, t)),
            TraceEvent::Completed { cp: c } => last_completed = Some(c),
            TraceEvent::Restart if t >= from && t <= to => restarts.push((t, last_completed)),
            TraceEvent::Notify { task, cp: c }
                if t >= from && t <= to && s.topology.operators[g.task(task).op].kind == OperatorKind::Sink =>
            {
                commits.push((task, t, c))
            }
            _ => {}
        }
    }
    // Each restart's replay runs until the sources are back at their offsets of the failure.
    let sources: Vec<TaskId> = g
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| s.topology.operators[t.op].kind == OperatorKind::Source)
        .map(|(i, _)| TaskId(i as u32))
        .collect();
    let one_restart = r.restarts_ms.len() == 1;
    let replays = restarts
        .iter()
        .filter_map(|&(at, _)| {
            let back = r.caught_up_ms.iter().map(|&ms| (ms * 1e6) as SimTime).find(|&c| c >= at)?;
            Some((at, back, sources.clone(), one_restart.then_some(r.summary.recovery.reprocessed_records)))
        })
        .collect();
    let barriers = arrivals
        .iter()
        .map(|&(ch, arrived, priority)| {
            let sender = g.channel(ch).from;
            BarrierArrow { ch, sent: snapshots.get(&sender).copied().unwrap_or(start), arrived, priority }
        })
        .collect();
    // Recorded channels: from the receiver's snapshot until it takes the barrier of that input —
    // the records it takes in between are the ones recorded (for a priority barrier, taken on
    // arrival, those queued ahead of it at the snapshot are still taken later).
    let end_of = |ch: ChannelId, arrived: SimTime| taken.get(&ch).copied().unwrap_or(arrived).max(arrived);
    let records = |t: SimTime| match protocol.info().channel_state {
        ChannelStateRule::Always | ChannelStateRule::WhiteRecords => true,
        ChannelStateRule::AfterAlignedTimeout => deadline.is_some_and(|d| t >= d),
        ChannelStateRule::Never => false,
    };
    let mut recording: Vec<(ChannelId, SimTime, SimTime)> = arrivals
        .iter()
        .filter_map(|&(ch, arrived, _)| {
            let snap = *snapshots.get(&g.channel(ch).to)?;
            let end = end_of(ch, arrived);
            // (Lai-Yang may still record the channel of its first marker: see below.)
            let white = protocol.info().channel_state == ChannelStateRule::WhiteRecords;
            // An iteration's head logs its back-edges under every protocol (ABS Algorithm 2).
            ((records(snap) || g.is_back(ch)) && (end > snap || white)).then_some((ch, snap, end))
        })
        .collect();
    // Sequence numbers restart with each restore: only messages of the checkpoint's own epoch
    // can cross its cut, and those a failure discarded (never taken, from an earlier epoch) are
    // not drawn.
    let epoch = r.protocol_trace.iter().filter(|(t, e)| *e == TraceEvent::Restart && *t < start).count() as u32;
    let messages: Vec<Msg> = r
        .messages
        .iter()
        .filter(|m| m.epoch == epoch || m.consumed.is_some())
        .map(|m| {
            let node = g.channel(m.ch);
            let crossing = match (snapshots.get(&node.from), snapshots.get(&node.to)) {
                (Some(&ts), Some(&tr)) if m.epoch == epoch => Crossing::of(m.sent, m.consumed, ts, tr),
                _ => Crossing::None,
            };
            Msg { ch: m.ch, sent: m.sent, consumed: m.consumed, crossing, seq: m.seq, origin: Some((m.key, m.origin)) }
        })
        .collect();
    if protocol.info().channel_state == ChannelStateRule::WhiteRecords {
        // Lai-Yang records a channel until its last white record is in, which on a non-FIFO
        // channel may come after the control message: the span ends at the later of the two.
        for (ch, _, end) in &mut recording {
            let last_white = messages.iter().filter(|m| m.ch == *ch && m.crossing == Crossing::ChannelState);
            *end = last_white.filter_map(|m| m.consumed).fold(*end, SimTime::max);
        }
        recording.retain(|&(_, snap, end)| end > snap);
    }
    let waits = arrivals
        .iter()
        .filter_map(|&(ch, arrived, _)| {
            let t = end_of(ch, arrived);
            (t > arrived).then(|| QueueWait {
                ch,
                arrived,
                taken: t,
                records_ahead: messages
                    .iter()
                    .filter(|m| m.ch == ch && m.consumed.is_some_and(|c| c > arrived && c <= t))
                    .count(),
            })
        })
        .collect();
    Some(Diagram {
        title: format!("Checkpoint {cp} of {} ({})", s.name, protocol.name()),
        waits,
        lanes: g.tasks.iter().map(|t| t.name.clone()).collect(),
        chains: g.chains().into_iter().filter(|c| c.len() > 1).collect(),
        channels: g.channels.iter().map(|c| (c.from, c.to, c.name.clone())).collect(),
        ticks: false,
        cp,
        from,
        to,
        snapshots,
        barriers,
        messages,
        blocked,
        recording,
        crashes,
        restarts,
        commits,
        replays,
        local_checkpoints: Vec::new(),
    })
}

/// The recovery line of restart `n` (1, 2, …) of a run under `uncoordinated` checkpoints, drawn as
/// a checkpoint's cut: every task's local checkpoints, the crash, and the line through the
/// checkpoints the job restarted from — with the messages it cuts, if any (a line leaves nothing in
/// flight, so none cross it). The run must have kept its protocol trace and captured the messages
/// of the window (default: from the line's earliest checkpoint to the crash, with a margin).
pub fn build_recovery(s: &Scenario, r: &RunResult, n: usize, window: Option<(SimTime, SimTime)>) -> Option<Diagram> {
    let line = r.recovery_lines.get(n.checked_sub(1)?)?;
    let g = Graph::build(s);
    let earliest = line.line.iter().copied().min().unwrap_or(0);
    let margin = ((line.failed_at - earliest) / 20).max(1_000_000);
    let (from, to) = window.unwrap_or((earliest.saturating_sub(margin), line.failed_at + margin));
    let snapshots: BTreeMap<TaskId, SimTime> =
        line.line.iter().enumerate().map(|(t, &at)| (TaskId(t as u32), at)).collect();
    let (mut local_checkpoints, mut crashes, mut restarts) = (Vec::new(), Vec::new(), Vec::new());
    let mut restarts_before = 0;
    for &(t, ev) in &r.protocol_trace {
        match ev {
            TraceEvent::Snapshot { task, .. } if t >= from && t <= to.min(line.failed_at) => {
                local_checkpoints.push((task, t))
            }
            TraceEvent::Crash { task } if t >= from && t <= to => crashes.push((task, t)),
            TraceEvent::Restart if t < line.failed_at => restarts_before += 1,
            TraceEvent::Restart if t <= to => restarts.push((t, None)),
            _ => {}
        }
    }
    // The messages of the epoch the line cuts (sequence numbers restart with each restore).
    let messages = r
        .messages
        .iter()
        .filter(|m| m.epoch == restarts_before && m.sent <= line.failed_at)
        .map(|m| {
            let node = g.channel(m.ch);
            let crossing = Crossing::of(m.sent, m.consumed, snapshots[&node.from], snapshots[&node.to]);
            Msg { ch: m.ch, sent: m.sent, consumed: m.consumed, crossing, seq: m.seq, origin: Some((m.key, m.origin)) }
        })
        .collect();
    let crashed = crashes.iter().map(|&(t, _)| g.task(t).name.clone()).collect::<Vec<_>>().join(", ");
    Some(Diagram {
        title: format!(
            "Recovery line {n} of {} (uncoordinated): {crashed} crashed at {} ms",
            s.name,
            crate::sim::fmt_ms(line.failed_at)
        ),
        lanes: g.tasks.iter().map(|t| t.name.clone()).collect(),
        chains: g.chains().into_iter().filter(|c| c.len() > 1).collect(),
        channels: g.channels.iter().map(|c| (c.from, c.to, c.name.clone())).collect(),
        ticks: false,
        cp: n as CheckpointId,
        from,
        to,
        snapshots,
        barriers: Vec::new(),
        waits: Vec::new(),
        messages,
        blocked: Vec::new(),
        recording: Vec::new(),
        crashes,
        restarts,
        commits: Vec::new(),
        replays: Vec::new(),
        local_checkpoints,
    })
}

/// Gives every diagram the same time window — the union of theirs — so that panels stacked by
/// [`stack_svg`] share one axis.
pub fn share_axis(diagrams: &mut [Diagram]) {
    let from = diagrams.iter().map(|d| d.from).min().unwrap_or(0);
    let to = diagrams.iter().map(|d| d.to).max().unwrap_or(0);
    for d in diagrams {
        (d.from, d.to) = (from, to);
    }
}

/// One SVG with the diagrams stacked top to bottom (the same checkpoint under several protocols,
/// after [`share_axis`]), each panel drawn as [`Diagram::to_svg`] draws it alone.
pub fn stack_svg<'a>(diagrams: impl IntoIterator<Item = &'a Diagram>, max_messages: usize) -> String {
    let mut panels = String::new();
    let mut y = 0.0;
    for d in diagrams {
        let svg = d.to_svg(max_messages);
        let body: Vec<&str> = svg.lines().skip(1).filter(|l| *l != "</svg>").collect();
        let _ = writeln!(panels, r#"<g transform="translate(0,{y})">"#);
        panels.push_str(&body.join("\n"));
        panels.push_str("\n</g>\n");
        y += d.height();
    }
    let width = DIAGRAM_WIDTH;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{y}\" viewBox=\"0 0 {width} {y}\" font-family=\"sans-serif\">\n{panels}</svg>\n"
    )
}

/// Width of a diagram's SVG.
pub const DIAGRAM_WIDTH: f64 = 1200.0;
/// The time axis runs from `LEFT` to `DIAGRAM_WIDTH - RIGHT`.
pub const LEFT: f64 = 120.0;
/// Right margin of the time axis.
pub const RIGHT: f64 = 40.0;
/// The first lane's row starts this far down a panel.
pub const TOP: f64 = 60.0;
/// Height of one lane's row; a lane's line runs through the middle of its row.
pub const LANE: f64 = 46.0;

/// Messages crossing the cut on one channel beyond which they are drawn as one band.
const BAND: usize = 20;

impl Diagram {
    /// Height of the diagram's SVG.
    pub fn height(&self) -> f64 {
        TOP + LANE * self.lanes.len() as f64 + 100.0
    }

    /// A time as shown: milliseconds, or ticks in the COS 418 world.
    pub fn time(&self, t: SimTime) -> String {
        if self.ticks { format!("tick {}", t / crate::sim::MS) } else { format!("{} ms", fmt_ms(t)) }
    }

    /// The row of each lane (indexed by `TaskId`): lanes in order, except that the tasks of a
    /// chain follow their head.
    pub fn rows(&self) -> Vec<usize> {
        let mut row = vec![usize::MAX; self.lanes.len()];
        let mut next = 0;
        for i in 0..self.lanes.len() {
            if row[i] != usize::MAX {
                continue;
            }
            let members = self.chains.iter().find(|c| c[0].0 as usize == i).map_or(&[][..], |c| &c[1..]);
            for t in std::iter::once(i).chain(members.iter().map(|t| t.0 as usize)) {
                row[t] = next;
                next += 1;
            }
        }
        row
    }

    /// True for an uncoordinated restart's recovery line ([`build_recovery`]) rather than a
    /// checkpoint's cut.
    pub fn is_recovery_line(&self) -> bool {
        !self.local_checkpoints.is_empty()
    }

    /// Draws the diagram (at most `max_messages` ordinary data messages; the rest are sampled).
    pub fn to_svg(&self, max_messages: usize) -> String {
        let (left, right, top, lane) = (LEFT, RIGHT, TOP, LANE);
        let width = DIAGRAM_WIDTH;
        let height = self.height();
        let channel = |ch: ChannelId| &self.channels[ch.0 as usize];
        let span = (self.to - self.from).max(1) as f64;
        let x = |t: SimTime| left + (t.clamp(self.from, self.to) - self.from) as f64 / span * (width - left - right);
        let row = self.rows();
        let y = |t: TaskId| top + lane * (row[t.0 as usize] as f64 + 0.5);
        let mut o = String::new();
        let _ = writeln!(
            o,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">"#
        );
        let _ = writeln!(
            o,
            r##"<defs><marker id="a" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="context-stroke"/></marker><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#d62728" opacity="0.15"/><line x1="0" y1="0" x2="0" y2="6" stroke="#d62728" stroke-width="2" opacity="0.55"/></pattern><pattern id="dots" width="5" height="5" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="#2ca02c" opacity="0.15"/><rect x="1.6" y="1.6" width="1.8" height="1.8" fill="#2ca02c" opacity="0.8"/></pattern></defs>"##
        );
        let _ = writeln!(o, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            o,
            r#"<text x="{left}" y="24" font-size="16">{}, {} to {}</text>"#,
            esc(&self.title),
            self.time(self.from),
            self.time(self.to)
        );
        for chain in &self.chains {
            let (y0, y1) = (y(chain[0]) - lane * 0.42, y(chain[chain.len() - 1]) + lane * 0.42);
            let _ = writeln!(
                o,
                r##"<rect x="4" y="{y0:.1}" width="{}" height="{:.1}" rx="6" fill="#f3f3f8" stroke="#b8b8cc"><title>one task: operator chain (records pass within one thread, no network)</title></rect><text x="{}" y="{:.1}" font-size="10" fill="#66668a" text-anchor="end">chain</text>"##,
                width - right + 2.0,
                y1 - y0,
                width - right,
                y0 + 10.0
            );
        }
        for (i, name) in self.lanes.iter().enumerate() {
            let yy = y(TaskId(i as u32));
            let _ = writeln!(
                o,
                r##"<line x1="{left}" y1="{yy}" x2="{}" y2="{yy}" stroke="#999"/><text x="10" y="{}" font-size="13">{}</text>"##,
                width - right,
                yy + 4.0,
                esc(name)
            );
        }
        // The time axis under the lanes: a tick every "nice" step (1, 2 or 5 × a power of ten).
        let axis_y = top + lane * self.lanes.len() as f64 + 4.0;
        let _ =
            writeln!(o, r##"<line x1="{left}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#444"/>"##, width - right);
        let step = nice_step((self.to - self.from) / 6);
        let mut t = self.from.div_ceil(step) * step;
        while t <= self.to {
            let xx = x(t);
            let label = if self.ticks { format!("{}", t / crate::sim::MS) } else { axis_ms(t, step) };
            let _ = writeln!(
                o,
                r##"<line x1="{xx:.1}" y1="{axis_y}" x2="{xx:.1}" y2="{}" stroke="#444"/><text x="{xx:.1}" y="{}" font-size="11" text-anchor="middle" fill="#444">{label}</text>"##,
                axis_y + 5.0,
                axis_y + 17.0
            );
            t += step;
        }
        let _ = writeln!(
            o,
            r##"<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#444">{}</text>"##,
            width - right,
            axis_y + 30.0,
            if self.ticks { "tick" } else { "ms" }
        );
        for &(ch, a, b) in &self.blocked {
            let yy = y(channel(ch).1);
            let _ = writeln!(
                o,
                r##"<rect x="{}" y="{}" width="{}" height="14" fill="url(#hatch)"><title>{} blocked</title></rect>"##,
                x(a),
                yy - 7.0,
                (x(b) - x(a)).max(1.0),
                esc(&channel(ch).2)
            );
        }
        for &(ch, a, b) in &self.recording {
            let yy = y(channel(ch).1);
            let _ = writeln!(
                o,
                r##"<rect x="{}" y="{}" width="{}" height="14" fill="url(#dots)"><title>{} recorded</title></rect>"##,
                x(a),
                yy - 7.0,
                (x(b) - x(a)).max(1.0),
                esc(&channel(ch).2)
            );
        }
        let ordinary = self.messages.iter().filter(|m| m.crossing == Crossing::None).count();
        let every = ordinary.div_ceil(max_messages.max(1)).max(1);
        // More than BAND messages crossing the cut on one channel are drawn as one labelled band
        // (from the span of their sends to the span of their takes) instead of a wall of arrows.
        let mut crossing: BTreeMap<(ChannelId, bool), Vec<&Msg>> = BTreeMap::new();
        for m in self.messages.iter().filter(|m| m.crossing != Crossing::None) {
            crossing.entry((m.ch, m.crossing == Crossing::Orphan)).or_default().push(m);
        }
        let banded: BTreeSet<(ChannelId, bool)> =
            crossing.iter().filter(|(_, ms)| ms.len() > BAND).map(|(&k, _)| k).collect();
        for (&(ch, orphan), ms) in crossing.iter().filter(|(k, _)| banded.contains(k)) {
            let node = channel(ch);
            let color = if orphan { "#9467bd" } else { "#ff7f0e" };
            let (s0, s1) = (ms.iter().map(|m| m.sent).min().unwrap_or(0), ms.iter().map(|m| m.sent).max().unwrap_or(0));
            let taken = |m: &&Msg| m.consumed.unwrap_or(self.to);
            let (t0, t1) = (ms.iter().map(taken).min().unwrap_or(0), ms.iter().map(taken).max().unwrap_or(0));
            let (ya, yb) = (y(node.0), y(node.1));
            let _ = writeln!(
                o,
                r##"<polygon points="{:.1},{ya:.1} {:.1},{ya:.1} {:.1},{yb:.1} {:.1},{yb:.1}" fill="{color}" opacity="0.35" stroke="{color}"><title>{}: {} records {}</title></polygon><text x="{:.1}" y="{:.1}" font-size="10" fill="{color}">{}: {} rec</text>"##,
                x(s0),
                x(s1),
                x(t1),
                x(t0),
                esc(&node.2),
                ms.len(),
                if orphan { "orphaned" } else { "of channel state" },
                (x(s1) + x(t1)) / 2.0 + 4.0,
                (ya + yb) / 2.0,
                esc(&node.2),
                ms.len()
            );
        }
        let mut k = 0;
        for m in &self.messages {
            if banded.contains(&(m.ch, m.crossing == Crossing::Orphan)) && m.crossing != Crossing::None {
                continue;
            }
            let (color, w) = match m.crossing {
                Crossing::ChannelState => ("#ff7f0e", 1.6),
                Crossing::Orphan => ("#9467bd", 1.6),
                Crossing::None => {
                    k += 1;
                    if k % every != 0 {
                        continue;
                    }
                    ("#bbbbbb", 0.7)
                }
            };
            let node = channel(m.ch);
            let end = m.consumed.unwrap_or(self.to);
            if end < self.from || m.sent > self.to {
                continue;
            }
            let _ = writeln!(
                o,
                r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{color}" stroke-width="{w}" marker-end="url(#a)"/>"#,
                x(m.sent),
                y(node.0),
                x(end),
                y(node.1)
            );
        }
        // A barrier's wait in the queue: a band along the receiving lane, from its arrival until
        // the task takes it, over the records queued before it.
        // Waits on one lane that overlap (with their label) are stacked, each on its own level.
        let mut placed: Vec<(TaskId, f64, f64, usize)> = Vec::new();
        for w in &self.waits {
            let node = channel(w.ch);
            let (x0, x1) = (x(w.arrived), x(w.taken));
            let label_end = if x1 - x0 > 70.0 { x1.max(x0 + 200.0) } else { x1 };
            let level = (0..)
                .find(|&l| !placed.iter().any(|p| p.0 == node.1 && p.3 == l && p.1 < label_end && x0 < p.2))
                .expect("some level is free");
            placed.push((node.1, x0, label_end, level));
            let yy = y(node.1) - 7.0 - 14.0 * level as f64;
            let _ = writeln!(
                o,
                r##"<line x1="{x0:.1}" y1="{yy:.1}" x2="{x1:.1}" y2="{yy:.1}" stroke="#1f77b4" stroke-width="4" stroke-dasharray="2,2" opacity="0.8"><title>barrier {} from {} waits {} in the queue behind {} records</title></line>"##,
                self.cp,
                esc(&self.lanes[node.0.0 as usize]),
                fmt_ms(w.taken - w.arrived) + " ms",
                w.records_ahead
            );
            if x1 - x0 > 70.0 {
                let _ = writeln!(
                    o,
                    r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#1f77b4">from {}: waits behind {} record{}</text>"##,
                    x0 + 3.0,
                    yy - 4.0,
                    esc(&self.lanes[node.0.0 as usize]),
                    w.records_ahead,
                    if w.records_ahead == 1 { "" } else { "s" }
                );
            }
        }
        for b in &self.barriers {
            let node = channel(b.ch);
            let color = if b.priority { "#d62728" } else { "#1f77b4" };
            let _ = writeln!(
                o,
                r#"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{color}" stroke-width="2.6" marker-end="url(#a)"><title>barrier {} on {}</title></line>"#,
                x(b.sent),
                y(node.0),
                x(b.arrived),
                y(node.1),
                self.cp,
                esc(&node.2)
            );
        }
        for &(t, at) in &self.local_checkpoints {
            let _ = writeln!(
                o,
                r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="white" stroke="#555555" stroke-width="1.5"><title>{} local checkpoint at {}</title></circle>"##,
                x(at),
                y(t),
                esc(&self.lanes[t.0 as usize]),
                self.time(at)
            );
        }
        let mut cut: Vec<(TaskId, SimTime)> = self.snapshots.iter().map(|(&t, &s)| (t, s)).collect();
        cut.sort_by_key(|&(t, _)| row[t.0 as usize]);
        let points: Vec<String> = cut.iter().map(|&(t, s)| format!("{:.1},{:.1}", x(s), y(t))).collect();
        let _ = writeln!(
            o,
            r##"<polyline points="{}" fill="none" stroke="#e377c2" stroke-width="2" stroke-dasharray="6,4"/>"##,
            points.join(" ")
        );
        for &(t, s) in &cut {
            let _ = writeln!(
                o,
                r#"<circle cx="{}" cy="{}" r="5" fill="black"><title>{} snapshot at {}</title></circle>"#,
                x(s),
                y(t),
                esc(&self.lanes[t.0 as usize]),
                self.time(s)
            );
        }
        for &(t, at) in &self.crashes {
            let (cx, cy) = (x(at), y(t));
            let _ = writeln!(
                o,
                r##"<path d="M{},{} L{},{} M{},{} L{},{}" stroke="#d62728" stroke-width="3"><title>crash</title></path>"##,
                cx - 7.0,
                cy - 7.0,
                cx + 7.0,
                cy + 7.0,
                cx - 7.0,
                cy + 7.0,
                cx + 7.0,
                cy - 7.0
            );
        }
        for (from, to, lanes, n) in &self.replays {
            // The sources read again what the failure discarded: a band over their lanes.
            let (x0, x1) = (x(*from), x(*to).max(x(*from) + 3.0));
            for &t in lanes {
                let _ = writeln!(
                    o,
                    r##"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="12" fill="#ff7f0e" opacity="0.25"><title>replay: the source reads again from the restored offset</title></rect>"##,
                    y(t) - 6.0,
                    x1 - x0
                );
            }
            if let (Some(n), Some(&first)) = (n, lanes.first()) {
                let _ = writeln!(
                    o,
                    r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#b35806">replay: {n} records read again</text>"##,
                    x1 + 4.0,
                    y(first) - 8.0
                );
            }
        }
        for &(at, cp) in &self.restarts {
            let what = match cp {
                Some(c) => format!("restart from checkpoint {c}"),
                None => "restart from the start".to_string(),
            };
            let _ = writeln!(
                o,
                r##"<line x1="{0}" y1="{top}" x2="{0}" y2="{1}" stroke="#ff7f0e" stroke-dasharray="4,3"><title>{what}</title></line>"##,
                x(at),
                height - 70.0
            );
            let _ = writeln!(
                o,
                r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#b35806">{what}</text>"##,
                x(at) + 4.0,
                top - 8.0
            );
        }
        for &(t, at, cp) in &self.commits {
            let (cx, cy) = (x(at), y(t));
            let _ = writeln!(
                o,
                r##"<path d="M{:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} Z" fill="#2ca02c"><title>{} commits checkpoint {cp}'s transactions: that output becomes visible</title></path>"##,
                cx,
                cy - 7.0,
                cx + 5.0,
                cy,
                cx,
                cy + 7.0,
                cx - 5.0,
                cy,
                esc(&self.lanes[t.0 as usize])
            );
        }
        let (cs, orphans) = (
            self.messages.iter().filter(|m| m.crossing == Crossing::ChannelState).count(),
            self.messages.iter().filter(|m| m.crossing == Crossing::Orphan).count(),
        );
        // The legend names only what this diagram shows, in this world's words (COS 418 has
        // tokens and markers, a dataflow has records and barriers), each with a swatch drawn as
        // the diagram draws it.
        let (data, barrier) = if self.ticks { ("tokens", "markers") } else { ("data messages", "barriers") };
        let mut items: Vec<(Swatch, String)> = vec![(
            Swatch::Line("#bbbbbb", 1.0, ""),
            if every > 1 { format!("{data}, 1 in {every} shown") } else { data.to_string() },
        )];
        if self.barriers.iter().any(|b| !b.priority) {
            items.push((Swatch::Line("#1f77b4", 2.6, ""), format!("in-band {barrier}")));
        }
        if self.barriers.iter().any(|b| b.priority) {
            items.push((Swatch::Line("#d62728", 2.6, ""), format!("priority {barrier}")));
        }
        if !self.is_recovery_line() {
            items.push((Swatch::Cut, "snapshots and the cut".into()));
        } else {
            items.push((Swatch::Local, "local checkpoints".into()));
            items.push((Swatch::Cut, "the recovery line: the checkpoints restored".into()));
        }
        if !self.waits.is_empty() {
            items.push((
                Swatch::Line("#1f77b4", 4.0, "2,2"),
                format!("a {} waiting in the queue", &barrier[..barrier.len() - 1]),
            ));
        }
        let crossing = if !self.is_recovery_line() {
            format!("{cs} {data} crossing the cut (channel state)")
        } else {
            format!("{cs} {data} crossing the line (none may: nothing recorded them)")
        };
        items.push((Swatch::Line("#ff7f0e", 1.6, ""), crossing));
        if orphans > 0 {
            items.push((Swatch::Line("#9467bd", 1.6, ""), format!("{orphans} orphans")));
        }
        if !self.blocked.is_empty() {
            items.push((Swatch::Fill("url(#hatch)"), "blocked input".into()));
        }
        if !self.recording.is_empty() {
            items.push((Swatch::Fill("url(#dots)"), "recorded input".into()));
        }
        if !self.crashes.is_empty() {
            items.push((Swatch::Crash, "crash".into()));
        }
        if !self.restarts.is_empty() {
            items.push((Swatch::Line("#ff7f0e", 1.0, "4,3"), "restart".into()));
        }
        if !self.replays.is_empty() {
            items.push((Swatch::Fill("#ffd8b1"), "replay".into()));
        }
        if !self.commits.is_empty() {
            items.push((Swatch::Commit, "sink commit (output becomes visible)".into()));
        }
        if !self.chains.is_empty() {
            items.push((Swatch::Chain, "operator chain, run as one task".into()));
        }
        // Laid out left to right, wrapping at the width (about 6.2 px per character at 12 px).
        let (mut lx, mut ly) = (left, height - 52.0);
        for (sw, label) in &items {
            let w = 30.0 + 6.2 * label.chars().count() as f64 + 18.0;
            if lx + w > width - right && lx > left {
                (lx, ly) = (left, ly + 18.0);
            }
            let _ = writeln!(o, "{}", sw.svg(lx, ly));
            let _ =
                writeln!(o, r##"<text x="{:.1}" y="{:.1}" font-size="12">{}</text>"##, lx + 30.0, ly + 4.0, esc(label));
            lx += w;
        }
        o.push_str("</svg>\n");
        o
    }
}

/// The smallest step of 1, 2 or 5 × a power of ten (ns) that is at least `rough`.
fn nice_step(rough: SimTime) -> SimTime {
    let mut unit: SimTime = 1;
    loop {
        for m in [1, 2, 5] {
            if unit * m >= rough.max(1) {
                return unit * m;
            }
        }
        unit *= 10;
    }
}

/// A tick label in milliseconds with as many decimals as the step needs.
fn axis_ms(t: SimTime, step: SimTime) -> String {
    let decimals = match step {
        s if s >= crate::sim::MS => 0,
        s if s >= 100 * crate::sim::US => 1,
        s if s >= 10 * crate::sim::US => 2,
        _ => 3,
    };
    format!("{:.*}", decimals, crate::sim::ns_to_ms(t))
}
