//! The lock service of one region: acquire (with a fair wait), renew,
//! release and inspect leases of either scope, the region's acceptor for
//! other regions' votes, and the fencing table.
//!
//! `local` leases live in this region's [`LocalLeases`]. `global` leases
//! are granted by a two-phase majority round (prepare, then accept) over
//! the acceptors of every region, this one included: see docs/locks.md for
//! the protocol, why it is safe and what it assumes of clocks.
//!
//! Waiters queue per lock in FIFO order (the same registry mechanism as
//! BLPOP's): a newcomer goes behind clients already waiting, only the head
//! retries, and a release or a lease's lapse wakes the head. Leaving the
//! queue (granted, timed out, disconnected) passes the turn on.
//!
//! This module must not know about RESP or WIT: front ends call
//! [`Locks::acquire`] and friends and shape the answers themselves.

use std::time::{Duration, Instant};

use super::acceptor::{Acceptor, MAX_TTL, ceil_ms};
use super::fence::{FenceTable, Stale};
use super::lease::LocalLeases;
use super::message::{Answer, LockMsg, Vote};
use super::ports::{Attachment, Ports};
use super::quorum::{Outcome, Tally, majority};
use crate::clock::RegionId;
use crate::engine::{BlockingRegistry, WaitHandle};
use crate::keyspace::{Blob, blob};

/// Bound on the rate at which any region's clock may run fast or slow
/// against another's (1%, a hundred times a quartz clock's tolerance).
pub const DRIFT_BOUND: f64 = 0.01;
/// Added to every drift margin: scheduling and rounding slack.
pub const MARGIN_FLOOR: Duration = Duration::from_millis(1);
/// Longest a voting round waits for answers (less if the lease is shorter).
pub const ROUND_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause before retrying a round that could not reach a majority.
const NO_QUORUM_RETRY: Duration = Duration::from_millis(50);
/// Longest a waiter for a busy global lock sleeps before asking again: a
/// release in another region reaches this one only if this region's
/// acceptor was among those it reached, and a round may have raced it.
const GLOBAL_RECHECK: Duration = Duration::from_millis(100);
/// Rounds lost to a competing proposer retried at once, without WAIT.
const CONTENDED_RETRIES: u32 = 3;

/// Which leases a lock name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Held in this region only.
    Local,
    /// Granted by a majority of regions.
    Global,
}

/// A granted (or renewed) lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Its fencing token.
    pub token: u64,
    /// Until when the holder may act on it (drift margin already taken off).
    pub valid_until: Instant,
}

/// Why a lock operation failed (a busy lock is not a failure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Fewer than a majority of regions answered.
    #[error("NOQUORUM a global lock needs {needed} of {regions} regions; only {reached} answered")]
    NoQuorum {
        /// Votes needed.
        needed: usize,
        /// Regions in the deployment.
        regions: usize,
        /// Regions that answered (this one included).
        reached: usize,
    },
    /// The TTL leaves no validity once the drift margin is taken off.
    #[error("ERR lock ttl must be between {min} and {max} milliseconds")]
    BadTtl {
        /// Smallest TTL accepted.
        min: u64,
        /// Largest TTL accepted.
        max: u64,
    },
}

/// What LOCK.INFO reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockInfo {
    /// The live lease's token (as this region sees it).
    pub token: Option<u64>,
    /// Its remaining time here.
    pub remaining: Option<Duration>,
    /// Local: the latest token granted; global: the highest promised here.
    pub last_token: u64,
    /// The newest token seen for fencing.
    pub fence: u64,
    /// Clients of this region waiting for it.
    pub waiters: usize,
}

/// The result of one try.
enum Attempt {
    Granted(Grant),
    Busy { until: Instant },
    Contended { hint: u64 },
    NoQuorum(LockError),
}

/// The lock service of one region. See the module docs.
#[derive(Debug)]
pub struct Locks {
    me: RegionId,
    regions: usize,
    local: LocalLeases,
    acceptor: Acceptor,
    fences: FenceTable,
    ports: Ports,
    waiters: BlockingRegistry,
    /// Leases granted here (acquisitions, not renewals), for the console.
    grants: std::sync::atomic::AtomicU64,
}

