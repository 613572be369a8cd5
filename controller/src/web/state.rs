//! Host page panels drawn from the host's newest typed state: disks with their SMART verdict and
//! reasons, ZFS pools as a vdev tree with scan state, md arrays with members and sync progress,
//! and databases. Pure: state in, HTML out.

use super::esc;
use std::fmt::Write as _;
use unity_shared::model::database::DatabaseInstance;
use unity_shared::model::storage::mdraid::ArrayResult;
use unity_shared::model::storage::zfs::{PoolResult, ScanState, Vdev};
use unity_shared::model::storage::{Verdict, VerdictStatus};
use unity_shared::proto::StorageState;

fn verdict_badge(status: Option<VerdictStatus>) -> &'static str {
    match status {
        Some(VerdictStatus::Passed) => "<span class=\"badge online\">passed</span>",
        Some(VerdictStatus::Warning) => "<span class=\"badge stale\">warning</span>",
        Some(VerdictStatus::Failing) => "<span class=\"badge offline\">failing</span>",
        None => "<span class=\"badge stale\">unknown</span>",
    }
}

fn reasons(verdict: Option<&Verdict>) -> String {
    let Some(verdict) = verdict else {
        return String::new();
    };
    let items: Vec<String> = verdict
        .reasons
        .iter()
        .filter(|reason| reason.status != VerdictStatus::Passed)
        .map(|reason| format!("<li>{}</li>", esc(&reason.message)))
        .collect();
    if items.is_empty() {
        String::new()
    } else {
        format!("<ul class=\"reasons\">{}</ul>", items.concat())
    }
}

fn opt<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "–".to_owned(), |value| value.to_string())
}

/// Disks: identity, verdict with reasons, temperature and power-on hours; vanished drives.
pub fn disks(state: &StorageState) -> String {
    let mut html = String::from(
        "<div class=\"table\"><table id=\"disks\"><thead><tr><th>Device</th><th>Model / serial</th>\
<th>Verdict</th><th>Temp.</th><th>Power-on h</th></tr></thead><tbody>",
    );
    for device in &state.smart.devices {
        let report = device.report.as_ref();
        let identity = report.map(|report| &report.device);
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}<div class=\"sub\">{}</div></td><td>{}{}{}</td><td>{}</td><td>{}</td></tr>",
            esc(&device.device),
            esc(&opt(identity.and_then(|id| id.model.as_deref()))),
            esc(&opt(identity.and_then(|id| id.serial.as_deref()))),
            verdict_badge(device.verdict.as_ref().map(|verdict| verdict.status)),
            reasons(device.verdict.as_ref()),
            device
                .error
                .as_deref()
                .map(|error| format!("<div class=\"sub\">{}</div>", esc(error)))
                .unwrap_or_default(),
            opt(report.and_then(|report| report.temperature.current_celsius).map(|c| format!("{c} °C"))),
            opt(report.and_then(|report| report.power_on_hours)),
        );
    }
    for drive in state.stack.drives.iter().filter(|drive| drive.missing) {
        let _ = write!(
            html,
            "<tr class=\"missing\"><td>missing</td><td>{}<div class=\"sub\">{}</div></td><td>{}<ul class=\"reasons\"><li>This drive was seen before and is gone now.</li></ul></td><td>–</td><td>–</td></tr>",
            esc(&opt(drive.identity.model.as_deref())),
            esc(&opt(drive.identity.serial.as_deref())),
            verdict_badge(Some(VerdictStatus::Failing)),
        );
    }
    html.push_str("</tbody></table></div>");
    html
}

fn vdev_rows(html: &mut String, vdev: &Vdev, depth: usize) {
    let _ = write!(
        html,
        "<tr><td style=\"padding-left:{}em\">{}</td><td>{:?}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"sub\">{}</td></tr>",
        depth,
        esc(&vdev.name),
        vdev.state,
        opt(vdev.read_errors),
        opt(vdev.write_errors),
        opt(vdev.checksum_errors),
        esc(vdev.note.as_deref().unwrap_or("")),
    );
    for child in &vdev.children {
        vdev_rows(html, child, depth + 1);
    }
}

fn pool(html: &mut String, pool: &PoolResult) {
    let status = &pool.status;
    let _ = write!(
        html,
        "<h3>{} {}</h3>{}",
        esc(&status.name),
        verdict_badge(Some(pool.verdict.status)),
        reasons(Some(&pool.verdict))
    );
    if let Some(scan) = &status.scan {
        let state = match scan.state {
            ScanState::InProgress => "in progress",
            ScanState::Finished => "finished",
            ScanState::Canceled => "canceled",
        };
        let _ = write!(
            html,
            "<p class=\"sub\">scan {state}: {}</p>",
            esc(&scan.text)
        );
    } else {
        html.push_str("<p class=\"sub\">never scrubbed</p>");
    }
    html.push_str(
        "<div class=\"table\"><table class=\"vdevs\"><thead><tr><th>Vdev</th><th>State</th><th>Read</th>\
<th>Write</th><th>Cksum</th><th></th></tr></thead><tbody>",
    );
    vdev_rows(html, &status.root, 0);
    let sections = [
        ("logs", &status.logs),
        ("special", &status.special),
        ("dedup", &status.dedup),
        ("cache", &status.cache),
        ("spares", &status.spares),
    ];
    for (name, vdevs) in sections {
        if vdevs.is_empty() {
            continue;
        }
        let _ = write!(html, "<tr><td colspan=\"6\"><b>{name}</b></td></tr>");
        for vdev in vdevs {
            vdev_rows(html, vdev, 1);
        }
    }
    html.push_str("</tbody></table></div>");
    if let Some(errors) = &status.errors {
        let _ = write!(html, "<p class=\"sub\">errors: {}</p>", esc(&errors.text));
    }
}

