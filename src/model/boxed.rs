//! VMAs on the system allocator, one box each: what every scheme but `typesafe`
//! uses. The only place a boxed VMA is created or dropped.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::model::counters::count_freed;
use crate::model::vma::Vma;

/// A new detached VMA on the heap.
pub fn new_vma() -> NonNull<Vma> {
    NonNull::from(Box::leak(Box::new(Vma::new())))
}

/// Free a boxed VMA and count it as freed on this thread.
///
/// # Safety
/// `vma` came from [`new_vma`], is freed once, and no thread can reach it any more.
pub unsafe fn drop_vma(vma: NonNull<Vma>) {
    // SAFETY: allocated by `Box` in `new_vma`; the caller guarantees exclusivity.
    drop(unsafe { Box::from_raw(vma.as_ptr()) });
    count_freed(1);
}

/// A slot as a std `AtomicPtr`, for the schemes whose library uses plain pointers.
pub fn std_slot(vma: NonNull<Vma>) -> AtomicPtr<Vma> {
    AtomicPtr::new(vma.as_ptr())
}

/// Swap a std slot (Release: pairs with the Acquire load in the reader's find,
/// publishing the new VMA's fields; Acquire: we read nothing of the old one).
pub fn std_publish(slot: &AtomicPtr<Vma>, new: NonNull<Vma>) -> NonNull<Vma> {
    let old = slot.swap(new.as_ptr(), Ordering::AcqRel);
    NonNull::new(old).expect("a slot always holds a VMA outside a writer")
}

/// Load a std slot for a reader (Acquire: pairs with the Release in `std_publish`).
#[inline]
pub fn std_find(slot: &AtomicPtr<Vma>) -> Option<NonNull<Vma>> {
    NonNull::new(slot.load(Ordering::Acquire))
}

/// A VMA pointer that may cross threads. `Vma` is `Sync` (every field is an
/// atomic), so sending a pointer to one is as safe as sending a `&Vma`; what the
/// pointer may be used for is each holder's own contract.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SendPtr(pub NonNull<Vma>);

// SAFETY: see the type's comment: the pointee is `Sync`, and ownership rules are
// enforced by the holders (the pool, the leak list), not by this wrapper.
unsafe impl Send for SendPtr {}

/// The slot operations of a scheme whose slots are std `AtomicPtr`s: written once,
/// expanded inside each such `impl Scheme`.
macro_rules! std_slot_ops {
    () => {
        fn new_slot(&self, vma: std::ptr::NonNull<$crate::model::vma::Vma>) -> Self::Slot {
            $crate::model::boxed::std_slot(vma)
        }
        #[inline]
        fn current(slot: &Self::Slot) -> *mut $crate::model::vma::Vma {
            // Relaxed: the pointer is only compared, or dereferenced under mmap_lock
            // (which orders it) or under a read reference taken with Acquire.
            slot.load(std::sync::atomic::Ordering::Relaxed)
        }
        fn publish(
            &self,
            slot: &Self::Slot,
            new: std::ptr::NonNull<$crate::model::vma::Vma>,
        ) -> std::ptr::NonNull<$crate::model::vma::Vma> {
            $crate::model::boxed::std_publish(slot, new)
        }
    };
}
pub(crate) use std_slot_ops;
