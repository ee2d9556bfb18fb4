//! One CSV row: the only definition of the columns. Plain data: the run layer
//! fills it (`Row::new`, beside the run's spec), the sweep writes it, and the
//! reading, statistics, plots and report take it back from the CSV.

use serde::{Deserialize, Serialize};

/// One CSV row: the only definition of the columns.
///
/// Every parameter that changes the work is a column (and part of a point's
/// key). Columns a scheme cannot observe are empty, not 0: the free-path counts
/// of the real kernel (`linux`), and the kernel's counts for the models.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Identifies the run: `<sweep start, unix seconds>-<index in the sweep>`, or
    /// `run-<start>-<process id>` for a single run.
    pub run_id: String,
    /// The machine that ran it (sweeps from several machines are told apart by it).
    pub host: String,
    /// The free policy (`rwlock`, `deferred`, `typesafe`, `hazard`, `leak`,
    /// `linux`, or a broken twin's name).
    pub scheme: String,
    /// The RCU flavour (`epoch`, `seize`, `urcu-memb`, `urcu-qsbr`), or `none`.
    pub rcu: String,
    /// Worker threads.
    pub threads: usize,
    /// Percentage of operations that change a mapping.
    pub churn_pct: f64,
    /// How churn changes a mapping: `replace` (`MAP_FIXED`) or `unmap-map`.
    pub churn_kind: String,
    /// Percentage of operations that are a process exit.
    pub exits_pct: f64,
    /// Percentage of operations that are an in-place change of a mapping
    /// (mprotect, madvise: under the VMA's write lock, the VMA stays in the
    /// index).
    pub changes_pct: f64,
    /// Percentage of operations that are a fork (every VMA copied into a child
    /// under its write lock; the child exits at once).
    pub forks_pct: f64,
    /// `uniform`, `hot` or `private`.
    pub skew: String,
    /// What a fault does besides its lookup: `light` or `page` (clears 4 KiB).
    pub fault_work: String,
    /// Address spaces (always 1 for `linux`: one process is one mm).
    pub mms: usize,
    /// Mappings per address space.
    pub slots: usize,
    /// Seed.
    pub seed: u64,
    /// Yields between find and lock (adversarial runs only; 0 normally).
    pub widen: u32,
    /// seize's batch size (recorded for every run; used by `seize` runs).
    pub seize_batch: usize,
    /// urcu-qsbr: operations between quiescent states (used by `urcu-qsbr` runs).
    pub qsbr_every: u32,
    /// Repetition of this point within a sweep (0 for a single run).
    pub rep: u32,
    /// Which attempt at this run the row is (0: the first). A sweep runs a run
    /// again when it was not valid or ran in a slow period (see `slow`), up to
    /// two more times, and keeps the last valid attempt.
    pub attempt: u32,
    /// When the run started, seconds since the Unix epoch.
    pub started_unix: u64,
    /// Unmeasured seconds before the measured phase.
    pub warmup_s: f64,
    /// The requested measured seconds (empty for a run limited by faults).
    pub requested_s: Option<f64>,
    /// The requested fault operations (empty for a run limited by time).
    pub requested_faults: Option<u64>,
    /// Measured seconds (warm-up excluded).
    pub duration_s: f64,
    /// Workers that took part in the measured phase.
    pub joined: usize,
    /// Whether the run is a measurement: every worker took part in the measured
    /// phase and faults were served. Invalid rows are kept out of every figure.
    pub valid: bool,
    /// Whether the measured time overran the requested time by more than 2x (a
    /// busy machine): kept, but flagged.
    pub overran: bool,
    /// Whether the run fell in a slow period of the machine: its `canary_ratio`
    /// was below the sweep's threshold even after its re-runs. Kept, but flagged.
    pub slow: bool,
    /// The machine's speed at the time of the run: the throughput of the sweep's
    /// canary run nearest in time over the median of all its canary runs (empty
    /// for a single run).
    pub canary_ratio: Option<f64>,
    /// Faults served (the fault body ran on a VMA).
    pub faults: u64,
    /// Faults answered "no mapping" (between a munmap and its mmap): never
    /// counted as served.
    pub segv: u64,
    /// Faults served per second over `duration_s`.
    pub faults_per_sec: f64,
    /// Faults served under the per-VMA lock.
    pub lock_success: Option<u64>,
    /// Per-VMA lock attempts abandoned.
    pub lock_abort: Option<u64>,
    /// VMAs found detached and looked up again.
    pub lock_miss: Option<u64>,
    /// Faults that took `mmap_lock` for read.
    pub fallbacks: Option<u64>,
    /// Mappings created.
    pub maps: u64,
    /// Mappings removed.
    pub unmaps: u64,
    /// Index nodes replaced by a store.
    pub nodes_replaced: Option<u64>,
    /// Deferred frees of VMAs (`call_rcu`, `defer`, `retire`), at the call site.
    pub vma_call_rcu: Option<u64>,
    /// Deferred frees of index nodes, at the call site.
    pub node_call_rcu: Option<u64>,
    /// Deferred releases of emptied typesafe slabs, at the call site.
    pub slab_call_rcu: Option<u64>,
    /// VMAs freed into their cache at once.
    pub vma_freed_now: Option<u64>,
    /// Index nodes freed into their cache at once.
    pub node_freed_now: Option<u64>,
    /// `vma_call_rcu` per removed mapping (empty when nothing was removed).
    pub vma_call_rcu_per_unmap: Option<f64>,
    /// `node_call_rcu` per removed mapping.
    pub node_call_rcu_per_unmap: Option<f64>,
    /// `slab_call_rcu` per removed mapping.
    pub slab_call_rcu_per_unmap: Option<f64>,
    /// VMA allocations served by an object freed without a grace period.
    pub reused: Option<u64>,
    /// Peak removed VMAs waiting to be reclaimed (sampled every millisecond).
    pub peak_waiting_vmas: Option<u64>,
    /// Peak replaced nodes waiting.
    pub peak_waiting_nodes: Option<u64>,
    /// Peak emptied typesafe slabs waiting for their grace period.
    pub peak_waiting_slabs: Option<u64>,
    /// Peak bytes waiting in one sample (objects times their size, slabs times
    /// the page size).
    pub peak_waiting_bytes: Option<u64>,
    /// Mean bytes waiting over the samples.
    pub mean_waiting_bytes: Option<f64>,
    /// Grace-period probes queued in the measured interval whose callback ran
    /// by the end of the run (one queued through the scheme every 64 deferred
    /// frees of a worker).
    pub gp_probes: Option<u64>,
    /// Their mean time from the call to the callback, microseconds.
    pub gp_latency_mean_us: Option<f64>,
    /// The longest, microseconds.
    pub gp_latency_max_us: Option<f64>,
    /// Faults that ran on a VMA that was not the caller's mapping of the address,
    /// or answered "no mapping" where there was one (`linux`: writes that found
    /// their page already populated).
    pub wrong: u64,
    /// Broken-twin failures caught without a wrong answer: refcount underflows,
    /// touches of a freed mm, and writers that gave up waiting for readers that
    /// never leave (always 0 for a correct scheme and for `linux`).
    pub errors: u64,
    /// Every worker timed every Nth fault and every Nth writer operation.
    pub sample_every: u32,
    /// Faults timed.
    pub fault_samples: u64,
    /// Fault latency, median, ns: from the start of `lock_vma_under_rcu` to the
    /// unlock, fallback included (`linux`: the write that faults). Empty where
    /// no fault was timed.
    pub fault_p50_ns: Option<u64>,
    /// Fault latency, 90th percentile, ns.
    pub fault_p90_ns: Option<u64>,
    /// Fault latency, 99th percentile, ns.
    pub fault_p99_ns: Option<u64>,
    /// Fault latency, 99.9th percentile, ns.
    pub fault_p999_ns: Option<u64>,
    /// Fault latency, the longest timed, ns.
    pub fault_max_ns: Option<u64>,
    /// Writer operations timed (replace, munmap, mmap and exit, each its own).
    pub writer_samples: u64,
    /// Writer latency, median, ns: `mmap_lock` held for write, from taking it
    /// to dropping it, waiting for readers in detach and the free path included
    /// (`linux`: the whole `mmap` or `munmap` system call). Empty where none
    /// was timed.
    pub writer_p50_ns: Option<u64>,
    /// Writer latency, 90th percentile, ns.
    pub writer_p90_ns: Option<u64>,
    /// Writer latency, 99th percentile, ns.
    pub writer_p99_ns: Option<u64>,
    /// Writer latency, 99.9th percentile, ns.
    pub writer_p999_ns: Option<u64>,
    /// Writer latency, the longest timed, ns.
    pub writer_max_ns: Option<u64>,
    /// The stalled reader's park, ms (empty: no stalled reader).
    pub stall_ms: Option<f64>,
    /// From one park to the next, ms.
    pub stall_every_ms: Option<f64>,
    /// Parks the stalled reader completed.
    pub stalls: Option<u64>,
    /// How fast the bytes waiting to be reclaimed grew while the reader was
    /// parked, bytes per ms (median over parks; models only).
    pub stall_growth_bytes_per_ms: Option<f64>,
    /// The longest a timed writer waited to take `mmap_lock` for write, ns
    /// (runs with a stalled reader; models only).
    pub writer_wait_max_ns: Option<u64>,
    /// `linux` only: the kernel's minor faults for this process over the measured
    /// interval (`getrusage`), to set against `faults`.
    pub kernel_minflt: Option<u64>,
    /// `linux` only: objects in use in the `vm_area_struct` slab cache at the start
    /// of the measured interval (system-wide), where readable.
    pub slab_objects_before: Option<u64>,
    /// The same at the end of the measured interval.
    pub slab_objects_after: Option<u64>,
}

