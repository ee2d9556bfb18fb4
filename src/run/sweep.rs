//! The sweep: every point of a grid of schemes x threads x churn x skew, repeated
//! in interleaved order, one CSV row per run, flushed as soon as the run ends.
//!
//! Each sweep writes a new `sweep-<unix time>.csv` and never overwrites an earlier
//! one, with `sweep-<unix time>.json` beside it ([`Meta`]: machine, build,
//! parameters), rewritten (atomically) as the sweep goes so that it always says how
//! far it got. When the sweep completes, `latest.csv` and `latest.json` are
//! replaced atomically (write, then rename). A sweep whose `stop` flag is set
//! (by Ctrl-C) finishes its current run and keeps everything it wrote, but leaves
//! `latest.*` alone.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::files::{create_dir, io_fail, write_atomically};
use crate::model::mm::Layout;
use crate::output::meta::{Meta, Params};
use crate::output::row::Row;
use crate::run::driver::{Limit, RunConfig, Skew};
use crate::run::host::collect_meta;
use crate::run::spec::{run_row, unix_now, RunSpec};
use crate::schemes::SchemeId;

/// How a sweep reports progress.
pub enum Progress<'a> {
    /// A progress bar with an ETA on the terminal (stderr).
    Bar,
    /// One plain line per run, into the writer.
    Lines(Box<dyn Write + 'a>),
}

impl Progress<'_> {
    /// A bar when stderr is a terminal, plain lines on stderr otherwise.
    pub fn for_stderr() -> Progress<'static> {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            Progress::Bar
        } else {
            Progress::Lines(Box::new(std::io::stderr()))
        }
    }
}

/// The default sweep's schemes: the correct models, and `linux` where
/// [`crate::run::kernel::available`] says this system can run it (else the reason it
/// cannot, to print as a note).
pub fn default_schemes() -> (Vec<SchemeId>, Option<String>) {
    let mut out: Vec<_> = SchemeId::correct().collect();
    match crate::run::kernel::available() {
        Ok(()) => {
            out.push(SchemeId::Linux);
            (out, None)
        }
        Err(why) => (out, Some(format!("skipping the linux scheme: {why}"))),
    }
}

/// The grid of a sweep.
#[derive(Clone, Debug)]
pub struct Grid {
    /// Schemes.
    pub schemes: Vec<SchemeId>,
    /// Thread counts.
    pub threads: Vec<usize>,
    /// Churn percentages.
    pub churn: Vec<f64>,
    /// Address skews.
    pub skews: Vec<Skew>,
    /// Repetitions of every point.
    pub reps: u32,
    /// Measured time per run.
    pub duration: Duration,
    /// Warm-up per run (not measured).
    pub warmup: Duration,
    /// Address spaces and mappings (`linux` always runs with one mm).
    pub layout: Layout,
    /// Seed of repetition 0; repetition `r` uses `seed + r`.
    pub seed: u64,
    /// Notes for the metadata (a scheme skipped, and why).
    pub notes: Vec<String>,
}

impl Grid {
    /// The default sweep: every correct scheme (and `linux` on Linux); 1, 2 and
    /// doublings up to 4x the cores; churn 0, 0.1, 1, 10 %; uniform and hot skew;
    /// 3 interleaved repetitions of 0.5 s after 0.05 s of warm-up.
    pub fn default_for(cores: usize) -> Grid {
        let mut threads = vec![1];
        while threads.last().copied().unwrap_or(1) < 4 * cores.max(1) {
            threads.push(threads.last().copied().unwrap_or(1) * 2);
        }
        let (schemes, note) = default_schemes();
        Grid {
            schemes,
            threads,
            churn: vec![0.0, 0.1, 1.0, 10.0],
            skews: vec![Skew::Uniform, Skew::Hot],
            reps: 3,
            duration: Duration::from_millis(500),
            warmup: Duration::from_millis(50),
            layout: Layout { mms: 2, slots: 64 },
            seed: 1,
            notes: note.into_iter().collect(),
        }
    }

    /// A coarse grid that finishes in well under a minute.
    pub fn quick(cores: usize) -> Grid {
        Grid {
            threads: vec![1, 2.max(cores)],
            churn: vec![0.0, 10.0],
            skews: vec![Skew::Uniform],
            reps: 1,
            duration: Duration::from_millis(200),
            warmup: Duration::from_millis(20),
            ..Grid::default_for(cores)
        }
    }

