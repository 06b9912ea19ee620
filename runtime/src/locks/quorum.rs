//! Counting the answers of one voting round: has a majority of regions
//! said yes, can it still, and what did the answers report.
//!
//! Pure bookkeeping: this module must not send, wait or read clocks. The
//! service feeds it answers as they arrive and stops as soon as
//! [`Tally::outcome`] is decided.

use super::message::{Answer, Live};

/// Votes needed among `regions` regions: a strict majority.
pub fn majority(regions: usize) -> usize {
    regions / 2 + 1
}

/// Whether a round is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A majority said yes.
    Won,
    /// A majority can no longer say yes.
    Lost,
    /// Neither yet.
    Pending,
}

/// The answers of one round so far.
#[derive(Debug, Clone)]
pub struct Tally {
    regions: usize,
    yes: usize,
    no: usize,
    silent: usize,
    max_promised: u64,
    live: Option<Live>,
}

impl Tally {
    /// A round among `regions` regions (this one included).
    pub fn new(regions: usize) -> Tally {
        Tally {
            regions: regions.max(1),
            yes: 0,
            no: 0,
            silent: 0,
            max_promised: 0,
            live: None,
        }
    }

    /// Counts one answer.
    pub fn add(&mut self, a: &Answer) {
        if a.ok {
            self.yes += 1;
        } else {
            self.no += 1;
        }
        self.max_promised = self.max_promised.max(a.promised);
        if let Some(l) = a.live {
            // The longest-lived report: waiting for it is waiting for all.
            if self.live.is_none_or(|o| l.remaining_ms > o.remaining_ms) {
                self.live = Some(l);
            }
        }
    }

    /// Counts `n` regions that will not answer (no link to them).
    pub fn unreachable(&mut self, n: usize) {
        self.silent += n;
    }

    /// Whether the round is decided.
    pub fn outcome(&self) -> Outcome {
        let needed = majority(self.regions);
        let open = self
            .regions
            .saturating_sub(self.yes + self.no + self.silent);
        if self.yes >= needed {
            Outcome::Won
        } else if self.yes + open < needed {
            Outcome::Lost
        } else {
            Outcome::Pending
        }
    }

    /// Yes answers so far.
    pub fn yes(&self) -> usize {
        self.yes
    }

    /// Regions that answered (yes or no).
    pub fn answered(&self) -> usize {
        self.yes + self.no
    }

    /// True if fewer than a majority answered at all: the round failed for
    /// want of regions, not because of other holders or proposers.
    pub fn short_of_regions(&self) -> bool {
        self.answered() < majority(self.regions)
    }

    /// The highest promise any answer reported.
    pub fn max_promised(&self) -> u64 {
        self.max_promised
    }

    /// The longest-lived lease any answer reported.
    pub fn live(&self) -> Option<Live> {
        self.live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yes() -> Answer {
        Answer {
            ok: true,
            promised: 1,
            live: None,
        }
    }
    fn no(promised: u64) -> Answer {
        Answer {
            ok: false,
            promised,
            live: None,
        }
    }

    #[test]
    fn majorities() {
        assert_eq!(majority(1), 1);
        assert_eq!(majority(2), 2);
        assert_eq!(majority(3), 2);
        assert_eq!(majority(4), 3);
        assert_eq!(majority(5), 3);
    }

    #[test]
    fn two_of_three_win_and_two_refusals_lose() {
        let mut t = Tally::new(3);
        t.add(&yes());
        assert_eq!(t.outcome(), Outcome::Pending);
        t.add(&yes());
        assert_eq!(t.outcome(), Outcome::Won);

        let mut t = Tally::new(3);
        t.add(&yes());
        t.add(&no(7));
        assert_eq!(t.outcome(), Outcome::Pending);
        t.add(&no(9));
        assert_eq!(t.outcome(), Outcome::Lost);
        assert_eq!(t.max_promised(), 9);
        assert!(!t.short_of_regions());
    }

    #[test]
    fn a_minority_side_loses_at_once() {
        // Region alone: its own yes and two peers without a link.
        let mut t = Tally::new(3);
        t.add(&yes());
        t.unreachable(2);
        assert_eq!(t.outcome(), Outcome::Lost);
        assert!(t.short_of_regions());
        // Of five, two reachable are still short.
        let mut t = Tally::new(5);
        t.unreachable(3);
        t.add(&yes());
        t.add(&yes());
        assert_eq!(t.outcome(), Outcome::Lost);
    }

    #[test]
    fn the_longest_live_lease_is_kept() {
        let mut t = Tally::new(3);
        for remaining_ms in [5, 30, 10] {
            t.add(&Answer {
                ok: true,
                promised: 1,
                live: Some(Live {
                    token: 1,
                    remaining_ms,
                }),
            });
        }
        assert_eq!(t.live().map(|l| l.remaining_ms), Some(30));
    }
}
