//! Per-pool and per-device history as time series: turns a [`ZfsCollection`] into
//! [`proto::Sample`]s (`zfs_*` metrics, documented in `docs/storage-model.md`, "Storage time
//! series"). Pure: no I/O, no clock.

use crate::collect::series::{verdict_value, Sink};
use unity_shared::model::storage::{
    PoolStatus, ScanKind, ScanState, Vdev, VdevKind, VdevState, ZfsCollection,
};
use unity_shared::proto;

/// The samples of every pool, leaf device and dataset in `collection`, stamped
/// `timestamp_ms`. No sample is NaN or infinite.
pub fn to_samples(collection: &ZfsCollection, timestamp_ms: i64) -> Vec<proto::Sample> {
    let mut sink = Sink {
        timestamp_ms,
        samples: Vec::new(),
    };
    for pool in &collection.pools {
        let labels = [("pool", pool.status.name.as_str())];
        sink.push(
            "zfs_pool_verdict",
            &labels,
            verdict_value(pool.verdict.status),
        );
        if let Some(n_errors) = data_errors(&pool.status) {
            sink.push("zfs_pool_data_errors", &labels, n_errors as f64);
        }
        scan_samples(&pool.status, &mut sink);
        for (section, vdevs) in sections(&pool.status) {
            for vdev in vdevs {
                leaf_samples(&pool.status.name, section, &[], vdev, &mut sink);
            }
        }
    }
    for capacity in &collection.capacity {
        let labels = [("pool", capacity.name.as_str())];
        let bytes = [
            ("zfs_pool_size_bytes", capacity.size_bytes),
            ("zfs_pool_allocated_bytes", capacity.allocated_bytes),
            ("zfs_pool_free_bytes", capacity.free_bytes),
        ];
        for (metric, value) in bytes {
            if let Some(value) = value {
                sink.push(metric, &labels, value as f64);
            }
        }
        if let Some(percent) = capacity.fragmentation_percent {
            sink.push(
                "zfs_pool_fragmentation_ratio",
                &labels,
                percent as f64 / 100.0,
            );
        }
        if let Some(ratio) = capacity.dedup_ratio {
            sink.push("zfs_pool_dedup_ratio", &labels, ratio);
        }
    }
    for dataset in &collection.datasets {
        let pool = dataset.name.split('/').next().unwrap_or_default();
        let labels = [("dataset", dataset.name.as_str()), ("pool", pool)];
        let bytes = [
            ("zfs_dataset_used_bytes", dataset.used_bytes),
            ("zfs_dataset_available_bytes", dataset.available_bytes),
            (
                "zfs_dataset_used_by_snapshots_bytes",
                dataset.used_by_snapshots_bytes,
            ),
        ];
        for (metric, value) in bytes {
            if let Some(value) = value {
                sink.push(metric, &labels, value as f64);
            }
        }
    }
    sink.samples
}

/// Data errors: the count `zpool status` prints, else the number of listed files, else 0 when
/// the `errors:` line says there are none.
fn data_errors(pool: &PoolStatus) -> Option<u64> {
    let errors = pool.errors.as_ref()?;
    if errors.no_known_errors {
        return Some(0);
    }
    errors
        .data_errors
        .or_else(|| (!errors.files.is_empty()).then_some(errors.files.len() as u64))
}

fn scan_samples(pool: &PoolStatus, sink: &mut Sink) {
    let Some(scan) = &pool.scan else { return };
    let kind = match scan.kind {
        ScanKind::Scrub => "scrub",
        ScanKind::Resilver => "resilver",
    };
    if scan.state == ScanState::InProgress {
        if let Some(percent) = scan.percent_done {
            sink.push(
                "zfs_scan_progress_ratio",
                &[("kind", kind), ("pool", &pool.name)],
                (percent / 100.0).clamp(0.0, 1.0),
            );
        }
    }
    if scan.kind == ScanKind::Scrub && scan.state == ScanState::Finished {
        if let Some(unix) = scan.finished_unix {
            sink.push(
                "zfs_last_scrub_timestamp_seconds",
                &[("pool", &pool.name)],
                unix as f64,
            );
        }
    }
}