    /// The parameters, for the metadata.
    pub fn params(&self) -> Params {
        Params {
            schemes: self.schemes.iter().map(|s| s.name().to_string()).collect(),
            threads: self.threads.clone(),
            churn_pct: self.churn.clone(),
            skews: self.skews.iter().map(|k| k.name().to_string()).collect(),
            reps: self.reps,
            duration_s: self.duration.as_secs_f64(),
            warmup_s: self.warmup.as_secs_f64(),
            mms: self.layout.mms,
            slots: self.layout.slots,
            seed: self.seed,
        }
    }

    /// Every run, repetitions interleaved: all points of rep 0, then of rep 1, ...
    pub fn runs(&self) -> Vec<(u32, RunSpec)> {
        let mut out = Vec::new();
        for rep in 0..self.reps {
            for &skew in &self.skews {
                for &churn_pct in &self.churn {
                    for &threads in &self.threads {
                        for &scheme in &self.schemes {
                            let config = RunConfig {
                                threads,
                                churn_pct,
                                exits_pct: 0.0,
                                limit: Limit::time(self.duration),
                                warmup: self.warmup,
                                skew,
                                seed: self.seed + u64::from(rep),
                            };
                            let layout = Layout {
                                mms: scheme.mms(self.layout.mms),
                                ..self.layout
                            };
                            out.push((
                                rep,
                                RunSpec {
                                    scheme,
                                    config,
                                    layout,
                                    widen: 0,
                                },
                            ));
                        }
                    }
                }
            }
        }
        out
    }
}

/// Where a finished or stopped sweep left its files.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The new CSV.
    pub csv: PathBuf,
    /// The metadata beside it.
    pub json: PathBuf,
    /// Runs written.
    pub runs_done: usize,
    /// Whether it was stopped before the end.
    pub interrupted: bool,
}

fn write_meta(path: &Path, meta: &Meta) -> Result<(), Error> {
    let json = serde_json::to_vec_pretty(meta).map_err(|e| io_fail("encoding", path, e))?;
    write_atomically(path, &json)
}

