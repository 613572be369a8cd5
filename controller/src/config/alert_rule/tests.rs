//! The one rule validator: each field's errors, and bodies with unknown fields.

use super::*;

fn good() -> RawSeriesRule {
    RawSeriesRule {
        name: "hot".into(),
        metric: "cpu_usage_ratio".into(),
        above: Some(0.9),
        for_duration: Some("10m".into()),
        groups: vec!["nas".into()],
        ..RawSeriesRule::default()
    }
}

#[test]
fn issue_18_cli_one_rule_validator_says_which_field_and_why() {
    let rule = SeriesRule::check(&good()).unwrap();
    assert_eq!(rule.for_duration, Duration::from_secs(600));
    assert_eq!(rule.threshold, Threshold::Above(0.9));
    assert_eq!(rule.severity, Severity::Warning);
    let record = rule.to_record(ActorRecord::Cli, 7);
    assert_eq!(SeriesRule::from_record(&record), rule);
    let cases: Vec<(RawSeriesRule, RuleField, &str)> = vec![
        (
            RawSeriesRule {
                name: "a/b".into(),
                ..good()
            },
            RuleField::Name,
            "no slashes",
        ),
        (
            RawSeriesRule {
                name: " ".into(),
                ..good()
            },
            RuleField::Name,
            "bad name",
        ),
        (
            RawSeriesRule {
                metric: "a b".into(),
                ..good()
            },
            RuleField::Metric,
            "without blanks",
        ),
        (
            RawSeriesRule {
                below: Some(1.0),
                ..good()
            },
            RuleField::Threshold,
            "exactly one",
        ),
        (
            RawSeriesRule {
                above: Some(f64::NAN),
                ..good()
            },
            RuleField::Threshold,
            "exactly one",
        ),
        (
            RawSeriesRule {
                above: None,
                older_than: Some("soon".into()),
                ..good()
            },
            RuleField::OlderThan,
            "bad older_than \"soon\"",
        ),
        (
            RawSeriesRule {
                for_duration: Some("later".into()),
                ..good()
            },
            RuleField::For,
            "bad for \"later\"",
        ),
        (
            RawSeriesRule {
                for_duration: Some("8d".into()),
                ..good()
            },
            RuleField::For,
            "at most 7 days",
        ),
        (
            RawSeriesRule {
                severity: Some("panic".into()),
                ..good()
            },
            RuleField::Severity,
            "bad severity",
        ),
        (
            RawSeriesRule {
                groups: vec!["a b".into()],
                ..good()
            },
            RuleField::Groups,
            "bad groups",
        ),
        (
            RawSeriesRule {
                hosts: vec!["".into()],
                ..good()
            },
            RuleField::Hosts,
            "bad hosts",
        ),
        (
            RawSeriesRule {
                labels: [("".to_owned(), "x".to_owned())].into(),
                ..good()
            },
            RuleField::Labels,
            "bad labels",
        ),
        (
            RawSeriesRule {
                summary: Some("a\u{1b}[31m".into()),
                ..good()
            },
            RuleField::Summary,
            "control characters",
        ),
        (
            RawSeriesRule {
                hosts: vec!["h".into(); MAX_HOSTS + 1],
                ..good()
            },
            RuleField::Hosts,
            "at most 500",
        ),
    ];
    for (raw, field, why) in cases {
        let error = SeriesRule::check(&raw).unwrap_err();
        assert_eq!(error.field(), field, "{error}");
        assert!(error.to_string().contains(why), "{why}: {error}");
    }
}

#[test]
fn issue_18_cli_rule_bodies_refuse_unknown_fields() {
    let error = serde_json::from_str::<RawSeriesRule>(r#"{"metric":"m","abov":1}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown field `abov`"), "{error}");
}
