//! HyperLogLog registers (PFADD/PFCOUNT/PFMERGE): 16384 six-bit registers, each
//! stored in a `u8`, joined by register-wise maximum — trivially a CRDT.
//!
//! Small sketches are kept sparse (sorted `(index, value)` pairs of the non-zero
//! registers), like Redis's sparse encoding, and become dense past
//! [`SPARSE_MAX`] entries. A PFADD's delta is the one register it raised.
//!
//! Invariants: sparse pairs are sorted by index, unique, with values in 1..=51;
//! equality compares register values, so the encodings are interchangeable
//! and `==` is canonical. Element hashing is the caller's: every region must use
//! the same 64-bit hash (Redis uses MurmurHash64A).

use serde::{Deserialize, Serialize};

use super::Crdt;

/// Number of registers (2^14, Redis's precision).
pub const HLL_REGISTERS: usize = 1 << 14;
const INDEX_BITS: u32 = 14;
/// Sparse entries beyond which the sketch turns dense (4 KiB of pairs).
pub const SPARSE_MAX: usize = 1024;

/// A HyperLogLog sketch; see the module doc.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Hll {
    /// Non-zero registers as sorted `(index, value)` pairs.
    Sparse(Vec<(u16, u8)>),
    /// All registers.
    Dense(Box<[u8]>),
}

impl Default for Hll {
    fn default() -> Self {
        Hll::Sparse(Vec::new())
    }
}

impl PartialEq for Hll {
    fn eq(&self, other: &Self) -> bool {
        (0..HLL_REGISTERS).all(|i| self.register(i) == other.register(i))
    }
}

impl Eq for Hll {}

impl Hll {
    /// The empty sketch.
    pub fn new() -> Hll {
        Hll::default()
    }

    /// Register `i`.
    pub fn register(&self, i: usize) -> u8 {
        match self {
            Hll::Sparse(v) => match v.binary_search_by_key(&(i as u16), |e| e.0) {
                Ok(j) => v[j].1,
                Err(_) => 0,
            },
            Hll::Dense(d) => d[i],
        }
    }

    /// The register and value an element hash maps to: the low 14 bits pick
    /// the register, the value is 1 + the number of trailing zeros of the
    /// remaining 50 bits (at most 51, fits six bits).
    pub fn position(hash: u64) -> (usize, u8) {
        let index = (hash & (HLL_REGISTERS as u64 - 1)) as usize;
        let rest = (hash >> INDEX_BITS) | (1 << (64 - INDEX_BITS));
        (index, rest.trailing_zeros() as u8 + 1)
    }

    /// PFADD of an element with hash `hash`: the delta if a register rose.
    pub fn add_hash(&mut self, hash: u64) -> Option<Hll> {
        let (i, v) = Self::position(hash);
        if self.register(i) >= v {
            return None;
        }
        let delta = Hll::Sparse(vec![(i as u16, v)]);
        self.merge(delta.clone());
        Some(delta)
    }

    /// Raises register `i` to at least `v`.
    fn raise(&mut self, i: usize, v: u8) {
        match self {
            Hll::Dense(d) => d[i] = d[i].max(v),
            Hll::Sparse(s) => {
                match s.binary_search_by_key(&(i as u16), |e| e.0) {
                    Ok(j) => s[j].1 = s[j].1.max(v),
                    Err(j) => s.insert(j, (i as u16, v)),
                }
                if s.len() > SPARSE_MAX {
                    self.densify();
                }
            }
        }
    }

    fn densify(&mut self) {
        if let Hll::Sparse(s) = self {
            let mut d = vec![0u8; HLL_REGISTERS].into_boxed_slice();
            for &(i, v) in s.iter() {
                d[i as usize] = v;
            }
            *self = Hll::Dense(d);
        }
    }

    /// PFCOUNT: the classic HyperLogLog estimate with linear counting for small
    /// cardinalities (standard error ≈ 0.81%).
    pub fn count(&self) -> u64 {
        let m = HLL_REGISTERS as f64;
        let mut sum = 0.0;
        let mut zeros = 0usize;
        for i in 0..HLL_REGISTERS {
            let r = self.register(i);
            if r == 0 {
                zeros += 1;
            }
            sum += 2f64.powi(-i32::from(r));
        }
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        let est = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        est.round() as u64
    }
}

impl Crdt for Hll {
    fn merge(&mut self, other: Self) {
        match other {
            Hll::Sparse(s) => {
                for (i, v) in s {
                    self.raise(i as usize, v);
                }
            }
            Hll::Dense(d) => {
                self.densify();
                if let Hll::Dense(mine) = self {
                    for (a, b) in mine.iter_mut().zip(d.iter()) {
                        *a = (*a).max(*b);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crdt::testkit::{self, Env};
    use proptest::prelude::*;

    fn mix(x: u64) -> u64 {
        // splitmix64: a fixed, well-spread test hash
        let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[test]
    fn hll_merge_is_register_max_and_counts_the_union() {
        let mut a = Hll::new();
        let mut b = Hll::new();
        for i in 0..20_000u64 {
            a.add_hash(mix(i));
        }
        for i in 10_000..30_000u64 {
            b.add_hash(mix(i));
        }
        assert!(matches!(a, Hll::Dense(_)));
        let mut u = a.clone();
        u.merge(b.clone());
        for i in 0..HLL_REGISTERS {
            assert_eq!(u.register(i), a.register(i).max(b.register(i)));
        }
        let n = u.count() as f64;
        assert!((n - 30_000.0).abs() / 30_000.0 < 0.03, "estimate {n}");
    }

    #[test]
    fn hll_small_counts_are_exactish_and_sparse() {
        let mut h = Hll::new();
        for i in 0..100u64 {
            h.add_hash(mix(i));
        }
        assert!(matches!(h, Hll::Sparse(_)));
        assert!((h.count() as i64 - 100).abs() <= 2);
        assert_eq!(h.add_hash(mix(5)), None); // already counted
    }

    #[test]
    fn hll_encodings_compare_equal() {
        let mut s = Hll::new();
        s.add_hash(mix(1));
        let mut d = s.clone();
        d.densify();
        assert_eq!(s, d);
    }

    fn apply(h: &mut Hll, _env: &Env, x: &u64) -> Option<Hll> {
        Some(h.add_hash(mix(*x)).unwrap_or_default())
    }

    proptest! {
        #[test]
        fn hll_converges(steps in testkit::steps(0u64..5000), seed in any::<u64>()) {
            testkit::check_convergence(&steps, seed, apply)?;
        }
    }
}
