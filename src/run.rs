//! One run of a named scheme: build its address spaces, drive them, make a row.

use serde::{Deserialize, Serialize};

use crate::driver::{drive, RunConfig, RunResult};
use crate::hook::Widen;
use crate::scheme::Scheme;
use crate::schemes::{SchemeId, Visit};
use crate::space::{Layout, Space};

/// Everything that defines one run.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The scheme.
    pub scheme: SchemeId,
    /// Threads, churn, skew, limits, seed.
    pub config: RunConfig,
    /// Address spaces and mappings.
    pub layout: Layout,
    /// Yields between find and lock (0: none; an adversarial setting for twins).
    pub widen: u32,
}

/// One CSV row: the only definition of the columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Scheme name.
    pub scheme: String,
    /// Worker threads.
    pub threads: usize,
    /// Percentage of operations that replace a mapping.
    pub churn_pct: f64,
    /// `uniform` or `hot`.
    pub skew: String,
    /// Address spaces.
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
    pub lock_success: u64,
    /// Per-VMA lock attempts abandoned.
    pub lock_abort: u64,
    /// VMAs found detached and looked up again.
    pub lock_miss: u64,
    /// Faults served under the mm-wide lock.
    pub fallbacks: u64,
    /// Mappings created.
    pub maps: u64,
    /// Mappings removed.
    pub unmaps: u64,
    /// Deferred-free registrations.
    pub free_calls: u64,
    /// Free calls per removed mapping.
    pub free_calls_per_unmap: f64,
    /// Objects whose memory became reusable.
    pub freed: u64,
    /// Allocations served by a previously used object before any grace period.
    pub reused: u64,
    /// Peak removed-but-not-freed objects (sampled every millisecond).
    pub peak_unreclaimed: u64,
    /// Mean removed-but-not-freed objects over the samples.
    pub mean_unreclaimed: f64,
    /// Faults that ran on a VMA that was not the caller's mapping of the address.
    pub wrong: u64,
}

impl Row {
    fn new(spec: &RunSpec, r: &RunResult) -> Row {
        let t = &r.totals;
        Row {
            scheme: spec.scheme.name().to_string(),
            threads: spec.config.threads,
            churn_pct: spec.config.churn_pct,
            skew: spec.config.skew.name().to_string(),
            mms: spec.layout.mms,
            slots: spec.layout.slots,
            seed: spec.config.seed,
            widen: spec.widen,
            rep: 0,
            started_unix: 0,
            duration_s: r.elapsed.as_secs_f64(),
            faults: t.faults,
            faults_per_sec: r.faults_per_sec(),
            lock_success: t.lock_success,
            lock_abort: t.lock_abort,
            lock_miss: t.lock_miss,
            fallbacks: t.fallbacks,
            maps: t.maps,
            unmaps: t.unmaps,
            free_calls: t.free_calls,
            free_calls_per_unmap: if t.unmaps == 0 {
                0.0
            } else {
                t.free_calls as f64 / t.unmaps as f64
            },
            freed: t.freed,
            reused: t.reused,
            peak_unreclaimed: r.peak_unreclaimed,
            mean_unreclaimed: r.mean_unreclaimed,
            wrong: t.wrong,
        }
    }
}

/// Run `spec` and return the raw result.
pub fn run_spec(spec: &RunSpec) -> RunResult {
    struct Go<'a>(&'a RunSpec);
    impl Visit for Go<'_> {
        type Out = RunResult;
        fn visit<S: Scheme + Default>(self) -> RunResult {
            let spec = self.0;
            if spec.widen == 0 {
                drive(&Space::new(S::default(), spec.layout), &spec.config)
            } else {
                let hook = Widen { yields: spec.widen };
                drive(
                    &Space::with_hook(S::default(), spec.layout, hook),
                    &spec.config,
                )
            }
        }
    }
    spec.scheme.visit(Go(spec))
}

/// Run `spec` and return its CSV row.
pub fn run_row(spec: &RunSpec) -> Row {
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Row {
        started_unix,
        ..Row::new(spec, &run_spec(spec))
    }
}
