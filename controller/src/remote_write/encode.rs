//! Pure: the remote-write 1.0 request body and the label mapping. The messages are
//! `prometheus/prompb/{remote,types}.proto`'s `WriteRequest`, `TimeSeries`, `Label` and
//! `Sample`, written by hand with prost's derive (no build script, no protoc); the body is
//! the protobuf encoding compressed with snappy's *block* format (not the framed format).
//!
//! Names follow `/metrics` (`api::metrics`): Unity's series are `unity_<metric>`, plugin
//! series keep their own names (`exported_` in front of one that starts with `unity_`).
//! Every series carries `host` and `agent_id`; its own labels keep their (sanitised) names,
//! except one that clashes with those, `__name__` or a reserved `__` name, which gets
//! `exported_` in front. Labels are sorted by name and unique, empty values are left out, as
//! the specification requires.

use std::collections::BTreeMap;

/// `prometheus.WriteRequest` (field 3, metadata, is not sent).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: labels sorted by name, samples in timestamp order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`: value and Unix milliseconds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The request body could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// Snappy refused the input (larger than its block format allows).
    #[error("snappy: {0}")]
    Snappy(#[from] snap::Error),
}

/// What a stored series is, as the exporter names it.
#[derive(Debug, Clone, Copy)]
pub struct SeriesIdentity<'a> {
    pub metric: &'a str,
    /// The series' own labels (sorted or not).
    pub labels: &'a [(String, String)],
    pub agent_id: &'a str,
    pub host: &'a str,
    /// A plugin series (textfile, exporter, check) keeps its own name.
    pub plugin: bool,
}

/// `name` reduced to `[a-zA-Z_:][a-zA-Z0-9_:]*` (a metric name) or, without `colons`, to
/// `[a-zA-Z_][a-zA-Z0-9_]*` (a label name).
fn sanitize(name: &str, colons: bool) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':');
    let mut clean: String = name
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    if clean.is_empty() || clean.starts_with(|c: char| c.is_ascii_digit()) {
        clean.insert(0, '_');
    }
    clean
}

/// The metric name of a series (`__name__`).
pub fn metric_name(metric: &str, plugin: bool) -> String {
    let name = sanitize(metric, true);
    match (plugin, name.starts_with("unity_")) {
        (false, _) => format!("unity_{name}"),
        (true, true) => format!("exported_{name}"),
        (true, false) => name,
    }
}

/// The full, sorted label set of a series: `__name__`, `host`, `agent_id`, its own labels,
/// then the static `extra` labels where the series has none of that name.
pub fn series_labels(series: SeriesIdentity<'_>, extra: &BTreeMap<String, String>) -> Vec<Label> {
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    labels.insert("__name__".into(), metric_name(series.metric, series.plugin));
    labels.insert("host".into(), series.host.to_owned());
    labels.insert("agent_id".into(), series.agent_id.to_owned());
    for (name, value) in series.labels {
        let mut name = sanitize(name, false);
        if name.starts_with("__") || matches!(name.as_str(), "host" | "agent_id") {
            name = format!("exported_{name}");
        }
        // Two names that sanitise alike: the first one (in sorted order) is kept.
        labels.entry(name).or_insert_with(|| value.clone());
    }
    for (name, value) in extra {
        labels.entry(name.clone()).or_insert_with(|| value.clone());
    }
    labels
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| Label { name, value })
        .collect()
}

/// One series' points as a `TimeSeries` (the points are in timestamp order already).
pub fn time_series(labels: Vec<Label>, points: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels,
        samples: points
            .iter()
            .map(|&(timestamp, value)| Sample { value, timestamp })
            .collect(),
    }
}

/// The HTTP body: the request's protobuf encoding in one snappy block.
pub fn body(request: &WriteRequest) -> Result<Vec<u8>, EncodeError> {
    let bytes = prost::Message::encode_to_vec(request);
    Ok(snap::raw::Encoder::new().compress_vec(&bytes)?)
}

