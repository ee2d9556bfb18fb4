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
//! Frees that happen on another thread (an RCU callback, a hazard-pointer
//! reclaimer) are counted by the slab caches themselves, not here: these
//! counters hold what the workers did, counted where they did it.

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
    /// Faults served: the fault body ran on a VMA (under the per-VMA lock or
    /// under `mmap_lock`).
    faults,
    /// Faults answered "no mapping" under `mmap_lock` (SIGSEGV in the kernel):
    /// the address was unmapped by a munmap not yet followed by its mmap.
    segv,
    /// Faults served under the per-VMA read lock.
    lock_success,
    /// Lock attempts abandoned (each leads to a fallback).
    lock_abort,
    /// VMAs found detached and looked up again.
    lock_miss,
    /// Faults that took `mmap_lock` for read (served, or answered "no mapping").
    fallbacks,
    /// Mappings created.
    maps,
    /// Mappings removed (each removed VMA is handed to the scheme's free path).
    unmaps,
    /// Index nodes replaced by a store (each handed to the scheme's free path).
    nodes_replaced,
    /// Deferred frees of VMAs: `call_rcu`, crossbeam's `defer`, seize's and
    /// haphazard's `retire`, counted where the call is made.
    vma_call_rcu,
    /// Deferred frees of index nodes, counted likewise.
    node_call_rcu,
    /// Deferred releases of an emptied slab of the SLAB_TYPESAFE_BY_RCU VMA
    /// cache (one `call_rcu` per slab), counted likewise.
    slab_call_rcu,
    /// VMAs freed into their cache at once (no grace period).
    vma_freed_now,
    /// Index nodes freed into their cache at once.
    node_freed_now,
    /// VMA allocations served by an object freed without a grace period.
    reused,
    /// Faults that ran on a VMA that was not the caller's mapping of the
    /// address, or answered "no mapping" where there was one.
    wrong,
    /// Broken-twin failures caught without a wrong answer: refcount underflows
    /// (a put without a get, caught and undone) and touches of a freed mm.
    errors,
    /// In-place changes of an attached VMA made (mprotect, madvise), counted by
    /// the writer that made them.
    changes,
    /// In-place changes the removed VMAs carried when they were removed (each
    /// VMA counts its own): with the changes the mapped VMAs carry at the end,
    /// the tally the writers' `changes` is set against.
    changes_removed,
    /// Forks made (`dup_mmap`), counted by the forking writer.
    forks,
    /// VMAs copied into forked children (`vm_area_dup`); each child exits at
    /// once, its copies freed through the scheme's free path.
    fork_copies,
    /// Index nodes of forked children, freed likewise.
    fork_nodes,
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
}
