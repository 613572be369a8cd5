//! Retention per tier and per metric family (pure): how long raw samples, 5-minute and 1-hour
//! aggregates of a metric are kept, and what happens to a file of a given age.
//!
//! A file (a raw bucket, a rollup period) holds every series of its time span. It is deleted
//! once its end is older than the longest retention of its tier, kept whole while younger
//! than the shortest, and in between rewritten without the series whose family's retention
//! it has outlived. Families are named by a metric name or a prefix ending in `*`; the most
//! specific match wins (an exact name, then the longest prefix).

use super::rollup::Tier;

/// How long each tier keeps samples, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierRetention {
    pub raw_ms: i64,
    pub five_minutes_ms: i64,
    pub one_hour_ms: i64,
}

impl TierRetention {
    /// The retention of `tier`.
    pub fn of(&self, tier: Tier) -> i64 {
        match tier {
            Tier::Raw => self.raw_ms,
            Tier::FiveMinutes => self.five_minutes_ms,
            Tier::OneHour => self.one_hour_ms,
        }
    }
}

/// Which metrics a family holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricPattern {
    /// One metric name.
    Exact(String),
    /// Every metric whose name starts with this (`smart_*` is `Prefix("smart_")`).
    Prefix(String),
}

impl MetricPattern {
    /// Reads `name` or `prefix*`.
    pub fn parse(text: &str) -> MetricPattern {
        match text.strip_suffix('*') {
            Some(prefix) => MetricPattern::Prefix(prefix.to_owned()),
            None => MetricPattern::Exact(text.to_owned()),
        }
    }

    /// How specifically the pattern matches `metric`: `None` when it does not.
    fn specificity(&self, metric: &str) -> Option<usize> {
        match self {
            MetricPattern::Exact(name) => (name == metric).then_some(usize::MAX),
            MetricPattern::Prefix(prefix) => metric.starts_with(prefix).then_some(prefix.len()),
        }
    }
}

/// A family's retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyRetention {
    pub pattern: MetricPattern,
    pub keep: TierRetention,
}

/// The retention of every tier and family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub default: TierRetention,
    pub families: Vec<FamilyRetention>,
}

/// What to do with a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Keep,
    /// Rewrite it without the series whose retention it has outlived.
    Filter,
    Delete,
}

impl RetentionPolicy {
    /// How long `tier` keeps `metric`.
    pub fn keep_ms(&self, metric: &str, tier: Tier) -> i64 {
        self.families
            .iter()
            .filter_map(|family| Some((family.pattern.specificity(metric)?, family)))
            .max_by_key(|(specificity, _)| *specificity)
            .map_or(self.default, |(_, family)| family.keep)
            .of(tier)
    }

    fn bounds(&self, tier: Tier) -> (i64, i64) {
        let all = std::iter::once(self.default.of(tier))
            .chain(self.families.iter().map(|family| family.keep.of(tier)));
        all.fold((i64::MAX, i64::MIN), |(shortest, longest), keep| {
            (shortest.min(keep), longest.max(keep))
        })
    }

    /// What to do with a file of `tier` whose span ends at `end_ms`.
    pub fn fate(&self, tier: Tier, end_ms: i64, now_ms: i64) -> Fate {
        let age = now_ms.saturating_sub(end_ms);
        let (shortest, longest) = self.bounds(tier);
        if age >= longest {
            Fate::Delete
        } else if age < shortest {
            Fate::Keep
        } else {
            Fate::Filter
        }
    }

    /// Whether a file of `tier` ending at `end_ms` keeps `metric`'s samples.
    pub fn keeps(&self, metric: &str, tier: Tier, end_ms: i64, now_ms: i64) -> bool {
        now_ms.saturating_sub(end_ms) < self.keep_ms(metric, tier)
    }

    /// The newest time at or before which `tier` keeps nothing at all.
    pub fn cutoff_ms(&self, tier: Tier, now_ms: i64) -> i64 {
        now_ms.saturating_sub(self.bounds(tier).1)
    }
}
