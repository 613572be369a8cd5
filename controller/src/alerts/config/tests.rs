//! The `[alerts]` section parsed from TOML: defaults, receivers, rules and silences.

use super::*;
use crate::alerts::notify::url::Channel;

fn parse(text: &str) -> Result<AlertsConfig, ConfigError> {
    let raw: RawAlerts = toml::from_str(text).unwrap();
    AlertsConfig::from_raw(raw, Duration::from_secs(120))
}

#[test]
fn defaults() {
    let config = parse("").unwrap();
    assert_eq!(config.interval, Duration::from_secs(30));
    assert_eq!(config.resolve_after, Duration::from_secs(120));
    assert_eq!(config.offline_after, Duration::from_secs(120));
    assert_eq!(
        (
            config.filesystem_warning_percent,
            config.filesystem_critical_percent
        ),
        (90.0, 95.0)
    );
    assert_eq!(config.n_notifiers(), 0);
    assert_eq!(config.certificate_expiry_days, vec![21, 7]);
}

#[test]
fn issue_15_certificate_expiry_days() {
    let config = parse("certificate_expiry_days = [7, 30, 14, 7]").unwrap();
    assert_eq!(config.certificate_expiry_days, vec![30, 14, 7]);
    assert!(parse("certificate_expiry_days = [0]").is_err());
    let config = parse("certificate_expiry_days = []").unwrap();
    assert!(config.certificate_expiry_days.is_empty());
}

#[test]
fn issue_18_repeat_interval_and_rules_with_for_and_scope() {
    assert_eq!(
        parse("").unwrap().repeat_interval,
        Duration::from_secs(4 * 3600)
    );
    assert_eq!(
        parse("repeat_interval = \"0\"").unwrap().repeat_interval,
        Duration::ZERO
    );
    assert!(parse("repeat_interval = \"often\"").is_err());
    let config = parse(
        "[[rule]]\nname = \"hot\"\nmetric = \"cpu_usage_ratio\"\nabove = 0.9\nfor = \"10m\"\ngroups = [\"nas\"]\nhosts = [\"n1\"]\n",
    )
    .unwrap();
    let rule = &config.series_rules[0];
    assert_eq!(rule.for_duration, Duration::from_secs(600));
    assert!(rule.applies_to("n1", &["nas"]));
    assert!(!rule.applies_to("n1", &["web"]));
    assert!(!rule.applies_to("n2", &["nas"]));
    for bad in ["for = \"soon\"", "for = \"30d\"", "groups = [\"\"]"] {
        let text = format!("[[rule]]\nname = \"a\"\nmetric = \"m\"\nabove = 1\n{bad}\n");
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains("alerts.rule"), "{bad}: {error}");
    }
}

