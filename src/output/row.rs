//! One CSV row: the only definition of the columns. Plain data: the run layer
//! fills it (`Row::new`, beside the run's spec), the sweep writes it, and the
//! reading, statistics, plots and report take it back from the CSV.

use serde::{Deserialize, Serialize};

/// One CSV row: the only definition of the columns.
///
/// Columns a scheme cannot observe are empty, not 0: the free-path counts of the
/// real kernel (`linux`), and the kernel's counts for the models.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Identifies the run: `<sweep start, unix seconds>-<index in the sweep>`, or
    /// `run-<start>` for a single run.
    pub run_id: String,
    /// The machine that ran it (sweeps from several machines are told apart by it).
    pub host: String,
    /// Scheme name.
    pub scheme: String,
    /// Worker threads.
    pub threads: usize,
    /// Percentage of operations that replace a mapping.
    pub churn_pct: f64,
    /// `uniform` or `hot`.
    pub skew: String,
    /// Address spaces (always 1 for `linux`: one process is one mm).
    pub mms: usize,
    /// Mappings per address space.
    pub slots: usize,
    /// Seed.
    pub seed: u64,
    /// Yields between find and lock (adversarial runs only; 0 normally).
    pub widen: u32,
    /// Repetition of this point within a sweep (0 for a single run).
    pub rep: u32,
    /// When the run started, seconds since the Unix epoch.
    pub started_unix: u64,
    /// Measured seconds (warm-up excluded).
    pub duration_s: f64,
    /// Faults made.
    pub faults: u64,
    /// Faults per second over `duration_s`.
    pub faults_per_sec: f64,
    /// Faults served under the per-VMA lock.
    pub lock_success: Option<u64>,
    /// Per-VMA lock attempts abandoned.
    pub lock_abort: Option<u64>,
    /// VMAs found detached and looked up again.
    pub lock_miss: Option<u64>,
    /// Faults served under the mm-wide lock.
    pub fallbacks: Option<u64>,
    /// Mappings created.
    pub maps: u64,
    /// Mappings removed.
    pub unmaps: u64,
    /// Deferred-free registrations.
    pub free_calls: Option<u64>,
    /// Free calls per removed mapping (empty when nothing was removed).
    pub free_calls_per_unmap: Option<f64>,
    /// Objects whose memory became reusable.
    pub freed: Option<u64>,
    /// Allocations served by a previously used object before any grace period.
    pub reused: Option<u64>,
    /// Peak removed-but-not-freed objects (sampled every millisecond).
    pub peak_unreclaimed: Option<u64>,
    /// Mean removed-but-not-freed objects over the samples.
    pub mean_unreclaimed: Option<f64>,
    /// Faults that ran on a VMA that was not the caller's mapping of the address
    /// (`linux`: writes that found their page already populated).
    pub wrong: u64,
    /// Broken-twin failures caught without a wrong answer: refcount underflows
    /// and touches of a freed mm (always 0 for a correct scheme and for `linux`).
    pub errors: u64,
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
    /// A row of zeros and empty cells for `scheme` at one point (for tests, and to
    /// derive the header).
    pub fn example(scheme: &str, threads: usize, churn_pct: f64) -> Row {
        Row {
            run_id: String::new(),
            host: "example".into(),
            scheme: scheme.into(),
            threads,
            churn_pct,
            skew: "uniform".into(),
            mms: 1,
            slots: 1,
            seed: 0,
            widen: 0,
            rep: 0,
            started_unix: 0,
            duration_s: 0.0,
            faults: 0,
            faults_per_sec: 0.0,
            lock_success: None,
            lock_abort: None,
            lock_miss: None,
            fallbacks: None,
            maps: 0,
            unmaps: 0,
            free_calls: None,
            free_calls_per_unmap: None,
            freed: None,
            reused: None,
            peak_unreclaimed: None,
            mean_unreclaimed: None,
            wrong: 0,
            errors: 0,
            kernel_minflt: None,
            slab_objects_before: None,
            slab_objects_after: None,
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