/// The top-level vdevs per section, with the section's prefix for the `vdev` label.
fn sections(pool: &PoolStatus) -> [(&'static str, &[Vdev]); 6] {
    [
        ("", &pool.root.children),
        ("logs", &pool.logs),
        ("special", &pool.special),
        ("dedup", &pool.dedup),
        ("cache", &pool.cache),
        ("spares", &pool.spares),
    ]
}

/// Walks down to the leaves. `parents` are the group names between the section and `vdev`.
fn leaf_samples(pool: &str, section: &str, parents: &[&str], vdev: &Vdev, sink: &mut Sink) {
    if !vdev.children.is_empty() {
        let mut path = parents.to_vec();
        path.push(&vdev.name);
        for child in &vdev.children {
            leaf_samples(pool, section, &path, child, sink);
        }
        return;
    }
    if !matches!(vdev.kind, VdevKind::Disk | VdevKind::DistributedSpare) {
        return;
    }
    let mut path: Vec<&str> = Vec::new();
    if !section.is_empty() {
        path.push(section);
    }
    if parents.is_empty() {
        path.push(&vdev.name);
    } else {
        path.extend(parents);
    }
    let vdev_path = path.join("/");
    let labels = [
        ("device", vdev.name.as_str()),
        ("pool", pool),
        ("vdev", vdev_path.as_str()),
    ];
    let counters = [
        ("zfs_vdev_read_errors_total", vdev.read_errors),
        ("zfs_vdev_write_errors_total", vdev.write_errors),
        ("zfs_vdev_checksum_errors_total", vdev.checksum_errors),
    ];
    for (metric, value) in counters {
        if let Some(value) = value {
            sink.push(metric, &labels, value as f64);
        }
    }
    let healthy = matches!(
        vdev.state,
        VdevState::Online | VdevState::Avail | VdevState::Inuse
    );
    sink.push("zfs_vdev_healthy", &labels, if healthy { 1.0 } else { 0.0 });
}

#[cfg(test)]
pub(crate) mod tests {
    use expect_test::{expect_file, ExpectFile};
    use unity_shared::model::storage::{CollectorOutcome, PoolResult, ZfsCollection};

    use super::super::tests::{fixtures, name, read, testdata};
    use super::super::{parse_status, parse_zfs_list, parse_zpool_list, verdict, ZfsThresholds};
    use super::to_samples;
    use crate::collect::smart::samples::tests::{render, TIMESTAMP_MS};

    /// A collection as the run side builds it from saved `zpool status`, `zpool list` and
    /// `zfs list` outputs.
    pub(crate) fn collection(
        status: &str,
        list: Option<&str>,
        datasets: Option<&str>,
    ) -> ZfsCollection {
        let read = |file: &str| read(&testdata().join(file));
        let (parsed, _) = parse_status(&read(status)).unwrap();
        let pools = parsed
            .pools
            .into_iter()
            .map(|pool| PoolResult {
                verdict: verdict(&pool, &ZfsThresholds::default(), None),
                status: pool,
            })
            .collect();
        ZfsCollection {
            outcome: CollectorOutcome::Ok,
            pools,
            capacity: list.map_or_else(Vec::new, |file| parse_zpool_list(&read(file)).unwrap().0),
            datasets: datasets.map_or_else(Vec::new, |file| parse_zfs_list(&read(file)).unwrap().0),
            warnings: Vec::new(),
            errors: Vec::new(),
        }
    }

    #[track_caller]
    fn check(collection: ZfsCollection, expect: ExpectFile) {
        expect.assert_eq(&render(&to_samples(&collection, TIMESTAMP_MS)));
    }

    #[test]
    fn two_pools_with_capacity_and_datasets() {
        check(
            collection(
                "status-two-pools-raidz1-and-nvme-mirror-scrubbed.txt",
                Some("list-Hp-four-pools-freenas.txt"),
                Some("zfs-list-Hp-datasets-numeric.txt"),
            ),
            expect_file!["testdata/samples/two-pools.prom"],
        );
    }

    #[test]
    fn resilver_in_progress_with_replacing() {
        check(
            collection(
                "status-lifeguard-resilver-in-progress-replacing.txt",
                None,
                None,
            ),
            expect_file!["testdata/samples/resilver-replacing.prom"],
        );
    }

    #[test]
    fn log_device_and_checksum_errors() {
        let mut with_log = collection("status-illumos-degraded-with-log-device.txt", None, None);
        with_log
            .pools
            .extend(collection("status-lifeguard-checksum-errors-11.7K.txt", None, None).pools);
        check(
            with_log,
            expect_file!["testdata/samples/log-and-errors.prom"],
        );
    }

    #[test]
    fn every_status_fixture_gives_finite_samples() {
        for path in fixtures() {
            let name = name(&path);
            if !name.starts_with("status-") {
                continue;
            }
            let samples = to_samples(&collection(&name, None, None), TIMESTAMP_MS);
            assert!(!samples.is_empty(), "{name}");
            render(&samples);
        }
    }
}
