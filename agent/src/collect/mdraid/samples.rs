//! Per-array history as time series: turns a [`RaidCollection`] into [`proto::Sample`]s
//! (`md_*` metrics, documented in `docs/storage-model.md`, "Storage time series").
//! Pure: no I/O, no clock.

use crate::collect::series::{verdict_value, Sink};
use unity_shared::model::storage::{ArrayResult, MdSyncAction, RaidCollection};
use unity_shared::proto;

/// The samples of every array in `collection`, stamped `timestamp_ms`. No sample is NaN or
/// infinite.
pub fn to_samples(collection: &RaidCollection, timestamp_ms: i64) -> Vec<proto::Sample> {
    let mut sink = Sink {
        timestamp_ms,
        samples: Vec::new(),
    };
    for array in &collection.arrays {
        array_samples(array, &mut sink);
    }
    sink.samples
}

fn array_samples(result: &ArrayResult, sink: &mut Sink) {
    let array = &result.array;
    let name = array.name.as_str();
    let labels = [("array", name)];
    sink.push(
        "md_array_verdict",
        &labels,
        verdict_value(result.verdict.status),
    );
    sink.push(
        "md_array_active",
        &labels,
        if array.active { 1.0 } else { 0.0 },
    );
    if let Some(blocks) = array.blocks {
        sink.push(
            "md_array_size_bytes",
            &labels,
            blocks.saturating_mul(1024) as f64,
        );
    }
    if array.is_container {
        return;
    }
    let n_failed = array.members.iter().filter(|m| m.faulty).count();
    let n_spare = array
        .members
        .iter()
        .filter(|m| m.spare && !m.faulty)
        .count();
    let n_active = array
        .members
        .len()
        .saturating_sub(n_failed)
        .saturating_sub(n_spare);
    for (state, count) in [
        ("active", n_active),
        ("failed", n_failed),
        ("spare", n_spare),
    ] {
        sink.push(
            "md_array_devices",
            &[("array", name), ("state", state)],
            count as f64,
        );
    }
    if let Some(raid_disks) = array.raid_disks {
        sink.push("md_array_devices_required", &labels, f64::from(raid_disks));
        if let Some(working_disks) = array.working_disks {
            let missing = raid_disks.saturating_sub(working_disks);
            sink.push("md_array_degraded", &labels, f64::from(missing));
        }
    }
    if let Some(sync) = &array.sync {
        let action = match sync.action {
            MdSyncAction::Resync => "resync",
            MdSyncAction::Recovery => "recovery",
            MdSyncAction::Check => "check",
            MdSyncAction::Repair => "repair",
            MdSyncAction::Reshape => "reshape",
        };
        let labels = [("action", action), ("array", name)];
        if let Some(percent) = sync.percent {
            sink.push(
                "md_sync_progress_ratio",
                &labels,
                (percent / 100.0).clamp(0.0, 1.0),
            );
        }
        if let Some(speed) = sync.speed_kib_per_sec {
            sink.push(
                "md_sync_speed_bytes_per_second",
                &labels,
                speed.saturating_mul(1024) as f64,
            );
        }
        if let Some(minutes) = sync.finish_minutes {
            sink.push("md_sync_remaining_seconds", &labels, minutes * 60.0);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use expect_test::{expect_file, ExpectFile};
    use unity_shared::model::storage::{ArrayResult, CollectorOutcome, RaidCollection};

    use super::super::tests::{fixtures, name, read, testdata};
    use super::super::{array_verdict, parse_mdstat};
    use super::to_samples;
    use crate::collect::smart::samples::tests::{render, TIMESTAMP_MS};

    /// A collection as the run side builds it from a saved `/proc/mdstat` (no mdadm).
    pub(crate) fn collection(file: &str) -> RaidCollection {
        let (mdstat, warnings) = parse_mdstat(&read(&testdata().join(file))).unwrap();
        RaidCollection {
            outcome: CollectorOutcome::Ok,
            arrays: mdstat
                .arrays
                .into_iter()
                .map(|array| ArrayResult {
                    verdict: array_verdict(&array, None),
                    array,
                    detail: None,
                })
                .collect(),
            warnings,
            errors: Vec::new(),
        }
    }

    #[track_caller]
    fn check(file: &str, expect: ExpectFile) {
        expect.assert_eq(&render(&to_samples(&collection(file), TIMESTAMP_MS)));
    }

    #[test]
    fn recovery_degraded() {
        check(
            "proc-mdstat-raid5-recovery-degraded.txt",
            expect_file!["testdata/samples/raid5-recovery.prom"],
        );
    }

    #[test]
    fn failed_member() {
        check(
            "proc-mdstat-raid1-6way-degraded-failed.txt",
            expect_file!["testdata/samples/raid1-failed.prom"],
        );
    }

    #[test]
    fn check_in_progress_and_inactive_and_container() {
        let mut all = collection("proc-mdstat-raid10-check-in-progress.txt");
        for file in [
            "proc-mdstat-raid5-inactive.txt",
            "proc-mdstat-imsm-container-auto-read-only.txt",
        ] {
            all.arrays.extend(collection(file).arrays);
        }
        expect_file!["testdata/samples/check-inactive-container.prom"]
            .assert_eq(&render(&to_samples(&all, TIMESTAMP_MS)));
    }

    #[test]
    fn every_fixture_gives_finite_samples() {
        for path in fixtures() {
            let name = name(&path);
            if name.starts_with("proc-mdstat-") {
                render(&to_samples(&collection(&name), TIMESTAMP_MS));
            }
        }
    }
}
