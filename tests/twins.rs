//! Each broken twin of `typesafe` on the exact schedule of its original report:
//! the correct scheme survives the schedule (with the abort, miss or fallback it
//! must make, counted exactly) and the twin fails on it (a wrong answer, or an
//! error: a refcount underflow, a touch of a freed mm, or a walk from an index
//! node no read section holds back, caught and counted).
//! One thread plays the reader; hooks between its steps play the writers, on
//! this thread or, where a writer must be seen waiting, on a second one.
//!
//! Every test runs under every RCU flavour this build has, one module per
//! flavour (`epoch::n2_free_attached`, `urcu_qsbr::n2_free_attached`...), made
//! by `every_flavour!` from the generic bodies below.
//!
//! # Waits, and QSBR
//!
//! A step that waits for another thread's step waits at most [`PATIENCE`]
//! ([`Waits`]): a schedule that breaks fails its test instead of hanging it.
//! No step waits, directly or through another thread, for a grace period or a
//! callback: writers free through `call_rcu` and never wait for it, and the
//! only wait for one is the flavour's barrier when a space drops, after every
//! thread of its schedule has been joined and every handle dropped. So under
//! urcu-qsbr, where a registered (online) thread that waits stalls every grace
//! period of the process, and under urcu-memb, where a reader that waits inside
//! its section does, a waiting step only delays another test's barrier until
//! the step is over (liburcu's domain is the process, shared by the tests
//! running beside this one), and never waits for that barrier itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vma_bench::model::counters::{Counters, Totals};
use vma_bench::model::hook::Point;
use vma_bench::model::vma::{Vma, VMA_LOCK_OFFSET};
use vma_bench::rcu::Rcu;
use vma_bench::schemes::rcu::{Correct, Variant};
use vma_bench::schemes::twins::{
    ChangeUnlocked, DetachNoWait, ForkUnlocked, FreeAttached, FreeResetsSeq, MmUnpinned,
    NoAddrCheck, PutOnRetry, SeqOfVmaMm, StaleRetry,
};
use vma_bench::schemes::Typesafe;
use vma_bench::{Layout, MapKind, Space};

#[macro_use]
mod flavours;

every_flavour!(
    n2_free_attached,
    n3_detach_without_waiting,
    n8_put_without_get_on_retry,
    n13_no_address_check,
    n10_wake_of_an_unpinned_mm,
    an_exit_frees_every_vma_and_the_mm_and_makes_new_ones,
    n9_free_resets_the_lock_sequence,
    n7_lock_check_against_the_vmas_own_mm,
    n14_change_without_write_lock,
    n15_fork_without_write_locks,
    n17_retry_from_a_stale_position,
);

/// `typesafe` (or its twin `V`) over the flavour `R`.
type Ts<R, V> = Space<Typesafe<R, V>>;

fn space<R: Rcu, V: Variant>() -> Ts<R, V> {
    Space::with_defaults(Layout { mms: 2, slots: 4 })
}

/// The reader faults in mm 0 at this slot.
const SLOT: usize = 1;

/// One fault in mm 0 at `SLOT`, with `hook` stepping in at every point.
fn fault<R: Rcu, V: Variant>(sp: &Ts<R, V>, hook: impl FnMut(Point)) -> Totals {
    let c = Counters::default();
    let mut h = sp.handle_with(0, hook);
    sp.fault(&mut h, 0, sp.layout().addr(SLOT, 3), &c);
    c.snapshot()
}

/// The object the reader finds (type-stable: valid until the space drops).
fn found<R: Rcu, V: Variant>(sp: &Ts<R, V>) -> &Vma {
    // SAFETY: every VMA comes from the space's SLAB_TYPESAFE_BY_RCU cache: its
    // memory stays a `Vma` (all atomics) until its slab is released through a
    // grace period, and a schedule here frees a few VMAs into sheaves, never
    // emptying a slab; the space outlives this borrow.
    unsafe { &*sp.current(0, SLOT) }
}

/// How long a step waits for another thread's step: the steps take
/// microseconds (a twin's writer that gives up on its readers, a second), so
/// only a broken schedule ever waits this long.
const PATIENCE: Duration = Duration::from_secs(10);

/// The waits of one schedule, each bounded by [`PATIENCE`]. A wait that runs
/// out is recorded and the schedule goes on as if its step had happened: every
/// other wait is bounded too, and the protocol's own waits for readers end when
/// the reader's fault does, so the test ends and [`Waits::check`] fails it.
#[derive(Default)]
struct Waits {
    stalled: Mutex<Vec<&'static str>>,
}

