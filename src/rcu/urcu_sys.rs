//! The raw calls into liburcu: its `extern "C"` declarations, one thin unsafe
//! function per call with the library's precondition as its contract, and the
//! C callback `call_rcu` runs. Nothing else in the crate calls liburcu.
//!
//! The declarations are written by hand, not generated: the flavours use a
//! dozen functions with no arguments but a `struct rcu_head *` and a callback,
//! and generating bindings at build time (the `urcu2` crates run bindgen) would
//! need libclang on every machine that builds the crate, for no gain. The
//! layout that must match the C side, `struct rcu_head`, is checked at compile
//! time below.
//!
//! The functions are the library's exported symbols (the header's inline forms
//! are not callable from Rust): `urcu_memb_*` from `liburcu-memb`, `urcu_qsbr_*`
//! from `liburcu-qsbr`, both using the call_rcu machinery in `liburcu-common`.
//! `build.rs` links them, from the static archives where they are installed
//! (`super::urcu_linkage` says which).
//!
//! # What a read section costs, and why the archives
//!
//! The memb read side is two calls per section, `urcu_memb_read_lock()` and
//! `urcu_memb_read_unlock()`; QSBR's is none (see `super::urcu`). What a call
//! costs depends on how liburcu is linked, because each one touches the
//! thread's reader state, a C thread-local (ns per read_lock + read_unlock, one
//! thread, x86-64, `rcu_costs` and the same loop in C):
//!
//! | memb read side                                        | ns   |
//! |-------------------------------------------------------|------|
//! | shared library (PLT call, `__tls_get_addr` inside)    | 10   |
//! | static archive (direct call, local-exec TLS)          | 3    |
//! | C shim over the header-inline form (initial-exec TLS) | 3    |
//! | C calling the static archive's functions              | 3    |
//! | C with the header-inline form, no call                | 1    |
//!
//! A shared object must find its thread-locals through `__tls_get_addr`; the
//! archives' objects are linked into the executable and use its static TLS
//! block directly. A shim compiled with the `cc` crate around
//! `#define _LGPL_SOURCE` + `<urcu/urcu-memb.h>` reaches the state as cheaply,
//! but it is still two calls out of Rust, and those calls are the remaining
//! 2 ns: so the archives, with no shim, no C compiler and no headers at build
//! time. Only inlining would close the rest (a Rust copy of liburcu's read
//! side, or cross-language LTO), and the crate does neither: the flavour is
//! liburcu's own code.

use std::mem::{align_of, offset_of, size_of};
use std::ptr::NonNull;

use super::{Deferrable, RcuHead};

/// `void (*func)(struct rcu_head *head)`: a callback as liburcu calls it.
type Callback = unsafe extern "C" fn(*mut RcuHead);

/// `void call_rcu(struct rcu_head *head, void (*func)(struct rcu_head *))`.
type CallRcu = unsafe extern "C" fn(*mut RcuHead, Callback);

// `struct rcu_head { struct cds_wfcq_node next; void (*func)(struct rcu_head *); }`
// with `struct cds_wfcq_node { struct cds_wfcq_node *next; }`: two pointers,
// the queue link first.
const _: () = {
    assert!(size_of::<RcuHead>() == 2 * size_of::<*mut ()>());
    assert!(align_of::<RcuHead>() == align_of::<*mut ()>());
    assert!(offset_of!(RcuHead, next) == 0);
    assert!(offset_of!(RcuHead, func) == size_of::<*mut ()>());
};

extern "C" {
    fn urcu_memb_register_thread();
    fn urcu_memb_unregister_thread();
    fn urcu_memb_read_lock();
    fn urcu_memb_read_unlock();
    fn urcu_memb_read_ongoing() -> std::ffi::c_int;
    fn urcu_memb_call_rcu(head: *mut RcuHead, func: Callback);
    fn urcu_memb_barrier();

    fn urcu_qsbr_register_thread();
    fn urcu_qsbr_unregister_thread();
    fn urcu_qsbr_quiescent_state();
    fn urcu_qsbr_thread_offline();
    fn urcu_qsbr_thread_online();
    fn urcu_qsbr_call_rcu(head: *mut RcuHead, func: Callback);
    fn urcu_qsbr_barrier();
}

