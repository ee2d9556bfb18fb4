//! The plots: SVG files drawn with plotters from the rows grouped into points
//! ([`Data`]), one rayon task per figure.
//!
//! Every figure is a grid of panels; every panel has categorical x positions
//! (thread counts, or churn rates) and a linear or logarithmic y axis. A
//! logarithmic axis is drawn as log10 of the values on a linear axis, labelled
//! with the values; zeros, which a log axis cannot show, sit on a marked floor.

use std::collections::{BTreeMap, BTreeSet};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rayon::prelude::*;

use crate::error::Error;
use crate::output::row::Row;
use crate::output::stats::{
    churn_label, faults_per_sec, format_number, per_fault, summarize, Data, Summary,
};

pub(crate) fn threads_label(t: usize) -> String {
    format!("{t} thread{}", if t == 1 { "" } else { "s" })
}

pub(crate) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(0, 0, 0),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
];

/// One line of a panel: a label, and (x position, summary) per point.
pub(crate) struct Series {
    pub(crate) label: String,
    pub(crate) color: RGBColor,
    pub(crate) dashed: bool,
    pub(crate) points: Vec<(f64, Summary)>,
}

/// One panel.
pub(crate) struct Panel {
    pub(crate) caption: String,
    pub(crate) x_desc: String,
    /// Labels of the categorical x positions 0, 1, ...
    pub(crate) x_labels: Vec<String>,
    pub(crate) y_desc: String,
    /// Draw log10 of the values; zeros on the floor.
    pub(crate) log: bool,
    pub(crate) series: Vec<Series>,
    /// Where to mark the cores (x position, label), on thread axes.
    pub(crate) cores_at: Vec<(f64, String)>,
}

/// The floor of a log axis, in decades below the smallest non-zero value.
fn log_bounds(series: &[Series]) -> (f64, f64) {
    let vals = series
        .iter()
        .flat_map(|s| s.points.iter().flat_map(|(_, v)| [v.min, v.max]))
        .filter(|v| *v > 0.0);
    let (lo, hi) = vals.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (-1.0, 1.0);
    }
    (
        (lo.log10().floor() - 1.0),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    )
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let n = p.x_labels.len().max(1);
    let (y_lo, y_hi) = if p.log {
        log_bounds(&p.series)
    } else {
        let hi = p
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|(_, v)| v.max))
            .fold(0.0f64, f64::max);
        // Headroom above the data for the legend.
        (0.0, if hi > 0.0 { hi * 1.5 } else { 1.0 })
    };
    // On a log axis a zero is drawn on the floor, half a decade above the bottom.
    let floor = y_lo + 0.5;
    let y = |v: f64| {
        if !p.log {
            v
        } else if v > 0.0 {
            v.log10()
        } else {
            floor
        }
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&p.caption, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(38)
        .y_label_area_size(62)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), y_lo..y_hi)
        .map_err(err)?;
    let labels = p.x_labels.clone();
    let x_fmt = move |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels.len() {
            labels[i as usize].clone()
        } else {
            String::new()
        }
    };
    let log = p.log;
    let y_fmt = move |v: &f64| {
        if !log {
            format_number(*v)
        } else if (v - floor).abs() < 1e-9 {
            "0".into()
        } else {
            format_number(10f64.powf(*v))
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(p.x_desc.as_str())
        .y_desc(p.y_desc.as_str())
        .x_labels(n + 1)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .disable_x_mesh()
        .label_style(("sans-serif", 12));
    if p.log {
        mesh.y_labels((y_hi - y_lo) as usize + 1);
    }
    mesh.draw().map_err(err)?;
    if p.log {
        // The floor where zeros are drawn.
        chart
            .draw_series(DashedLineSeries::new(
                [(-0.5, floor), (n as f64 - 0.5, floor)],
                4,
                4,
                BLACK.mix(0.4).stroke_width(1),
            ))
            .map_err(err)?
            .label("0 (drawn on this floor)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.4)));
        chart
            .draw_series(std::iter::once(Text::new(
                "0",
                (-0.48, floor + 0.05 * (y_hi - y_lo)),
                ("sans-serif", 11).into_font(),
            )))
            .map_err(err)?;
    }
    for (i, (at, label)) in p.cores_at.iter().enumerate() {
        let red = RGBColor(200, 0, 0);
        chart
            .draw_series(DashedLineSeries::new(
                [(*at, y_lo), (*at, y_hi)],
                6,
                4,
                red.mix(0.6).stroke_width(1),
            ))
            .map_err(err)?;
        // Right of the line in the left half of the panel, else left of it;
        // several machines' marks one under the other.
        let h = if *at < (n as f64 - 1.0) / 2.0 {
            HPos::Left
        } else {
            HPos::Right
        };
        let style = ("sans-serif", 11)
            .into_font()
            .color(&red)
            .pos(Pos::new(h, VPos::Top));
        let y_at = y_hi - (y_hi - y_lo) * (0.01 + 0.05 * i as f64);
        chart
            .draw_series(std::iter::once(Text::new(
                format!(" {label} "),
                (*at, y_at),
                style,
            )))
            .map_err(err)?;
    }
    // Series side by side around each x position, so equal values stay visible.
    let width = 0.04 * (p.series.len().saturating_sub(1)) as f64;
    for (i, s) in p.series.iter().enumerate() {
        let dx = 0.04 * i as f64 - width / 2.0;
        let style = s.color.stroke_width(2);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|(x, v)| (*x + dx, y(v.median)))
            .collect();
        let anno = if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(pts.clone(), 8, 4, style))
                .map_err(err)?
        } else {
            chart
                .draw_series(LineSeries::new(pts.clone(), style))
                .map_err(err)?
        };
        let color = s.color;
        anno.label(s.label.as_str()).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
        });
        chart
            .draw_series(s.points.iter().map(|(x, v)| {
                ErrorBar::new_vertical(
                    *x + dx,
                    y(v.min),
                    y(v.median),
                    y(v.max),
                    s.color.stroke_width(1),
                    6,
                )
            }))
            .map_err(err)?;
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 3, s.color.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .label_font(("sans-serif", 11))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// A figure: a title and its panels, laid out in a grid.
pub(crate) struct Figure {
    pub(crate) file: String,
    pub(crate) title: String,
    pub(crate) panels: Vec<Panel>,
}