impl Waits {
    /// Spin until `done` (`what`: a step another thread makes on its own).
    fn until(&self, what: &'static str, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            if start.elapsed() > PATIENCE {
                self.stalled.lock().unwrap().push(what);
                return;
            }
            std::thread::yield_now();
        }
    }

    /// Fail if a wait ran out: the schedule did not run as written.
    fn check(&self) {
        let stalled = self.stalled.lock().unwrap();
        assert!(
            stalled.is_empty(),
            "the schedule stalled {PATIENCE:?} waiting for: {stalled:?}"
        );
    }
}

/// The correct reader where the schedule leaves it only the mm lock: one abort,
/// one fallback, no per-VMA success, nothing wrong.
fn assert_fell_back(t: Totals) {
    assert_eq!(
        (t.lock_abort, t.fallbacks, t.lock_success, t.wrong, t.errors),
        (1, 1, 0, 0, 0),
        "{t:?}"
    );
}

/// The correct reader where the found VMA was detached: one miss, then the
/// retry locks the new mapping.
fn assert_missed_then_locked(t: Totals) {
    assert_eq!(
        (t.lock_miss, t.lock_success, t.wrong, t.errors),
        (1, 1, 0, 0),
        "{t:?}"
    );
}

/// A twin that ran the fault under the per-VMA lock on the wrong VMA.
fn assert_ran_wrong(t: Totals, why: &str) {
    assert_eq!((t.lock_success, t.wrong), (1, 1), "{why}: {t:?}");
}

/// A writer (handle 1) replaces the found VMA `x` in mm 0, and the cache reuses
/// it at once for a new mapping in mm 1.
fn reuse_in_mm1<R: Rcu, V: Variant>(sp: &Ts<R, V>, x: &Vma, wc: &Counters) {
    let mut w = sp.handle(1);
    sp.replace(&mut w, 0, SLOT, MapKind::Fresh, wc);
    sp.replace(&mut w, 1, SLOT, MapKind::Fresh, wc);
    assert_eq!(x.mm(), 1, "reused in mm 1 at once");
}

/// N2: the VMA the reader found is freed still attached and reused at once for
/// a new mapping at the same address, not yet inserted. Correct: it is detached,
/// a miss, and the retry finds the new mapping. Twin: locked, a wrong answer.
fn free_attached<R: Rcu, V: Variant>() -> Totals {
    let sp = space::<R, V>();
    let x: *const Vma = found(&sp);
    let wc = Counters::default();
    let mut pending = None;
    let t = fault(&sp, |p| {
        if p == Point::Found && pending.is_none() {
            let mut w = sp.handle(1);
            sp.replace(&mut w, 0, SLOT, MapKind::Fresh, &wc);
            pending = Some(sp.prepare(&mut w, 0, SLOT, MapKind::Fresh, &wc));
        }
    });
    let p = pending.expect("the writer ran");
    assert_eq!(p.vma() as *const Vma, x, "the found VMA was reused at once");
    sp.commit(&mut sp.handle(1), p, &wc);
    assert_eq!(wc.snapshot().errors, 0);
    t
}

fn n2_free_attached<R: Rcu>() {
    assert_missed_then_locked(free_attached::<R, Correct>());
    let t = free_attached::<R, FreeAttached>();
    assert_eq!(
        (t.lock_miss, t.lock_success, t.wrong),
        (0, 1, 1),
        "N2 twin must lock the freed, reused VMA: {t:?}"
    );
}

/// N3: the reader takes its reference after the writer write-locked the VMA and
/// before it detaches it; the detach does not wait, the VMA is freed and reused
/// at the same address (not yet inserted) while the reader validates.
/// Correct: the detach waits, the reader sees the write lock, aborts and falls
/// back. Twin: the reader validates the reused object, a wrong answer.
fn detach_no_wait<R: Rcu, V: Variant>() -> Totals {
    let sp = space::<R, V>();
    let x = found(&sp);
    let waits = Waits::default();
    let race = DetachRace::new(&waits);
    let wc = Counters::default();
    let mut pending = None;
    let mut stage = 0;
    let t = std::thread::scope(|s| {
        let t = fault(&sp, |p| match (p, stage) {
            (Point::BeforeCas, 0) => {
                stage = 1;
                race.start(s, &sp, &wc);
            }
            (Point::Locked, 1) => {
                stage = 2;
                // The writer either returned from its detach (twin) or waits in
                // it for our reference: then reuse the object at once.
                if race.release(x) {
                    pending = Some(sp.prepare(&mut sp.handle(2), 0, SLOT, MapKind::Fresh, &wc));
                }
            }
            _ => {}
        });
        assert_eq!(stage, 2, "the schedule ran");
        t
    });
    waits.check();
    if let Some(p) = pending {
        assert_eq!(p.vma() as *const Vma, x as *const Vma, "reused at once");
        sp.commit(&mut sp.handle(2), p, &wc);
    }
    t
}

