//! One run of a named scheme: build its address spaces, drive them, make a row.
//! [`RunSpec`] says what to run, [`run_spec`] runs it and returns what it
//! [`Measured`], and `Row::new` turns that into the output layer's CSV row.

use std::mem::size_of;

use crate::error::Error;
use crate::model::gp::GpLatency;
use crate::model::hook::Widen;
use crate::model::index::Node;
use crate::model::mm::Layout;
use crate::model::page::{ARENA_SIZE, DATA_PAGES_PER_ARENA, PAGE_SIZE};
use crate::model::scheme::{Scheme, Visit};
use crate::model::space::{FaultWork, Space};
use crate::model::vma::Vma;
use crate::output::row::Row;
use crate::output::side::{PercentileRow, TimelineRow};
use crate::rcu::RcuSettings;
use crate::run::driver::{drive, ChurnKind, RunConfig, RunResult, Skew};
use crate::run::host::KernelSample;
use crate::run::kernel::Linux;
use crate::run::latency::{percentiles, table, Op};
use crate::schemes::SchemeId;

/// Everything that defines one run.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The scheme (free policy and RCU flavour).
    pub scheme: SchemeId,
    /// Threads, churn, skew, limits, seed.
    pub config: RunConfig,
    /// Address spaces and mappings.
    pub layout: Layout,
    /// What a fault does besides its lookup (the real kernel's always clears a
    /// page: `linux` runs only with [`FaultWork::Page`]).
    pub work: FaultWork,
    /// The flavour's settings (recorded for every run).
    pub settings: RcuSettings,
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
    /// Models only: what the grace-period probes measured by the end of the run.
    pub gp: Option<GpLatency>,
}

impl Measured {
    /// The run's latency distributions as percentile tables: faults, every
    /// writer operation together (`writer`), then each writer kind; kinds with
    /// no sample are left out.
    pub fn percentile_rows(&self, run_id: &str) -> Vec<PercentileRow> {
        let l = &self.result.latency;
        let writers = l.writers();
        let mut hists = vec![("fault", l.of(Op::Fault)), ("writer", &writers)];
        hists.extend(
            Op::ALL
                .into_iter()
                .filter(|&op| op != Op::Fault)
                .map(|op| (op.name(), l.of(op))),
        );
        hists
            .into_iter()
            .flat_map(|(op, h)| {
                table(h)
                    .into_iter()
                    .map(move |(percentile, ns)| PercentileRow {
                        run_id: run_id.to_string(),
                        op: op.to_string(),
                        samples: h.len(),
                        percentile,
                        ns,
                    })
            })
            .collect()
    }

    /// The run's timeline, one row per sample (empty for a run without a
    /// stalled reader): the memory waiting, whether the reader was parked, and
    /// the writers that ended since the previous sample.
    pub fn timeline_rows(&self, run_id: &str) -> Vec<TimelineRow> {
        let tl = &self.result.timeline;
        let mut from = 0usize;
        tl.ticks
            .iter()
            .map(|t| {
                // Writers of the milliseconds since the previous sample's, up to
                // and including this one's.
                let upto = ((t.t_ns / 1_000_000) as usize + 1).min(tl.writers.len());
                let mut ops = 0;
                let (mut held, mut wait) = (None::<u64>, None::<u64>);
                for b in tl.writers.get(from..upto).unwrap_or_default() {
                    ops += b.ops;
                    if b.ops > 0 {
                        held = held.max(Some(b.held_max_ns));
                        wait = wait.max(b.wait_max_ns);
                    }
                }
                from = from.max(upto);
                TimelineRow {
                    run_id: run_id.to_string(),
                    t_ms: t.t_ns as f64 / 1e6,
                    parked: t.parked,
                    waiting_vmas: t.waiting.map(|w| w.vmas),
                    waiting_nodes: t.waiting.map(|w| w.nodes),
                    waiting_slabs: t.waiting.map(|w| w.slabs),
                    waiting_bytes: t.waiting.map(|w| w.bytes()),
                    writer_ops: ops,
                    writer_held_max_ns: held,
                    writer_wait_max_ns: wait,
                }
            })
            .collect()
    }
}

