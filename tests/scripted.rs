//! Scripted interleavings of the three reuse cases of the typesafe patch. One
//! thread plays the reader; a hook between its steps plays the writers, so the
//! schedule is exact. Each case runs the correct `typesafe` (which must reject the
//! reused VMA and fall back or retry) and, where the review named one, the broken
//! twin (which must return a wrong answer on the same schedule).
//!
//! Every test runs under every RCU flavour this build has, one module per
//! flavour (`epoch::case2_reuse_inside_the_lock_attempt_aba`,
//! `urcu_qsbr::...`), made by `every_flavour!` from the generic bodies below.
//! Every step runs on the reader's thread, so no step waits for another
//! thread, and none for a grace period (writers free through `call_rcu` and
//! never wait for it); the flavour's barrier runs when a space drops.

use vma_bench::model::counters::{Counters, Totals};
use vma_bench::model::hook::Point;
use vma_bench::model::vma::{AbortReason, Vma};
use vma_bench::rcu::Rcu;
use vma_bench::schemes::rcu::{Correct, Variant};
use vma_bench::schemes::twins::{DupCopiesRefcnt, NoMmCheck};
use vma_bench::schemes::Typesafe;
use vma_bench::{Layout, MapKind, Space};

#[macro_use]
mod flavours;

every_flavour!(
    case1_reused_not_yet_attached_is_a_miss,
    case1_reused_in_another_mm_is_rejected_and_the_twin_is_wrong,
    case1_reused_at_another_address_is_rejected,
    case2_reuse_inside_the_lock_attempt_aba,
    case3_reattached_elsewhere_the_reader_sees_the_new_values,
    dup_keeps_the_copy_detached_and_the_twin_is_wrong,
);

/// `typesafe` (or its twin `V`) over the flavour `R`.
type Ts<R, V> = Space<Typesafe<R, V>>;

fn space<R: Rcu, V: Variant>() -> Ts<R, V> {
    Space::with_defaults(Layout { mms: 2, slots: 4 })
}

/// Reader in mm 0 at slot 1.
const SLOT: usize = 1;

/// Runs one fault in mm 0 at slot 1 with `writer` run once at `at`; returns the
/// reader's counters and the object the reader found first.
fn fault_with<'s, R: Rcu, V: Variant>(
    sp: &'s Ts<R, V>,
    at: Point,
    writer: impl FnOnce(&'s Ts<R, V>, &Counters),
) -> (Totals, *const Vma) {
    let reader = Counters::default();
    let wc = Counters::default();
    let found = sp.current(0, SLOT);
    let mut writer = Some(writer);
    {
        let mut h = sp.handle_with(0, |p: Point| {
            if p == at {
                if let Some(w) = writer.take() {
                    w(sp, &wc);
                }
            }
        });
        sp.fault(&mut h, 0, sp.layout().addr(SLOT, 3), &reader);
    }
    assert!(writer.is_none(), "the schedule never reached {at:?}");
    (reader.snapshot(), found)
}

/// Frees the VMA at (mm 0, slot 1) and reuses it at `(mm, slot)`, committed.
fn reuse_at<R: Rcu, V: Variant>(mm: usize, slot: usize) -> impl FnOnce(&Ts<R, V>, &Counters) {
    move |sp, c| {
        let mut w = sp.handle(1);
        let old = sp.current(0, SLOT);
        sp.replace(&mut w, 0, SLOT, MapKind::Fresh, c);
        sp.replace(&mut w, mm, slot, MapKind::Fresh, c);
        assert_eq!(
            sp.current(mm, slot),
            old,
            "the freed VMA was reused at once"
        );
    }
}

fn case1_reused_not_yet_attached_is_a_miss<R: Rcu>() {
    let sp = space::<R, Correct>();
    let mut pending = None;
    let (t, found) = fault_with(&sp, Point::Found, |sp, c| {
        let mut w = sp.handle(1);
        sp.replace(&mut w, 0, SLOT, MapKind::Fresh, c);
        // Reused for a new mapping in mm 1, not yet in the index: detached. It
        // stays pending while the reader goes on, and is committed after.
        pending = Some(sp.prepare(&mut w, 1, 2, MapKind::Fresh, c));
    });
    let p = pending.expect("the writer ran");
    assert_eq!(
        p.vma() as *const Vma,
        found,
        "the object the reader found was reused"
    );
    sp.commit(&mut sp.handle(1), p, &Counters::default());
    assert_eq!(
        (t.lock_miss, t.lock_success, t.wrong, t.fallbacks),
        (1, 1, 0, 0),
        "{t:?}"
    );
}

