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
use crate::model::space::FaultWork;
use crate::output::meta::{Meta, Params, StudyParams};
use crate::output::row::Row;
use crate::rcu::RcuSettings;
use crate::run::driver::{ChurnKind, Limit, RunConfig, Skew};
use crate::run::host::collect_meta;
use crate::run::spec::{run_row, unix_now, RunSpec};
use crate::schemes::{Flavour, Policy, SchemeId};

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

/// The default sweep's schemes: the correct policies, and `linux` where
/// [`crate::run::kernel::available`] says this system can run it (else the
/// reason it cannot, to print as a note).
pub fn default_schemes() -> (Vec<Policy>, Option<String>) {
    let mut out = vec![
        Policy::Rwlock,
        Policy::Deferred,
        Policy::Typesafe,
        Policy::Hazard,
        Policy::Leak,
    ];
    match crate::run::kernel::available() {
        Ok(()) => {
            out.push(Policy::Linux);
            (out, None)
        }
        Err(why) => (out, Some(format!("skipping the linux scheme: {why}"))),
    }
}

/// The flavours this build has, the most kernel-like first (and a note naming
/// what to install for the others).
pub fn available_flavours() -> (Vec<Flavour>, Option<String>) {
    let mut all: Vec<Flavour> = Flavour::ALL.into_iter().filter(|f| f.available()).collect();
    all.sort_by_key(|&f| f != Flavour::most_kernel_like());
    let note = Flavour::ALL
        .iter()
        .find_map(|f| f.missing())
        .map(|why| format!("skipping the urcu flavours: {why}"));
    (all, note)
}

/// One cross product of the sweep's axes: a question the sweep answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Study {
    /// What it is for (in the metadata).
    pub name: String,
    /// Free policies.
    pub schemes: Vec<Policy>,
    /// RCU flavours of the policies that use one.
    pub rcus: Vec<Flavour>,
    /// Thread counts.
    pub threads: Vec<usize>,
    /// Churn percentages.
    pub churn: Vec<f64>,
    /// Churn kinds (a churn of 0 runs with the first only: there is no churn).
    pub kinds: Vec<ChurnKind>,
    /// Address skews.
    pub skews: Vec<Skew>,
    /// Fault work (`linux` always runs with `page`: every real fault clears one).
    pub works: Vec<FaultWork>,
}

/// The grid of a sweep: its studies and what every run shares.
#[derive(Clone, Debug)]
pub struct Grid {
    /// The studies; a point two studies share runs once.
    pub studies: Vec<Study>,
    /// Percentage of operations that are a process exit (models only).
    pub exits: f64,
    /// Repetitions of every point.
    pub reps: u32,
    /// Measured time per run.
    pub duration: Duration,
    /// Warm-up per run (not measured).
    pub warmup: Duration,
    /// Address spaces and mappings (`linux` always runs with one mm).
    pub layout: Layout,
    /// The flavours' settings.
    pub settings: RcuSettings,
    /// Seed of repetition 0; repetition `r` uses `seed + r`.
    pub seed: u64,
    /// Notes for the metadata (a scheme skipped, and why).
    pub notes: Vec<String>,
}

/// Thread counts: 1, 2 and doublings up to 4x the cores (past the cores on
/// purpose: oversubscription is where reclamation schemes differ most).
pub fn default_threads(cores: usize) -> Vec<usize> {
    let mut threads = vec![1];
    while threads.last().copied().unwrap_or(1) < 4 * cores.max(1) {
        threads.push(threads.last().copied().unwrap_or(1) * 2);
    }
    threads
}

impl Grid {
    /// The default sweep, four studies over the same threads (1, 2 and
    /// doublings up to 4x the cores), 3 interleaved repetitions of 0.4 s after
    /// 0.05 s of warm-up, 2 mms of 64 slots:
    ///
    /// - `headline`: every scheme over the most kernel-like flavour, churn 0, 1
    ///   and 10 % of both kinds, uniform and private skew;
    /// - `flavours`: deferred and typesafe over every flavour, churn 0 and 10 %;
    /// - `hot`: every scheme on one hot mapping per mm, churn 0 and 10 %;
    /// - `page`: every scheme with a page cleared per fault (the kernel's
    ///   proportions), 1 and 2 threads, private skew.
    pub fn default_for(cores: usize) -> Grid {
        let (schemes, scheme_note) = default_schemes();
        let (flavours, rcu_note) = available_flavours();
        let kernel_like = vec![Flavour::most_kernel_like()];
        let threads = default_threads(cores);
        let study = |name: &str| Study {
            name: name.into(),
            schemes: schemes.clone(),
            rcus: kernel_like.clone(),
            threads: threads.clone(),
            churn: vec![0.0, 10.0],
            kinds: vec![ChurnKind::Replace],
            skews: vec![Skew::Uniform],
            works: vec![FaultWork::Light],
        };
        Grid {
            studies: vec![
                Study {
                    churn: vec![0.0, 1.0, 10.0],
                    kinds: ChurnKind::ALL.to_vec(),
                    skews: vec![Skew::Uniform, Skew::Private],
                    ..study("headline")
                },
                Study {
                    schemes: vec![Policy::Deferred, Policy::Typesafe],
                    rcus: flavours,
                    ..study("flavours")
                },
                Study {
                    skews: vec![Skew::Hot],
                    ..study("hot")
                },
                Study {
                    threads: threads.iter().copied().filter(|&t| t <= 2).collect(),
                    skews: vec![Skew::Private],
                    works: vec![FaultWork::Page],
                    ..study("page")
                },
            ],
            exits: 0.0,
            reps: 3,
            duration: Duration::from_millis(400),
            warmup: Duration::from_millis(50),
            layout: Layout { mms: 2, slots: 64 },
            settings: RcuSettings::default(),
            seed: 1,
            notes: scheme_note.into_iter().chain(rcu_note).collect(),
        }
    }

