//! The command line. Every bad value is a one-line error naming it (exit 2).

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::Error;
use crate::files::create_dir;
use crate::model::mm::Layout;
use crate::run::driver::{Limit, RunConfig, Skew};
use crate::run::spec::{run_row, RunSpec};
use crate::run::sweep::{Grid, Progress};
use crate::schemes::SchemeId;

fn err<T>(msg: impl Into<String>) -> Result<T, Error> {
    Err(Error(msg.into()))
}

/// Usage text.
pub const USAGE: &str = "\
vma-bench: page-fault VMA lookup under mmap/munmap churn, per reclamation scheme

usage:
  vma-bench schemes [--all]          list the schemes (--all adds the broken twins)
  vma-bench run --scheme S [options] run one point, print one CSV row with its header
  vma-bench plot FILE.csv... [--out DIR]
                                     redraw plots and report [plots/] from saved CSVs
                                     (files of several machines merge, told apart by host)
  vma-bench sweep [options]          the main job: every point of a grid, CSV and JSON into
                                     results/ (sweep-<time>.* and latest.*), plots and
                                     the HTML report into plots/

run options (defaults in brackets):
  --scheme S        a name from `vma-bench schemes --all`
  --threads N       worker threads [number of CPUs]
  --churn PCT       percent of operations that replace a mapping, 0..=100 [0]
  --exits PCT       percent of operations that are a process exit (its mm and VMAs
                    freed) and a new mm in its place, 0..=100 [0]
  --duration SECS   measured seconds [1]
  --warmup SECS     unmeasured seconds before [0.1]
  --faults N        stop after N faults instead of after --duration
  --until-wrong     also stop at the first wrong answer or error (to time a broken twin)
  --mms M           address spaces sharing the allocator [2; linux: 1, the only value]
  --slots K         mappings per address space [64]
  --skew K          uniform | hot [uniform]
  --seed X          seed of the workers' generators [1]
  --widen N         yield N times between find and lock (adversarial) [0]

sweep options (lists are comma-separated; defaults in brackets):
  --quick           a coarse grid that finishes in well under a minute
  --schemes LIST    [every correct scheme, and linux on Linux]
  --threads LIST    [1,2,4,.. up to 4x the CPUs]
  --churn LIST      percentages [0,0.1,1,10]
  --skew LIST       uniform,hot [uniform,hot]
  --reps N          repetitions, interleaved [3]
  --duration SECS   measured seconds per run [0.5]
  --warmup SECS     unmeasured seconds per run [0.05]
  --mms M           address spaces of the models (linux always has 1) [2]
  --slots K         mappings per address space [64]
  --seed X          seed of repetition 0 [1]
  --out DIR         write everything under DIR (plots in DIR/plots) [results/, plots/]
  Ctrl-C stops after the current run; the rows written so far stay.
";

