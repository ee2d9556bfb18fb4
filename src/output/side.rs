//! The files a sweep writes beside its CSV, one small CSV each, every row
//! naming its run (`run_id`, as in the main CSV):
//!
//! - `<stem>.latency.csv`: each run's latency distributions, a percentile
//!   table per kind of operation ([`PercentileRow`]);
//! - `<stem>.timeline.csv`: the runs with a stalled reader over time, one row
//!   per millisecond sample ([`TimelineRow`]).
//!
//! A CSV of rows is `<stem>.csv`; its side files are found from its name, and
//! a side file given where a CSV of rows is expected is skipped
//! ([`is_side_file`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// One percentile of one run's latency distribution of one kind of operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PercentileRow {
    /// The run (the main CSV's `run_id`).
    pub run_id: String,
    /// `fault`, `writer` (every writer operation), `replace`, `munmap`,
    /// `mmap` or `exit`.
    pub op: String,
    /// Operations timed.
    pub samples: u64,
    /// The percentile, 0..=100 (100: the largest value).
    pub percentile: f64,
    /// Its value, ns.
    pub ns: u64,
}

/// One millisecond sample of a run with a stalled reader.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineRow {
    /// The run (the main CSV's `run_id`).
    pub run_id: String,
    /// Milliseconds since the measured phase opened.
    pub t_ms: f64,
    /// Whether the stalled reader was parked inside its read section.
    pub parked: bool,
    /// Removed VMAs not yet back in their cache (empty where not observable).
    pub waiting_vmas: Option<u64>,
    /// Replaced index nodes not yet back in their cache.
    pub waiting_nodes: Option<u64>,
    /// Emptied typesafe slabs waiting for a grace period.
    pub waiting_slabs: Option<u64>,
    /// Bytes of all three.
    pub waiting_bytes: Option<u64>,
    /// Writer operations that ended since the previous sample.
    pub writer_ops: u64,
    /// The longest `mmap_lock` hold among them, ns (empty: none ended).
    pub writer_held_max_ns: Option<u64>,
    /// The longest wait to take `mmap_lock` among them, ns.
    pub writer_wait_max_ns: Option<u64>,
}

/// `<stem>.latency.csv` beside `<stem>.csv`.
pub fn latency_path(csv: &Path) -> PathBuf {
    csv.with_extension("latency.csv")
}

/// `<stem>.timeline.csv` beside `<stem>.csv`.
pub fn timeline_path(csv: &Path) -> PathBuf {
    csv.with_extension("timeline.csv")
}

/// Whether `path` is a side file, not a CSV of rows.
pub fn is_side_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.ends_with(".latency.csv") || name.ends_with(".timeline.csv")
}

/// What the side files of some CSVs hold (empty where a file is absent).
#[derive(Clone, Debug, Default)]
pub struct Side {
    /// Every run's percentile tables.
    pub percentiles: Vec<PercentileRow>,
    /// Every stalled run's timeline.
    pub timeline: Vec<TimelineRow>,
}

/// Read the side files of `csvs`, where they exist; a file that is there but
/// is not ours is refused, naming it and its line.
///
/// A run is counted once, as the rows are: a run whose rows an earlier file
/// gave (the same file twice, or `latest.csv` beside the sweep it copies) is
/// taken from that earlier file only.
pub fn read_side(csvs: &[PathBuf]) -> Result<Side, Error> {
    let mut side = Side::default();
    let mut runs: HashSet<String> = HashSet::new();
    let mut timed: HashSet<String> = HashSet::new();
    for csv in csvs {
        let p: Vec<PercentileRow> = read_rows(&latency_path(csv))?;
        let fresh: HashSet<String> = p
            .iter()
            .map(|r| r.run_id.clone())
            .filter(|id| !runs.contains(id))
            .collect();
        side.percentiles
            .extend(p.into_iter().filter(|r| fresh.contains(&r.run_id)));
        runs.extend(fresh);
        let t: Vec<TimelineRow> = read_rows(&timeline_path(csv))?;
        let fresh: HashSet<String> = t
            .iter()
            .map(|r| r.run_id.clone())
            .filter(|id| !timed.contains(id))
            .collect();
        side.timeline
            .extend(t.into_iter().filter(|r| fresh.contains(&r.run_id)));
        timed.extend(fresh);
    }
    Ok(side)
}

fn read_rows<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, Error> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let name = path.display();
    let mut r =
        csv::Reader::from_path(path).map_err(|e| Error(format!("cannot read '{name}': {e}")))?;
    let mut out = Vec::new();
    for (i, row) in r.deserialize().enumerate() {
        out.push(row.map_err(|e: csv::Error| {
            let line = e.position().map_or(i as u64 + 2, |p| p.line());
            Error(format!(
                "'{name}' line {line}: {}",
                e.to_string().replace('\n', " ")
            ))
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_read_from_two_files_counts_once() {
        let dir = std::env::temp_dir().join(format!("vma-bench-side2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("sweep-1.csv"), dir.join("latest.csv"));
        let tl = "run_id,t_ms,parked,waiting_vmas,waiting_nodes,waiting_slabs,waiting_bytes,\
                  writer_ops,writer_held_max_ns,writer_wait_max_ns\n";
        std::fs::write(
            timeline_path(&a),
            format!("{tl}1-0,1,true,,,,,0,,\n1-0,2,false,,,,,0,,\n"),
        )
        .unwrap();
        // latest.csv copies sweep-1's run 1-0 and has one more, 2-0.
        std::fs::write(
            timeline_path(&b),
            format!("{tl}1-0,1,true,,,,,0,,\n1-0,2,false,,,,,0,,\n2-0,1,true,,,,,0,,\n"),
        )
        .unwrap();
        for files in [vec![a.clone(), a.clone()], vec![a.clone(), b.clone()]] {
            let side = read_side(&files).unwrap();
            let of = |id: &str| side.timeline.iter().filter(|t| t.run_id == id).count();
            let expect_2_0 = usize::from(files[1] == b);
            assert_eq!((of("1-0"), of("2-0")), (2, expect_2_0), "{files:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn side_files_sit_beside_their_csv_and_read_back() {
        let dir = std::env::temp_dir().join(format!("vma-bench-side-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("sweep-7.csv");
        assert_eq!(latency_path(&csv), dir.join("sweep-7.latency.csv"));
        assert_eq!(timeline_path(&csv), dir.join("sweep-7.timeline.csv"));
        assert!(is_side_file(&latency_path(&csv)) && is_side_file(&timeline_path(&csv)));
        assert!(!is_side_file(&csv));
        // No side files: nothing, not an error.
        assert!(read_side(std::slice::from_ref(&csv))
            .unwrap()
            .percentiles
            .is_empty());
        let p = PercentileRow {
            run_id: "7-0".into(),
            op: "fault".into(),
            samples: 10,
            percentile: 99.9,
            ns: 120,
        };
        let mut w = csv::Writer::from_path(latency_path(&csv)).unwrap();
        w.serialize(&p).unwrap();
        drop(w);
        std::fs::write(timeline_path(&csv), "run_id,t_ms\n7-0,not a number\n").unwrap();
        let e = read_side(std::slice::from_ref(&csv)).unwrap_err();
        assert!(e.0.contains("sweep-7.timeline.csv' line 2"), "{e}");
        std::fs::remove_file(timeline_path(&csv)).unwrap();
        let side = read_side(&[csv]).unwrap();
        assert_eq!(side.percentiles, [p]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
