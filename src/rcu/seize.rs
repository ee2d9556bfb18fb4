//! `Seize`: RCU on a seize `Collector` (Hyaline-style reference-counted
//! batches), one per instance.
//!
//! A read section is a `LocalGuard` from `enter()` (it marks the thread
//! active); `call_rcu` is `retire` with a reclaimer that runs
//! [`Deferrable::reclaim`]. Retired objects collect in a per-thread batch; when
//! a batch holds [`RcuSettings::seize_batch`] objects it is handed to every
//! thread active at that moment, and the last of them to leave its section
//! reclaims it. So the batch size trades the cost of a retirement (a heavy
//! barrier per batch) against how long objects wait: small batches reclaim
//! sooner and pay more barriers. seize needs no thread registration.
//!
//! What a section costs: `enter` looks up seize's thread id and reservation,
//! counts the guard and stores a mark that the thread is active (a plain store
//! where seize uses `membarrier` for the retire side's barrier); dropping the
//! guard swaps the reservation's head, a locked instruction on x86 and most of
//! the cost. That is as cheap as seize's API makes a section per fault:
//! `enter_owned` costs more (a thread slot per guard), and a guard kept across
//! faults and `refresh`ed pays the same swap while leaving the thread active
//! between faults, which would be a different (QSBR-like) flavour. seize's
//! contract has pointers loaded inside a section through `Guard::protect`,
//! which raises any ordering to SeqCst (on x86 the same load as Acquire).
//!
//! Dropping a `Seize` drops its collector, which reclaims every batch still
//! held (`reclaim_all`): the thread and read types borrow the instance, so no
//! thread is active then.

use std::marker::PhantomData;
use std::ptr::NonNull;

use ::seize::{Collector, LocalGuard};

use super::{Deferrable, Rcu, RcuSettings};

/// RCU on a private seize `Collector` (`--rcu seize`).
#[derive(Debug)]
pub struct Seize {
    collector: Collector,
}

/// A thread using a [`Seize`]: nothing to register (seize finds a thread's
/// state by its thread id); the type only keeps the calls on one thread.
#[derive(Debug)]
pub struct SeizeThread<'a> {
    _rcu: PhantomData<(&'a Seize, *const ())>,
}

/// seize's reclaimer for a `T`: its callback.
///
/// # Safety
/// `ptr` was retired once, from a non-null `NonNull<T>`, and no guard that
/// could have reached it is still active (seize calls this only then).
unsafe fn reclaim<T: Deferrable>(ptr: *mut T, _collector: &Collector) {
    // SAFETY: `ptr` came from the `NonNull` passed to `call_rcu`.
    let this = unsafe { NonNull::new_unchecked(ptr) };
    // SAFETY: seize runs this once, after every guard that was active when its
    // batch was retired has been dropped (the caller's promise).
    unsafe { T::reclaim(this) }
}

// SAFETY: (1) an object is retired after the caller made it unreachable; seize
// reclaims a batch only after every guard active when the batch was retired has
// been dropped, once per object. (2) The thread and read types borrow the
// instance, so at its drop no guard is active and the collector's drop reclaims
// every batch still held.
unsafe impl Rcu for Seize {
    const NAME: &'static str = "seize";
    /// SeqCst, as seize's `Guard::protect` loads: paired with the light barrier
    /// of `enter`, such loads see the new value of a pointer retired while the
    /// thread was inactive (the same instruction as Acquire on x86).
    const LOAD: std::sync::atomic::Ordering = std::sync::atomic::Ordering::SeqCst;
    type Thread<'a> = SeizeThread<'a>;
    type Read<'a> = LocalGuard<'a>;

    fn new(settings: &RcuSettings) -> Self {
        Seize {
            collector: Collector::new().batch_size(settings.seize_batch.max(1)),
        }
    }

    fn register(&self) -> SeizeThread<'_> {
        SeizeThread { _rcu: PhantomData }
    }

    #[inline]
    fn read_lock<'a>(&'a self, _t: &mut SeizeThread<'a>) -> LocalGuard<'a> {
        self.collector.enter()
    }

    unsafe fn call_rcu<'a, T: Deferrable>(&'a self, _t: &mut SeizeThread<'a>, obj: NonNull<T>) {
        // SAFETY: `obj` is unreachable to sections that begin later and queued
        // once (the caller's promise); this thread does not touch it again, and
        // `reclaim::<T>` is the right reclaimer for it (may run on any thread,
        // by Deferrable's contract).
        unsafe { self.collector.retire(obj.as_ptr(), reclaim::<T>) };
    }
}
