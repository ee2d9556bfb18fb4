//! What a sweep records beside its CSV so that it can be reproduced: the machine,
//! the build and every parameter. Written as JSON (`sweep-<time>.json`).

use serde::{Deserialize, Serialize};

/// The host kernel's `vm_area_struct` slab cache settings, from
/// `/sys/kernel/slab/vm_area_struct` (each None where that attribute is absent).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VmaCache {
    /// `object_size`: bytes per VMA.
    pub object_size: Option<u64>,
    /// `destroy_by_rcu`: 1 when the cache is SLAB_TYPESAFE_BY_RCU.
    pub destroy_by_rcu: Option<u64>,
    /// `sheaf_capacity`: objects per per-CPU sheaf (kernels with sheaves).
    pub sheaf_capacity: Option<u64>,
}

/// One study of a sweep: the axes of one cross product.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StudyParams {
    /// What it is for.
    pub name: String,
    /// Free policies.
    pub schemes: Vec<String>,
    /// RCU flavours.
    pub rcus: Vec<String>,
    /// Thread counts.
    pub threads: Vec<usize>,
    /// Churn percentages.
    pub churn_pct: Vec<f64>,
    /// Churn kinds.
    pub churn_kinds: Vec<String>,
    /// Skews.
    pub skews: Vec<String>,
    /// Fault works.
    pub fault_works: Vec<String>,
    /// The stalled reader of every run, `MS:EVERY_MS` (absent: none).
    #[serde(default)]
    pub stall: Option<String>,
}

/// The canary of a sweep: the short fixed run made before the first run, every
/// few runs and after the last, to watch the machine's speed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CanaryParams {
    /// Its scheme (read-only, uniform skew, light fault work).
    pub scheme: String,
    /// Its threads.
    pub threads: usize,
    /// Its measured seconds.
    pub duration_s: f64,
    /// Its warm-up seconds.
    pub warmup_s: f64,
    /// Runs between two canaries.
    pub every: usize,
    /// A run whose canary ratio is below this fell in a slow period: it is run
    /// again, and flagged `slow` if it still is.
    pub threshold: f64,
    /// Attempts at most per run (the first included).
    pub attempts: u32,
}

/// The sweep's parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// The studies.
    pub studies: Vec<StudyParams>,
    /// Percentage of operations that are a process exit (models).
    pub exits_pct: f64,
    /// Percentage of operations that are an in-place change of a mapping (models).
    #[serde(default)]
    pub changes_pct: f64,
    /// Percentage of operations that are a fork (models).
    #[serde(default)]
    pub forks_pct: f64,
    /// Repetitions of every point.
    pub reps: u32,
    /// Measured seconds per run.
    pub duration_s: f64,
    /// Warm-up seconds per run.
    pub warmup_s: f64,
    /// Address spaces (models; `linux` always has 1).
    pub mms: usize,
    /// Mappings per address space.
    pub slots: usize,
    /// seize's batch size.
    pub seize_batch: usize,
    /// urcu-qsbr's operations between quiescent states.
    pub qsbr_every: u32,
    /// Seed of repetition 0 (repetition `r` uses `seed + r`).
    pub seed: u64,
    /// Every worker timed every Nth fault and writer operation (absent from
    /// metadata written before latencies were sampled).
    #[serde(default)]
    pub sample_every: Option<u32>,
    /// The canary (absent from sweeps made without one).
    pub canary: Option<CanaryParams>,
}

/// Everything recorded beside a sweep's CSV.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The CSV this describes (file name, same folder).
    pub csv: String,
    /// Host name.
    pub host: String,
    /// `git rev-parse --short HEAD` when the binary was built (`-dirty` if the
    /// tree had uncommitted changes).
    pub git_commit: String,
    /// `rustc --version` of the build.
    pub rustc: String,
    /// Whether the binary was an optimised build.
    pub release: bool,
    /// CPU model (`/proc/cpuinfo`), where readable.
    pub cpu_model: Option<String>,
    /// CPUs available to this process (absent from metadata that does not
    /// record them: plots then mark no cores).
    pub cores: Option<usize>,
    /// Operating system.
    pub os: String,
    /// Kernel release (`/proc/sys/kernel/osrelease`), where readable.
    pub kernel: Option<String>,
    /// The host kernel's VMA cache, where readable.
    pub vm_area_struct: Option<VmaCache>,
    /// The sweep's parameters.
    pub params: Params,
    /// Sweep start, seconds since the Unix epoch.
    pub started_unix: u64,
    /// Sweep end (0 while it runs or if it was interrupted).
    pub finished_unix: u64,
    /// Runs planned.
    pub runs_planned: usize,
    /// Runs written to the CSV.
    pub runs_done: usize,
    /// Whether the sweep was stopped early (Ctrl-C).
    pub interrupted: bool,
    /// Notes (a scheme skipped, and why).
    pub notes: Vec<String>,
}