/// Parsed `run` arguments.
fn parse_run(args: &[String]) -> Result<RunSpec, Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut scheme = None;
    let mut threads = cores as u64;
    let mut churn = 0.0;
    let mut exits = 0.0;
    let mut duration = 1.0;
    let mut warmup = 0.1;
    let mut faults = None;
    let mut until_wrong = false;
    let mut mms = None;
    let mut slots = 64;
    let mut skew = Skew::Uniform;
    let mut seed = 1;
    let mut widen = 0;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--until-wrong" {
            until_wrong = true;
            continue;
        }
        let Some(value) = it.next() else {
            return err(format!("{flag} needs a value"));
        };
        match flag.as_str() {
            "--scheme" => {
                scheme = Some(SchemeId::parse(value).ok_or_else(|| {
                    Error(format!(
                        "unknown scheme '{value}' (see `vma-bench schemes --all`)"
                    ))
                })?)
            }
            "--threads" => threads = number(flag, value, 1, 1024)?,
            "--churn" => churn = real(flag, value, 0.0, 100.0)?,
            "--exits" => exits = real(flag, value, 0.0, 100.0)?,
            "--duration" => duration = real(flag, value, 0.001, 3600.0)?,
            "--warmup" => warmup = real(flag, value, 0.0, 3600.0)?,
            "--faults" => faults = Some(number(flag, value, 1, u64::MAX)?),
            "--mms" => mms = Some(number(flag, value, 1, 1024)?),
            "--slots" => slots = number(flag, value, 1, 1 << 16)?,
            "--skew" => {
                skew = Skew::parse(value)
                    .ok_or_else(|| Error(format!("--skew: '{value}' is not uniform or hot")))?
            }
            "--seed" => seed = number(flag, value, 0, u64::MAX)?,
            "--widen" => widen = number(flag, value, 0, 10_000)?,
            _ => return err(format!("unknown option '{flag}' (see `vma-bench --help`)")),
        }
    }
    let Some(scheme) = scheme else {
        return err("run needs --scheme (see `vma-bench schemes --all`)");
    };
    let limit = Limit {
        time: if faults.is_some() {
            None
        } else {
            Some(Duration::from_secs_f64(duration))
        },
        faults,
        first_wrong: until_wrong,
        ops_per_thread: None,
    };
    Ok(RunSpec {
        scheme,
        config: RunConfig {
            threads: threads as usize,
            churn_pct: churn,
            exits_pct: exits,
            limit,
            warmup: Duration::from_secs_f64(warmup),
            skew,
            seed,
        },
        layout: Layout {
            // One process is one mm: the real kernel's default is 1.
            mms: mms.map_or(scheme.mms(2), |m| m as usize),
            slots: slots as usize,
        },
        widen: widen as u32,
    })
}

/// Where a sweep writes: its CSV and JSON, and its plots and report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepDirs {
    /// CSV and JSON.
    pub results: PathBuf,
    /// Plots and the HTML report.
    pub plots: PathBuf,
}

/// Parsed `sweep` arguments: the grid and where to write.
fn parse_sweep(args: &[String]) -> Result<(Grid, SweepDirs), Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // --quick picks the base grid; the other options override it, in any order.
    let mut grid = if args.iter().any(|a| a == "--quick") {
        Grid::quick(cores)
    } else {
        Grid::default_for(cores)
    };
    let mut dirs = SweepDirs {
        results: "results".into(),
        plots: "plots".into(),
    };
    let mut explicit_mms = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--quick" {
            continue;
        }
        const VALUED: [&str; 11] = [
            "--schemes",
            "--threads",
            "--churn",
            "--skew",
            "--reps",
            "--duration",
            "--warmup",
            "--mms",
            "--slots",
            "--seed",
            "--out",
        ];
        if !VALUED.contains(&flag.as_str()) {
            return err(format!(
                "sweep: unknown option '{flag}' (see `vma-bench --help`)"
            ));
        }
        let Some(value) = it.next() else {
            return err(format!("{flag} needs a value"));
        };
        match flag.as_str() {
            "--schemes" => {
                grid.schemes = list(flag, value, |v| {
                    SchemeId::parse(v).ok_or_else(|| {
                        format!("unknown scheme '{v}' (see `vma-bench schemes --all`)")
                    })
                })?;
                grid.notes.clear();
                if grid.schemes.contains(&SchemeId::Linux) {
                    crate::run::kernel::available().map_err(Error)?;
                }
            }
            "--threads" => {
                grid.threads = list(flag, value, |v| whole(v, 1, 1024).map(|n| n as usize))?
            }
            "--churn" => grid.churn = list(flag, value, |v| fraction(v, 0.0, 100.0))?,
            "--skew" => {
                grid.skews = list(flag, value, |v| {
                    Skew::parse(v).ok_or_else(|| format!("'{v}' is not uniform or hot"))
                })?
            }
            "--reps" => grid.reps = number(flag, value, 1, 1000)? as u32,
            "--duration" => {
                grid.duration = Duration::from_secs_f64(real(flag, value, 0.001, 3600.0)?)
            }
            "--warmup" => grid.warmup = Duration::from_secs_f64(real(flag, value, 0.0, 3600.0)?),
            "--mms" => {
                grid.layout.mms = number(flag, value, 1, 1024)? as usize;
                explicit_mms = true;
            }
            "--slots" => grid.layout.slots = number(flag, value, 1, 1 << 16)? as usize,
            "--seed" => grid.seed = number(flag, value, 0, u64::MAX / 2)?,
            "--out" => {
                let d = PathBuf::from(value);
                dirs = SweepDirs {
                    plots: d.join("plots"),
                    results: d,
                };
            }
            _ => {
                return err(format!(
                    "sweep: unknown option '{flag}' (see `vma-bench --help`)"
                ))
            }
        }
    }
    // An explicit linux with an explicit --mms > 1 asks for the impossible; the
    // default scheme list runs linux with its one mm (its rows say mms = 1).
    let linux_named =
        args.iter().any(|a| a == "--schemes") && grid.schemes.contains(&SchemeId::Linux);
    if explicit_mms && grid.layout.mms > 1 && linux_named {
        return err(format!(
            "--mms {} with the linux scheme: one process has exactly one mm \
             (drop linux from --schemes, or use --mms 1)",
            grid.layout.mms
        ));
    }
    Ok((grid, dirs))
}

