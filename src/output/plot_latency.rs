//! The latency and stalled-reader figures: latency percentiles against threads
//! (from the CSV's columns), the full distributions at chosen points (from the
//! percentile tables beside the CSV) and the stalled reader's timeline (from the
//! timeline beside it). The first two are panels of `plot.rs`; the timeline,
//! whose x axis is time, is drawn here.

use std::collections::BTreeMap;

use plotters::prelude::*;

use crate::error::Error;
use crate::output::figure::{decade_label, linear_label, threads_label, Figure, Panel};
use crate::output::row::Row;
use crate::output::side::{PercentileRow, Side, TimelineRow};
use crate::output::stats::{churn_label, format_number, Data, Summary};
use crate::output::style::{
    self, add_legend, draw_line, legend_width, style_of, Entry, Style, DESC_FONT, PANEL_FONT,
    TICK_FONT,
};

/// The distribution plots' x positions: the tables' percentiles, each one a
/// decade further into the tail (a log scale of 1 / (1 - p)), then the largest.
const PERCENTILES: [(f64, &str); 7] = [
    (50.0, "50%"),
    (90.0, "90%"),
    (99.0, "99%"),
    (99.9, "99.9%"),
    (99.99, "99.99%"),
    (99.999, "99.999%"),
    (100.0, "max"),
];

/// A column of nanoseconds as a metric.
fn ns(f: fn(&Row) -> Option<u64>) -> impl Fn(&Row) -> Option<f64> + Sync {
    move |r| f(r).map(|v| v as f64)
}

/// Latency percentiles against threads, one figure per skew.
fn against_threads(d: &Data<'_>) -> Vec<Figure> {
    let fault_p99 = ns(|r| r.fault_p99_ns);
    let fault_p999 = ns(|r| r.fault_p999_ns);
    let writer_p99 = ns(|r| r.writer_p99_ns);
    let writer_p999 = ns(|r| r.writer_p999_ns);
    let mut figs = Vec::new();
    for skew in &d.skews {
        let mut panels = Vec::new();
        for &c in &d.churn {
            for (what, m) in [("fault p99", &fault_p99), ("fault p99.9", &fault_p999)] {
                panels.push(d.thread_panel(
                    format!("{what}, churn {}", churn_label(c)),
                    "ns (log scale)",
                    true,
                    d.over_threads(skew, c, m, false),
                ));
            }
        }
        for &c in d.churn.iter().filter(|&&c| c > 0) {
            for (what, m) in [
                ("writer p99 (mmap_lock held)", &writer_p99),
                ("writer p99.9 (mmap_lock held)", &writer_p999),
            ] {
                panels.push(d.thread_panel(
                    format!("{what}, churn {}", churn_label(c)),
                    "ns (log scale)",
                    true,
                    d.over_threads(skew, c, m, false),
                ));
            }
        }
        panels.retain(|p| !p.series.is_empty());
        figs.push(Figure {
            file: format!("latency_vs_threads_{skew}.svg"),
            title: format!("Latency percentiles against threads, {skew} skew"),
            panels,
        });
    }
    figs
}

/// The full distributions at 1 thread and at the cores, uniform skew: faults
/// without churn and at the highest churn, writers at the highest churn.
fn distributions(d: &Data<'_>, side: &Side) -> Option<Figure> {
    let skew = d.skews.first()?;
    let top = d.churn.last().copied().filter(|&c| c > 0);
    let mut table: BTreeMap<(&str, &str), Vec<&PercentileRow>> = BTreeMap::new();
    for p in &side.percentiles {
        table
            .entry((p.run_id.as_str(), p.op.as_str()))
            .or_default()
            .push(p);
    }
    let value = |r: &Row, op: &str, pct: f64| {
        table
            .get(&(r.run_id.as_str(), op))?
            .iter()
            .find(|p| (p.percentile - pct).abs() < 1e-9)
            .map(|p| p.ns as f64)
    };
    let mut threads = vec![d.threads.first().copied()?];
    let t = d.threads_at_cores();
    if t != threads[0] {
        threads.push(t);
    }
    let mut panels = Vec::new();
    for &t in &threads {
        let mut cases = vec![("fault", 0)];
        if let Some(c) = top {
            cases.extend([("fault", c), ("writer", c)]);
        }
        for (op, c) in cases {
            let series = d.series(false, |host, scheme| {
                let rows = d.at(host, skew, c, t, scheme);
                PERCENTILES
                    .iter()
                    .enumerate()
                    .filter_map(|(i, &(pct, _))| {
                        Some((
                            i as f64,
                            Summary::of(rows.iter().filter_map(|r| value(r, op, pct)))?,
                        ))
                    })
                    .collect()
            });
            if series.is_empty() {
                continue;
            }
            let what = if op == "fault" {
                "faults"
            } else {
                "writers (mmap_lock held)"
            };
            panels.push(Panel {
                caption: format!(
                    "{what}, churn {}, {}{}",
                    churn_label(c),
                    threads_label(t),
                    d.oversubscribed(t)
                ),
                x_desc: "percentile (log scale of 1 / (1 - p))".into(),
                x_labels: PERCENTILES.iter().map(|(_, l)| l.to_string()).collect(),
                y_desc: "ns (log scale)".into(),
                log: true,
                series,
                cores_at: Vec::new(),
            });
        }
    }
    (!panels.is_empty()).then(|| Figure {
        file: "latency_distribution.svg".into(),
        title: format!("Latency distributions, {skew} skew"),
        panels,
    })
}