fn n3_detach_without_waiting<R: Rcu>() {
    assert_fell_back(detach_no_wait::<R, Correct>());
    assert_ran_wrong(
        detach_no_wait::<R, DetachNoWait>(),
        "N3 twin must run on the reused VMA",
    );
}

/// N8: the VMA the reader found is detached before its CAS. Correct: a miss, the
/// retry locks the new mapping. Twin: also drops a reference it never took, a
/// refcount underflow (caught, undone and counted), then the same retry.
fn put_on_retry<R: Rcu, V: Variant>() -> Totals {
    let sp = space::<R, V>();
    let wc = Counters::default();
    let mut ran = false;
    let t = fault(&sp, |p| {
        if p == Point::Found && !ran {
            ran = true;
            sp.replace(&mut sp.handle(1), 0, SLOT, MapKind::Fresh, &wc);
        }
    });
    assert!(ran);
    t
}

fn n8_put_without_get_on_retry<R: Rcu>() {
    assert_missed_then_locked(put_on_retry::<R, Correct>());
    let t = put_on_retry::<R, PutOnRetry>();
    assert_eq!(
        (t.lock_miss, t.lock_success, t.wrong, t.errors),
        (1, 1, 0, 1),
        "N8 twin must underflow once: {t:?}"
    );
}

/// N13: the VMA the reader found is freed and reused in the same mm at another
/// address, attached. Correct: the address check aborts, one fallback. Twin: a
/// wrong answer.
fn reused_elsewhere<R: Rcu, V: Variant>() -> Totals {
    let sp = space::<R, V>();
    let x: *const Vma = found(&sp);
    let wc = Counters::default();
    let mut ran = false;
    let t = fault(&sp, |p| {
        if p == Point::Found && !ran {
            ran = true;
            let mut w = sp.handle(1);
            sp.replace(&mut w, 0, SLOT, MapKind::Fresh, &wc);
            sp.replace(&mut w, 0, 2, MapKind::Fresh, &wc);
            assert_eq!(sp.current(0, 2), x, "reused at once");
        }
    });
    assert!(ran);
    t
}

fn n13_no_address_check<R: Rcu>() {
    assert_fell_back(reused_elsewhere::<R, Correct>());
    assert_ran_wrong(
        reused_elsewhere::<R, NoAddrCheck>(),
        "N13 twin must accept the VMA at another address",
    );
}

/// N10 (the KASAN use-after-free): the VMA the reader found is reused in mm 1 and
/// the reader takes a reference on it; mm 1's process exits and its writer waits
/// for that reference. The reader's mm check fails; it drops the reference, which
/// lets the exit free mm 1, and then wakes mm 1's writer. Correct: mm 1 was pinned
/// first, so the exit waits for the pin and the wake touches a live mm. Twin: the
/// wake touches the freed mm, caught by its generation and counted.
fn exit_under_the_wake<R: Rcu, V: Variant>() -> (Totals, u64) {
    let sp = space::<R, V>();
    let x = found(&sp);
    let wc = Counters::default();
    let born = sp.mm(1).generation();
    let waits = Waits::default();
    let mut stage = 0;
    let t = std::thread::scope(|s| {
        let t = fault(&sp, |p| match (p, stage) {
            (Point::Found, 0) => {
                stage = 1;
                reuse_in_mm1(&sp, x, &wc);
            }
            (Point::Locked, 1) => {
                stage = 2;
                s.spawn(|| sp.exit(&mut sp.handle(2), 1, &wc));
                waits.until("mm 1's exit to write-lock the VMA and wait for us", || {
                    x.refcnt() >= VMA_LOCK_OFFSET
                });
            }
            (Point::Put, 2) => {
                stage = 3;
                // The exit goes on: it frees mm 1 (twin) or waits for our pin.
                waits.until("mm 1's exit to free mm 1 or wait for our pin", || {
                    sp.mm(1).freeing() || sp.mm(1).generation() != born
                });
            }
            _ => {}
        });
        assert_eq!(stage, 3, "the schedule ran");
        t
    });
    waits.check();
    assert_eq!(wc.snapshot().errors, 0);
    (t, sp.mm(1).generation() - born)
}

