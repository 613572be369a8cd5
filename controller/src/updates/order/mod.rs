//! Dependency order of one host's containers (pure): which containers a container's update
//! must follow, and the order in which a host's updates are applied.
//!
//! A container depends on another container **of the same host** when:
//!
//! - Compose says so: Compose v2 writes the service's `depends_on` into the container label
//!   `com.docker.compose.depends_on` (`db:service_started:false,redis:service_healthy:true`);
//!   the services named are looked up in the container's own compose project only (a `db` of
//!   another project is not this one's `db`);
//! - the owner says so: `unity.update.after=<name>[,<name>]` names containers (by container
//!   name, else as a service of the container's own compose project);
//! - it shares another container's network namespace: `HostConfig.NetworkMode` is
//!   `container:<id or name>` (Compose's `network_mode: service:x` becomes that too).
//!
//! Names that match no container on the host are ignored (the dependency runs elsewhere or is
//! gone). [`DependencyGraph::order`] is a topological order with a deterministic tie-break (by
//! container name); a cycle is an error naming it. [`queue`] holds operations already queued
//! (updates asked for by hand) in that order.

mod holds;
pub mod queue;

pub use holds::holds;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use unity_shared::model::container::Container;

/// Compose v2's label with the service's `depends_on`.
pub const COMPOSE_DEPENDS_ON: &str = "com.docker.compose.depends_on";
/// The owner's label: update this container after the ones named.
pub const AFTER_LABEL: &str = "unity.update.after";

/// Why a container depends on another, for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Because {
    /// Compose `depends_on`.
    DependsOn,
    /// A `unity.update.after` label.
    AfterLabel,
    /// It joins the other's network namespace (`container:`/`service:` network mode).
    NetworkNamespace,
}

impl Because {
    /// How the dependency is shown.
    pub fn label(self) -> &'static str {
        match self {
            Because::DependsOn => "compose depends_on",
            Because::AfterLabel => "unity.update.after label",
            Because::NetworkNamespace => "shares its network namespace",
        }
    }
}

/// A cycle among a host's containers: the names in order, the first repeated at the end.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CycleError {
    pub cycle: Vec<String>,
}

impl fmt::Display for CycleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dependency cycle {}: change a depends_on, unity.update.after or network_mode so \
             that one of them comes first",
            self.cycle.join(" → ")
        )
    }
}

/// The containers of one host and what each depends on directly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DependencyGraph {
    /// Container name -> (dependency name -> why), every container of the host listed.
    edges: BTreeMap<String, BTreeMap<String, Because>>,
}

/// The entries of a comma-separated list, trimmed, empty ones dropped.
fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

