//! The operator's rules over series as the evaluation runs them (issue 18): those of the
//! config file (`[[alerts.rule]]`) and those made in the dashboard or API (stored), each
//! only on the hosts of its scope (`hosts`, `groups` = host groups), each with its `for`
//! (the conditions come out as candidates; [`super::lifecycle::held_for`] keeps those that
//! held long enough).

use super::config::SeriesRule;
use super::rules::{series, Condition};
use crate::context::Context;
use crate::storage::access::{HostGroupRecord, ALL_HOSTS};
use crate::storage::alert_silences::UserRuleRecord;
use crate::storage::series::{Point, SeriesKey};
use std::collections::BTreeMap;
use unity_shared::proto::AgentId;

/// A stored rule as the evaluation runs it.
pub fn from_record(record: &UserRuleRecord) -> SeriesRule {
    SeriesRule::from_record(record)
}

/// Every rule of one evaluation, with the host groups their scopes name.
pub struct UserRules {
    rules: Vec<SeriesRule>,
    host_groups: Vec<HostGroupRecord>,
    labels: BTreeMap<AgentId, Vec<(String, String)>>,
}

impl UserRules {
    /// The config file's rules, then the stored ones whose names the file does not use.
    pub fn new(
        config_rules: &[SeriesRule],
        stored: &[UserRuleRecord],
        host_groups: Vec<HostGroupRecord>,
        labels: BTreeMap<AgentId, Vec<(String, String)>>,
    ) -> UserRules {
        let mut rules = config_rules.to_vec();
        for record in stored {
            if !config_rules.iter().any(|rule| rule.name == record.name) {
                rules.push(from_record(record));
            }
        }
        UserRules {
            rules,
            host_groups,
            labels,
        }
    }

    /// Reads the stored rules (and, if a scope names groups, the host groups and labels).
    /// Note that this uses blocking I/O.
    pub fn load(ctx: &Context) -> anyhow::Result<UserRules> {
        let stored = ctx.store.alert_silences.rules()?;
        let config_rules = &ctx.config.alerts.series_rules;
        let scoped = config_rules.iter().any(|rule| !rule.groups.is_empty())
            || stored.iter().any(|rule| !rule.groups.is_empty());
        let (host_groups, labels) = if scoped {
            (
                ctx.store.access.host_groups()?,
                ctx.store.access.all_labels()?.into_iter().collect(),
            )
        } else {
            (Vec::new(), BTreeMap::new())
        };
        Ok(UserRules::new(config_rules, &stored, host_groups, labels))
    }

    /// The host groups `agent_id` is in (`all` included).
    fn groups_of(&self, agent_id: &AgentId) -> Vec<&str> {
        let labels = self.labels.get(agent_id).map_or(&[][..], Vec::as_slice);
        std::iter::once(ALL_HOSTS)
            .chain(
                self.host_groups
                    .iter()
                    .filter(|group| group.contains(agent_id, labels))
                    .map(|group| group.name.as_str()),
            )
            .collect()
    }

    /// The conditions the rules in scope find in a host's newest series, each with its
    /// rule's `for` in milliseconds.
    pub fn candidates(
        &self,
        agent_id: &AgentId,
        latest: &[(SeriesKey, Point)],
        stale_ms: i64,
        now_ms: i64,
    ) -> Vec<(Condition, i64)> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        let groups = if self.rules.iter().any(|rule| !rule.groups.is_empty()) {
            self.groups_of(agent_id)
        } else {
            Vec::new()
        };
        let mut found = Vec::new();
        for rule in &self.rules {
            if !rule.applies_to(agent_id.as_str(), &groups) {
                continue;
            }
            let for_ms = i64::try_from(rule.for_duration.as_millis()).unwrap_or(i64::MAX);
            let conditions = series::conditions(
                agent_id,
                std::slice::from_ref(rule),
                latest,
                stale_ms,
                now_ms,
            );
            found.extend(conditions.into_iter().map(|condition| (condition, for_ms)));
        }
        found
    }
}
