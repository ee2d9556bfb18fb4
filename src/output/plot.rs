//! The plots: SVG files drawn with plotters from the rows grouped into points
//! ([`Data`]), one rayon task per figure.
//!
//! Every figure is a title, a grid of panels and a legend strip to the right of
//! them (never over data). Every panel has categorical x positions (thread
//! counts, or churn rates) and a linear or logarithmic y axis. A logarithmic
//! axis is drawn as log10 of the values on a linear axis, labelled at its
//! decades; zeros, which a log axis cannot show, sit on a marked floor labelled
//! 0, drawn only where a panel has one. Series look the same in every figure
//! ([`style::style_of`]). On thread axes everything beyond a machine's cores is
//! shaded. The real kernel, far slower than the models (each fault a real one), gets a
//! panel of its own scale.

use std::collections::{BTreeMap, BTreeSet};

use plotters::coord::Shift;
use plotters::prelude::*;
use rayon::prelude::*;

use crate::error::Error;
use crate::output::row::Row;
use crate::output::side::Side;
use crate::output::stats::{churn_label, faults_per_sec, format_number, summarize, Data, Summary};
use crate::output::style::{
    self, draw_legend, draw_line, draw_markers, kernel_style, legend_width, splice_legend,
    style_of, Dash, Entry, Style, DESC_FONT, PANEL_FONT, TICK_FONT,
};

/// `1 thread`, `2 threads`.
pub(crate) fn threads_label(t: usize) -> String {
    format!("{t} thread{}", if t == 1 { "" } else { "s" })
}

/// The shade of the oversubscribed region (threads > cores).
pub(crate) const OVER_SHADE: RGBAColor = RGBAColor(120, 120, 120, 0.16);
/// The floor of a log axis where zeros are drawn.
const FLOOR_COLOR: RGBColor = RGBColor(90, 90, 90);

/// One line of a panel: a label, its look, and (x position, summary) per point.
pub(crate) struct Series {
    pub(crate) label: String,
    pub(crate) style: Style,
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
    /// On thread axes, the machines' cores: where the oversubscribed region
    /// starts (None: beyond the axis) and its legend entry.
    pub(crate) cores_at: Vec<(Option<f64>, String)>,
}

impl Panel {
    /// Whether some value of the panel is zero (drawn on a log axis's floor).
    fn has_zero(&self) -> bool {
        self.log
            && self
                .series
                .iter()
                .flat_map(|s| s.points.iter())
                .any(|(_, v)| v.min <= 0.0)
    }
}

/// The y range of a log panel, in decades: (bottom, top, floor), the floor
/// (one decade below the smallest non-zero value) only where a value is zero.
fn log_bounds(p: &Panel) -> (f64, f64, Option<f64>) {
    let vals = p
        .series
        .iter()
        .flat_map(|s| s.points.iter().flat_map(|(_, v)| [v.min, v.max]))
        .filter(|v| *v > 0.0);
    let (lo, hi) = vals.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = if lo > hi {
        (0.0, 1.0)
    } else {
        let lo = lo.log10().floor();
        (lo, hi.log10().ceil().max(lo + 1.0))
    };
    if p.has_zero() {
        let floor = lo - 1.0;
        (floor - 0.35, hi + 0.05, Some(floor))
    } else {
        (lo - 0.05, hi + 0.05, None)
    }
}

/// A decade's label: 0.001, 0.01, 0.1, 1, 10, 100, 1k, 10k, 100k, 1M, 10M,
/// 100M; `1e-4` and `1e9` beyond.
pub(crate) fn decade_label(k: i32) -> String {
    match k {
        -3..=-1 => format!("{:.*}", (-k) as usize, 10f64.powi(k)),
        0..=2 => format!("{}", 10i64.pow(k as u32)),
        3..=5 => format!("{}k", 10i64.pow((k - 3) as u32)),
        6..=8 => format!("{}M", 10i64.pow((k - 6) as u32)),
        _ => format!("1e{k}"),
    }
}