impl RunSpec {
    /// Refuse what the model (or the real kernel) cannot run, naming the values,
    /// before anything runs.
    pub fn check(&self) -> Result<(), Error> {
        let c = &self.config;
        if c.churn_pct + c.exits_pct > 100.0 {
            return Err(Error(format!(
                "--churn {} with --exits {}: together more than 100% of the operations",
                c.churn_pct, c.exits_pct
            )));
        }
        if c.churn_pct + c.exits_pct + c.changes_pct > 100.0 {
            return Err(Error(format!(
                "--changes {} with --churn {} and --exits {}: together more than 100% of \
                 the operations",
                c.changes_pct, c.churn_pct, c.exits_pct
            )));
        }
        if c.churn_pct + c.exits_pct + c.changes_pct + c.forks_pct > 100.0 {
            return Err(Error(format!(
                "--forks {} with --churn {}, --exits {} and --changes {}: together more \
                 than 100% of the operations",
                c.forks_pct, c.churn_pct, c.exits_pct, c.changes_pct
            )));
        }
        let writers = c.churn_pct + c.exits_pct + c.changes_pct + c.forks_pct;
        if writers >= 100.0 && c.limit.ops_per_thread.is_none() {
            // Every operation a writer's: no fault to measure, and a fault
            // limit would never be reached. (A benchmark of the writers alone
            // limits each worker's operations instead.)
            return Err(Error(format!(
                "--churn {} with --exits {}, --changes {} and --forks {}: no operation left \
                 for faults (a run measures faults; keep the writers' shares below 100% \
                 together)",
                c.churn_pct, c.exits_pct, c.changes_pct, c.forks_pct
            )));
        }
        for (flag, pct) in [
            ("--churn", c.churn_pct),
            ("--exits", c.exits_pct),
            ("--changes", c.changes_pct),
            ("--forks", c.forks_pct),
        ] {
            // Points are keyed by the percentage in thousandths (`churn_milli`).
            if (pct * 1000.0 - (pct * 1000.0).round()).abs() > 1e-6 {
                return Err(Error(format!(
                    "{flag} {pct}: percentages are multiples of 0.001"
                )));
            }
        }
        if c.skew == Skew::Private && self.layout.slots < c.threads {
            return Err(Error(format!(
                "--skew private with --slots {} and --threads {}: each worker needs a slot of its own",
                self.layout.slots, c.threads
            )));
        }
        if c.probe.sample_every == 0 {
            return Err(Error(
                "--sample-every 0: a sampling rate of 0 times nothing (use 1 or more)".into(),
            ));
        }
        if let Some(st) = c.probe.stall {
            let label = st.label();
            if st.park.is_zero() || st.every.is_zero() {
                return Err(Error(format!(
                    "--stall {label}: a park and its period must be longer than 0 ms"
                )));
            }
            if st.every < st.park {
                return Err(Error(format!(
                    "--stall {label}: every {} ms is shorter than the {} ms stall",
                    st.every.as_secs_f64() * 1000.0,
                    st.park.as_secs_f64() * 1000.0
                )));
            }
            match c.limit.time {
                None => {
                    return Err(Error(format!(
                        "--stall {label}: a stalled reader needs a run of fixed time \
                         (--duration, not --faults)"
                    )))
                }
                Some(d) if st.park > d => {
                    return Err(Error(format!(
                        "--stall {label}: a {} ms stall is longer than the run ({} ms)",
                        st.park.as_secs_f64() * 1000.0,
                        d.as_secs_f64() * 1000.0
                    )))
                }
                Some(_) => {}
            }
            if self.scheme.is_kernel() {
                return Err(Error(format!(
                    "--stall {label}: the real kernel's read section cannot be entered from \
                     user space (stall a model)"
                )));
            }
        }
        if let Some(f) = self.scheme.rcu {
            if let Some(why) = f.missing() {
                return Err(Error(format!("--rcu {}: {why}", f.name())));
            }
        }
        if !self.scheme.is_kernel() {
            return check_memory(self.layout);
        }
        crate::run::kernel::check_layout(self.layout)?;
        if c.exits_pct != 0.0 {
            return Err(Error(format!(
                "--exits {}: the real kernel's process cannot exit (use 0 with linux)",
                c.exits_pct
            )));
        }
        if c.forks_pct != 0.0 {
            return Err(Error(format!(
                "--forks {}: forks are modelled only (use 0 with linux)",
                c.forks_pct
            )));
        }
        if c.changes_pct != 0.0 {
            return Err(Error(format!(
                "--changes {}: in-place changes are modelled only (use 0 with linux)",
                c.changes_pct
            )));
        }
        if self.widen != 0 {
            return Err(Error(format!(
                "--widen {}: the real kernel's lookup cannot be widened (use 0 with linux)",
                self.widen
            )));
        }
        if self.work != FaultWork::Page {
            return Err(Error(format!(
                "--fault-work {}: every real fault clears a page (use page with linux)",
                self.work.name()
            )));
        }
        if c.churn_kind == ChurnKind::UnmapMap && c.churn_pct > 0.0 && c.skew != Skew::Private {
            return Err(Error(format!(
                "--churn-kind unmap-map with --skew {} on linux: another thread's write into \
                 the unmapped range would be SIGSEGV (use --skew private)",
                c.skew.name()
            )));
        }
        Ok(())
    }
}

