//! One generic conformance and stress test, run for every correct scheme, and the
//! stress detection of the broken twins. Assertions are on counts the runs made.

use std::time::Duration;

use vma_bench::model::counters::freed_here;
use vma_bench::model::hook::Widen;
use vma_bench::model::scheme::{Scheme, Visit};
use vma_bench::schemes::{SchemeId, Twin};
use vma_bench::{drive, Layout, Limit, RunConfig, RunResult, Skew, Space};

/// Stress: 4 threads on 2 cores, 2 mms, few slots, heavy churn, a million faults.
fn stress_config(seed: u64) -> RunConfig {
    RunConfig {
        threads: 4,
        churn_pct: 20.0,
        exits_pct: 0.0,
        limit: Limit::faults(1_000_000),
        warmup: Duration::ZERO,
        skew: Skew::Uniform,
        seed,
    }
}

const LAYOUT: Layout = Layout { mms: 2, slots: 8 };

/// Runs a scheme under stress and returns its result and the objects freed when
/// the space was torn down (on this thread).
struct Stress(RunConfig);

impl Visit for Stress {
    type Out = (RunResult, u64, bool, bool);
    fn visit<S: Scheme + Default>(self) -> Self::Out {
        let space = Space::new(S::default(), LAYOUT);
        let r = drive(&space, &self.0);
        let before = freed_here();
        drop(space);
        (
            r,
            freed_here() - before,
            S::PER_VMA_LOCK,
            S::NAME == "typesafe",
        )
    }
}

fn conformance(id: SchemeId) {
    let (r, teardown, per_vma, typesafe) =
        id.visit(Stress(stress_config(7))).expect("a model scheme");
    let t = r.totals;
    let name = id.name();
    assert!(t.faults >= 1_000_000, "{name}: {t:?}");
    assert_eq!(t.wrong, 0, "{name}: wrong answers {t:?}");
    assert_eq!(t.faults, t.lock_success + t.fallbacks, "{name}: {t:?}");
    assert!(
        t.unmaps > 10_000,
        "{name}: churn too low to mean anything {t:?}"
    );
    assert_eq!(
        t.maps, t.unmaps,
        "{name}: every replace maps and unmaps once"
    );
    assert!(t.freed <= t.unmaps, "{name}: freed more than removed {t:?}");
    if per_vma {
        assert_eq!(
            t.lock_abort, t.fallbacks,
            "{name}: each abort falls back once {t:?}"
        );
        assert!(t.lock_success > t.faults / 2, "{name}: {t:?}");
    } else {
        assert_eq!(
            (t.lock_success, t.fallbacks),
            (0, t.faults),
            "{name}: {t:?}"
        );
    }
    let initial = (LAYOUT.mms * LAYOUT.slots) as u64;
    match id {
        SchemeId::RcuEpoch | SchemeId::RcuSeize | SchemeId::Hazard => {
            assert_eq!(
                t.free_calls, t.unmaps,
                "{name}: one free call per removed VMA"
            );
            assert_eq!(t.reused, 0);
            // Everything removed is freed by the end, nothing twice.
            assert_eq!(
                t.freed + teardown,
                t.unmaps + initial,
                "{name}: {t:?} {teardown}"
            );
        }
        SchemeId::Rwlock => {
            assert_eq!(
                (t.free_calls, t.freed),
                (0, t.unmaps),
                "{name}: freed at once"
            );
            assert_eq!(teardown, initial);
        }
        SchemeId::Leak => {
            assert_eq!(
                (t.free_calls, t.freed, t.reused),
                (0, 0, 0),
                "{name}: {t:?}"
            );
            assert!(
                r.peak_unreclaimed > 0 && r.peak_unreclaimed <= t.unmaps,
                "{name}: {r:?}"
            );
            assert_eq!(
                teardown,
                t.unmaps + initial,
                "{name}: leaked objects freed at the end"
            );
        }
        SchemeId::Typesafe => {
            assert!(typesafe);
            assert_eq!(t.free_calls, 0, "{name}: no deferred free per unmap");
            assert_eq!(t.freed, t.unmaps, "{name}: back in the pool at once");
            assert!(
                t.reused > t.unmaps / 2,
                "{name}: reuse before any grace period {t:?}"
            );
            assert_eq!(
                teardown, 0,
                "{name}: pool memory is not counted as freed objects"
            );
        }
        _ => unreachable!("only correct schemes"),
    }
}