fn case1_reused_in_another_mm_is_rejected_and_the_twin_is_wrong<R: Rcu>() {
    let (t, _) = fault_with(&space::<R, Correct>(), Point::Found, reuse_at(1, SLOT));
    assert_eq!(
        (t.lock_abort, t.fallbacks, t.wrong, t.lock_success),
        (1, 1, 0, 0),
        "{t:?}"
    );
    let (t, _) = fault_with(&space::<R, NoMmCheck>(), Point::Found, reuse_at(1, SLOT));
    assert_eq!(
        (t.wrong, t.lock_success),
        (1, 1),
        "N6 twin must answer wrongly: {t:?}"
    );
}

fn case1_reused_at_another_address_is_rejected<R: Rcu>() {
    let (t, _) = fault_with(&space::<R, Correct>(), Point::Found, reuse_at(0, 2));
    assert_eq!((t.lock_abort, t.fallbacks, t.wrong), (1, 1, 0), "{t:?}");
}

fn case2_reuse_inside_the_lock_attempt_aba<R: Rcu>() {
    // The reader read refcnt == 1; before its CAS the VMA is freed and attached in
    // mm 1 (refcnt is 1 again), so the CAS succeeds on a different mapping.
    let (t, _) = fault_with(&space::<R, Correct>(), Point::BeforeCas, reuse_at(1, SLOT));
    assert_eq!((t.lock_abort, t.fallbacks, t.wrong), (1, 1, 0), "{t:?}");
    // The twin trusts the lock_seq of the wrong mm ("false unlocked") and goes on.
    let (t, _) = fault_with(
        &space::<R, NoMmCheck>(),
        Point::BeforeCas,
        reuse_at(1, SLOT),
    );
    assert_eq!((t.wrong, t.lock_success), (1, 1), "{t:?}");
}

fn case3_reattached_elsewhere_the_reader_sees_the_new_values<R: Rcu>() {
    // Reused and attached in mm 1 at slot 3: the reader's CAS succeeds and it must
    // see the new mm (correct) or, without the mm check, the new range.
    for (mistake_free, expect) in [(true, AbortReason::OtherMm), (false, AbortReason::Address)] {
        let reason = if mistake_free {
            lock_after_reuse(&space::<R, Correct>(), 1, 3)
        } else {
            lock_after_reuse(&space::<R, NoMmCheck>(), 1, 3)
        };
        assert_eq!(reason, Err(expect));
    }
    // Reattached at the same address in another mm only the mm check can tell.
    assert_eq!(
        lock_after_reuse(&space::<R, Correct>(), 1, SLOT),
        Err(AbortReason::OtherMm)
    );
    assert_eq!(lock_after_reuse(&space::<R, NoMmCheck>(), 1, SLOT), Ok(1));
}

/// `lock_vma_under_rcu` after the found VMA was reused at (mm, slot); Ok(mm of the
/// locked VMA) if it was (wrongly) accepted.
fn lock_after_reuse<R: Rcu, V: Variant>(
    sp: &Ts<R, V>,
    mm: usize,
    slot: usize,
) -> Result<usize, AbortReason> {
    let c = Counters::default();
    let wc = Counters::default();
    let mut writer = Some(reuse_at::<R, V>(mm, slot));
    let mut h = sp.handle_with(0, |p: Point| {
        if p == Point::Found {
            if let Some(w) = writer.take() {
                w(sp, &wc);
            }
        }
    });
    let r = sp
        .lock_vma_under_rcu(&mut h, 0, sp.layout().addr(SLOT, 0), &c)
        .map(|v| v.mm());
    r
}

fn dup_case<R: Rcu, V: Variant>() -> Totals {
    let sp = space::<R, V>();
    let mut pending = None;
    let (t, found) = fault_with(&sp, Point::Found, |sp, c| {
        let mut w = sp.handle(1);
        sp.replace(&mut w, 0, SLOT, MapKind::Fresh, c);
        // mprotect-like change of the new mapping: vm_area_dup into the object the
        // reader found, not yet inserted.
        pending = Some(sp.prepare(&mut w, 0, SLOT, MapKind::Copy, c));
    });
    let p = pending.expect("the writer ran");
    assert_eq!(
        p.vma() as *const Vma,
        found,
        "the copy reuses the found object"
    );
    let c = Counters::default();
    let mut w = sp.handle(1);
    sp.commit(&mut w, p, &c);
    t
}

fn dup_keeps_the_copy_detached_and_the_twin_is_wrong<R: Rcu>() {
    let t = dup_case::<R, Correct>();
    assert_eq!((t.lock_miss, t.lock_success, t.wrong), (1, 1, 0), "{t:?}");
    let t = dup_case::<R, DupCopiesRefcnt>();
    assert_eq!(
        (t.lock_miss, t.wrong),
        (0, 1),
        "N1 twin must lock the uninserted copy: {t:?}"
    );
}
