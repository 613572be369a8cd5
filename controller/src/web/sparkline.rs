//! Sparklines: a small inline SVG line of a series' recent values, drawn on the server so a page
//! shows trends with no script and no chart library. Pure: points in, markup out.
//!
//! The line fills a fixed `viewBox` (stretched to the box the stylesheet gives `.spark`);
//! non-finite values are skipped, a flat series is drawn through the middle, and an empty one
//! draws nothing but its accessible label ("no data").

use maud::{html, Markup};

/// The drawing's coordinate box: wide and short, scaled by CSS.
const WIDTH: f64 = 100.0;
const HEIGHT: f64 = 24.0;
/// Room at top and bottom so the stroke is not clipped at the extremes.
const PAD: f64 = 2.0;
/// Most points drawn: a sparkline is about 100 px wide, and every point is bytes on a page
/// that may carry two thousand of them (500 hosts' cards). Longer series are thinned.
pub const MAX_POINTS: usize = 40;

/// A sparkline of `points` (time, value), in time order or not. `label` says what it is for
/// screen readers ("CPU used, last hour"); the figure itself is shown by the caller as text.
pub fn sparkline(points: &[(i64, f64)], label: &str) -> Markup {
    match polyline(points) {
        Some(coordinates) => html! {
            svg.spark viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } preserveAspectRatio="none"
                role="img" aria-label=(label) focusable="false" {
                polyline points=(coordinates) fill="none" stroke="currentColor"
                    stroke-width="1.5" vector-effect="non-scaling-stroke" {}
            }
        },
        None => html! {
            svg.spark.spark-empty viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img"
                aria-label={ (label) ": no data" } focusable="false" {}
        },
    }
}

/// The `points` attribute of the line, or `None` when fewer than one finite point exists.
pub fn polyline(points: &[(i64, f64)]) -> Option<String> {
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
            (time - first_time) as f64 / span_time * WIDTH
        } else {
            WIDTH
        }
    };
    let y = |value: f64| {
        if span_value > 0.0 {
            PAD + (high - value) / span_value * (HEIGHT - 2.0 * PAD)
        } else {
            HEIGHT / 2.0
        }
    };
    let mut out = String::with_capacity(finite.len() * 12);
    if finite.len() == 1 {
        // One point: a short flat stroke at the right edge, where "now" is.
        let level = y(finite[0].1);
        out.push_str(&format!(
            "{:.1},{level:.1} {WIDTH:.1},{level:.1}",
            WIDTH - 4.0
        ));
        return Some(out);
    }
    for (index, (time, value)) in finite.iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{:.1},{:.1}", x(*time), y(*value)));
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

    fn coordinates(text: &str) -> Vec<(f64, f64)> {
        text.split(' ')
            .map(|pair| {
                let (x, y) = pair.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn the_line_spans_the_box_with_the_highest_value_at_the_top() {
        let line = polyline(&[(30, 5.0), (10, 1.0), (20, 3.0)]).unwrap();
        let points = coordinates(&line);
        assert_eq!(points.len(), 3);
        assert_eq!(
            points[0],
            (0.0, HEIGHT - PAD),
            "oldest, lowest: bottom left"
        );
        assert_eq!(points[2], (WIDTH, PAD), "newest, highest: top right");
        assert_eq!(points[1], (50.0, HEIGHT / 2.0));
    }

    #[test]
    fn non_finite_values_are_skipped_and_a_flat_series_sits_in_the_middle() {
        let line = polyline(&[(0, 2.0), (1, f64::NAN), (2, 2.0), (3, f64::INFINITY)]).unwrap();
        assert_eq!(coordinates(&line), vec![(0.0, 12.0), (100.0, 12.0)]);
    }

    #[test]
    fn one_point_is_a_short_stroke_and_none_draws_nothing() {
        assert_eq!(polyline(&[(5, 1.0)]).unwrap(), "96.0,12.0 100.0,12.0");
        assert_eq!(polyline(&[]), None);
        assert_eq!(polyline(&[(1, f64::NAN)]), None);
    }

    #[test]
    fn long_series_are_thinned_to_the_most_points_keeping_their_shape() {
        let points: Vec<(i64, f64)> = (0..120).map(|i| (i * 30, (i % 60) as f64)).collect();
        let line = polyline(&points).unwrap();
        let drawn = coordinates(&line);
        assert!(drawn.len() <= MAX_POINTS, "{} points", drawn.len());
        assert!(drawn.len() >= MAX_POINTS / 2, "{} points", drawn.len());
        assert_eq!(drawn[0].0, 0.0, "starts at the left edge");
        // The saw tooth's two rises survive: the line goes down in the middle.
        let middle = drawn.len() / 2;
        assert!(drawn[middle].1 > drawn[middle - 1].1, "{line}");
        assert_eq!(thin(&points[..10], 40), points[..10].to_vec());
    }

    #[test]
    fn the_label_is_escaped_and_an_empty_series_says_so() {
        let markup = sparkline(&[], "<b>cpu</b>").into_string();
        assert!(
            markup.contains("&lt;b&gt;cpu&lt;/b&gt;: no data"),
            "{markup}"
        );
        assert!(!markup.contains("<b>"), "{markup}");
        let markup = sparkline(&[(0, 1.0), (1, 2.0)], "memory").into_string();
        assert!(
            markup.contains("<polyline points=\"0.0,22.0 100.0,2.0\""),
            "{markup}"
        );
    }
}