/// A tick of a linear axis: whole numbers plain, fractions with up to three
/// decimals, thousands and more short.
pub(crate) fn linear_label(v: f64) -> String {
    if v.abs() >= 1e3 {
        return format_number(v);
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let n = p.x_labels.len().max(1);
    let (y_lo, y_hi, floor) = if p.log {
        log_bounds(p)
    } else {
        let hi = p
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|(_, v)| v.max))
            .fold(0.0f64, f64::max);
        (0.0, if hi > 0.0 { hi * 1.08 } else { 1.0 }, None)
    };
    let y = |v: f64| {
        if !p.log {
            v
        } else if v > 0.0 {
            v.log10()
        } else {
            floor.unwrap_or(y_lo)
        }
    };
    let x_hi = n as f64 - 0.5;
    let mut chart = ChartBuilder::on(area)
        .caption(&p.caption, ("sans-serif", PANEL_FONT))
        .margin(10)
        .x_label_area_size(52)
        .y_label_area_size(78)
        .build_cartesian_2d(-0.5f64..x_hi, y_lo..y_hi)
        .map_err(err)?;
    // The oversubscribed region first, under everything else.
    for (start, _) in &p.cores_at {
        if let Some(a) = start {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(*a, y_lo), (x_hi, y_hi)],
                    OVER_SHADE.filled(),
                )))
                .map_err(err)?;
        }
    }
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
            return linear_label(*v);
        }
        let k = v.round();
        if (v - k).abs() > 1e-6 {
            String::new()
        } else if floor.is_some_and(|f| (f - k).abs() < 1e-6) {
            "0".into()
        } else {
            decade_label(k as i32)
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(p.x_desc.as_str())
        .y_desc(p.y_desc.as_str())
        .x_labels(n + 1)
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .disable_x_mesh()
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .label_style(("sans-serif", TICK_FONT))
        .axis_desc_style(("sans-serif", DESC_FONT));
    if p.log {
        mesh.y_labels(((y_hi - y_lo).ceil() as usize + 1).max(2));
    } else {
        mesh.y_labels(6);
    }
    mesh.draw().map_err(err)?;
    if let Some(f) = floor {
        chart
            .draw_series(DashedLineSeries::new(
                [(-0.5, f), (x_hi, f)],
                6,
                4,
                FLOOR_COLOR.stroke_width(1),
            ))
            .map_err(err)?;
    }
    // Series side by side around each x position, so equal values stay visible.
    let step = 0.045;
    let width = step * (p.series.len().saturating_sub(1)) as f64;
    for (i, s) in p.series.iter().enumerate() {
        let dx = step * i as f64 - width / 2.0;
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|(x, v)| (*x + dx, y(v.median)))
            .collect();
        draw_line(&mut chart, pts.clone(), &s.style)?;
        chart
            .draw_series(
                s.points
                    .iter()
                    .filter(|(_, v)| v.max > v.min)
                    .map(|(x, v)| {
                        ErrorBar::new_vertical(
                            *x + dx,
                            y(v.min),
                            y(v.median),
                            y(v.max),
                            s.style.color.stroke_width(1),
                            7,
                        )
                    }),
            )
            .map_err(err)?;
        draw_markers(&mut chart, &pts, &s.style)?;
    }
    Ok(())
}

/// A figure: a title and its panels, laid out in a grid, the legend beside.
pub(crate) struct Figure {
    pub(crate) file: String,
    pub(crate) title: String,
    pub(crate) panels: Vec<Panel>,
}