impl Figure {
    pub(crate) fn render(&self) -> Result<String, String> {
        let cols = self.panels.len().clamp(1, 2);
        let rows = self.panels.len().div_ceil(cols).max(1);
        let (w, h) = ((560 * cols as u32).max(900), 60 + 400 * rows as u32);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let body = root
                .titled(&self.title, ("sans-serif", 20))
                .map_err(|e| e.to_string())?;
            for (area, panel) in body.split_evenly((rows, cols)).iter().zip(&self.panels) {
                draw_panel(area, panel)?;
            }
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(svg)
    }
}

/// The x position of `cores` on a categorical axis of `threads` (ascending,
/// each position one step): between neighbours on a log2 scale, or at the
/// nearest edge of the panel, labelled as beyond the axis, when outside it.
fn cores_position(threads: &[usize], cores: usize) -> Option<(f64, &'static str)> {
    let (&first, &last) = (threads.first()?, threads.last()?);
    if cores < first {
        return Some((-0.45, " (left of the axis)"));
    }
    if cores > last {
        return Some((threads.len() as f64 - 0.55, " (right of the axis)"));
    }
    if let Some(i) = threads.iter().position(|&t| t == cores) {
        return Some((i as f64, ""));
    }
    let c = cores as f64;
    threads.windows(2).enumerate().find_map(|(i, w)| {
        let (a, b) = (w[0] as f64, w[1] as f64);
        (a < c && c < b).then(|| (i as f64 + (c / a).log2() / (b / a).log2(), ""))
    })
}

/// Which value a series plots.
pub(crate) type Metric<'m> = &'m (dyn Fn(&Row) -> Option<f64> + Sync);

