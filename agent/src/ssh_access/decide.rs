//! What to do with one user's managed keys (pure): the block found on disk, the fingerprint of
//! the block the agent last wrote there and the keys the controller wants decide between
//! leaving it, writing it, removing it, and reporting or restoring a hand edit.

use super::block::{fingerprint, same_lines};
use unity_shared::model::ssh::DriftAction;

/// The decision for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The block already holds the desired keys (in any order).
    Unchanged,
    /// Write the desired keys; `drifted` holds the hand-edited lines being overwritten
    /// (`Some` only when the drift policy is `Restore`).
    Write { drifted: Option<Vec<String>> },
    /// Take the block (or file) away: the user has no managed keys any more.
    Remove,
    /// Leave the hand-edited block as it is and report what it holds.
    Drift { found: Vec<String> },
}

/// Decides for one user. `found`: the block on disk (`None`: none); `last_written`: the
/// fingerprint of what the agent wrote there last (`None`: nothing remembered); `desired`:
/// the controller's lines (empty: remove).
pub fn decide(
    found: Option<&[String]>,
    last_written: Option<&str>,
    desired: &[String],
    on_drift: DriftAction,
) -> Decision {
    if desired.is_empty() {
        // Removing a grant removes access, hand edits inside the block included.
        return match found {
            None => Decision::Unchanged,
            Some(_) => Decision::Remove,
        };
    }
    if let Some(found) = found {
        if same_lines(found, desired) {
            return Decision::Unchanged;
        }
    }
    let drifted = match (found, last_written) {
        (Some(found), Some(last)) => fingerprint(found) != last,
        // A block the agent does not remember writing, or its block taken out by hand.
        (Some(_), None) | (None, Some(_)) => true,
        (None, None) => false,
    };
    if !drifted {
        return Decision::Write { drifted: None };
    }
    let found = found.map(<[String]>::to_vec).unwrap_or_default();
    match on_drift {
        DriftAction::Report => Decision::Drift { found },
        DriftAction::Restore => Decision::Write {
            drifted: Some(found),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|line| (*line).to_owned()).collect()
    }

    #[test]
    fn issue_16_first_write_update_and_unchanged() {
        let want = keys(&["k1", "k2"]);
        assert_eq!(
            decide(None, None, &want, DriftAction::Report),
            Decision::Write { drifted: None }
        );
        let old = keys(&["k1"]);
        let last = fingerprint(&old);
        assert_eq!(
            decide(Some(&old), Some(&last), &want, DriftAction::Report),
            Decision::Write { drifted: None }
        );
        let reordered = keys(&["k2", "k1"]);
        assert_eq!(
            decide(Some(&reordered), Some(&last), &want, DriftAction::Report),
            Decision::Unchanged
        );
    }

    #[test]
    fn issue_16_hand_edits_are_reported_or_restored() {
        let wrote = keys(&["k1"]);
        let last = fingerprint(&wrote);
        let edited = keys(&["k1", "intruder"]);
        assert_eq!(
            decide(Some(&edited), Some(&last), &wrote, DriftAction::Report),
            Decision::Drift {
                found: edited.clone()
            }
        );
        assert_eq!(
            decide(Some(&edited), Some(&last), &wrote, DriftAction::Restore),
            Decision::Write {
                drifted: Some(edited.clone())
            }
        );
        // The block deleted by hand is drift too, as is a block never written here.
        assert_eq!(
            decide(None, Some(&last), &wrote, DriftAction::Report),
            Decision::Drift { found: vec![] }
        );
        assert_eq!(
            decide(Some(&edited), None, &wrote, DriftAction::Report),
            Decision::Drift { found: edited }
        );
    }

    #[test]
    fn issue_16_no_keys_means_the_block_goes_even_when_edited() {
        let edited = keys(&["k1", "intruder"]);
        assert_eq!(
            decide(Some(&edited), Some("x"), &[], DriftAction::Report),
            Decision::Remove
        );
        assert_eq!(
            decide(None, Some("x"), &[], DriftAction::Report),
            Decision::Unchanged
        );
    }
}
