//! Sorted-set values: members with scores, ordered by (score, member).
//!
//! Invariant: `by_member` and `by_score` hold exactly the same (member, score)
//! pairs; scores are never NaN and never `-0.0` (stored as `0.0`, as Redis's
//! compact encoding does, so `0` and `-0` sort as one score).
//!
//! Rank access: `BTreeSet` keeps no subtree sizes, so finding the member at
//! rank `r` (ZRANGE by index) or the rank of a member (ZRANK) walks `r`
//! elements from the nearer end — O(r), against Redis's O(log n) skiplist.
//! Accepted for now: ranges near either end (the common case: leaderboards'
//! top N, ZPOPMIN) stay cheap; an order-statistics tree can replace
//! `by_score` later without changing this API.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;

use super::blob::{Blob, blob, heap_bytes};
use super::dict::{Dict, DictItem};

/// A score with a total order (NaN is rejected before it gets here).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// One member and its score.
#[derive(Debug, Clone)]
pub struct ZMember {
    /// The member.
    pub member: Blob,
    /// Its score.
    pub score: f64,
}

impl DictItem for ZMember {
    fn key(&self) -> &[u8] {
        &self.member
    }
}

const MEMBER_OVERHEAD: usize =
    std::mem::size_of::<ZMember>() + 8 + std::mem::size_of::<(Score, Blob)>() + 16;

/// Estimated bytes of one member: both index entries and two copies of its
/// bytes, both counted at the `by_member` copy's size (always the same copy,
/// so adds and removes cancel exactly).
#[inline]
fn member_cost(member: &Blob) -> usize {
    MEMBER_OVERHEAD + 2 * heap_bytes(member)
}

/// `-0.0` as `0.0`: Redis compares scores with `<`, under which they are one.
#[inline]
fn normalize(score: f64) -> f64 {
    if score == 0.0 { 0.0 } else { score }
}

/// True if `(lo, hi)` is a range `BTreeSet::range` accepts (it panics on
/// `lo > hi`, and on `lo == hi` with both excluded).
fn bounds_valid<T: Ord>(lo: &Bound<T>, hi: &Bound<T>) -> bool {
    match (lo, hi) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Included(a), Bound::Included(b)) => a <= b,
        (Bound::Included(a), Bound::Excluded(b)) | (Bound::Excluded(a), Bound::Included(b)) => {
            a <= b
        }
        (Bound::Excluded(a), Bound::Excluded(b)) => a < b,
    }
}

/// Bounds of a range over `by_score`.
type ScoreRange = (Bound<(Score, Blob)>, Bound<(Score, Blob)>);

/// An empty range of `by_score` (`BTreeSet::range` panics on inverted ones).
fn empty_range() -> ScoreRange {
    let k = (Score(0.0), Blob::new());
    (Bound::Included(k.clone()), Bound::Excluded(k))
}

/// A score bound for range queries.
#[derive(Debug, Clone, Copy)]
pub enum ScoreBound {
    /// Score ≥ / ≤ value.
    Inclusive(f64),
    /// Score > / < value.
    Exclusive(f64),
}

impl ScoreBound {
    fn admits_low(self, s: f64) -> bool {
        match self {
            ScoreBound::Inclusive(v) => s >= v,
            ScoreBound::Exclusive(v) => s > v,
        }
    }
    fn admits_high(self, s: f64) -> bool {
        match self {
            ScoreBound::Inclusive(v) => s <= v,
            ScoreBound::Exclusive(v) => s < v,
        }
    }
}

/// A lexicographic bound (`[a`, `(a`, `-`, `+`).
#[derive(Debug, Clone)]
pub enum LexBound {
    /// `-`
    Min,
    /// `+`
    Max,
    /// `[member`
    Inclusive(Blob),
    /// `(member`
    Exclusive(Blob),
}

impl LexBound {
    fn admits_low(&self, m: &[u8]) -> bool {
        match self {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Inclusive(v) => m >= v.as_slice(),
            LexBound::Exclusive(v) => m > v.as_slice(),
        }
    }
    fn admits_high(&self, m: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(v) => m <= v.as_slice(),
            LexBound::Exclusive(v) => m < v.as_slice(),
        }
    }
}