impl Data<'_> {
    /// Series over thread positions at one (skew, churn).
    pub(crate) fn over_threads(
        &self,
        skew: &str,
        churn: u64,
        metric: Metric,
        models_only: bool,
    ) -> Vec<Series> {
        self.series(models_only, |host, scheme| {
            self.threads
                .iter()
                .enumerate()
                .filter_map(|(i, &t)| {
                    let s = summarize(self.at(host, skew, churn, t, scheme), metric)?;
                    Some((i as f64, s))
                })
                .collect()
        })
    }

    /// Series over churn positions at one (skew, threads).
    fn over_churn(
        &self,
        skew: &str,
        threads: usize,
        metric: Metric,
        models_only: bool,
    ) -> Vec<Series> {
        self.series(models_only, |host, scheme| {
            self.churn
                .iter()
                .enumerate()
                .filter_map(|(i, &c)| {
                    let s = summarize(self.at(host, skew, c, threads, scheme), metric)?;
                    Some((i as f64, s))
                })
                .collect()
        })
    }

    pub(crate) fn series(
        &self,
        models_only: bool,
        pts: impl Fn(&str, &str) -> Vec<(f64, Summary)>,
    ) -> Vec<Series> {
        let mut out = Vec::new();
        for (hi, host) in self.hosts.iter().enumerate() {
            for (si, scheme) in self.schemes.iter().enumerate() {
                let kernel = scheme == "linux";
                if models_only && kernel {
                    continue;
                }
                let points = pts(host, scheme);
                if points.is_empty() {
                    continue;
                }
                out.push(Series {
                    label: self.label(host, scheme),
                    color: if kernel {
                        BLACK
                    } else {
                        PALETTE[si % PALETTE.len()]
                    },
                    dashed: kernel || hi > 0,
                    points,
                });
            }
        }
        out
    }

    /// A caption's note when `t` threads are more than a machine's cores.
    pub(crate) fn oversubscribed(&self, t: usize) -> &'static str {
        let over = self
            .hosts
            .iter()
            .filter(|o| self.cores_of(o).is_some_and(|c| t > c))
            .count();
        match over {
            0 => "",
            n if n == self.hosts.len() => " (oversubscribed)",
            _ => " (oversubscribed on some machines)",
        }
    }

    /// The marks of the machines' cores on a thread axis: one per distinct
    /// count, naming the hosts when they differ; none for a machine whose
    /// metadata does not give its cores.
    fn cores_marks(&self) -> Vec<(f64, String)> {
        let mut by_cores: BTreeMap<usize, BTreeSet<&str>> = BTreeMap::new();
        for o in &self.hosts {
            let host = self.host_of(o);
            if let Some(c) = self.cores_of(o) {
                by_cores.entry(c).or_default().insert(host);
            }
        }
        let several = by_cores.len() > 1;
        by_cores
            .iter()
            .filter_map(|(&c, hosts)| {
                let (x, beyond) = cores_position(&self.threads, c)?;
                let on = if several {
                    format!(
                        " ({})",
                        hosts.iter().copied().collect::<Vec<_>>().join(", ")
                    )
                } else {
                    String::new()
                };
                Some((x, format!("cores = {c}{on}{beyond}")))
            })
            .collect()
    }

    pub(crate) fn thread_panel(
        &self,
        caption: String,
        y_desc: &str,
        log: bool,
        series: Vec<Series>,
    ) -> Panel {
        Panel {
            caption,
            x_desc: "worker threads".into(),
            x_labels: self.threads.iter().map(|t| t.to_string()).collect(),
            y_desc: y_desc.into(),
            log,
            series,
            cores_at: self.cores_marks(),
        }
    }

    fn churn_panel(&self, caption: String, y_desc: &str, log: bool, series: Vec<Series>) -> Panel {
        Panel {
            caption,
            x_desc: "churn (% of operations that replace a mapping)".into(),
            x_labels: self.churn.iter().map(|&c| churn_label(c)).collect(),
            y_desc: y_desc.into(),
            log,
            series,
            cores_at: Vec::new(),
        }
    }

    fn figures(&self) -> Vec<Figure> {
        let mfps: Metric = &|r: &Row| faults_per_sec(r).map(|v| v / 1e6);
        let t_cores = self.threads_at_cores();
        let kernel_note = if self.schemes.iter().any(|s| s == "linux") {
            " (linux omitted: not observable from user space)"
        } else {
            ""
        };
        // Without churn nothing is unmapped or waits to be freed.
        let no_churn_note = if self.churn.first() == Some(&0) {
            " (0% churn left out: nothing is unmapped)"
        } else {
            ""
        };
        let mut figs = Vec::new();
        for skew in &self.skews {
            figs.push(Figure {
                file: format!("throughput_vs_threads_{skew}.svg"),
                title: format!(
                    "Throughput against threads, {skew} skew (median of reps; bars: min-max)"
                ),
                panels: self
                    .churn
                    .iter()
                    .map(|&c| {
                        self.thread_panel(
                            format!("churn {}", churn_label(c)),
                            "M faults/s",
                            false,
                            self.over_threads(skew, c, mfps, false),
                        )
                    })
                    .collect(),
            });
            figs.push(Figure {
                file: format!("throughput_vs_churn_{skew}.svg"),
                title: format!(
                    "Throughput against churn, {skew} skew (log; median; bars: min-max)"
                ),
                panels: self
                    .threads
                    .iter()
                    .map(|&t| {
                        self.churn_panel(
                            format!("{}{}", threads_label(t), self.oversubscribed(t)),
                            "M faults/s (log scale)",
                            true,
                            self.over_churn(skew, t, mfps, false),
                        )
                    })
                    .collect(),
            });
            let rate = |f: fn(&Row) -> Option<u64>| move |r: &Row| per_fault(f(r), r);
            let abort = rate(|r| r.lock_abort);
            let miss = rate(|r| r.lock_miss);
            let fallback = rate(|r| r.fallbacks);
            figs.push(Figure {
                file: format!("reader_outcomes_{skew}.svg"),
                title: format!(
                    "Reader outcomes per fault at {t_cores} threads, {skew} skew{kernel_note}"
                ),
                panels: vec![
                    self.churn_panel(
                        "lock aborts per fault".into(),
                        "aborts / fault",
                        false,
                        self.over_churn(skew, t_cores, &abort, true),
                    ),
                    self.churn_panel(
                        "misses (VMA found detached) per fault".into(),
                        "misses / fault",
                        false,
                        self.over_churn(skew, t_cores, &miss, true),
                    ),
                    self.churn_panel(
                        "fallbacks to mmap_lock per fault".into(),
                        "fallbacks / fault",
                        false,
                        self.over_churn(skew, t_cores, &fallback, true),
                    ),
                ],
            });
            let peak: Metric = &|r: &Row| r.peak_waiting_bytes.map(|v| v as f64);
            figs.push(Figure {
                file: format!("peak_unreclaimed_{skew}.svg"),
                title: format!(
                    "Peak bytes waiting to be reclaimed against threads, {skew} skew (log){}{kernel_note}",
                    no_churn_note
                ),
                panels: self
                    .churn
                    .iter()
                    .filter(|&&c| c > 0)
                    .map(|&c| {
                        self.thread_panel(
                            format!("churn {}", churn_label(c)),
                            "bytes (log scale)",
                            true,
                            self.over_threads(skew, c, peak, true),
                        )
                    })
                    .collect(),
            });
        }
        let free: Metric = &|r: &Row| r.vma_call_rcu_per_unmap;
        let uniform = self.skews.first().cloned().unwrap_or_default();
        figs.push(Figure {
            file: "free_calls_per_unmap.svg".into(),
            title: format!(
                "Deferred VMA frees (call_rcu) per unmap against churn, {uniform} skew (log){}{kernel_note}",
                no_churn_note
            ),
            panels: self
                .threads
                .iter()
                .map(|&t| {
                    let mut p = self.churn_panel(
                        threads_label(t),
                        "free calls / unmap (log scale)",
                        true,
                        self.over_churn(&uniform, t, free, true),
                    );
                    // Without churn nothing is unmapped: no figure to show.
                    if self.churn.first() == Some(&0) {
                        p.x_labels.remove(0);
                        for s in &mut p.series {
                            s.points.retain(|(x, _)| *x > 0.0);
                            for (x, _) in &mut s.points {
                                *x -= 1.0;
                            }
                        }
                    }
                    p
                })
                .collect(),
        });
        figs.retain(|f| !f.panels.is_empty());
        figs
    }
}