    /// A coarse grid that finishes in well under a minute: the headline study
    /// at 1 thread and the cores, churn 0 and 10 %, private skew, once, 0.2 s.
    pub fn quick(cores: usize) -> Grid {
        let mut g = Grid::default_for(cores);
        g.studies.truncate(1);
        let s = &mut g.studies[0];
        s.name = "quick".into();
        s.threads = vec![1, 2.max(cores)];
        s.churn = vec![0.0, 10.0];
        s.skews = vec![Skew::Private];
        g.reps = 1;
        g.duration = Duration::from_millis(200);
        g.warmup = Duration::from_millis(20);
        g
    }

    /// Apply `f` to every study (an axis the command line sets for all).
    pub fn each_study(&mut self, f: impl Fn(&mut Study)) {
        self.studies.iter_mut().for_each(f);
    }

    /// Refuse a grid with a run the model cannot make, naming the values, before
    /// anything runs.
    pub fn check(&self) -> Result<(), Error> {
        for (_, spec) in self.runs() {
            spec.check()?;
        }
        Ok(())
    }

    /// The parameters, for the metadata.
    pub fn params(&self) -> Params {
        Params {
            studies: self
                .studies
                .iter()
                .map(|s| StudyParams {
                    name: s.name.clone(),
                    schemes: s.schemes.iter().map(|p| p.name().to_string()).collect(),
                    rcus: s.rcus.iter().map(|f| f.name().to_string()).collect(),
                    threads: s.threads.clone(),
                    churn_pct: s.churn.clone(),
                    churn_kinds: s.kinds.iter().map(|k| k.name().to_string()).collect(),
                    skews: s.skews.iter().map(|k| k.name().to_string()).collect(),
                    fault_works: s.works.iter().map(|w| w.name().to_string()).collect(),
                })
                .collect(),
            exits_pct: self.exits,
            reps: self.reps,
            duration_s: self.duration.as_secs_f64(),
            warmup_s: self.warmup.as_secs_f64(),
            mms: self.layout.mms,
            slots: self.layout.slots,
            seize_batch: self.settings.seize_batch,
            qsbr_every: self.settings.qsbr_every,
            seed: self.seed,
            canary: None,
        }
    }

