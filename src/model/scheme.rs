//! The one thing that differs between reclamation schemes: how the index is read
//! and how a removed VMA's memory is given back.
//!
//! Everything else (the per-VMA lock, `lock_vma_under_rcu`, the writers, the
//! oracle) is written once in [`crate::model::mm`], generic over a [`Scheme`].

use std::ptr::NonNull;

use crate::model::counters::Counters;
use crate::model::vma::{Mistake, Vma};

/// A memory-reclamation scheme for VMAs.
///
/// # Safety
///
/// Implementors promise:
/// 1. A pointer returned by [`find`](Scheme::find) points to a `Vma` that stays
///    valid memory until the next `find` on the same section, or until the
///    section is dropped or passed to [`leave`](Scheme::leave), whichever is first.
/// 2. An object passed to [`free`](Scheme::free) stays a valid `Vma` for as long as
///    any section that could have found it is alive. After that its memory may be
///    released; a type-stable scheme may instead hand it out again at once, as long
///    as the memory stays a `Vma` until the scheme is dropped.
/// 3. [`alloc`](Scheme::alloc) returns an object that is detached (`refcnt == 0`)
///    and in no slot; only stale readers may still touch it.
/// 4. [`publish`](Scheme::publish) stores with Release ordering and returns the
///    pointer it replaced; [`find`](Scheme::find) loads with (at least) Acquire.
///
/// Callers promise:
/// 1. An object is passed to `free` (or `destroy`) once, after it was removed from
///    every slot and detached, with no read reference left.
/// 2. `destroy` is called only when no section and no other thread can reach it.
pub unsafe trait Scheme: Send + Sync + Sized + 'static {
    /// The name used on the command line and in the CSV.
    const NAME: &'static str;
    /// Whether faults try the per-VMA lock at all (false: the pre-6.4 kernel).
    const PER_VMA_LOCK: bool = true;
    /// The protocol mistake compiled into this scheme (broken twins only).
    const MISTAKE: Mistake = Mistake::None;

    /// What an index slot holds.
    type Slot: Send + Sync;
    /// Per-thread state: a hazard pointer, an epoch handle, an allocator cache.
    type Local<'a>
    where
        Self: 'a;
    /// A read-side critical section.
    type Section<'a>
    where
        Self: 'a;

    /// Per-thread state for a new thread.
    fn local(&self) -> Self::Local<'_>;
    /// Enter a read-side critical section.
    fn enter<'a>(&'a self, local: &mut Self::Local<'a>) -> Self::Section<'a>;
    /// Leave it (the default drops it).
    #[inline]
    fn leave<'a>(&'a self, _local: &mut Self::Local<'a>, section: Self::Section<'a>) {
        drop(section);
    }
    /// Load a slot's VMA under the section's protection.
    fn find(section: &mut Self::Section<'_>, slot: &Self::Slot) -> Option<NonNull<Vma>>;

    /// A slot holding `vma`.
    fn new_slot(&self, vma: NonNull<Vma>) -> Self::Slot;
    /// The slot's pointer, never dereferenced by the caller unless it holds the mm
    /// lock or a read reference on it.
    fn current(slot: &Self::Slot) -> *mut Vma;
    /// Store `new` into `slot` (Release) and return what it held. Caller holds the
    /// mm lock for write.
    fn publish(&self, slot: &Self::Slot, new: NonNull<Vma>) -> NonNull<Vma>;

    /// A detached object for a new mapping (possibly a reused one).
    fn alloc(&self, local: &mut Self::Local<'_>) -> NonNull<Vma>;
    /// Hand a removed, detached object to the scheme's free path.
    ///
    /// # Safety
    /// The caller's promise 1 above.
    unsafe fn free(&self, local: &mut Self::Local<'_>, vma: NonNull<Vma>, c: &Counters);
    /// Release an object at teardown.
    ///
    /// # Safety
    /// The caller's promises 1 and 2 above.
    unsafe fn destroy(&self, vma: NonNull<Vma>);
}

/// Something done with a scheme's type, chosen at run time: the registry
/// (`SchemeId::visit`) calls `visit` with the type its name stands for.
pub trait Visit {
    /// What it returns.
    type Out;
    /// Do it with scheme `S`.
    fn visit<S: Scheme + Default>(self) -> Self::Out;
}
