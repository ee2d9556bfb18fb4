//! The driver: one run of one scheme at one point (threads, churn, skew).
//!
//! Workers run on a rayon pool of exactly `threads` threads (`broadcast` gives
//! each its index), are released together by a barrier, and stop on a shared flag.
//! The calling thread samples the per-thread counters while they run, for the
//! unreclaimed-object figures and the stop conditions.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::model::counters::{freed_here, Counters, Totals};
use crate::model::lookup::{Edge, VmaLookup};
use crate::model::mm::MapKind;
use crate::rng::Rng;

/// Which mappings faults go to.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Skew {
    /// Uniform over every mapping of every mm.
    Uniform,
    /// Every fault goes to one mapping per mm (slot 0): one refcount, many readers.
    Hot,
}

impl Skew {
    /// Every skew.
    pub const ALL: [Skew; 2] = [Skew::Uniform, Skew::Hot];

    /// Its name in the CSV and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Skew::Uniform => "uniform",
            Skew::Hot => "hot",
        }
    }

    /// The skew with this name.
    pub fn parse(s: &str) -> Option<Skew> {
        Skew::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// When a run stops (the first condition met).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Limit {
    /// Measured time.
    pub time: Option<Duration>,
    /// Total faults.
    pub faults: Option<u64>,
    /// Stop at the first wrong answer or error (for detecting broken twins).
    pub first_wrong: bool,
    /// Each worker stops by itself after this many operations (benchmarks: an
    /// exact amount of work, independent of the sampler).
    pub ops_per_thread: Option<u64>,
}

impl Limit {
    /// No condition (combine with `..Limit::NONE`).
    pub const NONE: Limit = Limit {
        time: None,
        faults: None,
        first_wrong: false,
        ops_per_thread: None,
    };

    /// Every worker makes exactly `n` operations.
    pub fn ops_per_thread(n: u64) -> Self {
        Limit {
            ops_per_thread: Some(n),
            ..Limit::NONE
        }
    }

    /// Run for `d`.
    pub fn time(d: Duration) -> Self {
        Limit {
            time: Some(d),
            ..Limit::NONE
        }
    }

    /// Run until `n` faults were made.
    pub fn faults(n: u64) -> Self {
        Limit {
            faults: Some(n),
            ..Limit::NONE
        }
    }
}

/// One point of the workload.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Worker threads (the rayon pool's size).
    pub threads: usize,
    /// Percentage of operations that replace a mapping (munmap + mmap).
    pub churn_pct: f64,
    /// Percentage of operations that are a process exit (every VMA of an mm
    /// detached and freed, then the mm) followed by a new mm in its place.
    pub exits_pct: f64,
    /// When to stop measuring.
    pub limit: Limit,
    /// Run before measuring starts; not counted.
    pub warmup: Duration,
    /// Where faults go.
    pub skew: Skew,
    /// Seed of every worker's generator.
    pub seed: u64,
}

/// What one run measured.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Counters summed over threads, over the measured interval.
    pub totals: Totals,
    /// The measured interval: from the end of warm-up until the last worker stopped.
    pub elapsed: Duration,
    /// Most removed-but-not-freed objects seen by the sampler.
    pub peak_unreclaimed: u64,
    /// Mean of the sampled removed-but-not-freed objects.
    pub mean_unreclaimed: f64,
    /// How many samples the sampler took.
    pub samples: u64,
}

