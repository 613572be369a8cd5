//! Array verdicts: pure functions of an [`MdArray`] (from `/proc/mdstat`) and, when available,
//! its [`MdDetail`] (from `mdadm --detail`).
//!
//! A degraded array is failing when it has no redundancy left (one more member failure loses
//! data: raid1 down to one member, raid4/5/10 missing one, raid6 missing two) and a warning
//! while some redundancy remains. An array of a level with redundancy whose member counts could
//! not be read at all (neither `[n/m]` nor the `[UU_]` map, nor mdadm's counts) is a warning:
//! unknown is never reported as healthy.

use unity_shared::model::storage::{
    ArrayVerdict, MdArray, MdDetail, MdLevel, MdSyncAction, Reason, ReasonKind, Verdict,
    VerdictStatus,
};

use VerdictStatus::{Failing, Passed, Warning};

/// How many member failures an intact array of this level survives.
fn redundancy(level: &MdLevel, n_raid_disks: u32, layout: Option<&str>) -> u32 {
    match level {
        MdLevel::Raid1 => n_raid_disks.saturating_sub(1),
        MdLevel::Raid4 | MdLevel::Raid5 => 1,
        MdLevel::Raid6 => 2,
        MdLevel::Raid10 => layout
            .and_then(|l| l.split_whitespace().next())
            .and_then(|copies| copies.parse::<u32>().ok())
            .map_or(1, |copies| copies.saturating_sub(1)),
        _ => 0,
    }
}

/// Whether an array of this level can run degraded, so that its member counts matter. Unknown
/// levels (`None` on an active array, an unrecognized personality) are assumed to.
fn has_redundancy(level: Option<&MdLevel>) -> bool {
    match level {
        Some(MdLevel::Raid0 | MdLevel::Linear | MdLevel::Container) => false,
        Some(MdLevel::Other(word)) => word != "faulty",
        _ => true,
    }
}

/// `(devices the array should have, devices working)` from mdstat: `[n/m]`, else the `[UU_]`
/// map (`U` up, `_` down).
fn mdstat_counts(array: &MdArray) -> Option<(u32, u32)> {
    if let (Some(n_raid), Some(n_working)) = (array.raid_disks, array.working_disks) {
        return Some((n_raid, n_working));
    }
    let map = array
        .member_status
        .as_deref()?
        .trim_matches(|c| c == '[' || c == ']');
    if map.is_empty() || !map.chars().all(|c| c == 'U' || c == '_') {
        return None;
    }
    let n_raid = u32::try_from(map.len()).ok()?;
    let n_working = u32::try_from(map.chars().filter(|c| *c == 'U').count()).ok()?;
    Some((n_raid, n_working))
}

/// `(Raid Devices, Active Devices)` from mdadm.
fn detail_counts(detail: &MdDetail) -> Option<(u32, u32)> {
    Some((detail.raid_devices?, detail.active_devices?))
}

fn unknown_counts_reason(name: &str, source: &str) -> Reason {
    Reason::new(
        Warning,
        ReasonKind::Degraded,
        format!(
            "The member counts of array {name} could not be read from {source}; \
             it may be degraded."
        ),
    )
}

fn degraded_reason(
    name: &str,
    level: Option<&MdLevel>,
    n_raid_disks: u32,
    n_working: u32,
    layout: Option<&str>,
) -> Option<Reason> {
    let n_missing = n_raid_disks.checked_sub(n_working).filter(|m| *m > 0)?;
    let Some(level) = level else {
        return Some(Reason::new(
            Warning,
            ReasonKind::Degraded,
            format!("Array {name} is missing {n_missing} of {n_raid_disks} members."),
        ));
    };
    let redundancy = redundancy(level, n_raid_disks, layout);
    let status = if n_missing >= redundancy {
        Failing
    } else {
        Warning
    };
    let tail = if n_missing > redundancy {
        "; data is unavailable or lost"
    } else if n_missing == redundancy {
        "; no redundancy is left"
    } else {
        ""
    };
    Some(Reason::new(
        status,
        ReasonKind::Degraded,
        format!("Array {name} is degraded: {n_working} of {n_raid_disks} members working{tail}."),
    ))
}

