//! Update policies (pure): what to look for and what to offer, resolved from layers
//! controller default < host < container labels < explicit per-container setting, and the
//! semver comparison of tags.

pub mod explain;

use crate::storage::containers::UpdateMode;
use regex::Regex;
use std::time::Duration;
use unity_shared::model::data_restore::DataRestorePolicy;
use unity_shared::model::scan::GateThreshold;
use unity_shared::model::update::Probe;

/// The largest change offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    /// Only a new digest for the same tag (a rebuild).
    Digest,
    /// Also newer tags with the same major and minor version.
    Patch,
    /// Also newer tags with the same major version. The default.
    #[default]
    Minor,
    /// Any newer tag.
    Major,
}

/// The size of a tag update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Jump {
    Patch,
    Minor,
    Major,
}

/// A resolved policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub mode: UpdateMode,
    pub level: Level,
    /// Only tags matching this are candidates.
    pub include: Option<Regex>,
    /// Tags matching this are never candidates.
    pub exclude: Option<Regex>,
    /// Extracts the version from a tag: the first capture group (or the whole match), e.g.
    /// `^v?(\d+\.\d+\.\d+)-alpine$`. Tags it does not match are not candidates.
    pub tag_transform: Option<Regex>,
    /// Minimum image age before an update is offered.
    pub cooldown: Duration,
    /// Never offer anything.
    pub pinned: bool,
    /// An extra probe the new container must pass when an update is applied (not used by
    /// detection).
    pub probe: Option<Probe>,
    /// The vulnerability gate (issue 17 §2): an automatic update whose candidate has more
    /// vulnerabilities at this severity than the current image is not applied; `None`: off.
    /// Only where the host has a scanner. Default: critical.
    pub vulnerabilities: Option<GateThreshold>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            mode: UpdateMode::default(),
            level: Level::default(),
            include: None,
            exclude: None,
            tag_transform: None,
            cooldown: Duration::ZERO,
            pinned: false,
            probe: None,
            vulnerabilities: Some(GateThreshold::Critical),
        }
    }
}

/// One layer of settings; `None` leaves the lower layer's value. For the regexes,
/// `Some(None)` clears a lower layer's value.
#[derive(Debug, Clone, Default)]
pub struct PolicyLayer {
    pub mode: Option<UpdateMode>,
    pub level: Option<Level>,
    pub include: Option<Option<Regex>>,
    pub exclude: Option<Option<Regex>>,
    pub tag_transform: Option<Option<Regex>>,
    pub cooldown: Option<Duration>,
    pub pinned: Option<bool>,
    pub probe: Option<Option<Probe>>,
    pub vulnerabilities: Option<Option<GateThreshold>>,
    /// Where a rollback puts the data back from: only a container's label
    /// `unity.update.data_restore` sets it (over the agent's `[containers] data_restore`; the
    /// agent reads the label itself), so the view shows where it comes from.
    pub data_restore: Option<DataRestorePolicy>,
}

/// A bad policy value, naming the key it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct PolicyError {
    /// The label or setting name, e.g. `unity.update.level`.
    pub key: String,
    pub message: String,
}

/// The label keys, in the order they are documented.
pub const LABELS: [&str; 10] = [
    "unity.update.mode",
    "unity.update.level",
    "unity.update.include",
    "unity.update.exclude",
    "unity.update.transform",
    "unity.update.cooldown",
    "unity.update.pin",
    "unity.update.probe",
    "unity.update.vulnerabilities",
    "unity.update.data_restore",
];

/// Settings only a container's label sets (never an override): the agent acts on them.
pub const LABEL_ONLY: &[&str] = &["data_restore"];

/// `unity.update.*` labels that are not policy settings: read elsewhere, never a typo
/// (`unity.update.changelog`: where the release notes are, `updates::notes`;
/// `unity.update.after`: the dependency order, `super::order`; `unity.update.backup`: which
/// database dump the agent takes, `shared::model::database_image`).
pub const OTHER_LABELS: &[&str] = &[
    "unity.update.changelog",
    "unity.update.after",
    "unity.update.backup",
];

