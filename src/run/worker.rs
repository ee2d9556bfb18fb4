//! One worker of a run: its operations, in batches.
//!
//! Each operation is one draw of the worker's generator: a fault (most), or a
//! writer (exit, in-place change, fork, churn) at the run's percentages. The
//! worker checks the phase, its quotas and a due stall once per batch of at
//! most [`BATCH`] operations, not once per operation, and ends a batch just
//! before its next timed fault. So the untimed operations of a batch run with
//! no check at all beyond the batch's two bounds, and a build that samples
//! latency differs from one that does not only once per batch and in the timed
//! operations (`make overhead` measures it).

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::clock::{now, ns_between, Stopwatch, Timed, Untimed};
use crate::model::counters::{Counters, Totals};
use crate::model::lookup::VmaLookup;
use crate::model::mm::{Layout, MapKind};
use crate::rng::Rng;
use crate::run::config::{ChurnKind, RunConfig, Skew};
use crate::run::latency::{Latency, Op};
use crate::run::timeline::{add_writer, WriterBucket};

/// The phases of a run, as [`Shared::phase`] holds them.
pub(super) const WARMUP: u8 = 0;
pub(super) const MEASURE: u8 = 1;
pub(super) const STOP: u8 = 2;

/// Operations per batch at most: a worker sees a change of phase, or a due
/// stall, within this many operations of it (microseconds of faults; a writer
/// that waits for a grace period makes it longer, as it did between two
/// operations).
const BATCH: u64 = 64;

/// Whether this build times operations at all (`--cfg vma_bench_unsampled`
/// and `--cfg vma_bench_bare` builds do not: the baselines of `make overhead`).
const SAMPLING: bool = !cfg!(vma_bench_unsampled) && !cfg!(vma_bench_bare);

/// What the workers share with the driver's sampler: flags about time and
/// counts, nothing handed over through them (every access is Relaxed; the
/// results travel back by the pool's join).
pub(super) struct Shared {
    /// [`WARMUP`], [`MEASURE`] or [`STOP`]. Each worker snapshots its own
    /// counters when it first sees `MEASURE`, so its measured window is exact.
    pub phase: AtomicU8,
    /// Workers that have seen `MEASURE`.
    pub joined: AtomicUsize,
    /// Workers that have stopped.
    pub finished: AtomicUsize,
    /// The sampler says a park of the stalled reader is due.
    pub stall_due: AtomicBool,
    /// Worker 0 is parked inside its read section.
    pub parked: AtomicBool,
    /// Releases the workers and the sampler together.
    pub barrier: Barrier,
    /// What workers and the sampler measure time from.
    pub origin: Instant,
}

/// Which operation a draw makes: `draw < exits` an exit, `< changes` an
/// in-place change, `< forks` a fork, `< churn` churn, else a fault. Each bound
/// is the cumulative share of `u64`'s range.
#[derive(Copy, Clone, Debug)]
pub(super) struct Mix {
    exits: u64,
    changes: u64,
    forks: u64,
    churn: u64,
}

impl Mix {
    /// The bounds of `cfg`'s percentages.
    pub fn new(cfg: &RunConfig) -> Self {
        let share = |pct: f64| (pct.clamp(0.0, 100.0) / 100.0 * u64::MAX as f64) as u64;
        let exits = share(cfg.exits_pct);
        let changes = exits.saturating_add(share(cfg.changes_pct));
        let forks = changes.saturating_add(share(cfg.forks_pct));
        let churn = forks.saturating_add(share(cfg.churn_pct));
        Mix {
            exits,
            changes,
            forks,
            churn,
        }
    }
}

/// What one worker measured.
pub(super) struct WorkerResult {
    /// Its counters over its measured window.
    pub totals: Totals,
    /// Its measured window.
    pub start: Instant,
    pub end: Instant,
    /// Its sampled latencies.
    pub latency: Latency,
    /// Where the run keeps a timeline: its writers' times by the millisecond
    /// since [`Shared::origin`] each ended in.
    pub writes: Vec<WriterBucket>,
    /// How often it parked (the stalled reader).
    pub stalls: u64,
}

/// A writer operation a draw chose.
#[derive(Copy, Clone)]
enum Write {
    Exit,
    Change(usize),
    Fork,
    Replace(usize, MapKind),
    Unmap(usize),
    Map(usize),
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

/// A worker's state between its operations.
struct Worker<'a, L: VmaLookup + 'a> {
    lookup: &'a L,
    h: L::Handle<'a>,
    c: &'a Counters,
    rng: Rng,
    layout: Layout,
    mms: u64,
    slots: Slots,
    mix: Mix,
    churn_kind: ChurnKind,
    /// Every `every`th writer operation is timed into `latency`.
    every: u64,
    /// Writer operations until the next timed one (1: the next).
    writer_left: u64,
    latency: Latency,
    /// Where the run keeps a timeline (a stalled reader), every writer is
    /// timed into these buckets.
    timeline: Option<Vec<WriterBucket>>,
    origin: Instant,
}

impl<'a, L: VmaLookup + 'a> Worker<'a, L> {
    /// Up to `ops` operations, none of them timed, stopping after the
    /// `faults`th fault (both at least 1). Returns the operations and the
    /// faults made.
    #[inline(always)]
    fn batch(&mut self, ops: u64, faults: u64) -> (u64, u64) {
        let (mut o, mut f) = (0, 0);
        while o < ops && f < faults {
            f += self.step::<false>();
            o += 1;
        }
        (o, f)
    }

