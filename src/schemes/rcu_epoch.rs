//! `rcu-epoch`: call_rcu-style deferred free with crossbeam-epoch. The read
//! section (a pin) covers find + lock only, as `lock_vma_under_rcu` does; each
//! removed VMA is one deferred destroy on a collector owned by the run.

use std::ptr::NonNull;
use std::sync::atomic::Ordering;

use crossbeam_epoch::{self as epoch, Atomic, Collector, Guard, LocalHandle, Shared};

use crate::model::boxed::{drop_vma, new_vma};
use crate::model::counters::Counters;
use crate::model::scheme::Scheme;
use crate::model::vma::Vma;

/// Deferred free through an epoch collector (one per run, drained when dropped).
#[derive(Debug, Default)]
pub struct RcuEpoch {
    collector: Collector,
}

// SAFETY: `find` loads under a pin and objects are destroyed only through
// `defer_unchecked` after removal, i.e. after every pin that could see them ended
// (1, 2); `alloc` returns a new detached box (3); `publish` swaps with Release (4).
unsafe impl Scheme for RcuEpoch {
    const NAME: &'static str = "rcu-epoch";
    type Slot = Atomic<Vma>;
    type Local<'a> = LocalHandle;
    type Section<'a> = Guard;

    fn local(&self) -> LocalHandle {
        self.collector.register()
    }
    #[inline]
    fn enter(&self, local: &mut LocalHandle) -> Guard {
        local.pin()
    }
    #[inline]
    fn find(section: &mut Guard, slot: &Self::Slot) -> Option<NonNull<Vma>> {
        // Acquire: pairs with the Release swap in `publish`.
        NonNull::new(slot.load(Ordering::Acquire, section).as_raw().cast_mut())
    }
    fn new_slot(&self, vma: NonNull<Vma>) -> Self::Slot {
        Atomic::from(vma.as_ptr().cast_const())
    }
    #[inline]
    fn current(slot: &Self::Slot) -> *mut Vma {
        // SAFETY: `unprotected` is sound when the loaded pointer is not dereferenced
        // through it; callers only compare it or dereference it under mmap_lock.
        let guard = unsafe { epoch::unprotected() };
        // Relaxed: see `Scheme::current`; ordering comes from the mm lock or the
        // reader's Acquire CAS.
        slot.load(Ordering::Relaxed, guard).as_raw().cast_mut()
    }
    fn publish(&self, slot: &Self::Slot, new: NonNull<Vma>) -> NonNull<Vma> {
        // SAFETY: as in `current`: the old pointer returned is not dereferenced here.
        let guard = unsafe { epoch::unprotected() };
        // Release: pairs with the Acquire load in `find`, publishing the new VMA.
        let old = slot.swap(
            Shared::from(new.as_ptr().cast_const()),
            Ordering::AcqRel,
            guard,
        );
        NonNull::new(old.as_raw().cast_mut()).expect("a slot always holds a VMA")
    }
    fn alloc(&self, _local: &mut LocalHandle) -> NonNull<Vma> {
        new_vma()
    }
    unsafe fn free(&self, local: &mut LocalHandle, vma: NonNull<Vma>, c: &Counters) {
        let guard = local.pin();
        let p = crate::model::boxed::SendPtr(vma);
        let reclaim = move || {
            let p = p;
            // SAFETY: run by the collector once, after every pin that could have
            // loaded the object ended; allocated by `new_vma`.
            unsafe { drop_vma(p.0) };
        };
        // SAFETY: the object is unreachable from the index (caller's promise), so
        // only pins that began before now can hold it; `reclaim` frees only it.
        unsafe { guard.defer_unchecked(reclaim) };
        c.free_calls.inc();
    }
    unsafe fn destroy(&self, vma: NonNull<Vma>) {
        // SAFETY: the caller promises exclusivity.
        unsafe { drop_vma(vma) };
    }
}
