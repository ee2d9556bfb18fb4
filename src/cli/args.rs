//! The command line's grammar: one struct per subcommand, its help text from the
//! doc comments, its values checked by the parsers of `values.rs`; and what each
//! parsed command stands for (a run's spec, a sweep's grid and folders).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::cli::values::{
    churn_kind, count, every, fault_work, flavour, policy, real, skew, stall, whole, List, ListOf,
};
use crate::error::Error;
use crate::run::driver::{ChurnKind, Limit, Probe, RunConfig, Skew, Stall, DEFAULT_SAMPLE_EVERY};
use crate::run::spec::RunSpec;
use crate::run::sweep::Grid;
use crate::run::{kernel, FaultWork, Flavour, Layout, Policy, RcuSettings, SchemeId};

/// The version: the package's, and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("VMA_BENCH_GIT_COMMIT"),
    ")"
);

/// The CPUs available to this process.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// vma-bench: page-fault VMA lookup under mmap/munmap churn, per reclamation
/// scheme.
///
/// Models Linux's lock_vma_under_rcu() and the per-VMA lock over several
/// memory-reclamation schemes, and counts throughput, free calls, reader
/// outcomes, unreclaimed objects and wrong answers. A bad value is a one-line
/// error and exit status 2.
#[derive(Debug, Parser)]
#[command(name = "vma-bench", version = VERSION)]
pub struct Cli {
    /// What to do (with none, this help).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the schemes (--all adds the broken twins).
    Schemes {
        /// Also list the broken twins of typesafe.
        #[arg(long)]
        all: bool,
    },
    /// Run one point; print one CSV row with its header.
    Run(Box<RunArgs>),
    /// The main job: every point of a grid, CSV and JSON into results/, plots
    /// and the HTML report into plots/.
    ///
    /// The CSV is `results/sweep-<time>.csv`, each row written as its run ends,
    /// with `sweep-<time>.json` beside it; `latest.csv` and `latest.json` are
    /// replaced when the sweep completes. Ctrl-C stops after the current run: the rows
    /// written so far stay (a second Ctrl-C quits at once). Bad values are
    /// refused before any run.
    Sweep(Box<SweepArgs>),
    /// Redraw plots and report from saved CSVs (files of several machines
    /// merge, told apart by their host column).
    Plot(PlotArgs),
    /// Measure the linux scheme against its floor: a bare loop that makes the
    /// same real faults (a page written, emptied again with MADV_DONTNEED every
    /// 64 pages of a mapping) at the same pattern, and nothing else.
    ///
    /// Runs the loop and the linux scheme (one worker, read-only, uniform skew)
    /// alternately, each for --faults faults, and prints each pair and the
    /// median ratio linux / floor. Needs a quiet machine.
    LinuxFloor {
        /// Mappings (real 2 MiB regions).
        #[arg(long, value_name = "K", default_value_t = 64,
              value_parser = count(1, 1 << 16), allow_negative_numbers = true)]
        slots: usize,
        /// Faults per measurement (at least 10000: fewer measure mostly the
        /// set-up).
        #[arg(long, value_name = "N", default_value_t = 300_000,
              value_parser = whole(10_000, 1 << 40), allow_negative_numbers = true)]
        faults: u64,
        /// Pairs of measurements.
        #[arg(long, value_name = "N", default_value_t = 5,
              value_parser = whole(1, 1000), allow_negative_numbers = true)]
        reps: u64,
    },
    /// Print a completion script for a shell.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `vma-bench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A free policy from `vma-bench schemes --all` (rwlock, deferred,
    /// typesafe, hazard, leak, linux, or a broken twin).
    #[arg(long, value_name = "S", value_parser = policy(), hide_possible_values = true)]
    pub scheme: Policy,
    /// The RCU flavour of a policy that reads under RCU (deferred, typesafe and
    /// its twins): epoch, seize, urcu-memb or urcu-qsbr [default: urcu-qsbr
    /// where liburcu is built in, else epoch].
    #[arg(long, value_name = "F", value_parser = flavour())]
    pub rcu: Option<Flavour>,
    /// Worker threads.
    #[arg(long, value_name = "N", default_value_t = cores(), value_parser = count(1, 1024),
          allow_negative_numbers = true)]
    pub threads: usize,
    /// Percent of operations that change a mapping, 0..=100.
    #[arg(long, value_name = "PCT", default_value_t = 0.0, value_parser = real(0.0, 100.0),
          allow_negative_numbers = true)]
    pub churn: f64,
    /// How churn changes a mapping: replace (mmap MAP_FIXED over it) or
    /// unmap-map (munmap, then mmap).
    #[arg(long, value_name = "KIND", default_value = "replace", value_parser = churn_kind())]
    pub churn_kind: ChurnKind,
    /// Percent of operations that are a process exit (its mm and VMAs freed)
    /// and a new mm in its place, 0..=100 (models only).
    #[arg(long, value_name = "PCT", default_value_t = 0.0, value_parser = real(0.0, 100.0),
          allow_negative_numbers = true)]
    pub exits: f64,
    /// Percent of operations that are an in-place change of a mapping
    /// (mprotect, madvise: its fields change under the VMA's write lock while it
    /// stays in the index), 0..=100 (models only).
    #[arg(long, value_name = "PCT", default_value_t = 0.0, value_parser = real(0.0, 100.0),
          allow_negative_numbers = true)]
    pub changes: f64,
    /// Percent of operations that are a fork (every VMA of an mm copied into a
    /// child under its write lock; the child exits at once), 0..=100 (models
    /// only).
    #[arg(long, value_name = "PCT", default_value_t = 0.0, value_parser = real(0.0, 100.0),
          allow_negative_numbers = true)]
    pub forks: f64,
    /// Measured seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = real(0.001, 3600.0),
          allow_negative_numbers = true)]
    pub duration: f64,
    /// Unmeasured seconds before.
    #[arg(long, value_name = "SECS", default_value_t = 0.1, value_parser = real(0.0, 3600.0),
          allow_negative_numbers = true)]
    pub warmup: f64,
    /// Stop after N faults instead of after --duration.
    #[arg(long, value_name = "N", value_parser = whole(1, u64::MAX),
          allow_negative_numbers = true, conflicts_with = "duration")]
    pub faults: Option<u64>,
    /// Also stop at the first wrong answer or error (to time a broken twin).
    #[arg(long)]
    pub until_wrong: bool,
    /// Address spaces sharing the allocator [default: 2; linux: 1, the only
    /// value].
    #[arg(long, value_name = "M", value_parser = count(1, 1024), allow_negative_numbers = true)]
    pub mms: Option<usize>,
    /// Mappings per address space.
    #[arg(long, value_name = "K", default_value_t = 64, value_parser = count(1, 1 << 16),
          allow_negative_numbers = true)]
    pub slots: usize,
    /// Which mappings faults go to: uniform (all of them), hot (one per mm) or
    /// private (each worker its own, as will-it-scale's page_fault tests).
    #[arg(long, value_name = "K", default_value = "uniform", value_parser = skew())]
    pub skew: Skew,
    /// What a fault does besides its lookup: light (reads the VMA) or page
    /// (also clears 4 KiB, as a real fault) [default: light; linux: page, the
    /// only value].
    #[arg(long, value_name = "W", value_parser = fault_work())]
    pub fault_work: Option<FaultWork>,
    /// seize: retired objects per batch.
    #[arg(long, value_name = "N", default_value_t = RcuSettings::default().seize_batch,
          value_parser = count(1, 1 << 16), allow_negative_numbers = true)]
    pub seize_batch: usize,
    /// urcu-qsbr: operations between two quiescent states a worker reports.
    #[arg(long, value_name = "N", default_value_t = RcuSettings::default().qsbr_every as usize,
          value_parser = count(1, 1 << 20), allow_negative_numbers = true)]
    pub qsbr_every: usize,
    /// Seed of the workers' generators, 0..=2^63-1 (as a sweep's).
    #[arg(long, value_name = "X", default_value_t = 1, value_parser = whole(0, u64::MAX / 2),
          allow_negative_numbers = true)]
    pub seed: u64,
    /// Yield N times between find and lock (adversarial).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = whole(0, 10_000),
          allow_negative_numbers = true)]
    pub widen: u64,
    /// Time every Nth fault and every Nth writer operation of each worker
    /// (latency columns of the CSV), N >= 1.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SAMPLE_EVERY,
          value_parser = every(), allow_negative_numbers = true)]
    pub sample_every: u32,
    /// A stalled reader: one worker parks inside its read section for MS
    /// milliseconds every EVERY_MS (models only; MS <= --duration, EVERY_MS >=
    /// MS).
    #[arg(long, value_name = "MS:EVERY_MS", value_parser = stall())]
    pub stall: Option<Stall>,
}

