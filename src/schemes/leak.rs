//! `leak`: no reclamation at all. Removed VMAs are never freed during a run: the
//! ceiling every other scheme is measured against. They are released when the
//! scheme is dropped, after the run.

use std::ptr::NonNull;
use std::sync::atomic::AtomicPtr;
use std::sync::Mutex;

use crate::model::boxed::{drop_vma, new_vma, std_find, SendPtr};
use crate::model::counters::Counters;
use crate::model::scheme::Scheme;
use crate::model::vma::Vma;

/// No reclamation.
#[derive(Debug, Default)]
pub struct Leak {
    leaked: Mutex<Vec<SendPtr>>,
}

/// A thread's removed VMAs, handed to the scheme when the thread is done.
pub struct Leaked<'a> {
    scheme: &'a Leak,
    list: Vec<SendPtr>,
}

impl Drop for Leaked<'_> {
    fn drop(&mut self) {
        let mut all = self.scheme.leaked.lock().unwrap_or_else(|e| e.into_inner());
        all.append(&mut self.list);
    }
}

impl Drop for Leak {
    fn drop(&mut self) {
        let list = std::mem::take(self.leaked.get_mut().unwrap_or_else(|e| e.into_inner()));
        for p in list {
            // SAFETY: every handle is gone (they borrow the scheme), so no reader can
            // reach these removed objects; each was pushed once.
            unsafe { drop_vma(p.0) };
        }
    }
}

// SAFETY: nothing is freed while the scheme lives, so promises 1 and 2 hold;
// `alloc` returns a new detached box (3); `publish` swaps with Release (4).
unsafe impl Scheme for Leak {
    const NAME: &'static str = "leak";
    type Slot = AtomicPtr<Vma>;
    type Local<'a> = Leaked<'a>;
    type Section<'a> = ();

    fn local(&self) -> Leaked<'_> {
        Leaked {
            scheme: self,
            list: Vec::new(),
        }
    }
    #[inline]
    fn enter<'a>(&'a self, _local: &mut Leaked<'a>) {}
    #[inline]
    fn find(_section: &mut (), slot: &Self::Slot) -> Option<NonNull<Vma>> {
        std_find(slot)
    }
    crate::model::boxed::std_slot_ops!();
    fn alloc(&self, _local: &mut Leaked<'_>) -> NonNull<Vma> {
        new_vma()
    }
    unsafe fn free(&self, local: &mut Leaked<'_>, vma: NonNull<Vma>, _c: &Counters) {
        local.list.push(SendPtr(vma));
    }
    unsafe fn destroy(&self, vma: NonNull<Vma>) {
        // SAFETY: the caller promises exclusivity.
        unsafe { drop_vma(vma) };
    }
}
