//! Host page panels drawn from the host's newest typed state: disks with their SMART verdict and
//! reasons, ZFS pools as a vdev tree with scan state, md arrays with members and sync progress,
//! and databases. Pure: state in, markup out.

use super::badge::{self, Tone};
use super::format::or_dash;
use super::labels;
use super::metric_names::{bytes, celsius, duration, unix_time};
use super::storage_pages::find;
use maud::{html, Markup};
use unity_shared::model::database::DatabaseInstance;
use unity_shared::model::storage::mdraid::ArrayResult;
use unity_shared::model::storage::zfs::{PoolResult, Vdev};
use unity_shared::model::storage::{Verdict, VerdictStatus};
use unity_shared::proto::{AgentId, StorageState};

/// The findings that are not "passed", as a list.
fn reasons(verdict: Option<&Verdict>) -> Markup {
    let items: Vec<&str> = verdict
        .map(|verdict| {
            verdict
                .reasons
                .iter()
                .filter(|reason| reason.status != VerdictStatus::Passed)
                .map(|reason| reason.message.as_str())
                .collect()
        })
        .unwrap_or_default();
    html! {
        @if !items.is_empty() {
            ul.reasons { @for item in items { li { (item) } } }
        }
    }
}

/// Disks: identity, verdict with reasons, temperature and power-on hours; vanished drives.
pub fn disks(agent_id: &AgentId, state: &StorageState) -> Markup {
    html! {
        div.table { table #disks {
            thead { tr { th { "Device" } th { "Model / serial" } th { "Verdict" } th { "Temp." } th { "Power-on h" } } }
            tbody {
                @for device in &state.smart.devices {
                    @let report = device.report.as_ref();
                    @let identity = report.map(|report| &report.device);
                    tr {
                        td.nowrap { a href=(find::disk_href(agent_id, device)) { (device.device) } }
                        td {
                            (or_dash(identity.and_then(|id| id.model.as_deref())))
                            div.sub { (or_dash(identity.and_then(|id| id.serial.as_deref()))) }
                        }
                        td {
                            (badge::verdict(device.verdict.as_ref().map(|verdict| verdict.status)))
                            (reasons(device.verdict.as_ref()))
                            @if let Some(error) = &device.error { div.sub { (error) } }
                        }
                        td.nowrap { (or_dash(report.and_then(|report| report.temperature.current_celsius).map(|c| celsius(c as f64)))) }
                        td { (or_dash(report.and_then(|report| report.power_on_hours))) }
                    }
                }
                @for drive in state.stack.drives.iter().filter(|drive| drive.missing) {
                    tr.missing {
                        td { "missing" }
                        td {
                            (or_dash(drive.identity.model.as_deref()))
                            div.sub { (or_dash(drive.identity.serial.as_deref())) }
                        }
                        td {
                            (badge::verdict(Some(VerdictStatus::Failing)))
                            ul.reasons { li { "This drive was seen before and is gone now." } }
                        }
                        td { "–" }
                        td { "–" }
                    }
                }
            }
        } }
    }
}

/// One vdev row and its children's, indented by depth.
fn vdev_rows(vdev: &Vdev, depth: usize) -> Markup {
    html! {
        tr {
            td style={ "padding-left:" (depth) "em" } { (vdev.name) }
            td { (labels::vdev_state(&vdev.state)) }
            td { (or_dash(vdev.read_errors)) }
            td { (or_dash(vdev.write_errors)) }
            td { (or_dash(vdev.checksum_errors)) }
            td.sub { (vdev.note.as_deref().unwrap_or("")) }
        }
        @for child in &vdev.children { (vdev_rows(child, depth + 1)) }
    }
}

fn pool(agent_id: &AgentId, result: &PoolResult, now_ms: i64) -> Markup {
    let status = &result.status;
    let sections = [
        ("logs", &status.logs),
        ("special", &status.special),
        ("dedup", &status.dedup),
        ("cache", &status.cache),
        ("spares", &status.spares),
    ];
    html! {
        h3 { a href=(find::pool_href(agent_id, &status.name)) { (status.name) } " " (badge::verdict(Some(result.verdict.status))) }
        (reasons(Some(&result.verdict)))
        @match &status.scan {
            Some(scan) => p.sub.scan {
                @if let Some(finished) = scan.finished_unix {
                    "Last " (labels::scan_kind(scan.kind)) ": "
                    span.scan-date { (unix_time(finished as f64, now_ms)) } " · "
                }
                (labels::scan_kind(scan.kind)) " " (labels::scan_state(scan.state)) ": " (scan.text)
            },
            None => p.sub { "never scrubbed" },
        }
        div.table { table.vdevs {
            thead { tr { th { "Vdev" } th { "State" } th { "Read" } th { "Write" } th { "Cksum" } th {} } }
            tbody {
                (vdev_rows(&status.root, 0))
                @for (name, vdevs) in sections {
                    @if !vdevs.is_empty() {
                        tr { td colspan="6" { b { (name) } } }
                        @for vdev in vdevs { (vdev_rows(vdev, 1)) }
                    }
                }
            }
        } }
        @if let Some(errors) = &status.errors {
            p.sub { "errors: " (errors.text) }
        }
    }
}

