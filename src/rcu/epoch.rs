//! `Epoch`: RCU on crossbeam-epoch, with a private collector per instance.
//!
//! A thread is a `LocalHandle` of the instance's collector; a read section is
//! one pin (a `Guard`); `call_rcu` pins and defers a small closure that runs
//! [`Deferrable::reclaim`]. The grace period is epoch-based: a deferred object
//! is reclaimed two global epochs after it was deferred, and the epoch only
//! advances when every pinned thread has seen it, so a pin is a read section.
//! Deferred closures wait in per-thread bags of 64 until a bag is full, and a
//! collection is tried every 128 pins: reclamation lags the grace period.
//!
//! Dropping an `Epoch` runs every callback it still holds. The thread and
//! read-section types borrow the instance, so when it drops the instance's
//! `Collector` is the last reference to crossbeam's global state, and dropping
//! that global runs every bag still queued in it (each `LocalHandle` pushed its
//! bag there when it was dropped). The accounting test checks this.

use std::marker::PhantomData;
use std::ptr::NonNull;

use crossbeam_epoch::{Collector, Guard, LocalHandle};

use super::{Deferrable, Rcu, RcuSettings};

/// RCU on a private crossbeam-epoch `Collector` (`--rcu epoch`).
#[derive(Debug, Default)]
pub struct Epoch {
    collector: Collector,
}

/// A thread registered with an [`Epoch`]: its `LocalHandle`.
#[derive(Debug)]
pub struct EpochThread<'a> {
    handle: LocalHandle,
    _rcu: PhantomData<&'a Epoch>,
}

/// A read section of an [`Epoch`]: one pin.
#[derive(Debug)]
pub struct EpochRead<'a> {
    _guard: Guard,
    _rcu: PhantomData<&'a Epoch>,
}

/// The object a deferred closure reclaims; a pointer, to keep the closure one
/// word (crossbeam stores closures of up to three words inline in its bag, with
/// no allocation).
struct Deferred<T>(NonNull<T>);

impl<T: Deferrable> Deferred<T> {
    /// # Safety
    /// As [`Deferrable::reclaim`].
    unsafe fn reclaim(self) {
        // SAFETY: the caller's promise.
        unsafe { T::reclaim(self.0) }
    }
}

/// Words crossbeam-epoch stores inline for one deferred closure.
const INLINE_WORDS: usize = 3;

/// `f`, checked at compile time to fit inline in crossbeam's bag.
fn inline_closure<F: FnOnce()>(f: F) -> F {
    const {
        assert!(std::mem::size_of::<F>() <= INLINE_WORDS * std::mem::size_of::<usize>());
        assert!(std::mem::align_of::<F>() <= std::mem::align_of::<usize>());
    }
    f
}

// SAFETY: (1) an object is deferred under a pin taken after the caller made it
// unreachable, and crossbeam runs the closure once, only after every pin that
// began before that pin has ended; nested pins only extend a section. (2) The
// thread and read types borrow the instance, so at its drop every handle and
// pin is gone and the collector is the last reference to its global, whose drop
// runs every closure still queued (see the module doc).
unsafe impl Rcu for Epoch {
    const NAME: &'static str = "epoch";
    type Thread<'a> = EpochThread<'a>;
    type Read<'a> = EpochRead<'a>;

    fn new(_settings: &RcuSettings) -> Self {
        Epoch::default()
    }

    fn register(&self) -> EpochThread<'_> {
        EpochThread {
            handle: self.collector.register(),
            _rcu: PhantomData,
        }
    }

    #[inline]
    fn read_lock<'a>(&'a self, t: &mut EpochThread<'a>) -> EpochRead<'a> {
        EpochRead {
            _guard: t.handle.pin(),
            _rcu: PhantomData,
        }
    }

    unsafe fn call_rcu<'a, T: Deferrable>(&'a self, t: &mut EpochThread<'a>, obj: NonNull<T>) {
        let guard = t.handle.pin();
        let deferred = Deferred(obj);
        let reclaim = inline_closure(move || {
            let deferred = deferred;
            // SAFETY: crossbeam runs this once, after every pin that began before
            // `guard` ended; `obj` was queued once (the caller's promise).
            unsafe { deferred.reclaim() }
        });
        // SAFETY: `obj` is unreachable to pins that begin later (the caller's
        // promise), so only pins older than `guard` can hold it, and crossbeam
        // waits for them; `T::reclaim` may run on any thread (Deferrable's
        // contract), and the closure owns nothing borrowed.
        unsafe { guard.defer_unchecked(reclaim) };
    }
}
