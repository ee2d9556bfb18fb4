//! Grace-period latency probes: every so many deferred frees, a worker also
//! queues a small probe through the same scheme (`call_rcu`, or a hazard-pointer
//! retire); the probe's callback records the time from its call to its callback.
//! Under load this is the time a removed object waits, which is what a flavour's
//! grace period costs in memory.

use std::ptr::NonNull;
use std::time::Instant;

use crate::rcu::{Deferrable, RcuHead};
use crate::sync::atomic::{AtomicU64, Ordering};

/// Deferred frees between two probes of one thread.
pub const PROBE_EVERY: u32 = 64;

/// What the probes measured: callbacks run, and the total and largest time from
/// call to callback.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct GpLatency {
    /// Probes whose callback has run.
    pub probes: u64,
    /// Sum of their latencies, ns.
    pub sum_ns: u64,
    /// The largest, ns.
    pub max_ns: u64,
}

impl GpLatency {
    /// Mean latency in ns (None without a probe).
    pub fn mean_ns(&self) -> Option<f64> {
        (self.probes > 0).then(|| self.sum_ns as f64 / self.probes as f64)
    }
}

/// Where probes record (one per space, at a fixed address: probes in flight
/// point to it; it outlives every probe, whose callbacks all run before the
/// space's scheme is dropped).
#[derive(Debug, Default)]
pub struct GpProbes {
    probes: AtomicU64,
    sum_ns: AtomicU64,
    max_ns: AtomicU64,
    /// Bumped by [`GpProbes::reset`]: a probe records only if it was queued
    /// in the current generation.
    generation: AtomicU64,
}

impl GpProbes {
    /// What the probes measured so far.
    pub fn read(&self) -> GpLatency {
        // Relaxed (all three): statistics; a probe in flight may be half counted.
        GpLatency {
            probes: self.probes.load(Ordering::Relaxed),
            sum_ns: self.sum_ns.load(Ordering::Relaxed),
            max_ns: self.max_ns.load(Ordering::Relaxed),
        }
    }

    /// Forget what was measured so far and count only probes queued from now
    /// on (the driver's measured interval opens: the warm-up's probes, those
    /// still waiting included, are not the run's).
    pub fn reset(&self) {
        // Relaxed (all four): statistics, as in `record`; a probe queued or
        // recording while this runs may fall on either side.
        self.generation.fetch_add(1, Ordering::Relaxed);
        self.probes.store(0, Ordering::Relaxed);
        self.sum_ns.store(0, Ordering::Relaxed);
        self.max_ns.store(0, Ordering::Relaxed);
    }

    /// A new probe stamped now, recording into `self` when its callback runs.
    /// Queue it once through the scheme's `defer`.
    pub fn probe(&self) -> NonNull<Probe> {
        NonNull::from(Box::leak(Box::new(Probe {
            head: RcuHead::new(),
            queued: Instant::now(),
            // Relaxed: see `reset`.
            generation: self.generation.load(Ordering::Relaxed),
            into: NonNull::from(self),
        })))
    }

    /// A probe of `generation` was called back `ns` after it was queued.
    fn record(&self, generation: u64, ns: u64) {
        // Relaxed: see `reset`.
        if generation != self.generation.load(Ordering::Relaxed) {
            return;
        }
        // Relaxed (all three): independent statistics, read after the run.
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.max_ns.fetch_max(ns, Ordering::Relaxed);
        self.probes.fetch_add(1, Ordering::Relaxed);
    }
}

/// One probe: its `rcu_head`, when and in which generation it was queued,
/// where it records.
pub struct Probe {
    head: RcuHead,
    queued: Instant,
    generation: u64,
    into: NonNull<GpProbes>,
}

// SAFETY: a probe is touched by the thread that queues it, then only by its
// callback (on whichever thread runs it); it points to a `GpProbes`, which is
// `Sync` (atomics).
unsafe impl Send for Probe {}
// SAFETY: as above: no two threads use a probe at once.
unsafe impl Sync for Probe {}

// SAFETY: `head` returns the probe's own field and `from_head` maps its address
// back (`container_of`).
unsafe impl Deferrable for Probe {
    fn head(&self) -> &RcuHead {
        &self.head
    }
    unsafe fn from_head(head: *mut RcuHead) -> NonNull<Probe> {
        let p = head
            .wrapping_byte_sub(std::mem::offset_of!(Probe, head))
            .cast::<Probe>();
        NonNull::new(p).expect("a live head is not at address zero")
    }
    /// Record the time since the probe was queued, then free it.
    unsafe fn reclaim(this: NonNull<Probe>) {
        // SAFETY: made by `GpProbes::probe` (a leaked box), queued once, so this
        // callback owns it.
        let p = unsafe { Box::from_raw(this.as_ptr()) };
        let ns = u64::try_from(p.queued.elapsed().as_nanos()).unwrap_or(u64::MAX);
        // SAFETY: the space that owns the `GpProbes` runs every callback before
        // it drops its scheme, and drops the probes' target only after that.
        unsafe { p.into.as_ref() }.record(p.generation, ns);
    }
}

#[cfg(all(test, not(vma_bench_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_probe_records_the_time_from_its_call_to_its_callback() {
        let probes = GpProbes::default();
        let p = probes.probe();
        std::thread::sleep(std::time::Duration::from_millis(2));
        // The callback, run by hand as a flavour would after a grace period.
        // SAFETY: the probe was made just above and is reclaimed once.
        unsafe { Probe::reclaim(p) };
        let g = probes.read();
        assert_eq!(g.probes, 1);
        assert!(g.max_ns >= 2_000_000 && g.sum_ns == g.max_ns, "{g:?}");
        assert_eq!(GpLatency::default().mean_ns(), None);
    }

    /// After a reset, a probe queued before it records nothing; one queued
    /// after it records.
    #[test]
    fn a_reset_forgets_and_drops_the_probes_queued_before_it() {
        let probes = GpProbes::default();
        let (old, older) = (probes.probe(), probes.probe());
        // SAFETY: made just above, reclaimed once each.
        unsafe { Probe::reclaim(older) };
        probes.reset();
        assert_eq!(probes.read(), GpLatency::default());
        let new = probes.probe();
        // SAFETY: as above.
        unsafe { Probe::reclaim(old) };
        assert_eq!(probes.read().probes, 0, "queued before the reset");
        // SAFETY: as above.
        unsafe { Probe::reclaim(new) };
        assert_eq!(probes.read().probes, 1);
    }
}
