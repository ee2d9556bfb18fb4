//! `UrcuMemb` and `UrcuQsbr`: liburcu's memb and QSBR flavours, a safe facade
//! over the raw calls in `urcu_sys`.
//!
//! * **memb** models a preemptible kernel's `rcu_read_lock()`: the read side
//!   increments and decrements a per-thread nesting counter (no fence), and the
//!   update side pays instead, with `membarrier()` to order every reader before
//!   it scans their counters. A registered thread outside a read section never
//!   holds up a grace period.
//! * **QSBR** models a non-preemptible kernel: `rcu_read_lock()` is empty, and
//!   a grace period ends when every registered, online thread has reported a
//!   quiescent state, as a CPU does at a context switch. The flavour's read
//!   side is empty too in release builds (debug builds count sections, below).
//!   It reports a quiescent state from [`Rcu::quiescent`] every
//!   [`RcuSettings::qsbr_every`] calls: a report costs memory barriers, so a
//!   worker reports every so many operations, not per fault; a larger period
//!   makes reading cheaper and grace periods longer (more memory waiting to be
//!   freed).
//!
//! Callbacks run on liburcu's call_rcu thread, in batches after a grace period.
//!
//! The calls go to liburcu's exported functions, linked from its static
//! archives where they are installed: through the shared library each memb
//! read_lock + read_unlock costs about 10 ns, a fault's whole budget, against 3
//! from the archives (`urcu_sys` has the figures and the alternatives).
//!
//! # Rules (liburcu's domain is the process)
//!
//! * Each flavour has one domain per process, shared by every instance: a grace
//!   period waits for every thread registered with the flavour, whichever
//!   instance registered it, and dropping an instance waits for every callback
//!   queued in the process so far (`urcu_*_barrier`), not only its own.
//! * liburcu refuses to register a thread twice, so registrations are counted
//!   per thread and flavour: the first registers with liburcu, the last handle
//!   dropped unregisters. A thread that exits with a leaked handle is
//!   unregistered at its exit (until then, under QSBR, it stalls grace
//!   periods). These flavours must be liburcu's only users in the process,
//!   and a callback must not register (liburcu's call_rcu thread is
//!   registered already).
//! * QSBR: a registered thread is online, and an online thread that blocks
//!   (sleeps, joins, waits for another thread) stalls every grace period until
//!   it runs again. So it must never wait for anything that waits for a grace
//!   period or a callback: drop its handle (unregister) first. The barrier is
//!   never called online: dropping an instance on a registered thread takes
//!   the thread offline for the wait and back online after.
//! * Inside a read section a thread must not report a quiescent state, drop
//!   its last registration, or drop an instance of the flavour (the [`Rcu`]
//!   callers' promise 3): each would end the section's protection early (and
//!   an instance's barrier cannot wait there: memb's returns at once, QSBR's
//!   never would). Where the flavour can tell, dropping the last registration
//!   panics, dropping an instance aborts the process (callbacks left queued
//!   may use memory that unwinding would free), and [`Rcu::quiescent`]
//!   panics. memb can always tell, for free: liburcu keeps its nesting count
//!   anyway (`urcu_memb_read_ongoing`). liburcu's QSBR keeps none, and one of the
//!   flavour's own would be the whole cost of its read side (about 2 ns a
//!   section, where the kernel's costs nothing), so QSBR counts only in debug
//!   builds, as the kernel checks `rcu_read_lock()` misuse only under
//!   `CONFIG_PROVE_RCU`. A release build does not catch the breach.

use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::thread::LocalKey;

use super::urcu_sys::{memb, qsbr};
use super::{Deferrable, Rcu, RcuSettings};

/// A thread's registrations with one liburcu flavour.
struct Registrations {
    /// Live handles of this thread for this flavour.
    count: Cell<u32>,
    /// The flavour's `unregister_thread`.
    unregister: unsafe fn(),
}

impl Drop for Registrations {
    /// At thread exit: unregister a thread whose handle was leaked, so liburcu
    /// never keeps an exited thread (and its freed per-thread state) registered.
    fn drop(&mut self) {
        if self.count.get() > 0 {
            // SAFETY: count > 0: registered and not yet unregistered; the thread
            // is exiting, so none of its read sections is in use any more.
            unsafe { (self.unregister)() }
        }
    }
}