    /// One operation, its fault timed: out of line and cold, so the batch's
    /// loop keeps no clock call and its registers stay as in a build without
    /// sampling. Returns 1 for a fault, else 0.
    #[cold]
    #[inline(never)]
    fn timed_step(&mut self) -> u64 {
        self.step::<true>()
    }

    /// One operation (a fault timed if `TIME_FAULT`); 1 for a fault, else 0.
    #[inline(always)]
    fn step<const TIME_FAULT: bool>(&mut self) -> u64 {
        let mm = self.rng.below(self.mms) as usize;
        let draw = if self.mix.churn != 0 {
            self.rng.next_u64()
        } else {
            u64::MAX
        };
        let fault = if draw < self.mix.churn {
            self.churn(mm, draw);
            0
        } else {
            let slot = self.slots.fault(&mut self.rng);
            let addr = self.layout.addr(slot, self.rng.next_u64());
            if TIME_FAULT {
                let ns = self.lookup.fault_timed(&mut self.h, mm, addr, self.c);
                self.latency.record(Op::Fault, ns);
            } else {
                self.lookup.fault(&mut self.h, mm, addr, self.c);
            }
            1
        };
        self.lookup.quiescent(&mut self.h);
        fault
    }

    /// The writer operation `draw` (below the churn bound) chose. Out of line:
    /// the batch's loop holds the fault path alone.
    #[inline(never)]
    fn churn(&mut self, mm: usize, draw: u64) {
        if draw < self.mix.exits {
            self.write(mm, Write::Exit);
        } else if draw < self.mix.changes {
            let slot = self.slots.churn(&mut self.rng);
            self.write(mm, Write::Change(slot));
        } else if draw < self.mix.forks {
            self.write(mm, Write::Fork);
        } else {
            let slot = self.slots.churn(&mut self.rng);
            match self.churn_kind {
                ChurnKind::Replace => {
                    let kind = if self.rng.next_u64() & 1 == 0 {
                        MapKind::Fresh
                    } else {
                        MapKind::Copy
                    };
                    self.write(mm, Write::Replace(slot, kind));
                }
                ChurnKind::UnmapMap => {
                    self.write(mm, Write::Unmap(slot));
                    self.write(mm, Write::Map(slot));
                }
            }
        }
    }

    /// One writer operation: timed when due (its hold time into the
    /// histogram) and where the run keeps a timeline (into the bucket of the
    /// millisecond since `origin` it ended in); else run with [`Untimed`],
    /// which compiles to nothing.
    fn write(&mut self, mm: usize, w: Write) {
        let due = SAMPLING && {
            self.writer_left -= 1;
            self.writer_left == 0
        };
        if due {
            self.writer_left = self.every;
        }
        if !due && self.timeline.is_none() {
            self.apply(mm, w, &mut Untimed);
            return;
        }
        let mut sw = Timed::new();
        let op = self.apply(mm, w, &mut sw);
        let time = sw.time();
        if due {
            self.latency.record(op, time.held_ns);
        }
        if let Some(buckets) = &mut self.timeline {
            let ms = ns_between(self.origin, now()) / 1_000_000;
            add_writer(buckets, ms as usize, time);
        }
    }

    /// Make writer operation `w` on `mm`, its `mmap_lock` cycle reported to
    /// `sw`; which kind it was.
    #[inline]
    fn apply(&mut self, mm: usize, w: Write, sw: &mut impl Stopwatch) -> Op {
        let (l, h, c) = (self.lookup, &mut self.h, self.c);
        match w {
            Write::Exit => {
                l.exit(h, mm, c, sw);
                Op::Exit
            }
            Write::Change(slot) => {
                l.change(h, mm, slot, c, sw);
                Op::Change
            }
            Write::Fork => {
                l.fork(h, mm, c, sw);
                Op::Fork
            }
            Write::Replace(slot, kind) => {
                l.replace(h, mm, slot, kind, c, sw);
                Op::Replace
            }
            Write::Unmap(slot) => {
                l.unmap(h, mm, slot, c, sw);
                Op::Unmap
            }
            Write::Map(slot) => {
                l.map(h, mm, slot, c, sw);
                Op::Map
            }
        }
    }

