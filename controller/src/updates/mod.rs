//! Container image update detection, controller side: agents report what they run, the
//! controller asks the registries (agents never need registry credentials).
//!
//! - [`reference`](mod@reference): image references normalised as Docker does.
//! - [`manifest`]: manifests, indexes and platform selection (pure).
//! - [`policy`]: update policies and tag comparison (pure).
//! - [`credentials`]: per-registry credentials, sealed with an AEAD key file.
//! - [`registry`]: the OCI distribution API client (auth, rate limits, cache).
//! - [`current`]: check records corrected by what containers run now and their history.
//! - [`detect`]: one container's check, and many at once.
//! - [`effective_policy`]: a container's policy from its layers (default, host, labels,
//!   container).
//! - [`settings`]: the `[updates]` configuration section.
//! - [`auto`]: `auto` policies applied inside maintenance windows, canary first.
//! - [`backups`]: backups that came with operation results, diffed field by field (pure);
//!   [`backup_sealing`]: their inspect (environment included) sealed at rest.
//! - [`dispatch`]: container operations queued, sent to agents, progress and history stored;
//!   [`queue`]: what of it the context holds (who is being sent, the loop's wake-up).
//! - [`waiting`]: why an offered update is not applied now, one reason per container (pure).
//! - [`watch`]: the periodic check of every container, storing one record per container.
//! - [`window`]: maintenance windows, weekly or cron-like, in a time zone (pure).
//! - [`offer`]: whether a detected update is still offered (applied since, failed here), what
//!   roll back restores (pure).
//! - [`notes`]: release notes of pending updates, fetched from the forges after each check,
//!   and their optional language-model [`summary`]; [`recommend`]: apply now, wait or hold,
//!   with reasons (pure); [`insight`]: the notes and the recommendation of one check.
//! - [`order`]: dependency order of one host's containers (compose `depends_on`,
//!   `unity.update.after`, shared network namespaces; pure).
//! - [`rollout`]: which pending updates to apply now: windows, approvals, staged rollout
//!   with a canary, per-host concurrency (pure).
//!
//! See `docs/updates.md`.

pub mod auto;
pub mod backup_sealing;
#[cfg(test)]
mod backup_sealing_tests;
pub mod backups;
pub mod credentials;
pub mod current;
pub mod detect;
pub mod dispatch;
pub mod effective_policy;
pub mod insight;
pub mod manifest;
pub mod notes;
pub mod offer;
pub mod order;
pub mod policy;
pub mod queue;
pub mod recommend;
pub mod reference;
pub mod registry;
pub mod rollout;
pub mod scan;
pub mod settings;
pub mod summary;
pub mod waiting;
pub mod watch;
pub mod window;

#[cfg(test)]
mod live_tests;
