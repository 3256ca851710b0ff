//! A log-linear histogram of non-negative integers (nanoseconds) with < 1 % relative error:
//! values below 128 have their own bucket; above, each power of two is split into 64 buckets.

/// Fixed-size histogram.
///
/// ```
/// use ckptsim::metrics::Histogram;
/// let mut h = Histogram::new();
/// for v in 1..=1000u64 { h.record(v * 1000); }
/// let p50 = h.percentile(50.0);
/// assert!((495_000..=505_000).contains(&p50), "{p50}");
/// assert_eq!(h.max(), 1_000_000);
/// ```
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

const LINEAR: u64 = 128;
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Histogram { counts: vec![0; Self::index(u64::MAX) + 1], total: 0, max: 0 }
    }

    fn index(v: u64) -> usize {
        if v < LINEAR {
            return v as usize;
        }
        let e = 63 - v.leading_zeros(); // ≥ 7
        let shift = e - SUB_BITS;
        let mantissa = (v >> shift) - SUB; // 0..SUB
        (LINEAR + (e as u64 - 7) * SUB + mantissa) as usize
    }

    /// Lower bound and width of bucket `i`.
    fn bucket(i: usize) -> (u64, u64) {
        let i = i as u64;
        if i < LINEAR {
            return (i, 1);
        }
        let e = (i - LINEAR) / SUB + 7;
        let mantissa = (i - LINEAR) % SUB;
        let shift = e - SUB_BITS as u64;
        ((SUB + mantissa) << shift, 1 << shift)
    }

    /// Adds one value.
    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[Self::index(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Largest value recorded (exact), 0 when empty.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The value at percentile `p` (0–100): the middle of the bucket holding it, never above the
    /// maximum. 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((p / 100.0) * self.total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, w) = Self::bucket(i);
                return (lo + w / 2).min(self.max);
            }
        }
        self.max
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.total = 0;
        self.max = 0;
    }
}