/// The headers every request carries (remote-write 1.0), besides authentication.
pub const HEADERS: [(&str, &str); 3] = [
    ("Content-Encoding", "snappy"),
    ("Content-Type", "application/x-protobuf"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn pairs(labels: &[Label]) -> Vec<(&str, &str)> {
        labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .collect()
    }

    #[test]
    fn remote_write_names_are_sanitised_like_metrics() {
        assert_eq!(
            metric_name("cpu.usage-ratio", false),
            "unity_cpu_usage_ratio"
        );
        assert_eq!(metric_name("node:load1", true), "node:load1");
        assert_eq!(metric_name("1x", true), "_1x");
        assert_eq!(metric_name("unity_host_up", true), "exported_unity_host_up");
        assert_eq!(metric_name("", false), "unity__");
    }

    #[test]
    fn remote_write_labels_are_mapped_sorted_and_unique() {
        let own = vec![
            ("mount.point".to_owned(), "/".to_owned()),
            ("host".to_owned(), "spoofed".to_owned()),
            ("__name__".to_owned(), "spoofed".to_owned()),
            ("mount_point".to_owned(), "/other".to_owned()),
            ("empty".to_owned(), String::new()),
            ("cluster".to_owned(), "own".to_owned()),
        ];
        let extra: BTreeMap<String, String> = [
            ("cluster".to_owned(), "static".to_owned()),
            ("region".to_owned(), "attic".to_owned()),
        ]
        .into();
        let labels = series_labels(
            SeriesIdentity {
                metric: "disk_used_bytes",
                labels: &own,
                agent_id: "a-1",
                host: "nas",
                plugin: false,
            },
            &extra,
        );
        assert_eq!(
            pairs(&labels),
            vec![
                ("__name__", "unity_disk_used_bytes"),
                ("agent_id", "a-1"),
                ("cluster", "own"),
                ("exported___name__", "spoofed"),
                ("exported_host", "spoofed"),
                ("host", "nas"),
                ("mount_point", "/"),
                ("region", "attic"),
            ]
        );
    }

    #[test]
    fn remote_write_body_round_trips_through_snappy_and_prost() {
        let labels = series_labels(
            SeriesIdentity {
                metric: "cpu_usage_ratio",
                labels: &[("cpu".into(), "0".into())],
                agent_id: "a-1",
                host: "nas",
                plugin: false,
            },
            &BTreeMap::new(),
        );
        let points = [(1_000, 0.5), (16_000, f64::NAN), (31_000, -1e300)];
        let request = WriteRequest {
            timeseries: vec![time_series(labels.clone(), &points)],
        };
        let body = body(&request).unwrap();
        // The block format, not the framed one (which starts with the stream identifier).
        assert_ne!(body.first(), Some(&0xff));
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let decoded = WriteRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(decoded.timeseries.len(), 1);
        assert_eq!(decoded.timeseries[0].labels, labels);
        let samples = &decoded.timeseries[0].samples;
        assert_eq!(samples.len(), 3);
        assert_eq!((samples[0].timestamp, samples[0].value), (1_000, 0.5));
        assert!(samples[1].value.is_nan());
        assert_eq!((samples[2].timestamp, samples[2].value), (31_000, -1e300));
    }

    /// The encoding is prompb's: hand-assembled from the schema's field numbers and wire
    /// types (1 = length-delimited, double = fixed64, int64 = varint).
    #[test]
    fn remote_write_protobuf_bytes_match_the_schema() {
        let request = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: "a".into(),
                    value: "b".into(),
                }],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 2,
                }],
            }],
        };
        let expected: Vec<u8> = vec![
            0x0a, 21, // WriteRequest.timeseries, 21 bytes
            0x0a, 6, 0x0a, 1, b'a', 0x12, 1, b'b', // TimeSeries.labels {name "a", value "b"}
            0x12, 11, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, // TimeSeries.samples {value 1.0,
            0x10, 2, // timestamp 2}
        ];
        assert_eq!(request.encode_to_vec(), expected);
    }
}
