//! `rcu-seize`: the same call_rcu-style deferred free with seize. A guard
//! (`enter`) covers find + lock; each removed VMA is one `retire`.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};

use seize::{Collector, Guard, LocalGuard};

use crate::model::boxed::{drop_vma, new_vma};
use crate::model::counters::Counters;
use crate::model::scheme::Scheme;
use crate::model::vma::Vma;

/// Deferred free through a seize collector (one per run, drained when dropped).
pub struct RcuSeize {
    collector: Collector,
}

impl Default for RcuSeize {
    fn default() -> Self {
        RcuSeize {
            collector: Collector::new(),
        }
    }
}

/// seize's reclaimer for a VMA: free it and count it.
///
/// # Safety
/// `ptr` was allocated by `new_vma` and retired once.
unsafe fn reclaim_vma(ptr: *mut Vma, _collector: &Collector) {
    if let Some(p) = NonNull::new(ptr) {
        // SAFETY: seize calls this once, after every guard that could see it ended.
        unsafe { drop_vma(p) };
    }
}

// SAFETY: `find` loads with `protect` under a guard, and objects are freed only by
// `retire` after removal, which waits for every guard that could see them (1, 2);
// `alloc` returns a new detached box (3); `publish` swaps with Release (4).
unsafe impl Scheme for RcuSeize {
    const NAME: &'static str = "rcu-seize";
    type Slot = AtomicPtr<Vma>;
    type Local<'a> = ();
    type Section<'a> = LocalGuard<'a>;

    fn local(&self) {}
    #[inline]
    fn enter<'a>(&'a self, _local: &mut ()) -> LocalGuard<'a> {
        self.collector.enter()
    }
    #[inline]
    fn find(section: &mut LocalGuard<'_>, slot: &Self::Slot) -> Option<NonNull<Vma>> {
        // Acquire: pairs with the Release swap in `publish`.
        NonNull::new(section.protect(slot, Ordering::Acquire))
    }
    crate::model::boxed::std_slot_ops!();
    fn alloc(&self, _local: &mut ()) -> NonNull<Vma> {
        new_vma()
    }
    unsafe fn free(&self, _local: &mut (), vma: NonNull<Vma>, c: &Counters) {
        // SAFETY: removed from the index and detached (caller's promise); seize frees
        // it after every guard that could have loaded it is dropped.
        unsafe { self.collector.retire(vma.as_ptr(), reclaim_vma) };
        c.free_calls.inc();
    }
    unsafe fn destroy(&self, vma: NonNull<Vma>) {
        // SAFETY: the caller promises exclusivity.
        unsafe { drop_vma(vma) };
    }
}
