//! What an agent reports and how the controller acknowledges it: the host's facts, a report of
//! samples and typed state, `Ack` and `Nack`. Below the session messages, so the agentless
//! messages (which wrap a report for another host) import this and not the protocol's enums.

use crate::model::certificate::CertificateInventory;
use crate::model::container::ContainerInventory;
use crate::model::database::DatabaseInstance;
use crate::model::plugin::{CheckResult, SeriesBatch, SourceStatus};
use crate::model::scan::ImageScans;
use crate::model::service::ServiceCheckResult;
use crate::model::storage::stack::StorageStack;
use crate::model::storage::{RaidCollection, SmartCollection, ZfsCollection};
use serde::{Deserialize, Serialize};

/// Facts about the agent's host, sent at enrollment and in every hello.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HostFacts {
    pub hostname: String,
    pub os: String,
    pub os_version: String,
    pub kernel: String,
    pub arch: String,
    pub cpu_model: String,
    pub n_cpus: u32,
    pub memory_bytes: u64,
}

/// One time series point. `labels` are sorted by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub metric: String,
    pub labels: Vec<(String, String)>,
    pub timestamp_ms: i64,
    pub value: f64,
}

/// A batch of samples. `seq` increases by one per report for the agent's lifetime (gaps mean
/// the agent's spool dropped reports, which `dropped_reports` counts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub seq: u64,
    pub collected_at_ms: i64,
    pub samples: Vec<Sample>,
    /// Reports the agent had to drop so far because its spool was full (cumulative).
    pub dropped_reports: u64,
    /// Storage health (SMART, ZFS, md RAID), when it was collected for this report.
    pub storage: Option<Box<StorageState>>,
    /// Databases found on the host, when they were probed for this report.
    pub databases: Option<Vec<DatabaseInstance>>,
    /// The container engine's inventory and the events since the previous report, when it was
    /// collected for this report.
    pub containers: Option<Box<ContainerInventory>>,
    /// Series from plugins (textfiles, exporters, checks), each with a `source` label; stored
    /// like `samples`. Since version 5.
    pub plugin_series: Option<Box<SeriesBatch>>,
    /// The textfiles and exporters read for this report, with what each gave or why not.
    pub plugin_sources: Option<Vec<SourceStatus>>,
    /// The local checks' newest results, when the checks ran for this report.
    pub checks: Option<Vec<CheckResult>>,
    /// The certificates found on the host (files and TLS ports), when the inventory ran for
    /// this report. Since version 6.
    pub certificates: Option<Box<CertificateInventory>>,
    /// The host's vulnerability scanner and its image scans, when they changed or at the scan
    /// interval (issue 17 §2; appended in protocol 9).
    #[serde(default)]
    pub image_scans: Option<Box<ImageScans>>,
    /// The service checks that ran since the previous report, one result per run (issue 18
    /// §1; appended in protocol 10).
    #[serde(default)]
    pub service_checks: Option<Vec<ServiceCheckResult>>,
}

/// The host's storage stack as of one collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageState {
    pub smart: SmartCollection,
    pub zfs: ZfsCollection,
    pub raid: RaidCollection,
    /// Which drive sits under which md member, ZFS vdev and mount; vanished drives as missing.
    pub stack: StorageStack,
}

/// The report is durably stored (or was already stored before: a replay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub seq: u64,
    pub duplicate: bool,
}

/// The controller could not store the report; the agent keeps it and retries later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nack {
    pub seq: u64,
    pub reason: String,
}