/// A sorted set with a running byte estimate.
#[derive(Debug, Clone, Default)]
pub struct SortedSet {
    by_member: Dict<ZMember>,
    by_score: BTreeSet<(Score, Blob)>,
    bytes: usize,
}

impl SortedSet {
    /// Estimated heap bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    /// [`SortedSet::bytes`] recomputed from scratch (for invariant checks);
    /// also checks that both indexes hold the same members.
    pub fn recount_bytes(&self) -> usize {
        if self.by_member.len() != self.by_score.len() {
            return usize::MAX;
        }
        self.by_member.iter().map(|m| member_cost(&m.member)).sum()
    }
    /// Number of members.
    pub fn len(&self) -> usize {
        self.by_member.len()
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.by_member.is_empty()
    }
    /// Score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.by_member.get(member).map(|m| m.score)
    }
    /// Sets the score of `member`; returns its previous score. `score` must
    /// not be NaN.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        debug_assert!(!score.is_nan());
        let score = normalize(score);
        if let Some(m) = self.by_member.get_mut(member) {
            let old = m.score;
            if old.total_cmp(&score) != Ordering::Equal {
                m.score = score;
                let b = blob(member);
                self.by_score.remove(&(Score(old), b.clone()));
                self.by_score.insert((Score(score), b));
            }
            return Some(old);
        }
        let b = blob(member);
        self.bytes += member_cost(&b);
        self.by_score.insert((Score(score), b.clone()));
        self.by_member.insert(ZMember { member: b, score });
        None
    }
    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let old = self.by_member.remove(member)?;
        self.bytes -= member_cost(&old.member);
        self.by_score.remove(&(Score(old.score), old.member));
        Some(old.score)
    }
    /// Removes and returns the member with the lowest (`max` false) or
    /// highest (`max` true) score.
    pub fn pop(&mut self, max: bool) -> Option<(Blob, f64)> {
        let (score, member) = if max {
            self.by_score.pop_last()?
        } else {
            self.by_score.pop_first()?
        };
        if let Some(old) = self.by_member.remove(&member) {
            self.bytes -= member_cost(&old.member);
        }
        Some((member, score.0))
    }
    /// 0-based rank of `member` in ascending order (`rev` false) or
    /// descending order (`rev` true), and its score. O(rank): see module docs.
    pub fn rank(&self, member: &[u8], rev: bool) -> Option<(usize, f64)> {
        let score = self.score(member)?;
        let key = (Score(score), blob(member));
        let rank = if rev {
            self.by_score
                .range((Bound::Excluded(&key), Bound::Unbounded))
                .count()
        } else {
            self.by_score.range(..&key).count()
        };
        Some((rank, score))
    }
    /// Members in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + ExactSizeIterator {
        self.by_score.iter().map(|(s, m)| (m.as_slice(), s.0))
    }
    /// Members with `min ≤ score ≤ max` (per bound kind), ascending.
    pub fn range_by_score(
        &self,
        min: ScoreBound,
        max: ScoreBound,
    ) -> impl DoubleEndedIterator<Item = (&[u8], f64)> {
        let lo = match min {
            ScoreBound::Inclusive(v) => v,
            ScoreBound::Exclusive(v) => v.next_up(),
        };
        let start = (Score(lo), Blob::new());
        let end = match max {
            ScoreBound::Inclusive(v) if v == f64::INFINITY => Bound::Unbounded,
            ScoreBound::Inclusive(v) => Bound::Excluded((Score(v.next_up()), Blob::new())),
            ScoreBound::Exclusive(v) => Bound::Excluded((Score(v), Blob::new())),
        };
        // BTreeSet::range panics on an inverted range; such a query is empty.
        let inverted = match &end {
            Bound::Excluded(e) => *e < start,
            _ => false,
        };
        let range = if inverted {
            self.by_score
                .range((Bound::Included(start.clone()), Bound::Excluded(start)))
        } else {
            self.by_score.range((Bound::Included(start), end))
        };
        range
            .filter(move |(s, _)| min.admits_low(s.0) && max.admits_high(s.0))
            .map(|(s, m)| (m.as_slice(), s.0))
    }
    /// Members with lexicographic `min ≤ member ≤ max`, in (score, member)
    /// order. Meaningful when all members share one score, as in Redis (which
    /// leaves mixed scores undefined; here they give every member in range).
    ///
    /// When all scores are equal — the only case lex ranges are meant for —
    /// this seeks straight to `min` (O(log n + k)); otherwise it filters a walk
    /// of the whole set.
    pub fn range_by_lex<'a>(
        &'a self,
        min: &'a LexBound,
        max: &'a LexBound,
    ) -> impl DoubleEndedIterator<Item = (&'a [u8], f64)> + 'a {
        let uniform = match (self.by_score.first(), self.by_score.last()) {
            (Some(a), Some(b)) if a.0 == b.0 => Some(a.0),
            _ => None,
        };
        // `-` as the upper bound or `+` as the lower one selects nothing.
        let hopeless = matches!(min, LexBound::Max) || matches!(max, LexBound::Min);
        let range = match uniform {
            _ if hopeless || self.by_score.is_empty() => self.by_score.range(empty_range()),
            Some(s) => {
                let lo = match min {
                    LexBound::Min | LexBound::Max => Bound::Included((s, Blob::new())),
                    LexBound::Inclusive(v) => Bound::Included((s, v.clone())),
                    LexBound::Exclusive(v) => Bound::Excluded((s, v.clone())),
                };
                let hi = match max {
                    LexBound::Max | LexBound::Min => Bound::Unbounded,
                    LexBound::Inclusive(v) => Bound::Included((s, v.clone())),
                    LexBound::Exclusive(v) => Bound::Excluded((s, v.clone())),
                };
                if bounds_valid(&lo, &hi) {
                    self.by_score.range((lo, hi))
                } else {
                    self.by_score.range(empty_range())
                }
            }
            None => self.by_score.range::<(Score, Blob), _>(..),
        };
        range
            .filter(move |(_, m)| min.admits_low(m) && max.admits_high(m))
            .map(|(s, m)| (m.as_slice(), s.0))
    }
    /// Builds a set from members keyed by member (the result of ZUNION and
    /// friends), without hashing them again. Scores must not be NaN.
    pub fn from_dict(mut by_member: Dict<ZMember>) -> SortedSet {
        let mut by_score = BTreeSet::new();
        let mut bytes = 0;
        for m in by_member.iter_mut() {
            debug_assert!(!m.score.is_nan());
            m.score = normalize(m.score);
            let b = m.member.clone();
            bytes += member_cost(&m.member);
            by_score.insert((Score(m.score), b));
        }
        SortedSet {
            by_member,
            by_score,
            bytes,
        }
    }
    /// The underlying member dict (for scans and random sampling).
    pub fn dict(&self) -> &Dict<ZMember> {
        &self.by_member
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte estimate recomputed from scratch.
    fn fresh_bytes(z: &SortedSet) -> usize {
        z.by_member
            .iter()
            .map(|m| MEMBER_OVERHEAD + 2 * heap_bytes(&m.member))
            .sum()
    }

    fn members<'a>(it: impl Iterator<Item = (&'a [u8], f64)>) -> Vec<&'a [u8]> {
        it.map(|(m, _)| m).collect()
    }

    #[test]
    fn indexes_and_bytes_stay_consistent() {
        let mut z = SortedSet::default();
        let long = [b'x'; 40];
        z.insert(b"a", 1.0);
        z.insert(&long, 2.0);
        z.insert(b"b", 3.0);
        assert_eq!(z.insert(&long, 0.5), Some(2.0));
        assert_eq!(z.bytes(), fresh_bytes(&z));
        assert_eq!(members(z.iter()), vec![&long[..], b"a", b"b"]);
        assert_eq!(z.pop(true), Some((blob(b"b"), 3.0)));
        assert_eq!(z.pop(false), Some((blob(&long), 0.5)));
        assert_eq!(z.bytes(), fresh_bytes(&z));
        assert_eq!(z.remove(b"a"), Some(1.0));
        assert!(z.is_empty());
        assert_eq!(z.bytes(), 0);
        assert_eq!(z.pop(false), None);
    }

    #[test]
    fn negative_zero_is_zero() {
        let mut z = SortedSet::default();
        z.insert(b"n", -0.0);
        z.insert(b"p", 0.0);
        assert!(z.score(b"n").is_some_and(|s| s.is_sign_positive()));
        let zero = ScoreBound::Inclusive(0.0);
        assert_eq!(members(z.range_by_score(zero, zero)), vec![&b"n"[..], b"p"]);
        let neg = ScoreBound::Inclusive(-0.0);
        assert_eq!(z.range_by_score(neg, neg).count(), 2);
    }

    #[test]
    fn score_ranges_respect_bounds() {
        let mut z = SortedSet::default();
        for (i, m) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            z.insert(*m, i as f64 + 1.0);
        }
        let r = |lo, hi| members(z.range_by_score(lo, hi));
        use ScoreBound::*;
        assert_eq!(r(Exclusive(1.0), Inclusive(3.0)), vec![&b"b"[..], b"c"]);
        assert_eq!(
            r(Inclusive(f64::NEG_INFINITY), Exclusive(2.0)),
            vec![&b"a"[..]]
        );
        assert_eq!(
            r(Inclusive(3.0), Inclusive(f64::INFINITY)),
            vec![&b"c"[..], b"d"]
        );
        assert!(r(Inclusive(3.0), Inclusive(1.0)).is_empty());
        assert!(r(Exclusive(2.0), Exclusive(2.0)).is_empty());
        assert_eq!(
            members(z.range_by_score(Inclusive(2.0), Inclusive(3.0)).rev()),
            vec![&b"c"[..], b"b"]
        );
        assert_eq!(z.rank(b"c", false), Some((2, 3.0)));
        assert_eq!(z.rank(b"c", true), Some((1, 3.0)));
        assert_eq!(z.rank(b"zz", false), None);
    }

    #[test]
    fn lex_ranges_seek_or_filter() {
        let mut z = SortedSet::default();
        for m in [b"a", b"b", b"c", b"d"] {
            z.insert(m, 0.0);
        }
        fn lex_in(z: &SortedSet, lo: LexBound, hi: LexBound) -> Vec<Blob> {
            z.range_by_lex(&lo, &hi).map(|(m, _)| blob(m)).collect()
        }
        let lex = |lo, hi| lex_in(&z, lo, hi);
        use LexBound::*;
        assert_eq!(lex(Min, Max).len(), 4);
        assert_eq!(
            lex(Inclusive(blob(b"b")), Exclusive(blob(b"d"))),
            vec![blob(b"b"), blob(b"c")]
        );
        assert_eq!(
            lex(Exclusive(blob(b"b")), Max),
            vec![blob(b"c"), blob(b"d")]
        );
        assert!(lex(Inclusive(blob(b"c")), Inclusive(blob(b"a"))).is_empty());
        assert!(lex(Exclusive(blob(b"b")), Exclusive(blob(b"b"))).is_empty());
        assert!(lex(Max, Max).is_empty());
        assert!(lex(Min, Min).is_empty());
        // Mixed scores: every member in range, in score order.
        z.insert(b"a", 5.0);
        assert_eq!(
            lex_in(&z, Inclusive(blob(b"a")), Inclusive(blob(b"b"))),
            vec![blob(b"b"), blob(b"a")]
        );
    }

    #[test]
    fn from_dict_builds_both_indexes() {
        let mut d = Dict::new();
        d.insert(ZMember {
            member: blob(b"x"),
            score: 2.0,
        });
        d.insert(ZMember {
            member: blob(&[b'y'; 30]),
            score: -0.0,
        });
        let z = SortedSet::from_dict(d);
        assert_eq!(z.len(), 2);
        assert_eq!(z.bytes(), fresh_bytes(&z));
        assert_eq!(members(z.iter()), vec![&[b'y'; 30][..], b"x"]);
        assert!(z.score(&[b'y'; 30]).is_some_and(|s| s.is_sign_positive()));
    }
}
