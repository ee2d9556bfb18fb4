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
    let report = vma_bench::output::plot_files(std::slice::from_ref(&done.csv), &plots).unwrap();
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
    // Per skew: threads, churn, outcomes, peak, latency; and free calls and
    // latency distributions.
    assert_eq!(svgs, 2 * 5 + 2);
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
