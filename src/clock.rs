//! The clock every latency sample reads, and a writer's stopwatch.
//!
//! The clock is [`std::time::Instant`]: on Linux `clock_gettime(CLOCK_MONOTONIC)`
//! through the vDSO, which reads the TSC where the kernel's clocksource is `tsc`
//! (no system call), with a resolution of 1 ns. One reading costs a few tens of
//! nanoseconds (the README gives this machine's figure), so a sample of an
//! operation includes about one reading's cost; that is why only every Nth
//! operation is timed.
//!
//! A writer is timed from inside the model ([`Stopwatch`]): from the moment it
//! asks for `mmap_lock` for write, to the moment it holds it, to the moment it
//! drops it. [`Untimed`] compiles to nothing; [`Timed`] reads the clock at
//! each of the three points.

use std::time::Instant;

/// Now, on the clock every sample reads.
#[inline(always)]
pub fn now() -> Instant {
    Instant::now()
}

/// Nanoseconds from `a` to `b` (0 if `b` is not later; saturating at `u64::MAX`).
#[inline]
pub fn ns_between(a: Instant, b: Instant) -> u64 {
    u64::try_from(b.saturating_duration_since(a).as_nanos()).unwrap_or(u64::MAX)
}

/// Nanoseconds since `a`.
#[inline]
pub fn ns_since(a: Instant) -> u64 {
    ns_between(a, now())
}

/// What one timed writer operation measured, in nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct WriterTime {
    /// Waiting to take `mmap_lock` for write (None where it cannot be told
    /// apart from the rest: the real kernel takes the lock inside the system
    /// call).
    pub wait_ns: Option<u64>,
    /// Holding it: from taking `mmap_lock` for write to dropping it, which
    /// includes waiting for readers in detach and the scheme's free path (the
    /// real kernel: the whole system call).
    pub held_ns: u64,
}

/// The three points of a writer's `mmap_lock` cycle, as the writer passes them.
pub trait Stopwatch {
    /// About to take `mmap_lock` for write.
    fn requested(&mut self);
    /// Holding it.
    fn locked(&mut self);
    /// Dropped it.
    fn unlocked(&mut self);
}

/// No timing: every call compiles away.
#[derive(Copy, Clone, Debug, Default)]
pub struct Untimed;

impl Stopwatch for Untimed {
    #[inline(always)]
    fn requested(&mut self) {}
    #[inline(always)]
    fn locked(&mut self) {}
    #[inline(always)]
    fn unlocked(&mut self) {}
}

/// Reads the clock at each point passed; [`Timed::time`] gives the result.
/// A writer that cannot tell waiting from holding (the real kernel takes
/// `mmap_lock` inside the system call) passes only `locked` and `unlocked`.
#[derive(Copy, Clone, Debug)]
pub struct Timed {
    requested: Option<Instant>,
    locked: Instant,
    unlocked: Instant,
}

impl Default for Timed {
    fn default() -> Self {
        Self::new()
    }
}

impl Timed {
    /// A stopwatch whose `locked` and `unlocked` points are now (until
    /// passed), and no `requested` point.
    pub fn new() -> Self {
        let t = now();
        Timed {
            requested: None,
            locked: t,
            unlocked: t,
        }
    }

    /// What was measured: the wait (if `requested` was passed) and the hold.
    pub fn time(&self) -> WriterTime {
        WriterTime {
            wait_ns: self.requested.map(|r| ns_between(r, self.locked)),
            held_ns: ns_between(self.locked, self.unlocked),
        }
    }
}

impl Stopwatch for Timed {
    #[inline]
    fn requested(&mut self) {
        self.requested = Some(now());
    }
    #[inline]
    fn locked(&mut self) {
        self.locked = now();
    }
    #[inline]
    fn unlocked(&mut self) {
        self.unlocked = now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_stopwatch_splits_waiting_from_holding() {
        let mut t = Timed::new();
        t.requested();
        std::thread::sleep(Duration::from_millis(2));
        t.locked();
        std::thread::sleep(Duration::from_millis(3));
        t.unlocked();
        let w = t.time();
        // The sleeps are lower bounds (never shorter than asked).
        assert!(w.wait_ns.unwrap() >= 2_000_000, "{w:?}");
        assert!(w.held_ns >= 3_000_000, "{w:?}");
        // An instant before another is 0 ns after it, never an underflow.
        let later = now();
        assert_eq!(ns_between(later + Duration::from_secs(1), later), 0);
    }

    #[test]
    fn a_writer_that_never_requests_has_no_wait() {
        let mut t = Timed::new();
        t.locked();
        std::thread::sleep(Duration::from_millis(2));
        t.unlocked();
        let w = t.time();
        assert_eq!(w.wait_ns, None);
        assert!(w.held_ns >= 2_000_000, "{w:?}");
    }
}