/// Bytes a model's layout needs at the least: the slab pages of every VMA and
/// index node (objects per 4 KiB page as the caches pack them), taken from the
/// page allocator in whole 2 MiB arenas, and the oracle's record of every slot
/// (one pointer each). The caches' sheaves and a run's churn come on top.
pub fn model_bytes(layout: Layout) -> u128 {
    let mms = layout.mms as u128;
    let vmas = mms * layout.slots as u128;
    let nodes = mms * layout.shape().nodes() as u128;
    let pages = |objects: u128, size: usize| objects.div_ceil((PAGE_SIZE / size) as u128);
    let pages = pages(vmas, size_of::<Vma>()) + pages(nodes, size_of::<Node>());
    let arenas = pages.div_ceil(DATA_PAGES_PER_ARENA as u128);
    arenas * ARENA_SIZE as u128 + vmas * size_of::<*mut Vma>() as u128
}

/// Refuse a model layout whose objects alone would take more than half of the
/// machine's memory, or more than it has available now (an allocation abort
/// mid-run is never an answer). The message gives the estimate and both.
fn check_memory(layout: Layout) -> Result<(), Error> {
    match crate::run::host::mem_total_bytes() {
        Some(total) => fits(layout, total, crate::run::host::mem_available_bytes()),
        None => Ok(()),
    }
}

/// [`check_memory`] on a machine of `total` bytes with `available` bytes free.
fn fits(layout: Layout, total: u64, available: Option<u64>) -> Result<(), Error> {
    let need = model_bytes(layout);
    let limit = available.map_or(total / 2, |a| a.min(total / 2));
    if need > u128::from(limit) {
        return Err(Error(format!(
            "--mms {} with --slots {}: the model needs at least {} MiB, more than {} MiB \
             (half of this machine's {} MiB{})",
            layout.mms,
            layout.slots,
            need.div_ceil(1 << 20),
            limit >> 20,
            total >> 20,
            available.map_or(String::new(), |a| format!(
                ", with {} MiB available now",
                a >> 20
            ))
        )));
    }
    Ok(())
}

