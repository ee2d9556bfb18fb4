//! How a series looks, and the legend that says so.
//!
//! One table, keyed by the series label ([`style_of`]), gives every scheme and
//! RCU flavour its own colour, marker and dash, the same in every figure. The
//! colour family says the free policy (Okabe-Ito's colour-blind-safe palette:
//! typesafe blue, deferred vermillion/orange, hazard bluish green, rwlock reddish
//! purple, leak grey, the real kernel black); within a family each flavour has its
//! own lightness, marker and dash, so two series differ in at least two ways even
//! where colour vision cannot tell them apart. A second machine's series of the
//! same scheme have hollow markers.
//!
//! Legends are drawn in a strip of their own beside the panels
//! ([`draw_legend`]), never over data, and spliced into the figure's SVG as
//! `<g class="legend">` ([`splice_legend`]) so that a check can find them.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Font sizes, in plotters' units (the SVG's `font-size` is the size / 1.24):
/// ticks and legend entries at least 12 px in the SVG.
pub(crate) const TICK_FONT: f64 = 15.5;
/// Axis descriptions.
pub(crate) const DESC_FONT: f64 = 16.5;
/// A panel's caption.
pub(crate) const PANEL_FONT: f64 = 18.0;
/// A figure's title.
pub(crate) const TITLE_FONT: f64 = 22.0;
/// Legend entries.
pub(crate) const LEGEND_FONT: f64 = 15.5;

/// A marker's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Marker {
    /// A circle (drawn as a 12-gon).
    Circle,
    /// A square.
    Square,
    /// A triangle, point up.
    TriangleUp,
    /// A triangle, point down.
    TriangleDown,
    /// A diamond.
    Diamond,
    /// An X.
    Cross,
}

/// A line's dash pattern, in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dash {
    /// Unbroken.
    Solid,
    /// Dashes of the first length with gaps of the second.
    Dashed(u32, u32),
}

/// How one series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Style {
    /// Line, marker and error bars.
    pub(crate) color: RGBColor,
    /// The marker at each point.
    pub(crate) marker: Marker,
    /// The line between points.
    pub(crate) dash: Dash,
    /// An outlined marker (a second machine's series).
    pub(crate) hollow: bool,
}

/// Okabe-Ito, with shades of each hue for the flavours of one policy.
mod color {
    use plotters::style::RGBColor;
    pub(super) const BLACK: RGBColor = RGBColor(0, 0, 0);
    pub(super) const BLUE: RGBColor = RGBColor(0, 114, 178);
    pub(super) const SKY: RGBColor = RGBColor(86, 180, 233);
    pub(super) const NAVY: RGBColor = RGBColor(0, 62, 110);
    pub(super) const STEEL: RGBColor = RGBColor(40, 140, 200);
    pub(super) const VERMILLION: RGBColor = RGBColor(213, 94, 0);
    pub(super) const ORANGE: RGBColor = RGBColor(230, 159, 0);
    pub(super) const BROWN: RGBColor = RGBColor(140, 60, 0);
    pub(super) const AMBER: RGBColor = RGBColor(190, 130, 0);
    pub(super) const GREEN: RGBColor = RGBColor(0, 158, 115);
    pub(super) const PURPLE: RGBColor = RGBColor(204, 121, 167);
    pub(super) const GREY: RGBColor = RGBColor(110, 110, 110);
    /// Paul Tol's muted palette, for labels outside the table (broken twins).
    pub(super) const OTHERS: [RGBColor; 9] = [
        RGBColor(51, 34, 136),
        RGBColor(136, 204, 238),
        RGBColor(68, 170, 153),
        RGBColor(17, 119, 51),
        RGBColor(153, 153, 51),
        RGBColor(221, 204, 119),
        RGBColor(204, 102, 119),
        RGBColor(136, 34, 85),
        RGBColor(170, 68, 153),
    ];
}

/// The flavours, in the order of their shades, markers and dashes.
const FLAVOURS: [&str; 4] = ["urcu-qsbr", "urcu-memb", "epoch", "seize"];
const FLAVOUR_MARKERS: [Marker; 4] = [
    Marker::Circle,
    Marker::Square,
    Marker::TriangleUp,
    Marker::Diamond,
];
/// Dashes of series outside the table.
const FLAVOUR_DASHES: [Dash; 4] = [
    Dash::Solid,
    Dash::Dashed(10, 5),
    Dash::Dashed(4, 4),
    Dash::Dashed(14, 4),
];

