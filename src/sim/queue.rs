//! The event queue: earliest time first; ties in time break by insertion order — never by
//! pointer or hash order.

use super::SimTime;
use std::collections::VecDeque;

/// A bucket emptied by a refill keeps its allocation up to this many entries; a larger one is
/// freed, so that a burst of pending events does not hold its memory in every bucket it passed.
const KEEP_CAPACITY: usize = 4096;

/// A deterministic priority queue of future events.
///
/// A *radix heap* (Ahuja, Mehlhorn, Orlin and Tarjan 1990) over the time key: the simulator only
/// schedules at or after the time of the last event it took, so an event is filed in the bucket
/// named by the highest bit in which its time differs from that time, and taking the earliest
/// event moves only the entries of the first non-empty bucket, into lower buckets. Every bucket
/// keeps its entries in insertion order, so equal times come out in the order they went in, as
/// a heap ordered by `(time, seq)` would give them; it does so with sequential memory access and
/// no comparisons of whole entries, which matters once thousands of events are pending.
///
/// ```
/// use ckptsim::sim::EventQueue;
/// let mut q = EventQueue::new();
/// q.push(20, "late");
/// q.push(10, "first");
/// q.push(10, "second"); // same time: insertion order decides
/// assert_eq!(q.pop(), Some((10, "first")));
/// assert_eq!(q.pop(), Some((10, "second")));
/// assert_eq!(q.pop(), Some((20, "late")));
/// assert_eq!(q.pop(), None);
/// ```
pub struct EventQueue<E> {
    /// Entries at time `last`, in insertion order.
    now: VecDeque<(SimTime, E)>,
    /// `buckets[i]`: entries whose time first differs from `last` in bit `i` (from the bottom).
    buckets: Vec<Vec<(SimTime, E)>>,
    /// Bit `i` set when `buckets[i]` is not empty.
    occupied: u64,
    /// The time the buckets are relative to: the last entry taken, or the earliest pending
    /// one once a peek has moved it to `now`. No entry is earlier.
    last: SimTime,
    /// The time of the last entry taken.
    taken: SimTime,
    len: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            now: VecDeque::new(),
            buckets: (0..64).map(|_| Vec::new()).collect(),
            occupied: 0,
            last: 0,
            taken: 0,
            len: 0,
        }
    }

    /// Schedules `event` at `time`.
    ///
    /// # Panics
    /// When `time` is earlier than the last event taken: the simulator never schedules in the
    /// past.
    pub fn push(&mut self, time: SimTime, event: E) {
        assert!(time >= self.taken, "event scheduled at {time}, before the current time {}", self.taken);
        if time < self.last {
            // Earlier than a peeked event (between two events, as debloating schedules): file
            // everything again relative to `time`. Equal times share a bucket, so going bucket
            // by bucket keeps their insertion order.
            self.rebase(time);
        }
        self.len += 1;
        self.file(time, event);
    }

    fn rebase(&mut self, to: SimTime) {
        let now = std::mem::take(&mut self.now);
        let buckets: Vec<Vec<(SimTime, E)>> = self.buckets.iter_mut().map(std::mem::take).collect();
        self.occupied = 0;
        self.last = to;
        for (time, event) in now.into_iter().chain(buckets.into_iter().flatten()) {
            self.file(time, event);
        }
    }

    fn file(&mut self, time: SimTime, event: E) {
        if time == self.last {
            self.now.push_back((time, event));
        } else {
            let i = 63 - (time ^ self.last).leading_zeros();
            self.buckets[i as usize].push((time, event));
            self.occupied |= 1 << i;
        }
    }

    /// Moves the first non-empty bucket's entries down, relative to their earliest time; the
    /// entries at that time land in `now`, in insertion order.
    fn refill(&mut self) {
        if self.occupied == 0 {
            return;
        }
        let i = self.occupied.trailing_zeros() as usize;
        self.occupied &= !(1 << i);
        if self.buckets[i].len() == 1 {
            // The common case with few events pending: the one entry is the earliest.
            let (time, event) = self.buckets[i].pop().expect("one entry");
            self.last = time;
            self.now.push_back((time, event));
            return;
        }
        let mut bucket = std::mem::take(&mut self.buckets[i]);
        self.last = bucket.iter().map(|e| e.0).min().expect("an occupied bucket has entries");
        for (time, event) in bucket.drain(..) {
            self.file(time, event);
        }
        if bucket.capacity() <= KEEP_CAPACITY {
            self.buckets[i] = bucket; // keep a small allocation for the next entries
        }
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if self.now.is_empty() {
            self.refill();
        }
        let first = self.now.pop_front()?;
        self.len -= 1;
        self.taken = first.0;
        Some(first)
    }

    /// Time of the earliest pending event.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        if self.now.is_empty() {
            self.refill();
        }
        self.now.front().map(|e| e.0)
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops every pending event for which `keep` returns false.
    pub fn retain(&mut self, mut keep: impl FnMut(&E) -> bool) {
        self.now.retain(|e| keep(&e.1));
        for (i, b) in self.buckets.iter_mut().enumerate() {
            b.retain(|e| keep(&e.1));
            if b.is_empty() {
                self.occupied &= !(1 << i);
            }
        }
        self.len = self.now.len() + self.buckets.iter().map(Vec::len).sum::<usize>();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// The radix heap takes events in exactly the order of a map keyed by `(time, seq)`,
        /// through pushes at or after the current time, pops and `retain`s in any interleaving.
        #[test]
        fn same_order_as_time_then_insertion(ops in proptest::collection::vec((0u8..10, 0u64..2000), 1..400)) {
            let mut q = EventQueue::new();
            let mut model: BTreeMap<(SimTime, u64), u64> = BTreeMap::new();
            let (mut now, mut seq) = (0, 0u64);
            for (op, x) in ops {
                match op {
                    0..=4 => {
                        // Mostly near times, sometimes far ones, often the current time itself.
                        let t = now + if x % 3 == 0 { 0 } else { x * x * (x % 7) };
                        q.push(t, seq);
                        model.insert((t, seq), seq);
                        seq += 1;
                    }
                    5..=8 => {
                        let want = model.pop_first().map(|((t, _), e)| (t, e));
                        prop_assert_eq!(q.pop(), want);
                        if let Some((t, _)) = want {
                            now = t;
                        }
                    }
                    _ => {
                        q.retain(|e| e % 5 != x % 5);
                        model.retain(|_, e| *e % 5 != x % 5);
                    }
                }
                prop_assert_eq!(q.len(), model.len());
                prop_assert_eq!(q.peek_time(), model.keys().next().map(|k| k.0));
            }
        }
    }

    #[test]
    #[should_panic(expected = "before the current time")]
    fn scheduling_in_the_past_is_a_bug() {
        let mut q = EventQueue::new();
        q.push(10, ());
        q.pop();
        q.push(9, ());
    }
}
