//! Receivers: validation, routing by severity, host group and rule, and quiet hours in a time
//! zone (queued until they end, or dropped, with the severe still going through).

use super::receivers::*;
use crate::config::error::ConfigError;
use crate::storage::alerts::Severity;

fn parse(text: &str) -> Result<ReceiverConfig, ConfigError> {
    let raw: RawReceiver = toml::from_str(text).unwrap();
    receiver(raw, 2)
}

fn routed<'a>(severity: Severity, key: &'a str, groups: &'a [String]) -> Routed<'a> {
    Routed {
        severity,
        key,
        host_groups: groups,
        resolved_problem_opened_ms: None,
    }
}

/// 2026-12-07 at `hh:mm` UTC, in Unix ms.
fn at(hh: i64, mm: i64) -> i64 {
    1_796_601_600_000 + (hh * 60 + mm) * 60_000
}

#[test]
fn issue_18_routing_by_severity_group_and_rule() {
    let receiver = parse(
        "url = \"discord://t@1\"\nmin_severity = \"critical\"\ngroups = [\"nas\"]\nrules = [\"smart/\", \"pool/\"]\n",
    )
    .unwrap();
    assert_eq!(receiver.name, "discord 2");
    let nas = ["nas".to_owned()];
    let now = at(12, 0);
    assert_eq!(
        receiver.plan(&routed(Severity::Critical, "pool/a/tank", &nas), now),
        Some(now)
    );
    assert_eq!(
        receiver.plan(&routed(Severity::Warning, "pool/a/tank", &nas), now),
        None
    );
    assert_eq!(
        receiver.plan(&routed(Severity::Critical, "host/a/offline", &nas), now),
        None
    );
    assert_eq!(
        receiver.plan(&routed(Severity::Critical, "pool/a/tank", &[]), now),
        None
    );
    let everything = parse("url = \"discord://t@1\"\n").unwrap();
    assert_eq!(
        everything.plan(&routed(Severity::Warning, "x/a", &[]), now),
        Some(now)
    );
}

#[test]
fn issue_18_quiet_hours_queue_or_drop() {
    let queue = parse(
        "url = \"discord://t@1\"\nquiet_hours = \"22:00-07:00\"\ntime_zone = \"Europe/Berlin\"\n",
    )
    .unwrap();
    // 22:30 UTC is 23:30 in Berlin (CET): quiet until 07:00 CET, 06:00 UTC.
    let late = at(22, 30);
    let warning = routed(Severity::Warning, "x/a", &[]);
    assert_eq!(queue.plan(&warning, late), Some(at(30, 0)));
    // Critical goes through (quiet_min_severity defaults to critical).
    assert_eq!(
        queue.plan(&routed(Severity::Critical, "x/a", &[]), late),
        Some(late)
    );
    // Noon is not quiet.
    assert_eq!(queue.plan(&warning, at(12, 0)), Some(at(12, 0)));
    // 05:00 UTC is 06:00 CET: quiet for one more hour.
    assert_eq!(queue.plan(&warning, at(5, 0)), Some(at(6, 0)));

    let drop = parse(
        "url = \"discord://t@1\"\nquiet_hours = \"22:00-07:00\"\nquiet_mode = \"drop\"\nquiet_min_severity = \"critical\"\n",
    )
    .unwrap();
    assert_eq!(drop.plan(&warning, at(23, 0)), None);
    assert_eq!(drop.plan(&warning, at(8, 0)), Some(at(8, 0)));
    // The recovery of a problem that was dropped at night is dropped too.
    let recovery = Routed {
        resolved_problem_opened_ms: Some(at(23, 0)),
        ..routed(Severity::Warning, "x/a", &[])
    };
    assert_eq!(drop.plan(&recovery, at(9, 0)), None);
    let day_recovery = Routed {
        resolved_problem_opened_ms: Some(at(8, 0)),
        ..routed(Severity::Warning, "x/a", &[])
    };
    assert_eq!(drop.plan(&day_recovery, at(9, 0)), Some(at(9, 0)));
}

