//! Agents updated from the controller (issue 20 §2, docs/agent-updates.md): which build an
//! agent is sent (`choose.rs`, pure; `build_for.rs` reads the store and describes the update),
//! how an update moves from queued to succeeded, refused or rolled back (`confirm.rs`, pure),
//! the loop that sends builds and watches deadlines (`dispatch.rs`), the hello that confirms
//! an update (`hello.rs`), and the fleet rollout: which agents go now (`rollout.rs`, pure) and
//! the loop that follows it (`fleet.rs`). The records are in `storage::agent_updates` and
//! `storage::agent_rollouts`; operators ask through `domain::agent_updates` and
//! `domain::agent_rollouts`.

pub mod build_for;
pub mod choose;
pub mod confirm;
pub mod dispatch;
pub mod fleet;
pub mod hello;
pub mod rollout;

#[cfg(test)]
mod rollout_tests;
