//! The driver: one run of one scheme at one point (threads, churn, skew).
//!
//! Workers run on a rayon pool of exactly `threads` threads (`broadcast` gives
//! each its index), are released together by a barrier, and stop on a shared
//! flag. After the warm-up the calling thread opens the measured phase; each
//! worker takes its own snapshot when it first sees it, so its measured window
//! is exact, and reports that it has joined. The time limit counts only once
//! every worker has joined: a run in which some worker never took part in the
//! measured phase (starved by the machine) is not a measurement, and says so
//! ([`RunResult::joined`]). The calling thread samples the counters while the
//! workers run, for the memory-waiting figures and the stop conditions. A
//! worker's own loop (its draws, its batches, which operations it times) is
//! in `worker.rs`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::clock::{now, ns_between};
use crate::model::counters::{Counters, Totals};
use crate::model::lookup::{Edge, VmaLookup};
pub use crate::run::config::{
    ChurnKind, Limit, Probe, RunConfig, Skew, Stall, DEFAULT_SAMPLE_EVERY,
};
use crate::run::latency::Latency;
pub use crate::run::timeline::Waiting;
use crate::run::timeline::{Tick, Timeline, WriterBucket};
use crate::run::worker::{self, Mix, Shared, MEASURE, STOP, WARMUP};

/// What one run measured.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Counters summed over threads, over the measured interval.
    pub totals: Totals,
    /// The measured interval: from the first worker's start of measuring until
    /// the last worker stopped.
    pub elapsed: Duration,
    /// Workers that took part in the measured phase (a valid run: all of them).
    pub joined: usize,
    /// The most memory waiting to be reclaimed in any sample, per kind (each kind
    /// at its own peak).
    pub peak_waiting: Waiting,
    /// The most bytes waiting in any one sample.
    pub peak_waiting_bytes: u64,
    /// Mean bytes waiting over the samples.
    pub mean_waiting_bytes: f64,
    /// How many samples the sampler took.
    pub samples: u64,
    /// The sampled operations' latencies, every worker's merged.
    pub latency: Latency,
    /// The run over time (recorded only with a stalled reader; else empty).
    pub timeline: Timeline,
}