fn n10_wake_of_an_unpinned_mm<R: Rcu>() {
    let (t, lives) = exit_under_the_wake::<R, Correct>();
    assert_eq!(lives, 2, "mm 1 was freed and created again");
    assert_fell_back(t);
    let (t, lives) = exit_under_the_wake::<R, MmUnpinned>();
    assert_eq!(lives, 2);
    assert_eq!(
        (t.lock_abort, t.fallbacks, t.wrong, t.errors),
        (1, 1, 0, 1),
        "N10 twin must touch the freed mm: {t:?}"
    );
}

fn an_exit_frees_every_vma_and_the_mm_and_makes_new_ones<R: Rcu>() {
    let sp = space::<R, Correct>();
    let c = Counters::default();
    let before: Vec<_> = (0..4).map(|k| sp.current(1, k)).collect();
    sp.exit(&mut sp.handle(1), 1, &c);
    let t = c.snapshot();
    assert_eq!((t.maps, t.unmaps, t.errors), (4, 4, 0), "{t:?}");
    assert_eq!(sp.mm(1).generation(), 2);
    for k in 0..4 {
        let now = sp.current(1, k);
        assert!(!before.contains(&now), "slot {k} has a new VMA");
        // SAFETY: as in `found`: a VMA of the space's typesafe cache.
        let v = unsafe { &*now };
        assert_eq!((v.refcnt(), v.mm()), (1, 1), "attached in the new mm");
    }
    // A fault in the new mm is served by the per-VMA lock.
    let r = Counters::default();
    sp.fault(&mut sp.handle(0), 1, sp.layout().addr(2, 0), &r);
    assert_eq!((r.snapshot().lock_success, r.snapshot().wrong), (1, 0));
}

/// The reader's CAS lands while a writer (another thread, handle 2) holds the
/// found VMA write-locked, out of the index, and is about to detach it: the
/// writer stops at its `Detaching` point until the reader holds its reference,
/// then detaches and (unless its detach does not wait) waits for that reference.
struct DetachRace<'w> {
    waits: &'w Waits,
    ready: AtomicBool,
    go: AtomicBool,
    done: AtomicBool,
}

impl<'w> DetachRace<'w> {
    fn new(waits: &'w Waits) -> Self {
        DetachRace {
            waits,
            ready: AtomicBool::new(false),
            go: AtomicBool::new(false),
            done: AtomicBool::new(false),
        }
    }

    /// Start the writer's replace of `SLOT` in mm 0 and wait until it stops
    /// before its detach.
    fn start<'s, 'e, R: Rcu, V: Variant>(
        &'e self,
        s: &'s std::thread::Scope<'s, 'e>,
        sp: &'e Ts<R, V>,
        wc: &'e Counters,
    ) {
        s.spawn(move || {
            let mut w = sp.handle_with(2, |p: Point| {
                if p == Point::Detaching {
                    // Release / Acquire (this flag and the others): the steps
                    // are handed from thread to thread through them.
                    self.ready.store(true, Ordering::Release);
                    self.waits.until("the reader to take its reference", || {
                        self.go.load(Ordering::Acquire)
                    });
                }
            });
            sp.replace(&mut w, 0, SLOT, MapKind::Fresh, wc);
            drop(w);
            self.done.store(true, Ordering::Release);
        });
        self.waits
            .until("the writer to stop before its detach", || {
                self.ready.load(Ordering::Acquire)
            });
    }

    /// The reader holds its reference: let the writer detach, and wait until it
    /// either waits for that reference (its offset in the count) or returned
    /// without waiting (true: a detach that does not wait, N3).
    fn release(&self, x: &Vma) -> bool {
        self.go.store(true, Ordering::Release);
        self.waits
            .until("the writer to wait for our reference or return", || {
                self.done.load(Ordering::Acquire) || x.refcnt() == VMA_LOCK_OFFSET + 1
            });
        self.done.load(Ordering::Acquire)
    }
}

