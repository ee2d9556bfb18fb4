//! RCU flavours: the read side a fault's walk runs under, and `call_rcu`.
//!
//! The kernel's `lock_vma_under_rcu()` walks the maple tree inside
//! `rcu_read_lock()` in every version, and frees replaced tree nodes (and, before
//! 6.15, removed VMAs) with `call_rcu()`. A [`Rcu`] is one userspace stand-in for
//! that RCU: crossbeam-epoch ([`Epoch`]), seize ([`Seize`]), and liburcu's memb and
//! QSBR flavours (`UrcuMemb`, `UrcuQsbr`) where liburcu is installed.
//!
//! This is the lowest layer of the model: it knows nothing of VMAs or caches.
//! An object handed to [`Rcu::call_rcu`] is a [`Deferrable`]: it lends an
//! [`RcuHead`] (liburcu's `struct rcu_head` layout) for the wait and says what
//! its callback does.
//!
//! The flavours wrap libraries with their own synchronisation, so nothing here
//! is model-checked with loom. The urcu flavours are built where `build.rs`
//! finds liburcu (`cfg(vma_bench_urcu)`); [`urcu_missing`] says otherwise.

use std::cell::UnsafeCell;
use std::ptr::NonNull;

pub mod epoch;
pub mod seize;
#[cfg(vma_bench_urcu)]
pub mod urcu;
#[cfg(vma_bench_urcu)]
mod urcu_sys;

#[cfg(test)]
mod tests;

pub use self::epoch::Epoch;
pub use self::seize::Seize;
#[cfg(vma_bench_urcu)]
pub use self::urcu::{UrcuMemb, UrcuQsbr};

/// How liburcu is linked, for a run's metadata: `Some("static")` (its static
/// archives, the fast read side), `Some("shared")` (its shared libraries, where
/// no archives are installed: the memb read side costs about 3x more), or
/// `None` when the urcu flavours are not built. `build.rs` explains the choice.
pub fn urcu_linkage() -> Option<&'static str> {
    if cfg!(vma_bench_urcu) {
        option_env!("VMA_BENCH_URCU_LINK")
    } else {
        None
    }
}

/// `None` when the urcu flavours (`UrcuMemb`, `UrcuQsbr`) are built in;
/// otherwise a one-line note naming what to install.
pub fn urcu_missing() -> Option<&'static str> {
    if cfg!(vma_bench_urcu) {
        None
    } else {
        Some("the urcu flavours are not built: install liburcu-dev (apt-get install liburcu-dev) and rebuild")
    }
}

/// `struct rcu_head`: two words an object lends to `call_rcu` while it waits
/// for its grace period (liburcu's layout: the queue link, then the callback).
/// Only the flavour touches it, between `call_rcu` and the callback.
#[repr(C)]
#[derive(Debug)]
pub struct RcuHead {
    next: UnsafeCell<*mut RcuHead>,
    func: UnsafeCell<Option<unsafe extern "C" fn(*mut RcuHead)>>,
}

impl Default for RcuHead {
    fn default() -> Self {
        Self::new()
    }
}

impl RcuHead {
    /// An unused head.
    pub const fn new() -> Self {
        RcuHead {
            next: UnsafeCell::new(std::ptr::null_mut()),
            func: UnsafeCell::new(None),
        }
    }

    /// The head's address, for a C library to write into.
    pub fn as_ptr(&self) -> *mut RcuHead {
        std::ptr::from_ref(self).cast_mut()
    }
}

// SAFETY: the head is written only by the one `call_rcu` that queued its object
// (the object is out of every reader's reach and queued once, so no other thread
// writes it) and then by the flavour's queue, which hands it over with its own
// synchronisation; no reader ever reads it.
unsafe impl Sync for RcuHead {}
// SAFETY: as above; it holds no thread-bound state.
unsafe impl Send for RcuHead {}

/// An object that can wait for a grace period: it lends its [`RcuHead`] and
/// says what the callback does with it.
///
/// # Safety
///
/// Implementors promise: [`head`](Deferrable::head) returns a field of `self`, and
/// [`from_head`](Deferrable::from_head) maps that field's address back to `self`
/// (`container_of`); and [`reclaim`](Deferrable::reclaim) may run on any thread
/// (the object is sent to the thread that runs callbacks, as if `Self: Send`).
pub unsafe trait Deferrable: Sized + 'static {
    /// The head this object lends to `call_rcu`.
    fn head(&self) -> &RcuHead;

    /// `container_of(head, Self, head)`.
    ///
    /// # Safety
    /// `head` is the address of the head of a live `Self`.
    unsafe fn from_head(head: *mut RcuHead) -> NonNull<Self>;

    /// The callback: run once, after a grace period, on whichever thread the
    /// flavour runs callbacks (a worker, or liburcu's call_rcu thread). It
    /// should not panic: under liburcu a panic aborts the process (it cannot
    /// unwind into C).
    ///
    /// # Safety
    /// `this` was queued by exactly one `call_rcu`, and no reader that could have
    /// reached it before it was queued is still inside its read section.
    unsafe fn reclaim(this: NonNull<Self>);
}