/// A comma-separated list of values, each parsed by `one`; empty items and
/// repeats are refused.
fn list<T: PartialEq>(
    flag: &str,
    value: &str,
    one: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, Error> {
    let mut out = Vec::new();
    for item in value.split(',') {
        let v = one(item.trim()).map_err(|e| Error(format!("{flag}: {e}")))?;
        if out.contains(&v) {
            return err(format!("{flag}: '{}' is listed twice", item.trim()));
        }
        out.push(v);
    }
    Ok(out)
}

fn whole(value: &str, min: u64, max: u64) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("'{value}' is not a whole number in {min}..={max}")),
    }
}

fn fraction(value: &str, min: f64, max: f64) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(x) if x.is_finite() && (min..=max).contains(&x) => Ok(x),
        _ => Err(format!("'{value}' is not a number in {min}..={max}")),
    }
}

/// Set by the Ctrl-C handler: the sweep stops after its current run.
static STOP: AtomicBool = AtomicBool::new(false);

/// Run the sweep: check the output folders first, catch Ctrl-C, then run.
fn sweep_command(grid: &Grid, dirs: &SweepDirs, out: &mut dyn Write) -> Result<(), Error> {
    for d in [&dirs.results, &dirs.plots] {
        create_dir(d)?;
    }
    // A second Ctrl-C quits at once; rows are flushed one by one, so at worst the
    // run in progress is lost.
    let installed = ctrlc::set_handler(|| {
        // Relaxed: a flag the sweep polls between runs.
        if STOP.swap(true, Ordering::Relaxed) {
            std::process::exit(130);
        }
        eprintln!("\nvma-bench: stopping after the current run (Ctrl-C again to quit now)");
    });
    if let Err(e) = installed {
        eprintln!("vma-bench: note: Ctrl-C will not stop the sweep cleanly: {e}");
    }
    for note in &grid.notes {
        eprintln!("vma-bench: note: {note}");
    }
    let done = crate::run::sweep::sweep(grid, &dirs.results, Progress::for_stderr(), &STOP)?;
    let io = |e: std::io::Error| Error(format!("writing output: {e}"));
    writeln!(out, "{}", done.csv.display()).map_err(io)?;
    if done.interrupted {
        return err(format!(
            "sweep stopped after {} runs; rows kept in '{}' (latest.csv unchanged; \
             `vma-bench plot {}` draws them)",
            done.runs_done,
            done.csv.display(),
            done.csv.display()
        ));
    }
    let report = crate::output::plot_files(std::slice::from_ref(&done.csv), &dirs.plots)?;
    writeln!(out, "{}", report.display()).map_err(io)
}