/// N9: the reader takes its reference after the writer write-locked the VMA and
/// before its detach; the detach (on the way to the free) resets `lock_seq`, then
/// waits for the reader. Correct: the reader sees the write lock, aborts and falls
/// back. Twin: it sees the object "unlocked" and runs on a VMA that is no longer
/// in the index, a wrong answer.
fn free_resets_seq<R: Rcu, V: Variant>() -> Totals {
    let sp = space::<R, V>();
    let x = found(&sp);
    let waits = Waits::default();
    let race = DetachRace::new(&waits);
    let wc = Counters::default();
    let mut stage = 0;
    let t = std::thread::scope(|s| {
        let t = fault(&sp, |p| match (p, stage) {
            (Point::BeforeCas, 0) => {
                stage = 1;
                race.start(s, &sp, &wc);
            }
            (Point::Locked, 1) => {
                stage = 2;
                assert!(!race.release(x), "the detach waits for the reader");
            }
            _ => {}
        });
        assert_eq!(stage, 2, "the schedule ran");
        t
    });
    waits.check();
    assert_eq!(wc.snapshot().errors, 0);
    t
}

fn n9_free_resets_the_lock_sequence<R: Rcu>() {
    assert_fell_back(free_resets_seq::<R, Correct>());
    assert_ran_wrong(
        free_resets_seq::<R, FreeResetsSeq>(),
        "N9 twin must run on the write-locked, unindexed VMA",
    );
}

/// N7 (case 2 of the patch): the VMA the reader found is reused in mm 1 before
/// its lock attempt (the twin takes mm 1's sequence from `vma.mm` then), and
/// reused back in mm 0 at the same address before its CAS, where a writer has it
/// write-locked and is detaching it. Correct: the caller's mm's sequence says
/// write-locked: abort, fallback. Twin: mm 1's sequence says unlocked: it runs
/// on a VMA no longer in the index, a wrong answer.
fn seq_of_vma_mm<R: Rcu, V: Variant>() -> Totals {
    let sp = space::<R, V>();
    let x = found(&sp);
    let waits = Waits::default();
    let race = DetachRace::new(&waits);
    let wc = Counters::default();
    let mut stage = 0;
    let t = std::thread::scope(|s| {
        let t = fault(&sp, |p| match (p, stage) {
            (Point::Found, 0) => {
                stage = 1;
                reuse_in_mm1(&sp, x, &wc);
            }
            (Point::BeforeCas, 1) => {
                stage = 2;
                let mut w = sp.handle(1);
                sp.replace(&mut w, 1, SLOT, MapKind::Fresh, &wc);
                sp.replace(&mut w, 0, SLOT, MapKind::Fresh, &wc);
                assert_eq!(sp.current(0, SLOT), x as *const Vma, "back in mm 0");
                race.start(s, &sp, &wc);
            }
            (Point::Locked, 2) => {
                stage = 3;
                assert!(!race.release(x), "the detach waits for the reader");
            }
            _ => {}
        });
        assert_eq!(stage, 3, "the schedule ran");
        t
    });
    waits.check();
    assert_eq!(wc.snapshot().errors, 0);
    t
}

/// N7, the use-after-free side: the VMA the reader found is reused in mm 1, and
/// mm 1's process exits (on another thread) and stops right after freeing mm 1.
/// The reader's lock attempt then reads a sequence. Correct: its own mm's, a
/// miss (the VMA is detached), the retry succeeds. Twin: mm 1's, a touch of the
/// freed mm, caught by its generation and counted (the kernel's use-after-free).
fn seq_of_a_freed_mm<R: Rcu, V: Variant>() -> Totals {
    let sp = space::<R, V>();
    let x = found(&sp);
    let wc = Counters::default();
    let waits = Waits::default();
    let (freed, go) = (AtomicBool::new(false), AtomicBool::new(false));
    let mut ran = false;
    let t = std::thread::scope(|s| {
        let t = fault(&sp, |p| {
            if p == Point::Found && !ran {
                ran = true;
                reuse_in_mm1(&sp, x, &wc);
                s.spawn(|| {
                    let mut e = sp.handle_with(2, |p: Point| {
                        if p == Point::MmFreed {
                            // Release / Acquire: as in `DetachRace`.
                            freed.store(true, Ordering::Release);
                            waits.until("the reader's lock attempt", || go.load(Ordering::Acquire));
                        }
                    });
                    sp.exit(&mut e, 1, &wc);
                });
                waits.until("mm 1's exit to free mm 1", || freed.load(Ordering::Acquire));
                assert!(sp.mm(1).is_freed(), "mm 1 is freed");
            }
        });
        go.store(true, Ordering::Release);
        assert!(ran, "the schedule ran");
        t
    });
    waits.check();
    t
}

