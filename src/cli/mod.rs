//! The command line, on clap: `schemes`, `run`, `sweep`, `plot`, `linux-floor`
//! and `completions`, each with its `--help` made from the doc comments of
//! `args.rs`, and `--version`. Every bad value is refused by a value parser
//! (`values.rs`) or a cross-field check with a one-line [`Error`] naming the
//! flag and the value; the command exits with status 2 on any error.
//!
//! The command line imports the run layer, the output layer, the error type and
//! the file writer.

pub mod args;
pub mod values;

use std::ffi::OsString;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{CommandFactory, Parser};

use crate::cli::args::{Cli, Command, PlotArgs, SweepDirs};
use crate::error::Error;
use crate::files::check_writable;
use crate::output::plot_files;
use crate::run::spec::run_row;
use crate::run::sweep::{sweep, Grid, Progress};
use crate::run::SchemeId;

/// Run the command line `args` (without the program name), writing to `out`.
/// Help and version are written to `out` too; every error, a bad value
/// included, is returned as one line.
pub fn main_with<I, T>(args: I, out: &mut dyn Write) -> Result<(), Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv = std::iter::once(OsString::from("vma-bench")).chain(args.into_iter().map(Into::into));
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        // --help and --version: not errors.
        Err(e) if !e.use_stderr() => return write!(out, "{}", e.render()).map_err(io),
        Err(e) => return Err(one_line(&e)),
    };
    match cli.command {
        None => write!(out, "{}", Cli::command().render_long_help()).map_err(io),
        Some(Command::Schemes { all }) => {
            // Every valid pair this build can run: a policy, over each flavour
            // if it uses one.
            for s in SchemeId::all().filter(|s| all || !s.is_twin()) {
                if !s.runnable() {
                    continue;
                }
                writeln!(out, "{:<38} {}", s.label(), s.about()).map_err(io)?;
            }
            if let Some(note) = crate::run::urcu_missing() {
                writeln!(out, "(not listed: the urcu flavours; {note})").map_err(io)?;
            }
            Ok(())
        }
        Some(Command::Run(args)) => {
            let spec = args.spec()?;
            if cfg!(vma_bench_bare) {
                eprintln!(
                    "vma-bench: note: built with --cfg vma_bench_bare: counters and the \
                     oracle are off, answers are not checked (for `make overhead` only)"
                );
            }
            if cfg!(vma_bench_unsampled) {
                eprintln!(
                    "vma-bench: note: built with --cfg vma_bench_unsampled: no latency is \
                     sampled (for make overhead only)"
                );
            }
            let row = run_row(&spec)?;
            if !row.is_measurement() {
                eprintln!(
                    "vma-bench: note: not a measurement (valid = false): {} of {} workers took \
                     part in the measured phase, {} faults served; plot leaves it out",
                    row.joined, row.threads, row.faults
                );
            } else if row.overran {
                eprintln!(
                    "vma-bench: note: measured {:.3} s, more than twice the {} s requested \
                     (overran = true: a busy machine)",
                    row.duration_s,
                    row.requested_s.unwrap_or_default()
                );
            }
            let mut w = csv::Writer::from_writer(out);
            w.serialize(&row)
                .map_err(|e| Error(format!("writing CSV: {e}")))?;
            w.flush().map_err(io)
        }
        Some(Command::Sweep(args)) => {
            let (grid, dirs) = args.grid()?;
            sweep_command(&grid, &dirs, out)
        }
        Some(Command::Plot(PlotArgs { csvs, out: dir })) => {
            let plotted = plot_files(&csvs, &dir)?;
            for note in &plotted.notes {
                eprintln!("vma-bench: note: {note}");
            }
            writeln!(out, "{}", plotted.report.display()).map_err(io)
        }
        Some(Command::LinuxFloor {
            slots,
            faults,
            reps,
        }) => {
            // At most 1000 (checked by the parser).
            let pairs = crate::run::floor::compare(slots, faults, reps as u32)?;
            let median = |v: Vec<f64>| {
                let mut v = v;
                v.sort_by(f64::total_cmp);
                let n = v.len();
                (v[(n - 1) / 2] + v[n / 2]) / 2.0
            };
            for (i, p) in pairs.iter().enumerate() {
                writeln!(
                    out,
                    "pair {i}: floor {:.3} M faults/s, linux {:.3}: {:.3}x",
                    p.floor / 1e6,
                    p.linux / 1e6,
                    p.linux / p.floor
                )
                .map_err(io)?;
            }
            let floor = median(pairs.iter().map(|p| p.floor).collect());
            let linux = median(pairs.iter().map(|p| p.linux).collect());
            let ratio = median(pairs.iter().map(|p| p.linux / p.floor).collect());
            writeln!(
                out,
                "--slots {slots}, {faults} faults each: median floor {:.3} M faults/s, linux \
                 {:.3}; median ratio linux / floor {ratio:.3}",
                floor / 1e6,
                linux / 1e6
            )
            .map_err(io)
        }
        Some(Command::Completions { shell }) => {
            // Into a buffer first: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "vma-bench", &mut script);
            out.write_all(&script).map_err(io)
        }
    }
}