    /// The runs of one repetition: every point of every study once, in study
    /// order (a point two studies share, once). `linux` runs with `page` work
    /// only, once per point, and with unmap-map churn only under private skew
    /// (another thread's write into an unmapped range would be SIGSEGV).
    fn points(&self, rep: u32) -> Vec<RunSpec> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for s in &self.studies {
            for &skew in &s.skews {
                for &churn_pct in &s.churn {
                    for (ki, &churn_kind) in s.kinds.iter().enumerate() {
                        if churn_pct == 0.0 && ki > 0 {
                            continue;
                        }
                        for &work in &s.works {
                            for &threads in &s.threads {
                                for &policy in &s.schemes {
                                    let rcus: Vec<Option<Flavour>> = if policy.uses_rcu() {
                                        s.rcus.iter().copied().map(Some).collect()
                                    } else {
                                        vec![None]
                                    };
                                    for rcu in rcus {
                                        let Some(scheme) = SchemeId::new(policy, rcu) else {
                                            continue;
                                        };
                                        let work = if scheme.is_kernel() {
                                            if churn_kind == ChurnKind::UnmapMap
                                                && churn_pct > 0.0
                                                && skew != Skew::Private
                                            {
                                                continue;
                                            }
                                            FaultWork::Page
                                        } else {
                                            work
                                        };
                                        let key = (
                                            scheme,
                                            skew,
                                            (churn_pct * 1000.0) as u64,
                                            churn_kind,
                                            work,
                                            threads,
                                        );
                                        if !seen.insert(key) {
                                            continue;
                                        }
                                        out.push(RunSpec {
                                            scheme,
                                            config: RunConfig {
                                                threads,
                                                churn_pct,
                                                churn_kind,
                                                exits_pct: if scheme.is_kernel() {
                                                    0.0
                                                } else {
                                                    self.exits
                                                },
                                                limit: Limit::time(self.duration),
                                                warmup: self.warmup,
                                                skew,
                                                seed: self.seed + u64::from(rep),
                                            },
                                            layout: Layout {
                                                mms: scheme.mms(self.layout.mms),
                                                ..self.layout
                                            },
                                            work,
                                            settings: self.settings,
                                            widen: 0,
                                        });
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Every run, repetitions interleaved: all points of rep 0, then of rep 1, ...
    pub fn runs(&self) -> Vec<(u32, RunSpec)> {
        (0..self.reps)
            .flat_map(|rep| self.points(rep).into_iter().map(move |s| (rep, s)))
            .collect()
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

    /// A grid of one study.
    fn one(study: Study, reps: u32, duration: Duration) -> Grid {
        Grid {
            studies: vec![study],
            reps,
            duration,
            warmup: Duration::ZERO,
            ..Grid::default_for(2)
        }
    }

    fn study(schemes: &[Policy], threads: &[usize], churn: &[f64]) -> Study {
        Study {
            name: "test".into(),
            schemes: schemes.to_vec(),
            rcus: vec![Flavour::Epoch],
            threads: threads.to_vec(),
            churn: churn.to_vec(),
            kinds: vec![ChurnKind::Replace],
            skews: vec![Skew::Uniform],
            works: vec![FaultWork::Light],
        }
    }

    #[test]
    fn default_grid_reaches_four_times_the_cores_and_runs_each_point_once() {
        let g = Grid::default_for(2);
        assert!(g.studies.iter().all(|s| s.threads.last() <= Some(&8)));
        assert_eq!(g.studies[0].threads, vec![1, 2, 4, 8]);
        let runs = g.runs();
        // Interleaved: every point of rep 0 before any of rep 1.
        let per_rep = runs.iter().filter(|(r, _)| *r == 0).count();
        assert_eq!(runs.len(), per_rep * 3);
        assert!(runs[..per_rep].iter().all(|(r, _)| *r == 0));
        // No point twice in a repetition, although the studies overlap.
        let keys: std::collections::HashSet<String> = runs[..per_rep]
            .iter()
            .map(|(_, s)| format!("{s:?}"))
            .collect();
        assert_eq!(keys.len(), per_rep);
        // Without churn, one kind only; linux only with page work.
        assert!(runs
            .iter()
            .all(|(_, s)| s.config.churn_pct > 0.0 || s.config.churn_kind == ChurnKind::Replace));
        assert!(runs
            .iter()
            .all(|(_, s)| !s.scheme.is_kernel() || s.work == FaultWork::Page));
        assert!(g.check().is_ok());
    }

    #[test]
    fn a_grid_the_model_cannot_run_is_refused_before_any_run() {
        let mut s = study(&[Policy::Typesafe], &[1, 9], &[0.0]);
        s.skews = vec![Skew::Private];
        let g = Grid {
            layout: Layout { mms: 1, slots: 8 },
            ..one(s, 1, Duration::from_millis(1))
        };
        let e = g.check().unwrap_err();
        assert!(
            e.0.contains("--slots 8") && e.0.contains("--threads 9"),
            "{e}"
        );
    }

    #[test]
    fn a_tiny_sweep_writes_one_row_per_run_and_latest() {
        let dir = std::env::temp_dir().join(format!("vma-bench-sweep-{}", std::process::id()));
        let schemes = [
            Policy::Rwlock,
            Policy::Deferred,
            Policy::Typesafe,
            Policy::Hazard,
            Policy::Leak,
        ];
        let grid = one(
            study(&schemes, &[1, 2], &[0.0, 10.0]),
            1,
            Duration::from_millis(20),
        );
        let sink = Progress::Lines(Box::new(std::io::sink()));
        let out = sweep(&grid, &dir, sink, &AtomicBool::new(false)).unwrap();
        assert!(!out.interrupted);
        let path = out.csv;
        let rows: Vec<Row> = csv::Reader::from_path(&path)
            .unwrap()
            .deserialize()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows.len(), 5 * 2 * 2);
        assert!(
            rows.iter().all(|r| r.wrong == 0 && r.faults > 0 && r.valid),
            "{rows:?}"
        );
        for s in schemes {
            assert_eq!(rows.iter().filter(|r| r.scheme == s.name()).count(), 4);
        }
        let latest = std::fs::read(dir.join("latest.csv")).unwrap();
        assert_eq!(latest, std::fs::read(&path).unwrap());
        let meta: Meta =
            serde_json::from_slice(&std::fs::read(dir.join("latest.json")).unwrap()).unwrap();
        assert_eq!(
            (meta.runs_done, meta.runs_planned),
            (rows.len(), rows.len())
        );
        assert_eq!(meta.params.studies[0].threads, grid.studies[0].threads);
        assert!(!meta.interrupted && meta.finished_unix >= meta.started_unix);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A stop request (Ctrl-C) ends the sweep after the current run: the rows
    /// written stay, the metadata says it was interrupted, latest.* is untouched.
    #[test]
    fn a_stopped_sweep_keeps_its_rows_and_leaves_latest_alone() {
        let dir = std::env::temp_dir().join(format!("vma-bench-stop-{}", std::process::id()));
        let grid = one(
            study(&[Policy::Leak, Policy::Typesafe], &[1], &[0.0]),
            3,
            Duration::from_millis(5),
        );
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
