//! The sweep: every point of a grid of schemes x threads x churn x skew, repeated
//! in interleaved order, one CSV row per run.
//!
//! # Runs that are not measurements, and slow periods
//!
//! A run in which some worker never took part in the measured phase, or that
//! served no faults, is not a measurement (`valid` false): it is run again at
//! once, up to [`Grid::attempts`] attempts in all. A short fixed canary run
//! ([`CanaryPlan`]: read-only `leak`) is made before the first run, every
//! [`CanaryPlan::every`] runs and after the last, to watch the machine's speed.
//! Once every run is made, each run's canary ratio is the throughput of the
//! canary nearest to it in the sweep's order (of two equally near, the slower)
//! over the median of the sweep's canaries; the runs whose ratio is below
//! [`CanaryPlan::threshold`] fell in a slow period, and are made again, together
//! at the end of the sweep (a slow period lasts minutes), as long as they have
//! attempts left. Of the attempts at a run, the CSV keeps one: the last valid
//! one, else the last; its `attempt` column says which, `canary_ratio` gives its
//! ratio, and `slow` flags a run still below the threshold.
//!
//! # Files
//!
//! Each sweep writes a new `sweep-<unix time>.csv` and never overwrites an earlier
//! one's, with `sweep-<unix time>.json` beside it ([`Meta`]: machine, build,
//! parameters) and `sweep-<unix time>.canary.csv` (one [`Canary`] row per canary
//! run). While the sweep runs, the CSV is a log: every attempt is appended and
//! flushed as it ends (a later attempt of a run shares its `run_id`; readers keep
//! the one the sweep would). When the sweep ends, the CSV is replaced
//! (atomically) by its final rows, one per run, with the canary columns filled.
//! When the sweep completes, `latest.csv`, `latest.json` and `latest.canary.csv`
//! are replaced atomically (write, then rename). A sweep whose `stop` flag is set
//! (by Ctrl-C) finishes its current run, writes its final rows for the runs made,
//! but leaves `latest.*` alone.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::files::{create_dir, io_fail, lock_dir, write_atomically};
use crate::model::mm::Layout;
use crate::model::space::FaultWork;
use crate::output::canary::{self, Canary};
use crate::output::meta::{CanaryParams, Meta, Params, StudyParams};
use crate::output::row::Row;
use crate::output::side::{latency_path, timeline_path, PercentileRow, TimelineRow};
use crate::rcu::RcuSettings;
use crate::run::driver::{ChurnKind, Limit, Probe, RunConfig, Skew, Stall, DEFAULT_SAMPLE_EVERY};
use crate::run::host::collect_meta;
use crate::run::spec::{run_measured, unix_now, Measured, RunSpec};
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
    /// A stalled reader in every run of the study (`linux`, whose read section
    /// cannot be entered from user space, is left out of such a study).
    pub stall: Option<Stall>,
}

/// The grid of a sweep: its studies and what every run shares.
#[derive(Clone, Debug)]
pub struct Grid {
    /// The studies; a point two studies share runs once.
    pub studies: Vec<Study>,
    /// Percentage of operations that are a process exit (models only).
    pub exits: f64,
    /// Percentage of operations that are an in-place change (models only).
    pub changes: f64,
    /// Percentage of operations that are a fork (models only).
    pub forks: f64,
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
    /// Every worker times every Nth fault and writer operation.
    pub sample_every: u32,
    /// Notes for the metadata (a scheme skipped, and why).
    pub notes: Vec<String>,
    /// Attempts at most per run, the first included: a run that is not valid,
    /// or fell in a slow period, is made again while it has attempts left.
    pub attempts: u32,
    /// The canary that watches the machine's speed (None: no canary, and no
    /// run is made again for a slow period).
    pub canary: Option<CanaryPlan>,
}

/// The canary of a sweep: a short fixed run made before the first run, every
/// `every` runs and after the last.
#[derive(Clone, Debug)]
pub struct CanaryPlan {
    /// What it runs.
    pub spec: RunSpec,
    /// Runs between two canaries.
    pub every: usize,
    /// A run whose canary ratio (the nearest canary over the sweep's median) is
    /// below this fell in a slow period.
    pub threshold: f64,
}

