//! Sparklines: a small inline SVG line of a series' recent values, drawn on the server so a page
//! shows trends with no script and no chart library. Pure: points in, markup out.
//!
//! The line fills a fixed `viewBox` (stretched to the box the stylesheet gives `.spark`);
//! non-finite values are skipped, a flat series is drawn through the middle, and an empty one
//! draws no line, only its accessible label ("no data"); the stylesheet shows an empty
//! sparkline as a muted dashed baseline. A host that stopped reporting gets the same empty
//! state, labelled "no recent data" ([`no_recent_data`]), not the dot its last point would be.
//!
//! Small by construction, as the 500-host overview carries two thousand of them: integer
//! coordinates in a 80 x 20 box, one absolute move then relative steps (`M0 12l2 1 2-1`), and
//! the stroke's style in the stylesheet (`svg.spark path`), not on every line.

use maud::{html, Markup};

/// The drawing's coordinate box: wide and short, scaled by CSS. Integer coordinates in it
/// are finer than the pixels a sparkline covers (about 96 x 24).
const WIDTH: i64 = 80;
const HEIGHT: i64 = 20;
/// Room at top and bottom so the stroke is not clipped at the extremes.
const PAD: i64 = 1;
/// The `viewBox` attribute.
const VIEW_BOX: &str = "0 0 80 20";
/// Most points drawn: a sparkline is about 100 px wide, and every point is bytes on a page
/// that may carry two thousand of them (500 hosts' cards). Longer series are thinned.
pub const MAX_POINTS: usize = 40;

/// A sparkline of `points` (time, value), in time order or not. `label` says what it is for
/// screen readers ("CPU used, last hour"); the figure itself is shown by the caller as text.
pub fn sparkline(points: &[(i64, f64)], label: &str) -> Markup {
    match path(points) {
        // `path ...;`: no end tag, `</svg>` closes it (SVG in HTML); bytes on every card.
        Some(d) => html! {
            svg.spark viewBox=(VIEW_BOX) preserveAspectRatio="none" role="img" aria-label=(label) {
                path d=(d);
            }
        },
        None => html! {
            svg.spark.spark-empty viewBox=(VIEW_BOX) role="img" aria-label={ (label) ": no data" } {}
        },
    }
}

/// The empty sparkline of a series that has stopped (its host is offline): no line, whatever
/// points are kept, and "no recent data" for screen readers.
pub fn no_recent_data(label: &str) -> Markup {
    html! {
        svg.spark.spark-empty viewBox=(VIEW_BOX) role="img" aria-label={ (label) ": no recent data" } {}
    }
}

/// The line's integer points in the box, oldest first, or `None` when no point is finite.
fn drawn(points: &[(i64, f64)]) -> Option<Vec<(i64, i64)>> {
    let mut finite: Vec<(i64, f64)> = points
        .iter()
        .copied()
        .filter(|(_, value)| value.is_finite())
        .collect();
    if finite.is_empty() {
        return None;
    }
    finite.sort_by_key(|(time, _)| *time);
    let finite = thin(&finite, MAX_POINTS);
    let (first_time, last_time) = (finite[0].0, finite[finite.len() - 1].0);
    let (low, high) = finite.iter().fold(
        (f64::INFINITY, f64::NEG_INFINITY),
        |(low, high), (_, value)| (low.min(*value), high.max(*value)),
    );
    let span_time = (last_time - first_time) as f64;
    let span_value = high - low;
    let x = |time: i64| {
        if span_time > 0.0 {
            ((time - first_time) as f64 / span_time * WIDTH as f64).round() as i64
        } else {
            WIDTH
        }
    };
    let y = |value: f64| {
        if span_value > 0.0 {
            let inner = (HEIGHT - 2 * PAD) as f64;
            PAD + ((high - value) / span_value * inner).round() as i64
        } else {
            HEIGHT / 2
        }
    };
    if finite.len() == 1 {
        // One point: a short flat stroke at the right edge, where "now" is.
        let level = y(finite[0].1);
        return Some(vec![(WIDTH - 4, level), (WIDTH, level)]);
    }
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(finite.len());
    for (time, value) in finite {
        let point = (x(time), y(value));
        // Points that round onto the previous one draw nothing.
        if out.last() != Some(&point) {
            out.push(point);
        }
    }
    if out.len() == 1 {
        out.push(out[0]);
    }
    Some(out)
}

/// The `d` attribute of the line: an absolute move to the oldest point, then relative line
/// steps (`M0 12l2 1 2-1`), or `None` when no point is finite.
pub fn path(points: &[(i64, f64)]) -> Option<String> {
    let points = drawn(points)?;
    let (x0, y0) = points[0];
    let mut out = String::with_capacity(points.len() * 5 + 8);
    out.push_str(&format!("M{x0} {y0}l"));
    for (index, pair) in points.windows(2).enumerate() {
        let (dx, dy) = (pair[1].0 - pair[0].0, pair[1].1 - pair[0].1);
        // A minus sign separates numbers by itself; x only grows, so it never has one.
        if index > 0 {
            out.push(' ');
        }
        out.push_str(&dx.to_string());
        if dy >= 0 {
            out.push(' ');
        }
        out.push_str(&dy.to_string());
    }
    Some(out)
}