#[test]
fn issue_18_bad_receivers_name_the_receiver_and_hide_the_url() {
    for (text, key) in [
        ("url = \"smtp://u:s3cret@mail/\"\n", "alerts.receiver.url"),
        (
            "url = \"discord://t@1\"\nquiet_hours = \"22-7\"\n",
            "alerts.receiver.quiet_hours",
        ),
        (
            "url = \"discord://t@1\"\nquiet_hours = \"22:00-22:00\"\n",
            "alerts.receiver.quiet_hours",
        ),
        (
            "url = \"discord://t@1\"\nquiet_mode = \"drop\"\n",
            "alerts.receiver.quiet_hours",
        ),
        (
            "url = \"discord://t@1\"\nquiet_hours = \"22:00-07:00\"\nquiet_mode = \"later\"\n",
            "alerts.receiver.quiet_mode",
        ),
        (
            "url = \"discord://t@1\"\nquiet_hours = \"22:00-07:00\"\ntime_zone = \"Mars/Base\"\n",
            "alerts.receiver.time_zone",
        ),
        (
            "url = \"discord://t@1\"\nmin_severity = \"info\"\n",
            "alerts.receiver.min_severity",
        ),
        (
            "url = \"discord://t@1\"\nsecret = \"k\"\n",
            "alerts.receiver.secret",
        ),
        (
            "url = \"discord://t@1\"\nname = \" \"\n",
            "alerts.receiver.name",
        ),
    ] {
        match parse(text) {
            Err(ConfigError::Invalid {
                key: got,
                value,
                message,
            }) => {
                assert_eq!(got, key, "{text}");
                assert!(
                    !value.contains("s3cret") && !message.contains("s3cret"),
                    "{value} {message}"
                );
                if key == "alerts.receiver.url" {
                    assert_eq!(value, "receiver 2");
                }
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    let twice = [
        parse("url = \"discord://t@1\"\nname = \"a\"\n").unwrap(),
        parse("url = \"slack://a/b/c\"\nname = \"a\"\n").unwrap(),
    ];
    assert!(check_names(&twice).is_err());
}

#[test]
fn issue_18_the_packaged_receiver_example_is_valid_and_shows_the_defaults() {
    let packaged = include_str!("../../../../packaging/controller.toml");
    let block: Vec<&str> = packaged
        .lines()
        .skip_while(|line| *line != "# [[alerts.receiver]]")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.strip_prefix("# ").filter(|rest| rest.contains(" = ")))
        .collect();
    // The signing secret is for webhooks; the example's URL is mail.
    let secret = block
        .iter()
        .find(|line| line.starts_with("secret"))
        .unwrap();
    let signed = parse(&format!("url = \"https://hooks.example/x\"\n{secret}\n")).unwrap();
    assert!(signed.secret.is_some());
    let block: Vec<&str> = block
        .into_iter()
        .filter(|line| !line.starts_with("secret"))
        .collect();
    let full: RawReceiver = toml::from_str(&block.join("\n")).unwrap();
    let full = receiver(full, 1).unwrap();
    assert_eq!(full.channel.service(), "smtps");
    // Apart from url, name and secret, the values shown are the defaults.
    let defaults: Vec<&str> = block
        .iter()
        .copied()
        .filter(|line| {
            ![
                "name",
                "secret",
                "quiet_hours",
                "quiet_mode",
                "quiet_min_severity",
                "time_zone",
            ]
            .iter()
            .any(|key| line.starts_with(key))
        })
        .collect();
    let shown = receiver(toml::from_str(&defaults.join("\n")).unwrap(), 1).unwrap();
    let minimal = receiver(toml::from_str(defaults[0]).unwrap(), 1).unwrap();
    assert_eq!(
        (shown.min_severity, &shown.groups, &shown.rules, &shown.name),
        (
            minimal.min_severity,
            &minimal.groups,
            &minimal.rules,
            &minimal.name
        )
    );
    let quiet = full.quiet.unwrap();
    assert_eq!(
        (quiet.mode, quiet.min_severity),
        (QuietMode::Queue, Severity::Critical)
    );
    let defaulted = parse("url = \"discord://t@1\"\nquiet_hours = \"22:00-07:00\"\n")
        .unwrap()
        .quiet
        .unwrap();
    assert_eq!(quiet, defaulted);
}
