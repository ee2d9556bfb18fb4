//! The one thing that differs between reclamation schemes: how a fault's walk
//! of the index is protected, and what happens to a removed VMA or index node.
//!
//! Everything else (the index, the slab caches, the per-VMA lock,
//! `lock_vma_under_rcu`, the writers, the oracle) is written once in
//! [`crate::model`], generic over a [`Scheme`]. Every scheme allocates from the
//! same two slab caches (VMAs and index nodes); schemes differ only in the read
//! side and in the [`Free`] path of each kind of object.

use std::ptr::NonNull;

use crate::model::index::Protect;
use crate::model::vma::Mistake;
use crate::rcu::{Deferrable, RcuSettings};

/// What a scheme does with a removed object.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Free {
    /// Back into its slab cache at once: reusable by the next allocation. For a
    /// SLAB_TYPESAFE_BY_RCU cache ([`Scheme::TYPESAFE`]), only an emptied slab
    /// waits for a grace period.
    Now,
    /// One deferred call ([`Scheme::defer`]: `call_rcu`, or a hazard-pointer
    /// retire); the callback frees it into its cache.
    Deferred,
    /// Never (the no-reclamation ceiling).
    Never,
}

/// A memory-reclamation scheme.
///
/// # Safety
///
/// Implementors promise:
/// 1. A pointer a walk loads through a [`Section`](Scheme::Section) (its
///    [`Protect`]) stays valid memory of its type until the section is passed to
///    [`leave`](Scheme::leave) (a hazard-pointer section: until the next load at
///    the same level, see [`Protect`]).
/// 2. An object passed to [`defer`](Scheme::defer) is reclaimed once, after every
///    section that could have loaded it has ended.
/// 3. A scheme whose VMA free is [`Free::Now`] either has no per-VMA lock
///    (readers reach VMAs only under `mmap_lock`) or is [`TYPESAFE`](Scheme::TYPESAFE)
///    (readers validate what they lock, and the VMA cache's slabs wait for a
///    grace period through `defer`).
/// 4. A scheme whose node free is [`Free::Now`] has no per-VMA lock.
///
/// Callers promise:
/// 1. An object is passed to `defer` once, after it was made unreachable to
///    sections that begin later (and, for a VMA, detached with no reader left).
/// 2. `Local`s are used on the thread that made them.
pub unsafe trait Scheme: Send + Sync + Sized + 'static {
    /// The free policy's name (`--scheme`, the CSV's `scheme` column).
    const NAME: &'static str;
    /// The RCU flavour's name (`--rcu`, the CSV's `rcu` column), or `none`.
    const RCU: &'static str;
    /// Whether faults try the per-VMA lock at all (false: the pre-6.4 kernel).
    const PER_VMA_LOCK: bool = true;
    /// The protocol mistake compiled into this scheme (broken twins only).
    const MISTAKE: Mistake = Mistake::None;
    /// Whether the VMA cache is SLAB_TYPESAFE_BY_RCU.
    const TYPESAFE: bool = false;
    /// Whether a grace period may end between two read sections of a thread
    /// ([`crate::rcu::Rcu::GP_BETWEEN_SECTIONS`]; true where sections are
    /// not RCU's).
    const GP_BETWEEN_SECTIONS: bool = true;
    /// What happens to a removed VMA.
    const VMA_FREE: Free;
    /// What happens to a replaced index node.
    const NODE_FREE: Free;

    /// Per-thread state: a registered RCU thread, hazard pointers.
    type Local<'a>
    where
        Self: 'a;
    /// A read-side critical section; the walk loads through it.
    type Section<'a>: Protect
    where
        Self: 'a;

    /// A new scheme with the flavour `settings`.
    fn new(settings: &RcuSettings) -> Self;
    /// Per-thread state for the calling thread.
    fn local(&self) -> Self::Local<'_>;
    /// Enter a read-side critical section.
    fn enter<'a>(&'a self, local: &mut Self::Local<'a>) -> Self::Section<'a>;
    /// Leave it.
    fn leave<'a>(&'a self, local: &mut Self::Local<'a>, section: Self::Section<'a>);
    /// Between two operations, outside any section (a QSBR flavour reports a
    /// quiescent state here every so often).
    #[inline]
    fn quiescent<'a>(&'a self, _local: &mut Self::Local<'a>) {}
    /// One deferred call: reclaim `obj` once no section can still reach it.
    ///
    /// # Safety
    /// The caller's promise 1 above.
    unsafe fn defer<'a, T: Deferrable + Send + Sync>(
        &'a self,
        local: &mut Self::Local<'a>,
        obj: NonNull<T>,
    );
}

/// Something done with a scheme's type, chosen at run time: the registry
/// (`SchemeId::visit`) calls `visit` with the type its name stands for.
pub trait Visit {
    /// What it returns.
    type Out;
    /// Do it with scheme `S`.
    fn visit<S: Scheme>(self) -> Self::Out;
}

/// The label of scheme `S`: `policy/flavour`, or the policy alone.
pub fn label_of<S: Scheme>() -> String {
    if S::RCU == "none" {
        S::NAME.to_string()
    } else {
        format!("{}/{}", S::NAME, S::RCU)
    }
}