macro_rules! conformance_tests {
    ($($test:ident => $id:ident),* $(,)?) => {
        $(#[test]
        fn $test() {
            conformance(SchemeId::$id);
        })*

        #[test]
        fn every_correct_scheme_has_a_conformance_test() {
            let tested = [$(SchemeId::$id),*];
            for s in SchemeId::correct() {
                assert!(tested.contains(&s), "{} is not tested", s.name());
            }
        }
    };
}

conformance_tests! {
    conformance_rwlock => Rwlock,
    conformance_rcu_epoch => RcuEpoch,
    conformance_rcu_seize => RcuSeize,
    conformance_typesafe => Typesafe,
    conformance_hazard => Hazard,
    conformance_leak => Leak,
}

/// Adversarial settings: many mms, few slots, a widened find-to-lock window.
fn adversarial(twin: SchemeId, seed: u64, cap: u64) -> RunResult {
    adversarial_with(twin, seed, cap, 0.0)
}

/// [`adversarial`] with `exits_pct` of the operations a process exit.
fn adversarial_with(twin: SchemeId, seed: u64, cap: u64, exits_pct: f64) -> RunResult {
    struct Go(RunConfig);
    impl Visit for Go {
        type Out = RunResult;
        fn visit<S: Scheme + Default>(self) -> RunResult {
            let layout = Layout { mms: 4, slots: 2 };
            drive(
                &Space::with_hook(S::default(), layout, Widen { yields: 1 }),
                &self.0,
            )
        }
    }
    let cfg = RunConfig {
        threads: 4,
        churn_pct: 20.0,
        exits_pct,
        limit: Limit {
            faults: Some(cap),
            // A backstop: a twin that stops failing fails its test, never hangs it.
            time: Some(Duration::from_secs(60)),
            first_wrong: true,
            ..Limit::NONE
        },
        warmup: Duration::ZERO,
        skew: Skew::Uniform,
        seed,
    };
    twin.visit(Go(cfg)).expect("a model scheme")
}

#[test]
fn stress_catches_the_missing_mm_check() {
    for seed in 1..=3 {
        let r = adversarial(SchemeId::Twin(Twin::NoMmCheck), seed, 20_000_000);
        assert!(
            r.totals.wrong > 0,
            "seed {seed}: no wrong answer in {:?}",
            r.totals
        );
    }
}

#[test]
fn the_correct_scheme_survives_the_same_adversarial_settings() {
    let r = adversarial(SchemeId::Typesafe, 1, 1_000_000);
    assert!(r.totals.faults >= 1_000_000);
    assert_eq!(r.totals.wrong, 0, "{:?}", r.totals);
    assert!(
        r.totals.lock_abort > 0 && r.totals.reused > 0,
        "{:?}",
        r.totals
    );
}

/// Every twin stress reaches quickly fails under the adversarial settings on
/// three seeds (a wrong answer, or an error: a refcount underflow, or a writer
/// that gave up on readers that never leave), and stops
/// there (`first_wrong` also stops at the first error).
#[test]
fn stress_catches_the_twins_it_can_reach() {
    for twin in [
        SchemeId::Twin(Twin::FreeAttached),
        SchemeId::Twin(Twin::DetachNoWait),
        SchemeId::Twin(Twin::PutOnRetry),
        SchemeId::Twin(Twin::NoAddrCheck),
        SchemeId::Twin(Twin::DupCopiesRefcnt),
    ] {
        for seed in 1..=3 {
            let t = adversarial(twin, seed, 20_000_000).totals;
            assert!(
                t.wrong + t.errors > 0,
                "{} seed {seed}: no failure in {t:?}",
                twin.name()
            );
            assert!(
                t.faults < 20_000_000,
                "{}: stopped at the first",
                twin.name()
            );
        }
    }
}

#[test]
fn the_correct_scheme_survives_exits_under_adversarial_settings() {
    let t = adversarial_with(SchemeId::Typesafe, 1, 1_000_000, 1.0).totals;
    assert!(t.faults >= 1_000_000, "{t:?}");
    assert_eq!((t.wrong, t.errors), (0, 0), "{t:?}");
    assert_eq!(
        t.maps, t.unmaps,
        "exits free as many VMAs as they make {t:?}"
    );
    assert!(t.lock_miss > 0 && t.lock_abort > 0, "{t:?}");
}