/// ZFS pools as vdev trees.
pub fn pools(agent_id: &AgentId, state: &StorageState, now_ms: i64) -> Markup {
    html! { @for result in &state.zfs.pools { (pool(agent_id, result, now_ms)) } }
}

/// What a member is besides a working member.
fn member_role(member: &unity_shared::model::storage::MdMember) -> &'static str {
    if member.faulty {
        " (failed)"
    } else if member.spare {
        " (spare)"
    } else if member.write_mostly {
        " (write-mostly)"
    } else {
        ""
    }
}

fn array(agent_id: &AgentId, result: &ArrayResult) -> Markup {
    let array = &result.array;
    html! {
        h3 { a href=(find::array_href(agent_id, &array.name)) { (array.name) } " " (badge::verdict(Some(result.verdict.status))) }
        (reasons(Some(&result.verdict)))
        p.sub {
            @if let Some(level) = &array.level { (labels::md_level(level)) " " }
            (array.member_status.as_deref().unwrap_or(""))
        }
        ul.members {
            @for member in &array.members { li { (member.device) (member_role(member)) } }
        }
        @if let Some(sync) = &array.sync {
            p.sub {
                (labels::md_sync_action(sync.action)) " " (or_dash(sync.percent)) " % · "
                (or_dash(sync.finish_minutes.map(|minutes| duration(minutes * 60.0)))) " left · "
                (or_dash(sync.speed_kib_per_sec.map(|kib| format!("{}/s", bytes(kib as f64 * 1024.0)))))
            }
        }
    }
}

/// md arrays with members and sync progress.
pub fn arrays(agent_id: &AgentId, state: &StorageState) -> Markup {
    html! { @for result in &state.raid.arrays { (array(agent_id, result)) } }
}

/// A database's state: passed, warning (answers with an error) or down.
fn database_state(instance: &DatabaseInstance) -> Markup {
    match (instance.reachable, instance.error.is_some()) {
        (false, _) => badge::badge(Tone::Critical, "down"),
        (true, true) => badge::verdict(Some(VerdictStatus::Warning)),
        (true, false) => badge::verdict(Some(VerdictStatus::Passed)),
    }
}

/// Databases: engine, endpoint, version, reachability, latency.
pub fn databases(instances: &[DatabaseInstance]) -> Markup {
    html! {
        div.table { table #databases {
            thead { tr { th { "Engine" } th { "Endpoint" } th { "Version" } th { "State" } th { "Latency" } } }
            tbody {
                @for instance in instances {
                    tr {
                        td { (instance.engine.display_name()) }
                        td { (instance.endpoint.to_string()) }
                        td { (or_dash(instance.version.as_deref())) }
                        td {
                            (database_state(instance))
                            @if let Some(error) = &instance.error { div.sub { (error) } }
                        }
                        td { (or_dash(instance.latency_ms.map(|ms| format!("{ms:.1} ms")))) }
                    }
                }
            }
        } }
    }
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
            include_str!("../../../agent/src/collect/mdraid/testdata/proc-mdstat-raid5-recovery-degraded.txt"),
        );
        let agent = AgentId::new("nas-1").unwrap();
        let pools = pools(&agent, &state, 0).into_string();
        assert!(pools.contains("replacing"), "{pools}");
        assert!(pools.contains("resilver in progress: "), "{pools}");
        assert!(pools.contains("<td>degraded</td>"), "{pools}");
        assert!(pools.contains("badge"), "{pools}");
        let arrays = arrays(&agent, &state).into_string();
        assert!(arrays.contains("RAID 5 "), "{arrays}");
        assert!(arrays.contains("recovery "), "{arrays}");
        // issue 19: speed in MiB/s and time left as a duration, not raw KiB/s and minutes.
        assert!(arrays.contains("/s"), "{arrays}");
        assert!(
            !arrays.contains("KiB/s") && !arrays.contains(" min · "),
            "{arrays}"
        );
        assert!(
            !arrays.contains("Raid5") && !arrays.contains("Recovery"),
            "{arrays}"
        );
    }

    #[test]
    fn members_show_their_role() {
        let state = state(
            include_str!(
                "../../../agent/src/collect/zfs/testdata/status-new-pool-never-scanned.txt"
            ),
            include_str!("../../../agent/src/collect/mdraid/testdata/proc-mdstat-raid1-6way-degraded-failed.txt"),
        );
        let agent = AgentId::new("nas-1").unwrap();
        let arrays = arrays(&agent, &state).into_string();
        assert!(arrays.contains("(failed)"), "{arrays}");
        assert!(arrays.contains("href=\"/hosts/nas-1/arrays/md"), "{arrays}");
        assert!(pools(&agent, &state, 0)
            .into_string()
            .contains("never scrubbed"));
    }
}