/// The scheme a policy and an optional flavour name: the flavour given, or the
/// most kernel-like one for a policy that uses one; refused for a policy that
/// uses none, or a flavour this build lacks.
fn scheme_of(policy: Policy, rcu: Option<Flavour>) -> Result<SchemeId, Error> {
    match (policy.uses_rcu(), rcu) {
        (false, Some(f)) => Err(Error(format!(
            "--rcu {} with --scheme {}: {} reads under no RCU flavour",
            f.name(),
            policy.name(),
            policy.name()
        ))),
        (true, Some(f)) => match f.missing() {
            Some(why) => Err(Error(format!("--rcu {}: {why}", f.name()))),
            None => Ok(SchemeId {
                policy,
                rcu: Some(f),
            }),
        },
        (_, None) => Ok(SchemeId::kernel_like(policy)),
    }
}

impl RunArgs {
    /// The run these arguments ask for, checked ([`RunSpec::check`]).
    pub fn spec(&self) -> Result<RunSpec, Error> {
        let scheme = scheme_of(self.scheme, self.rcu)?;
        if scheme.is_kernel() {
            kernel::available()?;
        }
        let limit = Limit {
            time: match self.faults {
                Some(_) => None,
                None => Some(Duration::from_secs_f64(self.duration)),
            },
            faults: self.faults,
            first_wrong: self.until_wrong,
            ops_per_thread: None,
        };
        let default_work = if scheme.is_kernel() {
            FaultWork::Page
        } else {
            FaultWork::Light
        };
        let spec = RunSpec {
            scheme,
            config: RunConfig {
                threads: self.threads,
                churn_pct: self.churn,
                churn_kind: self.churn_kind,
                exits_pct: self.exits,
                changes_pct: self.changes,
                forks_pct: self.forks,
                limit,
                warmup: Duration::from_secs_f64(self.warmup),
                skew: self.skew,
                seed: self.seed,
                probe: Probe {
                    sample_every: self.sample_every,
                    stall: self.stall,
                },
            },
            layout: Layout {
                // One process is one mm: the real kernel's default is 1.
                mms: self.mms.unwrap_or(scheme.mms(2)),
                slots: self.slots,
            },
            work: self.fault_work.unwrap_or(default_work),
            settings: RcuSettings {
                seize_batch: self.seize_batch,
                // At most 2^20 (checked by the parser).
                qsbr_every: self.qsbr_every as u32,
            },
            // At most 10_000 (checked by the parser).
            widen: self.widen as u32,
        };
        spec.check()?;
        Ok(spec)
    }
}