/// The drift margin for a lease of `ttl`: acceptors time it on their clocks
/// from receipt, the holder on its own from before it asked, and either
/// clock may run up to [`DRIFT_BOUND`] off, so the holder gives up
/// `2·ρ·ttl` (plus [`MARGIN_FLOOR`]) to stay inside every acceptor's lease.
pub fn drift_margin(ttl: Duration) -> Duration {
    ttl.mul_f64(2.0 * DRIFT_BOUND) + MARGIN_FLOOR
}

/// Smallest global TTL: the validity left after the margin must be positive.
pub const MIN_GLOBAL_TTL: Duration = Duration::from_millis(2);

fn queue_key(scope: Scope, name: &[u8]) -> Blob {
    let mut k = blob(match scope {
        Scope::Local => b"l:",
        Scope::Global => b"g:",
    });
    k.extend_from_slice(name);
    k
}

/// Checks a requested TTL.
pub fn check_ttl(scope: Scope, ttl: Duration) -> Result<(), LockError> {
    let min = match scope {
        Scope::Local => Duration::from_millis(1),
        Scope::Global => MIN_GLOBAL_TTL,
    };
    if ttl < min || ttl > MAX_TTL {
        return Err(LockError::BadTtl {
            min: min.as_millis() as u64,
            max: MAX_TTL.as_millis() as u64,
        });
    }
    Ok(())
}

/// Releases a global lease whose round did not finish (lost, timed out, or
/// its client went away mid-round): acceptors that did accept it would
/// otherwise hold it for its whole TTL.
struct Unfinished<'l> {
    locks: &'l Locks,
    name: &'l [u8],
    token: u64,
    armed: bool,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if self.armed {
            let vote = Vote::Release {
                name: self.name.to_vec(),
                token: self.token,
            };
            self.locks.vote_here(&vote);
            // Answers are not awaited: the round closes at once.
            drop(self.locks.ports.ask(&vote));
        }
    }
}