fn n7_lock_check_against_the_vmas_own_mm<R: Rcu>() {
    assert_fell_back(seq_of_vma_mm::<R, Correct>());
    assert_ran_wrong(
        seq_of_vma_mm::<R, SeqOfVmaMm>(),
        "N7 twin must trust the other mm's sequence",
    );
    assert_missed_then_locked(seq_of_a_freed_mm::<R, Correct>());
    // The twin then compares with the exit's sequence, under which the VMA was
    // write-locked: a false "locked", an abort and a fallback.
    let t = seq_of_a_freed_mm::<R, SeqOfVmaMm>();
    assert_eq!(
        (t.lock_abort, t.fallbacks, t.wrong, t.errors),
        (1, 1, 0, 1),
        "N7 twin must touch the freed mm: {t:?}"
    );
}

/// N14: a fault holds the VMA's read lock (its reference is taken, validation
/// and the fault body come next) when an in-place change (mprotect) of that VMA
/// starts. Correct: the change write-locks the VMA first, so it waits for the
/// reader, which runs on the old version, whole; the change then makes the new
/// version, which the next fault sees whole. Twin: the change does not
/// write-lock, and the reader reads while the fields are half rewritten: a mix
/// of two versions, a wrong answer.
fn change_under_a_reader<R: Rcu, V: Variant>() -> (Totals, Totals, Totals) {
    let sp = space::<R, V>();
    let x = found(&sp);
    let waits = Waits::default();
    let wc = Counters::default();
    let changing = AtomicBool::new(false);
    let read = AtomicBool::new(false);
    let mut ran = false;
    let t = std::thread::scope(|s| {
        let t = fault(&sp, |p| {
            if p == Point::Locked && !ran {
                ran = true;
                let (sp, wc, waits, changing, read) = (&sp, &wc, &waits, &changing, &read);
                s.spawn(move || {
                    let mut w = sp.handle_with(1, |p: Point| {
                        if p == Point::Changing {
                            changing.store(true, Ordering::SeqCst);
                            waits.until("the reader's fault", || read.load(Ordering::SeqCst));
                        }
                    });
                    assert!(sp.change(&mut w, 0, SLOT, wc), "the slot is mapped");
                });
                // The change either waits for our reference (correct) or is
                // halfway through its rewrite (twin).
                waits.until("the change to wait for us, or to be halfway", || {
                    changing.load(Ordering::SeqCst) || x.refcnt() >= VMA_LOCK_OFFSET
                });
            }
        });
        read.store(true, Ordering::SeqCst);
        t
    });
    waits.check();
    assert!(ran, "the schedule ran");
    // The next fault, after the change: it sees the new version.
    let after = fault(&sp, |_| {});
    (t, wc.snapshot(), after)
}

fn n14_change_without_write_lock<R: Rcu>() {
    let (t, w, after) = change_under_a_reader::<R, Correct>();
    assert_eq!(
        (t.lock_success, t.wrong, t.errors),
        (1, 0, 0),
        "the reader ran on the old version, whole: {t:?}"
    );
    assert_eq!((w.changes, w.errors), (1, 0), "{w:?}");
    assert_eq!(
        (after.lock_success, after.wrong),
        (1, 0),
        "the new version, whole: {after:?}"
    );
    let (t, w, _) = change_under_a_reader::<R, ChangeUnlocked>();
    assert_eq!(w.changes, 1, "{w:?}");
    assert_ran_wrong(t, "N14 twin must read a mix of two versions");
}