fn number(flag: &str, value: &str, min: u64, max: u64) -> Result<u64, Error> {
    whole(value, min, max).map_err(|e| Error(format!("{flag}: {e}")))
}

fn real(flag: &str, value: &str, min: f64, max: f64) -> Result<f64, Error> {
    fraction(value, min, max).map_err(|e| Error(format!("{flag}: {e}")))
}

/// `vma-bench plot FILE.csv [FILE.csv ...] [--out DIR]`.
pub fn plot_command(args: &[String], out: &mut dyn std::io::Write) -> Result<(), Error> {
    let mut csvs = Vec::new();
    let mut dir = PathBuf::from("plots");
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => match it.next() {
                Some(d) => dir = d.into(),
                None => return Err(Error("--out needs a value".into())),
            },
            s if s.starts_with("--") => {
                return Err(Error(format!("plot: unknown option '{s}'")));
            }
            f => csvs.push(PathBuf::from(f)),
        }
    }
    if csvs.is_empty() {
        return Err(Error(
            "plot needs at least one CSV file (e.g. results/latest.csv)".into(),
        ));
    }
    let report = crate::output::plot_files(&csvs, &dir)?;
    writeln!(out, "{}", report.display()).map_err(|e| Error(format!("writing output: {e}")))
}

/// Run the command line `args` (without the program name), writing to `out`.
pub fn main_with(args: &[String], out: &mut dyn Write) -> Result<(), Error> {
    let io = |e: std::io::Error| Error(format!("writing output: {e}"));
    match args.first().map(String::as_str) {
        None | Some("--help" | "-h" | "help") => out.write_all(USAGE.as_bytes()).map_err(io),
        Some("schemes") => {
            let all = match &args[1..] {
                [] => false,
                [a] if a == "--all" => true,
                [a, ..] => return err(format!("schemes: unknown option '{a}'")),
            };
            for s in SchemeId::ALL.into_iter().filter(|s| all || !s.is_twin()) {
                writeln!(out, "{:<28} {}", s.name(), s.about()).map_err(io)?;
            }
            Ok(())
        }
        Some("run") => {
            let spec = parse_run(&args[1..])?;
            if cfg!(vma_bench_bare) {
                eprintln!(
                    "vma-bench: note: built with --cfg vma_bench_bare: counters and the \
                     oracle are off, answers are not checked (for `make overhead` only)"
                );
            }
            let row = run_row(&spec).map_err(Error)?;
            let mut w = csv::Writer::from_writer(out);
            w.serialize(&row)
                .map_err(|e| Error(format!("writing CSV: {e}")))?;
            w.flush().map_err(io)
        }
        Some("sweep") => {
            let (grid, dirs) = parse_sweep(&args[1..])?;
            sweep_command(&grid, &dirs, out)
        }
        Some("plot") => plot_command(&args[1..], out),
        Some(other) => err(format!(
            "unknown command '{other}' (see `vma-bench --help`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<String, Error> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        main_with(&args, &mut out).map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn bad_values_name_themselves() {
        let e = run(&["run", "--scheme", "typesafe", "--threads", "0"]).unwrap_err();
        assert!(e.0.contains("--threads") && e.0.contains("'0'"), "{e}");
        let e = run(&["run", "--scheme", "typesafe", "--exits", "-1"]).unwrap_err();
        assert!(
            e.0.contains("--exits") && e.0.contains("'-1'") && !e.0.contains('\n'),
            "{e}"
        );
        let e = run(&["run", "--scheme", "typesafe", "--churn", "101"]).unwrap_err();
        assert!(e.0.contains("'101'"), "{e}");
        let e = run(&["run", "--scheme", "typesafe", "--churn", "NaN"]).unwrap_err();
        assert!(e.0.contains("'NaN'"), "{e}");
        let e = run(&["run", "--scheme", "nope"]).unwrap_err();
        assert!(e.0.contains("'nope'"), "{e}");
        let e = run(&["run", "--threads"]).unwrap_err();
        assert!(e.0.contains("needs a value"), "{e}");
        assert!(run(&["frobnicate"]).unwrap_err().0.contains("'frobnicate'"));
        assert!(!e.0.contains('\n'));
    }

    fn sweep_args(args: &[&str]) -> Result<(Grid, SweepDirs), Error> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_sweep(&args)
    }

    #[test]
    fn sweep_overrides_apply_and_bad_lists_name_the_value() {
        let (g, d) = sweep_args(&[
            "--schemes",
            "typesafe,rcu-epoch",
            "--threads",
            "1,3",
            "--churn",
            "0,2.5",
            "--skew",
            "hot",
            "--reps",
            "2",
            "--duration",
            "0.25",
            "--mms",
            "3",
            "--slots",
            "8",
            "--seed",
            "9",
            "--out",
            "elsewhere",
        ])
        .unwrap();
        assert_eq!(g.schemes, [SchemeId::Typesafe, SchemeId::RcuEpoch]);
        assert_eq!((g.threads, g.churn), (vec![1, 3], vec![0.0, 2.5]));
        assert_eq!(g.skews, [Skew::Hot]);
        assert_eq!((g.reps, g.duration), (2, Duration::from_millis(250)));
        assert_eq!((g.layout.mms, g.layout.slots, g.seed), (3, 8, 9));
        assert_eq!(d.results, PathBuf::from("elsewhere"));
        assert_eq!(d.plots, PathBuf::from("elsewhere").join("plots"));
        // --quick and an override, in either order.
        let (q, _) = sweep_args(&["--threads", "5", "--quick"]).unwrap();
        assert_eq!((q.threads, q.reps), (vec![5], 1));
        for (args, bad) in [
            (&["--threads", "1,0"][..], "'0'"),
            (&["--churn", "1,x"][..], "'x'"),
            (&["--schemes", "typesafe,nope"][..], "'nope'"),
            (&["--skew", "cold"][..], "'cold'"),
            (&["--threads", "2,2"][..], "'2'"),
            (&["--reps", "0"][..], "'0'"),
            (&["--frob", "1"][..], "'--frob'"),
        ] {
            let e = sweep_args(args).unwrap_err();
            assert!(e.0.contains(bad) && !e.0.contains('\n'), "{args:?}: {e}");
        }
        if cfg!(target_os = "linux") {
            let e = sweep_args(&["--schemes", "linux,leak", "--mms", "2"]).unwrap_err();
            assert!(e.0.contains("--mms 2"), "{e}");
        }
    }

    #[test]
    fn schemes_lists_twins_only_with_all() {
        let some = run(&["schemes"]).unwrap();
        let all = run(&["schemes", "--all"]).unwrap();
        assert_eq!(some.lines().count(), 7);
        assert!(some.contains("linux"));
        assert_eq!(all.lines().count(), SchemeId::ALL.len());
        assert!(!some.contains("typesafe-no-mm-check"));
        assert!(all.contains("typesafe-no-mm-check"));
    }

    #[test]
    fn run_prints_a_header_and_one_row() {
        let out = run(&[
            "run",
            "--scheme",
            "leak",
            "--threads",
            "1",
            "--faults",
            "2000",
        ])
        .unwrap();
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("run_id,host,scheme,threads,churn_pct,"));
        let cells: Vec<_> = lines[1].split(',').collect();
        assert!(cells[0].starts_with("run-"), "{}", lines[1]);
        assert_eq!(&cells[2..5], ["leak", "1", "0.0"]);
        // The kernel's columns are empty for a model.
        assert!(lines[1].ends_with(",,,"), "{}", lines[1]);
    }
}
