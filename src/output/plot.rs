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

use plotters::prelude::*;
use rayon::prelude::*;

use crate::error::Error;
use crate::output::figure::{
    cores_position, linear_label, oversubscribed_from, threads_label, Figure, Panel, Series,
};
use crate::output::row::Row;
use crate::output::side::Side;
use crate::output::stats::{churn_label, faults_per_sec, summarize, Data, Summary};
use crate::output::style::{
    self, add_legend, draw_line, draw_markers, kernel_style, legend_width, style_of, Dash, Entry,
    Style, DESC_FONT, TICK_FONT,
};

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
        add_legend(&svg, &legend, pw, lw, h)
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
