//! Space-time diagrams: the elements lie where the semantics say. Every snapshot dot is at its
//! task's snapshot time, the cut crosses exactly the messages recorded as channel state (and
//! the orphans of at-least-once), blocked inputs appear only for aligned, recorded ones only for
//! recording protocols.

mod common;

use ckptsim::engine::{self, RunOptions, RunResult};
use ckptsim::scenario::{ProtocolName, Scenario};
use ckptsim::teach::diagram::{self, Crossing, Diagram};
use ckptsim::trace::TraceEvent;

fn draw(name: &str, p: ProtocolName, cp: u64) -> (Scenario, RunResult, Diagram) {
    let mut s = common::load(name);
    s.set_protocol(p).unwrap();
    let opts = RunOptions { keep_protocol_trace: true, capture_messages: Some((0, u64::MAX)), ..Default::default() };
    let r = engine::run(&s, opts).unwrap();
    let d = diagram::build(&s, &r, cp, None).unwrap();
    (s, r, d)
}

fn crossing(d: &Diagram, c: Crossing) -> u64 {
    d.messages.iter().filter(|m| m.crossing == c).count() as u64
}

#[test]
fn the_cut_crosses_exactly_the_channel_state_messages() {
    for p in [ProtocolName::ALIGNED, ProtocolName::UNALIGNED, ProtocolName::CHANDY_LAMPORT] {
        for cp in [1, 3] {
            let (_, r, d) = draw("diamond", p, cp);
            let recorded = r.checkpoints.iter().find(|c| c.id == cp).unwrap().channel_state_records;
            assert_eq!(crossing(&d, Crossing::ChannelState), recorded, "{} checkpoint {cp}", p.name());
            assert_eq!(crossing(&d, Crossing::Orphan), 0, "{} checkpoint {cp}", p.name());
        }
    }
}

#[test]
fn at_least_once_shows_its_orphans_backwards_across_the_cut() {
    let (_, r, _) = draw("diamond", ProtocolName::AT_LEAST_ONCE, 1);
    let bad = r.checkpoints.iter().find(|c| c.cut_violations > 0).expect("at_least_once violates some cut on diamond");
    let (_, _, d) = draw("diamond", ProtocolName::AT_LEAST_ONCE, bad.id);
    assert!(
        crossing(&d, Crossing::Orphan) > 0,
        "checkpoint {} has cut violations but no orphan in the diagram",
        bad.id
    );
}

#[test]
fn snapshot_dots_barriers_and_shading_follow_the_trace() {
    for p in [ProtocolName::ALIGNED, ProtocolName::CHANDY_LAMPORT] {
        let (s, r, d) = draw("diamond", p, 2);
        let snaps: Vec<_> = r
            .protocol_trace
            .iter()
            .filter_map(|&(t, e)| match e {
                TraceEvent::Snapshot { task, cp: 2 } => Some((task, t)),
                _ => None,
            })
            .collect();
        assert_eq!(d.snapshots.len(), snaps.len());
        for (task, t) in snaps {
            assert_eq!(d.snapshots[&task], t, "{}: dot of {task:?}", p.name());
        }
        let arrivals =
            r.protocol_trace.iter().filter(|(_, e)| matches!(e, TraceEvent::BarrierArrive { cp: 2, .. })).count();
        assert_eq!(d.barriers.len(), arrivals);
        assert!(d.barriers.iter().all(|b| b.sent <= b.arrived));
        match p {
            ProtocolName::ALIGNED => {
                assert!(!d.blocked.is_empty() && d.recording.is_empty());
                // A blocked input stays blocked until its task's snapshot.
                let g = ckptsim::graph::Graph::build(&s);
                for &(ch, _, until) in &d.blocked {
                    assert_eq!(
                        until,
                        d.snapshots[&g.channel(ch).to],
                        "{} unblocked at its snapshot",
                        g.channel(ch).name
                    );
                }
            }
            _ => assert!(d.blocked.is_empty() && !d.recording.is_empty()),
        }
        let svg = d.to_svg(300);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        for t in ["src[0]", "merge[1]", "sink[0]"] {
            assert!(svg.contains(&format!(">{t}</text>")), "lane {t} missing");
        }
        // One dot per snapshot, and one in the legend's swatch for them.
        assert_eq!(svg.matches("<circle").count(), d.snapshots.len() + 1);
    }
}

