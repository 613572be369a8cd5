//! Agents updated from the controller (issue 20 §2, docs/agent-updates.md).

pub mod rollout;

#[cfg(test)]
mod rollout_tests;