/// The C callback for a `T`: `T::reclaim(container_of(head, T, head))`. Runs on
/// liburcu's call_rcu thread. A panic in `T::reclaim` aborts the process: it
/// must not unwind into C.
///
/// # Safety
/// `head` was queued by [`queue`] for a `T`, and its grace period has ended.
unsafe extern "C" fn reclaim_trampoline<T: Deferrable>(head: *mut RcuHead) {
    let reclaim = || {
        // SAFETY: `call_rcu` queued the head of a live `T`, which stays live until
        // its callback (this one) runs.
        let this = unsafe { T::from_head(head) };
        // SAFETY: liburcu runs a queued callback once, after the grace period that
        // began after `call_rcu`; `call_rcu`'s caller queued the object once.
        unsafe { T::reclaim(this) }
    };
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(reclaim)).is_err() {
        std::process::abort();
    }
}

/// Queue `obj` with one flavour's `call_rcu` and [`reclaim_trampoline`].
///
/// # Safety
/// As [`memb::call_rcu`], for the flavour `call_rcu` belongs to.
unsafe fn queue<T: Deferrable>(call_rcu: CallRcu, obj: NonNull<T>) {
    // SAFETY: the caller promises `obj` is live.
    let head = unsafe { obj.as_ref() }.head().as_ptr();
    // SAFETY: `head` is a field of the live `obj` (Deferrable's contract), which
    // the caller queues once and keeps alive until the callback; the callback
    // matches `T`; the thread is registered (the caller's promise).
    unsafe { call_rcu(head, reclaim_trampoline::<T>) }
}

/// The memb flavour: a read-side nesting counter per thread, `membarrier` on
/// the update side.
pub(super) mod memb {
    use super::*;

    /// `urcu_memb_register_thread()`.
    ///
    /// # Safety
    /// The calling thread is not registered with memb (liburcu asserts), and it
    /// unregisters before it exits.
    pub unsafe fn register_thread() {
        // SAFETY: no arguments; the caller's promise is the library's precondition.
        unsafe { urcu_memb_register_thread() }
    }

    /// `urcu_memb_unregister_thread()`.
    ///
    /// # Safety
    /// The calling thread is registered with memb, and no read section of it is
    /// still in use.
    pub unsafe fn unregister_thread() {
        // SAFETY: no arguments; the caller's promise is the library's precondition.
        unsafe { urcu_memb_unregister_thread() }
    }

    /// `urcu_memb_read_lock()`: enter a read section (they nest).
    ///
    /// # Safety
    /// The calling thread is registered with memb.
    #[inline]
    pub unsafe fn read_lock() {
        // SAFETY: no arguments; the caller promises the thread is registered.
        unsafe { urcu_memb_read_lock() }
    }

    /// `urcu_memb_read_unlock()`: leave the innermost read section.
    ///
    /// # Safety
    /// The calling thread is inside a read section it entered with [`read_lock`].
    #[inline]
    pub unsafe fn read_unlock() {
        // SAFETY: no arguments; the caller promises a matching `read_lock`.
        unsafe { urcu_memb_read_unlock() }
    }

    /// `urcu_memb_read_ongoing()`: whether the calling thread is inside a read
    /// section (false on an unregistered thread, whose counter is zero).
    pub fn read_ongoing() -> bool {
        // SAFETY: no arguments; it reads the calling thread's own counter, which
        // is zero on a thread that never registered.
        unsafe { urcu_memb_read_ongoing() != 0 }
    }

