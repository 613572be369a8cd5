//! The policy in effect, explained (pure): every setting's value and the layer it came from
//! (the built-in default, the controller's `[updates]` default, the host's override, the
//! container's `unity.update.*` labels, the container's override), for the API and the page.

use super::{Level, PolicyLayer};
use crate::storage::containers::UpdateMode;
use regex::Regex;
use serde::Serialize;
use std::time::Duration;
use unity_shared::model::update::Probe;

/// Where a setting's value comes from, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The agent's own setting (`data_restore`: its `[containers] data_restore`), which the
    /// controller does not see; the value is empty.
    Agent,
    /// Unity's built-in default.
    Default,
    /// The controller's `[updates]` default policy.
    Controller,
    /// The host's override.
    Host,
    /// The container's `unity.update.*` labels.
    Label,
    /// The container's override (wins over everything).
    Override,
}

/// One setting of the policy in effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectiveSetting {
    /// The setting's name as overrides take it (`mode`, `level`, …; the label is
    /// `unity.update.<key>`).
    pub key: &'static str,
    /// The value as an override would set it (`notify`, `minor`, `3d`, `true`, a regex,
    /// `tcp://db:5432`; empty when unset).
    pub value: String,
    pub source: Source,
}

fn mode(mode: UpdateMode) -> String {
    mode.as_str().to_owned()
}

fn level(level: Level) -> String {
    match level {
        Level::Digest => "digest",
        Level::Patch => "patch",
        Level::Minor => "minor",
        Level::Major => "major",
    }
    .to_owned()
}

fn regex(regex: &Option<Regex>) -> String {
    regex
        .as_ref()
        .map(|re| re.as_str().to_owned())
        .unwrap_or_default()
}

fn cooldown(cooldown: Duration) -> String {
    if cooldown.is_zero() {
        "0".to_owned()
    } else {
        humantime::format_duration(cooldown).to_string()
    }
}

fn probe(probe: &Option<Probe>) -> String {
    match probe {
        None => String::new(),
        Some(Probe::Tcp { host, port }) => format!("tcp://{host}:{port}"),
        Some(Probe::Http { host, port, path }) => format!("http://{host}:{port}{path}"),
    }
}

/// Every setting, in the documented order, with its value from the highest layer that sets
/// it (`layers` lowest first; the built-in default when none does).
pub fn explain(layers: &[(Source, &PolicyLayer)]) -> Vec<EffectiveSetting> {
    fn pick<T>(
        layers: &[(Source, &PolicyLayer)],
        get: impl Fn(&PolicyLayer) -> Option<T>,
        default: T,
    ) -> (T, Source) {
        layers
            .iter()
            .rev()
            .find_map(|(source, layer)| get(layer).map(|value| (value, *source)))
            .unwrap_or((default, Source::Default))
    }
    let setting = |key, (value, source): (String, Source)| EffectiveSetting { key, value, source };
    vec![
        setting(
            "mode",
            pick(layers, |l| l.mode.map(mode), mode(UpdateMode::default())),
        ),
        setting(
            "level",
            pick(layers, |l| l.level.map(level), level(Level::default())),
        ),
        setting(
            "include",
            pick(layers, |l| l.include.as_ref().map(regex), String::new()),
        ),
        setting(
            "exclude",
            pick(layers, |l| l.exclude.as_ref().map(regex), String::new()),
        ),
        setting(
            "transform",
            pick(
                layers,
                |l| l.tag_transform.as_ref().map(regex),
                String::new(),
            ),
        ),
        setting(
            "cooldown",
            pick(
                layers,
                |l| l.cooldown.map(cooldown),
                cooldown(Duration::ZERO),
            ),
        ),
        setting(
            "pin",
            pick(
                layers,
                |l| l.pinned.map(|p| p.to_string()),
                false.to_string(),
            ),
        ),
        setting(
            "probe",
            pick(layers, |l| l.probe.as_ref().map(probe), String::new()),
        ),
        data_restore(layers),
    ]
}