/// The verdict of one array from `/proc/mdstat`, refined by `mdadm --detail` when given.
pub fn array_verdict(array: &MdArray, detail: Option<&MdDetail>) -> ArrayVerdict {
    let mut reasons = Vec::new();
    if array.is_container {
        reasons.push(Reason::new(
            Passed,
            ReasonKind::Note,
            format!(
                "Array {} is a metadata container; its member arrays carry the data.",
                array.name
            ),
        ));
        return Verdict::from_reasons(reasons);
    }
    if !array.active {
        reasons.push(Reason::new(
            Failing,
            ReasonKind::Faulted,
            format!(
                "Array {} is inactive: its data is not available.",
                array.name
            ),
        ));
    }
    let mdstat_counts = mdstat_counts(array);
    if let Some((n_raid, n_working)) = mdstat_counts {
        reasons.extend(degraded_reason(
            &array.name,
            array.level.as_ref(),
            n_raid,
            n_working,
            array.layout.as_deref(),
        ));
    }
    let detail_counts = detail.and_then(detail_counts);
    let level = detail
        .and_then(|d| d.raid_level.as_ref())
        .or(array.level.as_ref());
    if array.active && mdstat_counts.is_none() && detail_counts.is_none() && has_redundancy(level) {
        let source = if detail.is_some() {
            "/proc/mdstat or mdadm --detail"
        } else {
            "/proc/mdstat"
        };
        reasons.push(unknown_counts_reason(&array.name, source));
    }
    let faulty: Vec<&str> = array
        .members
        .iter()
        .filter(|m| m.faulty)
        .map(|m| m.device.as_str())
        .collect();
    if !faulty.is_empty() {
        reasons.push(Reason::new(
            Warning,
            ReasonKind::MemberFailed,
            format!("Failed members of {}: {}.", array.name, faulty.join(", ")),
        ));
    }
    if let Some(sync) = &array.sync {
        let percent = sync
            .percent
            .map(|p| format!(" ({p:.1}% done)"))
            .unwrap_or_default();
        let (status, kind, what) = match sync.action {
            MdSyncAction::Recovery => (Warning, ReasonKind::Rebuilding, "recovery"),
            MdSyncAction::Reshape => (Warning, ReasonKind::Rebuilding, "reshape"),
            MdSyncAction::Resync => (Passed, ReasonKind::Scrubbing, "resync"),
            MdSyncAction::Check => (Passed, ReasonKind::Scrubbing, "check"),
            MdSyncAction::Repair => (Passed, ReasonKind::Scrubbing, "repair"),
        };
        let waiting = if sync.waiting {
            " is waiting"
        } else {
            " is running"
        };
        reasons.push(Reason::new(
            status,
            kind,
            format!("A {what} of {}{waiting}{percent}.", array.name),
        ));
    }
    if let Some(detail) = detail {
        if let Some((n_raid, n_active)) = detail_counts {
            reasons.extend(degraded_reason(
                &array.name,
                detail.raid_level.as_ref().or(array.level.as_ref()),
                n_raid,
                n_active,
                detail.layout.as_deref().or(array.layout.as_deref()),
            ));
        }
        detail_reasons(detail, &mut reasons);
    }
    dedup(&mut reasons);
    Verdict::from_reasons(reasons)
}

/// The verdict from `mdadm --detail` alone.
pub fn detail_verdict(detail: &MdDetail) -> ArrayVerdict {
    let mut reasons = Vec::new();
    let name = detail.device.as_deref().unwrap_or("array");
    if detail.raid_level == Some(MdLevel::Container) {
        reasons.push(Reason::new(
            Passed,
            ReasonKind::Note,
            format!("{name} is a metadata container; its member arrays carry the data."),
        ));
        return Verdict::from_reasons(reasons);
    }
    match detail_counts(detail) {
        Some((n_raid, n_active)) => reasons.extend(degraded_reason(
            name,
            detail.raid_level.as_ref(),
            n_raid,
            n_active,
            detail.layout.as_deref(),
        )),
        None if has_redundancy(detail.raid_level.as_ref()) => {
            reasons.push(unknown_counts_reason(name, "mdadm --detail"));
        }
        None => {}
    }
    detail_reasons(detail, &mut reasons);
    dedup(&mut reasons);
    Verdict::from_reasons(reasons)
}

fn detail_reasons(detail: &MdDetail, reasons: &mut Vec<Reason>) {
    let name = detail.device.as_deref().unwrap_or("array");
    let flags: Vec<String> = detail
        .state_flags
        .iter()
        .map(|f| f.to_ascii_lowercase())
        .collect();
    if flags
        .iter()
        .any(|f| f == "failed" || f == "inactive" || f.starts_with("not started"))
    {
        reasons.push(Reason::new(
            Failing,
            ReasonKind::Faulted,
            format!(
                "mdadm reports {name} as {}.",
                detail.state.as_deref().unwrap_or("failed")
            ),
        ));
    }
    if detail_counts(detail).is_none() && flags.iter().any(|f| f == "degraded") {
        reasons.push(Reason::new(
            Warning,
            ReasonKind::Degraded,
            format!(
                "mdadm reports {name} as {}.",
                detail.state.as_deref().unwrap_or("degraded")
            ),
        ));
    }
    let faulty: Vec<&str> = detail
        .devices
        .iter()
        .filter(|d| d.state.iter().any(|s| s == "faulty"))
        .map(|d| d.path.as_deref().unwrap_or("?"))
        .collect();
    if !faulty.is_empty() || detail.failed_devices.is_some_and(|n| n > 0) {
        let list = if faulty.is_empty() {
            format!("{} failed devices", detail.failed_devices.unwrap_or(0))
        } else {
            faulty.join(", ")
        };
        reasons.push(Reason::new(
            Warning,
            ReasonKind::MemberFailed,
            format!("Failed members of {name}: {list}."),
        ));
    }
    let rebuilding = flags.iter().any(|f| f == "recovering" || f == "reshaping")
        || detail.rebuild_percent.is_some()
        || detail.reshape_percent.is_some();
    if rebuilding {
        let percent = detail
            .rebuild_percent
            .or(detail.reshape_percent)
            .map(|p| format!(" ({p}% done)"))
            .unwrap_or_default();
        reasons.push(Reason::new(
            Warning,
            ReasonKind::Rebuilding,
            format!("{name} is rebuilding{percent}."),
        ));
    }
    let resyncing = flags.iter().any(|f| f == "resyncing" || f == "checking")
        || detail.resync_percent.is_some()
        || detail.check_percent.is_some();
    if resyncing {
        let percent = detail
            .resync_percent
            .or(detail.check_percent)
            .map(|p| format!(" ({p}% done)"))
            .unwrap_or_default();
        reasons.push(Reason::new(
            Passed,
            ReasonKind::Scrubbing,
            format!("{name} is resyncing or checking{percent}."),
        ));
    }
}

/// mdstat and mdadm often report the same thing; keep the first reason of each kind and status.
fn dedup(reasons: &mut Vec<Reason>) {
    let mut seen = Vec::new();
    reasons.retain(|r| {
        let key = (r.kind, r.status);
        if seen.contains(&key) {
            false
        } else {
            seen.push(key);
            true
        }
    });
}
