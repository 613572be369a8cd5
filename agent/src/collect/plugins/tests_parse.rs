//! Parser tests: one line each through [`check`], the text format's official example
//! (`prometheus/docs`), OpenMetrics' own parser test cases, and real exporters' output
//! (`../testdata/`, sources in `SOURCES.md`).

use super::parse::*;
use expect_test::{expect, Expect};

fn render(text: &[u8], format: Format) -> String {
    let mut out = String::new();
    let parsed = parse(text, format, 100, |sample| {
        let labels: Vec<String> = sample
            .labels
            .iter()
            .map(|(name, value)| format!("{name}={value:?}"))
            .collect();
        out.push_str(&format!(
            "{}: {}{{{}}} {}",
            sample.line,
            sample.metric,
            labels.join(","),
            sample.value
        ));
        if let Some(ts) = sample.timestamp_ms {
            out.push_str(&format!(" @{ts}"));
        }
        out.push('\n');
    });
    for error in &parsed.errors {
        out.push_str(&format!("error {}: {}\n", error.line, error.message));
    }
    out
}

#[track_caller]
fn check(input: &str, expect: Expect) {
    expect.assert_eq(&render(input.as_bytes(), Format::Prometheus));
}

#[test]
fn minimal_lines() {
    check(
        "up 1\n",
        expect![[r#"
        1: up{} 1
    "#]],
    );
    check(
        "  up\t1  \r\n",
        expect![[r#"
        1: up{} 1
    "#]],
    );
    check(
        "no_newline_at_end 2",
        expect![[r#"
        1: no_newline_at_end{} 2
    "#]],
    );
    check(
        "job:rate5m:sum{a=\"b\"} 0.5 -12\n",
        expect![[r#"
        1: job:rate5m:sum{a="b"} 0.5 @-12
    "#]],
    );
}

#[test]
fn labels_and_their_escapes() {
    check(
        r#"m{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9"#,
        expect![[r#"
            1: m{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1458255915
        "#]],
    );
    check(
        r#"m{a="x\zy",b="},# \"{"} 1"#,
        expect![[r#"
        1: m{a="x\\zy",b="},# \"{"} 1
    "#]],
    );
    check(
        r#"spaced { a = "3" , b="4" , } 1"#,
        expect![[r#"
        1: spaced{a="3",b="4"} 1
    "#]],
    );
    check(
        r#"m{} 1"#,
        expect![[r#"
        1: m{} 1
    "#]],
    );
    check(
        "m{a=\"ünïcödé ☃\"} 1",
        expect![[r#"
        1: m{a="ünïcödé ☃"} 1
    "#]],
    );
    check(
        r#"{"my.dotted.metric", "error.message"="Not Found"} 3"#,
        expect![[r#"
        1: my.dotted.metric{error.message="Not Found"} 3
    "#]],
    );
}

#[test]
fn values_timestamps_and_exemplars() {
    check(
        "a NaN\nb +Inf\nc -Inf\nd -0.5e-3\ne 1e10 1395066363000\n",
        expect![[r#"
            1: a{} NaN
            2: b{} inf
            3: c{} -inf
            4: d{} -0.0005
            5: e{} 10000000000 @1395066363000
        "#]],
    );
    check(
        r#"a_bucket{le="0.5"} 3 # {trace_id="KOO5S4vxi0o"} 0.67 1.6e9"#,
        expect![[r#"
            1: a_bucket{le="0.5"} 3
        "#]],
    );
    expect![[r#"
        1: a{} 1 @1520879607789
    "#]]
    .assert_eq(&render(
        b"a 1 1520879607.789\n# EOF\nafter 2\n",
        Format::OpenMetrics,
    ));
}

#[test]
fn errors_name_the_line_and_the_rest_still_counts() {
    check(
        "ok 1\n\
         9starts_with_digit 1\n\
         m{a=\"1\",a=\"2\"} 1\n\
         m{a=\"unterminated} 1\n\
         m{a=1} 1\n\
         m{a=\"1\" b=\"2\"} 1\n\
         m one\n\
         m 1 soon\n\
         m 1 2 3\n\
         m\n\
         m{,} 1\n\
         m 1 # not an exemplar\n\
         ok 2\n",
        expect![[r#"
            1: ok{} 1
            13: ok{} 2
            error 2: expected a metric name (letters, digits, '_' and ':')
            error 3: label a is given twice
            error 4: the value of label a has no closing quote
            error 5: label a: expected a quoted value
            error 6: expected ',' or '}' after a label
            error 7: invalid value "one"
            error 8: invalid timestamp "soon"
            error 9: unexpected text after the timestamp
            error 10: m has no value
            error 11: expected a label name (letters, digits and '_')
            error 12: malformed exemplar: expected '{' after '#'
        "#]],
    );
}

#[test]
fn help_type_and_comments() {
    check(
        "# a comment\n\
         #TYPE m gauge\n\
         # HELP m anything \\ goes \\t here\n\
         # TYPE m counter\n\
         # TYPE m2 histogram\n\
         # TYPE m3 strange\n\
         # TYPE m4 gauge extra\n\
         # TYPE\n\
         # HELP\n\
         # TYPE 4m gauge\n\
         # EOF\n\
         m 1\n",
        expect![[r#"
            12: m{} 1
            error 6: # TYPE: unknown type "strange" (expected counter, gauge, histogram, summary or untyped)
            error 7: # TYPE: unexpected text after the type
            error 8: # TYPE without a metric name
            error 9: # HELP without a metric name
            error 10: # TYPE: invalid metric name
        "#]],
    );
}

#[test]
fn binary_garbage_is_errors_not_a_crash() {
    let mut garbage: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    garbage.extend_from_slice(b"\nfine 1\nm{a=\"\xff\xfe\"} 1\n\xc3\x28 2\n");
    let mut n_samples = 0;
    let parsed = parse(&garbage, Format::Prometheus, 5, |_| n_samples += 1);
    assert_eq!(n_samples, 1, "{parsed:?}");
    assert_eq!(parsed.errors.len(), 5, "only the first errors are kept");
    assert!(parsed.n_errors > 5, "{parsed:?}");
    let messages: Vec<&str> = parsed.errors.iter().map(|e| e.message.as_str()).collect();
    assert!(messages.iter().all(|m| !m.is_empty()), "{messages:?}");
}

#[test]
fn every_prefix_of_a_line_parses_or_errs_without_panicking() {
    let line = r#"http_requests_total{method="post",code="200",path="a\"b\\c\n"} 1027 1395066363000 # {trace="x"} 1 2"#;
    for end in 0..=line.len() {
        let _ = parse(&line.as_bytes()[..end], Format::Prometheus, 10, |_| {});
        let _ = parse(&line.as_bytes()[..end], Format::OpenMetrics, 10, |_| {});
    }
}

/// The text format's example from `prometheus/docs` (`exposition_formats.md`), as published.
#[test]
fn the_official_text_format_example() {
    let text = include_bytes!("testdata/exposition_formats-example.txt");
    expect![[r#"
        3: http_requests_total{method="post",code="200"} 1027 @1395066363000
        4: http_requests_total{method="post",code="400"} 3 @1395066363000
        7: msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1458255915
        13: metric_without_timestamp_and_labels{} 12.47
        16: something_weird{problem="division by zero"} inf @-3982045
        21: http_request_duration_seconds_bucket{le="0.05"} 24054
        22: http_request_duration_seconds_bucket{le="0.1"} 33444
        23: http_request_duration_seconds_bucket{le="0.2"} 100392
        24: http_request_duration_seconds_bucket{le="0.5"} 129389
        25: http_request_duration_seconds_bucket{le="1"} 133988
        26: http_request_duration_seconds_bucket{le="+Inf"} 144320
        27: http_request_duration_seconds_sum{} 53423
        28: http_request_duration_seconds_count{} 144320
        33: rpc_duration_seconds{quantile="0.01"} 3102
        34: rpc_duration_seconds{quantile="0.05"} 3272
        35: rpc_duration_seconds{quantile="0.5"} 4773
        36: rpc_duration_seconds{quantile="0.9"} 9001
        37: rpc_duration_seconds{quantile="0.99"} 76656
        38: rpc_duration_seconds_sum{} 17560473
        39: rpc_duration_seconds_count{} 2693
        error 10: my.dotted.metric has no value
    "#]]
    .assert_eq(&render(text, Format::Prometheus));
}

fn count(text: &[u8], format: Format) -> (u64, Vec<LineError>) {
    let parsed = parse(text, format, 100, |_| {});
    (parsed.n_samples, parsed.errors)
}

/// Real exporters' output parses without a single error, every sample line counted.
#[test]
fn real_exporter_outputs_parse_completely() {
    let fixtures: &[(&str, &[u8], Format)] = &[
        (
            "node_exporter e2e",
            include_bytes!("testdata/node_exporter-e2e-output.txt"),
            Format::Prometheus,
        ),
        (
            "prometheus 237 families",
            include_bytes!("testdata/prometheus-alltypes-237mfs.prom.txt"),
            Format::Prometheus,
        ),
        (
            "prometheus OpenMetrics with exemplars",
            include_bytes!("testdata/prometheus-alltypes-5mfs.om.txt"),
            Format::OpenMetrics,
        ),
        (
            "cAdvisor",
            include_bytes!("testdata/cadvisor-prometheus_metrics.txt"),
            Format::Prometheus,
        ),
    ];
    for (name, text, format) in fixtures {
        let (n_samples, errors) = count(text, *format);
        let sample_lines = String::from_utf8_lossy(text)
            .lines()
            .map(str::trim)
            .take_while(|line| *line != "# EOF")
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .count() as u64;
        assert_eq!(errors, vec![], "{name}");
        assert_eq!(n_samples, sample_lines, "{name}");
        assert!(n_samples > 20, "{name}");
    }
}

/// node_exporter's textfile collector fixtures: histograms, summaries, a client-side
/// timestamp, inconsistent label sets, several types.
#[test]
fn node_exporter_textfile_fixtures() {
    let histogram = include_bytes!("testdata/node_exporter-textfile-histogram.prom");
    let summary = include_bytes!("testdata/node_exporter-textfile-summary.prom");
    let timestamp = include_bytes!("testdata/node_exporter-textfile-client_side_timestamp.prom");
    let inconsistent = include_bytes!("testdata/node_exporter-textfile-inconsistent_metrics.prom");
    let types = include_bytes!("testdata/node_exporter-textfile-different_metric_types.prom");
    for text in [&histogram[..], summary, inconsistent, types] {
        let (n, errors) = count(text, Format::Prometheus);
        assert!(n > 0 && errors.is_empty(), "{errors:?}");
    }
    expect![[r#"
        1: metric_with_custom_timestamp{} 1 @1441205977284
        2: normal_metric{} 2
    "#]]
    .assert_eq(&render(timestamp, Format::Prometheus));
    let rendered = render(histogram, Format::Prometheus);
    assert!(
        rendered.contains(r#"prometheus_tsdb_compaction_chunk_range_bucket{le="+Inf"}"#),
        "{rendered}"
    );
    let rendered = render(summary, Format::Prometheus);
    assert!(rendered.contains(r#"quantile="0.99""#), "{rendered}");
}

/// OpenMetrics' parser test cases (`prometheus/OpenMetrics`, `tests/testdata/parsers`): the
/// good ones parse without errors; of the bad ones, each syntax error is found. Cases that
/// break only OpenMetrics' stricter rules (a HELP without text, trailing blanks, `untyped`,
/// leading blanks) are fine in the Prometheus text format and are listed as accepted.
#[test]
fn openmetrics_parser_test_cases() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/collect/plugins/testdata/openmetrics"
    );
    let accepted_on_purpose = [
        // Prometheus text allows these.
        "bad_help_2",
        "bad_help_3",
        "bad_help_4",
        "bad_type_5",
        "bad_type_6",
        "bad_type_7",
    ];
    let mut rejected = Vec::new();
    let mut accepted = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|entry| entry.file_name());
    assert!(entries.len() > 100);
    for entry in entries {
        let name = entry
            .file_name()
            .to_string_lossy()
            .trim_end_matches(".txt")
            .to_owned();
        let text = std::fs::read(entry.path()).unwrap();
        let (_, errors) = count(&text, Format::OpenMetrics);
        if name.starts_with("bad_") {
            if errors.is_empty() {
                accepted.push(name);
            } else {
                rejected.push(name);
            }
        } else {
            assert_eq!(errors, vec![], "{name} should parse");
        }
    }
    let unexpected: Vec<&String> = accepted
        .iter()
        .filter(|name| !accepted_on_purpose.contains(&name.as_str()))
        .collect();
    expect![[r#"
        [
            "bad_exemplar_complex_chars",
            "bad_exemplars_2",
            "bad_exemplars_3",
            "bad_exemplars_4",
            "bad_exemplars_5",
            "bad_exemplars_6",
            "bad_invalid_labels_6",
            "bad_missing_or_extra_commas_2",
            "bad_value_1",
            "bad_value_2",
            "bad_value_3",
        ]
    "#]]
    .assert_debug_eq(&unexpected);
    assert!(rejected.len() > 50, "{rejected:?}");
}
