//! Which instance of an agent identity may speak for it (pure).
//!
//! A cloned VM or a copied data directory carries the agent's key and certificate, so two
//! machines can present one identity. Each installation says which instance it is in its
//! hello; exactly one instance is active at a time, and only its reports are stored:
//! - the first instance an identity presents becomes active;
//! - another instance is refused while the active one is online (a clone: `Conflict`, for
//!   good; the alert tells the owner to enroll the clone anew) or was heard from recently
//!   (`Waiting`: the data directory may have moved to new hardware);
//! - a waiting instance takes over once the active one has been silent for
//!   `identity_takeover_after`; the old one is `Retired`, and refused should it come back.
//!
//! An instance that becomes active is told `new_instance` until something of it is stored,
//! so it renumbers its spool past the identity's stored sequence numbers: no report of one
//! machine is ever acknowledged as a duplicate of another's.

use crate::storage::instances::{InstanceRecord, InstanceStatus};
use unity_shared::proto::InstanceId;

/// The hello being decided on.
#[derive(Debug, Clone)]
pub struct Knock<'a> {
    pub instance_id: InstanceId,
    pub address: &'a str,
    pub hostname: &'a str,
}

/// What is known about the identity besides its instance records.
#[derive(Debug, Clone, Copy)]
pub struct IdentityFacts {
    /// The active instance has a connection that carried a message within `stale_after`.
    pub active_online: bool,
    /// The agent's last-seen time (the active instance's), Unix milliseconds.
    pub last_seen_ms: i64,
    /// The identity's last stored report sequence number.
    pub last_stored_seq: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Store this instance's reports; `new_instance` goes into the welcome.
    Accept { new_instance: bool },
    /// Another instance holds the identity.
    Refuse { holder: InstanceRecord },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub verdict: Verdict,
    /// Records to store (changed or new).
    pub changed: Vec<InstanceRecord>,
}

/// Decides on `knock` given the identity's `records`.
pub fn admit(
    records: &[InstanceRecord],
    knock: &Knock,
    facts: IdentityFacts,
    now_ms: i64,
    takeover_after_ms: i64,
) -> Admission {
    let mut mine = records
        .iter()
        .find(|record| record.instance_id == knock.instance_id)
        .cloned()
        .unwrap_or_else(|| InstanceRecord {
            instance_id: knock.instance_id,
            status: InstanceStatus::Waiting,
            first_seen_ms: now_ms,
            last_seen_ms: now_ms,
            address: knock.address.to_owned(),
            hostname: knock.hostname.to_owned(),
            admitted_at_seq: None,
            n_refused: 0,
        });
    mine.last_seen_ms = now_ms;
    mine.address = knock.address.to_owned();
    mine.hostname = knock.hostname.to_owned();
    let active = records
        .iter()
        .find(|record| record.status == InstanceStatus::Active);
    let become_active = |mut record: InstanceRecord| {
        record.status = InstanceStatus::Active;
        record.admitted_at_seq = facts.last_stored_seq;
        record
    };
    match active {
        None => Admission {
            verdict: Verdict::Accept { new_instance: true },
            changed: vec![become_active(mine)],
        },
        Some(active) if active.instance_id == knock.instance_id => {
            let new_instance = facts.last_stored_seq == mine.admitted_at_seq;
            Admission {
                verdict: Verdict::Accept { new_instance },
                changed: vec![mine],
            }
        }
        Some(active) => {
            let silent_ms = now_ms - active.last_seen_ms.max(facts.last_seen_ms);
            let may_take_over = !facts.active_online
                && silent_ms >= takeover_after_ms
                && mine.status != InstanceStatus::Conflict;
            if may_take_over {
                let mut retired = active.clone();
                retired.status = InstanceStatus::Retired;
                return Admission {
                    verdict: Verdict::Accept { new_instance: true },
                    changed: vec![retired, become_active(mine)],
                };
            }
            mine.status = if facts.active_online || mine.status == InstanceStatus::Conflict {
                InstanceStatus::Conflict
            } else {
                InstanceStatus::Waiting
            };
            mine.n_refused += 1;
            Admission {
                verdict: Verdict::Refuse {
                    holder: active.clone(),
                },
                changed: vec![mine],
            }
        }
    }
}

