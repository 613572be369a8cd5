//! What the faces show beside a pending update (issue 17 §3): its release notes (with the
//! summary, when there is one) and the recommendation with its reasons, assembled from the
//! store: the notes of this candidate, the fleet's update history of this image, the image's
//! age. The vulnerability delta and the database major-version guard are inputs other parts
//! fill ([`Signals`]); without them the rules say so.

use super::recommend::{
    self, CveDelta, DatabaseMajor, FleetHistory, Inputs, Recommendation, Thresholds,
};
use crate::storage::containers::{DetectedUpdate, UpdateCheckRecord};
use crate::storage::operations::{OperationKind, OperationRecord, OperationState};
use crate::storage::release_notes::NotesRecord;
use crate::updates::reference::ImageRef;
use serde::Serialize;
use std::time::Duration;
use unity_shared::model::update::Outcome;

/// The notes and recommendation of one pending update.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insight {
    pub recommendation: Recommendation,
    /// The release notes of this candidate, when fetched (with their error, if any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_notes: Option<NotesRecord>,
}

/// Inputs from other checks: the vulnerability scan (issue 17 §2) and the database
/// major-version guard (§1). `None`: not known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    pub cve: Option<CveDelta>,
    pub database_major: Option<DatabaseMajor>,
}

/// Whether an operation's image names the same repository as `image`.
fn same_repository(operation_image: Option<&str>, image: &ImageRef) -> bool {
    operation_image
        .and_then(|text| ImageRef::parse(text).ok())
        .is_some_and(|other| other.same_repository(image))
}

fn rolled_back(record: &OperationRecord) -> bool {
    record.state == OperationState::Finished
        && record
            .result
            .as_ref()
            .is_some_and(|result| matches!(result.outcome, Outcome::RolledBack | Outcome::Failed))
}

/// This image's rollbacks anywhere in the fleet, from every host's operations (pure).
pub fn fleet_history(
    image: &str,
    candidate_digest: &str,
    operations: &[OperationRecord],
) -> FleetHistory {
    let mut history = FleetHistory::default();
    let Ok(image) = ImageRef::parse(image) else {
        return history;
    };
    for record in operations {
        let update_failed = record.action == OperationKind::Update && rolled_back(record);
        if update_failed && record.to_digest.as_deref() == Some(candidate_digest) {
            history.candidate_failures += 1;
            continue;
        }
        let of_image = same_repository(record.to_image.as_deref(), &image)
            || same_repository(record.from_image.as_deref(), &image);
        let manual_rollback = record.action == OperationKind::Rollback
            && record.state == OperationState::Finished
            && record
                .result
                .as_ref()
                .is_some_and(|result| result.outcome == Outcome::Succeeded);
        if of_image && (update_failed || manual_rollback) {
            history.repository_rollbacks += 1;
        }
    }
    history
}

/// The insight for `check` at `now_ms`, or `None` when it has no pending update (pure).
/// `notes` are used only when they are for this candidate.
pub fn of(
    check: &UpdateCheckRecord,
    update: &DetectedUpdate,
    notes: Option<NotesRecord>,
    operations: &[OperationRecord],
    signals: Signals,
    thresholds: Thresholds,
    now_ms: i64,
) -> Insight {
    let notes = notes.filter(|notes| notes.candidate_digest == update.candidate_digest);
    let since = update.candidate_created_ms.unwrap_or(update.first_seen_ms);
    let age = (update.candidate_created_ms.is_some() || update.first_seen_ms > 0)
        .then(|| Duration::from_millis((now_ms - since).max(0) as u64));
    let flags = notes
        .as_ref()
        .filter(|notes| !notes.releases.is_empty())
        .map(|notes| super::notes::releases::flags(&notes.releases));
    let inputs = Inputs {
        kind: update.kind,
        age,
        cve: signals.cve,
        fleet: fleet_history(&check.image, &update.candidate_digest, operations),
        notes: flags,
        database_major: signals.database_major,
    };
    Insight {
        recommendation: recommend::recommend(&inputs, thresholds),
        release_notes: notes,
    }
}
