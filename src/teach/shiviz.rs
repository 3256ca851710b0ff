//! Export to ShiViz, the space-time log visualiser: every task is a host, every data record and
//! barrier a message (a send event at the sender, a receive event when the receiver takes it or
//! the barrier arrives), snapshots and crashes local events; each event carries its host's
//! vector clock. Paste the log and [`REGEX`] into ShiViz to explore a run interactively. The log
//! opens with one event per task in the diagram's lane order, so that ShiViz's host order "by
//! appearance in the log" matches the diagram.

use super::diagram::Diagram;
use crate::graph::TaskId;
use crate::sim::SimTime;
use std::collections::BTreeMap;

/// The regular expression ShiViz needs to parse the log: a description line, then the host and
/// its vector clock.
pub const REGEX: &str = r"(?<event>.*)\n(?<host>\S*) (?<clock>{.*})";

/// One event of the log.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When.
    pub t: SimTime,
    /// The task.
    pub host: TaskId,
    /// What happened.
    pub text: String,
    /// The host's vector clock after the event (task → count).
    pub clock: BTreeMap<TaskId, u64>,
    /// For a receive, the index of its send event.
    pub received_from: Option<usize>,
}

#[derive(Clone, Copy)]
enum Kind {
    Send(usize),
    Local,
    Receive(usize),
}

/// The events of a diagram, with vector clocks, in causal (time) order.
pub fn events(d: &Diagram) -> Vec<Event> {
    let name = |t: TaskId| d.lanes[t.0 as usize].as_str();
    // (time, rank, host, text, kind): sends before local events before receives at one instant.
    let mut raw: Vec<(SimTime, u8, TaskId, String, Kind)> = Vec::new();
    // First one event per task, in the diagram's lane order: ShiViz sorting its hosts by their
    // order in the log then lays them out as the diagram's lanes.
    let rows = d.rows();
    let mut lanes: Vec<TaskId> = (0..d.lanes.len() as u32).map(TaskId).collect();
    lanes.sort_by_key(|t| rows[t.0 as usize]);
    for t in lanes {
        raw.push((d.from, 0, t, "window starts".into(), Kind::Local));
    }
    let mut message = 0usize;
    for m in &d.messages {
        let (from, to, _) = &d.channels[m.ch.0 as usize];
        if m.sent < d.from || m.sent > d.to {
            continue;
        }
        raw.push((m.sent, 0, *from, format!("send record to {}", name(*to)), Kind::Send(message)));
        if let Some(c) = m.consumed {
            raw.push((c, 2, *to, format!("take record from {}", name(*from)), Kind::Receive(message)));
        }
        message += 1;
    }
    for b in &d.barriers {
        let (from, to, _) = &d.channels[b.ch.0 as usize];
        let what = if b.priority { "priority barrier" } else { "barrier" };
        raw.push((b.sent, 0, *from, format!("send {what} {} to {}", d.cp, name(*to)), Kind::Send(message)));
        raw.push((b.arrived, 2, *to, format!("{what} {} arrives from {}", d.cp, name(*from)), Kind::Receive(message)));
        message += 1;
    }
    for (&t, &at) in &d.snapshots {
        raw.push((at, 1, t, format!("snapshot {}", d.cp), Kind::Local));
    }
    for &(t, at) in &d.crashes {
        raw.push((at, 1, t, "crash".into(), Kind::Local));
    }
    raw.sort_by_key(|e| (e.0, e.1));
    let mut clocks: BTreeMap<TaskId, BTreeMap<TaskId, u64>> = BTreeMap::new();
    let mut sent_at: BTreeMap<usize, usize> = BTreeMap::new();
    let mut out: Vec<Event> = Vec::with_capacity(raw.len());
    for (t, _, host, text, kind) in raw {
        let mut clock = clocks.remove(&host).unwrap_or_default();
        let mut received_from = None;
        if let Kind::Receive(m) = kind {
            // A message whose send lies before the window is received without a cause.
            if let Some(&i) = sent_at.get(&m) {
                for (&k, &v) in &out[i].clock {
                    let c = clock.entry(k).or_insert(0);
                    *c = (*c).max(v);
                }
                received_from = Some(i);
            }
        }
        *clock.entry(host).or_insert(0) += 1;
        if let Kind::Send(m) = kind {
            sent_at.insert(m, out.len());
        }
        clocks.insert(host, clock.clone());
        out.push(Event { t, host, text, clock, received_from });
    }
    out
}

/// The ShiViz log: for each event a description line, then `host {"task": count, …}`.
pub fn log(d: &Diagram, events: &[Event]) -> String {
    let mut out = String::new();
    for e in events {
        let clock: Vec<String> = e.clock.iter().map(|(t, v)| format!("\"{}\": {v}", d.lanes[t.0 as usize])).collect();
        out.push_str(&format!("{} {}\n{} {{{}}}\n", d.time(e.t), e.text, d.lanes[e.host.0 as usize], clock.join(", ")));
    }
    out
}
