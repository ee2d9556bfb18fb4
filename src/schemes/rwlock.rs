//! `rwlock`: every fault holds the mm-wide lock for read (the kernel before 6.4).
//! There is no lockless lookup, so a removed VMA is freed at once.

use std::ptr::NonNull;
use std::sync::atomic::AtomicPtr;

use crate::model::boxed::{drop_vma, new_vma};
use crate::model::counters::Counters;
use crate::model::scheme::Scheme;
use crate::model::vma::Vma;

/// The pre-6.4 kernel: `mmap_lock` for every fault.
#[derive(Debug, Default)]
pub struct Rwlock;

// SAFETY: `find` never returns a pointer (promises 1 and 2 hold vacuously: readers
// only dereference under mmap_lock, and writers free under it); `alloc` returns a
// new detached box (3); `publish` swaps with Release (4).
unsafe impl Scheme for Rwlock {
    const NAME: &'static str = "rwlock";
    const PER_VMA_LOCK: bool = false;
    type Slot = AtomicPtr<Vma>;
    type Local<'a> = ();
    type Section<'a> = ();

    fn local(&self) {}
    fn enter(&self, _local: &mut ()) {}
    #[inline]
    fn find(_section: &mut (), _slot: &Self::Slot) -> Option<NonNull<Vma>> {
        None
    }
    crate::model::boxed::std_slot_ops!();
    fn alloc(&self, _local: &mut ()) -> NonNull<Vma> {
        new_vma()
    }
    unsafe fn free(&self, _local: &mut (), vma: NonNull<Vma>, _c: &Counters) {
        // SAFETY: readers reach VMAs only under mmap_lock, which this writer holds
        // for write; the caller promises it is removed and freed once.
        unsafe { drop_vma(vma) };
    }
    unsafe fn destroy(&self, vma: NonNull<Vma>) {
        // SAFETY: the caller promises exclusivity.
        unsafe { drop_vma(vma) };
    }
}