impl Row {
    /// Whether the row is a measurement: every worker took part in the measured
    /// phase and faults were served. Rows that are not are kept out of every
    /// statistic, plot and finding.
    pub fn is_measurement(&self) -> bool {
        self.valid && self.faults > 0
    }

    /// A measurement for `scheme` (a label: `policy/flavour` or the policy) at
    /// one point: 1000 faults in the 1 ms requested, every other count 0 or
    /// empty (for tests, and to derive the header).
    pub fn example(scheme: &str, threads: usize, churn_pct: f64) -> Row {
        let (policy, rcu) = scheme.split_once('/').unwrap_or((scheme, "none"));
        Row {
            run_id: "example".into(),
            host: "example".into(),
            scheme: policy.into(),
            rcu: rcu.into(),
            threads,
            churn_pct,
            churn_kind: "replace".into(),
            skew: "uniform".into(),
            fault_work: "light".into(),
            mms: 1,
            slots: 1,
            requested_s: Some(0.001),
            duration_s: 0.001,
            joined: threads,
            valid: true,
            faults: 1000,
            faults_per_sec: 1e6,
            ..Row::default()
        }
    }

    /// `scheme/rcu`, or the scheme alone when it uses no flavour: how plots and
    /// tables name a scheme.
    pub fn label(&self) -> String {
        if self.rcu == "none" || self.rcu.is_empty() {
            self.scheme.clone()
        } else {
            format!("{}/{}", self.scheme, self.rcu)
        }
    }

    /// The CSV header, derived from the struct (never kept by hand).
    pub fn header() -> Vec<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        // Serializing a plain struct into memory cannot fail.
        let _ = w.serialize(Row::example("x", 1, 0.0));
        let bytes = w.into_inner().unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let first = text.lines().next().unwrap_or_default();
        first.split(',').map(str::to_string).collect()
    }
}