impl DependencyGraph {
    /// The graph of one host's containers.
    pub fn of(containers: &[Container]) -> DependencyGraph {
        let mut edges: BTreeMap<String, BTreeMap<String, Because>> = containers
            .iter()
            .map(|container| (container.name.clone(), BTreeMap::new()))
            .collect();
        // The containers of a compose service, in the project of `from`.
        let service = |from: &Container, service: &str| -> Vec<String> {
            let Some(project) = from.compose.as_ref().map(|compose| &compose.project) else {
                return Vec::new();
            };
            containers
                .iter()
                .filter(|c| {
                    c.compose.as_ref().is_some_and(|compose| {
                        &compose.project == project && compose.service == service
                    })
                })
                .map(|c| c.name.clone())
                .collect()
        };
        let by_name = |name: &str| -> Option<String> {
            containers
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.name.clone())
        };
        // `container:<x>`: a full id, an id prefix of at least 12 characters, or a name.
        let by_id_or_name = |target: &str| -> Option<String> {
            containers
                .iter()
                .find(|c| c.id == target)
                .or_else(|| {
                    (target.len() >= 12)
                        .then(|| containers.iter().find(|c| c.id.starts_with(target)))
                        .flatten()
                })
                .map(|c| c.name.clone())
                .or_else(|| by_name(target.trim_start_matches('/')))
        };
        for container in containers {
            let mut found: Vec<(String, Because)> = Vec::new();
            if let Some(text) = container.label(COMPOSE_DEPENDS_ON) {
                for entry in list(text) {
                    let name = entry.split(':').next().unwrap_or(entry);
                    found.extend(
                        service(container, name)
                            .into_iter()
                            .map(|dependency| (dependency, Because::DependsOn)),
                    );
                }
            }
            if let Some(text) = container.label(AFTER_LABEL) {
                for name in list(text) {
                    match by_name(name) {
                        Some(dependency) => found.push((dependency, Because::AfterLabel)),
                        None => found.extend(
                            service(container, name)
                                .into_iter()
                                .map(|dependency| (dependency, Because::AfterLabel)),
                        ),
                    }
                }
            }
            if let Some(target) = container
                .network_mode
                .as_deref()
                .and_then(|mode| mode.strip_prefix("container:"))
            {
                if let Some(dependency) = by_id_or_name(target) {
                    found.push((dependency, Because::NetworkNamespace));
                }
            }
            let entry = edges.entry(container.name.clone()).or_default();
            for (dependency, because) in found {
                if dependency != container.name {
                    entry.entry(dependency).or_insert(because);
                }
            }
        }
        DependencyGraph { edges }
    }

    /// What `container` depends on directly, with why, by name.
    pub fn direct(&self, container: &str) -> Vec<(String, Because)> {
        self.edges
            .get(container)
            .map(|deps| {
                deps.iter()
                    .map(|(name, why)| (name.clone(), *why))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Everything `container` depends on, directly or through others, by name (itself left
    /// out even on a cycle).
    pub fn needs(&self, container: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<&str> = vec![container];
        while let Some(name) = stack.pop() {
            for dependency in self
                .edges
                .get(name)
                .into_iter()
                .flat_map(|deps| deps.keys())
            {
                if dependency != container && seen.insert(dependency.clone()) {
                    stack.push(dependency);
                }
            }
        }
        seen
    }

    /// Every container, dependencies before their dependents; among those free to go, by
    /// name. A cycle is an error naming it.
    pub fn order(&self) -> Result<Vec<String>, CycleError> {
        let mut waiting_on: BTreeMap<&str, usize> = self
            .edges
            .iter()
            .map(|(name, deps)| (name.as_str(), deps.len()))
            .collect();
        let mut ready: BTreeSet<&str> = waiting_on
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(name, _)| *name)
            .collect();
        let mut order = Vec::with_capacity(self.edges.len());
        while let Some(name) = ready.pop_first() {
            order.push(name.to_owned());
            waiting_on.remove(name);
            for (dependent, deps) in &self.edges {
                if deps.contains_key(name) {
                    if let Some(n) = waiting_on.get_mut(dependent.as_str()) {
                        *n -= 1;
                        if *n == 0 {
                            ready.insert(dependent.as_str());
                        }
                    }
                }
            }
        }
        match waiting_on.keys().next() {
            None => Ok(order),
            Some(first) => Err(self.cycle_from(first, &waiting_on)),
        }
    }

    /// The shortest cycle through `container`, if it lies on one (containers that only
    /// depend on a cycle are not on it: they wait for it).
    pub fn cycle_of(&self, container: &str) -> Option<CycleError> {
        let mut parent: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue: std::collections::VecDeque<&str> = [container].into();
        while let Some(name) = queue.pop_front() {
            for dependency in self
                .edges
                .get(name)
                .into_iter()
                .flat_map(|deps| deps.keys())
            {
                if dependency == container {
                    let mut back = vec![name];
                    while let Some(previous) = back.last().and_then(|n| parent.get(n)) {
                        back.push(previous);
                    }
                    let mut cycle: Vec<String> =
                        back.iter().rev().map(|n| (*n).to_owned()).collect();
                    cycle.push(container.to_owned());
                    return Some(CycleError { cycle });
                }
                if dependency != container && !parent.contains_key(dependency.as_str()) {
                    parent.insert(dependency, name);
                    queue.push_back(dependency);
                }
            }
        }
        None
    }

    /// Walks dependencies from `start` (among `left`, or anywhere when `left` is empty) until a
    /// name repeats, and returns that loop.
    fn cycle_from(&self, start: &str, left: &BTreeMap<&str, usize>) -> CycleError {
        let mut path: Vec<String> = vec![start.to_owned()];
        loop {
            let current = path.last().map(String::as_str).unwrap_or(start);
            let next = self.edges.get(current).and_then(|deps| {
                deps.keys()
                    .find(|name| left.is_empty() || left.contains_key(name.as_str()))
            });
            let Some(next) = next else {
                return CycleError { cycle: path };
            };
            if let Some(at) = path.iter().position(|name| name == next) {
                let mut cycle = path.split_off(at);
                cycle.push(next.clone());
                return CycleError { cycle };
            }
            path.push(next.clone());
        }
    }
}

#[cfg(test)]
mod tests;
