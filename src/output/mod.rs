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

pub mod canary;
pub mod figure;
pub mod latency_report;
pub mod meta;
pub mod plot;
pub mod plot_latency;
pub mod report;
pub mod results;
pub mod row;
pub mod side;
pub mod stats;
pub mod style;

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::files::write_set;

/// What [`plot_files`] wrote, and what it dropped on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Plotted {
    /// The report (`index.html`).
    pub report: PathBuf,
    /// The SVG files, beside it.
    pub svgs: Vec<PathBuf>,
    /// One line for each thing left out of the figures (rows read twice,
    /// earlier attempts of re-run runs, rows that are not measurements).
    pub notes: Vec<String>,
}

/// Read `csvs` (rows of several machines are told apart by `host`) with the
/// metadata and canary timelines beside them, draw every plot and write the
/// report into `dir`. Everything is read, checked and drawn before anything is
/// written, and then the plots and the report are written as one set
/// ([`write_set`]): on any error nothing in `dir` has changed.
pub fn plot_files(csvs: &[PathBuf], dir: &Path) -> Result<Plotted, Error> {
    // Side files are found beside their CSV (`vma-bench plot results/*.csv`
    // names them too): not CSVs of rows.
    let csvs: Vec<PathBuf> = csvs
        .iter()
        .filter(|p| !side::is_side_file(p))
        .cloned()
        .collect();
    let res = results::read(&csvs)?;
    let side = side::read_side(&csvs)?;
    let data = stats::Data::new(&res.rows, &res.metas).with_canaries(&res.canaries);
    let svgs = plot::draw_all(&data, &side)?;
    let html = report::report_html(&data, &res.metas, &svgs, &res.notes);
    let mut notes = res.notes.clone();
    notes.extend(report::left_out_note(&data));
    let mut files: Vec<(String, Vec<u8>)> = svgs
        .into_iter()
        .map(|(name, svg)| (name, svg.into_bytes()))
        .collect();
    files.push(("index.html".into(), html.into_bytes()));
    write_set(dir, &files)?;
    let (report, svgs): (Vec<PathBuf>, Vec<PathBuf>) = files
        .iter()
        .map(|(name, _)| dir.join(name))
        .partition(|p| p.ends_with("index.html"));
    Ok(Plotted {
        report: report
            .into_iter()
            .next()
            .unwrap_or_else(|| dir.join("index.html")),
        svgs,
        notes,
    })
}