impl Policy {
    /// Applies `layers` in order over the defaults; later layers win.
    pub fn resolve(layers: &[&PolicyLayer]) -> Policy {
        let mut policy = Policy::default();
        for layer in layers {
            policy.mode = layer.mode.unwrap_or(policy.mode);
            policy.level = layer.level.unwrap_or(policy.level);
            if let Some(include) = &layer.include {
                policy.include = include.clone();
            }
            if let Some(exclude) = &layer.exclude {
                policy.exclude = exclude.clone();
            }
            if let Some(transform) = &layer.tag_transform {
                policy.tag_transform = transform.clone();
            }
            policy.cooldown = layer.cooldown.unwrap_or(policy.cooldown);
            policy.pinned = layer.pinned.unwrap_or(policy.pinned);
            if let Some(probe) = &layer.probe {
                policy.probe = probe.clone();
            }
            policy.vulnerabilities = layer.vulnerabilities.unwrap_or(policy.vulnerabilities);
        }
        policy
    }

    /// The policy for a container: controller default < host < the container's
    /// `unity.update.*` labels < the explicit per-container setting.
    pub fn for_container(
        controller: &PolicyLayer,
        host: &PolicyLayer,
        labels: &[(String, String)],
        explicit: &PolicyLayer,
    ) -> Result<Policy, PolicyError> {
        let from_labels = PolicyLayer::from_labels(labels)?;
        Ok(Policy::resolve(&[controller, host, &from_labels, explicit]))
    }

    /// The version in a tag, or `None` when the tag is not a candidate for this policy
    /// (no version, excluded, not included, or not matched by the transform).
    pub fn tag_version(&self, tag: &str) -> Option<TagVersion> {
        if self.include.as_ref().is_some_and(|re| !re.is_match(tag))
            || self.exclude.as_ref().is_some_and(|re| re.is_match(tag))
        {
            return None;
        }
        let text = match &self.tag_transform {
            Some(transform) => {
                let captures = transform.captures(tag)?;
                captures.get(1).or_else(|| captures.get(0))?.as_str()
            }
            None => tag,
        };
        TagVersion::parse(text)
    }

    /// Whether `jump` is within the policy's level.
    pub fn allows(&self, jump: Jump) -> bool {
        match self.level {
            Level::Digest => false,
            Level::Patch => jump == Jump::Patch,
            Level::Minor => jump <= Jump::Minor,
            Level::Major => true,
        }
    }
}

impl PolicyLayer {
    /// Reads the `unity.update.*` labels. Unknown `unity.update.*` keys are errors too, so a
    /// typo does not silently fall back to the defaults.
    pub fn from_labels(labels: &[(String, String)]) -> Result<PolicyLayer, PolicyError> {
        let mut layer = PolicyLayer::default();
        for (key, value) in labels {
            if key.starts_with("unity.update.") && !OTHER_LABELS.contains(&key.as_str()) {
                layer.set(key, value)?;
            }
        }
        Ok(layer)
    }

    /// Sets one key (a label name such as `unity.update.level`, or the bare `level`).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), PolicyError> {
        let error = |message: String| PolicyError {
            key: key.to_string(),
            message,
        };
        let value = value.trim();
        let regex = |value: &str| -> Result<Option<Regex>, PolicyError> {
            if value.is_empty() {
                return Ok(None);
            }
            Regex::new(value)
                .map(Some)
                .map_err(|e| error(format!("invalid regex {value:?}: {e}")))
        };
        match key.strip_prefix("unity.update.").unwrap_or(key) {
            "mode" => {
                self.mode = Some(UpdateMode::parse(&value.to_ascii_lowercase()).ok_or_else(
                    || {
                        error(format!(
                            "unknown mode {value:?} (expected auto, notify or off)"
                        ))
                    },
                )?)
            }
            "level" => {
                self.level = Some(match value.to_ascii_lowercase().as_str() {
                    "digest" => Level::Digest,
                    "patch" => Level::Patch,
                    "minor" => Level::Minor,
                    "major" => Level::Major,
                    _ => {
                        return Err(error(format!(
                            "unknown level {value:?} (expected digest, patch, minor or major)"
                        )))
                    }
                })
            }
            "include" => self.include = Some(regex(value)?),
            "exclude" => self.exclude = Some(regex(value)?),
            "transform" => self.tag_transform = Some(regex(value)?),
            "cooldown" => {
                let cooldown = if value == "0" {
                    Duration::ZERO
                } else {
                    humantime::parse_duration(value).map_err(|e| {
                        error(format!("invalid duration {value:?} (e.g. 3d, 12h): {e}"))
                    })?
                };
                self.cooldown = Some(cooldown);
            }
            "pin" => {
                self.pinned = Some(match value.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" | "on" => true,
                    "false" | "no" | "0" | "off" | "" => false,
                    _ => return Err(error(format!("expected true or false, not {value:?}"))),
                })
            }
            "probe" => self.probe = Some(parse_probe(value).map_err(error)?),
            "vulnerabilities" => {
                self.vulnerabilities = Some(match value.to_ascii_lowercase().as_str() {
                    "critical" => Some(GateThreshold::Critical),
                    "high" => Some(GateThreshold::High),
                    "off" => None,
                    _ => {
                        return Err(error(format!(
                            "unknown gate {value:?} (expected critical, high or off)"
                        )))
                    }
                })
            }
            "data_restore" if key.starts_with("unity.update.") => {
                self.data_restore =
                    Some(DataRestorePolicy::parse(value).map_err(|e| error(e.to_string()))?)
            }
            "data_restore" => {
                return Err(error(
                    "set it on the container (label unity.update.data_restore) or in the \
                     agent's [containers] data_restore: the agent decides where a rollback's \
                     data comes from"
                        .to_owned(),
                ))
            }
            _ => {
                return Err(error(format!(
                    "unknown key (expected one of {})",
                    LABELS.join(", ")
                )))
            }
        }
        Ok(())
    }
}