thread_local! {
    static MEMB_REGISTRATIONS: Registrations = const {
        Registrations { count: Cell::new(0), unregister: memb::unregister_thread }
    };
    static QSBR_REGISTRATIONS: Registrations = const {
        Registrations { count: Cell::new(0), unregister: qsbr::unregister_thread }
    };
    /// Open QSBR read sections of this thread (liburcu keeps no such count);
    /// debug builds only.
    #[cfg(debug_assertions)]
    static QSBR_READ_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Count a registration of this thread; register with liburcu on the first.
fn register_once(regs: &'static LocalKey<Registrations>, register: unsafe fn()) {
    regs.with(|r| {
        let n = r.count.get();
        if n == 0 {
            // SAFETY: every registration with the flavour goes through this count
            // (module rules), and it is 0: the thread is not registered. It is
            // unregistered by the last handle, or at thread exit.
            unsafe { register() };
        }
        r.count
            .set(n.checked_add(1).expect("registration count overflow"));
    });
}

/// Drop a registration of this thread; unregister on the last, which must not
/// be inside a read section (`in_read_section`, where the build can tell).
fn unregister_once(regs: &'static LocalKey<Registrations>, in_read_section: fn() -> bool) {
    // A destroyed key means thread exit already unregistered the thread.
    let _ = regs.try_with(|r| {
        let n = r.count.get();
        if n == 1 {
            assert!(
                !in_read_section(),
                "the last urcu registration of a thread dropped inside a read section"
            );
            // SAFETY: count 1: registered; not inside a read section (checked
            // where the build can tell; else the callers' promise 3).
            unsafe { (r.unregister)() };
        }
        r.count.set(n - 1);
    });
}

/// Whether this thread has a registration with the flavour.
fn registered(regs: &'static LocalKey<Registrations>) -> bool {
    regs.try_with(|r| r.count.get() > 0).unwrap_or(false)
}

/// An instance dropped inside a read section cannot wait for its callbacks,
/// and they may use memory its owner frees next: stop the process (a panic could
/// unwind into exactly that).
fn barrier_impossible(flavour: &str) -> ! {
    eprintln!("{flavour} dropped inside a read section: its barrier cannot wait there");
    std::process::abort()
}

/// Whether this thread is inside a QSBR read section, as far as the build
/// knows: debug builds count sections; release builds keep no count and
/// answer `false` (unchecked: the caller's promise, see the module doc).
fn qsbr_in_read_section() -> bool {
    #[cfg(debug_assertions)]
    return QSBR_READ_DEPTH.with(|d| d.get() > 0);
    #[cfg(not(debug_assertions))]
    return false;
}

/// liburcu's memb flavour (`--rcu urcu-memb`): a counter on the read side,
/// `membarrier` on the update side.
#[derive(Debug, Default)]
pub struct UrcuMemb {
    _domain: (),
}

/// A thread registered with memb (`urcu_memb_register_thread`).
#[derive(Debug)]
pub struct MembThread<'a> {
    _rcu: PhantomData<(&'a UrcuMemb, *const ())>,
}

impl Drop for MembThread<'_> {
    fn drop(&mut self) {
        unregister_once(&MEMB_REGISTRATIONS, memb::read_ongoing);
    }
}

/// A memb read section (`urcu_memb_read_lock` to `urcu_memb_read_unlock`).
#[derive(Debug)]
pub struct MembRead<'a> {
    _rcu: PhantomData<(&'a UrcuMemb, *const ())>,
}

impl Drop for MembRead<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: made by `read_lock` on this thread (the type is not Send), and
        // a section in use keeps the thread registered (`unregister_once`).
        unsafe { memb::read_unlock() }
    }
}

// SAFETY: (1) a memb grace period (started by the call_rcu thread after the
// object was queued) waits for every registered thread's read section that
// began before it, and liburcu runs each queued callback once. `read_lock`
// requires a handle, so the thread is registered, and it stays registered while
// a section is open. (2) Dropping the instance runs `urcu_memb_barrier`, outside
// any read section (checked), which waits for every callback queued so far.
unsafe impl Rcu for UrcuMemb {
    const NAME: &'static str = "urcu-memb";
    type Thread<'a> = MembThread<'a>;
    type Read<'a> = MembRead<'a>;

    fn new(_settings: &RcuSettings) -> Self {
        UrcuMemb::default()
    }

    fn register(&self) -> MembThread<'_> {
        register_once(&MEMB_REGISTRATIONS, memb::register_thread);
        MembThread { _rcu: PhantomData }
    }

    #[inline]
    fn read_lock<'a>(&'a self, _t: &mut MembThread<'a>) -> MembRead<'a> {
        // SAFETY: the handle proves this thread is registered with memb.
        unsafe { memb::read_lock() };
        MembRead { _rcu: PhantomData }
    }

    unsafe fn call_rcu<'a, T: Deferrable>(&'a self, _t: &mut MembThread<'a>, obj: NonNull<T>) {
        // SAFETY: registered (the handle); the rest is the caller's promise, and
        // T::reclaim may run on another thread (Deferrable's contract).
        unsafe { memb::call_rcu(obj) }
    }
}

impl Drop for UrcuMemb {
    /// `urcu_memb_barrier()`: waits for every callback queued in the process.
    fn drop(&mut self) {
        if memb::read_ongoing() {
            barrier_impossible("UrcuMemb");
        }
        // SAFETY: not inside a read section (checked).
        unsafe { memb::barrier() }
    }
}

