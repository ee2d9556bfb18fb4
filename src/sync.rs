//! The atomics and the locks the protocol and the model are written against.
//!
//! Normally these are `std`'s. Built with `RUSTFLAGS="--cfg vma_bench_loom"` they
//! are loom's, so the loom models can explore every interleaving and weak-memory
//! outcome of the per-VMA lock, the index and the writers. The cfg name is
//! crate-prefixed on purpose: a plain `--cfg loom` would also switch haphazard,
//! which reads that name itself.

#[cfg(not(vma_bench_loom))]
pub use std::sync::atomic;

#[cfg(vma_bench_loom)]
pub use loom::sync::atomic;

/// A blocking lock (the kernel's spinlocks of the slab allocator: `list_lock`,
/// `barn->lock`); loom's under `--cfg vma_bench_loom`.
#[cfg(not(vma_bench_loom))]
pub use std::sync::{Mutex, MutexGuard};

/// A blocking lock (the kernel's spinlocks of the slab allocator: `list_lock`,
/// `barn->lock`); loom's under `--cfg vma_bench_loom`.
#[cfg(vma_bench_loom)]
pub use loom::sync::{Mutex, MutexGuard};

/// A reader-writer lock (`mmap_lock`); loom's under `--cfg vma_bench_loom`, so
/// that a model sees the order it gives a writer's accesses (a std lock would
/// order them unseen, and loom would then explore outcomes the lock forbids).
#[cfg(not(vma_bench_loom))]
pub use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A reader-writer lock (`mmap_lock`); loom's under `--cfg vma_bench_loom`, so
/// that a model sees the order it gives a writer's accesses (a std lock would
/// order them unseen, and loom would then explore outcomes the lock forbids).
#[cfg(vma_bench_loom)]
pub use loom::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Waits politely for another thread to make progress (a writer draining readers).
#[inline]
pub fn spin_wait(round: &mut u32) {
    #[cfg(vma_bench_loom)]
    {
        let _ = round;
        loom::thread::yield_now();
    }
    #[cfg(not(vma_bench_loom))]
    {
        *round += 1;
        if *round < 64 {
            std::hint::spin_loop();
        } else {
            // On an oversubscribed machine the reader we wait for may be preempted:
            // give it the CPU, as the kernel's rcuwait sleeps.
            std::thread::yield_now();
        }
    }
}
