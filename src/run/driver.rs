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
//! workers run, for the memory-waiting figures and the stop conditions.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::clock::{now, ns_between, WriterTime};
use crate::model::counters::{Counters, Totals};
use crate::model::lookup::{Edge, VmaLookup};
use crate::model::mm::MapKind;
use crate::rng::Rng;
use crate::run::latency::{Latency, Op};
pub use crate::run::timeline::Waiting;
use crate::run::timeline::{add_writer, Tick, Timeline, WriterBucket};

/// Which mappings faults (and churn) go to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Skew {
    /// Uniform over every mapping of every mm.
    Uniform,
    /// Every fault goes to one mapping per mm (slot 0): one refcount, many readers.
    Hot,
    /// Each worker faults and churns only in the mappings it owns (slot `k` is
    /// worker `k % threads`'s), as will-it-scale's page_fault tests and mmtests'
    /// pft do: the benchmarks behind the kernel patch's figures.
    Private,
}

impl Skew {
    /// Every skew.
    pub const ALL: [Skew; 3] = [Skew::Uniform, Skew::Hot, Skew::Private];

    /// Its name in the CSV and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Skew::Uniform => "uniform",
            Skew::Hot => "hot",
            Skew::Private => "private",
        }
    }

    /// The skew with this name.
    pub fn parse(s: &str) -> Option<Skew> {
        Skew::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// How churn changes a mapping.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChurnKind {
    /// `mmap(MAP_FIXED)` over the whole mapping: the range is never unmapped, and
    /// the index stores in place (an exact fit).
    Replace,
    /// `munmap`, then `mmap` of the range (two `mmap_lock` write cycles), as
    /// will-it-scale's mmap tests and most programs do: between the two a fault
    /// there finds no mapping, and each store rebuilds an index node.
    UnmapMap,
}

impl ChurnKind {
    /// Every kind.
    pub const ALL: [ChurnKind; 2] = [ChurnKind::Replace, ChurnKind::UnmapMap];

    /// Its name in the CSV and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ChurnKind::Replace => "replace",
            ChurnKind::UnmapMap => "unmap-map",
        }
    }

    /// The kind with this name.
    pub fn parse(s: &str) -> Option<ChurnKind> {
        ChurnKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// When a run stops (the first condition met).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Limit {
    /// Measured time, counted from when every worker has joined the measured phase.
    pub time: Option<Duration>,
    /// Fault operations in the measured phase, exactly: split into per-worker
    /// quotas (each worker stops at its own).
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

    /// Make exactly `n` fault operations.
    pub fn faults(n: u64) -> Self {
        Limit {
            faults: Some(n),
            ..Limit::NONE
        }
    }

    /// Worker `i`'s share of the fault quota (the first `n % threads` workers take
    /// one more), if there is one.
    fn fault_quota(&self, i: usize, threads: usize) -> Option<u64> {
        self.faults.map(|n| {
            let t = threads as u64;
            n / t + u64::from((i as u64) < n % t)
        })
    }
}

/// One point of the workload.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Worker threads (the rayon pool's size).
    pub threads: usize,
    /// Percentage of operations that change a mapping ([`ChurnKind`]).
    pub churn_pct: f64,
    /// How churn changes a mapping.
    pub churn_kind: ChurnKind,
    /// Percentage of operations that are a process exit (every VMA of an mm
    /// detached and freed, then the mm) followed by a new mm in its place.
    /// `churn_pct + exits_pct + changes_pct <= 100`.
    pub exits_pct: f64,
    /// Percentage of operations that are an in-place change of a mapping
    /// (mprotect, madvise: its fields change under the VMA's write lock while it
    /// stays in the index).
    pub changes_pct: f64,
    /// Percentage of operations that are a fork (every VMA of an mm copied into
    /// a child under its write lock; the child exits at once).
    pub forks_pct: f64,
    /// When to stop measuring.
    pub limit: Limit,
    /// Run before measuring starts; not counted.
    pub warmup: Duration,
    /// Where faults go.
    pub skew: Skew,
    /// Seed of every worker's generator.
    pub seed: u64,
    /// Latency sampling and the stalled reader.
    pub probe: Probe,
}

/// How often operations are timed, and whether a reader stalls.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Every worker times every Nth fault and every Nth writer operation
    /// (faults and writers counted apart; a munmap and the mmap after it are
    /// two writer operations). At least 1;
    /// [`RunSpec::check`](crate::run::spec::RunSpec::check) refuses 0.
    pub sample_every: u32,
    /// One worker parks inside its read section now and then.
    pub stall: Option<Stall>,
}

/// The default sampling rate: every 256th operation (the README gives its
/// cost, within 2% of the throughput of a build without sampling).
pub const DEFAULT_SAMPLE_EVERY: u32 = 256;