impl RunResult {
    /// Faults served per second over the measured interval.
    pub fn faults_per_sec(&self) -> f64 {
        self.totals.faults as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The sampler's period.
const SAMPLE_EVERY: Duration = Duration::from_millis(1);

/// How long the sampler waits for every worker to join the measured phase
/// beyond the time limit before it stops the run anyway (and the run says that
/// not every worker took part).
const JOIN_GRACE: Duration = Duration::from_secs(10);

/// Memory waiting now: what the workers removed, less what went back at once
/// and what the caches' callbacks freed.
fn waiting(t: &Totals, lookup: &impl VmaLookup) -> Option<Waiting> {
    let r = lookup.reclaimed()?;
    Some(Waiting {
        vmas: t
            .unmaps
            .saturating_sub(t.vma_freed_now)
            .saturating_sub(r.vmas_after_gp),
        nodes: t
            .nodes_replaced
            .saturating_sub(t.node_freed_now)
            .saturating_sub(r.nodes_after_gp),
        slabs: t.slab_call_rcu.saturating_sub(r.slabs_after_gp),
    })
}

/// Merge `b` into millisecond `ms` of `buckets` (growing it).
fn add_bucket(buckets: &mut Vec<WriterBucket>, ms: usize, b: &WriterBucket) {
    if buckets.len() <= ms {
        buckets.resize(ms + 1, WriterBucket::default());
    }
    buckets[ms].merge(b);
}

/// Run `lookup` at `cfg`. Panics only on a rayon pool that cannot be built, or
/// on a config the caller should have refused (no threads; `private` skew with
/// fewer slots than threads).
pub fn drive<L: VmaLookup>(lookup: &L, cfg: &RunConfig) -> RunResult {
    assert!(cfg.threads > 0, "validated by the caller");
    let layout = lookup.layout();
    assert!(
        cfg.skew != Skew::Private || layout.slots >= cfg.threads,
        "validated by the caller: a private slot per worker"
    );
    let counters: Vec<CachePadded<Counters>> = (0..cfg.threads)
        .map(|_| CachePadded::new(Counters::default()))
        .collect();
    let shared = Shared {
        // With no warm-up the run is measured from its first operation.
        phase: AtomicU8::new(if cfg.warmup.is_zero() {
            MEASURE
        } else {
            WARMUP
        }),
        joined: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
        stall_due: AtomicBool::new(false),
        parked: AtomicBool::new(false),
        barrier: Barrier::new(cfg.threads + 1),
        origin: now(),
    };
    let stall = cfg.probe.stall;
    let keep_timeline = stall.is_some();
    // The measured phase opens `open_at` after `shared.origin`.
    let open_at = AtomicU64::new(0);
    let mix = Mix::new(cfg);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .thread_name(|i| format!("vma-worker-{i}"))
        .build()
        .expect("building the worker pool");
    let worker = |i: usize| worker::work(lookup, cfg, mix, &shared, &counters[i], i);

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
        shared.barrier.wait();
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
            // Relaxed: see `Shared` (a phase change; no data is handed over).
            shared.phase.store(MEASURE, Ordering::Relaxed);
        }
        let base = sum();
        let opened = Instant::now();
        // Relaxed: read after the workers are joined (the join orders it).
        open_at.store(ns_between(shared.origin, opened), Ordering::Relaxed);
        let mut ticks: Vec<Tick> = Vec::new();
        let mut next_stall = stall.map(|st| opened + st.every);
        let mut all_joined: Option<Instant> = None;
        let (mut peak, mut peak_bytes, mut acc, mut samples) =
            (Waiting::default(), 0u64, 0f64, 0u64);
        loop {
            std::thread::sleep(SAMPLE_EVERY);
            let now = sum();
            let w = waiting(&now, lookup);
            if keep_timeline {
                ticks.push(Tick {
                    t_ns: ns_between(opened, Instant::now()),
                    waiting: w,
                    // Relaxed: see `Shared::parked`.
                    parked: shared.parked.load(Ordering::Relaxed),
                });
            }
            if let (Some(st), Some(at)) = (stall, next_stall) {
                if Instant::now() >= at {
                    // Relaxed: see `Shared::stall_due`.
                    shared.stall_due.store(true, Ordering::Relaxed);
                    next_stall = Some(at + st.every);
                }
            }
            if let Some(w) = w {
                peak.vmas = peak.vmas.max(w.vmas);
                peak.nodes = peak.nodes.max(w.nodes);
                peak.slabs = peak.slabs.max(w.slabs);
                peak_bytes = peak_bytes.max(w.bytes());
                acc += w.bytes() as f64;
                samples += 1;
            }
            // Relaxed: see `Shared` (a count polled).
            if all_joined.is_none() && shared.joined.load(Ordering::Relaxed) == cfg.threads {
                all_joined = Some(Instant::now());
            }
            // Approximate (a snapshot of running threads): enough to decide to stop.
            let d = now - base;
            let timed_out = cfg.limit.time.is_some_and(|t| match all_joined {
                Some(at) => at.elapsed() >= t,
                None => opened.elapsed() >= t + JOIN_GRACE,
            });
            let done = timed_out
                || (cfg.limit.first_wrong && (d.wrong > 0 || d.errors > 0))
                // Relaxed: see `Shared` (a count polled).
                || shared.finished.load(Ordering::Relaxed) == cfg.threads;
            if done {
                break;
            }
        }
        // Relaxed: see `Shared` (a phase change; no data is handed over).
        shared.phase.store(STOP, Ordering::Relaxed);
        let ends = workers.join().expect("a worker panicked");
        lookup.measured(Edge::End);
        let mut totals = Totals::default();
        let (mut first, mut last) = (None::<Instant>, None::<Instant>);
        let mut took_part = 0;
        let mut latency = Latency::new();
        let mut timeline = Timeline {
            ticks,
            ..Timeline::default()
        };
        // Relaxed: stored before the workers were joined.
        let open_ns = open_at.load(Ordering::Relaxed);
        for m in ends.into_iter().flatten() {
            latency.add(&m.latency);
            timeline.stalls += m.stalls;
            // The buckets count from `origin`; the timeline from the opening (a
            // worker's first operations may end before the sampler opened it:
            // they go into its first millisecond).
            let skip = (open_ns / 1_000_000) as usize;
            for (ms, b) in m.writes.iter().enumerate() {
                add_bucket(&mut timeline.writers, ms.saturating_sub(skip), b);
            }
            totals += m.totals;
            took_part += 1;
            first = Some(first.map_or(m.start, |f| f.min(m.start)));
            last = Some(last.map_or(m.end, |l| l.max(m.end)));
        }
        RunResult {
            totals,
            elapsed: match (first, last) {
                (Some(f), Some(l)) => l.saturating_duration_since(f),
                _ => Duration::ZERO,
            },
            joined: took_part,
            peak_waiting: peak,
            peak_waiting_bytes: peak_bytes,
            mean_waiting_bytes: if samples == 0 {
                0.0
            } else {
                acc / samples as f64
            },
            samples,
            latency,
            timeline,
        }
    })
}
