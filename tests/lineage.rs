//! Without failures every source record reaches the sink exactly once (or exactly as many times
//! as broadcast fan-out dictates), checked by lineage.

mod common;

use ckptsim::scenario::{OperatorKind, OperatorSpec, Partitioner, Scenario};

/// Checks that every offset of every source partition reached the sinks exactly `times` times.
fn check_each_offset_arrives(s: &Scenario, times: u32) -> Result<(), String> {
    let r = common::run_collect(s);
    let out = r.output.expect("collected");
    let sources: Vec<_> = s.topology.operators.iter().filter(|o| o.kind == OperatorKind::Source).collect();
    let per = sources[0].records_per_partition.unwrap();
    let mut partitions = 0;
    for (p, counts) in out.partitions() {
        partitions += 1;
        for offset in 0..per {
            let c = counts.get(offset as usize).copied().unwrap_or(0);
            if c != times {
                return Err(format!(
                    "lineage (partition {p}, offset {offset}) reached the sink {c} times, expected {times}"
                ));
            }
        }
        if counts.len() as u64 > per {
            return Err(format!("partition {p}: offsets beyond {per} arrived"));
        }
    }
    let expected: u32 = sources.iter().map(|o| o.parallelism).sum();
    if partitions != expected {
        return Err(format!("{partitions} partitions reached the sink, expected {expected}"));
    }
    if !r.summary.drained {
        return Err("the run did not drain".into());
    }
    Ok(())
}

#[test]
fn every_record_reaches_the_sink_exactly_once() {
    for name in ["pipeline", "backpressure", "diamond"] {
        check_each_offset_arrives(&common::load(name), 1).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn broadcast_delivers_each_record_to_every_downstream_task() {
    let mut s = common::load("pipeline");
    let sink = s.topology.operators.iter_mut().find(|o| o.kind == OperatorKind::Sink).unwrap();
    sink.parallelism = 3;
    s.topology.edges[2].partitioner = Partitioner::Broadcast;
    check_each_offset_arrives(&s, 3).unwrap();
}

#[test]
fn the_lineage_check_fails_when_records_are_lost() {
    // The checker must be able to fail: replace the map by a filter that drops odd values.
    let mut s = common::load("pipeline");
    s.topology.operators[1] = OperatorSpec::new("map", OperatorKind::Filter).parallelism(2).keep(2, vec![0]);
    s.validate().unwrap();
    let err = check_each_offset_arrives(&s, 1).expect_err("the lineage check accepted a run that dropped records");
    assert!(err.contains("reached the sink 0 times"), "{err}");
}