/// The style of the series labelled `label`: a scheme label (`policy/flavour`
/// or the policy), `linux (real kernel)`, either possibly followed by
/// ` @ origin`. Hollow markers are set by the caller for a second machine.
pub(crate) fn style_of(label: &str) -> Style {
    let scheme = label.split(" @ ").next().unwrap_or(label);
    let (policy, flavour) = scheme.split_once('/').unwrap_or((scheme, ""));
    let f = FLAVOURS.iter().position(|&x| x == flavour);
    let with = |color, marker, dash| Style {
        color,
        marker,
        dash,
        hollow: false,
    };
    let by_flavour =
        |shades: [RGBColor; 4], i: usize, dash: Dash| with(shades[i], FLAVOUR_MARKERS[i], dash);
    use color::*;
    match (policy, f) {
        ("typesafe", Some(i)) => by_flavour([BLUE, SKY, NAVY, STEEL], i, Dash::Solid),
        ("deferred", Some(i)) => {
            by_flavour([VERMILLION, ORANGE, BROWN, AMBER], i, Dash::Dashed(9, 4))
        }
        ("typesafe", None) => with(BLUE, Marker::Circle, Dash::Solid),
        ("deferred", None) => with(VERMILLION, Marker::Circle, Dash::Dashed(9, 4)),
        ("hazard", _) => with(GREEN, Marker::TriangleDown, Dash::Dashed(3, 3)),
        ("rwlock", _) => with(PURPLE, Marker::Cross, Dash::Dashed(1, 3)),
        ("leak", _) => with(GREY, Marker::Square, Dash::Dashed(14, 3)),
        _ if policy.starts_with("linux") => with(BLACK, Marker::Cross, Dash::Dashed(6, 6)),
        _ => {
            // Outside the table: a colour and marker fixed by the label.
            let h = label_hash(scheme);
            let markers = [
                Marker::Circle,
                Marker::Square,
                Marker::TriangleUp,
                Marker::TriangleDown,
                Marker::Diamond,
                Marker::Cross,
            ];
            with(
                OTHERS[h % OTHERS.len()],
                markers[(h / OTHERS.len()) % markers.len()],
                FLAVOUR_DASHES[f.unwrap_or(h % FLAVOUR_DASHES.len())],
            )
        }
    }
}

/// The style of the `i`th series of the real kernel in a panel of its own
/// (one series per thread count or churn rate): black, a marker and dash each.
pub(crate) fn kernel_style(i: usize) -> Style {
    let markers = [
        Marker::Square,
        Marker::Circle,
        Marker::TriangleUp,
        Marker::Diamond,
        Marker::TriangleDown,
        Marker::Cross,
    ];
    let dashes = [
        Dash::Solid,
        Dash::Dashed(10, 5),
        Dash::Dashed(4, 4),
        Dash::Dashed(14, 4),
        Dash::Dashed(2, 3),
        Dash::Dashed(8, 3),
    ];
    Style {
        color: color::BLACK,
        marker: markers[i % markers.len()],
        dash: dashes[i % dashes.len()],
        hollow: i >= markers.len(),
    }
}

/// The `i`th of a cycle of looks, for series that are not schemes (a sweep's
/// canary runs): Tol's muted colours, each with its own marker and dash.
pub(crate) fn cycle_style(i: usize) -> Style {
    let markers = [
        Marker::Circle,
        Marker::Square,
        Marker::TriangleUp,
        Marker::Diamond,
        Marker::TriangleDown,
        Marker::Cross,
    ];
    Style {
        color: color::OTHERS[i % color::OTHERS.len()],
        marker: markers[i % markers.len()],
        dash: FLAVOUR_DASHES[i % FLAVOUR_DASHES.len()],
        hollow: false,
    }
}

/// FNV-1a of a label: a fixed choice for labels outside the table.
fn label_hash(s: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h >> 8) as usize
}

/// The marker's outline, in pixels around its centre, `r` its half size.
pub(crate) fn marker_points(m: Marker, r: i32) -> Vec<(i32, i32)> {
    match m {
        Marker::Circle => (0..12)
            .map(|k| {
                let a = std::f64::consts::PI * 2.0 * f64::from(k) / 12.0;
                (
                    (f64::from(r) * a.cos()).round() as i32,
                    (f64::from(r) * a.sin()).round() as i32,
                )
            })
            .collect(),
        Marker::Square => vec![(-r, -r), (r, -r), (r, r), (-r, r)],
        Marker::TriangleUp => vec![(0, -r - 1), (r + 1, r), (-r - 1, r)],
        Marker::TriangleDown => vec![(0, r + 1), (r + 1, -r), (-r - 1, -r)],
        Marker::Diamond => vec![(0, -r - 1), (r + 1, 0), (0, r + 1), (-r - 1, 0)],
        Marker::Cross => {
            let t = (r / 3).max(1);
            vec![
                (-r, -r + t),
                (-r + t, -r),
                (0, -t),
                (r - t, -r),
                (r, -r + t),
                (t, 0),
                (r, r - t),
                (r - t, r),
                (0, t),
                (-r + t, r),
                (-r, r - t),
                (-t, 0),
            ]
        }
    }
}