/// ZFS pools as vdev trees.
pub fn pools(state: &StorageState) -> String {
    let mut html = String::new();
    for result in &state.zfs.pools {
        pool(&mut html, result);
    }
    html
}

fn array(html: &mut String, result: &ArrayResult) {
    let array = &result.array;
    let _ = write!(
        html,
        "<h3>{} {}</h3>{}<p class=\"sub\">{}{}</p><ul class=\"members\">",
        esc(&array.name),
        verdict_badge(Some(result.verdict.status)),
        reasons(Some(&result.verdict)),
        array
            .level
            .as_ref()
            .map(|level| format!("{level:?} "))
            .unwrap_or_default(),
        esc(array.member_status.as_deref().unwrap_or("")),
    );
    for member in &array.members {
        let role = if member.faulty {
            " (failed)"
        } else if member.spare {
            " (spare)"
        } else if member.write_mostly {
            " (write-mostly)"
        } else {
            ""
        };
        let _ = write!(html, "<li>{}{role}</li>", esc(&member.device));
    }
    html.push_str("</ul>");
    if let Some(sync) = &array.sync {
        let _ = write!(
            html,
            "<p class=\"sub\">{:?} {}% · finish in {} min · {} KiB/s</p>",
            sync.action,
            opt(sync.percent),
            opt(sync.finish_minutes),
            opt(sync.speed_kib_per_sec)
        );
    }
}

/// md arrays with members and sync progress.
pub fn arrays(state: &StorageState) -> String {
    let mut html = String::new();
    for result in &state.raid.arrays {
        array(&mut html, result);
    }
    html
}

/// Databases: engine, endpoint, version, reachability, latency.
pub fn databases(instances: &[DatabaseInstance]) -> String {
    let mut html = String::from(
        "<div class=\"table\"><table id=\"databases\"><thead><tr><th>Engine</th><th>Endpoint</th>\
<th>Version</th><th>State</th><th>Latency</th></tr></thead><tbody>",
    );
    for instance in instances {
        let state = if instance.reachable {
            verdict_badge(Some(if instance.error.is_some() {
                VerdictStatus::Warning
            } else {
                VerdictStatus::Passed
            }))
        } else {
            "<span class=\"badge offline\">down</span>"
        };
        let _ = write!(
            html,
            "<tr><td>{:?}</td><td>{}</td><td>{}</td><td>{state}{}</td><td>{}</td></tr>",
            instance.engine,
            esc(&instance.endpoint.to_string()),
            esc(&opt(instance.version.as_deref())),
            instance
                .error
                .as_deref()
                .map(|error| format!("<div class=\"sub\">{}</div>", esc(error)))
                .unwrap_or_default(),
            opt(instance.latency_ms.map(|ms| format!("{ms:.1} ms"))),
        );
    }
    html.push_str("</tbody></table></div>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use unity_agent::collect::{mdraid, zfs};
    use unity_shared::model::storage::{RaidCollection, ZfsCollection};

    fn state(zfs_text: &str, mdstat: &str) -> StorageState {
        let (status, _) = zfs::parse_status(zfs_text).unwrap();
        let pools = status
            .pools
            .into_iter()
            .map(|pool| PoolResult {
                verdict: zfs::verdict(&pool, &zfs::ZfsThresholds::default(), None),
                status: pool,
            })
            .collect();
        let (parsed, _) = mdraid::parse_mdstat(mdstat).unwrap();
        let arrays = parsed
            .arrays
            .into_iter()
            .map(|array| ArrayResult {
                verdict: mdraid::array_verdict(&array, None),
                array,
                detail: None,
            })
            .collect();
        let mut state: StorageState = serde_json::from_str(
            r#"{"smart":{"outcome":"ok","devices":[]},
                "zfs":{"outcome":"ok","pools":[],"capacity":[],"datasets":[],"warnings":[],"errors":[]},
                "raid":{"outcome":"ok","arrays":[],"warnings":[],"errors":[]},
                "stack":{"drives":[],"unlinked":[]}}"#,
        )
        .unwrap();
        state.zfs = ZfsCollection { pools, ..state.zfs };
        state.raid = RaidCollection {
            arrays,
            ..state.raid
        };
        state
    }

    #[test]
    fn pools_render_as_vdev_trees_and_arrays_with_members() {
        let state = state(
            include_str!("../../../agent/src/collect/zfs/testdata/status-lifeguard-resilver-in-progress-replacing.txt"),
            include_str!("../../../agent/src/collect/mdraid/testdata/proc-mdstat-raid1-6way-degraded-failed.txt"),
        );
        let pools = pools(&state);
        assert!(pools.contains("replacing"), "{pools}");
        assert!(pools.contains("scan in progress"), "{pools}");
        assert!(pools.contains("badge"), "{pools}");
        let arrays = arrays(&state);
        assert!(arrays.contains("(failed)"), "{arrays}");
        assert!(!arrays.contains("<script"), "escaped");
    }

    #[test]
    fn hostile_names_are_escaped() {
        let mut state = state(
            include_str!(
                "../../../agent/src/collect/zfs/testdata/status-new-pool-never-scanned.txt"
            ),
            include_str!("../../../agent/src/collect/mdraid/testdata/proc-mdstat-raid0-loop.txt"),
        );
        state.zfs.pools[0].status.name = "<script>alert(1)</script>".into();
        let html = pools(&state);
        assert!(
            !html.contains("<script>") && html.contains("never scrubbed"),
            "{html}"
        );
    }
}