/// N15 (the Linux 6.4 fork corruption): a fault on the parent holds its VMA's
/// read lock and is halfway through that VMA's first `anon_vma` assignment
/// (the pointer written, the chain not yet) when the process forks. Correct:
/// the fork write-locks the VMA first, so it waits for the fault, and its
/// copy holds the whole assignment; the fault ran on the parent's mapping.
/// Twin: the fork copies the VMA at once: a torn copy, a wrong answer counted
/// by the forking writer.
fn fork_under_a_fault<R: Rcu, V: Variant>() -> (Totals, Totals) {
    let sp = space::<R, V>();
    let x = found(&sp);
    let waits = Waits::default();
    let wc = Counters::default();
    let forked = AtomicBool::new(false);
    let mut ran = false;
    let t = std::thread::scope(|s| {
        fault(&sp, |p| {
            if p == Point::AnonAssigning && !ran {
                ran = true;
                let (sp, wc, forked) = (&sp, &wc, &forked);
                s.spawn(move || {
                    sp.fork(&mut sp.handle(1), 0, wc);
                    forked.store(true, Ordering::SeqCst);
                });
                // The fork either waits for our reference (correct) or has
                // copied every VMA already (twin).
                waits.until("the fork to wait for us, or to be done", || {
                    forked.load(Ordering::SeqCst) || x.refcnt() >= VMA_LOCK_OFFSET
                });
            }
        })
    });
    waits.check();
    assert!(ran, "the schedule ran");
    (t, wc.snapshot())
}

fn n15_fork_without_write_locks<R: Rcu>() {
    let slots = space::<R, Correct>().layout().slots as u64;
    let (t, w) = fork_under_a_fault::<R, Correct>();
    assert_eq!(
        (t.lock_success, t.wrong, t.errors),
        (1, 0, 0),
        "the fault ran on the parent's mapping: {t:?}"
    );
    assert_eq!(
        (w.forks, w.fork_copies, w.wrong, w.errors),
        (1, slots, 0, 0),
        "every copy whole: {w:?}"
    );
    let (t, w) = fork_under_a_fault::<R, ForkUnlocked>();
    assert_eq!((t.lock_success, t.wrong), (1, 0), "{t:?}");
    assert_eq!(
        (w.forks, w.fork_copies, w.wrong),
        (1, slots, 1),
        "N15 twin must copy the VMA torn: {w:?}"
    );
}

/// N17 (the Nov 2025 syzbot use-after-free): the VMA the reader found is
/// unmapped and its range mapped again (by another VMA) before the reader's
/// CAS. Each store
/// rebuilds the index's leaf (null next to a gap, then a split of the gap), so
/// the leaf the reader's walk ended in is out of the tree and handed to
/// `call_rcu`. The reader misses and leaves its read section. Correct: the
/// retry walks from the root and locks the new mapping. Twin: the retry walks
/// on from the kept leaf, which the new read section does not hold back: a
/// use-after-free, counted in `errors` (the walk then starts from the root, so
/// the answer itself is right). Under QSBR no grace period ends between the
/// two sections (the reader reports no quiescent state in its fault), so the
/// same walk is safe there and counts nothing.
fn stale_position<R: Rcu, V: Variant>() -> (Totals, Totals) {
    let sp = space::<R, V>();
    let x: *const Vma = found(&sp);
    let wc = Counters::default();
    let (mut remapped, mut retried) = (false, false);
    let t = fault(&sp, |p| match p {
        Point::Found if !remapped => {
            remapped = true;
            // Two writers' handles, so the map does not take `x` back from the
            // unmap's sheaf: `x` stays detached for the reader's CAS.
            let (mut unmapper, mut mapper) = (sp.handle(1), sp.handle(2));
            assert!(sp.unmap(&mut unmapper, 0, SLOT, &wc), "the slot was mapped");
            assert!(sp.map(&mut mapper, 0, SLOT, &wc), "the slot was unmapped");
            assert_ne!(sp.current(0, SLOT), x, "a new VMA");
        }
        Point::Retry => retried = true,
        _ => {}
    });
    assert!(remapped && retried, "the schedule ran");
    (t, wc.snapshot())
}

fn n17_retry_from_a_stale_position<R: Rcu>() {
    let (t, w) = stale_position::<R, Correct>();
    assert_missed_then_locked(t);
    assert_eq!(
        (w.unmaps, w.maps, w.nodes_replaced),
        (1, 1, 2),
        "two leaf rebuilds: {w:?}"
    );
    let (t, w) = stale_position::<R, StaleRetry>();
    assert_eq!(w.nodes_replaced, 2, "{w:?}");
    let freeable = u64::from(R::GP_BETWEEN_SECTIONS);
    assert_eq!(
        (t.lock_miss, t.lock_success, t.wrong, t.errors),
        (1, 1, 0, freeable),
        "N17 twin must walk from the queued leaf once (where a grace period can end between sections): {t:?}"
    );
}