impl CanaryPlan {
    /// `leak`, read-only, uniform skew, light fault work, 2 mms of 64 slots, 50
    /// ms after 10 ms of warm-up, every 8 runs, threshold 0.8; at 2 threads (1
    /// on a single CPU): the machine's slow periods show first in the traffic
    /// between CPUs, which a single thread does not make.
    pub fn default_for(cores: usize) -> CanaryPlan {
        CanaryPlan {
            spec: RunSpec {
                scheme: SchemeId::kernel_like(Policy::Leak),
                config: RunConfig {
                    threads: cores.clamp(1, 2),
                    churn_pct: 0.0,
                    churn_kind: ChurnKind::Replace,
                    exits_pct: 0.0,
                    changes_pct: 0.0,
                    forks_pct: 0.0,
                    limit: Limit::time(Duration::from_millis(50)),
                    warmup: Duration::from_millis(10),
                    skew: Skew::Uniform,
                    seed: 1,
                    probe: Probe::default(),
                },
                layout: Layout { mms: 2, slots: 64 },
                work: FaultWork::Light,
                settings: RcuSettings::default(),
                widen: 0,
            },
            every: 8,
            threshold: 0.8,
        }
    }

    /// Its parameters, for the metadata.
    fn params(&self, attempts: u32) -> CanaryParams {
        let c = &self.spec.config;
        CanaryParams {
            scheme: self.spec.scheme.label(),
            threads: c.threads,
            duration_s: c.limit.time.map_or(0.0, |d| d.as_secs_f64()),
            warmup_s: c.warmup.as_secs_f64(),
            every: self.every,
            threshold: self.threshold,
            attempts,
        }
    }
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
    /// The default sweep, five studies (the first four over the same threads:
    /// 1, 2 and doublings up to 4x the cores), 3 interleaved repetitions of
    /// 0.3 s after 0.05 s of warm-up, 2 mms of 64 slots, every 256th operation
    /// timed:
    ///
    /// - `headline`: every scheme over the most kernel-like flavour, churn 0, 1
    ///   and 10 % of both kinds, uniform and private skew;
    /// - `flavours`: deferred and typesafe over every flavour, churn 0 and 10 %;
    /// - `hot`: every scheme on one hot mapping per mm, churn 0 and 10 %;
    /// - `page`: every scheme with a page cleared per fault (the kernel's
    ///   proportions), 1 and 2 threads, private skew;
    /// - `stall`: every model over every flavour at the cores (at least 2),
    ///   10 % churn of both kinds, with a stalled reader ([`Grid::STALL`]).
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
            stall: None,
        };
        let models: Vec<Policy> = schemes
            .iter()
            .copied()
            .filter(|&p| p != Policy::Linux)
            .collect();
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
                    rcus: flavours.clone(),
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
                Study {
                    schemes: models,
                    rcus: flavours.clone(),
                    threads: vec![cores.max(2)],
                    churn: vec![10.0],
                    kinds: ChurnKind::ALL.to_vec(),
                    stall: Some(Grid::STALL),
                    ..study("stall")
                },
            ],
            exits: 0.0,
            changes: 0.0,
            forks: 0.0,
            reps: 3,
            duration: Duration::from_millis(300),
            warmup: Duration::from_millis(50),
            layout: Layout { mms: 2, slots: 64 },
            settings: RcuSettings::default(),
            seed: 1,
            sample_every: DEFAULT_SAMPLE_EVERY,
            notes: scheme_note.into_iter().chain(rcu_note).collect(),
            attempts: 2,
            canary: Some(CanaryPlan::default_for(cores)),
        }
    }

    /// The stall study's reader: a 10 ms park every 100 ms.
    pub const STALL: Stall = Stall {
        park: Duration::from_millis(10),
        every: Duration::from_millis(100),
    };

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
        if let Some(c) = &self.canary {
            c.spec.check()?;
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
                    stall: s.stall.map(|st| st.label()),
                })
                .collect(),
            exits_pct: self.exits,
            changes_pct: self.changes,
            forks_pct: self.forks,
            reps: self.reps,
            duration_s: self.duration.as_secs_f64(),
            warmup_s: self.warmup.as_secs_f64(),
            mms: self.layout.mms,
            slots: self.layout.slots,
            seize_batch: self.settings.seize_batch,
            qsbr_every: self.settings.qsbr_every,
            seed: self.seed,
            sample_every: Some(self.sample_every),
            canary: self.canary.as_ref().map(|c| c.params(self.attempts)),
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
                                        if scheme.is_kernel() && s.stall.is_some() {
                                            continue;
                                        }
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
                                            (churn_pct * 1000.0).round() as u64,
                                            churn_kind,
                                            work,
                                            threads,
                                            s.stall,
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
                                                changes_pct: if scheme.is_kernel() {
                                                    0.0
                                                } else {
                                                    self.changes
                                                },
                                                forks_pct: if scheme.is_kernel() {
                                                    0.0
                                                } else {
                                                    self.forks
                                                },
                                                limit: Limit::time(self.duration),
                                                warmup: self.warmup,
                                                skew,
                                                seed: self.seed + u64::from(rep),
                                                probe: Probe {
                                                    sample_every: self.sample_every,
                                                    stall: s.stall,
                                                },
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

