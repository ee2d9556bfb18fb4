//! Output: the CSV row, the metadata beside it, reading them back, and what is
//! drawn from them.
//!
//! [`row::Row`] is the one definition of the CSV's columns and [`meta::Meta`] of
//! the JSON a sweep writes beside it; [`results`] reads both back, refusing
//! anything that is not ours with the file and line named; [`stats`] groups rows
//! into points and summarises them; [`plot`] draws the SVG figures and
//! [`report`] writes the HTML report. Plots and report read only the CSV and
//! its JSON, never a live run: this layer imports only itself, the error type
//! and the file writer.

pub mod latency_report;
pub mod meta;
pub mod plot;
pub mod plot_latency;
pub mod report;
pub mod results;
pub mod row;
pub mod side;
pub mod stats;

use std::path::{Path, PathBuf};

use crate::error::Error;

/// Read `csvs` (rows of several machines are told apart by `host`) and the
/// metadata beside them, draw every plot into `dir` and write the report there.
/// Returns the report's path. Nothing is written if a file is refused.
pub fn plot_files(csvs: &[PathBuf], dir: &Path) -> Result<PathBuf, Error> {
    // Side files are found beside their CSV (`vma-bench plot results/*.csv`
    // names them too): not CSVs of rows.
    let csvs: Vec<PathBuf> = csvs
        .iter()
        .filter(|p| !side::is_side_file(p))
        .cloned()
        .collect();
    let csvs = &csvs[..];
    let (rows, metas) = results::read(csvs)?;
    let side = side::read_side(csvs)?;
    let data = stats::Data::new(&rows, &metas);
    let mut svgs = plot::draw_all(&data, dir)?;
    svgs.extend(plot_latency::draw(&data, &side, dir)?);
    report::write_report(&data, &metas, &svgs, dir)
}
