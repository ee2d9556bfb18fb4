//! One run of a named scheme: build its address spaces, drive them, make a row.

use serde::{Deserialize, Serialize};

use crate::model::hook::Widen;
use crate::model::mm::{Layout, Space};
use crate::model::scheme::{Scheme, Visit};
use crate::run::driver::{drive, RunConfig, RunResult};
use crate::run::host::KernelSample;
use crate::run::kernel::Linux;
use crate::schemes::SchemeId;

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

/// What a run measured, before it becomes a row.
#[derive(Clone, Debug)]
pub struct Measured {
    /// The driver's result.
    pub result: RunResult,
    /// `linux` only: the kernel's counters at the start and end of the measured
    /// interval.
    pub kernel: Option<(KernelSample, KernelSample)>,
}

impl Row {
    /// The row of `spec`'s run that measured `m`; `run_id`, `host`, `rep` and
    /// `started_unix` are the caller's.
    pub fn new(spec: &RunSpec, m: &Measured) -> Row {
        let r = &m.result;
        let t = &r.totals;
        let model = !spec.scheme.is_kernel();
        let seen = |v: u64| model.then_some(v);
        Row {
            run_id: String::new(),
            host: String::new(),
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
            lock_success: seen(t.lock_success),
            lock_abort: seen(t.lock_abort),
            lock_miss: seen(t.lock_miss),
            fallbacks: seen(t.fallbacks),
            maps: t.maps,
            unmaps: t.unmaps,
            free_calls: seen(t.free_calls),
            free_calls_per_unmap: (model && t.unmaps > 0)
                .then(|| t.free_calls as f64 / t.unmaps as f64),
            freed: seen(t.freed),
            reused: seen(t.reused),
            peak_unreclaimed: seen(r.peak_unreclaimed),
            mean_unreclaimed: model.then_some(r.mean_unreclaimed),
            wrong: t.wrong,
            errors: t.errors,
            kernel_minflt: m.kernel.map(|(a, b)| b.minflt.saturating_sub(a.minflt)),
            slab_objects_before: m.kernel.and_then(|(a, _)| a.slab).map(|s| s.objects),
            slab_objects_after: m.kernel.and_then(|(_, b)| b.slab).map(|s| s.objects),
        }
    }
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

/// Run `spec` and return what it measured. Fails with a one-line message only for
/// `linux`: a system that cannot run it, a bad layout, or a system call that
/// failed during the run.
pub fn run_spec(spec: &RunSpec) -> Result<Measured, String> {
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
    if let Some(result) = spec.scheme.visit(Go(spec)) {
        return Ok(Measured {
            result,
            kernel: None,
        });
    }
    if spec.config.exits_pct != 0.0 {
        return Err(format!(
            "--exits {}: the real kernel's process cannot exit (use 0 with linux)",
            spec.config.exits_pct
        ));
    }
    if spec.widen != 0 {
        return Err(format!(
            "--widen {}: the real kernel's lookup cannot be widened (use 0 with linux)",
            spec.widen
        ));
    }
    let kernel = Linux::new(spec.layout)?;
    let result = drive(&kernel, &spec.config);
    if let Some(e) = kernel.first_error() {
        return Err(format!("{e} ({} failures in the run)", kernel.errors()));
    }
    Ok(Measured {
        result,
        kernel: kernel.kernel_interval(),
    })
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Run `spec` and return its CSV row (`run_id` `run-<start>`, `rep` 0).
pub fn run_row(spec: &RunSpec) -> Result<Row, String> {
    let started_unix = unix_now();
    let m = run_spec(spec)?;
    Ok(Row {
        run_id: format!("run-{started_unix}"),
        host: crate::run::host::hostname(),
        started_unix,
        ..Row::new(spec, &m)
    })
}
