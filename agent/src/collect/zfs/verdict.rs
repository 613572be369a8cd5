//! Pool verdicts: a pure function of a [`PoolStatus`], [`ZfsThresholds`] and (for the scrub
//! age check) the current time.

use unity_shared::model::storage::{
    PoolStatus, PoolVerdict, Reason, ReasonKind, ScanKind, ScanState, Vdev, VdevKind, VdevState,
    Verdict, VerdictStatus,
};

use VerdictStatus::{Failing, Passed, Warning};

/// Configurable pool checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZfsThresholds {
    /// Warn when the last finished scrub is older than this many days (or no scrub ever ran).
    /// Default 35 days: TrueNAS schedules scrubs with a 35-day threshold, and OpenZFS
    /// distributions ship a monthly scrub timer (`zfs-scrub-monthly@.timer`). `None` disables.
    pub scrub_max_age_days: Option<u64>,
}

impl Default for ZfsThresholds {
    fn default() -> ZfsThresholds {
        ZfsThresholds {
            scrub_max_age_days: Some(35),
        }
    }
}

/// The verdict of one pool. `now_unix` (seconds since the epoch) enables the scrub age check;
/// pass `None` to skip it (e.g. for reproducible snapshots).
pub fn verdict(
    pool: &PoolStatus,
    thresholds: &ZfsThresholds,
    now_unix: Option<i64>,
) -> PoolVerdict {
    let mut reasons = Vec::new();
    match &pool.state {
        VdevState::Online => {}
        VdevState::Degraded => {
            let no_redundancy: Vec<&str> = pool
                .root
                .children
                .iter()
                .filter(|vdev| redundancy_left(vdev) < 1)
                .map(|vdev| vdev.name.as_str())
                .collect();
            if no_redundancy.is_empty() {
                reasons.push(Reason::new(
                    Warning,
                    ReasonKind::Degraded,
                    format!(
                        "Pool {} is DEGRADED but every vdev keeps some redundancy.",
                        pool.name
                    ),
                ));
            } else {
                reasons.push(Reason::new(
                    Failing,
                    ReasonKind::Degraded,
                    format!(
                        "Pool {} is DEGRADED and vdev {} has no redundancy left.",
                        pool.name,
                        no_redundancy.join(", ")
                    ),
                ));
            }
        }
        other => reasons.push(Reason::new(
            Failing,
            ReasonKind::Faulted,
            format!("Pool {} is {}.", pool.name, state_word(other)),
        )),
    }
    let mut bad_members = Vec::new();
    let mut with_errors = Vec::new();
    for group in [&pool.logs, &pool.cache, &pool.special, &pool.dedup] {
        for vdev in group {
            walk(vdev, &mut bad_members, &mut with_errors);
        }
    }
    for vdev in &pool.root.children {
        walk(vdev, &mut bad_members, &mut with_errors);
    }
    if !bad_members.is_empty() {
        reasons.push(Reason::new(
            Warning,
            ReasonKind::MemberFailed,
            format!("Devices not online: {}.", bad_members.join(", ")),
        ));
    }
    if !with_errors.is_empty() {
        reasons.push(Reason::new(
            Warning,
            ReasonKind::DeviceErrors,
            format!(
                "Devices with read/write/checksum errors: {}.",
                with_errors.join(", ")
            ),
        ));
    }
    if let Some(errors) = &pool.errors {
        if !errors.no_known_errors {
            reasons.push(Reason::new(
                Failing,
                ReasonKind::DataErrors,
                format!("Pool {} reports data errors: {}", pool.name, errors.text),
            ));
        }
    }
    match &pool.scan {
        Some(scan) if scan.state == ScanState::InProgress => {
            let done = scan
                .percent_done
                .map(|p| format!(" ({p:.2}% done)"))
                .unwrap_or_default();
            let (status, kind, what) = match scan.kind {
                ScanKind::Resilver => (Warning, ReasonKind::Rebuilding, "A resilver"),
                ScanKind::Scrub => (Passed, ReasonKind::Scrubbing, "A scrub"),
            };
            reasons.push(Reason::new(
                status,
                kind,
                format!("{what} is in progress{done}."),
            ));
        }
        Some(scan) => {
            if scan.errors.is_some_and(|e| e > 0) {
                reasons.push(Reason::new(
                    Warning,
                    ReasonKind::ScrubRepaired,
                    format!("The last scan finished with errors: {}", scan.text),
                ));
            } else if scan.kind == ScanKind::Scrub && scan.repaired_bytes.is_some_and(|b| b > 0) {
                reasons.push(Reason::new(
                    Passed,
                    ReasonKind::ScrubRepaired,
                    format!("The last scrub repaired data: {}", scan.text),
                ));
            }
        }
        None => {}
    }
    if let (Some(max_days), Some(now)) = (thresholds.scrub_max_age_days, now_unix) {
        scrub_age(pool, max_days, now, &mut reasons);
    }
    Verdict::from_reasons(reasons)
}

