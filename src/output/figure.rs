//! A figure: a title, a grid of panels, each of series over categorical x
//! positions (thread counts, churn rates) on a linear or logarithmic y axis,
//! and a legend strip beside them; drawn to SVG with plotters. What the plots
//! ([`plot`](super::plot)) and the latency plots
//! ([`plot_latency`](super::plot_latency)) both draw with.

use std::collections::BTreeSet;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::output::stats::{format_number, Summary};
use crate::output::style::{
    self, add_legend, draw_line, draw_markers, legend_width, Dash, Entry, Style, DESC_FONT,
    PANEL_FONT, TICK_FONT,
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
        add_legend(&svg, &legend, pw, lw, h)
    }
}

/// The x position of `cores` on a categorical axis of `threads` (ascending,
/// each position one step): between neighbours on a log2 scale, or at the
/// nearest edge of the panel, labelled as beyond the axis, when outside it.
pub(crate) fn cores_position(threads: &[usize], cores: usize) -> Option<(f64, &'static str)> {
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
pub(crate) fn oversubscribed_from(threads: &[usize], cores: usize) -> Option<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