/// liburcu's QSBR flavour (`--rcu urcu-qsbr`): a free read side, a quiescent
/// state reported every [`RcuSettings::qsbr_every`] operations.
#[derive(Debug)]
pub struct UrcuQsbr {
    /// Calls of `quiescent` per report.
    every: u32,
}

/// A thread registered with QSBR (`urcu_qsbr_register_thread`): online.
#[derive(Debug)]
pub struct QsbrThread<'a> {
    /// Calls of `quiescent` since the last report.
    ops: u32,
    _rcu: PhantomData<(&'a UrcuQsbr, *const ())>,
}

impl Drop for QsbrThread<'_> {
    fn drop(&mut self) {
        unregister_once(&QSBR_REGISTRATIONS, qsbr_in_read_section);
    }
}

/// A QSBR read section: no instructions, as in liburcu; debug builds count it
/// to check that no quiescent state is reported inside it.
#[derive(Debug)]
pub struct QsbrRead<'a> {
    _rcu: PhantomData<(&'a UrcuQsbr, *const ())>,
}

#[cfg(debug_assertions)]
impl Drop for QsbrRead<'_> {
    #[inline]
    fn drop(&mut self) {
        QSBR_READ_DEPTH.with(|d| d.set(d.get() - 1));
    }
}

// SAFETY: (1) a QSBR grace period waits until every online registered thread
// has reported a quiescent state or gone offline; this thread is online while
// registered (only `drop` below takes it offline), and while a section is open
// it reports nothing, does not unregister and drops no instance (the callers'
// promise 3, which promise 1 is conditional on; checked with the read depth in
// debug builds). liburcu runs each queued callback once. (2) Dropping the
// instance runs `urcu_qsbr_barrier` on an offline or unregistered thread, which
// waits for every callback queued so far.
unsafe impl Rcu for UrcuQsbr {
    const NAME: &'static str = "urcu-qsbr";
    const GP_BETWEEN_SECTIONS: bool = false;
    type Thread<'a> = QsbrThread<'a>;
    type Read<'a> = QsbrRead<'a>;

    fn new(settings: &RcuSettings) -> Self {
        UrcuQsbr {
            every: settings.qsbr_every.max(1),
        }
    }

    fn register(&self) -> QsbrThread<'_> {
        register_once(&QSBR_REGISTRATIONS, qsbr::register_thread);
        QsbrThread {
            ops: 0,
            _rcu: PhantomData,
        }
    }

    #[inline]
    fn read_lock<'a>(&'a self, _t: &mut QsbrThread<'a>) -> QsbrRead<'a> {
        #[cfg(debug_assertions)]
        QSBR_READ_DEPTH.with(|d| d.set(d.get() + 1));
        QsbrRead { _rcu: PhantomData }
    }

    #[inline]
    fn quiescent<'a>(&'a self, t: &mut QsbrThread<'a>) {
        debug_assert!(
            !qsbr_in_read_section(),
            "UrcuQsbr::quiescent called inside a read section"
        );
        t.ops += 1;
        if t.ops >= self.every {
            t.ops = 0;
            // SAFETY: registered and online (the handle); outside any read
            // section (the callers' promise 3, checked in debug builds).
            unsafe { qsbr::quiescent_state() }
        }
    }

    unsafe fn call_rcu<'a, T: Deferrable>(&'a self, _t: &mut QsbrThread<'a>, obj: NonNull<T>) {
        // SAFETY: registered and online (the handle); the rest is the caller's
        // promise, and T::reclaim may run on another thread (Deferrable's
        // contract).
        unsafe { qsbr::call_rcu(obj) }
    }
}

impl Drop for UrcuQsbr {
    /// `urcu_qsbr_barrier()`, never online: waits for every callback queued in
    /// the process.
    fn drop(&mut self) {
        let online = registered(&QSBR_REGISTRATIONS);
        if online {
            if qsbr_in_read_section() {
                barrier_impossible("UrcuQsbr");
            }
            // SAFETY: registered and online; outside any read section (checked
            // in debug builds; the callers' promise 3).
            unsafe { qsbr::thread_offline() };
        }
        // SAFETY: the thread is unregistered or offline (above).
        unsafe { qsbr::barrier() };
        if online {
            // SAFETY: registered, and offline since above.
            unsafe { qsbr::thread_online() };
        }
    }
}

/// This thread's registration count with a flavour, for the tests.
#[cfg(test)]
pub(super) fn registrations(flavour: &str) -> u32 {
    let regs = match flavour {
        UrcuMemb::NAME => &MEMB_REGISTRATIONS,
        UrcuQsbr::NAME => &QSBR_REGISTRATIONS,
        _ => return 0,
    };
    regs.with(|r| r.count.get())
}
