//! `leak`: no reclamation at all, the ceiling every other scheme is measured
//! against. Faults walk the index with no read section (nothing they can reach
//! is ever freed); removed VMAs and replaced nodes are kept until the scheme is
//! dropped, after the run, and only then go back to their caches.

use std::ptr::NonNull;
use std::sync::Mutex;

use crate::model::index::RcuWalk;
use crate::model::scheme::{Free, Scheme};
use crate::rcu::{Deferrable, RcuSettings};

/// An object kept until the end, with the callback that frees it then.
struct Kept(NonNull<u8>, unsafe fn(NonNull<u8>));

// SAFETY: a kept object is touched again only by the scheme's drop, after every
// thread that could reach it is gone; `Deferrable` objects are freed from any
// thread by design (their callbacks run wherever a flavour runs them).
unsafe impl Send for Kept {}

/// Run `T`'s callback on a type-erased pointer.
///
/// # Safety
/// `p` is a `NonNull<T>` kept by `defer`, reclaimed once.
unsafe fn reclaim_erased<T: Deferrable>(p: NonNull<u8>) {
    // SAFETY: the caller's promise.
    unsafe { T::reclaim(p.cast()) }
}

/// No reclamation.
#[derive(Default)]
pub struct Leak {
    kept: Mutex<Vec<Kept>>,
}

/// A thread's kept objects, handed to the scheme when the thread is done (so
/// that keeping one costs a push, not a lock).
pub struct Leaked<'a> {
    scheme: &'a Leak,
    list: Vec<Kept>,
}

impl Drop for Leaked<'_> {
    fn drop(&mut self) {
        let mut all = self.scheme.kept.lock().unwrap_or_else(|e| e.into_inner());
        all.append(&mut self.list);
    }
}

impl Drop for Leak {
    fn drop(&mut self) {
        let list = std::mem::take(self.kept.get_mut().unwrap_or_else(|e| e.into_inner()));
        for Kept(p, reclaim) in list {
            // SAFETY: every handle is gone (they borrow the scheme), so no reader can
            // reach these removed objects; each was kept once.
            unsafe { reclaim(p) };
        }
    }
}

// SAFETY: nothing is reclaimed while the scheme lives, so every pointer a walk
// loads stays valid memory (1), and `defer`'s objects are reclaimed only in the
// scheme's drop, after every section (2); no Free::Now (3, 4).
unsafe impl Scheme for Leak {
    const NAME: &'static str = "leak";
    const RCU: &'static str = "none";
    const VMA_FREE: Free = Free::Never;
    const NODE_FREE: Free = Free::Never;
    type Local<'a> = Leaked<'a>;
    type Section<'a> = RcuWalk;

    fn new(_settings: &RcuSettings) -> Self {
        Leak::default()
    }
    fn local(&self) -> Leaked<'_> {
        Leaked {
            scheme: self,
            list: Vec::new(),
        }
    }
    #[inline]
    fn enter<'a>(&'a self, _local: &mut Leaked<'a>) -> RcuWalk {
        RcuWalk
    }
    #[inline]
    fn leave<'a>(&'a self, _local: &mut Leaked<'a>, _section: RcuWalk) {}
    unsafe fn defer<'a, T: Deferrable>(&'a self, local: &mut Leaked<'a>, obj: NonNull<T>) {
        local.list.push(Kept(obj.cast(), reclaim_erased::<T>));
    }
}