/// Draw `style`'s marker at each of `points` (chart coordinates).
pub(crate) fn draw_markers<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    points: &[(f64, f64)],
    style: &Style,
) -> Result<(), String>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let outline = marker_points(style.marker, 5);
    if style.hollow {
        let ring: Vec<(i32, i32)> = outline.iter().chain(outline.first()).copied().collect();
        for &p in points {
            chart
                .plotting_area()
                .draw(
                    &(EmptyElement::at(p)
                        + PathElement::new(ring.clone(), style.color.stroke_width(2))),
                )
                .map_err(err)?;
        }
    } else {
        for &p in points {
            chart
                .plotting_area()
                .draw(&(EmptyElement::at(p) + Polygon::new(outline.clone(), style.color.filled())))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// Draw a line through `points` in `style`'s colour and dash.
pub(crate) fn draw_line<DB, CT>(
    chart: &mut ChartContext<'_, DB, CT>,
    points: Vec<(f64, f64)>,
    style: &Style,
) -> Result<(), String>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let stroke = style.color.stroke_width(2);
    match style.dash {
        Dash::Solid => chart
            .draw_series(LineSeries::new(points, stroke))
            .map(|_| ())
            .map_err(err),
        Dash::Dashed(on, off) => chart
            .draw_series(DashedLineSeries::new(points, on, off, stroke))
            .map(|_| ())
            .map_err(err),
    }
}

/// One entry of a legend.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Entry {
    /// A series: its line and marker.
    Series(String, Style),
    /// A shaded region.
    Shade(String, RGBAColor),
    /// A line alone (a threshold, a floor).
    Rule(String, RGBColor, Dash),
}

impl Entry {
    fn label(&self) -> &str {
        match self {
            Entry::Series(l, _) | Entry::Shade(l, _) | Entry::Rule(l, _, _) => l,
        }
    }
}

/// Pixels per character of a legend entry (a generous estimate of sans-serif
/// at [`LEGEND_FONT`]), so that no label is cut.
const LEGEND_CHAR_PX: f64 = LEGEND_FONT / 1.24 * 0.6;
/// Height of one legend entry, pixels.
const ENTRY_PX: i32 = 24;
/// The sample line's length, pixels.
const SAMPLE_PX: i32 = 44;

/// The width of the strip a legend of `entries` needs, pixels.
pub(crate) fn legend_width(entries: &[Entry]) -> u32 {
    let chars = entries
        .iter()
        .map(|e| e.label().chars().count())
        .max()
        .unwrap_or(0)
        .max("Legend".len());
    (chars as f64 * LEGEND_CHAR_PX) as u32 + SAMPLE_PX as u32 + 40
}

/// Draw a legend of `entries` on `area` (its own strip): a framed box from the
/// top, one entry per line, each with its sample line, marker or shade.
pub(crate) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (w, _) = area.dim_in_pixel();
    let top = 50;
    let h = ENTRY_PX * entries.len() as i32 + 16;
    area.draw(&Rectangle::new(
        [(4, top), (w as i32 - 6, top + h)],
        BLACK.mix(0.5).stroke_width(1),
    ))
    .map_err(err)?;
    let font = ("sans-serif", LEGEND_FONT)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, e) in entries.iter().enumerate() {
        let y = top + 8 + ENTRY_PX * i as i32 + ENTRY_PX / 2;
        let (x0, x1) = (12, 12 + SAMPLE_PX);
        match e {
            Entry::Series(_, s) => {
                sample_line(area, (x0, x1, y), s.color, s.dash)?;
                let outline = marker_points(s.marker, 5);
                let at = ((x0 + x1) / 2, y);
                if s.hollow {
                    let ring: Vec<(i32, i32)> =
                        outline.iter().chain(outline.first()).copied().collect();
                    area.draw(
                        &(EmptyElement::at(at) + PathElement::new(ring, s.color.stroke_width(2))),
                    )
                    .map_err(err)?;
                } else {
                    area.draw(&(EmptyElement::at(at) + Polygon::new(outline, s.color.filled())))
                        .map_err(err)?;
                }
            }
            Entry::Shade(_, c) => {
                area.draw(&Rectangle::new([(x0, y - 8), (x1, y + 8)], c.filled()))
                    .map_err(err)?;
            }
            Entry::Rule(_, c, d) => sample_line(area, (x0, x1, y), *c, *d)?,
        }
        area.draw(&Text::new(
            e.label().to_string(),
            (x1 + 10, y),
            font.clone(),
        ))
        .map_err(err)?;
    }
    Ok(())
}