impl Figure {
    /// The legend: every series once, in order of appearance, then the
    /// oversubscribed shade and the zero floor where a panel has them.
    fn legend(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Vec::new();
        let mut seen = BTreeSet::new();
        for s in self.panels.iter().flat_map(|p| &p.series) {
            if seen.insert(s.label.clone()) {
                entries.push(Entry::Series(s.label.clone(), s.style));
            }
        }
        let mut marks = BTreeSet::new();
        for (start, label) in self.panels.iter().flat_map(|p| &p.cores_at) {
            if marks.insert(label.clone()) {
                entries.push(match start {
                    Some(_) => Entry::Shade(label.clone(), OVER_SHADE),
                    None => Entry::Rule(label.clone(), WHITE, Dash::Solid),
                });
            }
        }
        if self.panels.iter().any(Panel::has_zero) {
            entries.push(Entry::Rule(
                "0: zeros, drawn on this floor".into(),
                FLOOR_COLOR,
                Dash::Dashed(6, 4),
            ));
        }
        entries
    }

    pub(crate) fn render(&self) -> Result<String, String> {
        let n = self.panels.len();
        let cols = match n {
            0 | 1 => 1,
            2 | 4 => 2,
            _ => 3,
        };
        let rows = n.div_ceil(cols).max(1);
        let legend = self.legend();
        let lw = legend_width(&legend);
        let pw = (520 * cols as u32).max(560);
        let title_lines = style::wrap(
            &self.title,
            ((f64::from(pw + lw) - 40.0) / style::TITLE_CHAR_PX) as usize,
        )
        .len() as u32;
        let head = 16 + 26 * title_lines;
        let h = (head + 400 * rows as u32).max(head + 60 + 24 * legend.len() as u32);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (pw + lw, h)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let top = style::draw_title(&root, &self.title)?;
            let (plots, _) = root.split_horizontally(pw);
            let (_, body) = plots.split_vertically(top);
            for (area, panel) in body.split_evenly((rows, cols)).iter().zip(&self.panels) {
                draw_panel(area, panel)?;
            }
            root.present().map_err(|e| e.to_string())?;
        }
        let mut strip = String::new();
        {
            let area = SVGBackend::with_string(&mut strip, (lw, h)).into_drawing_area();
            draw_legend(&area, &legend)?;
            area.present().map_err(|e| e.to_string())?;
        }
        Ok(splice_legend(&svg, &strip, pw))
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

/// Where the region of more threads than `cores` starts on the axis of
/// `threads`: half way to the next thread count after the cores, or at the
/// cores' place between two counts; None when no count on the axis exceeds
/// the cores.
fn oversubscribed_from(threads: &[usize], cores: usize) -> Option<f64> {
    let first_over = threads.iter().position(|&t| t > cores)?;
    if first_over == 0 {
        return Some(-0.5);
    }
    let (x, _) = cores_position(threads, cores)?;
    Some(if (x - x.round()).abs() < 1e-9 {
        x + 0.5
    } else {
        x
    })
}

/// The points of one origin's series (given the origin).
type PointsOf<'d> = Box<dyn Fn(&str) -> Vec<(f64, Summary)> + 'd>;

/// A canary line: its label, look and (minutes, ratio) points.
type CanaryLine = (String, Style, Vec<(f64, f64)>);

/// Which value a series plots.
pub(crate) type Metric<'m> = &'m (dyn Fn(&Row) -> Option<f64> + Sync);

/// Whether a scheme label is the real kernel's.
pub(crate) fn is_kernel(scheme: &str) -> bool {
    scheme == "linux"
}

/// A count per removed mapping (None where nothing was removed or the scheme
/// cannot observe the count).
fn per_unmap(count: Option<u64>, r: &Row) -> Option<f64> {
    (r.unmaps > 0).then_some(count? as f64 / r.unmaps as f64)
}

/// A count per million faults.
fn per_million_faults(count: Option<u64>, r: &Row) -> Option<f64> {
    (r.faults > 0).then_some(count? as f64 * 1e6 / r.faults as f64)
}

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