impl Locks {
    /// The service of region `me` among `regions` regions (1: no peers).
    pub fn new(me: RegionId, regions: usize) -> Locks {
        Locks {
            me,
            regions: regions.max(1),
            local: LocalLeases::default(),
            acceptor: Acceptor::default(),
            fences: FenceTable::default(),
            ports: Ports::default(),
            waiters: BlockingRegistry::default(),
            grants: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// This region.
    pub fn region(&self) -> RegionId {
        self.me
    }

    /// Regions voting on global locks.
    pub fn regions(&self) -> usize {
        self.regions
    }

    /// Clients waiting for any lock here.
    pub fn waiting_clients(&self) -> usize {
        self.waiters.blocked_clients()
    }

    /// Routes lock messages for `peer` to its replication session's queue
    /// while the returned attachment lives.
    pub fn attach(&self, peer: RegionId, tx: tokio::sync::mpsc::Sender<LockMsg>) -> Attachment<'_> {
        self.ports.attach(peer, tx)
    }

    /// Handles a lock message from `peer`: votes on asks (answering through
    /// `peer`'s queue) and hands answers to their rounds.
    pub fn on_message(&self, peer: RegionId, msg: LockMsg) {
        match msg {
            LockMsg::Ask { id, vote } => {
                let answer = self.vote_here(&vote);
                self.ports.send(peer, LockMsg::Answer { id, answer });
            }
            LockMsg::Answer { id, answer } => self.ports.deliver(id, answer),
        }
    }

    /// This region's acceptor votes, with the effects a vote has here.
    fn vote_here(&self, vote: &Vote) -> Answer {
        let answer = self.acceptor.vote(vote, Instant::now());
        if answer.ok {
            match vote {
                Vote::Accept { name, token, .. } => self.fences.observe(name, *token),
                Vote::Release { name, .. } => {
                    self.waiters.signal(&[queue_key(Scope::Global, name)]);
                }
                Vote::Prepare { .. } | Vote::Renew { .. } => {}
            }
        }
        answer
    }

    /// Leases granted by this region since it started.
    pub fn grants(&self) -> u64 {
        self.grants.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Admits a fenced write of a resource guarded by lock `name`.
    pub fn admit_fenced(&self, name: &[u8], token: u64) -> Result<(), Stale> {
        self.fences.admit(name, token)
    }

    /// Acquires `name` for `ttl`. Without `wait` it tries once (`None` if
    /// the lock is held or others are queued for it); with `wait` it queues
    /// behind earlier waiters for at most that long (`Duration::MAX`: no
    /// limit). A global lock that cannot reach a majority by then is an
    /// error, a lock still held is `None`.
    pub async fn acquire(
        &self,
        scope: Scope,
        name: &[u8],
        ttl: Duration,
        wait: Option<Duration>,
    ) -> Result<Option<Grant>, LockError> {
        check_ttl(scope, ttl)?;
        let key = queue_key(scope, name);
        // Without WAIT nothing waits; a WAIT too long to represent has no
        // deadline at all.
        let waits = wait.is_some();
        let deadline = wait.and_then(|w| Instant::now().checked_add(w));
        let past = |t: Instant| !waits || deadline.is_some_and(|d| t >= d);
        let mut hint = 0;
        let mut handle: Option<WaitHandle<'_>> = None;
        let mut contended = 0;
        // Why the last try failed, if for want of a majority: a wait that
        // ends so answers that error rather than nil.
        let mut no_quorum: Option<LockError> = None;
        if self.waiters.queued(&key) > 0 {
            // Fair: newcomers go behind those already waiting.
            if !waits {
                return Ok(None);
            }
            let h = self.waiters.register(&[&key]);
            if !self.wait_turn(&h, &key, None, deadline).await {
                return Ok(None);
            }
            handle = Some(h);
        }
        loop {
            let attempt = self.try_once(scope, name, ttl, &mut hint).await;
            if !matches!(attempt, Attempt::NoQuorum(_)) {
                no_quorum = None;
            }
            let retry_at = match attempt {
                Attempt::Granted(g) => {
                    self.grants
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Ok(Some(g));
                }
                Attempt::Busy { until } => match scope {
                    Scope::Local => until,
                    Scope::Global => until.min(Instant::now() + GLOBAL_RECHECK),
                },
                Attempt::Contended { hint: h } => {
                    hint = hint.max(h);
                    contended += 1;
                    if !waits && contended <= CONTENDED_RETRIES {
                        tokio::time::sleep(jitter(contended)).await;
                        continue;
                    }
                    Instant::now() + jitter(contended.min(6))
                }
                Attempt::NoQuorum(e) => {
                    let retry_at = Instant::now() + NO_QUORUM_RETRY;
                    if past(retry_at) {
                        return Err(e);
                    }
                    no_quorum = Some(e);
                    retry_at
                }
            };
            if past(Instant::now()) {
                return no_quorum.map_or(Ok(None), Err);
            }
            if handle.is_none() {
                // Register, then try once more: a release between the try
                // and the registration signalled nobody.
                handle = Some(self.waiters.register(&[&key]));
                continue;
            }
            if let Some(h) = &handle
                && !self.wait_turn(h, &key, Some(retry_at), deadline).await
            {
                return no_quorum.map_or(Ok(None), Err);
            }
        }
    }

    /// Waits until this waiter is woken (true) or `deadline` passes
    /// (false). At `retry_at` it wakes the head of the queue, whoever that
    /// is: a lease lapsing signals nobody by itself.
    async fn wait_turn(
        &self,
        h: &WaitHandle<'_>,
        key: &Blob,
        mut retry_at: Option<Instant>,
        deadline: Option<Instant>,
    ) -> bool {
        loop {
            let until = match (retry_at, deadline) {
                (Some(r), Some(d)) => Some(r.min(d)),
                (r, d) => r.or(d),
            };
            let sleep = async {
                match until {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = h.wait() => return true,
                _ = sleep => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return false;
                    }
                    self.waiters.signal(std::slice::from_ref(key));
                    retry_at = None;
                }
            }
        }
    }

    async fn try_once(&self, scope: Scope, name: &[u8], ttl: Duration, hint: &mut u64) -> Attempt {
        match scope {
            Scope::Local => match self.local.try_acquire(name, ttl, Instant::now()) {
                Ok(lease) => {
                    self.fences.observe(name, lease.token);
                    Attempt::Granted(Grant {
                        token: lease.token,
                        valid_until: lease.expires,
                    })
                }
                Err(busy) => Attempt::Busy { until: busy.until },
            },
            Scope::Global => self.global_round(name, ttl, hint).await,
        }
    }

    /// Asks every region (this one directly) for `vote` and counts answers
    /// until the round is decided or `until`.
    async fn poll(&self, vote: &Vote, until: Instant) -> Tally {
        let mut tally = Tally::new(self.regions);
        let mut round = self.ports.ask(vote);
        tally.unreachable(self.regions.saturating_sub(1 + round.sent));
        tally.add(&self.vote_here(vote));
        while tally.outcome() == Outcome::Pending {
            match tokio::time::timeout_at(until.into(), round.next()).await {
                Ok(Some(a)) => tally.add(&a),
                _ => break,
            }
        }
        tally
    }

    fn no_quorum(&self, tally: &Tally) -> LockError {
        LockError::NoQuorum {
            needed: majority(self.regions),
            regions: self.regions,
            reached: tally.answered(),
        }
    }

    /// One prepare + accept round for a new lease.
    async fn global_round(&self, name: &[u8], ttl: Duration, hint: &mut u64) -> Attempt {
        let start = Instant::now();
        let valid_until = start + ttl - drift_margin(ttl).min(ttl);
        let until = start + ROUND_TIMEOUT.min(valid_until.saturating_duration_since(start));
        // Saturating: a promise comes from the network and must not overflow.
        let token = self.acceptor.promised(name).max(*hint).saturating_add(1);
        let prepare = Vote::Prepare {
            name: name.to_vec(),
            token,
        };
        let promised = self.poll(&prepare, until).await;
        *hint = (*hint).max(promised.max_promised());
        if promised.outcome() != Outcome::Won && promised.short_of_regions() {
            // Cut off from a majority: whatever else is known, nothing can
            // be granted from here.
            return Attempt::NoQuorum(self.no_quorum(&promised));
        }
        if let Some(live) = promised.live() {
            // Whoever holds it, it is held: any lease live at a majority is
            // reported by at least one of any majority.
            return Attempt::Busy {
                until: busy_until(live.remaining_ms),
            };
        }
        if promised.outcome() != Outcome::Won {
            return Attempt::Contended { hint: *hint };
        }
        let mut unfinished = Unfinished {
            locks: self,
            name,
            token,
            armed: true,
        };
        let accept = Vote::Accept {
            name: name.to_vec(),
            token,
            ttl_ms: ceil_ms(ttl),
        };
        let accepted = self.poll(&accept, until).await;
        *hint = (*hint).max(accepted.max_promised());
        if accepted.outcome() == Outcome::Won && Instant::now() < valid_until {
            unfinished.armed = false;
            self.fences.observe(name, token);
            return Attempt::Granted(Grant { token, valid_until });
        }
        drop(unfinished);
        if accepted.short_of_regions() {
            Attempt::NoQuorum(self.no_quorum(&accepted))
        } else if let Some(live) = accepted.live().filter(|l| l.token != token) {
            Attempt::Busy {
                until: busy_until(live.remaining_ms),
            }
        } else {
            Attempt::Contended { hint: *hint }
        }
    }

    /// Extends the live lease `token` of `name` to `ttl` from now; `None` if
    /// it is not live (lapsed, released, another holder's).
    pub async fn renew(
        &self,
        scope: Scope,
        name: &[u8],
        token: u64,
        ttl: Duration,
    ) -> Result<Option<Grant>, LockError> {
        check_ttl(scope, ttl)?;
        match scope {
            Scope::Local => Ok(self
                .local
                .renew(name, token, ttl, Instant::now())
                .map(|l| Grant {
                    token,
                    valid_until: l.expires,
                })),
            Scope::Global => {
                let start = Instant::now();
                let valid_until = start + ttl - drift_margin(ttl).min(ttl);
                let until = start + ROUND_TIMEOUT.min(valid_until - start);
                let vote = Vote::Renew {
                    name: name.to_vec(),
                    token,
                    ttl_ms: ceil_ms(ttl),
                };
                let tally = self.poll(&vote, until).await;
                if tally.outcome() == Outcome::Won && Instant::now() < valid_until {
                    Ok(Some(Grant { token, valid_until }))
                } else if tally.short_of_regions() {
                    Err(self.no_quorum(&tally))
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Ends the live lease `token` of `name`; false if it was not live (a
    /// stale holder cannot end someone else's lease). A global release
    /// reaches the regions that answer; the others let it lapse.
    pub async fn release(&self, scope: Scope, name: &[u8], token: u64) -> bool {
        match scope {
            Scope::Local => self.release_local(name, token),
            Scope::Global => {
                let vote = Vote::Release {
                    name: name.to_vec(),
                    token,
                };
                let tally = self.poll(&vote, Instant::now() + ROUND_TIMEOUT).await;
                tally.yes() > 0
            }
        }
    }

    /// [`Locks::release`] of a local lease, which never waits.
    pub fn release_local(&self, name: &[u8], token: u64) -> bool {
        let released = self.local.release(name, token, Instant::now());
        if released {
            self.waiters.signal(&[queue_key(Scope::Local, name)]);
        }
        released
    }

    /// What this region knows about `name`.
    pub fn info(&self, scope: Scope, name: &[u8]) -> LockInfo {
        let now = Instant::now();
        let waiters = self.waiters.queued(&queue_key(scope, name));
        let fence = self.fences.newest(name);
        match scope {
            Scope::Local => {
                let (live, last) = self.local.info(name, now);
                LockInfo {
                    token: live.map(|l| l.token),
                    remaining: live.map(|l| l.expires.saturating_duration_since(now)),
                    last_token: last,
                    fence,
                    waiters,
                }
            }
            Scope::Global => {
                let live = self.acceptor.live(name, now);
                LockInfo {
                    token: live.map(|l| l.0),
                    remaining: live.map(|l| l.1),
                    last_token: self.acceptor.promised(name),
                    fence,
                    waiters,
                }
            }
        }
    }
}

/// When a lease another region reported as live lapses, as far as a
/// waiter cares. The report comes from the network: it is clamped to the
/// longest lease, so no answer can overflow the clock.
fn busy_until(remaining_ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(remaining_ms).min(MAX_TTL)
}

/// A random pause growing with `attempt`, so competing proposers stop
/// colliding.
fn jitter(attempt: u32) -> Duration {
    let max_us = 500u64 << attempt.min(8);
    Duration::from_micros(max_us / 2 + rand::random::<u64>() % (max_us / 2 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peers_report_of_a_huge_lease_cannot_overflow_the_clock() {
        let before = Instant::now();
        let until = busy_until(u64::MAX);
        assert!(until <= Instant::now() + MAX_TTL);
        assert!(until >= before + MAX_TTL);
    }

    #[test]
    fn ttls_outside_the_bounds_are_refused() {
        assert!(check_ttl(Scope::Local, Duration::from_millis(1)).is_ok());
        assert!(check_ttl(Scope::Global, Duration::from_millis(1)).is_err());
        assert!(check_ttl(Scope::Global, MIN_GLOBAL_TTL).is_ok());
        assert!(check_ttl(Scope::Local, MAX_TTL + Duration::from_millis(1)).is_err());
        // The holder's validity stays positive down to the smallest TTL.
        assert!(drift_margin(MIN_GLOBAL_TTL) < MIN_GLOBAL_TTL);
    }
}
