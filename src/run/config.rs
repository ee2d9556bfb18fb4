//! What one run is asked to do: its point of the workload ([`RunConfig`]:
//! threads, churn and its kind, skew, the writers' percentages), when it stops
//! ([`Limit`]) and what it times ([`Probe`], [`Stall`]).

use std::time::Duration;

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
    pub(super) fn fault_quota(&self, i: usize, threads: usize) -> Option<u64> {
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
}