/// Run `grid`, writing the CSV and its metadata into `dir`. Checks `stop` before
/// each run: once it is set, the sweep ends as interrupted.
pub fn sweep(
    grid: &Grid,
    dir: &Path,
    progress: Progress<'_>,
    stop: &AtomicBool,
) -> Result<Outcome, Error> {
    create_dir(dir)?;
    let stamp = unix_now();
    let csv = dir.join(format!("sweep-{stamp}.csv"));
    let json = csv.with_extension("json");
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&csv)
        .map_err(|e| io_fail("cannot create", &csv, e))?;
    let runs = grid.runs();
    let mut meta = Meta {
        csv: format!("sweep-{stamp}.csv"),
        started_unix: stamp,
        runs_planned: runs.len(),
        notes: grid.notes.clone(),
        ..collect_meta(grid.params())
    };
    write_meta(&json, &meta)?;
    let mut w = csv::Writer::from_writer(file);
    let (bar, mut lines) = match progress {
        Progress::Bar => {
            let bar = indicatif::ProgressBar::new(runs.len() as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} runs, {elapsed} elapsed, eta {eta} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            (Some(bar), None)
        }
        Progress::Lines(w) => (None, Some(w)),
    };
    let t0 = Instant::now();
    for (i, (rep, spec)) in runs.iter().enumerate() {
        // Relaxed: a flag polled between runs; nothing is handed over by it.
        if stop.load(Ordering::Relaxed) {
            meta.interrupted = true;
            break;
        }
        let row = Row {
            rep: *rep,
            run_id: format!("{stamp}-{i}"),
            ..run_row(spec)?
        };
        w.serialize(&row).map_err(|e| io_fail("writing", &csv, e))?;
        w.flush().map_err(|e| io_fail("writing", &csv, e))?;
        meta.runs_done = i + 1;
        let line = format!(
            "{} threads={} churn={}% skew={} rep={}: {:.2} M faults/s, wrong={}",
            row.scheme,
            row.threads,
            row.churn_pct,
            row.skew,
            rep,
            row.faults_per_sec / 1e6,
            row.wrong,
        );
        if let Some(bar) = &bar {
            bar.set_message(line);
            bar.inc(1);
        } else if let Some(out) = lines.as_mut() {
            let done = i + 1;
            let eta = t0
                .elapsed()
                .mul_f64((runs.len() - done) as f64 / done as f64);
            // Progress is best effort: a closed stderr must not stop the sweep.
            let _ = writeln!(
                out,
                "[{done}/{}] {line} (eta {}s)",
                runs.len(),
                eta.as_secs()
            );
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    drop(w);
    if !meta.interrupted {
        meta.finished_unix = unix_now();
    }
    write_meta(&json, &meta)?;
    if !meta.interrupted {
        let bytes = fs::read(&csv).map_err(|e| io_fail("reading", &csv, e))?;
        write_atomically(&dir.join("latest.csv"), &bytes)?;
        let latest = Meta {
            csv: "latest.csv".into(),
            ..meta.clone()
        };
        write_meta(&dir.join("latest.json"), &latest)?;
    }
    Ok(Outcome {
        csv,
        json,
        runs_done: meta.runs_done,
        interrupted: meta.interrupted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_grid_reaches_four_times_the_cores() {
        let g = Grid::default_for(2);
        assert_eq!(g.threads, vec![1, 2, 4, 8]);
        assert_eq!(
            g.runs().len(),
            g.schemes.len() * 4 * 4 * 2 * 3,
            "schemes x threads x churn x skews x reps"
        );
        // Interleaved: the first runs cover different points, not one point 3 times.
        let r = g.runs();
        assert_eq!(r[0].0, 0);
        assert_eq!(r[r.len() - 1].0, 2);
    }

    #[test]
    fn a_tiny_sweep_writes_one_row_per_run_and_latest() {
        let dir = std::env::temp_dir().join(format!("vma-bench-sweep-{}", std::process::id()));
        let grid = Grid {
            schemes: SchemeId::correct().collect(),
            threads: vec![1, 2],
            churn: vec![0.0, 10.0],
            reps: 1,
            duration: Duration::from_millis(20),
            warmup: Duration::ZERO,
            ..Grid::default_for(2)
        };
        let sink = Progress::Lines(Box::new(std::io::sink()));
        let out = sweep(&grid, &dir, sink, &AtomicBool::new(false)).unwrap();
        assert!(!out.interrupted);
        let path = out.csv;
        let rows: Vec<Row> = csv::Reader::from_path(&path)
            .unwrap()
            .deserialize()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows.len(), 6 * 2 * 2 * 2);
        assert!(
            rows.iter().all(|r| r.wrong == 0 && r.faults > 0),
            "{rows:?}"
        );
        for s in SchemeId::correct() {
            assert_eq!(rows.iter().filter(|r| r.scheme == s.name()).count(), 8);
        }
        let latest = std::fs::read(dir.join("latest.csv")).unwrap();
        assert_eq!(latest, std::fs::read(&path).unwrap());
        let meta: Meta =
            serde_json::from_slice(&std::fs::read(dir.join("latest.json")).unwrap()).unwrap();
        assert_eq!(
            (meta.runs_done, meta.runs_planned),
            (rows.len(), rows.len())
        );
        assert_eq!(meta.params.threads, grid.threads);
        assert!(!meta.interrupted && meta.finished_unix >= meta.started_unix);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A stop request (Ctrl-C) ends the sweep after the current run: the rows
    /// written stay, the metadata says it was interrupted, latest.* is untouched.
    #[test]
    fn a_stopped_sweep_keeps_its_rows_and_leaves_latest_alone() {
        let dir = std::env::temp_dir().join(format!("vma-bench-stop-{}", std::process::id()));
        let grid = Grid {
            schemes: vec![SchemeId::Leak, SchemeId::Typesafe],
            threads: vec![1],
            churn: vec![0.0],
            skews: vec![Skew::Uniform],
            reps: 3,
            duration: Duration::from_millis(5),
            warmup: Duration::ZERO,
            ..Grid::default_for(1)
        };
        let stop = AtomicBool::new(false);
        // Stop once the third progress line (the third run) is written.
        struct StopAfter<'a>(&'a AtomicBool, usize);
        impl Write for StopAfter<'_> {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.1 += b.iter().filter(|&&c| c == b'\n').count();
                if self.1 >= 3 {
                    // Relaxed: the flag is polled between runs; nothing is handed over.
                    self.0.store(true, Ordering::Relaxed);
                }
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let progress = Progress::Lines(Box::new(StopAfter(&stop, 0)));
        let out = sweep(&grid, &dir, progress, &stop).unwrap();
        assert!(out.interrupted);
        assert_eq!(out.runs_done, 3);
        let rows = csv::Reader::from_path(&out.csv)
            .unwrap()
            .deserialize::<Row>()
            .count();
        assert_eq!(rows, 3);
        let meta: Meta = serde_json::from_slice(&std::fs::read(&out.json).unwrap()).unwrap();
        assert!(meta.interrupted);
        assert_eq!((meta.runs_done, meta.runs_planned), (3, 6));
        assert!(!dir.join("latest.csv").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