#[test]
fn failures_are_marked_and_the_cli_writes_the_svg() {
    let (_, _, d) = draw("crash-during-alignment", ProtocolName::ALIGNED, 3);
    assert_eq!(d.crashes.len(), 1, "agg[2] crashes while aligning checkpoint 3");
    // After a restore, messages the crash discarded cross no cut: aligned still records nothing.
    let (_, r, d) = draw("crash-during-alignment", ProtocolName::ALIGNED, 5);
    assert!(r.summary.recoveries > 0);
    assert_eq!(crossing(&d, Crossing::ChannelState), 0);
    let out = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("diagram.svg");
    let bin = env!("CARGO_BIN_EXE_ckptsim");
    let file = common::scenario_path("diamond");
    let run = std::process::Command::new(bin)
        .args(["diagram", &file.to_string_lossy(), "--protocol", "unaligned", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("121 messages crossing the cut"));
    assert!(std::fs::read_to_string(&out).unwrap().contains("priority barriers"));
    let bad = std::process::Command::new(bin)
        .args(["diagram", &file.to_string_lossy(), "--from", "90", "--to", "10"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("must be before"));
}

#[test]
fn the_shiviz_export_has_consistent_vector_clocks() {
    use ckptsim::teach::shiviz;
    let (_, _, d) = draw("diamond", ProtocolName::CHANDY_LAMPORT, 1);
    let events = shiviz::events(&d);
    assert!(events.len() > 50);
    // The log opens with one event per task in lane order, for ShiViz's host order by appearance.
    let rows = d.rows();
    let first: Vec<usize> = events[..d.lanes.len()].iter().map(|e| rows[e.host.0 as usize]).collect();
    assert_eq!(first, (0..d.lanes.len()).collect::<Vec<_>>());
    let mut own: std::collections::BTreeMap<_, u64> = Default::default();
    for (i, e) in events.iter().enumerate() {
        // Each host's own component counts its events.
        let n = own.entry(e.host).or_insert(0);
        *n += 1;
        assert_eq!(e.clock[&e.host], *n, "event {i}");
        // A receive knows everything its send knew, and comes after it.
        if let Some(j) = e.received_from {
            assert!(j < i && events[j].t <= e.t);
            for (k, v) in &events[j].clock {
                assert!(e.clock.get(k).copied().unwrap_or(0) >= *v, "event {i} does not dominate its send {j}");
            }
        }
    }
    let receives = events.iter().filter(|e| e.received_from.is_some()).count();
    assert_eq!(receives, events.iter().filter(|e| e.text.starts_with("take") || e.text.contains("arrives")).count());
    // The log: a description line, then `host {json}`, for every event.
    let log = shiviz::log(&d, &events);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2 * events.len());
    for pair in lines.chunks(2) {
        let (host, clock) = pair[1].split_once(' ').unwrap();
        assert!(!host.is_empty() && !host.contains(' '));
        let v: serde_json::Value = serde_json::from_str(clock).unwrap();
        assert!(v[host].as_u64().unwrap() >= 1);
    }
    assert_eq!(shiviz::REGEX, r"(?<event>.*)\n(?<host>\S*) (?<clock>{.*})");
}

/// A barrier's wait in its receiver's queue is drawn from its arrival to the moment the task took
/// it (both in the trace), over the records queued before it; and under Chandy-Lamport every
/// recorded message is taken inside its channel's recording span, which ends when the marker is
/// taken.
#[test]
fn queue_waits_follow_the_trace_and_recorded_messages_end_inside_their_recording() {
    let (_, r, d) = draw("backpressure", ProtocolName::ALIGNED, 2);
    assert!(!d.waits.is_empty(), "aligned barriers wait behind the backpressured data");
    assert!(d.waits.iter().any(|w| w.records_ahead > 0));
    for w in &d.waits {
        assert!(r.protocol_trace.iter().any(|&(t, e)| t == w.arrived
            && matches!(e, TraceEvent::BarrierArrive { ch, cp: 2, .. } if ch == w.ch)));
        assert!(
            r.protocol_trace.iter().any(|&(t, e)| t == w.taken && e == TraceEvent::BarrierTaken { ch: w.ch, cp: 2 })
        );
        assert!(w.taken > w.arrived);
    }
    // Chandy-Lamport on FIFO channels, and Lai-Yang on non-FIFO ones, where a white record may
    // come after the control message: its span runs until the last one.
    for (name, p) in [("diamond", ProtocolName::CHANDY_LAMPORT), ("non-fifo/diamond", ProtocolName::LAI_YANG)] {
        let (_, _, d) = draw(name, p, 1);
        let recorded: Vec<_> = d.messages.iter().filter(|m| m.crossing == Crossing::ChannelState).collect();
        assert!(!recorded.is_empty());
        for m in recorded {
            let taken = m.consumed.expect("a recorded message is taken after the snapshot");
            assert!(
                d.recording.iter().any(|&(ch, from, to)| ch == m.ch && taken > from && taken <= to),
                "{name}: a message recorded on {:?} is taken at {taken} outside its recording span",
                m.ch
            );
        }
    }
}

/// `diagram --protocols` stacks the same checkpoint under several protocols on one time axis.
#[test]
fn side_by_side_panels_share_the_time_axis() {
    let mut ds: Vec<Diagram> = [ProtocolName::ALIGNED, ProtocolName::UNALIGNED, ProtocolName::CHANDY_LAMPORT]
        .into_iter()
        .map(|p| draw("diamond", p, 1).2)
        .collect();
    let (from, to) = (ds.iter().map(|d| d.from).min().unwrap(), ds.iter().map(|d| d.to).max().unwrap());
    diagram::share_axis(&mut ds);
    assert!(ds.iter().all(|d| (d.from, d.to) == (from, to)));
    let svg = diagram::stack_svg(&ds, 100);
    assert_eq!(svg.matches("<g transform=").count(), 3);
    assert_eq!(svg.matches("<svg ").count(), 1, "one document");
    for p in ["(aligned)", "(unaligned)", "(chandy_lamport)"] {
        assert!(svg.contains(p), "{p}");
    }
    let height: f64 = ds.iter().map(Diagram::height).sum();
    assert!(svg.starts_with(&format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1200\" height=\"{height}\"")));
}

#[test]
fn a_failure_diagram_names_the_restored_checkpoint_the_replay_and_the_commits() {
    let mut s = common::load("tutorial/4-failure-exactly-once");
    s.set_protocol(ProtocolName::ALIGNED).unwrap();
    let opts = RunOptions { keep_protocol_trace: true, capture_messages: Some((0, u64::MAX)), ..Default::default() };
    let r = engine::run(&s, opts).unwrap();
    let d = diagram::build(&s, &r, 3, Some((40 * ckptsim::sim::MS, 92 * ckptsim::sim::MS))).unwrap();
    assert_eq!(d.restarts.len(), 1);
    assert_eq!(d.restarts[0].1, Some(2), "the restart restored checkpoint 2");
    let (from, to, lanes, n) = &d.replays[0];
    assert!(from < to && lanes.len() == 2 && *n == Some(596), "{:?}", d.replays);
    assert!(d.commits.iter().any(|&(_, _, cp)| cp == 2), "{:?}", d.commits);
    let svg = d.to_svg(300);
    assert!(svg.contains("restart from checkpoint 2") && svg.contains("replay: 596 records read again"));
    assert!(svg.contains("sink commit (output becomes visible)") && svg.contains("fill=\"#2ca02c\""));
}
