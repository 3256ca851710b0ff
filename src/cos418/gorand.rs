//! Go's `math/rand` source as it was before Go 1.20 — written from its public description, not
//! from Go's code: an additive lagged-Fibonacci generator of 607 64-bit words with tap 273,
//! seeded through the Park–Miller generator and XORed with a table of 607 "cooked" constants.
//! The constants are Go's (`rngCooked` in `math/rand/rng.go`, Copyright The Go Authors,
//! BSD-3-Clause); ckptsim does not ship them but reads them from a file (see docs/cos418.md).

use std::path::Path;

const LEN: usize = 607;
const TAP: usize = 273;
const INT32_MAX: i64 = (1 << 31) - 1;

/// The 607 cooked constants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookedTable(Vec<i64>);

impl CookedTable {
    /// The table embedded in the crate (`go_rng_cooked.txt`, Go's BSD-3 license in
    /// `LICENSE-GO` beside it), so the COS 418 mode works from any directory.
    pub fn embedded() -> Self {
        Self::parse(include_str!("go_rng_cooked.txt"), Path::new("go_rng_cooked.txt"))
            .expect("the embedded table is the 607 values of Go's rng.go")
    }

    /// Reads the table: one signed 64-bit integer per line; `#` lines are comments.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the Go rand table {}: {e}", path.display()))?;
        Self::parse(&text, path)
    }

    fn parse(text: &str, path: &Path) -> Result<Self, String> {
        let mut v = Vec::with_capacity(LEN);
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let x = line
                .parse::<i64>()
                .map_err(|_| format!("{}:{}: expected an integer, found {line:?}", path.display(), i + 1))?;
            v.push(x);
        }
        if v.len() != LEN {
            return Err(format!("{}: expected {LEN} values, found {}", path.display(), v.len()));
        }
        Ok(CookedTable(v))
    }
}

/// One Park–Miller step: `x · 48271 mod (2^31 − 1)`, by Schrage's method.
fn park_miller(x: i32) -> i32 {
    const A: i32 = 48271;
    const Q: i32 = 44488;
    const R: i32 = 3399;
    let (hi, lo) = (x / Q, x % Q);
    let mut x = A.wrapping_mul(lo).wrapping_sub(R.wrapping_mul(hi));
    if x < 0 {
        x = x.wrapping_add(INT32_MAX as i32);
    }
    x
}

/// The generator.
#[derive(Clone, Debug)]
pub struct GoRand {
    vec: Vec<i64>,
    tap: usize,
    feed: usize,
}

impl GoRand {
    /// Seeded as Go's `rand.Seed(seed)`.
    pub fn new(seed: i64, cooked: &CookedTable) -> Self {
        let mut s = seed % INT32_MAX;
        if s < 0 {
            s += INT32_MAX;
        }
        if s == 0 {
            s = 89_482_311;
        }
        let mut x = s as i32;
        for _ in 0..20 {
            x = park_miller(x);
        }
        let mut vec = vec![0i64; LEN];
        for (i, word) in vec.iter_mut().enumerate() {
            x = park_miller(x);
            let mut u = (x as i64) << 40;
            x = park_miller(x);
            u ^= (x as i64) << 20;
            x = park_miller(x);
            u ^= x as i64;
            *word = u ^ cooked.0[i];
        }
        GoRand { vec, tap: 0, feed: LEN - TAP }
    }

    /// The next 64 raw bits.
    pub fn uint64(&mut self) -> u64 {
        self.tap = if self.tap == 0 { LEN - 1 } else { self.tap - 1 };
        self.feed = if self.feed == 0 { LEN - 1 } else { self.feed - 1 };
        let x = self.vec[self.feed].wrapping_add(self.vec[self.tap]);
        self.vec[self.feed] = x;
        x as u64
    }

    /// A non-negative 63-bit integer.
    pub fn int63(&mut self) -> i64 {
        (self.uint64() & ((1u64 << 63) - 1)) as i64
    }

    /// A non-negative 31-bit integer.
    pub fn int31(&mut self) -> i32 {
        (self.int63() >> 32) as i32
    }

    /// Uniform in `0..n` (`n` > 0), without modulo bias.
    pub fn int31n(&mut self, n: i32) -> i32 {
        assert!(n > 0, "int31n needs n > 0");
        if n & (n - 1) == 0 {
            return self.int31() & (n - 1);
        }
        let max = (INT32_MAX - (1i64 << 31) % n as i64) as i32;
        let mut v = self.int31();
        while v > max {
            v = self.int31();
        }
        v % n
    }

    /// Go's `Intn` for the small `n` used here.
    pub fn intn(&mut self, n: i32) -> i32 {
        self.int31n(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Option<CookedTable> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/cos418/go_math_rand_rng_cooked.txt");
        if !p.exists() {
            eprintln!("skipped: {} is missing (the COS 418 data lives in ../shared)", p.display());
            return None;
        }
        Some(CookedTable::load(&p).unwrap())
    }

    /// Values printed by Go 1.19.8 (`go run`): `rand.Seed(s)` then `rand.Int63()` / `rand.Intn(5)`.
    #[test]
    fn matches_go_1_19_math_rand() {
        let Some(t) = table() else { return };
        let mut r = GoRand::new(8053172852482175524, &t);
        let first: Vec<i64> = (0..5).map(|_| r.int63()).collect();
        assert_eq!(
            first,
            [4667160737024429086, 477333764496031843, 832335534347437716, 2888899530267359734, 5019980046651236547]
        );
        let mut r = GoRand::new(8053172852482175524, &t);
        let draws: Vec<i32> = (0..20).map(|_| r.intn(5)).collect();
        assert_eq!(draws, [3, 2, 3, 2, 0, 1, 2, 1, 0, 1, 4, 4, 2, 2, 0, 3, 4, 2, 0, 1]);
        // Seed 0 maps to 89482311; negative seeds wrap into 0..2^31-1.
        assert_eq!(GoRand::new(0, &t).int63(), 8717895732742165505);
        assert_eq!(GoRand::new(-7, &t).int63(), 747107023976529931);
    }
}
