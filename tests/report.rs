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
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let drawn = Drawn::of(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        drawn.check(&file);
        if file == "canary_timeline.svg" {
            // One series (this sweep) and the threshold.
            let legend = &drawn.legend_texts;
            assert!(legend.iter().any(|l| l.starts_with("sweep ")), "{legend:?}");
            assert!(
                legend.iter().any(|l| l.starts_with("0.8: below")),
                "{legend:?}"
            );
            continue;
        }
        // Which schemes the figure shows: the plots of reclamation columns
        // leave out the real kernel, the outcomes rwlock too (every one of its
        // faults falls back, said in the title).
        let models_only = ["reader_outcomes", "peak_unreclaimed", "free_calls"]
            .iter()
            .any(|p| file.starts_with(p));
        let shown: Vec<&str> = names
            .iter()
            .copied()
            .filter(|s| !(models_only && *s == "linux"))
            .filter(|s| !(file.starts_with("reader_outcomes") && *s == "rwlock"))
            .collect();
        for s in &shown {
            let label = if *s == "linux" {
                "linux (real kernel)"
            } else {
                s
            };
            // A series is named in the legend alone, or with what sets it
            // apart (the real kernel's panel: `linux (real kernel), churn 0%`).
            let named = |l: &String| l == label || l.starts_with(&format!("{label},"));
            assert!(
                drawn.legend_texts.iter().any(named),
                "{file} has no series for {s}: {:?}",
                drawn.legend_texts
            );
        }
        for s in names.iter().filter(|s| !shown.contains(s)) {
            assert!(
                !drawn.legend_texts.iter().any(|l| l.starts_with(*s)),
                "{file} shows {s}"
            );
        }
        // At least one drawn line per series, besides axes and legend.
        assert!(
            drawn.lines >= shown.len(),
            "{file}: {} lines for {} schemes",
            drawn.lines,
            shown.len()
        );
        assert!(
            drawn.legend_texts.iter().any(|l| l.starts_with("cores = "))
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
    in_a_browser(&report, &dir);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A rectangle: left, top, right, bottom.
type Box4 = (f64, f64, f64, f64);

/// What an SVG of ours draws: its size, the legend's box and entries, and
/// every data mark (line, polyline, polygon, circle) outside the legend as
/// segments in the SVG's pixels.
struct Drawn {
    size: (f64, f64),
    legend_boxes: Vec<Box4>,
    legend_texts: Vec<String>,
    /// Segments of the marks outside the legend.
    segments: Vec<((f64, f64), (f64, f64))>,
    /// Polylines outside the legend (lines of series, axes).
    lines: usize,
    /// Every text's font size, px, with the text.
    fonts: Vec<(f64, String)>,
}

/// The translation of `n` and its ancestors (`transform="translate(x,y)"`).
fn offset(n: roxmltree::Node<'_, '_>) -> (f64, f64) {
    n.ancestors()
        .filter_map(|a| a.attribute("transform"))
        .filter_map(|t| {
            let inner = t.strip_prefix("translate(")?.strip_suffix(')')?;
            let (x, y) = inner.split_once(',').unwrap_or((inner, "0"));
            Some((x.trim().parse::<f64>().ok()?, y.trim().parse::<f64>().ok()?))
        })
        .fold((0.0, 0.0), |(x, y), (dx, dy)| (x + dx, y + dy))
}

/// `x1,y1 x2,y2 ...` as points.
fn points(s: &str) -> Vec<(f64, f64)> {
    s.split_whitespace()
        .filter_map(|p| {
            let (x, y) = p.split_once(',')?;
            Some((x.parse().ok()?, y.parse().ok()?))
        })
        .collect()
}

impl Drawn {
    fn of(text: &str) -> Result<Drawn, String> {
        let doc = roxmltree::Document::parse(text).map_err(|e| format!("not XML: {e}"))?;
        let root = doc.root_element();
        let num = |n: roxmltree::Node<'_, '_>, a: &str| -> f64 {
            n.attribute(a).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        };
        let mut d = Drawn {
            size: (num(root, "width"), num(root, "height")),
            legend_boxes: Vec::new(),
            legend_texts: Vec::new(),
            segments: Vec::new(),
            lines: 0,
            fonts: Vec::new(),
        };
        for n in doc.descendants().filter(|n| n.is_element()) {
            let in_legend = n
                .ancestors()
                .any(|a| a.attribute("class") == Some("legend"));
            let (dx, dy) = offset(n);
            let at = |(x, y): (f64, f64)| (x + dx, y + dy);
            match n.tag_name().name() {
                "text" => {
                    let t = n.text().unwrap_or("").trim().to_string();
                    d.fonts.push((num(n, "font-size"), t.clone()));
                    if in_legend {
                        d.legend_texts.push(t);
                    }
                }
                "rect" if in_legend => {
                    let (x, y) = at((num(n, "x"), num(n, "y")));
                    let (w, h) = (num(n, "width"), num(n, "height"));
                    // The frame: the largest rectangle of the legend.
                    if w > 100.0 && h > 10.0 {
                        d.legend_boxes.push((x, y, x + w, y + h));
                    }
                }
                _ if in_legend => {}
                "polyline" | "polygon" => {
                    let mut p: Vec<(f64, f64)> = points(n.attribute("points").unwrap_or(""))
                        .into_iter()
                        .map(at)
                        .collect();
                    if n.tag_name().name() == "polygon" {
                        p.extend(p.first().copied());
                    } else {
                        d.lines += 1;
                    }
                    d.segments.extend(p.windows(2).map(|w| (w[0], w[1])));
                }
                "line" => {
                    let a = at((num(n, "x1"), num(n, "y1")));
                    let b = at((num(n, "x2"), num(n, "y2")));
                    d.segments.push((a, b));
                }
                "circle" => {
                    let (x, y) = at((num(n, "cx"), num(n, "cy")));
                    let r = num(n, "r");
                    d.segments.push(((x - r, y), (x + r, y)));
                    d.segments.push(((x, y - r), (x, y + r)));
                }
                _ => {}
            }
        }
        Ok(d)
    }

    /// One legend, inside the figure, over no data mark or error bar; every
    /// text at least 12 px.
    fn check(&self, file: &str) {
        assert_eq!(self.legend_boxes.len(), 1, "{file}: one legend box");
        let b = self.legend_boxes[0];
        assert!(
            b.0 >= 0.0 && b.1 >= 0.0 && b.2 <= self.size.0 && b.3 <= self.size.1,
            "{file}: legend {b:?} outside the figure {:?}",
            self.size
        );
        assert!(!self.segments.is_empty(), "{file}: no data drawn");
        for &(p, q) in &self.segments {
            assert!(
                !crosses(p, q, b),
                "{file}: a mark from {p:?} to {q:?} crosses the legend {b:?}"
            );
        }
        for (px, t) in &self.fonts {
            assert!(*px >= 12.0, "{file}: {px} px text {t:?}");
        }
    }
}

/// Whether the segment from `p` to `q` meets the rectangle `b` (Liang-Barsky).
fn crosses(p: (f64, f64), q: (f64, f64), b: Box4) -> bool {
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (pk, qk) in [
        (-dx, p.0 - b.0),
        (dx, b.2 - p.0),
        (-dy, p.1 - b.1),
        (dy, b.3 - p.1),
    ] {
        if pk == 0.0 {
            if qk < 0.0 {
                return false;
            }
        } else {
            let r = qk / pk;
            if pk < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    t0 <= t1
}

#[test]
fn the_legend_check_sees_a_mark_under_a_legend() {
    let b = (10.0, 10.0, 20.0, 20.0);
    assert!(crosses((0.0, 15.0), (30.0, 15.0), b), "through");
    assert!(crosses((12.0, 12.0), (13.0, 13.0), b), "inside");
    assert!(!crosses((0.0, 0.0), (5.0, 30.0), b), "beside");
    assert!(!crosses((0.0, 25.0), (30.0, 25.0), b), "below");
    // A legend drawn over a series' line is caught.
    let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\" height=\"100\">\
               <polyline points=\"0,50 100,50\"/>\
               <g class=\"legend\" transform=\"translate(40,0)\">\
               <rect x=\"0\" y=\"40\" width=\"150\" height=\"20\"/>\
               <text font-size=\"12.5\">typesafe</text></g></svg>";
    let d = Drawn::of(svg).unwrap();
    assert_eq!(d.legend_boxes, [(40.0, 40.0, 190.0, 60.0)]);
    assert_eq!(d.legend_texts, ["typesafe"]);
    assert!(crosses(d.segments[0].0, d.segments[0].1, d.legend_boxes[0]));
}

/// The report rendered by a real browser (scripts/screenshot, Debian's
/// chromium, headless) is not blank: many colours, and the figures' colours
/// among them. Skipped with a note where no chromium is installed, unless
/// VMA_BENCH_REQUIRE_BROWSER=1 (CI).
fn in_a_browser(report: &std::path::Path, dir: &std::path::Path) {
    let png = dir.join("report.png");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/screenshot");
    let status = std::process::Command::new(script)
        .arg(report)
        .arg(&png)
        .args(["1400", "5000"])
        .status()
        .unwrap();
    if status.code() == Some(3) {
        assert!(
            std::env::var_os("VMA_BENCH_REQUIRE_BROWSER").is_none(),
            "no chromium, and VMA_BENCH_REQUIRE_BROWSER is set"
        );
        eprintln!("note: no chromium installed: the report was not rendered in a browser");
        return;
    }
    assert!(status.success(), "scripts/screenshot failed: {status}");
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let mut colours = std::collections::BTreeSet::new();
    let (mut ink, mut hue) = (0usize, 0usize);
    for p in &pixels {
        colours.insert((p[0], p[1], p[2]));
        let (hi, lo) = (p[0].max(p[1]).max(p[2]), p[0].min(p[1]).min(p[2]));
        if hi < 250 || lo < 250 {
            ink += 1;
        }
        // A saturated pixel: a series' colour, not text or grey.
        if hi - lo > 80 {
            hue += 1;
        }
    }
    assert!(colours.len() > 50, "{} colours: blank?", colours.len());
    assert!(
        ink * 100 > pixels.len(),
        "{ink} of {} pixels not white",
        pixels.len()
    );
    assert!(hue > 2000, "{hue} coloured pixels: no figure drawn?");
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
        let figures = |h: &str| h[h.find("<h2 id=\"machine\">").unwrap()..].to_string();
        assert_eq!(figures(&html), figures(&html_once));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