/// Settings of a flavour, recorded with every run.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RcuSettings {
    /// seize: retired objects per batch before a reclamation attempt.
    pub seize_batch: usize,
    /// urcu-qsbr: operations between two reports of a quiescent state.
    pub qsbr_every: u32,
}

impl Default for RcuSettings {
    fn default() -> Self {
        RcuSettings {
            seize_batch: 32,
            qsbr_every: 16,
        }
    }
}

/// An RCU flavour.
///
/// # Safety
///
/// Implementors promise:
/// 1. An object passed to [`call_rcu`](Rcu::call_rcu) is reclaimed (its
///    [`Deferrable::reclaim`] run) once, and only after every read section
///    ([`read_lock`](Rcu::read_lock) to [`read_unlock`](Rcu::read_unlock)) that
///    began before the call has ended, of every thread that keeps callers'
///    promise 3 while the section is open.
/// 2. When the flavour is dropped, every callback queued through it has run.
///
/// Callers promise:
/// 1. An object is passed to `call_rcu` once, after it was made unreachable to
///    read sections that begin later.
/// 2. A [`Thread`](Rcu::Thread) is used only on the thread that made it, and
///    `read_lock` / `call_rcu` only through it.
/// 3. While a thread is inside a read section it does not call
///    [`quiescent`](Rcu::quiescent), drop its last `Thread` of the flavour, or
///    drop an instance of the flavour: the kernel's rule that a
///    non-preemptible kernel does not schedule inside `rcu_read_lock()`. Code
///    that relies on a section (an unsafe dereference of a pointer loaded in
///    it) relies on this too. A flavour may check it, and the urcu flavours
///    do where it is free; urcu-qsbr checks only in debug builds, because the
///    check would be its read side's whole cost, as the kernel checks only
///    under `CONFIG_PROVE_RCU`.
pub unsafe trait Rcu: Send + Sync + Sized + 'static {
    /// The flavour's name (`--rcu`, the CSV's `rcu` column).
    const NAME: &'static str;

    /// The ordering of a walk's loads inside a read section: Acquire, which
    /// pairs with the Release that published each pointer; a flavour whose
    /// library asks for more says so here.
    const LOAD: std::sync::atomic::Ordering = std::sync::atomic::Ordering::Acquire;

    /// Whether a grace period may end between two read sections of a thread
    /// that reports nothing in between (true; false under QSBR, where only
    /// [`quiescent`](Rcu::quiescent) lets one pass, as in a non-preemptible
    /// kernel only a context switch does).
    const GP_BETWEEN_SECTIONS: bool = true;

    /// A registered thread (`rcu_register_thread`); dropping it unregisters.
    type Thread<'a>
    where
        Self: 'a;

    /// A read-side critical section.
    type Read<'a>
    where
        Self: 'a;

    /// A new instance with `settings`.
    fn new(settings: &RcuSettings) -> Self;

    /// Register the calling thread.
    fn register(&self) -> Self::Thread<'_>;

    /// `rcu_read_lock()`.
    fn read_lock<'a>(&'a self, t: &mut Self::Thread<'a>) -> Self::Read<'a>;

    /// `rcu_read_unlock()` (the default drops the section).
    #[inline]
    fn read_unlock<'a>(&'a self, _t: &mut Self::Thread<'a>, r: Self::Read<'a>) {
        drop(r);
    }

    /// Called between two operations, outside any read section: a QSBR flavour
    /// reports a quiescent state here (every so many calls); others do nothing.
    #[inline]
    fn quiescent<'a>(&'a self, _t: &mut Self::Thread<'a>) {}

    /// `call_rcu(&obj->head, callback)`: reclaim `obj` after a grace period.
    ///
    /// # Safety
    /// The caller's promise 1 above; and `obj` is live and stays valid until its
    /// callback runs.
    unsafe fn call_rcu<'a, T: Deferrable>(&'a self, t: &mut Self::Thread<'a>, obj: NonNull<T>);
}
