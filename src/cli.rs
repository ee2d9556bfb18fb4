//! The command line. Every bad value is a one-line error naming it (exit 2).

use std::fmt;
use std::io::Write;
use std::time::Duration;

use crate::driver::{Limit, RunConfig, Skew};
use crate::run::{run_row, RunSpec};
use crate::schemes::SchemeId;
use crate::space::Layout;

/// A command-line error: printed on one line, exit status 2.
#[derive(Debug, PartialEq, Eq)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, CliError> {
    Err(CliError(msg.into()))
}

/// Usage text.
pub const USAGE: &str = "\
vma-bench: page-fault VMA lookup under mmap/munmap churn, per reclamation scheme

usage:
  vma-bench schemes [--all]          list the schemes (--all adds the broken twins)
  vma-bench run --scheme S [options] run one point, print one CSV row with its header
  vma-bench sweep [--quick] [--out DIR]
                                     every correct scheme x threads 1,2,..4x cores x churn
                                     0,0.1,1,10 %, 3 interleaved reps of 1 s; CSV into
                                     DIR [results]/sweep-<time>.csv and DIR/latest.csv

run options (defaults in brackets):
  --scheme S        a name from `vma-bench schemes --all`
  --threads N       worker threads [number of CPUs]
  --churn PCT       percent of operations that replace a mapping, 0..=100 [0]
  --duration SECS   measured seconds [1]
  --warmup SECS     unmeasured seconds before [0.1]
  --faults N        stop after N faults instead of after --duration
  --until-wrong     also stop at the first wrong answer (to time a broken twin)
  --mms M           address spaces sharing the allocator [2; linux: 1, the only value]
  --slots K         mappings per address space [64]
  --skew K          uniform | hot [uniform]
  --seed X          seed of the workers' generators [1]
  --widen N         yield N times between find and lock (adversarial) [0]
";

/// Parsed `run` arguments.
fn parse_run(args: &[String]) -> Result<RunSpec, CliError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut scheme = None;
    let mut threads = cores as u64;
    let mut churn = 0.0;
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
                    CliError(format!(
                        "unknown scheme '{value}' (see `vma-bench schemes --all`)"
                    ))
                })?)
            }
            "--threads" => threads = number(flag, value, 1, 1024)?,
            "--churn" => churn = real(flag, value, 0.0, 100.0)?,
            "--duration" => duration = real(flag, value, 0.001, 3600.0)?,
            "--warmup" => warmup = real(flag, value, 0.0, 3600.0)?,
            "--faults" => faults = Some(number(flag, value, 1, u64::MAX)?),
            "--mms" => mms = Some(number(flag, value, 1, 1024)?),
            "--slots" => slots = number(flag, value, 1, 1 << 16)?,
            "--skew" => {
                skew = Skew::parse(value)
                    .ok_or_else(|| CliError(format!("--skew: '{value}' is not uniform or hot")))?
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
            limit,
            warmup: Duration::from_secs_f64(warmup),
            skew,
            seed,
        },
        layout: Layout {
            // One process is one mm: the real kernel's default is 1.
            mms: mms.unwrap_or(if scheme.is_kernel() { 1 } else { 2 }) as usize,
            slots: slots as usize,
        },
        widen: widen as u32,
    })
}

fn number(flag: &str, value: &str, min: u64, max: u64) -> Result<u64, CliError> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => err(format!(
            "{flag}: '{value}' is not a whole number in {min}..={max}"
        )),
    }
}

fn real(flag: &str, value: &str, min: f64, max: f64) -> Result<f64, CliError> {
    match value.parse::<f64>() {
        Ok(x) if x.is_finite() && (min..=max).contains(&x) => Ok(x),
        _ => err(format!(
            "{flag}: '{value}' is not a number in {min}..={max}"
        )),
    }
}

/// Run the command line `args` (without the program name), writing to `out`.
pub fn main_with(args: &[String], out: &mut dyn Write) -> Result<(), CliError> {
    let io = |e: std::io::Error| CliError(format!("writing output: {e}"));
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
            let row = run_row(&spec).map_err(CliError)?;
            let mut w = csv::Writer::from_writer(out);
            w.serialize(&row)
                .map_err(|e| CliError(format!("writing CSV: {e}")))?;
            w.flush().map_err(io)
        }
        Some("sweep") => {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let mut grid = crate::sweep::Grid::default_for(cores);
            let mut dir = std::path::PathBuf::from("results");
            let mut it = args[1..].iter();
            while let Some(a) = it.next() {
                match a.as_str() {
                    "--quick" => grid = crate::sweep::Grid::quick(cores),
                    "--out" => match it.next() {
                        Some(d) => dir = d.into(),
                        None => return err("--out needs a value"),
                    },
                    _ => return err(format!("sweep: unknown option '{a}'")),
                }
            }
            let path = crate::sweep::sweep(&grid, &dir, &mut std::io::stderr())?;
            writeln!(out, "{}", path.display()).map_err(io)
        }
        Some(other) => err(format!(
            "unknown command '{other}' (see `vma-bench --help`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<String, CliError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        main_with(&args, &mut out).map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn bad_values_name_themselves() {
        let e = run(&["run", "--scheme", "typesafe", "--threads", "0"]).unwrap_err();
        assert!(e.0.contains("--threads") && e.0.contains("'0'"), "{e}");
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