/// The side rows of one run (`output::side`): its percentile tables and, for
/// a stalled run, its timeline.
#[derive(Clone, Debug, Default)]
struct SideRows {
    percentiles: Vec<PercentileRow>,
    timeline: Vec<TimelineRow>,
}

impl SideRows {
    fn of(run_id: &str, m: Option<&Measured>) -> SideRows {
        m.map_or_else(SideRows::default, |m| SideRows {
            percentiles: m.percentile_rows(run_id),
            timeline: m.timeline_rows(run_id),
        })
    }
}

/// Write the side files of `csv` from the runs kept, each whole, and copy them
/// to `latest.*` in `dir` when `publish`; a side file with no rows is not
/// written (and an older sweep's `latest.*` of it is removed).
fn write_side(csv: &Path, dir: &Path, kept: &[SideRows], publish: bool) -> Result<(), Error> {
    let percentiles: Vec<&PercentileRow> = kept.iter().flat_map(|k| &k.percentiles).collect();
    let timeline: Vec<&TimelineRow> = kept.iter().flat_map(|k| &k.timeline).collect();
    let latest = dir.join("latest.csv");
    for (path, latest, bytes) in [
        (
            latency_path(csv),
            latency_path(&latest),
            (!percentiles.is_empty())
                .then(|| csv_bytes(&percentiles, &[], &latency_path(csv)))
                .transpose()?,
        ),
        (
            timeline_path(csv),
            timeline_path(&latest),
            (!timeline.is_empty())
                .then(|| csv_bytes(&timeline, &[], &timeline_path(csv)))
                .transpose()?,
        ),
    ] {
        match bytes {
            Some(bytes) => {
                write_atomically(&path, &bytes)?;
                if publish {
                    write_atomically(&latest, &bytes)?;
                }
            }
            None if publish && latest.exists() => {
                // An older sweep's: not this one's.
                fs::remove_file(&latest).map_err(|e| io_fail("removing", &latest, e))?;
            }
            None => {}
        }
    }
    Ok(())
}

fn write_meta(path: &Path, meta: &Meta) -> Result<(), Error> {
    let json = serde_json::to_vec_pretty(meta).map_err(|e| io_fail("encoding", path, e))?;
    write_atomically(path, &json)
}

/// Run `grid`, writing the CSV, its metadata and its canary timeline into
/// `dir`. Checks `stop` before each run: once it is set, the sweep ends as
/// interrupted.
pub fn sweep(
    grid: &Grid,
    dir: &Path,
    progress: Progress<'_>,
    stop: &AtomicBool,
) -> Result<Outcome, Error> {
    sweep_with(grid, dir, progress, stop, &mut |s| {
        run_measured(s).map(|(row, m)| (row, Some(m)))
    })
}

