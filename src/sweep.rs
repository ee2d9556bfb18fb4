//! The sweep: every point of a grid of schemes x threads x churn, repeated in
//! interleaved order, one CSV row per run, flushed as soon as the run ends.
//!
//! Each sweep writes a new `sweep-<unix time>.csv` and never overwrites an earlier
//! one; when it completes, `latest.csv` is replaced atomically (write, then rename).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cli::CliError;
use crate::driver::{Limit, RunConfig, Skew};
use crate::run::{run_row, Row, RunSpec};
use crate::schemes::SchemeId;
use crate::space::Layout;

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
    /// Address spaces and mappings.
    pub layout: Layout,
    /// Seed.
    pub seed: u64,
}

impl Grid {
    /// The default sweep: every correct scheme; 1, 2 and doublings up to 4x the
    /// cores; churn 0, 0.1, 1, 10 %; 3 interleaved repetitions of about 1 s.
    pub fn default_for(cores: usize) -> Grid {
        let mut threads = vec![1];
        while threads.last().copied().unwrap_or(1) < 4 * cores.max(1) {
            threads.push(threads.last().copied().unwrap_or(1) * 2);
        }
        Grid {
            schemes: SchemeId::correct().collect(),
            threads,
            churn: vec![0.0, 0.1, 1.0, 10.0],
            skews: vec![Skew::Uniform],
            reps: 3,
            duration: Duration::from_secs(1),
            warmup: Duration::from_millis(100),
            layout: Layout { mms: 2, slots: 64 },
            seed: 1,
        }
    }

    /// A coarse grid that finishes in well under a minute.
    pub fn quick(cores: usize) -> Grid {
        Grid {
            threads: vec![1, 2.max(cores)],
            churn: vec![0.0, 10.0],
            reps: 1,
            duration: Duration::from_millis(200),
            warmup: Duration::from_millis(20),
            ..Grid::default_for(cores)
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
                                limit: Limit::time(self.duration),
                                warmup: self.warmup,
                                skew,
                                seed: self.seed + u64::from(rep),
                            };
                            // One process is one mm: the real kernel always has 1.
                            let layout = if scheme.is_kernel() {
                                Layout {
                                    mms: 1,
                                    ..self.layout
                                }
                            } else {
                                self.layout
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

/// Run `grid`, writing CSV files into `dir`. Returns the new CSV's path.
pub fn sweep(grid: &Grid, dir: &Path, progress: &mut dyn Write) -> Result<PathBuf, CliError> {
    let fail = |what: &str, p: &Path, e: std::io::Error| {
        CliError(format!("{what} '{}': {e}", p.display()))
    };
    fs::create_dir_all(dir).map_err(|e| fail("cannot create output folder", dir, e))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let path = dir.join(format!("sweep-{stamp}.csv"));
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| fail("cannot create", &path, e))?;
    let mut w = csv::Writer::from_writer(file);
    let runs = grid.runs();
    let t0 = Instant::now();
    for (i, (rep, spec)) in runs.iter().enumerate() {
        let row = Row {
            rep: *rep,
            run_id: format!("{stamp}-{i}"),
            ..run_row(spec).map_err(CliError)?
        };
        w.serialize(&row)
            .map_err(|e| CliError(format!("writing '{}': {e}", path.display())))?;
        w.flush().map_err(|e| fail("writing", &path, e))?;
        let done = i + 1;
        let eta = t0
            .elapsed()
            .mul_f64((runs.len() - done) as f64 / done as f64);
        // Progress is best effort: a closed stderr must not stop the sweep.
        let _ = writeln!(
            progress,
            "[{done}/{}] {} threads={} churn={}% rep={}: {:.2} M faults/s, wrong={} (eta {}s)",
            runs.len(),
            row.scheme,
            row.threads,
            row.churn_pct,
            rep,
            row.faults_per_sec / 1e6,
            row.wrong,
            eta.as_secs()
        );
    }
    drop(w);
    let latest = dir.join("latest.csv");
    let tmp = dir.join(".latest.csv.tmp");
    fs::copy(&path, &tmp).map_err(|e| fail("writing", &tmp, e))?;
    fs::rename(&tmp, &latest).map_err(|e| fail("replacing", &latest, e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_grid_reaches_four_times_the_cores() {
        let g = Grid::default_for(2);
        assert_eq!(g.threads, vec![1, 2, 4, 8]);
        assert_eq!(g.runs().len(), 6 * 4 * 4 * 3);
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
        let path = sweep(&grid, &dir, &mut std::io::sink()).unwrap();
        let rows: Vec<Row> = csv::Reader::from_path(&path)
            .unwrap()
            .deserialize()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows.len(), 6 * 2 * 2);
        assert!(
            rows.iter().all(|r| r.wrong == 0 && r.faults > 0),
            "{rows:?}"
        );
        for s in SchemeId::correct() {
            assert_eq!(rows.iter().filter(|r| r.scheme == s.name()).count(), 4);
        }
        let latest = std::fs::read(dir.join("latest.csv")).unwrap();
        assert_eq!(latest, std::fs::read(&path).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
