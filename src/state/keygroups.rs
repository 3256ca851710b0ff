//! Key groups, as in Flink's `KeyGroupRangeAssignment`: a key belongs to one of `max_parallelism`
//! key groups, and a keyed operator at parallelism `p` gives each task a contiguous range of
//! them. Records are routed to the task that owns their key's group, state is snapshotted per key
//! group, and a restore at another parallelism hands each new task the groups of its new range —
//! which is why the max parallelism cannot change once a job has state.
//!
//! Flink hashes `key.hashCode()` with murmur; ckptsim's keys are integers and it uses its own
//! 64-bit mix ([`crate::sim::mix64`]).

use crate::sim::mix64;

/// Flink's default max parallelism for an operator of parallelism `p`
/// (`KeyGroupRangeAssignment.computeDefaultMaxParallelism`): `1.5 × p` rounded up to a power of
/// two, at least 128, at most 32768.
pub fn default_max_parallelism(p: u32) -> u32 {
    let want = (p as u64 + p as u64 / 2).next_power_of_two();
    want.clamp(128, 32_768) as u32
}

/// The key group of `key` among `max_parallelism`.
#[inline]
pub fn key_group(key: u64, max_parallelism: u32) -> u32 {
    (mix64(key) % max_parallelism as u64) as u32
}

/// The task (index within its operator) that owns `group` at parallelism `p`
/// (`computeOperatorIndexForKeyGroup`).
#[inline]
pub fn operator_index(group: u32, max_parallelism: u32, p: u32) -> u32 {
    (group as u64 * p as u64 / max_parallelism as u64) as u32
}

/// The task that owns `key`.
#[inline]
pub fn owner(key: u64, max_parallelism: u32, p: u32) -> u32 {
    operator_index(key_group(key, max_parallelism), max_parallelism, p)
}

/// The key groups of task `index` at parallelism `p`, `start..=end`
/// (`computeKeyGroupRangeForOperatorIndex`).
pub fn range(max_parallelism: u32, p: u32, index: u32) -> (u32, u32) {
    let (m, p, i) = (max_parallelism as u64, p as u64, index as u64);
    (((i * m).div_ceil(p)) as u32, (((i + 1) * m - 1) / p) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flinks_default_max_parallelism() {
        assert_eq!(default_max_parallelism(1), 128);
        assert_eq!(default_max_parallelism(100), 256);
        assert_eq!(default_max_parallelism(512), 1024);
        assert_eq!(default_max_parallelism(30_000), 32_768);
    }

    #[test]
    fn ranges_tile_the_key_groups_and_agree_with_the_owner() {
        for (m, p) in [(128, 1), (128, 3), (128, 128), (256, 7), (1024, 512)] {
            let mut next = 0;
            for i in 0..p {
                let (s, e) = range(m, p, i);
                assert_eq!(s, next, "max {m} p {p} task {i}");
                for g in s..=e {
                    assert_eq!(operator_index(g, m, p), i);
                }
                next = e + 1;
            }
            assert_eq!(next, m);
        }
    }
}