/// `data_restore`: from the container's label, else the agent's own setting.
fn data_restore(layers: &[(Source, &PolicyLayer)]) -> EffectiveSetting {
    let labelled = layers.iter().rev().find_map(|(source, layer)| {
        layer
            .data_restore
            .map(|policy| (policy.as_str().to_owned(), *source))
    });
    let (value, source) = labelled.unwrap_or((String::new(), Source::Agent));
    EffectiveSetting {
        key: "data_restore",
        value,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(pairs: &[(&str, &str)]) -> PolicyLayer {
        let mut layer = PolicyLayer::default();
        for (key, value) in pairs {
            layer.set(key, value).unwrap();
        }
        layer
    }

    fn shown(settings: &[EffectiveSetting]) -> Vec<String> {
        settings
            .iter()
            .map(|s| format!("{}={} ({:?})", s.key, s.value, s.source))
            .collect()
    }

    #[test]
    fn issue_17_each_setting_names_the_layer_it_came_from() {
        let controller = layer(&[("level", "patch"), ("cooldown", "3d")]);
        let host = layer(&[("mode", "auto"), ("cooldown", "12h")]);
        let labels = PolicyLayer::from_labels(&[
            ("unity.update.include".to_owned(), r"^\d+\.\d+$".to_owned()),
            ("unity.update.mode".to_owned(), "notify".to_owned()),
            (
                "unity.update.probe".to_owned(),
                "http://db:8080/ready".to_owned(),
            ),
        ])
        .unwrap();
        let explicit = layer(&[("pin", "yes")]);
        let settings = explain(&[
            (Source::Controller, &controller),
            (Source::Host, &host),
            (Source::Label, &labels),
            (Source::Override, &explicit),
        ]);
        assert_eq!(
            shown(&settings),
            [
                "mode=notify (Label)",
                "level=patch (Controller)",
                r"include=^\d+\.\d+$ (Label)",
                "exclude= (Default)",
                "transform= (Default)",
                "cooldown=12h (Host)",
                "pin=true (Override)",
                "probe=http://db:8080/ready (Label)",
                "data_restore= (Agent)",
            ]
        );
        // Every value reads back through the same parser as an override (a label-only
        // setting as its label).
        let mut again = PolicyLayer::default();
        for setting in &settings {
            match super::super::LABEL_ONLY.contains(&setting.key) {
                true => again.set(&format!("unity.update.{}", setting.key), &setting.value),
                false => again.set(setting.key, &setting.value),
            }
            .or_else(|error| match setting.value.is_empty() {
                // The agent's own setting has no value here.
                true => Ok(()),
                false => Err(error),
            })
            .unwrap();
        }
    }

    #[test]
    fn issue_17_data_restore_comes_from_the_label_or_the_agent() {
        let labels = PolicyLayer::from_labels(&[(
            "unity.update.data_restore".to_owned(),
            "dump".to_owned(),
        )])
        .unwrap();
        let settings = explain(&[(Source::Label, &labels)]);
        assert_eq!(
            shown(&settings).last().unwrap(),
            "data_restore=dump (Label)"
        );
        let none = explain(&[]);
        assert_eq!(shown(&none).last().unwrap(), "data_restore= (Agent)");
        let bad = PolicyLayer::from_labels(&[(
            "unity.update.data_restore".to_owned(),
            "tape".to_owned(),
        )])
        .unwrap_err();
        assert_eq!(bad.key, "unity.update.data_restore");
        assert!(
            bad.message.contains("expected auto, volume, dump or off"),
            "{bad}"
        );
        // Not an override: the agent decides, from the label or its config.
        let mut layer = PolicyLayer::default();
        let refused = layer.set("data_restore", "dump").unwrap_err();
        assert!(
            refused.message.contains("label unity.update.data_restore"),
            "{refused}"
        );
    }

    #[test]
    fn issue_17_a_cleared_regex_and_a_zero_cooldown_are_values_too() {
        let controller = layer(&[("exclude", "rc"), ("cooldown", "1d")]);
        let host = layer(&[("exclude", ""), ("cooldown", "0")]);
        let settings = explain(&[(Source::Controller, &controller), (Source::Host, &host)]);
        assert_eq!(
            shown(&settings)[3..6],
            [
                "exclude= (Host)",
                "transform= (Default)",
                "cooldown=0 (Host)"
            ]
        );
        assert_eq!(
            shown(&explain(&[]))[..2],
            ["mode=notify (Default)", "level=minor (Default)"]
        );
    }
}