/// One line of the timeline: a run's samples.
struct Line<'a> {
    label: String,
    style: Style,
    samples: Vec<&'a TimelineRow>,
}

/// The point the timeline shows: the stalled runs' most threads, then highest
/// churn (threads, churn in thousandths of a percent).
fn timeline_point(d: &Data<'_>) -> Option<(usize, u64)> {
    d.stalled
        .iter()
        .map(|r| (r.threads, (r.churn_pct * 1000.0).round() as u64))
        .max()
}

/// The stalled runs of one churn kind at `point`: one line per scheme (its
/// first run).
fn timeline_lines<'a>(
    d: &Data<'a>,
    side: &'a Side,
    point: (usize, u64),
    kind: &str,
) -> Vec<Line<'a>> {
    let mut by_run: BTreeMap<&str, Vec<&TimelineRow>> = BTreeMap::new();
    for t in &side.timeline {
        by_run.entry(t.run_id.as_str()).or_default().push(t);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let at = |r: &Row| (r.threads, (r.churn_pct * 1000.0).round() as u64) == point;
    for r in d.stalled.iter().filter(|r| r.churn_kind == kind && at(r)) {
        let label = r.label();
        if seen.contains(&label) {
            continue;
        }
        let Some(samples) = by_run.get(r.run_id.as_str()) else {
            continue;
        };
        seen.push(label.clone());
        out.push(Line {
            style: style_of(&label),
            label,
            samples: samples.clone(),
        });
    }
    out
}

