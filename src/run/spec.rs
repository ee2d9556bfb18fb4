//! One run of a named scheme: build its address spaces, drive them, make a row.
//! [`RunSpec`] says what to run, [`run_spec`] runs it and returns what it
//! [`Measured`], and `Row::new` turns that into the output layer's CSV row.

use crate::error::Error;
use crate::model::hook::Widen;
use crate::model::mm::{Layout, Space};
use crate::model::scheme::{Scheme, Visit};
use crate::output::row::Row;
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
    /// `started_unix` are the caller's. (Defined here, beside [`RunSpec`] and
    /// [`Measured`], which the output layer does not know.)
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

/// Run `spec` and return what it measured. Fails with a one-line error only for
/// `linux`: a system that cannot run it, a bad layout, or a system call that
/// failed during the run.
pub fn run_spec(spec: &RunSpec) -> Result<Measured, Error> {
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
        return Err(Error(format!(
            "--exits {}: the real kernel's process cannot exit (use 0 with linux)",
            spec.config.exits_pct
        )));
    }
    if spec.widen != 0 {
        return Err(Error(format!(
            "--widen {}: the real kernel's lookup cannot be widened (use 0 with linux)",
            spec.widen
        )));
    }
    let kernel = Linux::new(spec.layout)?;
    let result = drive(&kernel, &spec.config);
    if let Some(e) = kernel.first_error() {
        return Err(Error(format!(
            "{e} ({} failures in the run)",
            kernel.errors()
        )));
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
pub fn run_row(spec: &RunSpec) -> Result<Row, Error> {
    let started_unix = unix_now();
    let m = run_spec(spec)?;
    Ok(Row {
        run_id: format!("run-{started_unix}"),
        host: crate::run::host::hostname(),
        started_unix,
        ..Row::new(spec, &m)
    })
}