/// `n / d`, empty when `d` is 0.
fn per(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

impl Row {
    /// The row of `spec`'s run that measured `m`; `run_id`, `host`, `rep` and
    /// `started_unix` are the caller's. (Defined here, beside [`RunSpec`] and
    /// [`Measured`], which the output layer does not know.)
    pub fn new(spec: &RunSpec, m: &Measured) -> Row {
        let r = &m.result;
        let t = &r.totals;
        let c = &spec.config;
        let model = !spec.scheme.is_kernel();
        let seen = |v: u64| model.then_some(v);
        let per_unmap = |v: u64| if model { per(v, t.unmaps) } else { None };
        let requested_s = c.limit.time.map(|d| d.as_secs_f64());
        let fault = percentiles(r.latency.of(Op::Fault));
        let writer = percentiles(&r.latency.writers());
        let stall = c.probe.stall;
        Row {
            run_id: String::new(),
            host: String::new(),
            scheme: spec.scheme.name().to_string(),
            rcu: spec.scheme.rcu_name().to_string(),
            threads: c.threads,
            churn_pct: c.churn_pct,
            churn_kind: c.churn_kind.name().to_string(),
            exits_pct: c.exits_pct,
            changes_pct: c.changes_pct,
            forks_pct: c.forks_pct,
            skew: c.skew.name().to_string(),
            fault_work: spec.work.name().to_string(),
            mms: spec.layout.mms,
            slots: spec.layout.slots,
            seed: c.seed,
            widen: spec.widen,
            seize_batch: spec.settings.seize_batch,
            qsbr_every: spec.settings.qsbr_every,
            rep: 0,
            attempt: 0,
            started_unix: 0,
            warmup_s: c.warmup.as_secs_f64(),
            requested_s,
            requested_faults: c.limit.faults,
            duration_s: r.elapsed.as_secs_f64(),
            joined: r.joined,
            valid: r.joined == c.threads && t.faults > 0,
            overran: requested_s.is_some_and(|s| r.elapsed.as_secs_f64() > 2.0 * s),
            slow: false,
            canary_ratio: None,
            faults: t.faults,
            segv: t.segv,
            faults_per_sec: r.faults_per_sec(),
            lock_success: seen(t.lock_success),
            lock_abort: seen(t.lock_abort),
            lock_miss: seen(t.lock_miss),
            fallbacks: seen(t.fallbacks),
            maps: t.maps,
            unmaps: t.unmaps,
            nodes_replaced: seen(t.nodes_replaced),
            vma_call_rcu: seen(t.vma_call_rcu),
            node_call_rcu: seen(t.node_call_rcu),
            slab_call_rcu: seen(t.slab_call_rcu),
            vma_freed_now: seen(t.vma_freed_now),
            node_freed_now: seen(t.node_freed_now),
            vma_call_rcu_per_unmap: per_unmap(t.vma_call_rcu),
            node_call_rcu_per_unmap: per_unmap(t.node_call_rcu),
            slab_call_rcu_per_unmap: per_unmap(t.slab_call_rcu),
            reused: seen(t.reused),
            peak_waiting_vmas: seen(r.peak_waiting.vmas),
            peak_waiting_nodes: seen(r.peak_waiting.nodes),
            peak_waiting_slabs: seen(r.peak_waiting.slabs),
            peak_waiting_bytes: seen(r.peak_waiting_bytes),
            mean_waiting_bytes: model.then_some(r.mean_waiting_bytes),
            gp_probes: m.gp.map(|g| g.probes),
            gp_latency_mean_us: m.gp.and_then(|g| g.mean_ns()).map(|ns| ns / 1e3),
            gp_latency_max_us: m.gp.filter(|g| g.probes > 0).map(|g| g.max_ns as f64 / 1e3),
            wrong: t.wrong,
            errors: t.errors,
            sample_every: c.probe.sample_every,
            fault_samples: fault.map_or(0, |p| p.samples),
            fault_p50_ns: fault.map(|p| p.p50),
            fault_p90_ns: fault.map(|p| p.p90),
            fault_p99_ns: fault.map(|p| p.p99),
            fault_p999_ns: fault.map(|p| p.p999),
            fault_max_ns: fault.map(|p| p.max),
            writer_samples: writer.map_or(0, |p| p.samples),
            writer_p50_ns: writer.map(|p| p.p50),
            writer_p90_ns: writer.map(|p| p.p90),
            writer_p99_ns: writer.map(|p| p.p99),
            writer_p999_ns: writer.map(|p| p.p999),
            writer_max_ns: writer.map(|p| p.max),
            stall_ms: stall.map(|st| st.park.as_secs_f64() * 1000.0),
            stall_every_ms: stall.map(|st| st.every.as_secs_f64() * 1000.0),
            stalls: stall.map(|_| r.timeline.stalls),
            stall_growth_bytes_per_ms: stall.and_then(|_| r.timeline.stall_growth()),
            writer_wait_max_ns: stall.and_then(|_| r.timeline.longest_wait()),
            kernel_minflt: m.kernel.map(|(a, b)| b.minflt.saturating_sub(a.minflt)),
            slab_objects_before: m.kernel.and_then(|(a, _)| a.slab).map(|s| s.objects),
            slab_objects_after: m.kernel.and_then(|(_, b)| b.slab).map(|s| s.objects),
        }
    }
}

/// Run `spec` and return what it measured. Fails with a one-line error for a
/// spec [`RunSpec::check`] refuses, and for `linux`: a system that cannot run
/// it, a bad layout, or a system call that failed during the run.
pub fn run_spec(spec: &RunSpec) -> Result<Measured, Error> {
    struct Go<'a>(&'a RunSpec);
    impl Visit for Go<'_> {
        type Out = (RunResult, GpLatency);
        fn visit<S: Scheme>(self) -> (RunResult, GpLatency) {
            let spec = self.0;
            let scheme = S::new(&spec.settings);
            if spec.widen == 0 {
                let space = Space::new(scheme, spec.layout).with_fault_work(spec.work);
                (drive(&space, &spec.config), space.gp_latency())
            } else {
                let hook = Widen { yields: spec.widen };
                let space = Space::with_hook(scheme, spec.layout, hook).with_fault_work(spec.work);
                (drive(&space, &spec.config), space.gp_latency())
            }
        }
    }
    spec.check()?;
    if let Some((result, gp)) = spec.scheme.visit(Go(spec)) {
        return Ok(Measured {
            result,
            kernel: None,
            gp: Some(gp),
        });
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
        gp: None,
    })
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Run `spec` and return its CSV row (`run_id` `run-<start>-<process id>`, so
/// that two runs started in the same second differ; `rep` 0).
pub fn run_row(spec: &RunSpec) -> Result<Row, Error> {
    run_measured(spec).map(|(row, _)| row)
}

/// [`run_row`], and what the run measured (for the side files).
pub fn run_measured(spec: &RunSpec) -> Result<(Row, Measured), Error> {
    let started_unix = unix_now();
    let m = run_spec(spec)?;
    let row = Row {
        run_id: format!("run-{started_unix}-{}", std::process::id()),
        host: crate::run::host::hostname(),
        started_unix,
        ..Row::new(spec, &m)
    };
    Ok((row, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::page::ARENA_SIZE;
    use crate::schemes::Policy;

    /// The estimate covers what a space of the layout really takes from the
    /// page allocator (counted by the allocator, after building it), and is not
    /// far above it.
    #[test]
    fn the_memory_estimate_covers_a_real_space() {
        for (mms, slots) in [(1, 1), (2, 64), (3, 1000), (8, 16384)] {
            let layout = Layout { mms, slots };
            let space: Space<crate::schemes::leak::Leak> = Space::with_defaults(layout);
            let pages = space.teardown().pages;
            let taken = u128::from(pages.arenas) * ARENA_SIZE as u128;
            let estimate = model_bytes(layout);
            assert!(
                estimate >= taken
                    && estimate <= taken + ARENA_SIZE as u128 + (mms * slots * 8) as u128,
                "{mms} x {slots}: estimate {estimate}, the allocator took {taken}"
            );
        }
    }

    /// Shares of writer operations that together exceed 100% are refused
    /// before any run, naming every value; the real kernel refuses changes and
    /// forks, which only the models make.
    #[test]
    fn writer_shares_over_100_and_model_only_writers_are_refused() {
        let spec = |scheme, churn, exits, changes, forks| RunSpec {
            scheme,
            config: RunConfig {
                threads: 1,
                churn_pct: churn,
                churn_kind: ChurnKind::Replace,
                exits_pct: exits,
                changes_pct: changes,
                forks_pct: forks,
                limit: crate::run::driver::Limit::faults(1),
                warmup: std::time::Duration::ZERO,
                skew: Skew::Uniform,
                seed: 1,
                probe: crate::run::driver::Probe::default(),
            },
            layout: Layout { mms: 1, slots: 4 },
            work: FaultWork::Light,
            settings: RcuSettings::default(),
            widen: 0,
        };
        let ts = SchemeId::kernel_like(Policy::Typesafe);
        let e = spec(ts, 50.0, 10.0, 45.0, 0.0).check().unwrap_err().0;
        assert!(
            e.contains("--changes 45") && e.contains("--churn 50") && e.contains("--exits 10"),
            "{e}"
        );
        let e = spec(ts, 50.0, 0.0, 30.0, 25.0).check().unwrap_err().0;
        assert!(
            e.contains("--forks 25") && e.contains("--churn 50") && e.contains("--changes 30"),
            "{e}"
        );
        assert_eq!(spec(ts, 50.0, 10.0, 30.0, 9.0).check(), Ok(()));
        // Exactly 100: no operation left for faults.
        let e = spec(ts, 50.0, 10.0, 30.0, 10.0).check().unwrap_err().0;
        assert!(e.contains("no operation left for faults"), "{e}");
        let linux = SchemeId::new(Policy::Linux, None).expect("a valid pair");
        for (changes, forks, flag) in [(1.0, 0.0, "--changes 1"), (0.0, 1.0, "--forks 1")] {
            let e = spec(linux, 0.0, 0.0, changes, forks).check().unwrap_err().0;
            assert!(e.contains(flag), "{e}");
        }
    }

    /// A layout that cannot fit is refused by the check every run and every
    /// sweep makes before it starts, naming both values and the sizes.
    #[test]
    fn a_layout_that_cannot_fit_is_refused_before_it_runs() {
        let spec = RunSpec {
            scheme: SchemeId::kernel_like(Policy::Typesafe),
            config: RunConfig {
                threads: 1,
                churn_pct: 0.0,
                churn_kind: ChurnKind::Replace,
                exits_pct: 0.0,
                changes_pct: 0.0,
                forks_pct: 0.0,
                limit: crate::run::driver::Limit::faults(1),
                warmup: std::time::Duration::ZERO,
                skew: Skew::Uniform,
                seed: 1,
                probe: crate::run::driver::Probe::default(),
            },
            layout: Layout {
                mms: 1024,
                slots: 1 << 16,
            },
            work: FaultWork::Light,
            settings: RcuSettings::default(),
            widen: 0,
        };
        // 64 Mi VMAs of 192 bytes: 12 GiB and more.
        let need = model_bytes(spec.layout);
        assert!(need > 12 << 30, "{need}");
        let gib = 1u64 << 30;
        // A machine of 24 GiB: refused, whatever is available.
        for available in [None, Some(20 * gib)] {
            let e = fits(spec.layout, 24 * gib, available).unwrap_err().0;
            assert!(
                e.contains("--mms 1024 with --slots 65536")
                    && e.contains(&format!("needs at least {} MiB", need.div_ceil(1 << 20)))
                    && e.contains("more than 12288 MiB (half of this machine's 24576 MiB"),
                "{e}"
            );
        }
        // A machine of 64 GiB: it fits, unless less is available now.
        assert_eq!(fits(spec.layout, 64 * gib, None), Ok(()));
        let e = fits(spec.layout, 64 * gib, Some(8 * gib)).unwrap_err().0;
        assert!(
            e.contains("more than 8192 MiB") && e.contains("8192 MiB available now"),
            "{e}"
        );
        // On this machine, where it does not fit:
        if let Err(e) = check_memory(spec.layout) {
            // run_spec refuses it the same way, before building anything.
            assert_eq!(run_spec(&spec).unwrap_err(), e);
        }
    }
}