impl RunResult {
    /// Faults per second over the measured interval.
    pub fn faults_per_sec(&self) -> f64 {
        self.totals.faults as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// The sampler's period.
const SAMPLE_EVERY: Duration = Duration::from_millis(1);

/// Run `lookup` at `cfg`. Panics only on a rayon pool that cannot be built.
pub fn drive<L: VmaLookup>(lookup: &L, cfg: &RunConfig) -> RunResult {
    assert!(cfg.threads > 0, "validated by the caller");
    let layout = lookup.layout();
    let counters: Vec<CachePadded<Counters>> = (0..cfg.threads)
        .map(|_| CachePadded::new(Counters::default()))
        .collect();
    // 0: warm-up, 1: measuring, 2: stop. Each worker snapshots its own counters
    // when it first sees 1, so the measured window is exact per thread.
    // With no warm-up the run is measured from its first operation.
    let phase = AtomicU8::new(if cfg.warmup.is_zero() {
        MEASURE
    } else {
        WARMUP
    });
    let finished = AtomicUsize::new(0);
    let barrier = Barrier::new(cfg.threads + 1);
    // pct / 100 of the u64 range: `next_u64() < threshold` with that chance. One
    // draw decides: below `exits` an exit, below `threshold` a replace, else a fault.
    let share = |pct: f64| (pct.clamp(0.0, 100.0) / 100.0 * u64::MAX as f64) as u64;
    let exits = share(cfg.exits_pct);
    let threshold = exits.saturating_add(share(cfg.churn_pct));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .thread_name(|i| format!("vma-worker-{i}"))
        .build()
        .expect("building the worker pool");

    let worker = |i: usize| -> (Totals, Instant) {
        let c = &*counters[i];
        let mut h = lookup.handle(i);
        let mut rng = Rng::new(cfg.seed, i as u64);
        let freed_base = freed_here();
        let mms = layout.mms as u64;
        let slots = layout.slots as u64;
        let mut seen = WARMUP;
        let mut base = Totals::default();
        let mut ops = 0u64;
        let quota = cfg.limit.ops_per_thread.unwrap_or(u64::MAX);
        barrier.wait();
        loop {
            // Relaxed: a phase change only; no data is handed over through it.
            let now = phase.load(Ordering::Relaxed);
            if now != seen {
                if now == STOP {
                    break;
                }
                seen = now;
                base = c.snapshot();
                ops = 0;
            }
            if ops == quota && seen == MEASURE {
                break;
            }
            ops += 1;
            let mm = rng.below(mms) as usize;
            let draw = if threshold != 0 {
                rng.next_u64()
            } else {
                u64::MAX
            };
            if draw < threshold {
                if draw < exits {
                    lookup.exit(&mut h, mm, c);
                } else {
                    let slot = rng.below(slots) as usize;
                    let kind = if rng.next_u64() & 1 == 0 {
                        MapKind::Fresh
                    } else {
                        MapKind::Copy
                    };
                    lookup.replace(&mut h, mm, slot, kind, c);
                }
            } else {
                let slot = match cfg.skew {
                    Skew::Uniform => rng.below(slots) as usize,
                    Skew::Hot => 0,
                };
                lookup.fault(&mut h, mm, layout.addr(slot, rng.next_u64()), c);
            }
            c.freed.set(freed_here() - freed_base);
        }
        let end = Instant::now();
        // Frees that happen while the handle is dropped belong to this run too.
        drop(h);
        c.freed.set(freed_here() - freed_base);
        // Relaxed: a count for the sampler's loop; the results travel by `join`.
        finished.fetch_add(1, Ordering::Relaxed);
        if seen == WARMUP {
            // Stopped before it saw the measuring phase (a very short run).
            base = c.snapshot();
        }
        let mut t = c.snapshot() - base;
        if cfg!(vma_bench_bare) {
            // Counters are off in this build (see `counters`): count operations,
            // which are faults in the read-only runs this build is meant for.
            t.faults = ops;
        }
        (t, end)
    };

    let sum = || {
        let mut t = Totals::default();
        for c in &counters {
            t += c.snapshot();
        }
        t
    };

    std::thread::scope(|s| {
        let workers = s.spawn(|| pool.broadcast(|ctx| worker(ctx.index())));
        if cfg.warmup.is_zero() {
            // Measured from the workers' first operation: start before releasing them.
            lookup.measured(Edge::Start);
        }
        barrier.wait();
        let warm_end = Instant::now() + cfg.warmup;
        while Instant::now() < warm_end {
            std::thread::sleep(
                SAMPLE_EVERY.min(warm_end.saturating_duration_since(Instant::now())),
            );
        }
        if !cfg.warmup.is_zero() {
            // Before the phase change: the lookup's interval must cover every
            // measured operation (it may include a few warm-up ones).
            lookup.measured(Edge::Start);
            // Relaxed: see the workers' loop.
            phase.store(MEASURE, Ordering::Relaxed);
        }
        let base = sum();
        let t0 = Instant::now();
        let (mut peak, mut acc, mut samples) = (0u64, 0f64, 0u64);
        loop {
            std::thread::sleep(SAMPLE_EVERY);
            let now = sum();
            let unreclaimed = now.unmaps.saturating_sub(now.freed);
            peak = peak.max(unreclaimed);
            acc += unreclaimed as f64;
            samples += 1;
            // Approximate (a snapshot of running threads): enough to decide to stop.
            let d = now - base;
            let done = cfg.limit.time.is_some_and(|t| t0.elapsed() >= t)
                || cfg.limit.faults.is_some_and(|n| d.faults >= n)
                || (cfg.limit.first_wrong && (d.wrong > 0 || d.errors > 0))
                // Relaxed: see the workers.
                || finished.load(Ordering::Relaxed) == cfg.threads;
            if done {
                break;
            }
        }
        // Relaxed: see the workers' loop.
        phase.store(STOP, Ordering::Relaxed);
        let ends = workers.join().expect("a worker panicked");
        lookup.measured(Edge::End);
        let mut totals = Totals::default();
        let mut last = t0;
        for (t, end) in ends {
            totals += t;
            last = last.max(end);
        }
        RunResult {
            totals,
            elapsed: last.saturating_duration_since(t0),
            peak_unreclaimed: peak,
            mean_unreclaimed: if samples == 0 {
                0.0
            } else {
                acc / samples as f64
            },
            samples,
        }
    })
}