/// At most `max` points: consecutive runs of `points` (in time order) replaced by their mean
/// time and value, so the line keeps its shape and its newest point's time.
fn thin(points: &[(i64, f64)], max: usize) -> Vec<(i64, f64)> {
    if points.len() <= max || max == 0 {
        return points.to_vec();
    }
    let run = points.len().div_ceil(max);
    points
        .chunks(run)
        .map(|group| {
            let n = group.len() as f64;
            let time = group.iter().map(|(time, _)| *time as f64).sum::<f64>() / n;
            let value = group.iter().map(|(_, value)| value).sum::<f64>() / n;
            (time.round() as i64, value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The absolute points a `d` attribute draws (`M x y l dx dy dx dy ...`).
    fn absolute(d: &str) -> Vec<(i64, i64)> {
        let (start, steps) = d.strip_prefix('M').unwrap().split_once('l').unwrap();
        let numbers = |text: &str| -> Vec<i64> {
            text.replace('-', " -")
                .split_whitespace()
                .map(|n| n.parse().unwrap())
                .collect()
        };
        let start = numbers(start);
        let mut at = (start[0], start[1]);
        let mut out = vec![at];
        for step in numbers(steps).chunks(2) {
            at = (at.0 + step[0], at.1 + step[1]);
            out.push(at);
        }
        out
    }

    #[test]
    fn the_line_spans_the_box_with_the_highest_value_at_the_top() {
        let d = path(&[(30, 5.0), (10, 1.0), (20, 3.0)]).unwrap();
        assert_eq!(d, "M0 19l40-9 40-9");
        let points = absolute(&d);
        assert_eq!(points[0], (0, HEIGHT - PAD), "oldest, lowest: bottom left");
        assert_eq!(points[2], (WIDTH, PAD), "newest, highest: top right");
        assert_eq!(points[1], (40, HEIGHT / 2));
    }

    #[test]
    fn non_finite_values_are_skipped_and_a_flat_series_sits_in_the_middle() {
        let d = path(&[(0, 2.0), (1, f64::NAN), (2, 2.0), (3, f64::INFINITY)]).unwrap();
        assert_eq!(absolute(&d), vec![(0, 10), (80, 10)]);
    }

    #[test]
    fn one_point_is_a_short_stroke_and_none_draws_nothing() {
        assert_eq!(path(&[(5, 1.0)]).unwrap(), "M76 10l4 0");
        assert_eq!(path(&[]), None);
        assert_eq!(path(&[(1, f64::NAN)]), None);
    }

    #[test]
    fn long_series_are_thinned_to_the_most_points_keeping_their_shape() {
        let points: Vec<(i64, f64)> = (0..120).map(|i| (i * 30, (i % 60) as f64)).collect();
        let d = path(&points).unwrap();
        let drawn = absolute(&d);
        assert!(drawn.len() <= MAX_POINTS, "{} points", drawn.len());
        assert!(drawn.len() >= MAX_POINTS / 2, "{} points", drawn.len());
        assert_eq!(drawn[0].0, 0, "starts at the left edge");
        assert_eq!(drawn[drawn.len() - 1].0, WIDTH, "ends at the right edge");
        assert!(drawn
            .iter()
            .all(|(x, y)| (0..=WIDTH).contains(x) && (0..=HEIGHT).contains(y)));
        // The saw tooth's two rises survive: the line goes down in the middle.
        let middle = drawn.len() / 2;
        assert!(drawn[middle].1 > drawn[middle - 1].1, "{d}");
        assert_eq!(thin(&points[..10], 40), points[..10].to_vec());
        // Relative integer steps: a few bytes a point.
        assert!(d.len() < drawn.len() * 6, "{} bytes: {d}", d.len());
    }

    #[test]
    fn tiny_changes_that_round_away_still_draw_a_line() {
        let d = path(&[(0, 1.0), (1, 1.0 + 1e-12), (2, 1.0)]).unwrap();
        let points = absolute(&d);
        assert!(points.len() >= 2, "{d}");
        assert_eq!(points[points.len() - 1].0, WIDTH, "{d}");
    }

    #[test]
    fn the_label_is_escaped_and_an_empty_series_says_so() {
        let markup = sparkline(&[], "<b>cpu</b>").into_string();
        assert!(
            markup.contains("&lt;b&gt;cpu&lt;/b&gt;: no data"),
            "{markup}"
        );
        assert!(!markup.contains("<b>"), "{markup}");
        let markup = no_recent_data("CPU, last hour").into_string();
        assert!(!markup.contains("<path"), "{markup}");
        assert!(markup.contains("spark-empty"), "{markup}");
        assert!(
            markup.contains("aria-label=\"CPU, last hour: no recent data\""),
            "{markup}"
        );
        let markup = sparkline(&[(0, 1.0), (1, 2.0)], "memory").into_string();
        assert!(markup.contains("<path d=\"M0 19l80-18\">"), "{markup}");
        assert!(markup.contains("aria-label=\"memory\""), "{markup}");
    }
}
