//! The canary timeline of a sweep: one row per canary run, the short fixed run
//! a sweep makes before its first run, every few runs and after its last, to
//! watch the machine's speed. Written as `sweep-<time>.canary.csv` beside the
//! sweep's CSV; [`Canary`] is the one definition of its columns.

use serde::{Deserialize, Serialize};

/// One canary run: its place in the sweep's timeline and what it measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    /// Identifies the canary run: `<sweep start, unix seconds>-c<seq>`.
    pub canary_id: String,
    /// The machine that ran it.
    pub host: String,
    /// Its index in the sweep's timeline of canaries (0, 1, ...).
    pub seq: usize,
    /// Runs of the sweep made before it (every attempt counted).
    pub after_runs: usize,
    /// When it started, seconds since the sweep started.
    pub at_s: f64,
    /// Worker threads.
    pub threads: usize,
    /// Measured seconds.
    pub duration_s: f64,
    /// Faults served.
    pub faults: u64,
    /// Faults served per second over `duration_s`.
    pub faults_per_sec: f64,
    /// Whether it was a measurement (every worker took part, faults were served).
    pub valid: bool,
    /// `faults_per_sec` over the median of the sweep's valid canaries (empty if
    /// none was valid, or for an invalid canary).
    pub ratio: Option<f64>,
}

impl Canary {
    /// The CSV header, derived from the struct (never kept by hand).
    pub fn header() -> Vec<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        // Serializing a plain struct into memory cannot fail.
        let _ = w.serialize(Canary::default());
        let bytes = w.into_inner().unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let first = text.lines().next().unwrap_or_default();
        first.split(',').map(str::to_string).collect()
    }
}

/// The canary file that belongs beside a sweep's CSV: `x.csv` -> `x.canary.csv`.
pub fn path_beside(csv: &std::path::Path) -> std::path::PathBuf {
    csv.with_extension("canary.csv")
}
