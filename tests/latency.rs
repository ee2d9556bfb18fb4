//! Latency sampling and the stalled reader: the driver times exactly every Nth
//! operation of each worker; a reader parked inside its read section holds up
//! what its scheme defers (every deferred VMA under RCU while it is parked, at
//! most a bounded batch under hazard pointers, nothing under typesafe reuse or
//! the mm-wide lock, whose parked reader holds up the writers of its mm
//! instead); and the driver's stalled worker parks and its timeline shows it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use vma_bench::model::counters::Counters;
use vma_bench::model::scheme::{Free, Scheme, Visit};
use vma_bench::run::driver::{Probe, Stall};
use vma_bench::run::latency::{percentiles, Op};
use vma_bench::schemes::{Flavour, Policy, SchemeId};
use vma_bench::{drive, ChurnKind, Layout, Limit, MapKind, RunConfig, RunResult, Skew, Space};

const LAYOUT: Layout = Layout { mms: 2, slots: 16 };

fn config(threads: usize, churn_pct: f64, limit: Limit, probe: Probe) -> RunConfig {
    RunConfig {
        threads,
        churn_pct,
        churn_kind: ChurnKind::Replace,
        exits_pct: 0.0,
        changes_pct: 0.0,
        forks_pct: 0.0,
        limit,
        warmup: Duration::ZERO,
        skew: Skew::Uniform,
        seed: 3,
        probe,
    }
}

/// Drives `S` over `LAYOUT` with `cfg`.
struct Drive(RunConfig);

impl Visit for Drive {
    type Out = RunResult;
    fn visit<S: Scheme>(self) -> RunResult {
        drive(&Space::<S>::with_defaults(LAYOUT), &self.0)
    }
}

fn run(policy: Policy, rcu: Option<Flavour>, cfg: RunConfig) -> RunResult {
    SchemeId::new(policy, rcu)
        .expect("a valid pair")
        .visit(Drive(cfg))
        .expect("a model")
}

/// Each worker times one in every N of its faults: with a quota of q faults,
/// floor(q / N) or ceil(q / N) of them, whatever its phase; N = 1 times each.
#[test]
fn every_nth_fault_is_timed() {
    for (n, faults) in [(64u32, 100_001u64), (1, 20_000), (1000, 3_999)] {
        let probe = Probe {
            sample_every: n,
            stall: None,
        };
        let r = run(
            Policy::Leak,
            None,
            config(2, 0.0, Limit::faults(faults), probe),
        );
        assert_eq!(r.totals.faults, faults);
        let quotas = [faults.div_ceil(2), faults / 2];
        let n = u64::from(n);
        let lo: u64 = quotas.iter().map(|q| q / n).sum();
        let hi: u64 = quotas.iter().map(|q| q.div_ceil(n)).sum();
        let got = r.latency.of(Op::Fault).len();
        assert!(lo <= got && got <= hi, "N {n}: {got} not in {lo}..={hi}");
        assert!(percentiles(&r.latency.writers()).is_none(), "no churn");
    }
}

/// Writers are timed at the same rate, counted apart from faults: one
/// replacement maps once; munmap and mmap are two operations.
#[test]
fn every_nth_writer_is_timed_and_munmap_and_mmap_count_apart() {
    let n = 16u64;
    for kind in ChurnKind::ALL {
        let probe = Probe {
            sample_every: n as u32,
            stall: None,
        };
        // Private skew: each worker churns its own slots, so every munmap finds
        // its slot mapped and every mmap finds it free: calls = maps + unmaps.
        let cfg = RunConfig {
            churn_kind: kind,
            skew: Skew::Private,
            ..config(2, 30.0, Limit::ops_per_thread(40_000), probe)
        };
        let r = run(Policy::Typesafe, Some(Flavour::Epoch), cfg);
        let t = r.totals;
        let (ops, timed) = match kind {
            ChurnKind::Replace => (t.maps, r.latency.of(Op::Replace).len()),
            ChurnKind::UnmapMap => (
                t.maps + t.unmaps,
                r.latency.of(Op::Unmap).len() + r.latency.of(Op::Map).len(),
            ),
        };
        assert_eq!(r.latency.writers().len(), timed, "{kind:?}");
        // Per worker within one of ops / N; the workers' split is unknown.
        let (lo, hi) = ((ops / n).saturating_sub(2), ops.div_ceil(n) + 2);
        assert!(
            lo <= timed && timed <= hi,
            "{kind:?}: {timed} timed of {ops} operations, not in {lo}..={hi}"
        );
        assert_eq!(r.latency.of(Op::Exit).len(), 0);
    }
}

/// What one park inside the reader's section held up.
#[derive(Debug)]
struct Parked {
    /// VMAs removed and not yet back in their cache, seen inside the park.
    waiting_inside: u64,
    /// What the scheme's type says of a removed VMA.
    vma_free: Free,
}

/// Replacements a writer on another thread makes while the reader is parked.
const K: u64 = 3000;

/// Park a reader of mm 0 (walking to slot 0) and, from another thread, replace
/// every slot but 0 of mm 1 over and over, `K` in all, reporting quiescent
/// states between them; count, inside the park, the VMAs that wait.
struct Park;

