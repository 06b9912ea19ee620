//! Sorted-set values: members with scores, ordered by (score, member).
//!
//! Invariant: `by_member` and `by_score` hold exactly the same (member, score)
//! pairs; scores are never NaN.

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
    /// Sets the score of `member`; returns its previous score.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
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
        self.bytes += MEMBER_OVERHEAD + 2 * heap_bytes(&b);
        self.by_score.insert((Score(score), b.clone()));
        self.by_member.insert(ZMember { member: b, score });
        None
    }
    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let old = self.by_member.remove(member)?;
        self.bytes -= MEMBER_OVERHEAD + 2 * heap_bytes(&old.member);
        self.by_score.remove(&(Score(old.score), old.member));
        Some(old.score)
    }
    /// 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.by_score.range(..(Score(score), blob(member))).count())
    }
    /// Members in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> {
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
    /// Members with lexicographic `min ≤ member ≤ max`, ascending. Meaningful
    /// when all members share one score, as in Redis.
    pub fn range_by_lex<'a>(
        &'a self,
        min: &'a LexBound,
        max: &'a LexBound,
    ) -> impl DoubleEndedIterator<Item = (&'a [u8], f64)> + 'a {
        self.by_score
            .iter()
            .filter(move |(_, m)| min.admits_low(m) && max.admits_high(m))
            .map(|(s, m)| (m.as_slice(), s.0))
    }
    /// The underlying member dict (for scans and random sampling).
    pub fn dict(&self) -> &Dict<ZMember> {
        &self.by_member
    }
}