/// The canary timeline: each sweep's canary runs over its minutes, as a ratio
/// to the sweep's median canary, with the threshold below which a run is run
/// again (None where there are no canaries).
fn canary_figure(data: &Data<'_>) -> Option<Result<(String, String), Error>> {
    let canaries = data.canaries();
    // One series per sweep: `<start>-c<seq>` ids share the start.
    let mut sweeps: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    for c in canaries {
        let Some(ratio) = c.ratio.filter(|_| c.valid) else {
            continue;
        };
        let sweep = c.canary_id.rsplit_once("-c").map_or("", |(s, _)| s);
        sweeps
            .entry((c.host.clone(), sweep.to_string()))
            .or_default()
            .push((c.at_s / 60.0, ratio));
    }
    if sweeps.is_empty() {
        return None;
    }
    let threshold = data.canary_threshold();
    let render = || -> Result<String, String> {
        let x_hi = sweeps
            .values()
            .flatten()
            .map(|p| p.0)
            .fold(0.0f64, f64::max)
            .max(1e-3)
            * 1.02;
        let y_hi = sweeps
            .values()
            .flatten()
            .map(|p| p.1)
            .fold(1.0f64, f64::max)
            * 1.3;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (900, 420)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            fn err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
                e.to_string()
            }
            let mut chart = ChartBuilder::on(&root)
                .caption(
                    "Canary runs over the sweep: the machine's speed (ratio to the sweep's median)",
                    ("sans-serif", 17),
                )
                .margin(10)
                .x_label_area_size(38)
                .y_label_area_size(52)
                .build_cartesian_2d(0.0..x_hi, 0.0..y_hi)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("minutes since the sweep started")
                .y_desc("canary faults/s over the median")
                .label_style(("sans-serif", 12))
                .draw()
                .map_err(err)?;
            if let Some(t) = threshold {
                let red = RGBColor(200, 0, 0);
                chart
                    .draw_series(DashedLineSeries::new(
                        [(0.0, t), (x_hi, t)],
                        6,
                        4,
                        red.mix(0.7).stroke_width(1),
                    ))
                    .map_err(err)?
                    .label(format!("{t}: below, a run is run again"))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], red));
            }
            let many = sweeps.len() > 1;
            for (i, ((host, start), pts)) in sweeps.iter().enumerate() {
                let color = PALETTE[i % PALETTE.len()];
                let label = if many {
                    format!("sweep {start} @ {host}")
                } else {
                    format!("sweep {start}")
                };
                chart
                    .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                    .map_err(err)?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                    });
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(err)?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.5))
                .label_font(("sans-serif", 11))
                .draw()
                .map_err(err)?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(svg)
    };
    let file = "canary_timeline.svg".to_string();
    Some(
        render()
            .map(|svg| (file.clone(), svg))
            .map_err(|e| Error(format!("drawing {file}: {}", e.replace('\n', " ")))),
    )
}

