//! [`Lane`]: a FIFO of one channel — the sender's backlog, what is on the wire, the receiver's
//! queue — with its first element kept inline.

use std::collections::VecDeque;

/// A FIFO queue that keeps its first element inline, in the channel itself, and the rest in a
/// ring buffer of its own. On a wide shuffle a channel rarely holds more than one buffer at a
/// time, and each channel's ring is a separate allocation: the element taken next is then found
/// with the channel's other fields instead of at a further address that is seldom in the cache.
#[derive(Debug)]
pub(super) struct Lane<T> {
    /// The first element (`None` only when the queue is empty).
    head: Option<T>,
    rest: VecDeque<T>,
}

impl<T> Default for Lane<T> {
    fn default() -> Self {
        Lane { head: None, rest: VecDeque::new() }
    }
}

impl<T> Lane<T> {
    pub(super) fn push_back(&mut self, x: T) {
        if self.head.is_none() {
            self.head = Some(x);
        } else {
            self.rest.push_back(x);
        }
    }

    pub(super) fn pop_front(&mut self) -> Option<T> {
        let first = self.head.take()?;
        self.head = self.rest.pop_front();
        Some(first)
    }

    pub(super) fn front(&self) -> Option<&T> {
        self.head.as_ref()
    }

    pub(super) fn back(&self) -> Option<&T> {
        self.rest.back().or(self.head.as_ref())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    pub(super) fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &T> {
        self.head.iter().chain(self.rest.iter())
    }

    pub(super) fn get(&self, i: usize) -> Option<&T> {
        if i == 0 { self.head.as_ref() } else { self.rest.get(i - 1) }
    }

    /// Removes and returns element `i` (in FIFO order).
    pub(super) fn remove(&mut self, i: usize) -> Option<T> {
        if i == 0 { self.pop_front() } else { self.rest.remove(i - 1) }
    }
}

impl<T> std::ops::Index<usize> for Lane<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        self.get(i).expect("index within the lane")
    }
}

#[cfg(test)]
mod tests {
    use super::Lane;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    proptest! {
        /// A lane behaves as a `VecDeque` through any sequence of its operations.
        #[test]
        fn same_as_a_vecdeque(ops in proptest::collection::vec((0u8..4, 0usize..6), 0..200)) {
            let (mut lane, mut model) = (Lane::default(), VecDeque::new());
            for (n, (op, i)) in ops.into_iter().enumerate() {
                match op {
                    0 | 1 => {
                        lane.push_back(n);
                        model.push_back(n);
                    }
                    2 => prop_assert_eq!(lane.pop_front(), model.pop_front()),
                    _ => prop_assert_eq!(lane.remove(i), model.remove(i)),
                }
                prop_assert_eq!(lane.len(), model.len());
                prop_assert_eq!(lane.is_empty(), model.is_empty());
                prop_assert_eq!(lane.front(), model.front());
                prop_assert_eq!(lane.back(), model.back());
                prop_assert_eq!(lane.iter().collect::<Vec<_>>(), model.iter().collect::<Vec<_>>());
                for j in 0..model.len() {
                    prop_assert_eq!(&lane[j], &model[j]);
                }
            }
        }
    }
}