impl Default for Probe {
    fn default() -> Self {
        Probe {
            sample_every: DEFAULT_SAMPLE_EVERY,
            stall: None,
        }
    }
}

/// A stalled reader: worker 0, every `every` of the measured phase (the first
/// time one `every` after it opens), parks inside its read section for `park`,
/// as a reader preempted or interrupted inside `rcu_read_lock()` would.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Stall {
    /// How long each park lasts.
    pub park: Duration,
    /// From the start of one park to the start of the next.
    pub every: Duration,
}

impl Stall {
    /// `MS:EVERY_MS`, as the command line takes it (`10:100`).
    pub fn label(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!("{}:{}", ms(self.park), ms(self.every))
    }
}

/// Whether this build times operations at all (`--cfg vma_bench_unsampled`
/// and `--cfg vma_bench_bare` builds do not: the baselines of `make overhead`).
const SAMPLING: bool = !cfg!(vma_bench_unsampled) && !cfg!(vma_bench_bare);

/// Whether this operation is the one to time: counts `left` down from `n`.
#[inline(always)]
fn due(left: &mut u64, n: u64) -> bool {
    if !SAMPLING {
        return false;
    }
    *left -= 1;
    if *left == 0 {
        *left = n;
        true
    } else {
        false
    }
}

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

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

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

/// A timed writer operation of a worker: a due one's hold time into the
/// histogram; where the run keeps a timeline, every one into the bucket of the
/// millisecond since `origin` it ended in.
#[inline]
fn writer_timed(
    due: bool,
    latency: &mut Latency,
    timeline: Option<(&mut Vec<WriterBucket>, Instant)>,
    op: Op,
    time: WriterTime,
) {
    if due {
        latency.record(op, time.held_ns);
    }
    if let Some((buckets, origin)) = timeline {
        let ms = ns_between(origin, now()) / 1_000_000;
        add_writer(buckets, ms as usize, time);
    }
}

/// Time one fault into `latency`: out of line and cold, so the worker's loop
/// keeps no clock call (the registers of its fault path stay as in a build
/// without sampling).
#[cold]
#[inline(never)]
fn fault_sampled<'a, L: VmaLookup>(
    lookup: &'a L,
    h: &mut L::Handle<'a>,
    mm: usize,
    addr: u64,
    c: &Counters,
    latency: &mut Latency,
) {
    let ns = lookup.fault_timed(h, mm, addr, c);
    latency.record(Op::Fault, ns);
}

/// Merge `b` into millisecond `ms` of `buckets` (growing it).
fn add_bucket(buckets: &mut Vec<WriterBucket>, ms: usize, b: &WriterBucket) {
    if buckets.len() <= ms {
        buckets.resize(ms + 1, WriterBucket::default());
    }
    buckets[ms].merge(b);
}

/// Which slot an operation of worker `i` of `threads` goes to.
#[derive(Copy, Clone)]
struct Slots {
    skew: Skew,
    slots: u64,
    i: u64,
    threads: u64,
}

impl Slots {
    /// A slot for churn (uniform, or the worker's own under `private`).
    #[inline]
    fn churn(&self, rng: &mut Rng) -> usize {
        match self.skew {
            Skew::Private => self.own(rng),
            Skew::Uniform | Skew::Hot => rng.below(self.slots) as usize,
        }
    }

    /// A slot for a fault.
    #[inline]
    fn fault(&self, rng: &mut Rng) -> usize {
        match self.skew {
            Skew::Uniform => rng.below(self.slots) as usize,
            Skew::Hot => 0,
            Skew::Private => self.own(rng),
        }
    }

    /// One of the worker's own slots: `i`, `i + threads`, ... (`slots >= threads`).
    #[inline]
    fn own(&self, rng: &mut Rng) -> usize {
        let mine = (self.slots - self.i).div_ceil(self.threads);
        (self.i + rng.below(mine) * self.threads) as usize
    }
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
    // 0: warm-up, 1: measuring, 2: stop. Each worker snapshots its own counters
    // when it first sees 1, so the measured window is exact per thread.
    // With no warm-up the run is measured from its first operation.
    let phase = AtomicU8::new(if cfg.warmup.is_zero() {
        MEASURE
    } else {
        WARMUP
    });
    let joined = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    // The stalled reader: the sampler says when a park is due, worker 0 parks
    // and says when it is parked. Both are flags about time, handed nothing.
    let stall_due = AtomicBool::new(false);
    let parked = AtomicBool::new(false);
    let stall = cfg.probe.stall;
    let keep_timeline = stall.is_some();
    // What workers and the sampler measure time from; the measured phase opens
    // `open_at` after it.
    let origin = now();
    let open_at = AtomicU64::new(0);
    let barrier = Barrier::new(cfg.threads + 1);
    // pct / 100 of the u64 range: `next_u64() < threshold` with that chance. One
    // draw decides: below `exits` an exit, below `changes` an in-place change,
    // below `forks` a fork, below `threshold` churn, else a fault.
    let share = |pct: f64| (pct.clamp(0.0, 100.0) / 100.0 * u64::MAX as f64) as u64;
    let exits = share(cfg.exits_pct);
    let changes = exits.saturating_add(share(cfg.changes_pct));
    let forks = changes.saturating_add(share(cfg.forks_pct));
    let threshold = forks.saturating_add(share(cfg.churn_pct));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .thread_name(|i| format!("vma-worker-{i}"))
        .build()
        .expect("building the worker pool");