#[test]
fn issue_22_series_rules_are_checked() {
    let config = parse(
        "[[rule]]\nname = \"backup_stale\"\nmetric = \"backup_last_success_timestamp_seconds\"\nlabels = { source = \"textfile/backup.prom\" }\nolder_than = \"26h\"\nseverity = \"critical\"\n[[rule]]\nname = \"ups\"\nmetric = \"ups_battery_charge\"\nbelow = 50\n",
    )
    .unwrap();
    assert_eq!(
        config.series_rules[0],
        SeriesRule {
            name: "backup_stale".into(),
            metric: "backup_last_success_timestamp_seconds".into(),
            labels: vec![("source".into(), "textfile/backup.prom".into())],
            threshold: Threshold::OlderThan(Duration::from_secs(26 * 3600)),
            severity: Severity::Critical,
            summary: None,
            for_duration: Duration::ZERO,
            groups: vec![],
            hosts: vec![],
        }
    );
    assert_eq!(config.series_rules[1].threshold, Threshold::Below(50.0));
    assert_eq!(config.series_rules[1].severity, Severity::Warning);
    for (text, key) in [
        ("name = \"a\"\nmetric = \"m\"\n", "alerts.rule"),
        (
            "name = \"a\"\nmetric = \"m\"\nabove = 1\nbelow = 0\n",
            "alerts.rule",
        ),
        (
            "name = \"a b\"\nmetric = \"m\"\nabove = 1\n",
            "alerts.rule.name",
        ),
        (
            "name = \"a\"\nmetric = \"\"\nabove = 1\n",
            "alerts.rule.metric",
        ),
        (
            "name = \"a\"\nmetric = \"m\"\nolder_than = \"soon\"\n",
            "alerts.rule.older_than",
        ),
        (
            "name = \"a\"\nmetric = \"m\"\nabove = 1\nseverity = \"page\"\n",
            "alerts.rule.severity",
        ),
    ] {
        match parse(&format!("[[rule]]\n{text}")) {
            Err(ConfigError::Invalid { key: got, .. }) => assert_eq!(got, key, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    let twice = "[[rule]]\nname = \"a\"\nmetric = \"m\"\nabove = 1\n";
    assert!(parse(&format!("{twice}{twice}")).is_err());
}

#[test]
fn the_packaged_rule_example_parses_when_uncommented() {
    let packaged = include_str!("../../../../packaging/controller.toml");
    let example: String = packaged
        .lines()
        .skip_while(|line| *line != "# [[alerts.rule]]")
        .take_while(|line| !line.is_empty())
        .map(|line| line.trim_start_matches("# "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(example.contains("older_than"), "{example}");
    let raw: crate::config::RawConfig = toml::from_str(&example).unwrap();
    let config = crate::config::Config::from_raw(raw).unwrap();
    assert_eq!(config.alerts.series_rules[0].name, "backup_stale");
}

#[test]
fn the_section_in_the_controller_file() {
    let raw: crate::config::RawConfig = toml::from_str(
        "stale_after = \"5m\"\n[alerts]\nresolve_after = \"10m\"\n[[alerts.webhook]]\nurl = \"http://x/\"\n",
    )
    .unwrap();
    let config = crate::config::Config::from_raw(raw).unwrap();
    assert_eq!(config.alerts.offline_after, Duration::from_secs(300));
    assert_eq!(config.alerts.resolve_after, Duration::from_secs(600));
    assert_eq!(config.alerts.receivers.len(), 1);
}

#[test]
fn notifiers_and_bad_values() {
    let config = parse(
        "[[webhook]]\nurl = \"https://hooks.example/x?token=s3cret\"\n\
         [[ntfy]]\ntopic = \"nas-alerts\"\ntoken = \"tk_1\"\nmin_severity = \"critical\"\n",
    )
    .unwrap();
    let ntfy = &config.receivers[1];
    assert!(
        matches!(&ntfy.channel, Channel::Ntfy { url, .. } if url.0 == "https://ntfy.sh/nas-alerts")
    );
    assert_eq!(ntfy.min_severity, Severity::Critical);
    assert_eq!(ntfy.name, "ntfy section 1");
    assert!(
        !format!("{config:?}").contains("s3cret"),
        "secrets stay out of Debug"
    );
    let error = parse("[[webhook]]\nurl = \"ftp://x/s3cret\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("alerts.webhook.url") && !error.contains("s3cret"),
        "{error}"
    );
    assert!(parse("filesystem_warning_percent = 97.0").is_err());
    assert!(parse("[[ntfy]]\ntopic = \"\"\n").is_err());
    assert!(parse("[[webhook]]\nurl = \"http://x\"\nmin_severity = \"info\"\n").is_err());
    assert!(toml::from_str::<RawAlerts>("intervall = \"1s\"").is_err());
}

#[test]
fn issue_18_the_packaged_condition_keys_are_the_defaults() {
    let packaged = include_str!("../../../../packaging/controller.toml");
    let keys = [
        "restart_loop_count",
        "restart_loop_window",
        "container_event_window",
        "container_gone_min_age",
        "temperature_limit_celsius",
        "temperature_for",
        "updates_available_batch",
        "update_event_window",
    ];
    let section: Vec<&str> = packaged
        .lines()
        .filter_map(|line| line.strip_prefix("# "))
        .filter(|line| {
            keys.iter()
                .any(|key| line.starts_with(&format!("{key} = ")))
        })
        .collect();
    assert_eq!(section.len(), keys.len(), "{section:?}");
    let packaged = parse(&section.join("\n")).unwrap();
    let default = parse("").unwrap();
    assert_eq!(packaged.containers, default.containers);
    assert_eq!(packaged.disk_trends, default.disk_trends);
    assert_eq!(packaged.updates, default.updates);
    assert_eq!(default.containers, ContainerRuleConfig::default());
    assert_eq!(default.disk_trends, DiskTrendConfig::default());
    assert_eq!(default.updates, UpdateRuleConfig::default());
    let custom = parse(
        "restart_loop_count = 5\nrestart_loop_window = \"1h\"\nupdates_available_batch = \"0s\"",
    )
    .unwrap();
    assert_eq!(custom.containers.restart_loop_count, 5);
    assert_eq!(custom.containers.restart_loop_window_ms, 3_600_000);
    assert_eq!(custom.updates.available_batch_ms, 0);
    assert!(parse("temperature_for = \"soon\"").is_err());
}

#[test]
fn issue_18_cli_config_silences_are_checked_with_the_entry_and_field() {
    let config = parse(
        "[[silence]]\nhost = \"lab01\"\nrule = \"container\"\nreason = \"lab rebuild\"\n\
         [[silence]]\nlabel = \"role=lab\"\nuntil = \"2027-01-31T00:00:00Z\"\nreason = \"r\"\n",
    )
    .unwrap();
    let [forever, until] = &config.silences[..] else {
        panic!("{:?}", config.silences)
    };
    assert_eq!(forever.id, 0);
    assert_eq!(forever.key_prefix.as_deref(), Some("container/"));
    assert_eq!(forever.expires_at_ms, i64::MAX);
    assert_eq!(forever.comment, "lab rebuild");
    assert_eq!(until.expires_at_ms, 1_801_353_600_000);
    assert_eq!(until.label, Some(("role".into(), "lab".into())));
    for (text, key, why) in [
        ("reason = \"r\"\n", "alerts.silence", "needs a host"),
        (
            "host = \"\"\nlabel = \" \"\nreason = \"r\"\n",
            "alerts.silence",
            "needs a host",
        ),
        (
            "host = \"a\"\nuntil = \"tomorrow\"\nreason = \"r\"\n",
            "alerts.silence.until",
            "number 2",
        ),
        (
            "host = \"a\"\nuntil = \"2027-13-01T00:00:00Z\"\nreason = \"r\"\n",
            "alerts.silence.until",
            "2027-01-31T00:00:00Z",
        ),
        (
            "host = \"a\"\nreason = \" \"\n",
            "alerts.silence.reason",
            "say why",
        ),
        (
            "host = \"../etc\"\nreason = \"r\"\n",
            "alerts.silence.host",
            "bad host",
        ),
        (
            "rule = \"disk\"\nkey_prefix = \"disk/\"\nreason = \"r\"\n",
            "alerts.silence.key_prefix",
            "not both",
        ),
        (
            "label = \"role\"\nreason = \"r\"\n",
            "alerts.silence.label",
            "name=value",
        ),
    ] {
        let text = format!("[[silence]]\nhost = \"ok\"\nreason = \"r\"\n[[silence]]\n{text}");
        match parse(&text) {
            Err(error @ ConfigError::Invalid { key: got, .. }) => {
                assert_eq!(got, key, "{text}: {error}");
                let message = error.to_string();
                assert!(message.contains(why), "{text}: {message}");
                assert!(message.contains("[[alerts.silence]] number 2"), "{message}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    let unknown = toml::from_str::<RawAlerts>("[[silence]]\nhost = \"a\"\nreson = \"r\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("unknown field `reson`") && unknown.contains("line 3"),
        "{unknown}"
    );
    let missing = toml::from_str::<RawAlerts>("[[silence]]\nhost = \"a\"\n")
        .unwrap_err()
        .to_string();
    assert!(missing.contains("missing field `reason`"), "{missing}");
}

#[test]
fn issue_18_cli_rule_errors_in_the_file_keep_the_validators_words() {
    let error =
        parse("[[rule]]\nname = \"a\"\nmetric = \"m\"\nabove = 1\nfor = \"later\"\n").unwrap_err();
    match &error {
        ConfigError::Invalid { key, value, .. } => {
            assert_eq!((*key, value.as_str()), ("alerts.rule.for", "later"));
        }
        other => panic!("{other:?}"),
    }
    let unknown = toml::from_str::<RawAlerts>(
        "[[rule]]\nname = \"a\"\nmetric = \"m\"\nabove = 1\nbellow = 2\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        unknown.contains("unknown field `bellow`") && unknown.contains("line 5"),
        "{unknown}"
    );
}

#[test]
fn issue_18_cli_the_packaged_silence_example_parses_when_uncommented() {
    let packaged = include_str!("../../../../packaging/controller.toml");
    let example: String = packaged
        .lines()
        .skip_while(|line| *line != "# [[alerts.silence]]")
        .take_while(|line| !line.is_empty())
        .map(|line| line.trim_start_matches("# "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(example.contains("reason"), "{example}");
    let raw: crate::config::RawConfig = toml::from_str(&example).unwrap();
    let config = crate::config::Config::from_raw(raw).unwrap();
    assert_eq!(config.alerts.silences[0].comment, "lab rebuild");
}
