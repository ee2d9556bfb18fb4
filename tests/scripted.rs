//! Scripted interleavings of the three reuse cases of the typesafe patch. One
//! thread plays the reader; a hook between its steps plays the writers, so the
//! schedule is exact. Each case runs the correct `typesafe` (which must reject the
//! reused VMA and fall back or retry) and, where the review named one, the broken
//! twin (which must return a wrong answer on the same schedule).

use vma_bench::model::counters::{Counters, Totals};
use vma_bench::model::hook::Point;
use vma_bench::model::vma::{AbortReason, Vma};
use vma_bench::schemes::rcu::{Correct, Variant};
use vma_bench::schemes::twins::{DupCopiesRefcnt, NoMmCheck};
use vma_bench::schemes::Typesafe;
use vma_bench::{Layout, MapKind, Space};

type Ts<V> = Space<Typesafe<vma_bench::rcu::Epoch, V>>;

fn space<V: Variant>() -> Ts<V> {
    Space::with_defaults(Layout { mms: 2, slots: 4 })
}

/// Reader in mm 0 at slot 1.
const SLOT: usize = 1;

/// Runs one fault in mm 0 at slot 1 with `writer` run once at `at`; returns the
/// reader's counters and the object the reader found first.
fn fault_with<'s, V: Variant>(
    sp: &'s Ts<V>,
    at: Point,
    writer: impl FnOnce(&'s Ts<V>, &Counters),
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
fn reuse_at<V: Variant>(mm: usize, slot: usize) -> impl FnOnce(&Ts<V>, &Counters) {
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

#[test]
fn case1_reused_not_yet_attached_is_a_miss() {
    let sp = space::<Correct>();
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

#[test]
fn case1_reused_in_another_mm_is_rejected_and_the_twin_is_wrong() {
    let (t, _) = fault_with(&space::<Correct>(), Point::Found, reuse_at(1, SLOT));
    assert_eq!(
        (t.lock_abort, t.fallbacks, t.wrong, t.lock_success),
        (1, 1, 0, 0),
        "{t:?}"
    );
    let (t, _) = fault_with(&space::<NoMmCheck>(), Point::Found, reuse_at(1, SLOT));
    assert_eq!(
        (t.wrong, t.lock_success),
        (1, 1),
        "N6 twin must answer wrongly: {t:?}"
    );
}

#[test]
fn case1_reused_at_another_address_is_rejected() {
    let (t, _) = fault_with(&space::<Correct>(), Point::Found, reuse_at(0, 2));
    assert_eq!((t.lock_abort, t.fallbacks, t.wrong), (1, 1, 0), "{t:?}");
}

#[test]
fn case2_reuse_inside_the_lock_attempt_aba() {
    // The reader read refcnt == 1; before its CAS the VMA is freed and attached in
    // mm 1 (refcnt is 1 again), so the CAS succeeds on a different mapping.
    let (t, _) = fault_with(&space::<Correct>(), Point::BeforeCas, reuse_at(1, SLOT));
    assert_eq!((t.lock_abort, t.fallbacks, t.wrong), (1, 1, 0), "{t:?}");
    // The twin trusts the lock_seq of the wrong mm ("false unlocked") and goes on.
    let (t, _) = fault_with(&space::<NoMmCheck>(), Point::BeforeCas, reuse_at(1, SLOT));
    assert_eq!((t.wrong, t.lock_success), (1, 1), "{t:?}");
}

#[test]
fn case3_reattached_elsewhere_the_reader_sees_the_new_values() {
    // Reused and attached in mm 1 at slot 3: the reader's CAS succeeds and it must
    // see the new mm (correct) or, without the mm check, the new range.
    for (mistake_free, expect) in [(true, AbortReason::OtherMm), (false, AbortReason::Address)] {
        let reason = if mistake_free {
            lock_after_reuse(&space::<Correct>(), 1, 3)
        } else {
            lock_after_reuse(&space::<NoMmCheck>(), 1, 3)
        };
        assert_eq!(reason, Err(expect));
    }
    // Reattached at the same address in another mm only the mm check can tell.
    assert_eq!(
        lock_after_reuse(&space::<Correct>(), 1, SLOT),
        Err(AbortReason::OtherMm)
    );
    assert_eq!(lock_after_reuse(&space::<NoMmCheck>(), 1, SLOT), Ok(1));
}

/// `lock_vma_under_rcu` after the found VMA was reused at (mm, slot); Ok(mm of the
/// locked VMA) if it was (wrongly) accepted.
fn lock_after_reuse<V: Variant>(sp: &Ts<V>, mm: usize, slot: usize) -> Result<usize, AbortReason> {
    let c = Counters::default();
    let wc = Counters::default();
    let mut writer = Some(reuse_at::<V>(mm, slot));
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

fn dup_case<V: Variant>() -> Totals {
    let sp = space::<V>();
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

#[test]
fn dup_keeps_the_copy_detached_and_the_twin_is_wrong() {
    let t = dup_case::<Correct>();
    assert_eq!((t.lock_miss, t.lock_success, t.wrong), (1, 1, 0), "{t:?}");
    let t = dup_case::<DupCopiesRefcnt>();
    assert_eq!(
        (t.lock_miss, t.wrong),
        (0, 1),
        "N1 twin must lock the uninserted copy: {t:?}"
    );
}
