//! Criterion benchmarks over the same `VmaLookup` workload as the sweep: each
//! sample builds the address spaces, releases the workers together and times them
//! with the library's own driver (`run_spec`); pool start-up and join are not timed.
//!
//! Groups by question: read-only faults, faults under 1% and 10% churn, and
//! mmap/munmap cost (100% churn). Ids are `scheme/threads=T`; throughput is in
//! operations (faults, or replacements in the mmap group) per second.
//! After the groups, free calls per unmap are printed for each scheme at 10% churn.

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
            limit,
            warmup: Duration::ZERO,
            skew: Skew::Uniform,
            seed: 1,
        },
        layout: Layout { mms: 2, slots: 64 },
        widen: 0,
    }
}

fn group(c: &mut Criterion, name: &str, churn_pct: f64) {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for t in threads() {
        // Every iteration is one operation on each of `t` threads.
        g.throughput(Throughput::Elements(t as u64));
        for scheme in SchemeId::correct() {
            let id = BenchmarkId::new(scheme.name(), format!("threads={t}"));
            g.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    run_spec(&spec(scheme, t, churn_pct, Limit::ops_per_thread(iters)))
                        .expect("a model scheme")
                        .result
                        .elapsed
                })
            });
        }
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    group(c, "read_only", 0.0);
    group(c, "churn_1pct", 1.0);
    group(c, "churn_10pct", 10.0);
    group(c, "mmap_munmap", 100.0);
    // The figure the typesafe patch is about, from one 2-thread run per scheme.
    if !std::env::args().any(|a| a == "--list") {
        println!("free calls per unmap at 10% churn, 2 threads (one run of 200k ops/thread):");
        for scheme in SchemeId::correct() {
            let r = run_spec(&spec(scheme, 2, 10.0, Limit::ops_per_thread(200_000)))
                .expect("a model scheme")
                .result;
            let t = r.totals;
            let per = if t.unmaps == 0 {
                0.0
            } else {
                t.free_calls as f64 / t.unmaps as f64
            };
            println!(
                "  {:<10} {per:.3} ({} free calls, {} unmaps)",
                scheme.name(),
                t.free_calls,
                t.unmaps
            );
        }
    }
}

criterion_group!(vma, benches);
criterion_main!(vma);