/// Draw every figure of `data` in parallel, one rayon task per SVG, into
/// memory: (file name, SVG text) in a stable order. Nothing is written.
pub fn draw_all(data: &Data<'_>) -> Result<Vec<(String, String)>, Error> {
    let figs = data.figures();
    let drawn: Vec<Result<(String, String), Error>> = figs
        .par_iter()
        .map(|f| {
            let svg = f
                .render()
                .map_err(|e| Error(format!("drawing {}: {}", f.file, e.replace('\n', " "))))?;
            Ok((f.file.clone(), svg))
        })
        .collect();
    drawn.into_iter().chain(canary_figure(data)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::stats::tests::{meta, two_hosts};

    #[test]
    fn cores_sit_between_thread_counts_on_a_log_scale() {
        assert_eq!(cores_position(&[1, 2, 4, 8], 2), Some((1.0, "")));
        let (x, _) = cores_position(&[1, 2, 4, 8], 3).unwrap();
        assert!(x > 1.0 && x < 2.0, "{x}");
        // Beyond the axis: marked at its edge and said so.
        let (x, beyond) = cores_position(&[1, 2], 4).unwrap();
        assert!(x > 1.0 && x < 1.5 && beyond.contains("right"), "{x}");
        let (x, beyond) = cores_position(&[4, 8], 2).unwrap();
        assert!(x < 0.0 && x > -0.5 && beyond.contains("left"), "{x}");
        assert_eq!(cores_position(&[], 2), None);
    }

    /// Each machine's cores are marked on the thread axis, named when they differ.
    #[test]
    fn the_thread_axis_marks_each_machines_cores() {
        let rows = two_hosts();
        let d = Data::new(&rows, &[meta("a", 4), meta("b", 2)]);
        assert_eq!(d.oversubscribed(4), " (oversubscribed on some machines)");
        let marks = d.cores_marks();
        assert_eq!(marks.len(), 2, "{marks:?}");
        assert!(marks[0].1.starts_with("cores = 2 (b)"), "{marks:?}");
        assert!(marks[1].1.starts_with("cores = 4 (a)"), "{marks:?}");
        assert_eq!(marks[1].0, 1.0, "4 threads sit at position 1");

        // Without metadata the cores are unknown: nothing is marked or called
        // oversubscribed (never the cores of the machine that draws).
        let d = Data::new(&rows, &[]);
        assert_eq!(d.cores_marks(), []);
        assert_eq!(d.oversubscribed(4), "");
        // A machine with metadata is marked, one without is not.
        let d = Data::new(&rows, &[meta("b", 2)]);
        assert_eq!(d.cores_marks().len(), 1);
        assert_eq!(d.oversubscribed(4), " (oversubscribed on some machines)");
    }
}
