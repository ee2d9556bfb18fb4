//! Criterion benchmarks over the same `VmaLookup` workload as the sweep: each
//! sample builds the address spaces, releases the workers together and times them
//! with the library's own driver (`run_spec`); pool start-up and join are not timed.
//!
//! Groups by question: read-only faults, faults under 1% and 10% churn, and
//! mmap/munmap cost (100% churn), for every correct scheme and, on Linux, the real
//! kernel (`linux`). Ids are `scheme/threads=T`; throughput is in operations
//! (faults, or replacements in the mmap group) per second.
//!
//! The last group, `free_calls_per_unmap`, puts the figure the typesafe patch is
//! about into criterion's report: each id carries the scheme's deferred-free calls
//! per removed mapping, next to the time of that workload (see [`free_calls`]).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vma_bench::{run_spec, Layout, Limit, RunConfig, RunSpec, SchemeId, Skew};

fn threads() -> Vec<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut t = vec![1, 2];
    if cores > 2 {
        t.push(cores);
    }
    t
}

fn spec(scheme: SchemeId, threads: usize, churn_pct: f64, limit: Limit) -> RunSpec {
    RunSpec {
        scheme,
        config: RunConfig {
            threads,
            churn_pct,
            exits_pct: 0.0,
            limit,
            warmup: Duration::ZERO,
            skew: Skew::Uniform,
            seed: 1,
        },
        // One process is one mm: the real kernel has 1.
        layout: Layout {
            mms: scheme.mms(2),
            slots: 64,
        },
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

fn group(c: &mut Criterion, name: &str, churn_pct: f64) {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for t in threads() {
        // Every iteration is one operation on each of `t` threads.
        g.throughput(Throughput::Elements(t as u64));
        for scheme in vma_bench::run::sweep::default_schemes().0 {
            let id = BenchmarkId::new(scheme.name(), format!("threads={t}"));
            g.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    measure(&spec(scheme, t, churn_pct, Limit::ops_per_thread(iters)))
                        .result
                        .elapsed
                })
            });
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

/// Free calls per unmap at 10% churn on 2 threads, for every correct model (the
/// real kernel's free path is not visible from user space). Criterion refuses a
/// measurement of zero, and zero is the answer for three schemes, so the figure
/// is not criterion's measured value: a calibration run of the same workload
/// measures it, and the benchmark id carries it (`free_calls_per_unmap=1.00`)
/// next to the time criterion measures for that workload. The count is exact, not
/// timing-dependent: every unmap of a deferring scheme makes one free call.
fn free_calls(c: &mut Criterion) {
    let mut g = c.benchmark_group("free_calls_per_unmap");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(2));
    for scheme in SchemeId::correct() {
        let t = measure(&spec(scheme, 2, 10.0, Limit::ops_per_thread(100_000)))
            .result
            .totals;
        let per = t.free_calls as f64 / t.unmaps.max(1) as f64;
        let id = BenchmarkId::new(
            scheme.name(),
            format!("threads=2,churn=10%,free_calls_per_unmap={per:.2}"),
        );
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