    /// Park inside the read section for `park` (the stalled reader), at a
    /// fault's address drawn as usual.
    fn stall(&mut self, park: Duration, parked: &AtomicBool) {
        let mm = self.rng.below(self.mms) as usize;
        let addr = self
            .layout
            .addr(self.slots.fault(&mut self.rng), self.rng.next_u64());
        // Relaxed: a flag the sampler reads as a statistic.
        parked.store(true, Ordering::Relaxed);
        self.lookup
            .stall(&mut self.h, mm, addr, &mut || std::thread::sleep(park));
        // Relaxed: as above.
        parked.store(false, Ordering::Relaxed);
    }
}

/// Worker `i` of a run of `lookup` at `cfg`, counting into `c`: waits at the
/// barrier, runs until the phase says stop or its quota is made, and returns
/// what it measured (None if it never saw the measured phase).
pub(super) fn work<L: VmaLookup>(
    lookup: &L,
    cfg: &RunConfig,
    mix: Mix,
    shared: &Shared,
    c: &Counters,
    i: usize,
) -> Option<WorkerResult> {
    let layout = lookup.layout();
    // Every Nth fault and every Nth writer is timed; workers start at
    // different phases.
    let every = u64::from(cfg.probe.sample_every.max(1));
    let mut w = Worker {
        lookup,
        h: lookup.handle(i),
        c,
        rng: Rng::new(cfg.seed, i as u64),
        layout,
        mms: layout.mms as u64,
        slots: Slots {
            skew: cfg.skew,
            slots: layout.slots as u64,
            i: i as u64,
            threads: cfg.threads as u64,
        },
        mix,
        churn_kind: cfg.churn_kind,
        every,
        writer_left: 1 + (i as u64 * 104_729) % every,
        latency: Latency::new(),
        timeline: cfg.probe.stall.map(|_| Vec::new()),
        origin: shared.origin,
    };
    // Faults until the next timed one (1: the next). A batch ends before it,
    // so the count is kept per batch, not per fault.
    let mut fault_left = 1 + (i as u64 * 7919) % every;
    let stalled = cfg.probe.stall.filter(|_| i == 0);
    let ops_quota = cfg.limit.ops_per_thread.unwrap_or(u64::MAX);
    let fault_quota = cfg.limit.fault_quota(i, cfg.threads).unwrap_or(u64::MAX);
    let (mut ops, mut faults, mut stalls) = (0u64, 0u64, 0u64);
    let mut seen = WARMUP;
    let mut base = Totals::default();
    let mut start = Instant::now();
    shared.barrier.wait();
    loop {
        // Relaxed: a phase change only; no data is handed over through it.
        let now = shared.phase.load(Ordering::Relaxed);
        if now != seen {
            if now == STOP {
                break;
            }
            seen = now;
            base = c.snapshot();
            start = Instant::now();
            ops = 0;
            faults = 0;
            w.latency.reset();
            if let Some(b) = &mut w.timeline {
                b.clear();
            }
            // Relaxed: a count the sampler polls; nothing is handed over.
            shared.joined.fetch_add(1, Ordering::Relaxed);
        }
        // What the quotas leave (they count in the measured phase only).
        let (ops_room, fault_room) = if seen == MEASURE {
            (ops_quota - ops, fault_quota - faults)
        } else {
            (u64::MAX, u64::MAX)
        };
        if ops_room == 0 || fault_room == 0 {
            break;
        }
        if let Some(st) = stalled {
            // Relaxed: see `Shared::stall_due`.
            if shared.stall_due.load(Ordering::Relaxed)
                && shared.stall_due.swap(false, Ordering::Relaxed)
            {
                w.stall(st.park, &shared.parked);
                stalls += 1;
            }
        }
        if SAMPLING && fault_left == 1 {
            // The next operation, if it is a fault, is the one to time.
            ops += 1;
            if w.timed_step() == 1 {
                faults += 1;
                fault_left = every;
            }
            continue;
        }
        let until_timed = if SAMPLING { fault_left - 1 } else { u64::MAX };
        let (o, f) = w.batch(ops_room.min(BATCH), fault_room.min(BATCH).min(until_timed));
        ops += o;
        faults += f;
        if SAMPLING {
            fault_left -= f;
        }
    }
    let end = Instant::now();
    let Worker {
        h,
        latency,
        timeline,
        ..
    } = w;
    drop(h);
    // Relaxed: a count for the sampler's loop; the results travel by `join`.
    shared.finished.fetch_add(1, Ordering::Relaxed);
    let mut totals = c.snapshot() - base;
    if cfg!(vma_bench_bare) {
        // Counters are off in this build (see `counters`): count operations,
        // which are faults in the read-only runs this build is meant for.
        totals.faults = ops;
    }
    // A worker that never saw the measured phase measured nothing.
    (seen == MEASURE).then(|| WorkerResult {
        totals,
        start,
        end,
        latency,
        writes: timeline.unwrap_or_default(),
        stalls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
