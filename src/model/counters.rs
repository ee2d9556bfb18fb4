//! Per-thread counters: one writer each, cache-padded, summed at the end.
//!
//! The hot path never does an atomic read-modify-write on shared memory: each
//! counter is written only by its own thread (a Relaxed load and store, a plain
//! `mov` pair on x86) and read by the sampler with Relaxed loads.
//!
//! Built with `--cfg vma_bench_bare` (`make overhead` does), every counter is a
//! no-op and the fault's oracle is off, so that the cost of the instrumentation
//! can be measured against a build without it; that build cannot check answers.
//!
//! Objects freed by a reclaimer are counted in a thread-local cell by whichever
//! thread runs the reclaimer; each worker publishes its cell into its `freed`
//! counter after every operation.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// One thread's counters (single writer).
        #[derive(Debug, Default)]
        pub struct Counters {
            $($(#[$doc])* pub $name: Counter,)*
        }

        /// Counters summed or subtracted: plain numbers.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
        pub struct Totals {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Counters {
            /// Read every counter (Relaxed: a statistic, nothing is ordered after it).
            pub fn snapshot(&self) -> Totals {
                Totals { $($name: self.$name.get(),)* }
            }
        }

        impl std::ops::AddAssign for Totals {
            fn add_assign(&mut self, o: Totals) {
                $(self.$name += o.$name;)*
            }
        }

        impl std::ops::Sub for Totals {
            type Output = Totals;
            fn sub(self, o: Totals) -> Totals {
                Totals { $($name: self.$name.wrapping_sub(o.$name),)* }
            }
        }
    };
}

counters! {
    /// Faults made (each is a success or a fallback).
    faults,
    /// Faults served under the per-VMA read lock.
    lock_success,
    /// Lock attempts abandoned (each leads to a fallback).
    lock_abort,
    /// VMAs found detached and looked up again.
    lock_miss,
    /// Faults served under the mm-wide lock.
    fallbacks,
    /// Mappings created.
    maps,
    /// Mappings removed (each removed VMA is handed to the scheme's free path).
    unmaps,
    /// Deferred-free registrations (`defer_destroy`, `retire`, slab releases).
    free_calls,
    /// Objects whose memory became reusable.
    freed,
    /// Allocations served by an object that held a mapping before (no grace period).
    reused,
    /// Faults that ran on a VMA that was not the caller's mapping of the address.
    wrong,
    /// Broken-twin failures caught without a wrong answer: refcount underflows
    /// (a put without a get, caught and undone) and touches of a freed mm.
    errors,
}

/// A counter written by one thread only.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Add `n`. Only the owning thread calls this.
    #[inline]
    pub fn add(&self, n: u64) {
        if cfg!(vma_bench_bare) {
            // The overhead-measurement build: no counters at all.
            return;
        }
        // Relaxed load and store, not fetch_add: this thread is the only writer, so
        // no update is lost, and readers only need some recent value.
        self.0
            .store(self.0.load(Ordering::Relaxed) + n, Ordering::Relaxed);
    }

    /// Add one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Overwrite (the owning thread publishing a value it keeps elsewhere).
    #[inline]
    pub fn set(&self, v: u64) {
        // Relaxed: single writer, see `add`.
        self.0.store(v, Ordering::Relaxed);
    }

    /// Current value.
    #[inline]
    pub fn get(&self) -> u64 {
        // Relaxed: a statistic; nothing is ordered after it.
        self.0.load(Ordering::Relaxed)
    }
}

thread_local! {
    static FREED: Cell<u64> = const { Cell::new(0) };
}

/// Count `n` objects freed by a reclaimer running on this thread.
#[inline]
pub fn count_freed(n: u64) {
    FREED.with(|f| f.set(f.get() + n));
}

/// Objects freed by reclaimers on this thread since it started.
#[inline]
pub fn freed_here() -> u64 {
    FREED.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_and_subtract() {
        let c = Counters::default();
        c.faults.add(5);
        c.wrong.inc();
        let a = c.snapshot();
        c.faults.add(3);
        let d = c.snapshot() - a;
        assert_eq!((d.faults, d.wrong), (3, 0));
        let mut s = a;
        s += a;
        assert_eq!(s.faults, 10);
    }

    #[test]
    fn freed_is_per_thread() {
        let before = freed_here();
        count_freed(2);
        let other = std::thread::spawn(freed_here).join().unwrap();
        assert_eq!(freed_here() - before, 2);
        assert_eq!(other, 0);
    }
}
