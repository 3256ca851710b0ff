//! Diagrams and narrated logs of the COS 418 world, from a run's log: the same space-time
//! diagram as for dataflows ([`crate::teach::diagram`]) with servers as lanes and ticks as time,
//! and a step log of one snapshot.

use super::{LogEntry, Msg, Outcome, Topology};
use crate::graph::{ChannelId, TaskId};
use crate::sim::MS;
use crate::teach::diagram::{BarrierArrow, Crossing, Diagram, Msg as DMsg};
use crate::teach::explain::Step;
use std::collections::BTreeMap;

/// Server → lane, and link → channel index.
type Lanes<'a> = (BTreeMap<&'a str, TaskId>, BTreeMap<(&'a str, &'a str), ChannelId>);

fn lanes(top: &Topology) -> Lanes<'_> {
    let servers = top.servers.keys().enumerate().map(|(i, s)| (s.as_str(), TaskId(i as u32))).collect();
    let links =
        top.links.iter().enumerate().map(|(i, (a, b))| ((a.as_str(), b.as_str()), ChannelId(i as u32))).collect();
    (servers, links)
}

/// The space-time diagram of snapshot `n`.
pub fn diagram(top: &Topology, out: &Outcome, n: usize) -> Option<Diagram> {
    let (server, link) = lanes(top);
    let mut snapshots = BTreeMap::new();
    let (mut sends, mut delivered) = (BTreeMap::new(), BTreeMap::new());
    for e in &out.log {
        match e {
            LogEntry::Record { at, server: s, n: k, .. } if *k == n => {
                snapshots.insert(server[s.as_str()], *at);
            }
            LogEntry::Send { at, src, dst, msg, id, .. } => {
                sends.insert(*id, (*at, link[&(src.as_str(), dst.as_str())], *msg));
            }
            LogEntry::Deliver { at, id, .. } => {
                delivered.insert(*id, *at);
            }
            _ => {}
        }
    }
    let start = *snapshots.values().min()?;
    let (mut barriers, mut messages) = (Vec::new(), Vec::new());
    let mut marker_at: BTreeMap<ChannelId, u64> = BTreeMap::new();
    for (id, &(sent, ch, msg)) in &sends {
        let consumed = delivered.get(id).copied();
        match msg {
            Msg::Marker(k) if k == n => {
                let arrived = consumed?;
                marker_at.insert(ch, arrived);
                barriers.push(BarrierArrow { ch, sent, arrived, priority: false });
            }
            Msg::Marker(_) => {}
            Msg::Token(..) => {
                let (from, to) = (&top.links.iter().nth(ch.0 as usize)?.0, &top.links.iter().nth(ch.0 as usize)?.1);
                let crossing = match (snapshots.get(&server[from.as_str()]), snapshots.get(&server[to.as_str()])) {
                    (Some(&ts), Some(&tr)) => Crossing::of(sent, consumed, ts, tr),
                    _ => Crossing::None,
                };
                messages.push(DMsg { ch, sent, consumed, crossing, seq: *id, origin: None });
            }
        }
    }
    let end = marker_at.values().copied().max().unwrap_or(start);
    let recording = marker_at
        .iter()
        .filter_map(|(&ch, &arrived)| {
            let to = &top.links.iter().nth(ch.0 as usize)?.1;
            let snap = *snapshots.get(&server[to.as_str()])?;
            (arrived > snap).then_some((ch, snap, arrived))
        })
        .collect();
    Some(Diagram {
        title: format!("Snapshot {n} (Chandy-Lamport), COS 418 world"),
        lanes: top.servers.keys().cloned().collect(),
        chains: Vec::new(),
        waits: Vec::new(),
        channels: top
            .links
            .iter()
            .map(|(a, b)| (server[a.as_str()], server[b.as_str()], format!("{a}->{b}")))
            .collect(),
        ticks: true,
        cp: n as u64,
        from: start.saturating_sub(2 * MS),
        to: end + 2 * MS,
        snapshots,
        barriers,
        messages,
        blocked: Vec::new(),
        recording,
        crashes: Vec::new(),
        restarts: Vec::new(),
        commits: Vec::new(),
        replays: Vec::new(),
        local_checkpoints: Vec::new(),
    })
}

/// A narrated log of snapshot `n`: from its start until every server recorded its state and
/// every link's marker arrived.
pub fn explain(top: &Topology, out: &Outcome, n: usize) -> Vec<Step> {
    // The tick number, carried in the step's time field (one tick = one unit here).
    let tick = |at: u64| (at / MS) as f64;
    let (mut started, mut done, mut recorded) = (false, false, 0);
    let mut recording: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut steps = Vec::new();
    let mut step = |at: u64, task: &str, event: &'static str, text: String, rule: &str| {
        steps.push(Step { t_ms: tick(at), t_ns: at, task: Some(task.to_string()), event, text, rule: rule.to_string() })
    };
    for e in &out.log {
        if done {
            break;
        }
        match e {
            LogEntry::Record { at, server, n: k, tokens, marker_from } if *k == n => {
                started = true;
                let text = match marker_from {
                    None => format!(
                        "{server} starts snapshot {n}: records its state ({tokens} tokens) and sends a marker on every outbound link"
                    ),
                    Some(src) => format!(
                        "{server} receives its first marker of snapshot {n}, from {src}: records its state ({tokens} tokens), sends markers, and records its other inbound links"
                    ),
                };
                step(
                    *at,
                    server,
                    "snapshot",
                    text,
                    "Chandy-Lamport: record the state at the first marker (or when initiating); the first marker's link is recorded empty",
                );
            }
            LogEntry::Deliver { at, src, dst, msg: Msg::Token(k, _), .. } if started => {
                let key = (src.clone(), dst.clone());
                if let Some(c) = recording.get_mut(&key) {
                    *c += 1;
                    step(
                        *at,
                        dst,
                        "recorded",
                        format!(
                            "{dst} receives token({k}) from {src} while recording that link: it belongs to snapshot {n}"
                        ),
                        "a message that arrives after the receiver's snapshot and before the link's marker is in flight at the cut",
                    );
                } else {
                    step(
                        *at,
                        dst,
                        "deliver",
                        format!("{dst} receives token({k}) from {src}"),
                        "delivered after the sender's snapshot or before the receiver's: not part of the snapshot",
                    );
                }
            }
            LogEntry::Deliver { at, src, dst, msg: Msg::Marker(k), .. } if *k == n => {
                let key = (src.clone(), dst.clone());
                if let Some(c) = recording.remove(&key) {
                    step(
                        *at,
                        dst,
                        "marker",
                        format!("{dst} receives marker {n} from {src}: that link is done ({c} messages recorded)"),
                        "Chandy-Lamport: a link's marker ends its recording",
                    );
                }
            }
            LogEntry::Send { at, src, dst, msg: Msg::Token(k, _), due, .. } if started => {
                step(
                    *at,
                    src,
                    "send",
                    format!("{src} sends {k} tokens to {dst} (due at tick {due})"),
                    "every message is due now + 1 + Intn(5) ticks",
                );
            }
            _ => {}
        }
        // A server that records opens its other inbound links.
        if let LogEntry::Record { n: k, server, marker_from, .. } = e
            && *k == n
        {
            recorded += 1;
            for (a, b) in top.links.iter().filter(|(_, b)| b == server) {
                if Some(a) != marker_from.as_ref() {
                    recording.insert((a.clone(), b.clone()), 0);
                }
            }
        }
        done = recorded == top.servers.len() && recording.is_empty();
    }
    steps
}