/// Draw one timeline panel: `value` of each sample against time, log y (zeros on
/// the floor), the parks of the first line shaded.
fn draw_timeline_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    y_desc: &str,
    lines: &[Line<'_>],
    value: &dyn Fn(&TimelineRow) -> Option<f64>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let t_max = lines
        .iter()
        .flat_map(|l| l.samples.iter().map(|s| s.t_ms))
        .fold(1.0f64, f64::max);
    let vals = lines
        .iter()
        .flat_map(|l| l.samples.iter().filter_map(|s| value(s)))
        .filter(|v| *v > 0.0);
    let (lo, hi) = vals.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo > hi {
        (1.0, 10.0)
    } else {
        let lo = 10f64.powf(lo.log10().floor() - 1.0);
        (lo, 10f64.powf(hi.log10().ceil().max(lo.log10() + 1.0)))
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", PANEL_FONT))
        .margin(10)
        .x_label_area_size(52)
        .y_label_area_size(78)
        .build_cartesian_2d(0.0..t_max, (lo..hi).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("ms since the measured phase opened")
        .y_desc(y_desc)
        .x_label_formatter(&|v| linear_label(*v))
        .y_label_formatter(&|v| {
            let k = v.log10().round();
            if (v.log10() - k).abs() > 1e-6 {
                String::new()
            } else if *v <= lo * 1.0001 {
                "0".into()
            } else {
                decade_label(k as i32)
            }
        })
        .disable_x_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .label_style(("sans-serif", TICK_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT))
        .draw()
        .map_err(err)?;
    // The parks of the first line (every run parks at the same period).
    if let Some(first) = lines.first() {
        let mut start: Option<f64> = None;
        let mut spans = Vec::new();
        for w in first.samples.windows(2) {
            match (w[0].parked, w[1].parked, start) {
                (false, true, _) => start = Some(w[0].t_ms),
                (true, false, Some(s)) => {
                    spans.push((s, w[1].t_ms));
                    start = None;
                }
                _ => {}
            }
        }
        chart
            .draw_series(
                spans
                    .iter()
                    .map(|&(a, b)| Rectangle::new([(a, lo), (b, hi)], PARKED.filled())),
            )
            .map_err(err)?;
    }
    for l in lines {
        let pts: Vec<(f64, f64)> = l
            .samples
            .iter()
            .filter_map(|s| Some((s.t_ms, value(s)?.max(lo))))
            .collect();
        draw_line(&mut chart, pts, &l.style)?;
    }
    Ok(())
}

/// The shade of the stalled reader's parks.
const PARKED: RGBAColor = RGBAColor(120, 120, 120, 0.25);

/// The stalled reader's timeline: per churn kind, the bytes waiting to be
/// reclaimed and the longest writer hold of `mmap_lock` per sample.
fn timeline_svg(d: &Data<'_>, side: &Side) -> Result<Option<String>, String> {
    let Some(point) = timeline_point(d) else {
        return Ok(None);
    };
    let mut kinds: Vec<&str> = d.stalled.iter().map(|r| r.churn_kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let panels: Vec<(String, Vec<Line<'_>>)> = kinds
        .into_iter()
        .map(|k| (k.to_string(), timeline_lines(d, side, point, k)))
        .filter(|(_, l)| !l.is_empty())
        .collect();
    let Some(first) = d.stalled.first() else {
        return Ok(None);
    };
    if panels.is_empty() {
        return Ok(None);
    }
    let title = format!(
        "A reader parked {} ms every {} ms inside its read section, {}, churn {} (one run \
         per scheme)",
        first.stall_ms.map_or("?".into(), format_number),
        first.stall_every_ms.map_or("?".into(), format_number),
        threads_label(point.0),
        churn_label(point.1)
    );
    let mut legend: Vec<Entry> = Vec::new();
    for l in panels.iter().flat_map(|(_, l)| l) {
        if !legend
            .iter()
            .any(|e| matches!(e, Entry::Series(x, _) if *x == l.label))
        {
            legend.push(Entry::Series(l.label.clone(), l.style));
        }
    }
    legend.push(Entry::Shade("reader parked".into(), PARKED));
    legend.push(Entry::Rule(
        "0: zeros, drawn on the bottom edge".into(),
        RGBColor(90, 90, 90),
        style::Dash::Solid,
    ));
    let lw = legend_width(&legend);
    let pw = 1120u32;
    let title_lines = style::wrap(
        &title,
        ((f64::from(pw + lw) - 40.0) / style::TITLE_CHAR_PX) as usize,
    )
    .len() as u32;
    let h = (16 + 26 * title_lines + 420 * panels.len() as u32).max(120 + 24 * legend.len() as u32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (pw + lw, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let top = style::draw_title(&root, &title)?;
        let (plots, _) = root.split_horizontally(pw);
        let (_, body) = plots.split_vertically(top);
        let areas = body.split_evenly((panels.len(), 2));
        for (i, (kind, lines)) in panels.iter().enumerate() {
            draw_timeline_panel(
                &areas[2 * i],
                &format!("bytes waiting to be reclaimed, {kind} churn"),
                "bytes (log scale)",
                lines,
                &|s| s.waiting_bytes.map(|v| v as f64),
            )?;
            draw_timeline_panel(
                &areas[2 * i + 1],
                &format!("longest mmap_lock wait of a writer, {kind} churn"),
                "ns per 1 ms sample (log scale)",
                lines,
                &|s| s.writer_wait_max_ns.map(|v| v as f64),
            )?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    add_legend(&svg, &legend, pw, lw, h).map(Some)
}

/// The latency figures of `d` (percentiles against threads, distributions),
/// not drawn yet.
pub(crate) fn figures(d: &Data<'_>, side: &Side) -> Vec<Figure> {
    let mut figs = against_threads(d);
    figs.extend(distributions(d, side));
    figs.retain(|f| !f.panels.is_empty());
    figs
}

/// The stalled reader's timeline, drawn: (file name, SVG), None without
/// stalled runs.
pub(crate) fn stall_figure(d: &Data<'_>, side: &Side) -> Result<Option<(String, String)>, Error> {
    let file = "stall_timeline.svg";
    Ok(timeline_svg(d, side)
        .map_err(|e| Error(format!("drawing {file}: {}", e.replace('\n', " "))))?
        .map(|svg| (file.to_string(), svg)))
}
