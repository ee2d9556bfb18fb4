//! `hazard`: hazard pointers with haphazard. One hazard pointer per thread covers
//! find + lock; each removed VMA is retired into a domain owned by the run.

use std::ptr::NonNull;

use haphazard::{raw::Pointer, AtomicPtr, Domain, HazardPointer};

use crate::model::boxed::{drop_vma, new_vma};
use crate::model::counters::Counters;
use crate::model::scheme::Scheme;
use crate::model::vma::Vma;

/// The domain family of this scheme's hazard pointers.
#[derive(Debug)]
pub struct VmaFamily;

/// The owner haphazard drops a retired VMA through: frees it and counts it.
pub struct CountedBox(NonNull<Vma>);

impl std::ops::Deref for CountedBox {
    type Target = Vma;
    fn deref(&self) -> &Vma {
        // SAFETY: a `CountedBox` owns a live boxed VMA until it is dropped.
        unsafe { self.0.as_ref() }
    }
}

impl Drop for CountedBox {
    fn drop(&mut self) {
        // SAFETY: haphazard drops the owner once, after no hazard pointer protects
        // it; the VMA was allocated by `new_vma`.
        unsafe { drop_vma(self.0) };
    }
}

// SAFETY: `into_raw` hands out the box's pointer, valid until `from_raw` takes it
// back (1, 2); `from_raw` wraps the pointer it was given once (3).
unsafe impl Pointer<Vma> for CountedBox {
    fn into_raw(self) -> *mut Vma {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }
    unsafe fn from_raw(ptr: *mut Vma) -> Self {
        // SAFETY: haphazard passes back a pointer from `into_raw` (never null).
        CountedBox(unsafe { NonNull::new_unchecked(ptr) })
    }
}

/// Hazard pointers over a domain owned by the run (drained when dropped).
pub struct Hazard {
    domain: Domain<VmaFamily>,
}

impl Default for Hazard {
    fn default() -> Self {
        Hazard {
            domain: Domain::new(&VmaFamily),
        }
    }
}

// SAFETY: `find` returns a pointer protected by the thread's hazard pointer until
// its next protect or `reset_protection` in `leave` (1); removed objects are
// retired into `domain`, which frees them only when no hazard pointer names them
// (2); `alloc` returns a new detached box (3); `swap_ptr` stores with Release (4).
unsafe impl Scheme for Hazard {
    const NAME: &'static str = "hazard";
    type Slot = AtomicPtr<Vma, VmaFamily, CountedBox>;
    type Local<'a> = Option<HazardPointer<'a, VmaFamily>>;
    type Section<'a> = HazardPointer<'a, VmaFamily>;

    fn local(&self) -> Self::Local<'_> {
        Some(HazardPointer::new_in_domain(&self.domain))
    }
    #[inline]
    fn enter<'a>(&'a self, local: &mut Self::Local<'a>) -> HazardPointer<'a, VmaFamily> {
        // Taken out for the section and put back by `leave`: a thread has one
        // section at a time, so it is always there.
        local
            .take()
            .unwrap_or_else(|| HazardPointer::new_in_domain(&self.domain))
    }
    #[inline]
    fn leave<'a>(&'a self, local: &mut Self::Local<'a>, mut section: HazardPointer<'a, VmaFamily>) {
        section.reset_protection();
        *local = Some(section);
    }
    #[inline]
    fn find(section: &mut HazardPointer<'_, VmaFamily>, slot: &Self::Slot) -> Option<NonNull<Vma>> {
        // SAFETY: every object stored in this scheme's slots is retired through this
        // scheme's domain, the one the hazard pointer belongs to.
        unsafe { slot.load(section) }.map(NonNull::from)
    }
    fn new_slot(&self, vma: NonNull<Vma>) -> Self::Slot {
        // SAFETY: a valid VMA allocated as a box (the layout `CountedBox` frees) and
        // dropped only through `retire_ptr` or `destroy` at teardown.
        unsafe { AtomicPtr::new(vma.as_ptr()) }
    }
    #[inline]
    fn current(slot: &Self::Slot) -> *mut Vma {
        slot.load_ptr()
    }
    fn publish(&self, slot: &Self::Slot, new: NonNull<Vma>) -> NonNull<Vma> {
        // SAFETY: as in `new_slot`. Release inside `swap_ptr` pairs with the
        // hazard pointer's load in `find`.
        let old = unsafe { slot.swap_ptr(new.as_ptr()) };
        old.expect("a slot always holds a VMA").into_inner()
    }
    fn alloc(&self, _local: &mut Self::Local<'_>) -> NonNull<Vma> {
        new_vma()
    }
    unsafe fn free(&self, _local: &mut Self::Local<'_>, vma: NonNull<Vma>, c: &Counters) {
        // SAFETY: removed from the index (no later load returns it), retired once,
        // and every load that could see it used this domain's hazard pointers.
        unsafe { self.domain.retire_ptr::<Vma, CountedBox>(vma.as_ptr()) };
        c.free_calls.inc();
    }
    unsafe fn destroy(&self, vma: NonNull<Vma>) {
        // SAFETY: the caller promises exclusivity.
        unsafe { drop_vma(vma) };
    }
}
