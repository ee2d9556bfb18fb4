//! The command line's grammar: one struct per subcommand, its help text from the
//! doc comments, its values checked by the parsers of `values.rs`; and what each
//! parsed command stands for (a run's spec, a sweep's grid and folders).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::cli::values::{count, real, scheme, skew, whole, List, ListOf};
use crate::error::Error;
use crate::run::driver::{Limit, RunConfig, Skew};
use crate::run::spec::RunSpec;
use crate::run::sweep::Grid;
use crate::run::{kernel, Layout, SchemeId};

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
    Run(RunArgs),
    /// The main job: every point of a grid, CSV and JSON into results/, plots
    /// and the HTML report into plots/.
    ///
    /// The CSV is `results/sweep-<time>.csv`, each row written as its run ends,
    /// with `sweep-<time>.json` beside it; `latest.csv` and `latest.json` are
    /// replaced when the sweep completes. Ctrl-C stops after the current run: the rows
    /// written so far stay (a second Ctrl-C quits at once). Bad values are
    /// refused before any run.
    Sweep(SweepArgs),
    /// Redraw plots and report from saved CSVs (files of several machines
    /// merge, told apart by their host column).
    Plot(PlotArgs),
    /// Print a completion script for a shell.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `vma-bench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A name from `vma-bench schemes --all`.
    #[arg(long, value_name = "S", value_parser = scheme(), hide_possible_values = true)]
    pub scheme: SchemeId,
    /// Worker threads.
    #[arg(long, value_name = "N", default_value_t = cores(), value_parser = count(1, 1024),
          allow_negative_numbers = true)]
    pub threads: usize,
    /// Percent of operations that replace a mapping, 0..=100.
    #[arg(long, value_name = "PCT", default_value_t = 0.0, value_parser = real(0.0, 100.0),
          allow_negative_numbers = true)]
    pub churn: f64,
    /// Percent of operations that are a process exit (its mm and VMAs freed)
    /// and a new mm in its place, 0..=100 (models only).
    #[arg(long, value_name = "PCT", default_value_t = 0.0, value_parser = real(0.0, 100.0),
          allow_negative_numbers = true)]
    pub exits: f64,
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
          allow_negative_numbers = true)]
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
    /// Which mappings faults go to: uniform (all of them) or hot (one per mm).
    #[arg(long, value_name = "K", default_value = "uniform", value_parser = skew())]
    pub skew: Skew,
    /// Seed of the workers' generators.
    #[arg(long, value_name = "X", default_value_t = 1, value_parser = whole(0, u64::MAX),
          allow_negative_numbers = true)]
    pub seed: u64,
    /// Yield N times between find and lock (adversarial).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = whole(0, 10_000),
          allow_negative_numbers = true)]
    pub widen: u64,
}

impl RunArgs {
    /// The run these arguments ask for.
    pub fn spec(&self) -> RunSpec {
        let limit = Limit {
            time: match self.faults {
                Some(_) => None,
                None => Some(Duration::from_secs_f64(self.duration)),
            },
            faults: self.faults,
            first_wrong: self.until_wrong,
            ops_per_thread: None,
        };
        RunSpec {
            scheme: self.scheme,
            config: RunConfig {
                threads: self.threads,
                churn_pct: self.churn,
                exits_pct: self.exits,
                limit,
                warmup: Duration::from_secs_f64(self.warmup),
                skew: self.skew,
                seed: self.seed,
            },
            layout: Layout {
                // One process is one mm: the real kernel's default is 1.
                mms: self.mms.unwrap_or(self.scheme.mms(2)),
                slots: self.slots,
            },
            // At most 10_000 (checked by the parser).
            widen: self.widen as u32,
        }
    }
}

/// `vma-bench sweep`: every option overrides the grid (the default one, or
/// `--quick`'s), in any order.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// A coarse grid that finishes in well under a minute (threads 1 and the
    /// CPUs, churn 0 and 10, uniform, one repetition of 0.2 s).
    #[arg(long)]
    pub quick: bool,
    /// Schemes, comma-separated, from `vma-bench schemes --all` [default: every
    /// correct scheme, and linux on Linux].
    #[arg(long, value_name = "LIST", value_parser = ListOf(scheme()),
          hide_possible_values = true)]
    pub schemes: Option<List<SchemeId>>,
    /// Thread counts, comma-separated [default: 1,2,4,.. up to 4x the CPUs].
    #[arg(long, value_name = "LIST", value_parser = ListOf(count(1, 1024)),
          allow_negative_numbers = true)]
    pub threads: Option<List<usize>>,
    /// Churn percentages, comma-separated [default: 0,0.1,1,10].
    #[arg(long, value_name = "LIST", value_parser = ListOf(real(0.0, 100.0)),
          allow_negative_numbers = true)]
    pub churn: Option<List<f64>>,
    /// Skews, comma-separated [default: uniform,hot].
    #[arg(long, value_name = "LIST", value_parser = ListOf(skew()))]
    pub skew: Option<List<Skew>>,
    /// Repetitions of every point, interleaved [default: 3].
    #[arg(long, value_name = "N", value_parser = whole(1, 1000), allow_negative_numbers = true)]
    pub reps: Option<u64>,
    /// Measured seconds per run [default: 0.5].
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
    /// Seed of repetition 0 (repetition r uses seed + r) [default: 1].
    #[arg(long, value_name = "X", value_parser = whole(0, u64::MAX / 2),
          allow_negative_numbers = true)]
    pub seed: Option<u64>,
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
            grid.schemes.clone_from(schemes);
            grid.notes.clear();
            if schemes.contains(&SchemeId::Linux) {
                kernel::available()?;
            }
        }
        if let Some(List(threads)) = &self.threads {
            grid.threads.clone_from(threads);
        }
        if let Some(List(churn)) = &self.churn {
            grid.churn.clone_from(churn);
        }
        if let Some(List(skews)) = &self.skew {
            grid.skews.clone_from(skews);
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
        // An explicit linux with an explicit --mms > 1 asks for the impossible; the
        // default scheme list runs linux with its one mm (its rows say mms = 1).
        let linux_named = self
            .schemes
            .as_ref()
            .is_some_and(|List(s)| s.contains(&SchemeId::Linux));
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