/// `tcp://HOST:PORT` or `http://HOST:PORT/PATH` (empty: none), as the agent reaches it.
pub fn parse_probe(value: &str) -> Result<Option<Probe>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let invalid =
        || format!("invalid probe {value:?} (expected tcp://HOST:PORT or http://HOST:PORT/PATH)");
    let (tcp, rest) = match (value.strip_prefix("tcp://"), value.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        (None, None) => return Err(invalid()),
    };
    let (address, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    let (host, port) = address.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if host.is_empty() || (tcp && path != "/") {
        return Err(invalid());
    }
    Ok(Some(if tcp {
        Probe::Tcp { host, port }
    } else {
        Probe::Http {
            host,
            port,
            path: path.to_owned(),
        }
    }))
}

/// A version read from a tag. Tags with fewer than three numbers (`1.27`, `16`) are padded
/// with zeros but remember their shape: only tags of the same shape are compared, so
/// `nginx:1.27` (a moving tag) is never "updated" to `1.27.3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagVersion {
    pub version: semver::Version,
    /// How many numeric components the tag had (1 to 3).
    pub components: u8,
}

impl TagVersion {
    /// Parses `v?MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD]`.
    pub fn parse(text: &str) -> Option<TagVersion> {
        let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
        let core_end = text.find(['-', '+']).unwrap_or(text.len());
        let (core, suffix) = text.split_at(core_end);
        let numbers: Vec<&str> = core.split('.').collect();
        let valid = |n: &&str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
        if numbers.is_empty() || numbers.len() > 3 || !numbers.iter().all(valid) {
            return None;
        }
        let mut padded = numbers.join(".");
        for _ in numbers.len()..3 {
            padded.push_str(".0");
        }
        padded.push_str(suffix);
        let version = semver::Version::parse(&padded).ok()?;
        Some(TagVersion {
            version,
            components: numbers.len() as u8,
        })
    }

    /// Whether `candidate` is newer than `self`, comparable (same shape) and, unless `self` is
    /// a prerelease, not a prerelease. Returns the jump.
    pub fn jump_to(&self, candidate: &TagVersion) -> Option<Jump> {
        if candidate.components != self.components
            || candidate.version <= self.version
            || (!candidate.version.pre.is_empty() && self.version.pre.is_empty())
        {
            return None;
        }
        let (a, b) = (&self.version, &candidate.version);
        Some(if a.major != b.major {
            Jump::Major
        } else if a.minor != b.minor {
            Jump::Minor
        } else {
            Jump::Patch
        })
    }
}

/// The newer tags `policy` allows, best (highest) first, with their jump from `current_tag`.
/// Empty when `current_tag` has no version under this policy (`latest`).
pub fn newer_tags<'a>(
    policy: &Policy,
    current_tag: &str,
    tags: &'a [String],
) -> Vec<(&'a str, Jump)> {
    // The current tag is read with the transform but not filtered by include/exclude.
    let unfiltered = Policy {
        include: None,
        exclude: None,
        ..policy.clone()
    };
    let Some(current) = unfiltered.tag_version(current_tag) else {
        return Vec::new();
    };
    let mut found: Vec<(&str, TagVersion, Jump)> = tags
        .iter()
        .filter_map(|tag| {
            let version = policy.tag_version(tag)?;
            let jump = current.jump_to(&version)?;
            policy.allows(jump).then_some((tag.as_str(), version, jump))
        })
        .collect();
    found.sort_by(|a, b| b.1.version.cmp(&a.1.version).then_with(|| a.0.cmp(b.0)));
    found
        .into_iter()
        .map(|(tag, _, jump)| (tag, jump))
        .collect()
}

#[cfg(test)]
mod tests;