/// `vma-bench sweep`: every option overrides the grid (the default one, or
/// `--quick`'s), in any order.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// A coarse grid that finishes in well under a minute (the headline study
    /// only: threads 1 and the CPUs, at least 2; churn 0 and 10 of both kinds;
    /// private skew; one repetition of 0.2 s).
    #[arg(long)]
    pub quick: bool,
    /// Free policies, comma-separated, from `vma-bench schemes --all` [default:
    /// every correct policy, and linux on Linux].
    #[arg(long, value_name = "LIST", value_parser = ListOf(policy()),
          hide_possible_values = true)]
    pub schemes: Option<List<Policy>>,
    /// RCU flavours of the policies that use one, comma-separated [default:
    /// the most kernel-like, and every flavour in the flavours study].
    #[arg(long, value_name = "LIST", value_parser = ListOf(flavour()))]
    pub rcu: Option<List<Flavour>>,
    /// Thread counts, comma-separated [default: 1,2,4,.. up to 4x the CPUs].
    #[arg(long, value_name = "LIST", value_parser = ListOf(count(1, 1024)),
          allow_negative_numbers = true)]
    pub threads: Option<List<usize>>,
    /// Churn percentages, comma-separated, multiples of 0.001 [default: per
    /// study: 0,1,10 in the headline, 0,10 in the others, 10 in the stall
    /// study].
    #[arg(long, value_name = "LIST", value_parser = ListOf(real(0.0, 100.0)),
          allow_negative_numbers = true)]
    pub churn: Option<List<f64>>,
    /// Churn kinds, comma-separated: replace, unmap-map.
    #[arg(long, value_name = "LIST", value_parser = ListOf(churn_kind()))]
    pub churn_kind: Option<List<ChurnKind>>,
    /// Skews, comma-separated: uniform, hot, private.
    #[arg(long, value_name = "LIST", value_parser = ListOf(skew()))]
    pub skew: Option<List<Skew>>,
    /// Fault works, comma-separated: light, page.
    #[arg(long, value_name = "LIST", value_parser = ListOf(fault_work()))]
    pub fault_work: Option<List<FaultWork>>,
    /// Percent of operations that are a process exit (models) [default: 0].
    #[arg(long, value_name = "PCT", value_parser = real(0.0, 100.0),
          allow_negative_numbers = true)]
    pub exits: Option<f64>,
    /// Percent of operations that are an in-place change of a mapping (models)
    /// [default: 0].
    #[arg(long, value_name = "PCT", value_parser = real(0.0, 100.0),
          allow_negative_numbers = true)]
    pub changes: Option<f64>,
    /// Percent of operations that are a fork (models) [default: 0].
    #[arg(long, value_name = "PCT", value_parser = real(0.0, 100.0),
          allow_negative_numbers = true)]
    pub forks: Option<f64>,
    /// seize: retired objects per batch [default: 32].
    #[arg(long, value_name = "N", value_parser = count(1, 1 << 16),
          allow_negative_numbers = true)]
    pub seize_batch: Option<usize>,
    /// urcu-qsbr: operations between quiescent states [default: 16].
    #[arg(long, value_name = "N", value_parser = count(1, 1 << 20),
          allow_negative_numbers = true)]
    pub qsbr_every: Option<usize>,
    /// Repetitions of every point, interleaved [default: 3].
    #[arg(long, value_name = "N", value_parser = whole(1, 1000), allow_negative_numbers = true)]
    pub reps: Option<u64>,
    /// Measured seconds per run [default: 0.3].
    #[arg(long, value_name = "SECS", value_parser = real(0.001, 3600.0),
          allow_negative_numbers = true)]
    pub duration: Option<f64>,
    /// Unmeasured seconds per run [default: 0.05].
    #[arg(long, value_name = "SECS", value_parser = real(0.0, 3600.0),
          allow_negative_numbers = true)]
    pub warmup: Option<f64>,
    /// Address spaces of the models (linux always has 1) [default: 2].
    #[arg(long, value_name = "M", value_parser = count(1, 1024), allow_negative_numbers = true)]
    pub mms: Option<usize>,
    /// Mappings per address space [default: 64].
    #[arg(long, value_name = "K", value_parser = count(1, 1 << 16), allow_negative_numbers = true)]
    pub slots: Option<usize>,
    /// Seed of repetition 0 (repetition r uses seed + r, at most 2^63-1)
    /// [default: 1].
    #[arg(long, value_name = "X", value_parser = whole(0, u64::MAX / 2 - 1000),
          allow_negative_numbers = true)]
    pub seed: Option<u64>,
    /// Time every Nth fault and writer operation of each worker, N >= 1
    /// [default: 256].
    #[arg(long, value_name = "N", value_parser = every(), allow_negative_numbers = true)]
    pub sample_every: Option<u32>,
    /// The stall study's reader: parks of MS milliseconds every EVERY_MS
    /// [default: 10:100] (a grid without that study, as --quick's, has no
    /// stalled reader).
    #[arg(long, value_name = "MS:EVERY_MS", value_parser = stall())]
    pub stall: Option<Stall>,
    /// Write everything under DIR, plots in DIR/plots [default: results/ and
    /// plots/].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Where a sweep writes: its CSV and JSON, and its plots and report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepDirs {
    /// CSV and JSON.
    pub results: PathBuf,
    /// Plots and the HTML report.
    pub plots: PathBuf,
}