/// The reason sent to a refused agent (shown by `unity-agent status`).
pub fn refusal_reason(holder: &InstanceRecord) -> String {
    format!(
        "another machine ({}, host {:?}) holds this agent's identity; run `unity-agent enroll` with a new join token on this host",
        holder.address, holder.hostname
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;
    const TAKEOVER: i64 = 10 * MINUTE;

    fn id(byte: u8) -> InstanceId {
        InstanceId::from_bytes([byte; 16])
    }

    fn knock(byte: u8) -> Knock<'static> {
        Knock {
            instance_id: id(byte),
            address: if byte == 1 {
                "10.0.0.1:4000"
            } else {
                "10.0.0.2:4000"
            },
            hostname: if byte == 1 { "nas" } else { "nas-clone" },
        }
    }

    fn facts(
        active_online: bool,
        last_seen_ms: i64,
        last_stored_seq: Option<u64>,
    ) -> IdentityFacts {
        IdentityFacts {
            active_online,
            last_seen_ms,
            last_stored_seq,
        }
    }

    /// Applies an admission to the records, as the session does.
    fn apply(records: &mut Vec<InstanceRecord>, admission: &Admission) {
        for changed in &admission.changed {
            match records
                .iter_mut()
                .find(|record| record.instance_id == changed.instance_id)
            {
                Some(record) => *record = changed.clone(),
                None => records.push(changed.clone()),
            }
        }
    }

    fn status_of(records: &[InstanceRecord], byte: u8) -> InstanceStatus {
        records
            .iter()
            .find(|record| record.instance_id == id(byte))
            .map(|record| record.status)
            .unwrap()
    }

    #[test]
    fn the_first_instance_becomes_active_and_renumbers_until_something_is_stored() {
        let mut records = Vec::new();
        let first = admit(&records, &knock(1), facts(false, 0, Some(40)), 0, TAKEOVER);
        assert_eq!(first.verdict, Verdict::Accept { new_instance: true });
        apply(&mut records, &first);
        assert_eq!(status_of(&records, 1), InstanceStatus::Active);
        // Reconnecting before anything new is stored: still new (the spool may be unrenumbered).
        let again = admit(
            &records,
            &knock(1),
            facts(false, 0, Some(40)),
            MINUTE,
            TAKEOVER,
        );
        assert_eq!(again.verdict, Verdict::Accept { new_instance: true });
        let later = admit(
            &records,
            &knock(1),
            facts(false, 0, Some(41)),
            MINUTE,
            TAKEOVER,
        );
        assert_eq!(
            later.verdict,
            Verdict::Accept {
                new_instance: false
            }
        );
    }

    #[test]
    fn a_clone_of_an_online_host_is_refused_for_good() {
        let mut records = Vec::new();
        let first = admit(&records, &knock(1), facts(false, 0, None), 0, TAKEOVER);
        apply(&mut records, &first);
        let clone = admit(
            &records,
            &knock(2),
            facts(true, 0, Some(5)),
            MINUTE,
            TAKEOVER,
        );
        let Verdict::Refuse { holder } = &clone.verdict else {
            panic!("{clone:?}");
        };
        assert_eq!(holder.instance_id, id(1));
        apply(&mut records, &clone);
        assert_eq!(status_of(&records, 2), InstanceStatus::Conflict);
        // The original goes quiet for hours: the clone still does not take over.
        let much_later = admit(
            &records,
            &knock(2),
            facts(false, MINUTE, Some(5)),
            MINUTE + 100 * TAKEOVER,
            TAKEOVER,
        );
        assert!(matches!(much_later.verdict, Verdict::Refuse { .. }));
        apply(&mut records, &much_later);
        assert_eq!(status_of(&records, 2), InstanceStatus::Conflict);
        assert_eq!(status_of(&records, 1), InstanceStatus::Active);
        // The original itself is always welcome.
        let original = admit(
            &records,
            &knock(1),
            facts(false, MINUTE, Some(5)),
            2 * MINUTE,
            TAKEOVER,
        );
        assert!(matches!(original.verdict, Verdict::Accept { .. }));
    }

    #[test]
    fn a_moved_data_directory_waits_then_takes_over_and_the_old_machine_is_refused() {
        let mut records = Vec::new();
        let first = admit(&records, &knock(1), facts(false, 0, None), 0, TAKEOVER);
        apply(&mut records, &first);
        // The old machine was last heard from a minute ago and is offline now.
        let early = admit(
            &records,
            &knock(2),
            facts(false, MINUTE, Some(9)),
            2 * MINUTE,
            TAKEOVER,
        );
        assert!(matches!(early.verdict, Verdict::Refuse { .. }));
        apply(&mut records, &early);
        assert_eq!(status_of(&records, 2), InstanceStatus::Waiting);
        let late = admit(
            &records,
            &knock(2),
            facts(false, MINUTE, Some(9)),
            MINUTE + TAKEOVER,
            TAKEOVER,
        );
        assert_eq!(late.verdict, Verdict::Accept { new_instance: true });
        apply(&mut records, &late);
        assert_eq!(status_of(&records, 2), InstanceStatus::Active);
        assert_eq!(status_of(&records, 1), InstanceStatus::Retired);
        let back = admit(
            &records,
            &knock(1),
            facts(true, MINUTE + TAKEOVER, Some(12)),
            MINUTE + TAKEOVER + 1,
            TAKEOVER,
        );
        assert!(matches!(back.verdict, Verdict::Refuse { .. }));
        apply(&mut records, &back);
        assert_eq!(status_of(&records, 1), InstanceStatus::Conflict);
    }
}