/// Where each attempt and canary falls in the sweep's order, and what the
/// sweep keeps of them.
struct Timeline {
    /// Per run: the attempt kept so far and its place in the order.
    kept: Vec<Option<(Row, usize)>>,
    /// Per run: attempts made.
    tries: Vec<u32>,
    /// The canaries and their places.
    canaries: Vec<(Canary, usize)>,
    /// Places taken so far (attempts and canaries).
    len: usize,
    /// Attempts made (all runs).
    made: usize,
}

impl Timeline {
    /// The median throughput of the valid canaries.
    fn median(&self) -> Option<f64> {
        let fps = self
            .canaries
            .iter()
            .filter(|(c, _)| c.valid)
            .map(|(c, _)| c.faults_per_sec);
        crate::output::stats::Summary::of(fps)
            .map(|s| s.median)
            .filter(|&m| m > 0.0)
    }

    /// The canary ratio at place `at`: the nearest valid canary's throughput
    /// (of two equally near, the slower) over the median.
    fn ratio_at(&self, at: usize, median: f64) -> Option<f64> {
        self.canaries
            .iter()
            .filter(|(c, _)| c.valid)
            .min_by(|(a, pa), (b, pb)| {
                at.abs_diff(*pa)
                    .cmp(&at.abs_diff(*pb))
                    .then(a.faults_per_sec.total_cmp(&b.faults_per_sec))
            })
            .map(|(c, _)| c.faults_per_sec / median)
    }
}

/// What makes one run: its row, and what it measured for the side files
/// (None: no side rows, as from a test's stand-in).
pub type Runner<'r> = dyn FnMut(&RunSpec) -> Result<(Row, Option<Measured>), Error> + 'r;