impl SweepArgs {
    /// The grid and folders these arguments ask for. Fails for a scheme list
    /// naming linux where this system cannot run it, and for an explicit linux
    /// with an explicit `--mms` above 1.
    pub fn grid(&self) -> Result<(Grid, SweepDirs), Error> {
        let cores = cores();
        let mut grid = if self.quick {
            Grid::quick(cores)
        } else {
            Grid::default_for(cores)
        };
        if let Some(List(schemes)) = &self.schemes {
            grid.each_study(|s| s.schemes.clone_from(schemes));
            grid.notes.retain(|n| !n.contains("linux"));
            if schemes.contains(&Policy::Linux) {
                kernel::available()?;
            }
        }
        if let Some(List(rcus)) = &self.rcu {
            for f in rcus {
                if let Some(why) = f.missing() {
                    return Err(Error(format!("--rcu {}: {why}", f.name())));
                }
            }
            grid.each_study(|s| s.rcus.clone_from(rcus));
            grid.notes.retain(|n| !n.contains("urcu"));
        }
        if let Some(List(threads)) = &self.threads {
            grid.each_study(|s| s.threads.clone_from(threads));
        }
        if let Some(List(churn)) = &self.churn {
            grid.each_study(|s| s.churn.clone_from(churn));
        }
        if let Some(List(kinds)) = &self.churn_kind {
            grid.each_study(|s| s.kinds.clone_from(kinds));
        }
        if let Some(List(skews)) = &self.skew {
            grid.each_study(|s| s.skews.clone_from(skews));
        }
        if let Some(List(works)) = &self.fault_work {
            grid.each_study(|s| s.works.clone_from(works));
        }
        if let Some(exits) = self.exits {
            grid.exits = exits;
        }
        if let Some(changes) = self.changes {
            grid.changes = changes;
        }
        if let Some(forks) = self.forks {
            grid.forks = forks;
        }
        if let Some(n) = self.seize_batch {
            grid.settings.seize_batch = n;
        }
        if let Some(n) = self.qsbr_every {
            // At most 2^20 (checked by the parser).
            grid.settings.qsbr_every = n as u32;
        }
        if let Some(reps) = self.reps {
            // At most 1000 (checked by the parser).
            grid.reps = reps as u32;
        }
        if let Some(d) = self.duration {
            grid.duration = Duration::from_secs_f64(d);
        }
        if let Some(w) = self.warmup {
            grid.warmup = Duration::from_secs_f64(w);
        }
        if let Some(mms) = self.mms {
            grid.layout.mms = mms;
        }
        if let Some(slots) = self.slots {
            grid.layout.slots = slots;
        }
        if let Some(seed) = self.seed {
            grid.seed = seed;
        }
        if let Some(n) = self.sample_every {
            grid.sample_every = n;
        }
        if let Some(st) = self.stall {
            grid.each_study(|s| {
                if s.stall.is_some() {
                    s.stall = Some(st);
                }
            });
        }
        // Flags that would change nothing the grid runs are refused, as `run`
        // refuses them, so the metadata never records what did not happen.
        let policies: Vec<Policy> = grid
            .studies
            .iter()
            .flat_map(|s| s.schemes.iter().copied())
            .collect();
        if let Some(List(rcus)) = &self.rcu {
            if !policies.iter().any(|p| p.uses_rcu()) {
                return Err(Error(format!(
                    "--rcu {}: none of the schemes swept uses an RCU flavour",
                    rcus.iter().map(|f| f.name()).collect::<Vec<_>>().join(",")
                )));
            }
        }
        if let Some(exits @ 0.001..) = self.exits {
            if policies.iter().all(|&p| p == Policy::Linux) {
                return Err(Error(format!(
                    "--exits {exits}: the real kernel's process cannot exit (exits are \
                     made by the models only)"
                )));
            }
        }
        // An explicit linux with an explicit --mms > 1 asks for the impossible; the
        // default scheme list runs linux with its one mm (its rows say mms = 1).
        let linux_named = self
            .schemes
            .as_ref()
            .is_some_and(|List(s)| s.contains(&Policy::Linux));
        if let (Some(mms @ 2..), true) = (self.mms, linux_named) {
            return Err(Error(format!(
                "--mms {mms} with the linux scheme: one process has exactly one mm \
                 (drop linux from --schemes, or use --mms 1)"
            )));
        }
        let dirs = match &self.out {
            Some(d) => SweepDirs {
                plots: d.join("plots"),
                results: d.clone(),
            },
            None => SweepDirs {
                results: "results".into(),
                plots: "plots".into(),
            },
        };
        grid.check()?;
        Ok((grid, dirs))
    }
}

/// `vma-bench plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Saved CSV files (e.g. results/latest.csv), with their JSON beside them
    /// where there is one.
    #[arg(value_name = "FILE.csv", required = true)]
    pub csvs: Vec<PathBuf>,
    /// Where to write the plots and the report.
    #[arg(long, value_name = "DIR", default_value = "plots")]
    pub out: PathBuf,
}
