//! Storing what a session brings: the agent's own reports and its agentless hosts' reports,
//! typed state first, then samples through the ingest writer.

use super::Reply;
use crate::context::Context;
use crate::storage::agents::StateKind;
use crate::storage::series::{IngestReport, Sample, SeriesKey};
use unity_shared::model::agentless::AgentlessNack;
use unity_shared::model::plugin::SeriesBatch;
use unity_shared::proto::{AgentId, ControllerMessage, Nack, Report};

/// The agent's own report: typed state kept as its latest, samples to the ingest writer;
/// acknowledged once durable (see [`Reply::Stored`]).
pub(super) async fn own_report(ctx: &Context, agent_id: &AgentId, mut report: Report) -> Reply {
    let seq = report.seq;
    let dropped = report.dropped_reports;
    if dropped > 0 {
        let _ = ctx.store.agents.update_agent(agent_id, |record| {
            if record.dropped_reports != dropped {
                record.dropped_reports = dropped;
            }
        });
    }
    match store_latest_state(ctx, agent_id, &mut report) {
        Ok(wrote_state) => {
            let outcome = ctx
                .ingest
                .submit(to_ingest(agent_id, report), wrote_state)
                .await;
            Reply::Stored { seq, outcome }
        }
        Err(error) => {
            tracing::error!(%error, "Storing the agent's latest state failed.");
            Reply::Now(ControllerMessage::Nack(Nack {
                seq,
                reason: "the controller could not store the report".into(),
            }))
        }
    }
}

/// agent's own reports (typed state, then the ingest writer; acknowledged once durable), but
/// only when the host is assigned to this proxy.
pub(super) async fn agentless_report(
    ctx: &Context,
    proxy: &AgentId,
    mut report: unity_shared::model::agentless::AgentlessReport,
) -> Reply {
    let host = report.host.clone();
    let seq = report.report.seq;
    let nack = |reason: &str| {
        Reply::Now(ControllerMessage::AgentlessNack(AgentlessNack {
            host: host.clone(),
            nack: Nack {
                seq,
                reason: reason.to_owned(),
            },
        }))
    };
    match crate::agentless::is_assigned(ctx, proxy, &host) {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(%host, seq, "A report for a host this agent is not the proxy of; refused.");
            return nack("this host is not assigned to this agent");
        }
        Err(error) => {
            tracing::error!(%host, %error, "Reading the agentless host failed.");
            return nack("the controller could not read the host's record");
        }
    }
    let collected_at = report.report.collected_at_ms;
    let facts = report.facts.take();
    let dropped = report.report.dropped_reports;
    let recorded = ctx.store.agents.update_agent(&host, |record| {
        record.last_seen_ms = record.last_seen_ms.max(collected_at);
        record.dropped_reports = dropped;
        if let Some(facts) = &facts {
            record.hostname = facts.hostname.clone();
            record.host = facts.clone();
        }
    });
    if let Err(error) = recorded {
        tracing::warn!(%host, %error, "Recording the agentless host's facts failed.");
    }
    match store_latest_state(ctx, &host, &mut report.report) {
        Ok(wrote_state) => {
            let outcome = ctx
                .ingest
                .submit(to_ingest(&host, report.report), wrote_state)
                .await;
            Reply::StoredAgentless { host, seq, outcome }
        }
        Err(error) => {
            tracing::error!(%host, %error, "Storing the agentless host's latest state failed.");
            nack("the controller could not store the report")
        }
    }
}

/// Keeps the report's typed state as the agent's latest and its container events in the
/// event log. Not durable yet: returns whether anything was written, so the ingest writer
/// flushes the database before it acknowledges the report.
fn store_latest_state(
    ctx: &Context,
    agent_id: &AgentId,
    report: &mut Report,
) -> Result<bool, crate::storage::StorageError> {
    let agents = &ctx.store.agents;
    let at = report.collected_at_ms;
    let mut wrote = false;
    if let Some(storage) = report.storage.take() {
        agents.put_latest(agent_id, StateKind::Storage, at, &storage)?;
        wrote = true;
    }
    if let Some(databases) = report.databases.take() {
        agents.put_latest(agent_id, StateKind::Databases, at, &databases)?;
        wrote = true;
    }
    if let Some(mut containers) = report.containers.take() {
        let events = std::mem::take(&mut containers.events);
        ctx.store.containers.append_events(agent_id, &events)?;
        agents.put_latest(agent_id, StateKind::Containers, at, &containers)?;
        wrote = true;
    }
    if let Some(sources) = report.plugin_sources.take() {
        agents.put_latest(agent_id, StateKind::PluginSources, at, &sources)?;
        wrote = true;
    }
    if let Some(checks) = report.checks.take() {
        agents.put_latest(agent_id, StateKind::Checks, at, &checks)?;
        wrote = true;
    }
    if let Some(certificates) = report.certificates.take() {
        agents.put_latest(agent_id, StateKind::Certificates, at, &*certificates)?;
        wrote = true;
    }
    if let Some(scans) = report.image_scans.take() {
        agents.put_latest(agent_id, StateKind::ImageScans, at, &*scans)?;
        wrote = true;
    }
    if let Some(results) = report.service_checks.take() {
        crate::service_checks::record_results(ctx, agent_id, &results)?;
        wrote = true;
    }
    Ok(wrote)
}

fn to_ingest(agent_id: &AgentId, report: Report) -> IngestReport {
    let mut samples: Vec<Sample> = report
        .samples
        .into_iter()
        .map(|sample| {
            let mut labels = sample.labels;
            labels.sort();
            Sample {
                series: SeriesKey {
                    metric: sample.metric,
                    labels,
                },
                timestamp_ms: sample.timestamp_ms,
                value: sample.value,
            }
        })
        .collect();
    if let Some(batch) = report.plugin_series {
        samples.extend(plugin_samples(&batch));
    }
    IngestReport {
        agent: agent_id.as_str().to_owned(),
        seq: report.seq,
        samples,
    }
}

/// Plugin series become ordinary series of the host (their `source` label among their
/// labels). A sample that names a string the batch lacks is left out.
fn plugin_samples(batch: &SeriesBatch) -> Vec<Sample> {
    let mut n_bad = 0;
    let samples = batch
        .samples
        .iter()
        .filter_map(|sample| match batch.resolve(sample) {
            Ok((metric, labels)) => {
                let mut labels: Vec<(String, String)> = labels
                    .into_iter()
                    .map(|(name, value)| (name.to_owned(), value.to_owned()))
                    .collect();
                labels.sort();
                Some(Sample {
                    series: SeriesKey {
                        metric: metric.to_owned(),
                        labels,
                    },
                    timestamp_ms: sample.timestamp_ms,
                    value: sample.value,
                })
            }
            Err(_) => {
                n_bad += 1;
                None
            }
        })
        .collect();
    if n_bad > 0 {
        tracing::warn!(
            n_bad,
            "Plugin samples naming strings their batch lacks were left out."
        );
    }
    samples
}

/// An agentless host's up/down status from its proxy: recorded when the host is this proxy's.
pub(super) fn agentless_status(
    ctx: &Context,
    proxy: &AgentId,
    status: unity_shared::model::agentless::AgentlessStatus,
) {
    let host = status.host.clone();
    match crate::agentless::record_status(ctx, proxy, status) {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(%host, "A status for a host this agent is not the proxy of; ignored.")
        }
        Err(error) => tracing::warn!(%host, %error, "Recording an agentless status failed."),
    }
}