/// A legend's sample of a line: from x0 to x1 at y, dashed as the series.
fn sample_line<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x0, x1, y): (i32, i32, i32),
    color: RGBColor,
    dash: Dash,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (on, off) = match dash {
        Dash::Solid => (x1 - x0, 0),
        Dash::Dashed(on, off) => (on as i32, off as i32),
    };
    let mut x = x0;
    while x < x1 {
        let end = (x + on).min(x1);
        area.draw(&PathElement::new(
            vec![(x, y), (end, y)],
            color.stroke_width(2),
        ))
        .map_err(err)?;
        x = end + off;
    }
    Ok(())
}

/// `figure` (an SVG whose panels take `at_x` px) with the legend strip of
/// `entries` (`width` x `height` px) drawn and spliced in to their right.
pub(crate) fn add_legend(
    figure: &str,
    entries: &[Entry],
    at_x: u32,
    width: u32,
    height: u32,
) -> Result<String, String> {
    let mut strip = String::new();
    {
        let area = SVGBackend::with_string(&mut strip, (width, height)).into_drawing_area();
        draw_legend(&area, entries)?;
        area.present().map_err(|e| e.to_string())?;
    }
    Ok(splice_legend(figure, &strip, at_x))
}

/// Put `legend` (an SVG of the strip, `width` wide) into `figure` (an SVG
/// drawn with that strip left blank at its right edge) as `<g class="legend">`.
pub(crate) fn splice_legend(figure: &str, legend: &str, at_x: u32) -> String {
    let inner = legend
        .find('>')
        .and_then(|open| {
            let close = legend.rfind("</svg>")?;
            Some(&legend[open + 1..close])
        })
        .unwrap_or("");
    let g = format!("<g class=\"legend\" transform=\"translate({at_x},0)\">{inner}</g>\n");
    match figure.rfind("</svg>") {
        Some(end) => format!("{}{g}{}", &figure[..end], &figure[end..]),
        None => figure.to_string(),
    }
}

/// Break `text` into lines of at most `width` characters at spaces.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Pixels per character of a title (a generous estimate at [`TITLE_FONT`]).
pub(crate) const TITLE_CHAR_PX: f64 = TITLE_FONT / 1.24 * 0.58;

/// Draw `title` centred at the top of `root`, wrapped to its width; returns
/// the pixels it takes.
pub(crate) fn draw_title<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<u32, String>
where
    DB::ErrorType: 'static,
{
    let (w, _) = root.dim_in_pixel();
    let per_line = ((f64::from(w) - 40.0) / TITLE_CHAR_PX).max(20.0) as usize;
    let lines = wrap(title, per_line);
    let font = ("sans-serif", TITLE_FONT)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    for (i, l) in lines.iter().enumerate() {
        root.draw(&Text::new(
            l.clone(),
            (w as i32 / 2, 8 + 26 * i as i32),
            font.clone(),
        ))
        .map_err(|e| e.to_string())?;
    }
    Ok(16 + 26 * lines.len() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every scheme and flavour of the sweep looks different from every other
    /// in colour, and in marker or dash too.
    #[test]
    fn every_series_of_the_table_has_its_own_look() {
        let mut labels = vec![
            "rwlock".to_string(),
            "hazard".into(),
            "leak".into(),
            "linux (real kernel)".into(),
        ];
        for p in ["deferred", "typesafe"] {
            for f in FLAVOURS {
                labels.push(format!("{p}/{f}"));
            }
        }
        for (i, a) in labels.iter().enumerate() {
            for b in &labels[i + 1..] {
                let (x, y) = (style_of(a), style_of(b));
                assert_ne!(x.color, y.color, "{a} and {b} share a colour");
                assert!(
                    x.marker != y.marker || x.dash != y.dash,
                    "{a} and {b} differ only in colour"
                );
            }
        }
        // The same scheme on another machine keeps its look.
        assert_eq!(style_of("typesafe/epoch @ b"), style_of("typesafe/epoch"));
    }

    #[test]
    fn titles_wrap_at_spaces_and_keep_every_word() {
        let t = "Peak bytes waiting to be reclaimed against threads, uniform skew";
        let lines = wrap(t, 30);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert_eq!(lines.join(" "), t);
    }

    #[test]
    fn the_legend_goes_inside_the_figure_as_its_own_group() {
        let fig = "<svg width=\"10\">\n<rect/>\n</svg>\n";
        let leg = "<svg width=\"4\">\n<text>a</text>\n</svg>\n";
        let out = splice_legend(fig, leg, 6);
        assert_eq!(
            out,
            "<svg width=\"10\">\n<rect/>\n<g class=\"legend\" transform=\"translate(6,0)\">\n<text>a</text>\n</g>\n</svg>\n"
        );
    }
}