impl Visit for Park {
    type Out = Parked;
    fn visit<S: Scheme>(self) -> Parked {
        let space = Space::<S>::with_defaults(LAYOUT);
        let mut waiting_inside = 0;
        let mut reader = space.handle(0);
        let addr = space.layout().addr(0, 0);
        let c = Counters::default();
        std::thread::scope(|s| {
            space.stall(&mut reader, 0, addr, || {
                s.spawn(|| {
                    let mut h = space.handle(1);
                    for i in 0..K {
                        let slot = 1 + (i as usize % (LAYOUT.slots - 1));
                        space.replace(&mut h, 1, slot, MapKind::Fresh, &c);
                        space.quiescent(&mut h);
                    }
                })
                .join()
                .expect("the writer");
                let (t, r) = (c.snapshot(), space.reclaimed());
                assert_eq!(t.unmaps, K);
                waiting_inside = t.unmaps - t.vma_freed_now - r.vmas_after_gp;
            });
        });
        Parked {
            waiting_inside,
            vma_free: S::VMA_FREE,
        }
    }
}

#[test]
fn a_parked_reader_holds_up_what_its_scheme_defers() {
    for id in SchemeId::correct() {
        let p = id.visit(Park).expect("a model");
        match (id.policy, p.vma_free) {
            // Every VMA deferred in the park waits for it (the writer thread's
            // quiescent states cannot end a grace period the reader holds up).
            (Policy::Deferred, _) | (Policy::Leak, _) => {
                assert_eq!(p.waiting_inside, K, "{id:?}: {p:?}")
            }
            // Hazard pointers protect the few objects of one walk: the rest is
            // reclaimed by the scans every batch of retires triggers.
            (Policy::Hazard, _) => assert!(p.waiting_inside < 1100, "{id:?}: {p:?}"),
            // Freed at once: nothing waits.
            (_, Free::Now) => assert_eq!(p.waiting_inside, 0, "{id:?}: {p:?}"),
            _ => panic!("{id:?}: an unexpected free path {p:?}"),
        }
    }
}

/// A writer of the parked reader's own mm: the per-VMA schemes' parked reader
/// holds no lock a writer needs; rwlock's holds `mmap_lock` for read, so that
/// writer waits for the whole park.
#[test]
fn only_rwlocks_parked_reader_holds_up_the_writers_of_its_mm() {
    struct Inside;
    impl Visit for Inside {
        type Out = bool;
        fn visit<S: Scheme>(self) -> bool {
            let space = Space::<S>::with_defaults(LAYOUT);
            let mut reader = space.handle(0);
            let done = AtomicBool::new(false);
            let c = Counters::default();
            let mut done_inside = false;
            std::thread::scope(|s| {
                space.stall(&mut reader, 0, space.layout().addr(0, 0), || {
                    s.spawn(|| {
                        let mut h = space.handle(1);
                        space.replace(&mut h, 0, 1, MapKind::Fresh, &c);
                        // Relaxed: polled below; nothing is handed over.
                        done.store(true, Ordering::Relaxed);
                    });
                    // Generous where the writer can take the lock (it is done long
                    // before); rwlock's cannot, whatever the wait.
                    let polls = if S::PER_VMA_LOCK { 1000 } else { 20 };
                    for _ in 0..polls {
                        // Relaxed: see the store.
                        if done.load(Ordering::Relaxed) {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    // Relaxed: see the store.
                    done_inside = done.load(Ordering::Relaxed);
                });
            });
            done_inside
        }
    }
    for id in SchemeId::correct() {
        let done_inside = id.visit(Inside).expect("a model");
        assert_eq!(done_inside, id.policy != Policy::Rwlock, "{id:?}");
    }
}

/// Workers that took part in a run.
fn cfg_threads(r: &RunResult) -> u64 {
    r.joined as u64
}

/// The driver's stalled worker parks, the timeline sees it parked, and what
/// waits grows under deferred free, not under typesafe reuse.
#[test]
fn the_stalled_worker_parks_and_deferred_frees_pile_up_meanwhile() {
    let probe = Probe {
        sample_every: 64,
        stall: Some(Stall {
            park: Duration::from_millis(20),
            every: Duration::from_millis(40),
        }),
    };
    let cfg = config(2, 20.0, Limit::time(Duration::from_millis(300)), probe);
    let deferred = run(Policy::Deferred, Some(Flavour::Epoch), cfg.clone());
    let typesafe = run(Policy::Typesafe, Some(Flavour::Epoch), cfg);
    for r in [&deferred, &typesafe] {
        assert!(r.timeline.stalls >= 1, "{:?}", r.timeline.stalls);
        assert!(r.timeline.ticks.iter().any(|t| t.parked));
        // Every writer is timed for the timeline: as many as were made.
        let ops: u64 = r.timeline.writers.iter().map(|b| b.ops).sum();
        assert_eq!(ops, r.totals.maps, "one replacement maps once");
    }
    assert!(
        deferred.peak_waiting.vmas > 0,
        "{:?}",
        deferred.peak_waiting
    );
    assert!(
        deferred.timeline.stall_growth().is_some_and(|g| g > 0.0),
        "{:?}",
        deferred.timeline.stall_growth()
    );
    // Replacements store in place: no node is replaced, and typesafe frees its
    // VMAs at once: a sample can only catch each writer between its unmap and
    // the free right after it (one VMA per thread), while deferred free piles
    // up a parked reader's whole grace period.
    assert!(
        typesafe.peak_waiting.vmas <= cfg_threads(&deferred),
        "{:?}",
        typesafe.peak_waiting
    );
    assert!(deferred.peak_waiting.vmas > 10 * cfg_threads(&deferred));
    assert_eq!(typesafe.peak_waiting.nodes, 0);
}