    /// `urcu_memb_call_rcu(&obj->head, trampoline)`.
    ///
    /// # Safety
    /// The calling thread is registered; `obj` is live, was made unreachable to
    /// read sections that begin later, is queued once, and stays valid until its
    /// callback, which may run on liburcu's call_rcu thread.
    pub unsafe fn call_rcu<T: Deferrable>(obj: NonNull<T>) {
        // SAFETY: the caller's promise, for memb.
        unsafe { queue(urcu_memb_call_rcu, obj) }
    }

    /// `urcu_memb_barrier()`: wait until every callback queued so far, by any
    /// thread, has run.
    ///
    /// # Safety
    /// The calling thread is not inside a read section (liburcu would return at
    /// once, without waiting).
    pub unsafe fn barrier() {
        // SAFETY: no arguments; the caller's promise is the library's precondition.
        unsafe { urcu_memb_barrier() }
    }
}

/// The QSBR flavour: no read-side instructions; a registered thread is online
/// and blocks grace periods until it reports a quiescent state or goes offline.
pub(super) mod qsbr {
    use super::*;

    /// `urcu_qsbr_register_thread()`: register the thread and put it online.
    ///
    /// # Safety
    /// The calling thread is not registered with QSBR (liburcu asserts), and it
    /// unregisters before it exits.
    pub unsafe fn register_thread() {
        // SAFETY: no arguments; the caller's promise is the library's precondition.
        unsafe { urcu_qsbr_register_thread() }
    }

    /// `urcu_qsbr_unregister_thread()`: put the thread offline and unregister it.
    ///
    /// # Safety
    /// The calling thread is registered with QSBR, and no read section of it is
    /// still in use.
    pub unsafe fn unregister_thread() {
        // SAFETY: no arguments; the caller's promise is the library's precondition.
        unsafe { urcu_qsbr_unregister_thread() }
    }

    /// `urcu_qsbr_quiescent_state()`: report that this thread holds no reference
    /// from an earlier read section (memory barriers and a store).
    ///
    /// # Safety
    /// The calling thread is registered and online, and not inside a read section.
    pub unsafe fn quiescent_state() {
        // SAFETY: no arguments; the caller's promise is the library's precondition.
        unsafe { urcu_qsbr_quiescent_state() }
    }

    /// `urcu_qsbr_thread_offline()`: an extended quiescent state; grace periods
    /// stop waiting for this thread.
    ///
    /// # Safety
    /// The calling thread is registered and online, and not inside a read section.
    pub unsafe fn thread_offline() {
        // SAFETY: no arguments; the caller's promise is the library's precondition.
        unsafe { urcu_qsbr_thread_offline() }
    }

    /// `urcu_qsbr_thread_online()`: end an extended quiescent state.
    ///
    /// # Safety
    /// The calling thread is registered and offline.
    pub unsafe fn thread_online() {
        // SAFETY: no arguments; the caller's promise is the library's precondition.
        unsafe { urcu_qsbr_thread_online() }
    }

    /// `urcu_qsbr_call_rcu(&obj->head, trampoline)`.
    ///
    /// # Safety
    /// As [`super::memb::call_rcu`], with the thread registered
    /// with QSBR and online.
    pub unsafe fn call_rcu<T: Deferrable>(obj: NonNull<T>) {
        // SAFETY: the caller's promise, for QSBR.
        unsafe { queue(urcu_qsbr_call_rcu, obj) }
    }

    /// `urcu_qsbr_barrier()`: wait until every callback queued so far, by any
    /// thread, has run.
    ///
    /// # Safety
    /// The calling thread is unregistered or offline: an online thread that waits
    /// for callbacks stalls the grace periods they wait for. (liburcu would put
    /// an online caller offline for the wait, ending any read section it is in.)
    pub unsafe fn barrier() {
        // SAFETY: no arguments; the caller's promise is the library's precondition.
        unsafe { urcu_qsbr_barrier() }
    }
}