/// [`sweep`], making each run (and canary) with `run`.
pub fn sweep_with(
    grid: &Grid,
    dir: &Path,
    progress: Progress<'_>,
    stop: &AtomicBool,
    run: &mut Runner<'_>,
) -> Result<Outcome, Error> {
    create_dir(dir)?;
    // Held until the sweep returns: no other sweep writes here meanwhile.
    let _held = lock_dir(dir)?;
    let stamp = unix_now();
    let csv = dir.join(format!("sweep-{stamp}.csv"));
    let json = csv.with_extension("json");
    let canary_csv = canary::path_beside(&csv);
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
        // Until the sweep completes: a sweep killed before its end (a second
        // Ctrl-C, a crash) leaves metadata that says so.
        interrupted: true,
        ..collect_meta(grid.params())
    };
    write_meta(&json, &meta)?;
    meta.interrupted = false;
    let mut log = csv::Writer::from_writer(file);
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
    let mut say = |line: String, done: usize, total: usize, eta: Option<Duration>| {
        if let Some(bar) = &bar {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(line);
        } else if let Some(out) = lines.as_mut() {
            // Progress is best effort: a closed stderr must not stop the sweep.
            let _ = match eta {
                Some(eta) => writeln!(out, "[{done}/{total}] {line} (eta {}s)", eta.as_secs()),
                None => writeln!(out, "{line}"),
            };
        }
    };
    let attempts = grid.attempts.max(1);
    let mut tl = Timeline {
        kept: vec![None; runs.len()],
        tries: vec![0; runs.len()],
        canaries: Vec::new(),
        len: 0,
        made: 0,
    };
    // The side rows of the attempt kept of each run.
    let mut side_kept = vec![SideRows::default(); runs.len()];
    let t0 = Instant::now();
    let canary_run = |tl: &mut Timeline, run: &mut Runner<'_>| -> Result<(), Error> {
        let Some(plan) = &grid.canary else {
            return Ok(());
        };
        let at_s = t0.elapsed().as_secs_f64();
        let (r, _) = run(&plan.spec)?;
        let seq = tl.canaries.len();
        let c = Canary {
            canary_id: format!("{stamp}-c{seq}"),
            host: r.host.clone(),
            seq,
            after_runs: tl.made,
            at_s,
            threads: r.threads,
            duration_s: r.duration_s,
            faults: r.faults,
            faults_per_sec: r.faults_per_sec,
            valid: r.is_measurement(),
            ratio: None,
        };
        tl.canaries.push((c, tl.len));
        tl.len += 1;
        Ok(())
    };
    // The runs to make in this pass: every run, then those of slow periods.
    let mut queue: Vec<usize> = (0..runs.len()).collect();
    let mut total = runs.len();
    let every = grid.canary.as_ref().map_or(usize::MAX, |c| c.every.max(1));
    for pass in 0..attempts {
        if queue.is_empty() || meta.interrupted {
            break;
        }
        if pass > 0 {
            total += queue.len();
            say(
                format!(
                    "making {} runs of slow periods again (canary ratio below the threshold)",
                    queue.len()
                ),
                tl.made,
                total,
                None,
            );
        }
        canary_run(&mut tl, run)?;
        for (k, &i) in queue.iter().enumerate() {
            // Relaxed: a flag polled between runs; nothing is handed over by it.
            if stop.load(Ordering::Relaxed) {
                meta.interrupted = true;
                break;
            }
            if k > 0 && k % every == 0 {
                canary_run(&mut tl, run)?;
            }
            let (rep, spec) = &runs[i];
            loop {
                let attempt = tl.tries[i];
                tl.tries[i] += 1;
                let (row, measured) = run(spec)?;
                let row = Row {
                    rep: *rep,
                    attempt,
                    run_id: format!("{stamp}-{i}"),
                    ..row
                };
                let side = SideRows::of(&row.run_id, measured.as_ref());
                log.serialize(&row)
                    .map_err(|e| io_fail("writing", &csv, e))?;
                log.flush().map_err(|e| io_fail("writing", &csv, e))?;
                tl.made += 1;
                let valid = row.is_measurement();
                let line = format!(
                    "{} threads={} churn={}% skew={} rep={rep}{}: {:.2} M faults/s, wrong={}{}",
                    row.label(),
                    row.threads,
                    row.churn_pct,
                    row.skew,
                    if attempt > 0 {
                        format!(" attempt={attempt}")
                    } else {
                        String::new()
                    },
                    row.faults_per_sec / 1e6,
                    row.wrong,
                    if valid {
                        ""
                    } else {
                        " (not valid: made again)"
                    },
                );
                let retry = !valid && tl.tries[i] < attempts;
                if retry {
                    total += 1;
                }
                let eta = t0
                    .elapsed()
                    .mul_f64(total.saturating_sub(tl.made) as f64 / tl.made as f64);
                say(line, tl.made, total, Some(eta));
                let better = valid
                    || tl.kept[i]
                        .as_ref()
                        .map_or(true, |(r, _)| !r.is_measurement());
                if better {
                    tl.kept[i] = Some((row, tl.len));
                    side_kept[i] = side;
                }
                tl.len += 1;
                // Runs with a row so far, in metadata still marked interrupted.
                write_meta(
                    &json,
                    &Meta {
                        runs_done: tl.kept.iter().flatten().count(),
                        interrupted: true,
                        ..meta.clone()
                    },
                )?;
                // Relaxed: as above.
                if !retry || stop.load(Ordering::Relaxed) {
                    break;
                }
            }
        }
        if meta.interrupted {
            break;
        }
        canary_run(&mut tl, run)?;
        let (Some(plan), Some(median)) = (&grid.canary, tl.median()) else {
            break;
        };
        queue = (0..runs.len())
            .filter(|&i| {
                tl.tries[i] < attempts
                    && tl.kept[i].as_ref().is_some_and(|(_, at)| {
                        tl.ratio_at(*at, median).is_some_and(|r| r < plan.threshold)
                    })
            })
            .collect();
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    drop(log);
    // The final rows: one per run made, with the canary columns filled.
    let median = tl.median();
    let threshold = grid.canary.as_ref().map_or(0.0, |c| c.threshold);
    let mut rows: Vec<Row> = Vec::new();
    for (row, at) in tl.kept.iter().flatten() {
        let ratio = median.and_then(|m| tl.ratio_at(*at, m));
        rows.push(Row {
            canary_ratio: ratio,
            slow: ratio.is_some_and(|r| r < threshold),
            ..row.clone()
        });
    }
    let canaries: Vec<Canary> = tl
        .canaries
        .iter()
        .map(|(c, _)| Canary {
            ratio: median.filter(|_| c.valid).map(|m| c.faults_per_sec / m),
            ..c.clone()
        })
        .collect();
    let rows_csv = csv_bytes(&rows, &Row::header(), &csv)?;
    write_atomically(&csv, &rows_csv)?;
    let canary_bytes = csv_bytes(&canaries, &Canary::header(), &canary_csv)?;
    if grid.canary.is_some() {
        write_atomically(&canary_csv, &canary_bytes)?;
    }
    write_side(&csv, dir, &side_kept, !meta.interrupted)?;
    meta.runs_done = rows.len();
    if !meta.interrupted {
        meta.finished_unix = unix_now();
    }
    write_meta(&json, &meta)?;
    if !meta.interrupted {
        write_atomically(&dir.join("latest.csv"), &rows_csv)?;
        let latest_canary = canary::path_beside(&dir.join("latest.csv"));
        if grid.canary.is_some() {
            write_atomically(&latest_canary, &canary_bytes)?;
        } else if latest_canary.exists() {
            // An older sweep's timeline must not be read beside this one's rows.
            fs::remove_file(&latest_canary).map_err(|e| io_fail("removing", &latest_canary, e))?;
        }
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

/// `items` as CSV with its `header` (the header alone for none).
fn csv_bytes<T: serde::Serialize>(
    items: &[T],
    header: &[String],
    path: &Path,
) -> Result<Vec<u8>, Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    if items.is_empty() {
        w.write_record(header)
            .map_err(|e| io_fail("encoding", path, e))?;
    }
    for item in items {
        w.serialize(item)
            .map_err(|e| io_fail("encoding", path, e))?;
    }
    w.into_inner().map_err(|e| io_fail("encoding", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grid of one study, with a canary of 2 ms every 8 runs.
    fn one(study: Study, reps: u32, duration: Duration) -> Grid {
        let mut canary = CanaryPlan::default_for(2);
        canary.spec.config.limit = Limit::time(Duration::from_millis(2));
        canary.spec.config.warmup = Duration::ZERO;
        Grid {
            studies: vec![study],
            reps,
            duration,
            warmup: Duration::ZERO,
            canary: Some(canary),
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
            stall: None,
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

    /// A folder another sweep holds is refused before any run, naming it, and
    /// nothing is written there; once it is let go, a sweep runs.
    #[test]
    fn a_sweep_into_a_folder_another_sweep_holds_is_refused() {
        let dir = std::env::temp_dir().join(format!("vma-bench-held-{}", std::process::id()));
        create_dir(&dir).unwrap();
        let grid = one(
            study(&[Policy::Leak], &[1], &[0.0]),
            1,
            Duration::from_millis(5),
        );
        let sink = || Progress::Lines(Box::new(std::io::sink()));
        let held = lock_dir(&dir).unwrap();
        let e = sweep(&grid, &dir, sink(), &AtomicBool::new(false)).unwrap_err();
        assert!(
            e.0.contains("another sweep") && e.0.contains(&dir.display().to_string()),
            "{e}"
        );
        let files = |d: &Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(files(&dir), [".vma-bench.lock"]);
        drop(held);
        let out = sweep(&grid, &dir, sink(), &AtomicBool::new(false)).unwrap();
        assert_eq!(out.runs_done, 1);
        std::fs::remove_dir_all(&dir).unwrap();
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

    /// Beside the CSV: every run's latency tables, and the timeline of the
    /// runs with a stalled reader only; both copied to latest.* at the end.
    #[test]
    fn a_sweep_writes_latency_tables_and_stalled_timelines_beside_its_csv() {
        use crate::output::side::{read_side, PercentileRow};
        let dir = std::env::temp_dir().join(format!("vma-bench-side-sweep-{}", std::process::id()));
        let plain = study(&[Policy::Typesafe], &[2], &[10.0]);
        let stalled = Study {
            name: "stall".into(),
            stall: Some(Stall {
                park: Duration::from_millis(5),
                every: Duration::from_millis(15),
            }),
            ..plain.clone()
        };
        let grid = Grid {
            studies: vec![plain, stalled],
            sample_every: 8,
            ..one(study(&[], &[1], &[0.0]), 1, Duration::from_millis(60))
        };
        let sink = Progress::Lines(Box::new(std::io::sink()));
        let out = sweep(&grid, &dir, sink, &AtomicBool::new(false)).unwrap();
        let rows: Vec<Row> = csv::Reader::from_path(&out.csv)
            .unwrap()
            .deserialize()
            .map(Result::unwrap)
            .collect();
        // The same point with and without a stall: two runs, told apart.
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows.iter().filter(|r| r.stall_ms == Some(5.0)).count(), 1);
        let side = read_side(std::slice::from_ref(&out.csv)).unwrap();
        for r in &rows {
            assert_eq!(r.sample_every, 8);
            let table: Vec<&PercentileRow> = side
                .percentiles
                .iter()
                .filter(|p| p.run_id == r.run_id && p.op == "fault")
                .collect();
            assert_eq!(table.len(), crate::run::latency::TABLE.len(), "{r:?}");
            assert!(table.iter().all(|p| p.samples == r.fault_samples));
            assert_eq!(table.last().map(|p| p.ns), r.fault_max_ns);
            let timeline = side
                .timeline
                .iter()
                .filter(|t| t.run_id == r.run_id)
                .count();
            assert_eq!(timeline > 0, r.stall_ms.is_some(), "{r:?}");
        }
        let latest = read_side(&[dir.join("latest.csv")]).unwrap();
        assert_eq!(latest.percentiles, side.percentiles);
        assert_eq!(latest.timeline, side.timeline);
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
        // Stop once the third run's progress line is written.
        struct StopAfter<'a>(&'a AtomicBool, usize);
        impl Write for StopAfter<'_> {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.1 += usize::from(b.starts_with(b"["));
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
        assert!(!dir.join("latest.canary.csv").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A runner that makes no run: each run of `grid` answers a valid row of
    /// 1000 faults, except the attempts listed in `invalid` (run index,
    /// attempt); each canary answers the next throughput of `canaries`.
    struct Fake<'g> {
        grid: &'g Grid,
        canaries: Vec<f64>,
        invalid: Vec<(usize, u32)>,
        made: Vec<u32>,
        canaries_made: usize,
    }

    impl Fake<'_> {
        fn run(&mut self, spec: &RunSpec) -> Result<Row, Error> {
            let canary = self.grid.canary.as_ref().map(|c| format!("{:?}", c.spec));
            let fps = if canary == Some(format!("{spec:?}")) {
                let f = self.canaries[self.canaries_made.min(self.canaries.len() - 1)];
                self.canaries_made += 1;
                f
            } else {
                let i = self
                    .grid
                    .runs()
                    .iter()
                    .position(|(_, s)| format!("{s:?}") == format!("{spec:?}"))
                    .expect("a run of the grid");
                self.made[i] += 1;
                if self.invalid.contains(&(i, self.made[i] - 1)) {
                    0.0
                } else {
                    1e6
                }
            };
            let (faults, valid) = ((fps / 1e3) as u64, fps > 0.0);
            Ok(Row {
                threads: spec.config.threads,
                joined: if valid { spec.config.threads } else { 0 },
                valid,
                faults,
                faults_per_sec: fps,
                ..Row::example("leak", spec.config.threads, spec.config.churn_pct)
            })
        }
    }

    /// 12 runs, canaries every 4: `canaries` throughputs, run 11's first
    /// attempt not valid; the final rows and the canary timeline.
    fn scripted(canaries: &[f64], attempts: u32, name: &str) -> (Vec<Row>, Vec<Canary>) {
        let dir = std::env::temp_dir().join(format!("vma-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut grid = one(
            study(&[Policy::Leak], &[1, 2], &[0.0, 10.0]),
            3,
            Duration::from_millis(1),
        );
        grid.attempts = attempts;
        grid.canary.as_mut().unwrap().every = 4;
        let mut fake = Fake {
            grid: &grid,
            canaries: canaries.to_vec(),
            invalid: vec![(11, 0)],
            made: vec![0; 12],
            canaries_made: 0,
        };
        let sink = Progress::Lines(Box::new(std::io::sink()));
        let out = sweep_with(&grid, &dir, sink, &AtomicBool::new(false), &mut |s| {
            fake.run(s).map(|row| (row, None))
        })
        .unwrap();
        assert_eq!(out.runs_done, 12);
        let rows = crate::output::results::read_csv(&out.csv).unwrap();
        let canaries = crate::output::results::read_canaries(&canary::path_beside(&out.csv))
            .unwrap()
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        assert_eq!(
            std::fs::read(dir.join("latest.csv")).unwrap(),
            std::fs::read(&out.csv).unwrap()
        );
        std::fs::remove_dir_all(&dir).unwrap();
        (rows, canaries)
    }

    /// The order of pass 0: c0, runs 0-3, c1, runs 4-7, c2, runs 8-11 (run 11
    /// twice: its first attempt is not valid), c3. With c1 at 30 against a
    /// median of 100, the runs nearest it are runs 2 and 3 (before it) and 4
    /// and 5 (after): they are made again after the pass, between two more
    /// canaries at 100, and are then measurements of a normal period.
    #[test]
    fn slow_periods_and_invalid_runs_are_made_again() {
        let (rows, canaries) = scripted(&[100e6, 30e6, 100e6, 100e6, 100e6, 100e6], 3, "slow");
        assert_eq!(rows.len(), 12, "one row per run");
        let ids: std::collections::BTreeSet<&str> =
            rows.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids.len(), 12, "each run once");
        let again: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.attempt > 0)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(again, [2, 3, 4, 5, 11]);
        assert!(rows
            .iter()
            .all(|r| r.attempt <= 1 && r.is_measurement() && !r.slow));
        assert!(rows.iter().all(|r| r.canary_ratio == Some(1.0)), "{rows:?}");
        let ratios: Vec<Option<f64>> = canaries.iter().map(|c| c.ratio).collect();
        assert_eq!(
            ratios,
            [
                Some(1.0),
                Some(0.3),
                Some(1.0),
                Some(1.0),
                Some(1.0),
                Some(1.0)
            ]
        );
        // Runs made before each canary: 0, 4, 8, 13 (run 11 twice), and after
        // the first pass 13 and 17.
        let after: Vec<usize> = canaries.iter().map(|c| c.after_runs).collect();
        assert_eq!(after, [0, 4, 8, 13, 13, 17]);
    }

    /// With one attempt per run, nothing is made again: the slow runs are
    /// flagged with their ratio, and the run whose attempt was not valid is
    /// kept as it was, not valid.
    #[test]
    fn without_attempts_left_slow_runs_are_flagged_and_invalid_ones_kept() {
        let (rows, canaries) = scripted(&[100e6, 30e6, 100e6, 100e6], 1, "flagged");
        assert_eq!(canaries.len(), 4);
        let slow: Vec<usize> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.slow)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(slow, [2, 3, 4, 5]);
        assert!(rows[2..6].iter().all(|r| r.canary_ratio == Some(0.3)));
        assert!(!rows[11].valid && rows.iter().all(|r| r.attempt == 0));
        assert_eq!(rows.iter().filter(|r| r.is_measurement()).count(), 11);
    }
}
