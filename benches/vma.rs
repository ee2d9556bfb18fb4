//! Criterion benchmarks over the same `VmaLookup` workload as the sweep: each
//! sample builds the address spaces, releases the workers together and times them
//! with the library's own driver (`run_spec`); pool start-up and join are not timed.
//!
//! Groups by question: read-only faults, faults under 1% and 10% churn, and
//! the writers' cost (100% churn), for every correct scheme and, on Linux, the
//! real kernel (`linux`). Each group with churn has both writer operations
//! beside the faults: `mmap(MAP_FIXED)` replacement (ids `scheme/threads=T`,
//! uniform skew) and munmap + mmap (ids `scheme/unmap-map,threads=T`, private
//! skew: each worker churns its own mappings). Throughput is in operations per
//! second (faults or churn operations; in `mmap_munmap`, a replacement, or a
//! munmap + mmap pair).
//!
//! The last group, `free_calls_per_unmap`, times the workload the typesafe patch's
//! figure is about; the deferred calls per removed mapping, by kind, are printed
//! beside criterion's output (ids stay the same from run to run, so
//! `--baseline` comparisons work; see [`free_calls`]).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vma_bench::rcu::RcuSettings;
use vma_bench::schemes::SchemeId;
use vma_bench::{run_spec, ChurnKind, FaultWork, Layout, Limit, RunConfig, RunSpec, Skew};

fn threads() -> Vec<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut t = vec![1, 2];
    if cores > 2 {
        t.push(cores);
    }
    t
}

fn spec(scheme: SchemeId, threads: usize, churn_pct: f64, limit: Limit) -> RunSpec {
    spec_of(scheme, threads, churn_pct, ChurnKind::Replace, limit)
}

/// The workload with churn of `kind`: replace under uniform skew; munmap +
/// mmap under private skew (each worker churns its own mappings, the only way
/// the real kernel can: another thread's fault into an unmapped range would be
/// SIGSEGV), for every scheme alike.
fn spec_of(
    scheme: SchemeId,
    threads: usize,
    churn_pct: f64,
    kind: ChurnKind,
    limit: Limit,
) -> RunSpec {
    RunSpec {
        scheme,
        config: RunConfig {
            threads,
            churn_pct,
            churn_kind: kind,
            exits_pct: 0.0,
            changes_pct: 0.0,
            forks_pct: 0.0,
            limit,
            warmup: Duration::ZERO,
            skew: match kind {
                ChurnKind::Replace => Skew::Uniform,
                ChurnKind::UnmapMap => Skew::Private,
            },
            seed: 1,
            probe: Default::default(),
        },
        // One process is one mm: the real kernel has 1.
        layout: Layout {
            mms: scheme.mms(2),
            slots: 64,
        },
        work: if scheme.is_kernel() {
            FaultWork::Page
        } else {
            FaultWork::Light
        },
        settings: RcuSettings::default(),
        widen: 0,
    }
}

/// Runs `spec`; a scheme that cannot run here (the real kernel failing) ends the
/// benchmark with its message.
fn measure(spec: &RunSpec) -> vma_bench::run::spec::Measured {
    run_spec(spec).unwrap_or_else(|e| {
        eprintln!("vma-bench bench: {e}");
        std::process::exit(1)
    })
}

/// The default sweep's schemes, those over RCU over the most kernel-like flavour.
fn schemes() -> Vec<SchemeId> {
    vma_bench::run::sweep::default_schemes()
        .0
        .into_iter()
        .map(SchemeId::kernel_like)
        .collect()
}

fn group(c: &mut Criterion, name: &str, churn_pct: f64) {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    // Without churn there is no writer, so one kind only.
    let kinds: &[ChurnKind] = if churn_pct > 0.0 {
        &ChurnKind::ALL
    } else {
        &[ChurnKind::Replace]
    };
    for t in threads() {
        // Every iteration is one operation on each of `t` threads.
        g.throughput(Throughput::Elements(t as u64));
        for &kind in kinds {
            for scheme in schemes() {
                // Replace keeps the ids it always had; munmap + mmap is named.
                let param = match kind {
                    ChurnKind::Replace => format!("threads={t}"),
                    ChurnKind::UnmapMap => format!("unmap-map,threads={t}"),
                };
                let id = BenchmarkId::new(scheme.label(), param);
                g.bench_function(id, |b| {
                    b.iter_custom(|iters| {
                        let limit = Limit::ops_per_thread(iters);
                        measure(&spec_of(scheme, t, churn_pct, kind, limit))
                            .result
                            .elapsed
                    })
                });
            }
        }
    }
    g.finish();
}

fn timed(c: &mut Criterion) {
    group(c, "read_only", 0.0);
    group(c, "churn_1pct", 1.0);
    group(c, "churn_10pct", 10.0);
    group(c, "mmap_munmap", 100.0);
}

/// The workload of the free-call figure (10% churn on 2 threads) for every
/// model. Criterion refuses a measurement of zero, and zero is the answer for
/// several schemes and kinds, so the counts are not criterion's measured values:
/// a calibration run of the same workload counts them, and they are printed
/// beside criterion's output (`vma_call_rcu/unmap=1.00 ...`); the benchmark ids
/// stay the same from run to run.
fn free_calls(c: &mut Criterion) {
    let mut g = c.benchmark_group("free_calls_per_unmap");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(2));
    for scheme in schemes().into_iter().filter(|s| !s.is_kernel()) {
        let t = measure(&spec(scheme, 2, 10.0, Limit::ops_per_thread(100_000)))
            .result
            .totals;
        let per = |n: u64| n as f64 / t.unmaps.max(1) as f64;
        eprintln!(
            "free_calls_per_unmap/{}/threads=2: vma_call_rcu/unmap={:.2} \
             node_call_rcu/unmap={:.2} slab_call_rcu/unmap={:.4}",
            scheme.label(),
            per(t.vma_call_rcu),
            per(t.node_call_rcu),
            per(t.slab_call_rcu)
        );
        let id = BenchmarkId::new(scheme.label(), "threads=2,churn=10%");
        g.bench_function(id, |b| {
            b.iter_custom(|iters| {
                measure(&spec(scheme, 2, 10.0, Limit::ops_per_thread(iters)))
                    .result
                    .elapsed
            })
        });
    }
    g.finish();
}

criterion_group!(vma, timed, free_calls);
criterion_main!(vma);