    let worker = |i: usize| -> Option<(Totals, Instant, Instant, Latency, Vec<WriterBucket>, u64)> {
        let c = &*counters[i];
        let mut h = lookup.handle(i);
        let mut rng = Rng::new(cfg.seed, i as u64);
        let mms = layout.mms as u64;
        let slots = Slots {
            skew: cfg.skew,
            slots: layout.slots as u64,
            i: i as u64,
            threads: cfg.threads as u64,
        };
        let mut seen = WARMUP;
        let mut base = Totals::default();
        let mut start = Instant::now();
        let mut ops = 0u64;
        let mut fault_ops = 0u64;
        let ops_quota = cfg.limit.ops_per_thread.unwrap_or(u64::MAX);
        let fault_quota = cfg.limit.fault_quota(i, cfg.threads).unwrap_or(u64::MAX);
        // Every Nth operation is timed; workers start at different phases.
        let n = u64::from(cfg.probe.sample_every.max(1));
        let mut fault_left = 1 + (i as u64 * 7919) % n;
        let mut writer_left = 1 + (i as u64 * 104_729) % n;
        let mut latency = Latency::new();
        let mut writes: Vec<WriterBucket> = Vec::new();
        let mut stalls = 0u64;
        let stalled = stall.filter(|_| i == 0);
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
                start = Instant::now();
                ops = 0;
                fault_ops = 0;
                latency.reset();
                writes.clear();
                // Relaxed: a count the sampler polls; nothing is handed over.
                joined.fetch_add(1, Ordering::Relaxed);
            }
            if seen == MEASURE && (ops == ops_quota || fault_ops == fault_quota) {
                break;
            }
            if let Some(st) = stalled {
                // Relaxed: see `stall_due`.
                if stall_due.load(Ordering::Relaxed) && stall_due.swap(false, Ordering::Relaxed) {
                    let mm = rng.below(mms) as usize;
                    let addr = layout.addr(slots.fault(&mut rng), rng.next_u64());
                    // Relaxed: a flag the sampler reads as a statistic.
                    parked.store(true, Ordering::Relaxed);
                    lookup.stall(&mut h, mm, addr, &mut || std::thread::sleep(st.park));
                    // Relaxed: as above.
                    parked.store(false, Ordering::Relaxed);
                    stalls += 1;
                }
            }
            ops += 1;
            let mm = rng.below(mms) as usize;
            let draw = if threshold != 0 {
                rng.next_u64()
            } else {
                u64::MAX
            };
            // Where the run keeps a timeline, every writer is timed for it.
            if draw < exits {
                let d = due(&mut writer_left, n);
                if d || keep_timeline {
                    let time = lookup.exit_timed(&mut h, mm, c);
                    let line = keep_timeline.then_some((&mut writes, origin));
                    writer_timed(d, &mut latency, line, Op::Exit, time);
                } else {
                    lookup.exit(&mut h, mm, c);
                }
            } else if draw < changes {
                let slot = slots.churn(&mut rng);
                let d = due(&mut writer_left, n);
                if d || keep_timeline {
                    let (_, time) = lookup.change_timed(&mut h, mm, slot, c);
                    let line = keep_timeline.then_some((&mut writes, origin));
                    writer_timed(d, &mut latency, line, Op::Change, time);
                } else {
                    lookup.change(&mut h, mm, slot, c);
                }
            } else if draw < forks {
                let d = due(&mut writer_left, n);
                if d || keep_timeline {
                    let time = lookup.fork_timed(&mut h, mm, c);
                    let line = keep_timeline.then_some((&mut writes, origin));
                    writer_timed(d, &mut latency, line, Op::Fork, time);
                } else {
                    lookup.fork(&mut h, mm, c);
                }
            } else if draw < threshold {
                let slot = slots.churn(&mut rng);
                match cfg.churn_kind {
                    ChurnKind::Replace => {
                        let kind = if rng.next_u64() & 1 == 0 {
                            MapKind::Fresh
                        } else {
                            MapKind::Copy
                        };
                        let d = due(&mut writer_left, n);
                        if d || keep_timeline {
                            let time = lookup.replace_timed(&mut h, mm, slot, kind, c);
                            let line = keep_timeline.then_some((&mut writes, origin));
                            writer_timed(d, &mut latency, line, Op::Replace, time);
                        } else {
                            lookup.replace(&mut h, mm, slot, kind, c);
                        }
                    }
                    ChurnKind::UnmapMap => {
                        let d = due(&mut writer_left, n);
                        if d || keep_timeline {
                            let (_, time) = lookup.unmap_timed(&mut h, mm, slot, c);
                            let line = keep_timeline.then_some((&mut writes, origin));
                            writer_timed(d, &mut latency, line, Op::Unmap, time);
                        } else {
                            lookup.unmap(&mut h, mm, slot, c);
                        }
                        let d = due(&mut writer_left, n);
                        if d || keep_timeline {
                            let (_, time) = lookup.map_timed(&mut h, mm, slot, c);
                            let line = keep_timeline.then_some((&mut writes, origin));
                            writer_timed(d, &mut latency, line, Op::Map, time);
                        } else {
                            lookup.map(&mut h, mm, slot, c);
                        }
                    }
                }
            } else {
                fault_ops += 1;
                let slot = slots.fault(&mut rng);
                let addr = layout.addr(slot, rng.next_u64());
                if due(&mut fault_left, n) {
                    fault_sampled(lookup, &mut h, mm, addr, c, &mut latency);
                } else {
                    lookup.fault(&mut h, mm, addr, c);
                }
            }
            lookup.quiescent(&mut h);
        }
        let end = Instant::now();
        drop(h);
        // Relaxed: a count for the sampler's loop; the results travel by `join`.
        finished.fetch_add(1, Ordering::Relaxed);
        let mut t = c.snapshot() - base;
        if cfg!(vma_bench_bare) {
            // Counters are off in this build (see `counters`): count operations,
            // which are faults in the read-only runs this build is meant for.
            t.faults = ops;
        }
        // A worker that never saw the measured phase measured nothing.
        (seen == MEASURE).then_some((t, start, end, latency, writes, stalls))
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
        let opened = Instant::now();
        // Relaxed: read after the workers are joined (the join orders it).
        open_at.store(ns_between(origin, opened), Ordering::Relaxed);
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
                    // Relaxed: see `parked`.
                    parked: parked.load(Ordering::Relaxed),
                });
            }
            if let (Some(st), Some(at)) = (stall, next_stall) {
                if Instant::now() >= at {
                    // Relaxed: see `stall_due`.
                    stall_due.store(true, Ordering::Relaxed);
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
            // Relaxed: see the workers.
            if all_joined.is_none() && joined.load(Ordering::Relaxed) == cfg.threads {
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
        let (mut first, mut last) = (None::<Instant>, None::<Instant>);
        let mut took_part = 0;
        let mut latency = Latency::new();
        let mut timeline = Timeline {
            ticks,
            ..Timeline::default()
        };
        // Relaxed: stored before the workers were joined.
        let open_ns = open_at.load(Ordering::Relaxed);
        for (t, start, end, l, writes, stalls) in ends.into_iter().flatten() {
            latency.add(&l);
            timeline.stalls += stalls;
            // The buckets count from `origin`; the timeline from the opening (a
            // worker's first operations may end before the sampler opened it:
            // they go into its first millisecond).
            let skip = (open_ns / 1_000_000) as usize;
            for (ms, b) in writes.iter().enumerate() {
                add_bucket(&mut timeline.writers, ms.saturating_sub(skip), b);
            }
            totals += t;
            took_part += 1;
            first = Some(first.map_or(start, |f| f.min(start)));
            last = Some(last.map_or(end, |l| l.max(end)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_quotas_add_up_to_the_limit() {
        for (n, threads) in [(1000, 3), (1, 4), (7, 7), (12, 5)] {
            let l = Limit::faults(n);
            let q: Vec<u64> = (0..threads)
                .map(|i| l.fault_quota(i, threads).unwrap())
                .collect();
            assert_eq!(q.iter().sum::<u64>(), n, "{n} over {threads}: {q:?}");
            assert!(q.iter().max().unwrap() - q.iter().min().unwrap() <= 1);
        }
    }

    #[test]
    fn private_slots_are_the_workers_own_and_cover_them_all() {
        let mut rng = Rng::new(1, 0);
        for (slots, threads) in [(8u64, 3u64), (5, 5), (64, 2)] {
            let mut seen = vec![false; slots as usize];
            for i in 0..threads {
                let s = Slots {
                    skew: Skew::Private,
                    slots,
                    i,
                    threads,
                };
                for _ in 0..1000 {
                    let k = s.fault(&mut rng);
                    assert_eq!(k as u64 % threads, i, "slot {k} of worker {i}");
                    assert!((k as u64) < slots);
                    seen[k] = true;
                }
            }
            assert!(seen.iter().all(|&x| x), "{slots} slots over {threads}");
        }
    }
}
