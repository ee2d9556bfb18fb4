//! The floor under the `linux` scheme: a bare loop that makes the same real
//! faults at the same access pattern, and nothing else, so that what the
//! harness adds to a real fault can be measured.
//!
//! [`touch_loop`] runs on the calling thread over `slots` real mappings laid
//! out as the scheme lays them out (`sys::Area`, `MADV_NOHUGEPAGE`): each fault
//! goes to a slot drawn uniformly (as the driver draws a fault's slot under
//! `uniform` skew) and writes the next unpopulated page of that slot; every
//! [`BATCH`] pages written in a slot are emptied again with one
//! `madvise(MADV_DONTNEED)` over their span. No claims, counters, driver,
//! sampler or oracle. [`compare`] runs it and the `linux` scheme (one worker,
//! read-only, uniform skew, the same number of faults) alternately and returns
//! their throughputs (`vma-bench linux-floor` prints them).

use std::time::{Duration, Instant};

use crate::error::Error;
use crate::model::mm::Layout;
use crate::model::space::FaultWork;
use crate::rcu::RcuSettings;
use crate::rng::Rng;
use crate::run::driver::{ChurnKind, Limit, Probe, RunConfig, Skew};
use crate::run::host::minor_faults;
use crate::run::kernel::{check_layout, BATCH};
use crate::run::spec::{run_spec, RunSpec};
use crate::run::sys::{self, PAGES};
use crate::schemes::{Policy, SchemeId};

/// What [`touch_loop`] measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Floor {
    /// Pages written (each one fault, if the kernel agrees: see `minflt`).
    pub faults: u64,
    /// From the first write to the last full batch's `madvise` (the last
    /// partial batches are emptied after it, untimed, as the `linux` scheme's
    /// are after its measured interval).
    pub elapsed: Duration,
    /// The kernel's minor faults of this process over the loop (other threads
    /// of the process included).
    pub minflt: u64,
}

impl Floor {
    /// Faults per second.
    pub fn faults_per_sec(&self) -> f64 {
        self.faults as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Make `faults` real faults over `slots` fresh mappings on this thread, each
/// to a slot drawn uniformly from `seed`, at the next page of that slot, and
/// empty each slot's pages with one `MADV_DONTNEED` every [`BATCH`] pages. Fails
/// with a one-line message where the `linux` scheme cannot run or a system call
/// fails.
pub fn touch_loop(slots: usize, faults: u64, seed: u64) -> Result<Floor, String> {
    crate::run::kernel::available()?;
    check_layout(Layout { mms: 1, slots })?;
    let area = sys::Area::new(slots).map_err(|e| format!("linux-floor: mapping failed: {e}"))?;
    for slot in 0..slots {
        // On a kernel without THP there is nothing to switch off.
        let _ = area.advise(slot, 0, PAGES, sys::Advice::NoHugePage);
    }
    let mut rng = Rng::new(seed, 0);
    // Per slot: the next page to write, and the first page not yet emptied.
    let mut next = vec![0usize; slots];
    let mut first = vec![0usize; slots];
    let fail = |e: std::io::Error| format!("linux-floor: madvise(MADV_DONTNEED) failed: {e}");
    let before = minor_faults().map_err(|e| format!("linux-floor: getrusage: {e}"))?;
    let start = Instant::now();
    for _ in 0..faults {
        let slot = rng.below(slots as u64) as usize;
        let page = next[slot];
        // A fresh page reads as zero: a non-zero old word is a page that did
        // not fault.
        if area.touch(slot, page, 1) != Some(0) {
            return Err(format!(
                "linux-floor: slot {slot} page {page} was populated (or unmapped)"
            ));
        }
        next[slot] = page + 1;
        if next[slot] - first[slot] == BATCH || next[slot] == PAGES {
            area.advise(
                slot,
                first[slot],
                next[slot] - first[slot],
                sys::Advice::DontNeed,
            )
            .map_err(fail)?;
            next[slot] %= PAGES;
            first[slot] = next[slot];
        }
    }
    // As the driver's measured interval ends before a worker's handle empties
    // its last partial batches, the floor's ends before it empties its own.
    let elapsed = start.elapsed();
    for slot in 0..slots {
        if next[slot] > first[slot] {
            area.advise(
                slot,
                first[slot],
                next[slot] - first[slot],
                sys::Advice::DontNeed,
            )
            .map_err(fail)?;
        }
    }
    let after = minor_faults().map_err(|e| format!("linux-floor: getrusage: {e}"))?;
    Ok(Floor {
        faults,
        elapsed,
        minflt: after.saturating_sub(before),
    })
}

/// One pair of [`compare`]: the floor's and the `linux` scheme's faults per
/// second, each over the same number of faults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pair {
    /// [`touch_loop`]'s.
    pub floor: f64,
    /// The `linux` scheme's (one worker, read-only, uniform skew).
    pub linux: f64,
}

/// The `linux` scheme's run of `faults` faults over `slots` mappings with one
/// worker, read-only, uniform skew (the floor's pattern).
pub fn linux_spec(slots: usize, faults: u64) -> RunSpec {
    RunSpec {
        scheme: SchemeId::kernel_like(Policy::Linux),
        config: RunConfig {
            threads: 1,
            churn_pct: 0.0,
            churn_kind: ChurnKind::Replace,
            exits_pct: 0.0,
            changes_pct: 0.0,
            forks_pct: 0.0,
            limit: Limit::faults(faults),
            warmup: Duration::ZERO,
            skew: Skew::Uniform,
            seed: 1,
            probe: Probe::default(),
        },
        layout: Layout { mms: 1, slots },
        work: FaultWork::Page,
        settings: RcuSettings::default(),
        widen: 0,
    }
}

/// `reps` pairs: the floor, then the `linux` scheme, alternately, each making
/// `faults` faults over `slots` mappings.
pub fn compare(slots: usize, faults: u64, reps: u32) -> Result<Vec<Pair>, Error> {
    let spec = linux_spec(slots, faults);
    spec.check()?;
    let mut out = Vec::new();
    for rep in 0..reps {
        let floor = touch_loop(slots, faults, u64::from(rep) + 1)?;
        let linux = run_spec(&spec)?;
        out.push(Pair {
            floor: floor.faults_per_sec(),
            linux: linux.result.faults_per_sec(),
        });
    }
    Ok(out)
}
