//! The sweep end to end, at a tiny size: CSV, metadata, every plot and the report.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use vma_bench::run::sweep::{sweep, Grid, Progress};
use vma_bench::schemes::SchemeId;
use vma_bench::{Row, Skew};

#[test]
fn a_tiny_sweep_gives_rows_plots_and_a_report_naming_every_scheme() {
    let dir = std::env::temp_dir().join(format!("vma-bench-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut grid = Grid {
        reps: 2,
        duration: Duration::from_millis(20),
        warmup: Duration::ZERO,
        // Enough timed writers in 20 ms for every scheme's latency panels.
        sample_every: 16,
        ..Grid::default_for(2)
    };
    grid.studies.truncate(1);
    // A short canary, every 8 runs as by default.
    let canary = grid.canary.as_mut().unwrap();
    canary.spec.config.limit = vma_bench::Limit::time(Duration::from_millis(5));
    let study = &mut grid.studies[0];
    study.threads = vec![1, 2];
    study.churn = vec![0.0, 10.0];
    study.kinds.truncate(1);
    study.skews = vec![Skew::Uniform, Skew::Hot];
    let study = grid.studies[0].clone();
    let sink = Progress::Lines(Box::new(std::io::sink()));
    let done = sweep(&grid, &dir, sink, &AtomicBool::new(false)).unwrap();
    let rows: Vec<Row> = csv::Reader::from_path(&done.csv)
        .unwrap()
        .deserialize()
        .map(Result::unwrap)
        .collect();
    // A row for every point and repetition, every answer right.
    let mut names: Vec<String> = rows.iter().map(Row::label).collect();
    names.sort();
    names.dedup();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(
        names.len(),
        study.schemes.len(),
        "one label per scheme: {names:?}"
    );
    for s in &names {
        for t in &study.threads {
            for c in &study.churn {
                for k in ["uniform", "hot"] {
                    let n = rows
                        .iter()
                        .filter(|r| {
                            r.label() == *s && r.threads == *t && r.churn_pct == *c && r.skew == k
                        })
                        .count();
                    assert_eq!(n, 2, "{s} {t} {c} {k}");
                }
            }
        }
    }
    assert_eq!(rows.len(), names.len() * 2 * 2 * 2 * 2);
    assert!(rows.iter().all(|r| r.wrong == 0 && r.faults > 0));

    let plots = dir.join("plots");
    let report = vma_bench::output::plot_files(std::slice::from_ref(&done.csv), &plots)
        .unwrap()
        .report;
    let mut svgs = 0;
    for entry in std::fs::read_dir(&plots).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "svg") {
            continue;
        }
        svgs += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = roxmltree::Document::parse(&text)
            .unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
        let labels: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(str::trim))
            .collect();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if file == "canary_timeline.svg" {
            // One series (this sweep) and the threshold.
            assert!(labels.iter().any(|l| l.starts_with("sweep ")), "{labels:?}");
            assert!(
                labels.iter().any(|l| l.starts_with("0.8: below")),
                "{labels:?}"
            );
            continue;
        }
        // The plots of reclamation columns leave out the real kernel.
        let models_only = ["reader_outcomes", "peak_unreclaimed", "free_calls"]
            .iter()
            .any(|p| file.starts_with(p));
        let mut shown = 0;
        for s in &names {
            let label = if *s == "linux" {
                "linux (real kernel)"
            } else {
                s
            };
            if *s == "linux" && models_only {
                assert!(!labels.contains(&label), "{file} shows linux");
                continue;
            }
            assert!(labels.contains(&label), "{file} has no series for {s}");
            shown += 1;
        }
        // One legend entry per shown scheme in every panel, the same number
        // for each, and at least one drawn line (polyline) per entry.
        let entries: Vec<usize> = names
            .iter()
            .filter(|s| !(models_only && **s == "linux"))
            .map(|s| {
                let label = if *s == "linux" {
                    "linux (real kernel)"
                } else {
                    s
                };
                labels.iter().filter(|l| **l == label).count()
            })
            .collect();
        let panels = entries[0];
        assert!(
            panels >= 1 && entries.iter().all(|&n| n == panels),
            "{file}: legend entries per scheme {entries:?}"
        );
        let lines = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .count();
        assert!(
            lines >= shown * panels,
            "{file}: {lines} lines for {shown} schemes in {panels} panels"
        );
        assert!(
            labels.iter().any(|l| l.starts_with("cores = "))
                || !file.contains("threads") && !file.contains("peak"),
            "{file} marks no cores"
        );
    }
    // Per skew: threads, churn, outcomes, peak, latency; free calls, latency
    // distributions and the canary.
    assert_eq!(svgs, 2 * 5 + 1 + 1 + 1);
    let html = std::fs::read_to_string(&report).unwrap();
    for s in &names {
        assert!(
            html.contains(&format!("<td>{s}")) || html.contains(&format!("<td>{s} ")),
            "report lacks {s}"
        );
    }
    assert!(!html.contains("<img") && !html.contains("src="));
    assert!(!html.contains("href=\"http") && !html.contains("<link"));
    // Every plot inlined.
    assert_eq!(html.matches("<svg").count(), svgs, "every SVG inlined");
    assert!(html.contains("wrong = 0 in every row"));
    // The canary: before the first run, every 8 runs and after the last.
    let canaries = std::fs::read_to_string(done.csv.with_extension("canary.csv")).unwrap();
    let planned = rows.len().div_ceil(8) + 1;
    assert!(canaries.lines().count() > planned, "{canaries}");
    assert!(
        html.contains("Canary runs, the machine's speed"),
        "canary finding"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plot_refuses_a_foreign_csv_naming_file_and_line() {
    let dir = std::env::temp_dir().join(format!("vma-bench-foreign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("other.csv");
    std::fs::write(&csv, "a,b\n1,2\n").unwrap();
    let before = std::fs::read_dir(&dir).unwrap().count();
    let e = vma_bench::output::plot_files(&[csv], &dir.join("plots")).unwrap_err();
    assert!(e.0.contains("other.csv' line 1"), "{e}");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        before,
        "nothing written"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(SchemeId::parse_label("typesafe/epoch").is_some());
}

/// A CSV of `rows` in `dir`.
fn write_csv(dir: &std::path::Path, name: &str, rows: &[Row]) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut w = csv::Writer::from_path(&path).unwrap();
    for r in rows {
        w.serialize(r).unwrap();
    }
    w.flush().unwrap();
    path
}

/// Every file under `dir` (recursively, hidden ones too) with its content.
fn tree(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(tree(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

/// Rows of two schemes at two thread counts, each with its own run id.
fn good_rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for (i, (s, t)) in [("leak", 1), ("leak", 2), ("typesafe", 1), ("typesafe", 2)]
        .into_iter()
        .enumerate()
    {
        rows.push(Row {
            run_id: format!("9-{i}"),
            ..Row::example(s, t, 0.0)
        });
    }
    rows
}

/// A file with one bad value leaves an earlier report and its plots exactly as
/// they were, and the error names the CSV's line and column, not a temporary
/// file.
#[test]
fn a_bad_file_changes_nothing_in_an_earlier_report() {
    let dir = std::env::temp_dir().join(format!("vma-bench-whole-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let plots = dir.join("plots");
    let good = write_csv(&dir, "good.csv", &good_rows());
    let first = vma_bench::output::plot_files(std::slice::from_ref(&good), &plots).unwrap();
    assert!(first.svgs.len() >= 2 && first.report.exists());
    let before = tree(&plots);
    assert_eq!(
        before.len(),
        first.svgs.len() + 1,
        "only the set is written"
    );

    let mut rows = good_rows();
    for r in &mut rows {
        r.skew = "s".repeat(300);
    }
    rows[0].skew = "uniform".into();
    let bad = write_csv(&dir, "long.csv", &rows);
    let e = vma_bench::output::plot_files(std::slice::from_ref(&bad), &plots).unwrap_err();
    assert!(
        e.0.contains("long.csv' line 3, column 'skew'") && e.0.contains("300 characters"),
        "{e}"
    );
    assert!(!e.0.contains(".vma-bench") && !e.0.contains(".tmp"), "{e}");
    assert_eq!(tree(&plots), before, "nothing written, nothing left behind");

    // A good file and a bad one: still nothing.
    let e = vma_bench::output::plot_files(&[good.clone(), bad], &plots).unwrap_err();
    assert!(e.0.contains("long.csv"), "{e}");
    assert_eq!(tree(&plots), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The same runs given twice (one file twice, or a copy of it) are counted
/// once, with a note; the report says so.
#[test]
fn the_same_runs_given_twice_are_counted_once() {
    let dir = std::env::temp_dir().join(format!("vma-bench-twice-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let a = write_csv(&dir, "a.csv", &good_rows());
    let copy = write_csv(&dir, "latest.csv", &good_rows());
    let once = vma_bench::output::plot_files(std::slice::from_ref(&a), &dir.join("once")).unwrap();
    assert!(once.notes.is_empty(), "{:?}", once.notes);
    let html_once = std::fs::read_to_string(&once.report).unwrap();
    for (files, note) in [
        (vec![a.clone(), a.clone()], "given more than once"),
        (vec![a.clone(), copy], "4 rows read twice"),
    ] {
        let twice = vma_bench::output::plot_files(&files, &dir.join("twice")).unwrap();
        assert_eq!(twice.notes.len(), 1, "{:?}", twice.notes);
        assert!(twice.notes[0].contains(note), "{:?}", twice.notes);
        let html = std::fs::read_to_string(&twice.report).unwrap();
        assert!(
            html.contains("Every one of the 4 measured runs"),
            "counted once"
        );
        // The same figures as from the file read once: only the notes differ.
        let figures = |h: &str| h[h.find("<h2>Machine").unwrap()..].to_string();
        assert_eq!(figures(&html), figures(&html_once));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