    /// One series per (origin, scheme) with points, in the order of the
    /// origins and then of the schemes; the real kernel left out when
    /// `models_only`. A series' look comes from its scheme; the second and later
    /// origins' series have hollow markers.
    pub(crate) fn series(
        &self,
        models_only: bool,
        pts: impl Fn(&str, &str) -> Vec<(f64, Summary)>,
    ) -> Vec<Series> {
        let mut out = Vec::new();
        let mut machines: Vec<&str> = Vec::new();
        for host in &self.hosts {
            let machine = self.host_of(host);
            if !machines.contains(&machine) {
                machines.push(machine);
            }
            // A second machine's series: hollow markers.
            let hollow = machines.first() != Some(&machine);
            for scheme in &self.schemes {
                if models_only && is_kernel(scheme) {
                    continue;
                }
                let points = pts(host, scheme);
                if points.is_empty() {
                    continue;
                }
                let label = self.label(host, scheme);
                let mut style = style_of(&label);
                style.hollow = hollow;
                out.push(Series {
                    label,
                    style,
                    points,
                });
            }
        }
        out
    }

    /// The real kernel's series of one metric in a panel of its own, one per
    /// value of the other axis (`others`: (label, points)) and origin.
    fn kernel_series(&self, others: &[(String, PointsOf<'_>)]) -> Vec<Series> {
        let mut out = Vec::new();
        for host in &self.hosts {
            for (label, pts) in others {
                let points = pts(host);
                if points.is_empty() {
                    continue;
                }
                let i = out.len();
                out.push(Series {
                    label: format!("{}, {label}", self.label(host, "linux")),
                    style: kernel_style(i),
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
    /// count, naming the hosts when they differ, with where the oversubscribed
    /// region starts (None: no thread count on the axis is beyond); none for a
    /// machine whose metadata does not give its cores.
    fn cores_marks(&self) -> Vec<(Option<f64>, String)> {
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
                let (_, beyond) = cores_position(&self.threads, c)?;
                let on = if several {
                    format!(
                        " ({})",
                        hosts.iter().copied().collect::<Vec<_>>().join(", ")
                    )
                } else {
                    String::new()
                };
                let from = oversubscribed_from(&self.threads, c);
                let what = if from.is_some() {
                    ": shaded beyond, more threads than cores"
                } else {
                    ": no thread count beyond"
                };
                Some((from, format!("cores = {c}{on}{beyond}{what}")))
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

    /// Whether the real kernel is among the schemes.
    fn has_kernel(&self) -> bool {
        self.schemes.iter().any(|s| is_kernel(s))
    }

    fn figures(&self) -> Vec<Figure> {
        let mfps: Metric = &|r: &Row| faults_per_sec(r).map(|v| v / 1e6);
        let mut figs = Vec::new();
        for skew in &self.skews {
            let mut panels: Vec<Panel> = self
                .churn
                .iter()
                .map(|&c| {
                    self.thread_panel(
                        format!("churn {}", churn_label(c)),
                        "M faults/s",
                        false,
                        self.over_threads(skew, c, mfps, true),
                    )
                })
                .collect();
            if self.has_kernel() {
                let others: Vec<(String, PointsOf<'_>)> = self
                    .churn
                    .iter()
                    .map(|&c| {
                        let f: PointsOf<'_> = Box::new(move |host: &str| {
                            self.threads
                                .iter()
                                .enumerate()
                                .filter_map(|(i, &t)| {
                                    let rows = self.at(host, skew, c, t, "linux");
                                    Some((i as f64, summarize(rows, mfps)?))
                                })
                                .collect()
                        });
                        (format!("churn {}", churn_label(c)), f)
                    })
                    .collect();
                panels.push(self.thread_panel(
                    "the real kernel (linux), its own scale".into(),
                    "M faults/s",
                    false,
                    self.kernel_series(&others),
                ));
            }
            figs.push(Figure {
                file: format!("throughput_vs_threads_{skew}.svg"),
                title: format!("Throughput against threads, {skew} skew"),
                panels,
            });
            let mut panels: Vec<Panel> = self
                .threads
                .iter()
                .map(|&t| {
                    self.churn_panel(
                        format!("{}{}", threads_label(t), self.oversubscribed(t)),
                        "M faults/s",
                        false,
                        self.over_churn(skew, t, mfps, true),
                    )
                })
                .collect();
            if self.has_kernel() {
                let others: Vec<(String, PointsOf<'_>)> = self
                    .threads
                    .iter()
                    .map(|&t| {
                        let f: PointsOf<'_> = Box::new(move |host: &str| {
                            self.churn
                                .iter()
                                .enumerate()
                                .filter_map(|(i, &c)| {
                                    let rows = self.at(host, skew, c, t, "linux");
                                    Some((i as f64, summarize(rows, mfps)?))
                                })
                                .collect()
                        });
                        (threads_label(t), f)
                    })
                    .collect();
                panels.push(self.churn_panel(
                    "the real kernel (linux), its own scale".into(),
                    "M faults/s",
                    false,
                    self.kernel_series(&others),
                ));
            }
            figs.push(Figure {
                file: format!("throughput_vs_churn_{skew}.svg"),
                title: format!("Throughput against churn, {skew} skew"),
                panels,
            });
            figs.push(self.outcomes_figure(skew));
            let peak: Metric = &|r: &Row| r.peak_waiting_bytes.map(|v| v as f64);
            figs.push(Figure {
                file: format!("peak_unreclaimed_{skew}.svg"),
                title: format!("Peak bytes waiting to be reclaimed against threads, {skew} skew"),
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
        figs.extend(self.free_calls_figure());
        for f in &mut figs {
            f.panels.retain(|p| !p.series.is_empty());
        }
        figs.retain(|f| !f.panels.is_empty());
        figs
    }

    /// Reader outcomes per million faults against threads, one panel per
    /// outcome and churn rate (churn 0 only where some model had an outcome
    /// there), models but rwlock (every one of whose faults takes `mmap_lock`).
    fn outcomes_figure(&self, skew: &str) -> Figure {
        type Count = fn(&Row) -> Option<u64>;
        let kinds: [(&str, Count); 3] = [
            ("lock aborts", |r| r.lock_abort),
            ("misses (VMA found detached)", |r| r.lock_miss),
            ("fallbacks to mmap_lock", |r| r.fallbacks),
        ];
        let mut panels = Vec::new();
        for &c in &self.churn {
            let mut row = Vec::new();
            for (what, count) in kinds {
                let m = move |r: &Row| per_million_faults(count(r), r);
                let mut series = self.over_threads(skew, c, &m, true);
                series.retain(|s| !s.label.starts_with("rwlock"));
                row.push(self.thread_panel(
                    format!("{what}, churn {}", churn_label(c)),
                    "per million faults (log scale)",
                    true,
                    series,
                ));
            }
            let any = row
                .iter()
                .flat_map(|p| &p.series)
                .flat_map(|s| &s.points)
                .any(|(_, v)| v.max > 0.0);
            if c > 0 || any {
                panels.extend(row);
            }
        }
        Figure {
            file: format!("reader_outcomes_{skew}.svg"),
            title: format!(
                "Reader outcomes per million faults against threads, {skew} skew (rwlock left out: \
                 all its faults take mmap_lock)"
            ),
            panels,
        }
    }

    /// Free calls per unmap by kind against threads, at the highest churn,
    /// the first skew; models only.
    fn free_calls_figure(&self) -> Option<Figure> {
        let top = self.churn.last().copied().filter(|&c| c > 0)?;
        let skew = self.skews.first()?;
        type Count = fn(&Row) -> Option<u64>;
        let kinds: [(&str, Count); 5] = [
            ("VMA call_rcu", |r| r.vma_call_rcu),
            ("index-node call_rcu", |r| r.node_call_rcu),
            ("slab call_rcu (typesafe's emptied slabs)", |r| {
                r.slab_call_rcu
            }),
            ("VMAs freed at once", |r| r.vma_freed_now),
            ("index nodes freed at once", |r| r.node_freed_now),
        ];
        let panels = kinds
            .into_iter()
            .map(|(what, count)| {
                let m = move |r: &Row| per_unmap(count(r), r);
                self.thread_panel(
                    what.into(),
                    "per unmap (log scale)",
                    true,
                    self.over_threads(skew, top, &m, true),
                )
            })
            .collect();
        Some(Figure {
            file: "free_calls_per_unmap.svg".into(),
            title: format!(
                "Free calls per unmap by kind against threads, churn {}, {skew} skew",
                churn_label(top)
            ),
            panels,
        })
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
    let many = sweeps.len() > 1;
    let lines: Vec<CanaryLine> = sweeps
        .iter()
        .enumerate()
        .map(|(i, ((host, start), pts))| {
            let label = if many {
                format!("sweep {start} @ {host}")
            } else {
                format!("sweep {start}")
            };
            (label, style::cycle_style(i), pts.clone())
        })
        .collect();
    let red = RGBColor(200, 0, 0);
    let mut legend: Vec<Entry> = lines
        .iter()
        .map(|(l, s, _)| Entry::Series(l.clone(), *s))
        .collect();
    if let Some(t) = threshold {
        legend.push(Entry::Rule(
            format!("{t}: below, a run is run again"),
            red,
            Dash::Dashed(6, 4),
        ));
    }
    let render = || -> Result<String, String> {
        let x_hi = lines
            .iter()
            .flat_map(|l| &l.2)
            .map(|p| p.0)
            .fold(0.0f64, f64::max)
            .max(1e-3)
            * 1.02;
        let y_hi = lines
            .iter()
            .flat_map(|l| &l.2)
            .map(|p| p.1)
            .fold(1.0f64, f64::max)
            * 1.1;
        let lw = legend_width(&legend);
        let (pw, h) = (900u32, 460u32);
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (pw + lw, h)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            fn err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
                e.to_string()
            }
            let top = style::draw_title(
                &root,
                "Canary runs over the sweep: the machine's speed against time",
            )?;
            let (plots, _) = root.split_horizontally(pw);
            let (_, body) = plots.split_vertically(top);
            let mut chart = ChartBuilder::on(&body)
                .margin(10)
                .x_label_area_size(52)
                .y_label_area_size(78)
                .build_cartesian_2d(0.0..x_hi, 0.0..y_hi)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("minutes since the sweep started")
                .y_desc("canary faults/s over the sweep's median")
                .x_label_formatter(&|v| linear_label(*v))
                .y_label_formatter(&|v| linear_label(*v))
                .light_line_style(WHITE.mix(0.0))
                .bold_line_style(BLACK.mix(0.12))
                .label_style(("sans-serif", TICK_FONT))
                .axis_desc_style(("sans-serif", DESC_FONT))
                .draw()
                .map_err(err)?;
            if let Some(t) = threshold {
                chart
                    .draw_series(DashedLineSeries::new(
                        [(0.0, t), (x_hi, t)],
                        6,
                        4,
                        red.stroke_width(1),
                    ))
                    .map_err(err)?;
            }
            for (_, s, pts) in &lines {
                draw_line(&mut chart, pts.clone(), s)?;
                draw_markers(&mut chart, pts, s)?;
            }
            root.present().map_err(|e| e.to_string())?;
        }
        let mut strip = String::new();
        {
            let area = SVGBackend::with_string(&mut strip, (lw, h)).into_drawing_area();
            draw_legend(&area, &legend)?;
            area.present().map_err(|e| e.to_string())?;
        }
        Ok(splice_legend(&svg, &strip, pw))
    };
    let file = "canary_timeline.svg".to_string();
    Some(
        render()
            .map(|svg| (file.clone(), svg))
            .map_err(|e| Error(format!("drawing {file}: {}", e.replace('\n', " ")))),
    )
}

/// `a name` as a file name's part: `a-name`.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Every figure of `data`: one set per setup group ([`Data::setup_groups`];
/// with several groups each file name and title says its setup), the latency
/// figures among them, then the canary timeline and the stalled reader's.
pub(crate) fn figures_of(data: &Data<'_>, side: &Side) -> Vec<Figure> {
    let groups = data.setup_groups();
    let several = groups.len() > 1;
    // A group is named by what sets its setup apart from the others'.
    let parts = |k: &str| k.split(", ").map(str::to_string).collect::<Vec<_>>();
    let common: Vec<String> = parts(groups.first().map_or("", |g| g.0.as_str()))
        .into_iter()
        .filter(|p| groups.iter().all(|(k, _)| parts(k).contains(p)))
        .collect();
    let mut out = Vec::new();
    for (key, origins) in &groups {
        let view = data.only(origins);
        let mut figs = view.figures();
        figs.extend(crate::output::plot_latency::figures(&view, side));
        if several {
            let own: Vec<String> = parts(key)
                .into_iter()
                .filter(|p| !common.contains(p) && !p.is_empty())
                .collect();
            let tag = if own.is_empty() {
                "as run".to_string()
            } else {
                own.join(", ")
            };
            for f in &mut figs {
                if let Some(stem) = f.file.strip_suffix(".svg") {
                    f.file = format!("{stem}--{}.svg", slug(&tag));
                }
                f.title = format!("{} [{tag}]", f.title);
            }
        }
        out.extend(figs);
    }
    out
}

/// Draw every figure of `data` in parallel, one rayon task per SVG, into
/// memory: (file name, SVG text) in a stable order. Nothing is written.
pub fn draw_all(data: &Data<'_>, side: &Side) -> Result<Vec<(String, String)>, Error> {
    let figs = figures_of(data, side);
    let drawn: Vec<Result<(String, String), Error>> = figs
        .par_iter()
        .map(|f| {
            let svg = f
                .render()
                .map_err(|e| Error(format!("drawing {}: {}", f.file, e.replace('\n', " "))))?;
            Ok((f.file.clone(), svg))
        })
        .collect();
    let mut out: Vec<(String, String)> = drawn.into_iter().collect::<Result<_, _>>()?;
    out.extend(canary_figure(data).transpose()?);
    out.extend(crate::output::plot_latency::stall_figure(data, side)?);
    Ok(out)
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

    /// The shaded region starts half way past the cores' thread count, at the
    /// cores' place between two counts, at the left edge when every count is
    /// beyond, and is absent when none is.
    #[test]
    fn the_oversubscribed_region_starts_past_the_cores() {
        assert_eq!(oversubscribed_from(&[1, 2, 4, 8], 2), Some(1.5));
        let x = oversubscribed_from(&[1, 2, 4, 8], 3).unwrap();
        assert!(x > 1.0 && x < 2.0, "{x}");
        assert_eq!(oversubscribed_from(&[4, 8], 2), Some(-0.5));
        assert_eq!(oversubscribed_from(&[1, 2], 2), None);
        assert_eq!(oversubscribed_from(&[1, 2], 4), None);
    }

    #[test]
    fn ticks_read_the_same_way_on_every_axis() {
        let decades: Vec<String> = (-4..=9).map(decade_label).collect();
        assert_eq!(
            decades,
            [
                "1e-4", "0.001", "0.01", "0.1", "1", "10", "100", "1k", "10k", "100k", "1M", "10M",
                "100M", "1e9"
            ]
        );
        assert_eq!(linear_label(2.5), "2.5");
        assert_eq!(linear_label(40.0), "40");
        assert_eq!(linear_label(0.125), "0.125");
        assert_eq!(linear_label(-0.0), "0");
        assert_eq!(threads_label(1), "1 thread");
        assert_eq!(threads_label(2), "2 threads");
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
        // Threads 1 and 4: 4 is beyond 2 cores (shaded from half way), not
        // beyond 4.
        assert_eq!(marks[0].0, Some(0.5));
        assert_eq!(marks[1].0, None);

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
