//! `rwlock`: every fault holds the mm-wide lock for read (the kernel before 6.4).
//! There is no lockless lookup, so removed VMAs and replaced index nodes go back
//! to their caches at once.

use std::ptr::NonNull;

use crate::model::index::Locked;
use crate::model::scheme::{Free, Scheme};
use crate::rcu::{Deferrable, RcuSettings};

/// The pre-6.4 kernel: `mmap_lock` for every fault.
#[derive(Debug, Default)]
pub struct Rwlock;

// SAFETY: readers reach VMAs and nodes only under mmap_lock (PER_VMA_LOCK is
// false), which every writer holds for write while it frees: promises 1, 3, 4
// hold; `defer` reclaims at once, after every section that could see the object
// (none can) has ended (2).
unsafe impl Scheme for Rwlock {
    const NAME: &'static str = "rwlock";
    const RCU: &'static str = "none";
    const PER_VMA_LOCK: bool = false;
    const VMA_FREE: Free = Free::Now;
    const NODE_FREE: Free = Free::Now;
    type Local<'a> = ();
    type Section<'a> = Locked;

    fn new(_settings: &RcuSettings) -> Self {
        Rwlock
    }
    fn local(&self) {}
    fn enter(&self, _local: &mut ()) -> Locked {
        Locked
    }
    fn leave(&self, _local: &mut (), _section: Locked) {}
    unsafe fn defer<T: Deferrable>(&self, _local: &mut (), obj: NonNull<T>) {
        // SAFETY: no reader reaches an object without mmap_lock, so no section can
        // still hold it (the caller's promise covers the rest).
        unsafe { T::reclaim(obj) };
    }
}