/// A clap error as one line: its message, without the usage and tips that
/// follow it (`invalid value '0' for '--threads <N>': 0 is not in 1..=1024`).
fn one_line(e: &clap::Error) -> Error {
    let text = e.render().to_string();
    let message: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = message.join(" ");
    Error(
        message
            .strip_prefix("error: ")
            .unwrap_or(&message)
            .to_string(),
    )
}

fn io(e: std::io::Error) -> Error {
    Error(format!("writing output: {e}"))
}

/// Set by the Ctrl-C handler: the sweep stops after its current run.
static STOP: AtomicBool = AtomicBool::new(false);

/// Run the sweep: check that every output folder takes files first, catch
/// Ctrl-C, run, then draw the plots and write the report.
fn sweep_command(grid: &Grid, dirs: &SweepDirs, out: &mut dyn Write) -> Result<(), Error> {
    for d in [&dirs.results, &dirs.plots] {
        check_writable(d)?;
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
    let done = sweep(grid, &dirs.results, Progress::for_stderr(), &STOP)?;
    writeln!(out, "{}", done.csv.display()).map_err(io)?;
    if done.interrupted {
        return Err(Error(format!(
            "sweep stopped after {} runs; rows kept in '{}' (latest.csv unchanged; \
             `vma-bench plot {}` draws them)",
            done.runs_done,
            done.csv.display(),
            done.csv.display()
        )));
    }
    let plotted = plot_files(std::slice::from_ref(&done.csv), &dirs.plots)?;
    for note in &plotted.notes {
        eprintln!("vma-bench: note: {note}");
    }
    writeln!(out, "{}", plotted.report.display()).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::path::PathBuf;
    use std::time::Duration;

    use crate::run::driver::Skew;
    use crate::run::{Flavour, Policy};

    fn run(args: &[&str]) -> Result<String, Error> {
        let mut out = Vec::new();
        main_with(args, &mut out).map(|()| String::from_utf8(out).unwrap())
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
        assert!(
            e.0.contains("--threads") && e.0.contains("value is required"),
            "{e}"
        );
        assert!(run(&["frobnicate"]).unwrap_err().0.contains("'frobnicate'"));
        assert!(!e.0.contains('\n'));
    }

    fn sweep_args(args: &[&str]) -> Result<(Grid, SweepDirs), Error> {
        let argv = ["vma-bench", "sweep"].iter().chain(args);
        match Cli::try_parse_from(argv).map_err(|e| one_line(&e))?.command {
            Some(Command::Sweep(sweep)) => sweep.grid(),
            other => panic!("not a sweep: {other:?}"),
        }
    }

    #[test]
    fn sweep_overrides_apply_and_bad_lists_name_the_value() {
        let (g, d) = sweep_args(&[
            "--schemes",
            "typesafe,deferred",
            "--rcu",
            "epoch",
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
        for s in &g.studies {
            assert_eq!(s.schemes, [Policy::Typesafe, Policy::Deferred]);
            assert_eq!(s.rcus, [Flavour::Epoch]);
            assert_eq!((&s.threads, &s.churn), (&vec![1, 3], &vec![0.0, 2.5]));
            assert_eq!(s.skews, [Skew::Hot]);
        }
        assert_eq!((g.reps, g.duration), (2, Duration::from_millis(250)));
        assert_eq!((g.layout.mms, g.layout.slots, g.seed), (3, 8, 9));
        assert_eq!(d.results, PathBuf::from("elsewhere"));
        assert_eq!(d.plots, PathBuf::from("elsewhere").join("plots"));
        // --quick and an override, in either order.
        let (q, _) = sweep_args(&["--threads", "5", "--quick"]).unwrap();
        assert_eq!((&q.studies[0].threads, q.reps), (&vec![5], 1));
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
        let runnable = |s: &SchemeId| s.runnable();
        let note = usize::from(crate::run::urcu_missing().is_some());
        let unbroken = SchemeId::all().filter(|s| !s.is_twin() && runnable(s));
        assert_eq!(some.lines().count(), unbroken.count() + note);
        assert!(some.contains("linux") && some.contains("typesafe/epoch"));
        assert_eq!(
            all.lines().count(),
            SchemeId::all().filter(runnable).count() + note
        );
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
        assert!(lines[0].starts_with("run_id,host,scheme,rcu,threads,churn_pct,"));
        let cells: Vec<_> = lines[1].split(',').collect();
        assert!(cells[0].starts_with("run-"), "{}", lines[1]);
        assert_eq!(&cells[2..6], ["leak", "none", "1", "0.0"]);
        // The kernel's columns are empty for a model.
        assert!(lines[1].ends_with(",,,"), "{}", lines[1]);
    }
}