fn scrub_age(pool: &PoolStatus, max_days: u64, now: i64, reasons: &mut Vec<Reason>) {
    let scrub = pool.scan.as_ref().filter(|s| s.kind == ScanKind::Scrub);
    if scrub.is_some_and(|s| s.state == ScanState::InProgress) {
        return;
    }
    let finished = scrub.and_then(|s| s.finished_unix);
    let message = match finished {
        None => format!("Pool {} has no record of a finished scrub.", pool.name),
        Some(at) => {
            let age_days = now.saturating_sub(at) / 86_400;
            if age_days <= i64::try_from(max_days).unwrap_or(i64::MAX) {
                return;
            }
            format!(
                "The last scrub of pool {} finished {age_days} days ago (limit {max_days}).",
                pool.name
            )
        }
    };
    reasons.push(Reason::new(Warning, ReasonKind::ScrubOverdue, message));
}

/// Collects leaves and groups that are not online, and devices with error counts.
fn walk(vdev: &Vdev, bad: &mut Vec<String>, with_errors: &mut Vec<String>) {
    let state_ok = matches!(
        vdev.state,
        VdevState::Online | VdevState::Avail | VdevState::Inuse
    );
    if !state_ok && vdev.children.is_empty() {
        bad.push(format!("{} ({})", vdev.name, state_word(&vdev.state)));
    }
    let counts = [vdev.read_errors, vdev.write_errors, vdev.checksum_errors];
    if counts.iter().any(|c| c.is_some_and(|n| n > 0)) {
        with_errors.push(format!(
            "{} (read {}, write {}, checksum {})",
            vdev.name,
            vdev.read_errors.unwrap_or(0),
            vdev.write_errors.unwrap_or(0),
            vdev.checksum_errors.unwrap_or(0)
        ));
    }
    for child in &vdev.children {
        walk(child, bad, with_errors);
    }
}

fn is_healthy(vdev: &Vdev) -> bool {
    match vdev.kind {
        VdevKind::Replacing | VdevKind::Spare => vdev.children.iter().any(is_healthy),
        _ => vdev.state == VdevState::Online,
    }
}

/// How many more member failures a top-level vdev survives (`0` means none, negative means it
/// is already broken).
fn redundancy_left(vdev: &Vdev) -> i64 {
    let n_children = i64::try_from(vdev.children.len()).unwrap_or(i64::MAX);
    let n_healthy =
        i64::try_from(vdev.children.iter().filter(|c| is_healthy(c)).count()).unwrap_or(i64::MAX);
    let n_missing = n_children - n_healthy;
    match &vdev.kind {
        VdevKind::Mirror | VdevKind::Replacing | VdevKind::Spare => n_healthy - 1,
        VdevKind::Raidz { parity } | VdevKind::Draid { parity, .. } => {
            i64::from(*parity) - n_missing
        }
        _ => {
            if vdev.state == VdevState::Online {
                0
            } else {
                -1
            }
        }
    }
}

fn state_word(state: &VdevState) -> String {
    match state {
        VdevState::Online => "ONLINE".to_owned(),
        VdevState::Degraded => "DEGRADED".to_owned(),
        VdevState::Faulted => "FAULTED".to_owned(),
        VdevState::Offline => "OFFLINE".to_owned(),
        VdevState::Unavail => "UNAVAIL".to_owned(),
        VdevState::Removed => "REMOVED".to_owned(),
        VdevState::Suspended => "SUSPENDED".to_owned(),
        VdevState::Avail => "AVAIL".to_owned(),
        VdevState::Inuse => "INUSE".to_owned(),
        VdevState::Other(word) => word.clone(),
    }
}
